"""The store's reads of the whole library for the window, made a slice at a time (the window
runs in another thread and waits for the GIL while one numpy call or one deallocation holds
it): the same results whatever the size of the slices, here made tiny."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musicorg.organise import playlists
from musicorg.store import autolists, db, maps, plays, userlists
from musicorg.store.db import Catalogue
from tests.gui.test_gui import VERSION, synthetic_library


@pytest.fixture
def library(tmp_path: Path) -> Catalogue:
    """90 tracks in three clusters with their automatic playlists (the last track missing:
    in none), and a user playlist that holds a track twice, and the missing one."""
    cat, ids = synthetic_library(tmp_path / "lib.sqlite", 90)
    playlists.build_playlists(cat)
    userlists.create(cat, "Twice", [ids[5], ids[89], ids[5], ids[40]])
    return cat


def test_drop_rows_empties_the_list_a_slice_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "DROP_ROWS", 3)
    rows = [(i, str(i)) for i in range(10)]
    kept = rows[4]
    db.drop_rows(rows)
    assert rows == [] and kept == (4, "4")
    db.drop_rows(rows)  # nothing left: nothing to do
    assert rows == []


@pytest.mark.parametrize("spread", [1, 3, 100])
def test_distinct_ids_are_np_unique(monkeypatch: pytest.MonkeyPatch, spread: int) -> None:
    """Marked in a table a slice at a time, or (ids spread far apart) by np.unique."""
    monkeypatch.setattr(autolists, "_SLICE", 7)
    rng = np.random.default_rng(spread)
    for n in (0, 5, 7, 8, 200):
        ids = rng.integers(1, 1 + spread * max(n, 1), n).astype(np.int64)
        got = autolists._distinct(ids)
        assert got.dtype == np.int64
        assert np.array_equal(got, np.unique(ids))


def test_track_facts_rows_in_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    facts = autolists._TrackFacts(
        np.arange(0, 300, 3, dtype=np.int64), np.zeros(100), np.zeros(100, dtype=bool)
    )
    tids = np.random.default_rng(0).choice(facts.ids, 55)
    whole = facts.rows(tids)
    monkeypatch.setattr(autolists, "_SLICE", 4)
    sliced = facts.rows(tids)
    assert sliced.dtype == np.intp
    assert np.array_equal(sliced, whole) and np.array_equal(facts.ids[sliced], tids)


def test_listed_is_the_same_in_tiny_slices(
    library: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The playlists listed, their sizes, lengths, examples and tracks: the same read in one
    go as a few rows at a time (and with every track read by a scan or by id)."""

    def listed() -> list[dict[str, object]]:
        return [p.as_dict() for p in autolists.listed(library, VERSION, include_user=True)]

    whole = listed()
    auto = [p for p in whole if p["kind"] == "auto"]
    assert sum(len(p["track_ids"]) for p in auto) == 89  # type: ignore[arg-type]
    # The user's playlist: a track twice, and the missing one counted apart.
    assert whole[-1]["track_ids"] == [6, 90, 6, 41] and whole[-1]["size"] == 4
    assert whole[-1]["unavailable"] == 1
    for scan_from in (1, 10**9):
        monkeypatch.setattr(autolists, "_SLICE", 4)
        monkeypatch.setattr(db, "SLICE_ROWS", 5)
        monkeypatch.setattr(db, "DROP_ROWS", 6)
        monkeypatch.setattr(autolists, "SCAN_TRACKS_FROM", scan_from)
        assert listed() == whole
    library.close()


def test_track_coords_are_made_a_slice_at_a_time(
    library: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [f"key{i:05d}" for i in range(90)]
    xy = np.random.default_rng(1).normal(0, 3, (90, 2))
    maps.store(library, VERSION, "pca", keys, xy, replace=True)
    ids, whole = maps.track_coords(library, VERSION, "pca", include_missing=True)
    monkeypatch.setattr(maps, "_SLICE", 4)
    monkeypatch.setattr(db, "DROP_ROWS", 7)
    ids2, sliced = maps.track_coords(library, VERSION, "pca", include_missing=True)
    assert ids2 == ids and len(ids) == 90
    assert sliced.dtype == np.float32 and sliced.shape == (90, 2)
    assert np.array_equal(sliced, whole)
    assert np.array_equal(sliced, xy.astype(np.float32))  # track i has key i
    # Without the missing track (the last one).
    ids3, some = maps.track_coords(library, VERSION, "pca")
    assert ids3 == ids[:-1] and np.array_equal(some, whole[:-1])
    library.close()


def test_play_stats_read_in_slices(library: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    ids, _xy = maps.track_coords(library, VERSION, "pca")  # none: no map stored
    assert ids == []
    for t in range(1, 31):
        plays.record_play(library, t, at=float(t))
        if t % 3 == 0:
            plays.record_skip(library, t, at=100.0 + t)
    whole = plays.stats(library)
    monkeypatch.setattr(db, "SLICE_ROWS", 4)
    monkeypatch.setattr(db, "DROP_ROWS", 5)
    assert plays.stats(library) == whole and len(whole) == 30
    assert whole[9] == plays.PlayStats(1, 9.0, 1, 109.0)
    library.close()
