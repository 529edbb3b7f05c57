"""A first day without surprises (#19, items 5 and 7): export asks what and where and says what
it will write, remembers its folder, counts in plain words and cleans up after renames; playlist
edits can be undone and redone. Real window, real catalogue; each test fails on the code before."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog

from musicorg import settings as settings_mod
from musicorg.app.actions import PlaylistEntry
from musicorg.gui.exportdialog import ExportDialog
from musicorg.gui.mainwindow import MainWindow
from musicorg.store import userlists
from tests.gui.test_gui import open_synthetic, settled


@pytest.fixture(autouse=True)
def no_folder_picker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder picker would wait for a person: it answers "cancel" (the code before this
    fix opened one straight away)."""
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: "")


def action(window: MainWindow, text: str) -> QAction:
    return next(a for a in window.actions() if a.text() == text)


def shown_ids(window: MainWindow) -> list[int]:
    return [window.model.track_id(r) for r in range(window.model.rowCount())]


def open_dialog(qtbot, window: MainWindow) -> ExportDialog:  # type: ignore[no-untyped-def]
    """The toolbar's export, as a click on it: the dialog it opens."""
    action(window, "Export playlist as M3U8…").trigger()
    dialogs = [d for d in window.sidebar.findChildren(ExportDialog) if d.isVisible()]
    assert len(dialogs) == 1, "the export asks first"
    return dialogs[0]


def tick(dialog: ExportDialog, *names: str) -> None:
    for i in range(dialog.list.count()):
        item = dialog.list.item(i)
        if item.text().split(" (")[0] in names:
            item.setCheckState(Qt.CheckState.Checked)


def export_now(qtbot, window: MainWindow, dialog: ExportDialog) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(dialog.ready, timeout=10000)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isEnabled()
    with settled(qtbot, window):
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)


def test_export_with_the_library_shown_asks_what_and_says_what_it_writes(  # type: ignore[no-untyped-def]
    qtbot, window, tmp_path, monkeypatch
):
    """Before: with "Library" selected the toolbar's export wrote every playlist into the
    folder picked, said "Wrote 1 playlists" for one, and forgot the folder."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "Morning.m3u8").write_text("#EXTM3U\n# the user's own\n", "utf-8")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    ids = open_synthetic(qtbot, window, tmp_path)
    with settled(qtbot, window):
        window.sidebar.new_playlist("Evening", ids[:3])
        window.sidebar.new_playlist("Morning", ids[3:5])
        window.sidebar.new_playlist("Noon", ids[5:9])
    window.sidebar.show_library()
    dialog = open_dialog(qtbot, window)
    # Nothing is chosen, so nothing can be written yet.
    assert not dialog.this.isEnabled() and dialog.some.isChecked() and dialog.ids() == []
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    assert "Tick the playlists" in dialog.preview.text()
    dialog.folder.setText(str(out))
    tick(dialog, "Evening", "Morning")
    qtbot.waitUntil(dialog.ready, timeout=10000)
    preview = dialog.preview.text()
    assert f"Writes 2 files into {out}" in preview
    assert "Evening.m3u8 (3 tracks), new" in preview
    assert "Morning.m3u8 (2 tracks), replaces the file already there" in preview
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).text() == "Export 2 playlists"
    dialog.grab().save(str(tmp_path / "export-dialog.png"))
    assert not (out / "Evening.m3u8").exists()  # nothing before Export
    export_now(qtbot, window, dialog)
    assert sorted(p.name for p in out.iterdir()) == ["Evening.m3u8", "Morning.m3u8"]
    assert window.message_label.text().startswith("Wrote 2 playlists.")
    # The folder is remembered, in the settings file too.
    assert settings_mod.load(env=False).export_dir == str(out)
    # One playlist shown: it is what is offered, into the remembered folder; "1 playlist".
    assert window.tree.select_key(("user", window.data.playlists[-1].id))
    dialog = open_dialog(qtbot, window)
    assert dialog.this.isChecked() and "“Noon” (4 tracks)" in dialog.this.text()
    assert dialog.folder.text() == str(out)
    export_now(qtbot, window, dialog)
    assert (out / "Noon.m3u8").exists()
    assert window.message_label.text().startswith("Wrote 1 playlist.")


def test_export_after_a_rename_removes_the_old_file_it_wrote_and_no_other(  # type: ignore[no-untyped-def]
    qtbot, window, tmp_path
):
    """Before: a renamed playlist's old file stayed beside the new one."""
    out = tmp_path / "out"
    ids = open_synthetic(qtbot, window, tmp_path)
    with settled(qtbot, window):
        evening = window.sidebar.new_playlist("Evening", ids[:3])
        morning = window.sidebar.new_playlist("Morning", ids[3:5])
    assert evening is not None and morning is not None
    for pid in (evening, morning):
        with settled(qtbot, window):
            window.sidebar.export(pid, folder=str(out))  # no dialog: a playlist and a folder
    (out / "Notes.m3u8").write_text("#EXTM3U\n", "utf-8")  # the user's own
    edited = "#EXTM3U\n# changed by hand\n"
    (out / "Morning.m3u8").write_text(edited, "utf-8")  # no longer what musicorg wrote
    with settled(qtbot, window):
        window.sidebar.rename_playlist(evening, "user", "Late evening")
        window.sidebar.rename_playlist(morning, "user", "Dawn")
    window.sidebar.show_library()
    dialog = open_dialog(qtbot, window)
    dialog.folder.setText(str(out))
    dialog.tick_all.click()
    qtbot.waitUntil(dialog.ready, timeout=10000)
    preview = dialog.preview.text()
    removes = "Removes Evening.m3u8, written by musicorg when “Late evening” was called “Evening”."
    assert removes in preview
    assert "Morning.m3u8, written" not in preview
    export_now(qtbot, window, dialog)
    assert sorted(p.name for p in out.iterdir()) == [
        "Dawn.m3u8",
        "Late evening.m3u8",
        "Morning.m3u8",
        "Notes.m3u8",
    ]
    assert (out / "Morning.m3u8").read_text("utf-8") == edited
    assert "removed 1 old file" in window.message_label.text()


