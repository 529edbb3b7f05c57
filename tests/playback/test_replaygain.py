"""ReplayGain read from the tags of every format, and the clip-protected factor."""

from __future__ import annotations

import shutil
from pathlib import Path

import mutagen
import pytest
from mutagen.id3 import ID3, TXXX
from mutagen.mp4 import MP4FreeForm

from musicorg.playback import replaygain
from tests.conftest import DATA

SOURCE = "kevin_macleod_vibe_ace"


def tag_gain(path: Path, gain_db: float, peak: float | None = None) -> None:
    """Write a track gain (and peak) where ``path``'s format keeps it."""
    text, suffix = f"{gain_db:+.2f} dB", path.suffix
    audio = mutagen.File(path)
    assert audio is not None
    if suffix in (".mp3", ".aiff", ".wav"):
        if audio.tags is None:
            audio.add_tags()
        tags: ID3 = audio.tags
        tags.add(TXXX(encoding=3, desc="REPLAYGAIN_TRACK_GAIN", text=[text]))
        if peak is not None:
            tags.add(TXXX(encoding=3, desc="REPLAYGAIN_TRACK_PEAK", text=[f"{peak:.6f}"]))
    elif suffix == ".m4a":
        audio["----:com.apple.iTunes:replaygain_track_gain"] = [MP4FreeForm(text.encode())]
        if peak is not None:
            value = MP4FreeForm(f"{peak:.6f}".encode())
            audio["----:com.apple.iTunes:replaygain_track_peak"] = [value]
    elif suffix == ".opus":
        audio["R128_TRACK_GAIN"] = [str(round((gain_db - replaygain.R128_OFFSET_DB) * 256))]
    else:  # Vorbis comments (FLAC, Ogg), ASF (WMA)
        if audio.tags is None:
            audio.add_tags()
        audio["replaygain_track_gain"] = [text]
        if peak is not None:
            audio["replaygain_track_peak"] = [f"{peak:.6f}"]
    audio.save()


@pytest.mark.parametrize(
    "suffix", [".flac", ".ogg", ".opus", ".mp3", ".m4a", ".wma", ".aiff", ".wav"]
)
def test_every_format_gives_its_gain(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"{SOURCE}{suffix}"
    shutil.copy(DATA / path.name, path)
    assert replaygain.read(path) is None
    tag_gain(path, -10.0, None if suffix == ".opus" else 0.5)
    got = replaygain.read(str(path).encode())
    assert got is not None
    assert got.gain_db == pytest.approx(-10.0, abs=0.01)
    assert got.peak == (None if suffix == ".opus" else pytest.approx(0.5))


def test_values_and_clipping() -> None:
    fields = {"replaygain_track_gain": "\u22126,5 dB", "replaygain_track_peak": "0.9"}
    assert replaygain.from_fields(fields) == replaygain.ReplayGain(-6.5, 0.9)
    assert replaygain.from_fields({"replaygain_track_gain": "loud"}) is None
    assert replaygain.from_fields({"replaygain_track_gain": "+900 dB"}) is None
    assert replaygain.from_fields({"r128_track_gain": "-2560"}) == replaygain.ReplayGain(-5.0)
    assert replaygain.factor(-20.0) == pytest.approx(0.1)
    assert replaygain.factor(6.0, peak=0.9) == pytest.approx(1 / 0.9)  # never clips
    assert replaygain.factor(-6.0, peak=0.9) == pytest.approx(10 ** (-6 / 20))


def test_damaged_or_missing_files_have_no_gain(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"\xff\xfb" + b"nonsense" * 100)
    assert replaygain.read(junk) is None
    assert replaygain.read(tmp_path / "absent.flac") is None
