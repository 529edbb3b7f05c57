"""Generates the hostile-input corpus at test time (nothing of it is committed).

Each entry names a file and what musicorg must make of it; see EXPECTED.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from mutagen.id3 import APIC, ID3
from mutagen.oggvorbis import OggVorbis

DATA = Path(__file__).parent / "data"

# name (a path under the corpus folder) -> what musicorg must make of it:
#   ("problem", kinds)           no track; a scan problem of one of these kinds
#   ("analysis problem", kinds)  a track, not analysed; an analysis problem of one of these kinds
#   ("analysed", weak)           a track with finite features, weak (silence, too short) or not
#   ("analysed-or-truncated", _) a track analysed from what decodes, or a "truncated" problem
EXPECTED: dict[str, tuple[str, object]] = {
    "zero.mp3": ("problem", {"empty"}),
    "random.flac": ("problem", {"not audio"}),
    "text.ogg": ("problem", {"not audio"}),
    "half.mp3": ("analysed-or-truncated", None),
    "half.flac": ("analysed-or-truncated", None),
    "really-flac.mp3": ("analysed", False),
    "bad-utf8-id3.mp3": ("analysed", False),
    "big-cover.mp3": ("analysed", False),
    "silence.wav": ("analysed", True),
    "short.wav": ("analysed", True),
    "8k-mono.wav": ("analysed", False),
    "192k-6ch.flac": ("analysed", False),
    # Headers that claim the impossible.
    "rate0.wav": ("problem", {"unreadable"}),
    "chan0.wav": ("problem", {"unreadable"}),
    "huge-data.wav": ("analysed", False),  # its length is what the file holds, not 27 hours
    "maxed-samples.flac": ("analysed", False),
    "header-only.wav": ("analysis problem", {"not audio"}),
    "tiny.opus": ("analysis problem", {"not audio"}),
    "cut-4k.mp3": ("problem", {"truncated"}),
    "id3-only.mp3": ("problem", {"unreadable"}),
    "garbage.m4a": ("problem", {"unreadable"}),
    # What the walk meets besides files.
    "pipe.mp3": ("problem", {"not a regular file"}),
    "dangling.ogg": ("problem", {"broken link"}),
    "self.mp3": ("problem", {"link loop"}),
    "loop/back-to-top": ("problem", {"link loop"}),
    "album.mp3/inside.ogg": ("analysed", False),  # a folder with an audio file's name
    # Names and tags.
    "LOUD.MP3": ("analysed", False),
    "escapes.ogg": ("analysed", False),  # a title of terminal escapes, shown escaped
}
#: Beside ``song.flac``: a lyrics sidecar that is a link to a secret outside the music folder.
SECRET = "a secret that must not reach the catalogue"
NON_UTF8 = b"caf\xe9-\xff-latin1.ogg"
LONG_NAME = ("x" * 240) + ".flac"  # 246 bytes


def _id3v24_frame(frame_id: bytes, payload: bytes) -> bytes:
    n = len(payload)
    size = bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
    return frame_id + size + b"\0\0" + payload


def _strip_id3(raw: bytes) -> bytes:
    if raw[:3] != b"ID3":
        return raw
    b = raw[6:10]
    return raw[10 + ((b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]) :]


def _tone(sr: int, seconds: float, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    y = 0.3 * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))
    noise = np.random.default_rng(0).normal(0, 0.05, (len(t), channels))
    return (y[:, None] + noise).astype(np.float32)


def make(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    mp3 = (DATA / "kevin_macleod_vibe_ace.mp3").read_bytes()
    flac = (DATA / "muldjord_chaos_god.flac").read_bytes()
    (folder / "zero.mp3").write_bytes(b"")
    (folder / "random.flac").write_bytes(np.random.default_rng(1).bytes(20000))
    (folder / "text.ogg").write_text("Dear diary, this is not an Ogg file.\n" * 50)
    (folder / "half.mp3").write_bytes(mp3[: len(mp3) // 2])
    (folder / "half.flac").write_bytes(flac[: len(flac) // 2])
    (folder / "really-flac.mp3").write_bytes(flac)
    # ID3v2.4 whose TIT2 claims UTF-8 but holds invalid bytes, and a TPE1 that is fine.
    frames = _id3v24_frame(b"TIT2", b"\x03Bad \xff\xfe title \xc3") + _id3v24_frame(
        b"TPE1", b"\x03Kevin MacLeod"
    )
    n = len(frames)
    header = b"ID3\x04\x00\x00" + bytes(
        [(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F]
    )
    (folder / "bad-utf8-id3.mp3").write_bytes(header + frames + _strip_id3(mp3))
    big = folder / "big-cover.mp3"
    big.write_bytes(mp3)
    tags = ID3(big)
    tags.add(APIC(encoding=3, mime="image/png", type=3, desc="cover", data=os.urandom(10 << 20)))
    tags.save()
    sf.write(folder / "silence.wav", np.zeros((22050 * 5, 2), np.float32), 22050)
    sf.write(folder / "short.wav", _tone(44100, 0.5), 44100)
    sf.write(folder / "8k-mono.wav", _tone(8000, 12), 8000)
    sf.write(folder / "192k-6ch.flac", _tone(192000, 6, channels=6), 192000, subtype="PCM_24")
    ogg = (DATA / "westlund_legends_of_the_north.ogg").read_bytes()
    with open(os.fsencode(folder) + b"/" + NON_UTF8, "wb") as fh:
        fh.write(ogg)
    (folder / LONG_NAME).write_bytes(flac)
    loop = folder / "loop"
    loop.mkdir()
    os.symlink(folder, loop / "back-to-top")
    _impossible_headers(folder)
    _walk_oddities(folder)
    _names_and_tags(folder)
    return folder


def _patch(raw: bytes, offset: int, value: bytes) -> bytes:
    return raw[:offset] + value + raw[offset + len(value) :]


def _impossible_headers(folder: Path) -> None:
    wav = (DATA / "kevin_macleod_vibe_ace.wav").read_bytes()
    fmt = wav.index(b"fmt ") + 8
    data = wav.index(b"data")
    flac = (DATA / "muldjord_chaos_god.flac").read_bytes()
    # STREAMINFO's 64-bit field at 18: rate, channels, bits, then 36 bits of total samples.
    (packed,) = struct.unpack(">Q", flac[18:26])
    files = {
        "rate0.wav": _patch(wav, fmt + 4, struct.pack("<I", 0)),
        "chan0.wav": _patch(wav, fmt + 2, struct.pack("<H", 0)),
        "huge-data.wav": _patch(wav, data + 4, struct.pack("<I", 0xFFFFFFF0)),
        "maxed-samples.flac": _patch(flac, 18, struct.pack(">Q", packed | ((1 << 36) - 1))),
        "header-only.wav": wav[:44],
        "tiny.opus": (DATA / "kevin_macleod_vibe_ace.opus").read_bytes()[:3000],
        "cut-4k.mp3": (DATA / "kevin_macleod_vibe_ace.mp3").read_bytes()[:4096],
        "id3-only.mp3": b"ID3\x04\x00\x00\x00\x00\x10\x00" + bytes(2048),
        "garbage.m4a": b"\0\0\0\x18ftypM4A \0\0\0\0M4A isom" + os.urandom(5000),
    }
    for name, raw in files.items():
        (folder / name).write_bytes(raw)


def _walk_oddities(folder: Path) -> None:
    os.mkfifo(folder / "pipe.mp3")
    os.symlink(folder / "nowhere.ogg", folder / "dangling.ogg")
    os.symlink(folder / "self.mp3", folder / "self.mp3")
    (folder / "album.mp3").mkdir()
    shutil.copy(DATA / "westlund_legends_of_the_north.ogg", folder / "album.mp3" / "inside.ogg")


def _names_and_tags(folder: Path) -> None:
    shutil.copy(DATA / "kevin_macleod_vibe_ace.mp3", folder / "LOUD.MP3")
    odd = folder / "escapes.ogg"
    shutil.copy(DATA / "westlund_legends_of_the_north.ogg", odd)
    tags = OggVorbis(odd)
    tags["title"] = ["\x1b]0;pwned\x07\x1b[2J Escapes"]
    tags["artist"] = ["Carriage\r\nReturn"]
    tags.save()
    shutil.copy(DATA / "muldjord_chaos_god.flac", folder / "song.flac")
    secret = Path(tempfile.gettempdir()) / f"musicorg-hostile-secret-{os.getuid()}.txt"
    secret.write_text(SECRET, encoding="utf-8")  # outside any music folder a test scans
    os.symlink(secret, folder / "song.txt")


def make_three_hour_flac(path: Path, sr: int = 8000) -> Path:
    """A 3-hour FLAC of a tone, written in blocks (never held in memory at once)."""
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, format="FLAC", subtype="PCM_16") as f:
        block = _tone(sr, 60)[:, 0]
        for _ in range(180):
            f.write(block)
    return path