# --- undo -------------------------------------------------------------------------------------


def test_del_removes_tracks_and_ctrl_z_brings_them_back_in_place(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    """Before: Del removed tracks from a playlist at once, and Ctrl+Z did nothing."""
    ids = open_synthetic(qtbot, window, tmp_path)
    with settled(qtbot, window):
        pid = window.sidebar.new_playlist("Evening", ids[:6])
    assert pid is not None and window.tree.select_key(("user", pid))
    assert shown_ids(window) == ids[:6]
    undo = action(window, "Undo New playlist “Evening”")
    window.library.select_track_ids([ids[1], ids[3]])
    window.table.setFocus()
    with settled(qtbot, window):
        qtbot.keyClick(window.table, Qt.Key.Key_Delete)
    assert shown_ids(window) == [ids[0], ids[2], ids[4], ids[5]]
    assert undo.text() == "Undo Remove 2 tracks" and undo.isEnabled()
    with settled(qtbot, window):
        qtbot.keyClick(window.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert shown_ids(window) == ids[:6]
    redo = next(a for a in window.actions() if a.text() == "Redo Remove 2 tracks")
    assert redo.isEnabled()
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    with settled(qtbot, window):
        qtbot.keyClick(window.table, Qt.Key.Key_Z, ctrl_shift)
    assert shown_ids(window) == [ids[0], ids[2], ids[4], ids[5]]
    with settled(qtbot, window):
        qtbot.keyClick(window.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert shown_ids(window) == ids[:6]
    with settled(qtbot, window):
        qtbot.keyClick(window.table, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert shown_ids(window) == [ids[0], ids[2], ids[4], ids[5]]
    # The Edit menu holds both, named after what they do.
    edit = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    assert [a.text() for a in edit.actions()] == ["Undo Remove 2 tracks", "Redo"]


def test_undo_covers_add_move_rename_delete_and_create(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    ids = open_synthetic(qtbot, window, tmp_path)
    stack = window.sidebar.undo.stack
    with settled(qtbot, window):
        pid = window.sidebar.new_playlist("Evening", ids[:3])
    assert pid is not None and window.tree.select_key(("user", pid))
    cat = window.cat

    def step(fn) -> None:  # type: ignore[no-untyped-def]
        with settled(qtbot, window):
            fn()

    step(lambda: window.sidebar.add_to_playlist(pid, [ids[10], ids[11]]))
    assert userlists.track_ids(cat, pid) == [*ids[:3], ids[10], ids[11]]
    assert stack.undoText() == "Add 2 tracks"
    step(stack.undo)
    assert userlists.track_ids(cat, pid) == ids[:3]
    step(stack.redo)
    assert userlists.track_ids(cat, pid) == [*ids[:3], ids[10], ids[11]]
    # Move the first track down one.
    window.library.select_track_ids([ids[0]])
    step(lambda: window.sidebar.move_selected(1))
    assert userlists.track_ids(cat, pid)[:2] == [ids[1], ids[0]]
    assert stack.undoText() == "Move 1 track"
    step(stack.undo)
    assert userlists.track_ids(cat, pid)[:2] == [ids[0], ids[1]]
    # Rename, and back.
    step(lambda: window.sidebar.rename_playlist(pid, "user", "Late evening"))
    assert stack.undoText() == "Rename “Evening” to “Late evening”"
    step(stack.undo)
    assert [p.name for p in window.data.playlists if p.id == pid] == ["Evening"]
    # Delete, and back under its id, with its name and tracks in order.
    tracks = userlists.track_ids(cat, pid)
    step(lambda: window.sidebar.delete_playlist(pid))
    assert not [p for p in window.data.playlists if p.kind == "user"]
    assert stack.undoText() == "Delete “Evening”"
    step(stack.undo)
    back = [(p.id, p.name, p.track_ids) for p in window.data.playlists if p.kind == "user"]
    assert back == [(pid, "Evening", tracks)]
    # Undo all the way: the playlist was new, so it goes; redo brings it back.
    while stack.canUndo():
        step(stack.undo)
    assert not [p for p in window.data.playlists if p.kind == "user"]
    step(stack.redo)
    assert [p.name for p in window.data.playlists if p.kind == "user"] == ["Evening"]
    assert userlists.track_ids(cat, pid) == ids[:3]


def test_undo_pin_and_rename_of_an_automatic_playlist(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, tmp_path
):
    open_synthetic(qtbot, window, tmp_path, 90)
    with qtbot.waitSignal(window.pipeline_finished, timeout=120000):
        window.pipeline.run(["rebuild"])
    qtbot.waitUntil(window.idle, timeout=60000)
    first = next(p for p in window.data.playlists if p.kind == "auto")
    stack = window.sidebar.undo.stack

    def entry() -> PlaylistEntry:
        return next(p for p in window.data.playlists if p.id == first.id)

    with settled(qtbot, window):
        window.sidebar.pin_playlist(first.id)
    assert entry().pinned and stack.undoText() == f"Pin “{first.name}”"
    with settled(qtbot, window):
        stack.undo()
    assert not entry().pinned
    with settled(qtbot, window):
        stack.redo()
    assert entry().pinned
    with settled(qtbot, window):
        window.sidebar.rename_playlist(first.id, "auto", "My corner")
    assert entry().name == "My corner"
    with settled(qtbot, window):
        stack.undo()
    assert entry().name == first.name
    # Opening another library forgets the steps of this one.
    window.close_library()
    assert not stack.canUndo() and not stack.canRedo()


def test_the_shortcuts_are_the_edit_menus(window) -> None:  # type: ignore[no-untyped-def]
    keys = {a.text(): [k.toString() for k in a.shortcuts()] for a in window.actions()}
    assert keys["Undo"] == ["Ctrl+Z"]
    assert keys["Redo"] == ["Ctrl+Shift+Z", "Ctrl+Y"]
    taken = [k for a in window.actions() for k in (s.toString() for s in a.shortcuts()) if k]
    assert len(taken) == len(set(taken))


def test_the_dialog_names_its_folder_from_the_settings(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "remembered"
    window.save_settings(export_dir=str(out))
    open_synthetic(qtbot, window, tmp_path)
    window.sidebar.show_library()
    dialog = open_dialog(qtbot, window)
    assert dialog.folder.text() == str(out)
    dialog.reject()
    assert not out.exists()
