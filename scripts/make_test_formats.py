"""Make the AIFF and WMA test files that ../shared/fixtures lacks, from its Vibe Ace FLAC.

Kevin MacLeod, "Vibe Ace", CC-BY-3.0 (from the librosa 0.7.2 sdist); see tests/data/SOURCES.txt.
Encoding uses PyAV's bundled FFmpeg, so no system ffmpeg is needed. Run once; output is committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from mutagen.aiff import AIFF
from mutagen.asf import ASF
from mutagen.id3 import TALB, TCON, TDRC, TIT2, TPE1, TRCK

SRC = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "kevin_macleod_vibe_ace.flac"
OUT = Path(__file__).resolve().parents[1] / "tests" / "data"
TAGS = {
    "title": "Vibe Ace",
    "artist": "Kevin MacLeod",
    "album": "Jazz Sampler",
    "genre": "Jazz",
    "date": "2011",
    "track": "3",
}


def make_aiff(y: np.ndarray, sr: int, dest: Path) -> None:
    sf.write(dest, y, sr, format="AIFF", subtype="PCM_16")
    audio = AIFF(dest)
    audio.add_tags()
    assert audio.tags is not None
    audio.tags.add(TIT2(encoding=3, text=TAGS["title"]))
    audio.tags.add(TPE1(encoding=3, text=TAGS["artist"]))
    audio.tags.add(TALB(encoding=3, text=TAGS["album"]))
    audio.tags.add(TCON(encoding=3, text=TAGS["genre"]))
    audio.tags.add(TDRC(encoding=3, text=TAGS["date"]))
    audio.tags.add(TRCK(encoding=3, text=TAGS["track"]))
    audio.save()


def make_wma(y: np.ndarray, sr: int, dest: Path) -> None:
    container = av.open(str(dest), "w", format="asf")
    stream = container.add_stream("wmav2", rate=sr)
    stream.layout = "mono"
    stream.bit_rate = 64000
    pcm = (np.clip(y, -1, 1) * 32767).astype(np.int16)
    pts = 0
    for i in range(0, len(pcm), 2048):
        chunk = pcm[i : i + 2048]
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = sr
        frame.pts = pts
        pts += len(chunk)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    audio = ASF(dest)
    audio["Title"] = TAGS["title"]
    audio["Author"] = TAGS["artist"]
    audio["WM/AlbumTitle"] = TAGS["album"]
    audio["WM/Genre"] = TAGS["genre"]
    audio["WM/Year"] = TAGS["date"]
    audio["WM/TrackNumber"] = TAGS["track"]
    audio.save()


def main() -> int:
    y, sr = sf.read(SRC, dtype="float32")
    OUT.mkdir(parents=True, exist_ok=True)
    make_aiff(y, sr, OUT / "kevin_macleod_vibe_ace.aiff")
    make_wma(y, sr, OUT / "kevin_macleod_vibe_ace.wma")
    return 0


if __name__ == "__main__":
    sys.exit(main())
