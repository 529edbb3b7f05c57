"""A cut file is a problem, not a 0:00 track (issue 17, item 4): a file whose header promises
more audio than its bytes can hold, and whose bytes hold under a second of it (the first 4 KB of
an MP3), is a "truncated" problem with the lengths in its message. A file that is short but
whole (a 0.5-s WAV whose header says 0.5 s) stays a track, analysed as weak."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicorg.app import pipeline
from musicorg.ingest import tags
from musicorg.store import library
from musicorg.store.db import Catalogue
from tests.conftest import DATA


def _library(folder: Path) -> Path:
    folder.mkdir(parents=True)
    mp3 = (DATA / "kevin_macleod_vibe_ace.mp3").read_bytes()
    wav = (DATA / "kevin_macleod_vibe_ace.wav").read_bytes()
    (folder / "cut.mp3").write_bytes(mp3[:4096])
    (folder / "cut.wav").write_bytes(wav[:4096])
    (folder / "half.mp3").write_bytes(mp3[: len(mp3) // 2])  # 4 s of 8: decodable, a track
    (folder / "whole.mp3").write_bytes(mp3)
    sf.write(folder / "short.wav", np.zeros(22050, np.float32), 44100)  # 0.5 s, whole
    return folder


def test_a_cut_file_is_a_truncated_problem_not_a_track(cat: Catalogue, tmp_path: Path) -> None:
    folder = _library(tmp_path / "lib")
    report = pipeline.scan(cat, [folder])
    problems = {os.path.basename(p.path): p for p in library.problems(cat)}
    rows = {os.path.basename(r.path): r for r in library.tracks(cat)}
    assert set(rows) == {"half.mp3", "whole.mp3", "short.wav"}
    assert {p[1] for p in report.problems} == {"truncated"}
    assert problems["cut.mp3"].kind == "truncated"
    assert problems["cut.mp3"].message == (
        "this mp3 file is cut short: its header promises 8.0 s of audio, but its 4096 bytes "
        "hold at most 0.24 s"
    )
    assert problems["cut.wav"].kind == "truncated"
    assert "cut short" in problems["cut.wav"].message
    assert rows["short.wav"].duration == pytest.approx(0.5)


def test_the_rule_in_numbers(tmp_path: Path) -> None:
    mp3 = (DATA / "kevin_macleod_vibe_ace.mp3").read_bytes()
    for n, cut in ((4096, True), (8192, True), (16384, False), (len(mp3), False)):
        path = tmp_path / f"{n}.mp3"
        path.write_bytes(mp3[:n])
        if cut:
            with pytest.raises(tags.CutShort):
                tags.read(str(path), "mp3")
        else:
            assert tags.read(str(path), "mp3").duration in (None, pytest.approx(8.05, abs=0.01))
