"""The library table as a user meets it: untagged files, duplicates, sorting and columns.

Real windows (offscreen) over real catalogues: synthetic rows for the names and the sort,
copies of the real test files, scanned, for the duplicates.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QFont

from musicorg import settings as settings_mod
from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.player import NullPlayer
from musicorg.gui.snapshot import COLUMNS
from musicorg.ingest import scanner
from musicorg.store.db import Catalogue
from tests.conftest import audio_files
from tests.latent_fixtures import add_tracks

KEYS = [k for k, _ in COLUMNS]


def column(key: str) -> int:
    return KEYS.index(key)


@pytest.fixture
def window(qtbot):  # type: ignore[no-untyped-def]
    w = MainWindow(player=NullPlayer(), audio_backend="null")
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    yield w
    w.close()


def open_tracks(  # type: ignore[no-untyped-def]
    qtbot,
    window: MainWindow,
    db: Path,
    paths: Sequence[str],
    titles: Sequence[str | None],
    artists: Sequence[str | None] | None = None,
    albums: Sequence[str | None] | None = None,
) -> list[int]:
    """A catalogue of these tracks (in this order of ids), opened in the window."""
    n = len(paths)
    cat = Catalogue(db)
    ids = add_tracks(
        cat,
        np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32),
        titles=titles,
        artists=artists if artists is not None else [None] * n,
        paths=paths,
        columns={"album": albums if albums is not None else [None] * n},
    )
    cat.close()
    window.open_library(db, [], rescan=False)
    qtbot.waitUntil(lambda: window.idle() and window.model.rowCount() == n, timeout=60000)
    return ids


def shown(window: MainWindow, key: str) -> list[str]:
    """The column's cells, top to bottom."""
    m = window.model
    return [m.data(m.index(r, column(key))) for r in range(m.rowCount())]


def click_header(qtbot, window: MainWindow, key: str) -> None:  # type: ignore[no-untyped-def]
    header = window.table.horizontalHeader()
    section = column(key)
    x = header.sectionViewportPosition(section) + header.sectionSize(section) // 2
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2)
    )


# --- untagged files ---------------------------------------------------------------------------


