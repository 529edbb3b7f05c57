"""Tags, stream info and embedded lyrics through mutagen, normalised across formats."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from struct import error as struct_error
from typing import Any

import mutagen
from mutagen.aiff import AIFF
from mutagen.asf import ASF
from mutagen.flac import FLAC
from mutagen.id3 import ID3
from mutagen.mp3 import MP3, BitrateMode
from mutagen.mp4 import MP4
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from musicorg.ingest import probe


class TagError(Exception):
    """The file could not be parsed as the audio container its bytes announce."""


class CutShort(TagError):
    """The header promises audio that the file's bytes cannot hold, and they hold under
    :data:`CUT_SHORT_S` of it: a cut file (a broken download or copy), not a short track."""


@dataclass
class TrackInfo:
    codec: str | None = None
    duration: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    bitrate: int | None = None
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    albumartist: str | None = None
    genre: str | None = None
    year: int | None = None
    tracknumber: int | None = None
    lyrics: str | None = None
    lyrics_source: str | None = None


_ID3_KEYS = {
    "title": "TIT2",
    "artist": "TPE1",
    "album": "TALB",
    "albumartist": "TPE2",
    "genre": "TCON",
    "date": "TDRC",
    "tracknumber": "TRCK",
}
_MP4_KEYS = {
    "title": "\xa9nam",
    "artist": "\xa9ART",
    "album": "\xa9alb",
    "albumartist": "aART",
    "genre": "\xa9gen",
    "date": "\xa9day",
}
_ASF_KEYS = {
    "title": "Title",
    "artist": "Author",
    "album": "WM/AlbumTitle",
    "albumartist": "WM/AlbumArtist",
    "genre": "WM/Genre",
    "date": "WM/Year",
    "tracknumber": "WM/TrackNumber",
}
_YEAR = re.compile(r"(1[0-9]{3}|20[0-9]{2})")
_NUM = re.compile(r"\d+")


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        parts = [_clean(v) for v in value]
        value = "; ".join(p for p in parts if p)
    text = str(value).replace("\x00", " ").strip()
    # Invalid bytes decoded with surrogates must not reach SQLite or Qt.
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text or None


def _year(value: str | None) -> int | None:
    m = _YEAR.search(value or "")
    return int(m.group(1)) if m else None


def _number(value: str | None) -> int | None:
    m = _NUM.search(value or "")
    return int(m.group(0)) if m else None


def _fill(info: TrackInfo, raw: dict[str, str | None]) -> None:
    info.title = raw.get("title")
    info.artist = raw.get("artist")
    info.album = raw.get("album")
    info.albumartist = raw.get("albumartist")
    info.genre = raw.get("genre")
    info.year = _year(raw.get("date") or raw.get("year"))
    info.tracknumber = _number(raw.get("tracknumber"))


def _id3_tags(tags: ID3, info: TrackInfo) -> None:
    raw: dict[str, str | None] = {}
    for key, frame_id in _ID3_KEYS.items():
        frame = tags.get(frame_id)
        if frame is None and key == "date":
            frame = tags.get("TYER")
        raw[key] = _clean(getattr(frame, "text", None)) if frame is not None else None
    _fill(info, raw)
    for frame in tags.getall("USLT"):
        text = _clean(frame.text)
        if text:
            info.lyrics, info.lyrics_source = text, "id3-uslt"
            break


_ID3_ENCODINGS = {0: "latin-1", 1: "utf-16", 2: "utf-16-be", 3: "utf-8"}
_SALVAGE = {"title": b"TIT2", "artist": b"TPE1", "album": b"TALB"}


def _salvage_id3_text(path: Any, info: TrackInfo) -> None:
    """Text frames mutagen dropped as undecodable (e.g. invalid UTF-8), decoded leniently."""
    try:
        if hasattr(path, "seek"):
            path.seek(0)
            head = path.read(10)
            body_len = _syncsafe(head[6:10]) if head[:3] == b"ID3" else 0
            body = path.read(min(body_len, 1 << 20))
        else:
            with open(path, "rb") as fh:
                head = fh.read(10)
                body_len = _syncsafe(head[6:10]) if head[:3] == b"ID3" else 0
                body = fh.read(min(body_len, 1 << 20))
    except OSError:
        return
    if not body:
        return
    v4 = head[3] == 4
    for key, frame_id in _SALVAGE.items():
        if getattr(info, key):
            continue
        i = body.find(frame_id)
        if i < 0 or i + 11 > len(body):
            continue
        size_bytes = body[i + 4 : i + 8]
        size = _syncsafe(size_bytes) if v4 else int.from_bytes(size_bytes, "big")
        payload = body[i + 10 : i + 10 + size]
        if not payload:
            continue
        encoding = _ID3_ENCODINGS.get(payload[0], "latin-1")
        text = payload[1:].decode(encoding, errors="replace").replace("\ufffd", "?")
        setattr(info, key, _clean(text))


def _syncsafe(b: bytes) -> int:
    return (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3] if len(b) == 4 else 0


def _vorbis_tags(tags: Any, info: TrackInfo) -> None:
    def get(key: str) -> str | None:
        try:
            return _clean(tags.get(key))
        except (KeyError, ValueError):
            return None

    raw = {
        k: get(k)
        for k in ("title", "artist", "album", "albumartist", "genre", "date", "tracknumber")
    }
    if not raw["albumartist"]:
        raw["albumartist"] = get("album artist")
    if not raw["date"]:
        raw["date"] = get("year")
    _fill(info, raw)
    for key in ("lyrics", "unsyncedlyrics"):
        text = get(key)
        if text:
            info.lyrics, info.lyrics_source = text, "vorbis"
            break


def _mp4_tags(tags: Any, info: TrackInfo) -> None:
    raw = {k: _clean(tags.get(v)) for k, v in _MP4_KEYS.items()}
    trkn = tags.get("trkn")
    if trkn:
        raw["tracknumber"] = str(trkn[0][0])
    if not raw["genre"] and tags.get("gnre"):
        raw["genre"] = None
    _fill(info, raw)
    text = _clean(tags.get("\xa9lyr"))
    if text:
        info.lyrics, info.lyrics_source = text, "mp4"


def _asf_tags(tags: Any, info: TrackInfo) -> None:
    raw = {k: _clean([str(v) for v in tags.get(key, [])]) for k, key in _ASF_KEYS.items()}
    _fill(info, raw)
    text = _clean([str(v) for v in tags.get("WM/Lyrics", [])])
    if text:
        info.lyrics, info.lyrics_source = text, "asf"


def _codec(fmt: str, audio: Any) -> str:
    if isinstance(audio, OggOpus):
        return "opus"
    if isinstance(audio, OggVorbis):
        return "vorbis"
    if isinstance(audio, OggFLAC | FLAC):
        return "flac"
    if isinstance(audio, MP4):
        return str(getattr(audio.info, "codec", "mp4a") or "mp4a")
    if isinstance(audio, ASF):
        return "wma"
    if isinstance(audio, WAVE | AIFF):
        return "pcm"
    return fmt


def _open(path: Any, fmt: str) -> Any:
    if fmt == probe.MP3:
        return MP3(path)
    if fmt == probe.FLAC:
        return FLAC(path)
    if fmt == probe.MP4:
        return MP4(path)
    if fmt == probe.WAV:
        return WAVE(path)
    if fmt == probe.AIFF:
        return AIFF(path)
    if fmt == probe.ASF:
        return ASF(path)
    if fmt == probe.OGG:
        audio = mutagen.File(path, options=[OggVorbis, OggOpus, OggFLAC])
        if audio is None:
            raise TagError("an Ogg stream of a kind musicorg does not read")
        return audio
    raise TagError(f"unknown container {fmt}")


# The lowest average bitrate a real stream has, in bit/s, when the codec sets no floor itself.
MIN_BITRATE = 1000
#: A file whose bytes hold less audio than this while its header promises over twice as much
#: is cut short, not a short track (a 0.5-s WAV whose header says 0.5 s is a short track).
CUT_SHORT_S = 1.0


def _extent(path: Any, fmt: str) -> tuple[int, int]:
    """File size and audio payload size, in bytes."""
    if hasattr(path, "seek"):
        path.seek(0, os.SEEK_END)
        size = path.tell()
        start, end = probe.payload_range(path, fmt, size)
        path.seek(0)
    else:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            start, end = probe.payload_range(fh, fmt, size)
    return size, max(end - start, 0)


def _duration(path: Any, fmt: str, stream: Any) -> float | None:
    """The stream's length in seconds, bounded by what the file's bytes can hold.

    A header may claim more than the file holds (a maxed sample count or data size):
    - PCM (WAV, AIFF): clamped to payload bytes / bytes per frame / sample rate, which is exact;
    - FLAC: None when longer than payload / smallest frame * largest block / sample rate;
    - MP3: None when the average bitrate falls below the MPEG version's lowest bitrate;
    - others: None when the average bitrate falls below MIN_BITRATE.
    Negative, zero and non-finite lengths are None (unknown), never stored.
    """
    try:
        length = float(getattr(stream, "length", None) or 0.0)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(length) or length <= 0:
        return None
    try:
        size, payload = _extent(path, fmt)
    except (OSError, ValueError):
        return length
    held = _most_held(fmt, stream, payload)
    if held is not None and held < CUT_SHORT_S and length > 2 * held:
        raise CutShort(
            f"its header promises {length:.1f} s of audio, but its {size} bytes hold at most "
            f"{held:.2f} s"
        )
    if fmt in (probe.WAV, probe.AIFF) and held is not None:
        return min(length, held) or None  # exact for PCM
    if fmt == probe.FLAC and held is not None:
        return None if length > held else length
    floor = MIN_BITRATE
    if fmt == probe.MP3:
        floor = _mp3_floor(stream)
    return None if size * 8 / length < floor else length


def _mp3_floor(stream: Any) -> int:
    """The lowest bitrate of the stream's MPEG version, in bit/s."""
    return 32000 if getattr(stream, "version", None) == 1 else 8000


