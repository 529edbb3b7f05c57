"""For you: a playlist from the plays and skips recorded in a real catalogue."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from musicorg.organise import foryou
from musicorg.organise.foryou import ForYouError, for_you, is_skipped, just_heard, seed_weight
from musicorg.organise.similar import norm_text
from musicorg.store import plays
from musicorg.store.plays import PlayStats
from tests.latent_fixtures import add_tracks, new_catalogue

NOW = 1_750_000_000.0
HOUR, DAY = 3600.0, 86400.0


def line(n: int) -> np.ndarray:
    v = np.zeros((n, 8), np.float32)
    v[:, 0] = np.arange(n)
    return v


def test_plays_make_the_seeds_and_what_was_heard_or_skipped_is_left_out(tmp_path: Path) -> None:
    cat = new_catalogue(tmp_path)
    ids = add_tracks(cat, line(80))
    for _ in range(5):
        plays.record_play(cat, ids[10], at=NOW - 3 * DAY)  # the favourite
    plays.record_play(cat, ids[70], at=NOW - 90 * DAY)  # long ago, once
    plays.record_play(cat, ids[11], at=NOW - HOUR)  # just heard
    plays.record_play(cat, ids[12], at=NOW - 5 * DAY)
    plays.record_skip(cat, ids[12], at=NOW - 4 * DAY)
    plays.record_skip(cat, ids[12], at=NOW - 4 * DAY)  # skipped more than played
    for _ in range(3):
        plays.record_play(cat, ids[9], at=NOW - 6 * DAY)
    plays.record_skip(cat, ids[9], at=NOW - 2 * DAY)  # skipped since its last play
    plays.record_skip(cat, ids[8], at=NOW - 9 * DAY)
    for _ in range(3):
        plays.record_play(cat, ids[8], at=NOW - 8 * DAY)  # skipped once, long before: kept

    result = for_you(cat, n=10, now=NOW)
    seeds = [s.track_id for s in result.seeds]
    assert seeds[0] == ids[10] and set(seeds) == {ids[10], ids[8], ids[70], ids[11]}
    assert result.seeds[0].play_count == 5 and result.seeds[0].weight > result.seeds[-1].weight
    got = [ids.index(t.track_id) for t in result.tracks]
    assert len(got) == 10
    assert not {8, 9, 10, 11, 12, 70} & set(got)  # seeds, just heard, skipped
    # Like the favourite most of all: its neighbourhood fills the list, away from 9 and 12.
    assert {13, 14, 7, 6, 15} <= set(got) and max(got) < 20
    assert all(t.like in (ids[10], ids[8], ids[11]) for t in result.tracks if t.track_id < 20)
    # Fewer than 50 plays: every played track was just heard.
    assert result.skipped == 2 and result.just_heard == 6
    data = result.as_dict()
    assert data["left_out"] == {"just_heard": 6, "skipped": 2}
    assert data["seeds"][0]["play_count"] == 5 and "skipped" in data["rules"]
    names = [norm_text(t.artist) for t in result.tracks]
    assert all(a != b for a, b in itertools.pairwise(names))
    cat.close()


def test_the_last_50_plays_and_the_last_day_are_just_heard() -> None:
    recorded = {t: PlayStats(1, NOW - 2 * DAY - t * HOUR, 0, None) for t in range(80)}
    assert just_heard(recorded, NOW) == set(range(foryou.RECENT_PLAYS))
    busy = {t: PlayStats(1, NOW - t * 60, 0, None) for t in range(70)}  # 70 in the last 70 min
    assert just_heard(busy, NOW) == set(range(70))


def test_the_rules() -> None:
    assert not is_skipped(PlayStats(3, NOW, 0, None))
    assert is_skipped(PlayStats(0, None, 1, NOW))
    assert is_skipped(PlayStats(2, NOW - DAY, 2, NOW - 2 * DAY))  # as often as played
    assert is_skipped(PlayStats(5, NOW - DAY, 1, NOW))  # skipped since the last play
    assert not is_skipped(PlayStats(5, NOW, 1, NOW - DAY))
    fresh = seed_weight(PlayStats(3, NOW, 0, None), NOW)
    month = seed_weight(PlayStats(3, NOW - 30 * DAY, 0, None), NOW)
    assert fresh == pytest.approx(2.0) and month == pytest.approx(1.0)
    assert seed_weight(PlayStats(7, NOW, 0, None), NOW) == pytest.approx(3.0)


def test_without_plays_it_says_to_play_first(tmp_path: Path) -> None:
    cat = new_catalogue(tmp_path)
    ids = add_tracks(cat, line(10), embed=[True] * 9 + [False])
    with pytest.raises(ForYouError, match="play some music"):
        for_you(cat, now=NOW)
    plays.record_skip(cat, ids[2], at=NOW)
    with pytest.raises(ForYouError, match="play some music"):
        for_you(cat, now=NOW)  # a skip is not a play
    plays.record_play(cat, ids[9], at=NOW)
    with pytest.raises(ForYouError, match="analyse"):
        for_you(cat, now=NOW)  # the one played track has no embedding
    plays.record_play(cat, ids[3], at=NOW - DAY)
    plays.record_skip(cat, ids[3], at=NOW)
    with pytest.raises(ForYouError, match="analyse"):
        for_you(cat, now=NOW)
    plays.record_play(cat, ids[4], at=NOW - DAY)
    assert [s.track_id for s in for_you(cat, n=3, now=NOW).seeds] == [ids[4]]
    with pytest.raises(ForYouError, match="at least one"):
        for_you(cat, n=0, now=NOW)
    cat.close()


def test_a_refresh_follows_new_plays(tmp_path: Path) -> None:
    cat = new_catalogue(tmp_path)
    ids = add_tracks(cat, line(100))
    plays.record_play(cat, ids[10], at=NOW - 10 * DAY)
    first = {ids.index(t.track_id) for t in for_you(cat, n=5, now=NOW).tracks}
    assert max(first) < 20
    for _ in range(4):
        plays.record_play(cat, ids[80], at=NOW - 2 * DAY)
    second = {ids.index(t.track_id) for t in for_you(cat, n=5, now=NOW).tracks}
    assert min(second) > 70
    cat.close()
