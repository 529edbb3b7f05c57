"""The rules of a play and a skip, given the seconds heard (no waiting), and their records."""

from __future__ import annotations

from pathlib import Path

import pytest

from musicorg.playback.plays import PlayTracker, play_threshold
from musicorg.store import plays as store_plays
from musicorg.store.db import Catalogue
from tests.store.test_plays import add_track


@pytest.mark.parametrize(
    ("duration", "threshold"), [(8.0, 4.0), (60.0, 30.0), (600.0, 30.0), (None, 30.0), (0.0, 30.0)]
)
def test_a_play_counts_at_30_s_or_half_the_track(duration: float | None, threshold: float) -> None:
    assert play_threshold(duration) == threshold


def test_the_rules() -> None:
    t = PlayTracker(None)
    t.start(1, 8.0)
    assert t.progress(3.9) is None
    assert t.progress(4.0) == "play"
    assert t.progress(7.0) is None  # once per listen
    assert t.finish(8.0) is None

    t.start(2, 300.0)
    assert t.progress(29.0) is None
    assert t.finish(31.0) == "play"  # counted when the listen ends past the mark

    t.start(3, 300.0)
    assert t.next_pressed(9.9) == "skip"
    assert t.track_id is None

    t.start(4, 300.0)
    assert t.next_pressed(10.0) is None  # neither: heard 10 s, not yet 30

    t.start(5, 8.0)
    assert t.next_pressed(6.0) == "play"  # a play is never also a skip

    t.start(6, 300.0)
    assert t.finish(2.0) is None  # stop or previous early is not a skip
    assert t.next_pressed(1.0) is None  # no listen in progress


def test_plays_and_skips_are_written(cat: Catalogue) -> None:
    a = add_track(cat, "/m/a.flac", duration=8.0)
    b = add_track(cat, "/m/b.flac", duration=300.0)
    seen: list[tuple[int, str]] = []
    t = PlayTracker(cat, now=lambda: 1234.0, on_recorded=lambda i, o: seen.append((i, o)))
    t.start(a, 8.0)
    t.progress(5.0)
    t.start(b, None)
    t.next_pressed(2.0)
    t.start(99999, 8.0)  # gone from the catalogue: nothing to record
    t.progress(5.0)
    assert t.wait(5.0)
    stats = store_plays.stats(cat)
    assert stats[a] == store_plays.PlayStats(1, 1234.0, 0, None)
    assert stats[b] == store_plays.PlayStats(0, None, 1, 1234.0)
    assert seen == [(a, "play"), (b, "skip")]
    t.close()


def test_a_read_only_catalogue_loses_the_record_not_the_music(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalogue(path) as cat:
        a = add_track(cat, "/m/a.flac")
    ro = Catalogue(path, read_only=True)
    try:
        t = PlayTracker(ro)
        t.start(a, 8.0)
        assert t.progress(5.0) == "play"
        assert t.wait(5.0)
        assert store_plays.stats(ro) == {}
        t.close()
    finally:
        ro.close()
