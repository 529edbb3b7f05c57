"""Every file of the project's shared fixtures (`../shared/fixtures`: mp3, ogg, flac, m4a, opus,
wav) decodes to its full length at the device rate, and one of each format plays on the null
device until the position reaches 1 s with audible samples."""

from __future__ import annotations

from pathlib import Path

import mutagen
import numpy as np
import pytest

from musicorg.playback.decode import Stream
from musicorg.playback.player import RATE, Player
from tests.playback.test_player import wait_until

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
AUDIO = sorted(
    p for p in SHARED.glob("*") if p.suffix in {".mp3", ".ogg", ".flac", ".m4a", ".opus", ".wav"}
)
pytestmark = pytest.mark.skipif(not AUDIO, reason="../shared/fixtures is not here")


@pytest.mark.parametrize("path", AUDIO, ids=lambda p: p.name)
def test_each_fixture_decodes_to_its_length(path: Path) -> None:
    stream = Stream(str(path))
    frames, peak = 0, 0.0
    try:
        while (block := stream.read()) is not None:
            frames += len(block)
            peak = max(peak, float(np.abs(block).max(initial=0.0)))
    finally:
        stream.close()
    length = mutagen.File(path).info.length
    assert frames / RATE == pytest.approx(length, abs=0.1), path.name
    assert peak > 0.05, path.name


@pytest.mark.parametrize(
    "path",
    [next(p for p in AUDIO if p.suffix == s) for s in sorted({p.suffix for p in AUDIO})],
    ids=lambda p: p.suffix,
)
def test_one_of_each_format_plays(path: Path) -> None:
    player = Player("null")
    try:
        assert player.available, player.unavailable_reason
        player.load(str(path))
        assert wait_until(lambda: player.position() >= 1.0), f"{path.name} did not reach 1 s"
        got = player.received()
        assert got.audible_frames > 0.5 * RATE and got.peak > 0.05, got
    finally:
        player.close()
