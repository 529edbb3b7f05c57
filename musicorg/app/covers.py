"""A track's cover art: the picture embedded in the file (ID3 APIC, FLAC and Vorbis comment
pictures, MP4 ``covr``, ASF ``WM/Picture``), else an image beside it (``cover.jpg``,
``folder.jpg``, ``front.jpg``, also as ``.png``); and the cover as a file of its own in the
cache folder, for those who want a path (the desktop's media controls, through MPRIS). Reads
and writes files: call it off the UI thread.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

from musicorg import paths

log = logging.getLogger(__name__)

#: Image files beside a track that stand for its cover, in order of preference.
FOLDER_NAMES = (
    "cover.jpg",
    "cover.jpeg",
    "cover.png",
    "folder.jpg",
    "folder.jpeg",
    "folder.png",
    "front.jpg",
    "front.jpeg",
    "front.png",
)
#: An image larger than this is not a cover (and not read into memory).
MAX_BYTES = 20 * 1024 * 1024
#: The picture type of a front cover (ID3, FLAC and ASF use the same numbers).
FRONT = 3
#: How many cover files :func:`cover_file` keeps in its folder (the least recently used go).
KEEP_FILES = 200
#: The first bytes of the image formats a cover comes in, and their extensions.
_MAGIC = (
    (b"\xff\xd8\xff", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"GIF8", ".gif"),
    (b"BM", ".bmp"),
)


def covers_dir() -> Path:
    """The cache folder of the cover files (made when first written to)."""
    return paths.cache_dir() / "covers"


def cover_file(path: str | bytes | os.PathLike[str], folder: Path | None = None) -> Path | None:
    """The track's cover as a file in ``folder`` (:func:`covers_dir`), written when it is not
    there yet; None when the track has no cover or it cannot be written. Files are named by
    their content: a cover shared by an album is one file."""
    data = cover_art(path)
    if data is None:
        return None
    folder = folder or covers_dir()
    ext = next((e for magic, e in _MAGIC if data.startswith(magic)), "")
    if not ext:
        ext = ".webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else ".img"
    target = folder / f"{hashlib.sha256(data).hexdigest()[:32]}{ext}"
    try:
        if target.exists():
            os.utime(target)  # recently used: kept when the folder is trimmed
            return target
        paths.make_dir(folder)
        fd, tmp = tempfile.mkstemp(prefix=".cover-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        log.warning("cannot write the cover of %s to %s: %s", os.fsdecode(path), folder, exc)
        return None
    _trim(folder, KEEP_FILES)
    return target


def _trim(folder: Path, keep: int) -> None:
    """Delete all but the ``keep`` most recently used cover files of ``folder``."""
    try:
        with os.scandir(folder) as entries:
            files = [(e.stat().st_mtime, e.path) for e in entries if not e.name.startswith(".")]
    except OSError:
        return
    for _mtime, old in sorted(files, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            os.unlink(old)


def cover_art(path: str | bytes | os.PathLike[str]) -> bytes | None:
    """The encoded image (JPEG, PNG…) of the track's cover, or None when it has none."""
    fs_path = os.fsdecode(os.fspath(path))
    try:
        embedded = _embedded(fs_path)
    except Exception as exc:  # a damaged or odd tag never stops playback: look beside it
        log.debug("no embedded cover in %s: %s", fs_path, exc)
        embedded = None
    return embedded or _beside(fs_path)


def _best(pictures: list[tuple[int, bytes]]) -> bytes | None:
    """The front cover among (type, data) pictures, else the first one."""
    pictures = [(t, d) for t, d in pictures if d and len(d) <= MAX_BYTES]
    for kind, data in pictures:
        if kind == FRONT:
            return data
    return pictures[0][1] if pictures else None


def _embedded(path: str) -> bytes | None:
    # lazy: mutagen is read only once a track plays, never at the window's start
    import mutagen

    audio: Any = mutagen.File(path)
    if audio is None:
        return None
    pictures: list[tuple[int, bytes]] = []
    for picture in getattr(audio, "pictures", None) or []:  # FLAC
        pictures.append((int(picture.type), bytes(picture.data)))
    tags = audio.tags
    if tags is not None:
        pictures.extend(_tag_pictures(tags))
    return _best(pictures)


def _tag_pictures(tags: Any) -> list[tuple[int, bytes]]:
    """Pictures in a tag of any kind mutagen reads."""
    out: list[tuple[int, bytes]] = []
    if hasattr(tags, "getall"):  # ID3 (MP3, AIFF, WAV)
        out.extend((int(f.type), bytes(f.data)) for f in tags.getall("APIC"))
    keys = set(tags.keys()) if hasattr(tags, "keys") else set()
    if "covr" in keys:  # MP4
        out.extend((FRONT, bytes(c)) for c in tags["covr"])
    if "metadata_block_picture" in keys:  # Vorbis comments (Ogg Vorbis, Opus)
        # lazy: as above, mutagen is only read while playing
        from mutagen.flac import Picture

        for raw in tags["metadata_block_picture"]:
            pic = Picture(base64.b64decode(raw))
            out.append((int(pic.type), bytes(pic.data)))
    if "WM/Picture" in keys:  # ASF (WMA)
        for attr in tags["WM/Picture"]:
            parsed = _asf_picture(bytes(attr.value))
            if parsed is not None:
                out.append(parsed)
    return out


def _asf_picture(raw: bytes) -> tuple[int, bytes] | None:
    """(type, data) of an ASF ``WM/Picture`` value: type byte, data length, MIME type and
    description (UTF-16LE, NUL-ended), then the data."""
    if len(raw) < 5:
        return None
    kind, size = raw[0], struct.unpack_from("<I", raw, 1)[0]
    pos = 5
    for _ in range(2):  # MIME type, description
        end = pos
        while end + 1 < len(raw) and raw[end : end + 2] != b"\0\0":
            end += 2
        pos = end + 2
    data = raw[pos : pos + size]
    return (kind, data) if len(data) == size else None


def _beside(path: str) -> bytes | None:
    """The first cover image in the track's folder (names compared without case)."""
    folder = os.path.dirname(path) or "."
    try:
        with os.scandir(folder) as entries:
            found = {e.name.lower(): e.path for e in entries if e.name.lower() in FOLDER_NAMES}
    except OSError:
        return None
    for name in FOLDER_NAMES:
        image = found.get(name)
        if image is None:
            continue
        try:
            if os.path.getsize(image) <= MAX_BYTES:
                with open(image, "rb") as fh:
                    return fh.read()
        except OSError:
            continue
    return None
