"""Cover art: embedded in each tag format, or an image beside the file."""

from __future__ import annotations

import base64
import shutil
import struct
from pathlib import Path

import pytest
from mutagen.asf import ASF, ASFByteArrayAttribute
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, ID3
from mutagen.mp4 import MP4, MP4Cover
from mutagen.oggvorbis import OggVorbis

from musicorg.app.covers import cover_art
from tests.conftest import DATA

FRONT = b"\x89PNG front cover"
BACK = b"\x89PNG back cover"


def _copy(tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copy2(DATA / name, dest)
    return dest


def _picture(kind: int, data: bytes) -> Picture:
    pic = Picture()
    pic.type, pic.mime, pic.data = kind, "image/png", data
    return pic


def test_id3_front_cover_is_preferred(tmp_path: Path) -> None:
    path = _copy(tmp_path, "kevin_macleod_vibe_ace.mp3")
    tags = ID3(path)
    tags.add(APIC(encoding=3, mime="image/png", type=4, desc="back", data=BACK))
    tags.add(APIC(encoding=3, mime="image/png", type=3, desc="front", data=FRONT))
    tags.save(path)
    assert cover_art(path) == FRONT


def test_flac_picture(tmp_path: Path) -> None:
    path = _copy(tmp_path, "kevin_macleod_vibe_ace.flac")
    audio = FLAC(path)
    audio.add_picture(_picture(3, FRONT))
    audio.save()
    assert cover_art(str(path)) == FRONT


def test_vorbis_comment_picture(tmp_path: Path) -> None:
    path = _copy(tmp_path, "kevin_macleod_vibe_ace.ogg")
    audio = OggVorbis(path)
    raw = base64.b64encode(_picture(0, BACK).write()).decode("ascii")
    audio["metadata_block_picture"] = [raw]
    audio.save()
    assert cover_art(bytes(path)) == BACK  # no front cover: the first picture


def test_mp4_cover(tmp_path: Path) -> None:
    path = _copy(tmp_path, "kevin_macleod_vibe_ace.m4a")
    audio = MP4(path)
    audio["covr"] = [MP4Cover(FRONT, imageformat=MP4Cover.FORMAT_PNG)]
    audio.save()
    assert cover_art(path) == FRONT


def test_asf_picture(tmp_path: Path) -> None:
    path = _copy(tmp_path, "kevin_macleod_vibe_ace.wma")
    audio = ASF(path)
    mime, desc = "image/png".encode("utf-16-le") + b"\0\0", b"\0\0"
    raw = bytes([3]) + struct.pack("<I", len(FRONT)) + mime + desc + FRONT
    audio["WM/Picture"] = [ASFByteArrayAttribute(raw)]
    audio.save()
    assert cover_art(path) == FRONT


@pytest.mark.parametrize("name", ["cover.jpg", "Folder.JPG", "front.png"])
def test_image_beside_the_file(tmp_path: Path, name: str) -> None:
    path = _copy(tmp_path, "kevin_macleod_vibe_ace.wav")
    assert cover_art(path) is None
    (tmp_path / name).write_bytes(b"beside")
    assert cover_art(path) == b"beside"


def test_embedded_wins_over_the_folder_and_odd_files_have_none(tmp_path: Path) -> None:
    path = _copy(tmp_path, "kevin_macleod_vibe_ace.flac")
    (tmp_path / "cover.jpg").write_bytes(b"beside")
    audio = FLAC(path)
    audio.add_picture(_picture(3, FRONT))
    audio.save()
    assert cover_art(path) == FRONT
    junk = tmp_path / "sub" / "junk.mp3"
    junk.parent.mkdir()
    junk.write_bytes(b"not audio at all")
    assert cover_art(junk) is None
    assert cover_art(tmp_path / "gone" / "x.flac") is None
