"""The track picker of "Path to…": a search by any part of any field, untagged files told apart
by their folder, the keyboard, and the path it starts in the window."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from musicorg.gui.snapshot import Snapshot
from musicorg.gui.trackpicker import TrackPicker
from musicorg.ingest import scanner
from musicorg.store import library
from musicorg.store.db import Catalogue
from tests.conftest import DATA
from tests.gui.test_gui import open_synthetic


def _library(tmp_path: Path) -> Snapshot:
    """Two tagged tracks and two untagged copies, both called track10, in two folders."""
    root = tmp_path / "music"
    for folder in ("Alpha", "Beta"):
        (root / folder).mkdir(parents=True)
        shutil.copy2(DATA / "kevin_macleod_vibe_ace.wav", root / folder / "track10.wav")
    shutil.copy2(DATA / "muldjord_chaos_god.flac", root / "Alpha" / "chaos.flac")
    shutil.copy2(DATA / "westlund_legends_of_the_north.ogg", root / "Beta" / "legends.ogg")
    cat = Catalogue(tmp_path / "cat.sqlite")
    try:
        scanner.scan(cat, [root])
        return Snapshot.build(library.track_columns(cat))
    finally:
        cat.close()


def _shown(picker: TrackPicker) -> list[str]:
    m = picker.matches
    return [m.data(m.index(i)) for i in range(m.rowCount())]


def test_a_word_from_the_middle_of_a_title_finds_the_track(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    snap = _library(tmp_path)
    picker = TrackPicker(snap, "Path to…", "Go to which track?")
    qtbot.addWidget(picker)
    assert picker.matches.rowCount() == 4
    qtbot.keyClicks(picker.search, "aos g")  # "Chaos God": the middle of two words
    shown = _shown(picker)
    assert len(shown) == 1 and shown[0].startswith("Muldjord – Chaos God")
    assert shown[0].endswith("chaos.flac")
    assert picker.count.text() == "1 track matches."
    chosen = picker.chosen()
    assert chosen is not None
    assert snap.label(snap.row_of(chosen) or 0) == "Muldjord – Chaos God"
    picker.search.clear()
    qtbot.keyClicks(picker.search, "nothing like this")
    assert picker.matches.rowCount() == 0
    assert picker.count.text() == "Nothing matches."
    ok = picker.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()


def test_two_untagged_files_of_one_name_read_differently(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    snap = _library(tmp_path)
    picker = TrackPicker(snap, "Path to…", "Go to which track?")
    qtbot.addWidget(picker)
    qtbot.keyClicks(picker.search, "track10")
    shown = _shown(picker)
    assert len(shown) == 2
    assert shown[0] != shown[1]
    assert any("Alpha" in s for s in shown) and any("Beta" in s for s in shown)
    # A folder's name finds its tracks too.
    picker.search.clear()
    qtbot.keyClicks(picker.search, "beta")
    assert picker.matches.rowCount() == 2


def test_the_keyboard_picks_and_the_start_track_is_left_out(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    snap = _library(tmp_path)
    start = int(snap.ids[0])
    picker = TrackPicker(snap, "Path to…", "Go to which track?", exclude=start)
    qtbot.addWidget(picker)
    assert picker.matches.rowCount() == 3
    assert start not in {int(snap.ids[r]) for r in picker.matches.rows}
    first = picker.chosen()
    qtbot.keyClick(picker.search, Qt.Key.Key_Down)  # the field keeps the focus
    second = picker.chosen()
    assert second is not None and second != first
    with qtbot.waitSignal(picker.accepted, timeout=2000):
        qtbot.keyClick(picker.search, Qt.Key.Key_Return)
    assert picker.chosen() == second


def test_path_to_asks_with_the_picker_and_lists_the_path(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    """In the window: "Path to…" with one track selected opens the picker; a word typed there
    chooses the end, and the path is listed (computed off the UI thread)."""
    ids = open_synthetic(qtbot, window, tmp_path, 60)
    snap = window.library.snap
    start = ids[0]
    end_row = snap.row_of(ids[1])
    assert end_row is not None
    end_title = snap.text("title", end_row)

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, TrackPicker)
        dialog.search.setText(end_title)
        dialog.accept()

    QTimer.singleShot(100, answer)
    with qtbot.waitSignal(window.library.results_shown, timeout=30000):
        job = window.details_dock.path_to(start)
        assert job is not None
    shown = [window.model.track_id(r) for r in range(window.model.rowCount())]
    assert shown[0] == start and shown[-1] == ids[1]
