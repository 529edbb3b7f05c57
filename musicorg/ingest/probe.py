"""What a file really is: its container from its first bytes, where its audio payload lies,
and a content key that survives retagging.

The content key hashes a bounded sample of the audio payload (not the tags), so retagging a
file keeps its identity, a moved file is recognised, and byte-equal copies share one analysis.
Cost per file: a few small reads whatever the file's size.
"""

from __future__ import annotations

import hashlib
import struct
from typing import BinaryIO

# Container names, as stored in tracks.fmt.
MP3, FLAC, OGG, MP4, WAV, AIFF, ASF = "mp3", "flac", "ogg", "mp4", "wav", "aiff", "asf"

AUDIO_EXTENSIONS = frozenset(
    {".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".m4b", ".mp4", ".aac", ".wav", ".wave"}
    | {".aif", ".aiff", ".aifc", ".wma", ".asf"}
)

_ASF_HEADER_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
SAMPLES = 8
SAMPLE_SIZE = 4096


def sniff(head: bytes) -> str | None:
    """The container of a file from its first bytes, or None for anything else."""
    if head.startswith(b"ID3"):
        # ID3v2 in front of FLAC exists in the wild; look past it.
        size = _id3v2_size(head)
        if size and len(head) > size + 4 and head[size : size + 4] == b"fLaC":
            return FLAC
        return MP3
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"OggS"):
        return OGG
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return MP4
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return WAV
    if len(head) >= 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return AIFF
    if head.startswith(_ASF_HEADER_GUID):
        return ASF
    if _mpeg_frame_len(head, 0):
        n = _mpeg_frame_len(head, 0)
        # A bare MPEG audio stream: two consecutive valid frame headers (one could be chance).
        if n and (len(head) < n + 4 or _mpeg_frame_len(head, n)):
            return MP3
    return None


