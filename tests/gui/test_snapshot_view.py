"""The table's rows (``Snapshot.view``) come from each column's cached order: the whole library
sorted is that order, a search sorted keeps the order's matching rows. They must be the rows
a stable sort of the rows shown by their rank makes, as before, for every column, both
directions, with and without a search or a scope (a result list, kept in its order)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musicorg.gui import librarydata
from musicorg.gui.snapshot import COLUMNS, KEEP_WORDS, Snapshot
from musicorg.store import library
from tests.gui.test_gui import synthetic_library


def by_rank(
    snap: Snapshot, query: str, scope: np.ndarray | None, key: str | None, descending: bool
) -> np.ndarray:
    """The rows as the view made them before: the rows shown, then a stable argsort of their
    ranks, reversed for a descending sort."""
    if scope is not None:
        rows = scope if not query else scope[snap.match(query)[scope]]
    else:
        rows = np.flatnonzero(snap.match(query)) if query else np.arange(len(snap))
    if key is None and scope is None and "is:duplicate" in query.split():
        key = "copies"
    if key is not None and len(rows):
        order = np.argsort(snap.rank(key)[rows], kind="stable")
        rows = rows[order[::-1] if descending else order]
    return rows


def test_the_view_from_cached_orders_is_the_sort_by_rank(tmp_path: Path) -> None:
    cat, ids = synthetic_library(tmp_path / "lib.sqlite", 300)
    snap = librarydata.load_library(cat).snap
    cat.close()
    # Duplicates (two groups) and ties in every column make the order of equal values count.
    snap.set_duplicates([ids[:3], ids[10:12]])
    scope = np.array([250, 3, 17, 17, 99, 0, 120], dtype=np.int64)
    queries = ["", "a", "artist 1", "is:duplicate", "zzz-nothing"]
    keys = [None, *(key for key, _header in COLUMNS)]
    checked = 0
    for key in keys:
        for query in queries:
            for sc in (None, scope):
                for descending in (False, True):
                    got = snap.view(query, sc, key, descending)
                    want = by_rank(snap, query, sc, key, descending)
                    assert got.tolist() == want.tolist(), (key, query, sc, descending)
                    checked += len(got)
    assert checked > 10_000  # the searches do match rows
    # A sorted view is a copy of its own, not the cached order that later sorts read.
    full = snap.view("", None, "title", True)
    full[:] = 0
    assert snap.view("", None, "title", False)[::-1].tolist() != full.tolist()


def by_columns(snap: Snapshot, query: str) -> np.ndarray:
    """The rows with every word of ``query`` in their title, artist, album, genre or file,
    found in the lowercase columns themselves (not in the search text)."""
    mask = np.ones(len(snap), dtype=bool)
    for word in query.lower().split():
        mask &= np.logical_or.reduce(
            [
                np.strings.find(snap.lower[k], word) >= 0
                for k in ("title", "artist", "album", "genre", "path")
            ]
        )
    return mask


def test_searched_words_are_kept_and_the_next_ones_found_among_their_rows(
    tmp_path: Path,
) -> None:
    cat, _ids = synthetic_library(tmp_path / "lib.sqlite", 300)
    snap = librarydata.load_library(cat).snap
    cat.close()
    # As typed, a key at a time, then other searches: each answer is the columns' own.
    typed = ["s", "so", "son", "song", "song 1", "song 12", "song 120", "song 12", "1"]
    others = ["ARTIST 3", "track0001", "folk album", "rock 2", "zzz", "0", "00", "ong", "jazz"]
    for query in [*typed, *others]:
        got = snap.match(query)
        assert got.tolist() == by_columns(snap, query).tolist(), query
    assert 0 < int(snap.match("song 12").sum()) < len(snap)
    assert len(snap._found) == KEEP_WORDS  # the last ones searched, no more
    assert "jazz" in snap._found and "s" not in snap._found
    # A word's rows are kept, not handed out to be changed.
    with pytest.raises(ValueError):
        snap.rows_with("jazz")[0] = True


def test_words_with_other_letters_are_found(tmp_path: Path) -> None:
    """The search text is kept as UTF-8 bytes: accented and other scripts' words, any case,
    and a file name that is not valid UTF-8 (shown with a stand-in character) still match."""
    titles = ["Café del Mar", "ÉCOLE", "Straße", "東京の夜", "Naïve", None]
    displays = [f"/m/{i}.flac" for i in range(5)] + ["/m/bad \udce9 name.flac"]
    n = len(titles)
    tracks = library.TrackColumns(
        ids=list(range(1, n + 1)),
        content_keys=[f"k{i}" for i in range(n)],
        paths=[d.encode("utf-8", "surrogateescape") for d in displays],
        missing=[False] * n,
        displays=displays,
        has_lyrics=[False] * n,
        titles=titles,
        artists=["Ångström"] * n,
        albums=[None] * n,
        genres=[None] * n,
        years=[None] * n,
        durations=[None] * n,
        formats=["flac"] * n,
    )
    snap = Snapshot.build(tracks)
    assert snap.haystack.dtype.kind == "S"
    for query, rows in [
        ("café", [0]),
        ("école", [1]),
        ("straße", [2]),
        ("東京", [3]),
        ("naïve", [4]),
        ("ångström", list(range(n))),
        ("bad", [5]),
        ("name", [5]),
        ("cafe", []),
    ]:
        assert np.flatnonzero(snap.match(query)).tolist() == rows, query
