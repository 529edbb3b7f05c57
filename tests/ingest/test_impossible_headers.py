"""Headers that claim the impossible (issue 17, item 4), made from real fixtures by byte edits."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import mutagen
import pytest
from sqlalchemy import select

from musicorg.app import pipeline
from musicorg.ingest import tags
from musicorg.store import library
from musicorg.store.db import Catalogue, Track
from tests.conftest import DATA, audio_files

WAV = DATA / "kevin_macleod_vibe_ace.wav"
FLAC = DATA / "muldjord_chaos_god.flac"
OPUS = DATA / "kevin_macleod_vibe_ace.opus"
MP3 = DATA / "kevin_macleod_vibe_ace.mp3"


def _patch(raw: bytes, offset: int, value: bytes) -> bytes:
    return raw[:offset] + value + raw[offset + len(value) :]


def _wav_fmt(raw: bytes) -> int:
    """Offset of the fmt chunk's body."""
    return raw.index(b"fmt ") + 8


def _build(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    wav = WAV.read_bytes()
    fmt = _wav_fmt(wav)
    data = wav.index(b"data")
    flac = FLAC.read_bytes()
    assert flac[:4] == b"fLaC" and flac[4] & 0x7F == 0  # STREAMINFO comes first
    # STREAMINFO body at 8: block sizes (4), frame sizes (6), then a 64-bit field holding
    # rate (20 bits), channels (3), bits (5) and the total samples (36 bits).
    (packed,) = struct.unpack(">Q", flac[18:26])
    maxed = packed | ((1 << 36) - 1)
    files = {
        "rate0.wav": _patch(wav, fmt + 4, struct.pack("<I", 0)),
        "chan0.wav": _patch(wav, fmt + 2, struct.pack("<H", 0)),
        "huge-data.wav": _patch(wav, data + 4, struct.pack("<I", 0xFFFFFFF0)),
        "maxed.flac": _patch(flac, 18, struct.pack(">Q", maxed)),
        "tiny.opus": OPUS.read_bytes()[:3000],
        "cut.mp3": MP3.read_bytes()[:4096],
    }
    out = {}
    for name, raw in files.items():
        (folder / name).write_bytes(raw)
        out[name] = folder / name
    return out


def test_headers_are_edited_as_intended(tmp_path: Path) -> None:
    files = _build(tmp_path / "h")
    assert mutagen.File(files["huge-data.wav"]).info.length > 90_000  # what a header alone says
    assert mutagen.File(files["maxed.flac"]).info.length > 1_000_000
    assert mutagen.File(files["tiny.opus"]).info.length < 0


@pytest.mark.parametrize("name", ["rate0.wav", "chan0.wav"])
def test_zero_rate_or_channels_is_impossible(tmp_path: Path, name: str) -> None:
    path = _build(tmp_path / "h")[name]
    what = "sample rate" if "rate" in name else "channels"
    with pytest.raises(tags.TagError, match=f"impossible header: {what} 0"):
        tags.read(str(path), "wav")
    with open(path, "rb") as fh, pytest.raises(tags.TagError, match="impossible header"):
        tags.read(fh, "wav")


def test_claimed_durations_are_bounded(tmp_path: Path) -> None:
    files = _build(tmp_path / "h")
    real = mutagen.File(WAV).info.length
    # PCM: what the payload holds, from a path and from an open file alike.
    assert tags.read(str(files["huge-data.wav"]), "wav").duration == pytest.approx(real, rel=0.01)
    with open(files["huge-data.wav"], "rb") as fh:
        assert tags.read(fh, "wav").duration == pytest.approx(real, rel=0.01)
    assert tags.read(str(files["maxed.flac"]), "flac").duration is None
    assert tags.read(str(files["tiny.opus"]), "ogg").duration is None  # negative: unknown
    with pytest.raises(tags.CutShort, match=r"promises 8\.0 s"):  # 8 s in 4 KB: cut short
        tags.read(str(files["cut.mp3"]), "mp3")


def test_scan_stores_no_impossible_durations(cat: Catalogue, tmp_path: Path) -> None:
    folder = tmp_path / "lib"
    _build(folder / "hostile")
    for src in audio_files():
        (folder / "good").mkdir(parents=True, exist_ok=True)
        (folder / "good" / src.name).write_bytes(src.read_bytes())
    pipeline.scan(cat, [folder])
    with cat.read() as conn:
        rows = conn.execute(select(Track.display, Track.duration)).all()
    durations = {os.path.basename(d): v for d, v in rows}
    problems = {os.path.basename(p.path): p for p in library.problems(cat)}
    for name, what in (("rate0.wav", "sample rate"), ("chan0.wav", "channels")):
        assert name not in durations
        assert f"impossible header: {what} 0" in problems[name].message, problems[name]
    assert durations["huge-data.wav"] == pytest.approx(mutagen.File(WAV).info.length, rel=0.01)
    assert durations["maxed.flac"] is None
    assert durations.get("tiny.opus") is None
    assert durations.get("cut.mp3") is None
    for src in audio_files():
        expected = mutagen.File(src).info.length
        assert durations[src.name] == pytest.approx(expected, rel=1e-6), src.name
    total = sum(v for v in durations.values() if v)
    assert total < 3600  # a library of a couple of minutes, not hundreds of hours