_MPEG_BITRATES = {  # kbit/s by (version is MPEG-1, layer) for bitrate indexes 1..14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_frame_len(buf: bytes, pos: int) -> int:
    """Length of the MPEG audio frame whose header starts at ``pos``, or 0 if not a header."""
    if len(buf) < pos + 4 or buf[pos] != 0xFF or (buf[pos + 1] & 0xE0) != 0xE0:
        return 0
    version = (buf[pos + 1] >> 3) & 0x03  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
    layer = 4 - ((buf[pos + 1] >> 1) & 0x03)  # 4 means reserved
    bitrate_index = buf[pos + 2] >> 4
    rate_index = (buf[pos + 2] >> 2) & 0x03
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return 0
    mpeg1 = version == 3
    bitrate = _MPEG_BITRATES[(mpeg1, layer)][bitrate_index - 1] * 1000
    rate = _MPEG_RATES[version][rate_index]
    padding = (buf[pos + 2] >> 1) & 0x01
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    factor = 144 if (layer == 2 or mpeg1) else 72
    return factor * bitrate // rate + padding


def _id3v2_size(head: bytes) -> int:
    if len(head) < 10 or not head.startswith(b"ID3"):
        return 0
    b = head[6:10]
    if any(x & 0x80 for x in b):
        return 0
    size = (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]
    footer = 10 if head[5] & 0x10 else 0
    return 10 + size + footer


def payload_range(fh: BinaryIO, fmt: str, size: int) -> tuple[int, int]:
    """Byte range [start, end) of the audio payload; falls back to the whole file."""
    try:
        if fmt == MP3:
            return _mp3_range(fh, size)
        if fmt == FLAC:
            return _flac_range(fh, size)
        if fmt == OGG:
            return _ogg_range(fh, size)
        if fmt == MP4:
            return _atom_body(fh, size, b"mdat")
        if fmt == WAV:
            return _chunk_body(fh, size, 12, b"data", little=True)
        if fmt == AIFF:
            return _chunk_body(fh, size, 12, b"SSND", little=False)
        if fmt == ASF:
            fh.seek(16)
            (hsize,) = struct.unpack("<Q", fh.read(8))
            if 0 < hsize < size:
                return hsize, size
    except (OSError, struct.error, ValueError):
        pass
    return 0, size


def _skip_id3v2(fh: BinaryIO, pos: int, size: int) -> int:
    while pos < size:
        fh.seek(pos)
        n = _id3v2_size(fh.read(10))
        if not n:
            break
        pos += n
    return pos


def _trailing_tags(fh: BinaryIO, end: int) -> int:
    """Strip ID3v1 and APEv2 tags from the end."""
    if end >= 128:
        fh.seek(end - 128)
        if fh.read(3) == b"TAG":
            end -= 128
    if end >= 32:
        fh.seek(end - 32)
        footer = fh.read(32)
        if footer[:8] == b"APETAGEX":
            tag_size, _items, flags = struct.unpack("<III", footer[12:24])
            has_header = bool(flags & 0x80000000)
            end -= tag_size + (32 if has_header else 0)
    return max(end, 0)


def _mp3_range(fh: BinaryIO, size: int) -> tuple[int, int]:
    start = _skip_id3v2(fh, 0, size)
    return start, max(start, _trailing_tags(fh, size))


def _flac_range(fh: BinaryIO, size: int) -> tuple[int, int]:
    pos = _skip_id3v2(fh, 0, size)
    fh.seek(pos)
    if fh.read(4) != b"fLaC":
        raise ValueError("no fLaC marker")
    pos += 4
    while True:
        fh.seek(pos)
        header = fh.read(4)
        if len(header) < 4:
            raise ValueError("truncated metadata")
        length = int.from_bytes(header[1:4], "big")
        pos += 4 + length
        if header[0] & 0x80:
            break
    return pos, max(pos, _trailing_tags(fh, size))


def _ogg_range(fh: BinaryIO, size: int) -> tuple[int, int]:
    """Audio pages start at the first page past the headers (granule position not 0)."""
    pos = 0
    for _ in range(100_000):
        fh.seek(pos)
        header = fh.read(27)
        if len(header) < 27 or header[:4] != b"OggS":
            break
        granule = struct.unpack("<q", header[6:14])[0]
        nseg = header[26]
        lacing = fh.read(nseg)
        if granule not in (0, -1):
            return pos, size
        pos += 27 + nseg + sum(lacing)
    return 0, size


def _atom_body(fh: BinaryIO, size: int, name: bytes) -> tuple[int, int]:
    pos = 0
    while pos + 8 <= size:
        fh.seek(pos)
        length, kind = struct.unpack(">I4s", fh.read(8))
        header = 8
        if length == 1:
            (length,) = struct.unpack(">Q", fh.read(8))
            header = 16
        elif length == 0:
            length = size - pos
        if length < header:
            break
        if kind == name:
            return pos + header, min(pos + length, size)
        pos += length
    raise ValueError(f"no {name!r} atom")


def _chunk_body(fh: BinaryIO, size: int, pos: int, name: bytes, *, little: bool) -> tuple[int, int]:
    fmt = "<I" if little else ">I"
    while pos + 8 <= size:
        fh.seek(pos)
        head = fh.read(8)
        (length,) = struct.unpack(fmt, head[4:8])
        if head[:4] == name:
            return pos + 8, min(pos + 8 + length, size)
        pos += 8 + length + (length & 1)
    raise ValueError(f"no {name!r} chunk")


def content_key(fh: BinaryIO, fmt: str | None, size: int) -> str:
    """A 128-bit key from the payload's length and up to SAMPLES chunks spread across it."""
    start, end = payload_range(fh, fmt, size) if fmt else (0, size)
    length = end - start
    h = hashlib.blake2b(digest_size=16)
    h.update(struct.pack("<Q", length))
    if length <= SAMPLES * SAMPLE_SIZE:
        offsets = [start]
        span = length
    else:
        step = (length - SAMPLE_SIZE) / (SAMPLES - 1)
        offsets = [start + int(i * step) for i in range(SAMPLES)]
        span = SAMPLE_SIZE
    for off in offsets:
        fh.seek(off)
        chunk = fh.read(span)
        if fmt == OGG:
            chunk = _mask_ogg_page_headers(chunk)
        h.update(chunk)
    return h.hexdigest()


def _mask_ogg_page_headers(chunk: bytes) -> bytes:
    """Blank the page sequence number and CRC, which a retag may renumber."""
    if b"OggS" not in chunk:
        return chunk
    buf = bytearray(chunk)
    i = buf.find(b"OggS")
    while i != -1:
        buf[i + 18 : i + 26] = b"\0" * len(buf[i + 18 : i + 26])
        i = buf.find(b"OggS", i + 4)
    return bytes(buf)
