"""Loading a library past ``RANK_AHEAD`` tracks (lowered here to 50 over a real catalogue):
every column of the table comes ranked from the loading job, so the first sort by any column
does no sorting of the whole library on the UI thread; a smaller library ranks none ahead.
Searching one past ``SEARCH_BACKGROUND_FROM``: the words are looked for in a worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from musicorg.gui import library_view, librarydata
from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.player import NullPlayer
from musicorg.gui.snapshot import COLUMNS
from tests.gui.test_gui import open_synthetic, synthetic_library


def test_a_big_library_comes_with_every_column_ranked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat, _ids = synthetic_library(tmp_path / "lib.sqlite", 60)
    small = librarydata.load_library(cat)
    assert not small.snap._orders  # below the threshold: ranked when first sorted by
    monkeypatch.setattr(librarydata, "RANK_AHEAD", 50, raising=False)
    big = librarydata.load_library(cat)
    assert set(big.snap._orders) == {key for key, _header in COLUMNS}
    # The orders are those a sort would make: the artists in natural order.
    order = big.snap._orders["artist"]
    artists = big.snap.cols["artist"][order].tolist()
    assert artists == sorted(artists, key=str.casefold)
    cat.close()


def test_a_big_library_is_searched_in_a_worker(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past SEARCH_BACKGROUND_FROM tracks (lowered to 0 here), the words of a search are looked
    for in a worker: the table keeps its rows and selection until they are found, then shows
    what a search at once shows; a library read again meanwhile is searched in its turn."""
    monkeypatch.setattr(library_view, "SEARCH_BACKGROUND_FROM", 0)
    w = MainWindow(player=NullPlayer(), audio_backend="null")
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    ids = open_synthetic(qtbot, w, tmp_path)
    lib = w.library
    lib.select_track_ids([ids[13]])
    snap = lib.snap
    lib.search_for("song 01 jazz")
    assert lib.searching() and w.model.rowCount() == len(ids)  # not found yet
    qtbot.waitUntil(lambda: not lib.searching(), timeout=10000)
    want = snap.view("song 01 jazz")
    assert 0 < len(want) < len(ids)
    assert list(w.model.rows) == list(want)
    assert lib.selected_track_ids() == [ids[13]]  # Song 013 is Jazz: still selected
    # Typed on: only the last search lands; and a new read of the library is searched anew.
    lib.search_for("song 0")
    lib.search_for("song 02")
    w.reload()
    qtbot.waitUntil(
        lambda: w.idle() and not lib.searching() and lib.snap is not snap, timeout=30000
    )
    assert w.model.query == "song 02"
    assert list(w.model.rows) == list(lib.snap.view("song 02"))
    lib.search_for("")  # cleared: at once
    assert not lib.searching() and w.model.rowCount() == len(ids)
    w.close()
