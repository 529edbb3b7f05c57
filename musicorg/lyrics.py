"""Lyrics: embedded tags (read by :mod:`musicorg.tags`), sidecar files, and optionally Genius.

Order of preference: the file's own tags (ID3 USLT, Vorbis LYRICS/UNSYNCEDLYRICS, MP4 ©lyr),
then a sidecar ``.lrc`` or ``.txt`` with the same stem (LRC timestamps stripped), then Genius,
which is a stage of its own (``musicorg lyrics --genius``), off by default.
"""

from __future__ import annotations

import os
import re
import time

from sqlalchemy import insert, select, update

from musicorg.db import Catalogue, Lyrics, Track
from musicorg.jobs import ProgressFn, no_progress

SIDECAR_MAX_BYTES = 256 * 1024

_LRC_TIME = re.compile(r"\[\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?\]")
_LRC_META = re.compile(r"^\s*\[(?:ar|ti|al|au|by|re|ve|length|offset|#):[^\]]*\]\s*$", re.I)
_LRC_WORD_TIME = re.compile(r"<\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?>")


def strip_lrc(text: str) -> str:
    """Plain text from LRC: no [mm:ss.xx] stamps, no word stamps, no [ar:] style headers."""
    lines = []
    for line in text.splitlines():
        if _LRC_META.match(line):
            continue
        line = _LRC_WORD_TIME.sub("", _LRC_TIME.sub("", line)).strip()
        lines.append(line)
    return _tidy("\n".join(lines))


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _decode(raw: bytes) -> str:
    for enc in ("utf-8-sig", "utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def read_sidecar(audio_path: bytes | str) -> tuple[str, str] | None:
    """Lyrics from ``<stem>.lrc`` or ``<stem>.txt`` next to the audio file, with their source."""
    stem = os.path.splitext(os.fsencode(audio_path))[0]
    for ext, source in ((b".lrc", "sidecar-lrc"), (b".txt", "sidecar-txt")):
        candidate = stem + ext
        try:
            with open(candidate, "rb") as fh:
                raw = fh.read(SIDECAR_MAX_BYTES + 1)
        except OSError:
            continue
        if len(raw) > SIDECAR_MAX_BYTES or (
            b"\0" in raw[:1024]
            and raw[:2]
            not in (
                b"\xff\xfe",
                b"\xfe\xff",
            )
        ):
            continue  # not a lyrics file
        text = _decode(raw)
        text = strip_lrc(text) if ext == b".lrc" or _LRC_TIME.search(text) else _tidy(text)
        if text:
            return text, source
    return None


def refresh_sidecars(cat: Catalogue, *, progress: ProgressFn = no_progress) -> int:
    """Pick up sidecar files added or edited since the scan, for tracks without tag lyrics."""
    with cat.read() as conn:
        rows = conn.execute(
            select(Track.id, Track.path, Lyrics.source, Lyrics.text)
            .outerjoin(Lyrics, Lyrics.track_id == Track.id)
            .where(Track.missing.is_(False))
        ).all()
    changes: list[tuple[int, str, str, bool]] = []
    for i, (tid, path, source, text) in enumerate(rows):
        if source is not None and not source.startswith("sidecar") and source != "genius":
            continue  # the file's own tags win
        found = read_sidecar(path)
        if found is not None and (found[0], found[1]) != (text, source):
            changes.append((tid, found[0], found[1], source is not None))
        if i % 500 == 0:
            progress(i, len(rows), "Looking for sidecar lyrics…")
    if changes:
        now = time.time()
        with cat.begin() as conn:
            for tid, new_text, new_source, exists in changes:
                values = {"text": new_text, "source": new_source, "updated_at": now}
                if exists:
                    conn.execute(update(Lyrics).where(Lyrics.track_id == tid).values(**values))
                else:
                    conn.execute(insert(Lyrics).values(track_id=tid, **values))
    progress(len(rows), len(rows), f"{len(changes)} sidecar lyrics new or changed")
    return len(changes)