def _most_held(fmt: str, stream: Any, payload: int) -> float | None:
    """The most seconds of audio ``payload`` bytes can hold (None: no useful bound):
    - PCM (WAV, AIFF): exactly payload / bytes per frame / sample rate;
    - FLAC: payload / smallest frame * largest block / sample rate;
    - MP3: payload at the stream's bitrate when constant, else at the version's lowest.
    """
    rate = int(getattr(stream, "sample_rate", 0) or 0)
    channels = int(getattr(stream, "channels", 0) or 0)
    bits = int(getattr(stream, "bits_per_sample", 0) or 0)
    if fmt in (probe.WAV, probe.AIFF) and rate > 0 and channels > 0 and bits > 0:
        return payload / (channels * ((bits + 7) // 8)) / rate
    if fmt == probe.FLAC and rate > 0 and channels > 0:
        # A frame is at least a 6-byte header, a 2-byte CRC and a byte per channel.
        min_frame = max(int(getattr(stream, "min_framesize", 0) or 0), 8 + channels)
        max_block = int(getattr(stream, "max_blocksize", 0) or 0) or 65535
        return payload / min_frame * max_block / rate
    if fmt == probe.MP3:
        constant = getattr(stream, "bitrate_mode", None) == BitrateMode.CBR
        bitrate = int(getattr(stream, "bitrate", 0) or 0) if constant else 0
        return payload * 8 / (bitrate or _mp3_floor(stream))
    return None


def read(path: Any, fmt: str) -> TrackInfo:
    """Stream info and tags of a path or an open binary file.

    Raises TagError when the container cannot be parsed.
    """
    try:
        audio = _open(path, fmt)
    except TagError:
        raise
    except (mutagen.MutagenError, ValueError, struct_error, IndexError, EOFError) as exc:
        raise TagError(str(exc) or exc.__class__.__name__) from exc
    info = TrackInfo(codec=_codec(fmt, audio))
    stream = audio.info
    if fmt in (probe.WAV, probe.AIFF):
        for what, attr in (("sample rate", "sample_rate"), ("channels", "channels")):
            if not getattr(stream, attr, None):
                raise TagError(f"impossible header: {what} 0")
    info.duration = _duration(path, fmt, stream)
    info.sample_rate = getattr(stream, "sample_rate", None) or (
        48000 if info.codec == "opus" else None
    )
    info.channels = getattr(stream, "channels", None) or None
    bitrate = getattr(stream, "bitrate", None)
    info.bitrate = int(bitrate) if bitrate else None
    tags = audio.tags
    if tags is None:
        return info
    try:
        if isinstance(tags, ID3):
            _id3_tags(tags, info)
            if not (info.title and info.artist and info.album):
                _salvage_id3_text(path, info)
        elif isinstance(audio, MP4):
            _mp4_tags(tags, info)
        elif isinstance(audio, ASF):
            _asf_tags(tags, info)
        else:
            _vorbis_tags(tags, info)
    except (ValueError, KeyError, TypeError, UnicodeError, AttributeError):
        pass  # odd tags: keep the stream info, the tags stay empty
    return info