def test_untagged_files_show_their_file_name_and_folder(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    paths = [
        "/music/Folder A/track10.flac",
        "/music/Folder B/track10.flac",
        "/music/Tagged/01 song.flac",
    ]
    ids = open_tracks(
        qtbot,
        window,
        tmp_path / "lib.sqlite",
        paths,
        titles=[None, None, "Real title"],
        artists=[None, None, "Someone"],
        albums=[None, None, "Real album"],
    )
    assert shown(window, "title") == ["track10", "track10", "Real title"]
    assert shown(window, "album") == ["Folder A", "Folder B", "Real album"]
    snap = window.library.snap
    labels = [snap.label(snap.row_of(i) or 0) for i in ids]
    assert labels == ["track10 (Folder A)", "track10 (Folder B)", "Someone – Real title"]
    # A guessed value looks guessed and says where it comes from; a tag does not.
    m = window.model
    font = m.data(m.index(0, column("album")), Qt.ItemDataRole.FontRole)
    assert isinstance(font, QFont) and font.italic()
    assert "folder" in m.data(m.index(0, column("album")), Qt.ItemDataRole.ToolTipRole)
    assert "file" in m.data(m.index(1, column("title")), Qt.ItemDataRole.ToolTipRole)
    assert m.data(m.index(2, column("album")), Qt.ItemDataRole.FontRole) is None
    # The details pane names the selected track the same way.
    window.library.select_track_ids([ids[1]])
    assert window.details.title.text() == "track10 (Folder B)"
    # And the untagged ones can be listed.
    window.library.set_filter("is:untagged", True)
    assert shown(window, "album") == ["Folder A", "Folder B"]


# --- duplicates -------------------------------------------------------------------------------


def test_the_same_audio_under_another_name_is_flagged(qtbot, window, music, tmp_path):  # type: ignore[no-untyped-def]
    originals = [music / "a" / audio_files()[1].name, music / "b" / audio_files()[2].name]
    copies = music / "copies"
    copies.mkdir()
    renamed = [copies / f"renamed {i}{p.suffix}" for i, p in enumerate(originals)]
    for src, dest in zip(originals, renamed, strict=True):
        shutil.copy2(src, dest)
    db = tmp_path / "lib.sqlite"
    with Catalogue(db) as cat:
        scanner.scan(cat, [music])
    window.open_library(db, [], rescan=False)
    total = len(audio_files()) + len(renamed)
    qtbot.waitUntil(lambda: window.idle() and window.model.rowCount() == total, timeout=60000)

    files = shown(window, "path")
    marks = dict(zip(files, shown(window, "copies"), strict=True))
    for path in [*originals, *renamed]:
        assert marks[str(path)] == "2 files"
    assert sum(1 for v in marks.values() if v) == 4
    assert "2 duplicates" in window.status_label.text()
    m = window.model
    row = files.index(str(renamed[0]))
    tip = m.data(m.index(row, column("copies")), Qt.ItemDataRole.ToolTipRole)
    assert tip == f"Same audio as: {originals[0]}"
    # The details pane says it too.
    window.library.select_track_ids([window.model.track_id(row)])
    qtbot.waitUntil(lambda: "Same audio as" in window.details.text.toPlainText(), timeout=5000)
    assert str(originals[0]) in window.details.text.toPlainText()

    # The search box's filter lists them, the files of one audio next to each other.
    action = next(a for a in window.library.filter_menu.actions() if a.data() == "is:duplicate")
    action.trigger()
    assert window.library.search.text() == "is:duplicate"
    listed = shown(window, "path")
    assert sorted(listed) == sorted(str(p) for p in [*originals, *renamed])
    pairs = {listed[0]: listed[1], listed[2]: listed[3]}
    assert {frozenset(p) for p in pairs.items()} == {
        frozenset((str(o), str(r))) for o, r in zip(originals, renamed, strict=True)
    }
    action.trigger()  # and off again
    assert window.library.search.text() == ""
    assert window.model.rowCount() == total


# --- sorting and columns ----------------------------------------------------------------------


def test_no_arrow_until_sorted_and_natural_order(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    titles = ["track30", "Track3", "track10", "track1", "The End", "another"]
    open_tracks(
        qtbot,
        window,
        tmp_path / "lib.sqlite",
        [f"/music/x/{i}.flac" for i in range(len(titles))],
        titles=titles,
        artists=["A"] * len(titles),
    )
    header = window.table.horizontalHeader()
    # The rows are in the catalogue's order: no column claims to sort them.
    assert header.sortIndicatorSection() == -1
    assert shown(window, "title") == titles

    click_header(qtbot, window, "title")
    assert header.sortIndicatorSection() == column("title")
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    assert shown(window, "title") == [
        "another",
        "The End",
        "track1",
        "Track3",
        "track10",
        "track30",
    ]
    click_header(qtbot, window, "title")
    assert shown(window, "title")[:2] == ["track30", "track10"]
    # A third click gives the rows their own order back, with no arrow.
    click_header(qtbot, window, "title")
    assert header.sortIndicatorSection() == -1
    assert shown(window, "title") == titles


def test_length_format_and_file_fit_at_1280_by_800(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    open_tracks(qtbot, window, tmp_path / "lib.sqlite", ["/music/x/a.flac"], titles=["a"])
    assert window.width() == 1280 and window.height() == 800
    assert window.sidebar.isVisible() and window.details_dock.isVisible()
    header = window.table.horizontalHeader()
    room = window.table.viewport().width()
    for key in ("duration", "fmt", "path"):
        start = header.sectionViewportPosition(column(key))
        assert start >= 0 and start + header.sectionSize(column(key)) <= room, key
    # A long path keeps its file name: the middle gives way.
    delegate = window.table.itemDelegateForColumn(column("path"))
    assert delegate is not None and delegate is not window.table.itemDelegate()


def test_sort_and_columns_are_kept_across_restarts(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    db = tmp_path / "lib.sqlite"
    titles = ["b", "a", "c"]
    first = MainWindow(player=NullPlayer(), audio_backend="null")
    qtbot.addWidget(first)
    first.resize(1280, 800)
    first.show()
    open_tracks(qtbot, first, db, [f"/music/x/{t}.flac" for t in titles], titles, artists=titles)
    click_header(qtbot, first, "artist")
    click_header(qtbot, first, "artist")  # descending
    first.table.setColumnWidth(column("album"), 233)
    genre = next(a for a in first.table.column_menu().actions() if a.text() == "Genre")
    genre.trigger()  # hidden
    header = first.table.horizontalHeader()
    header.moveSection(header.visualIndex(column("year")), 0)
    first.close()
    saved = settings_mod.load()
    assert saved.table_sort == "-artist"
    assert saved.table_columns[0].startswith("year:")

    again = MainWindow(player=NullPlayer(), audio_backend="null")
    qtbot.addWidget(again)
    again.show()
    header = again.table.horizontalHeader()
    assert header.sortIndicatorSection() == column("artist")
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    assert again.table.columnWidth(column("album")) == 233
    assert again.table.isColumnHidden(column("genre"))
    assert header.visualIndex(column("year")) == 0
    again.open_library(db, [], rescan=False)
    qtbot.waitUntil(lambda: again.idle() and again.model.rowCount() == 3, timeout=60000)
    assert shown(again, "artist") == ["c", "b", "a"]
    # A playlist in its own order does not change the sort kept for the library.
    again.library.set_scope(list(reversed(again.library.snap.ids.tolist())), own_order=True)
    assert header.sortIndicatorSection() == -1
    again.library.set_scope(None)
    assert shown(again, "artist") == ["c", "b", "a"]
    # Reset puts every column back.
    again.table.reset_columns()
    assert not again.table.isColumnHidden(column("genre"))
    assert header.visualIndex(column("year")) == column("year")
    again.close()
