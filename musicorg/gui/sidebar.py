"""The Playlists dock: the library, "For you", automatic playlists by group and the user's
own; what it selects is shown in the table. Playlist edits (new, add, remove, reorder, rename, pin,
delete) and M3U export and import start here. Each edit goes on the undo stack
(:mod:`~musicorg.gui.undo`); export asks what and where first
(:mod:`~musicorg.gui.exportdialog`)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QWidget

from musicorg.app import actions
from musicorg.gui import undo
from musicorg.gui.exportdialog import ExportDialog
from musicorg.gui.host import Host, HostedDock
from musicorg.gui.tasks import Job
from musicorg.gui.widgets import PlaylistTree
from musicorg.keys import AUTO, USER
from musicorg.store import userlists


class Sidebar(HostedDock):
    #: play these tracks ("Play" on a playlist)
    play_requested = Signal(object)
    #: "For you" was opened (or asked to refresh): make it
    for_you_requested = Signal()
    #: an export was asked for into this folder: the next export starts there (settings)
    export_folder_chosen = Signal(str)

    def __init__(self, host: Host, parent: QWidget | None = None) -> None:
        self.tree = PlaylistTree()
        super().__init__("Playlists", "sidebar", host, self.tree, parent)
        self.tree.currentItemChanged.connect(lambda _c, _p: self.show_current())
        self.tree.tracks_dropped.connect(self.add_to_playlist)
        self.tree.customContextMenuRequested.connect(self._menu)
        host.library.results_closed.connect(self._results_closed)
        host.library.results_save.clicked.connect(lambda: self.save_results())
        self.last_export: actions.ExportReport | None = None
        self.undo = undo.PlaylistUndo(host, self)
        self._shown: tuple[str, int] | None = None

    # -- what is shown ---------------------------------------------------------------------------

    def show_library(self) -> None:
        self.tree.setCurrentItem(self.tree.library_item)

    def current_playlist(self) -> tuple[str, int] | None:
        """The kind (keys.AUTO or keys.USER) and id of the playlist selected; None: another item."""
        key = self.tree.current_key()
        if key and key[0] in (AUTO, USER):
            return str(key[0]), int(key[1])
        return None

    def _current_user_playlist(self) -> int | None:
        pl = self.current_playlist()
        return pl[1] if pl is not None and pl[0] == USER and self.host.cat is not None else None

    def playlist_ids(self, playlist_id: int) -> list[int]:
        for p in self.host.data.playlists:
            if p.id == playlist_id:
                return list(p.track_ids)
        return []

    def play_playlist(self, playlist_id: int) -> None:
        """Play a playlist from its first track, in its own order."""
        ids = self.playlist_ids(playlist_id)
        if ids:
            self.play_requested.emit(ids)

    def for_you_shown(self) -> bool:
        key = self.tree.current_key()
        return bool(key) and key is not None and key[0] == "foryou"

    def _results_closed(self) -> None:
        if self.for_you_shown():
            self.show_library()  # For you is a result list: closed, the library is back
        else:
            self.show_current()

    def show_current(self, keep_results: bool = False) -> None:
        """Show what the tree selects (the library or a playlist, a playlist in its own
        order; "For you" is asked for), or the result list that is up, with
        ``keep_results``."""
        library = self.host.library
        if not keep_results:
            library.drop_results()
        if library.results is not None:
            library.set_scope(library.results[1])
            return
        if self.for_you_shown():
            self._shown = None
            if not keep_results:
                self.for_you_requested.emit()
            return
        pl = self.current_playlist()
        library.table.set_reorderable(pl is not None and pl[0] == USER)
        if pl is None or self.host.cat is None:
            library.set_scope(None)
        else:
            # A playlist opens in its own order (which is what reordering edits).
            library.set_scope(self.playlist_ids(pl[1]), own_order=self._shown != pl)
        self._shown = pl

    # -- edits ---------------------------------------------------------------------------------

    def new_playlist(
        self, name: str | None = None, track_ids: list[int] | None = None
    ) -> int | None:
        cat = self.host.cat
        if cat is None:
            return None
        ids = self.host.library.selected_track_ids() if track_ids is None else track_ids
        if name is None:
            name, ok = QInputDialog.getText(self, "New playlist", "Name:", text="New playlist")
            if not ok or not name.strip():
                return None
        command = undo.Create(self.undo, name.strip(), ids)
        if not self.undo.run(command):
            return None
        self.host.flash(f"Playlist created with {undo.tracks(len(ids))}.", 5000)
        return int(command.result)

    def save_results(self, name: str | None = None) -> int | None:
        """The result list shown, as a new user playlist."""
        results = self.host.library.results
        if results is None:
            return None
        title, ids = results
        if name is None:
            name, ok = QInputDialog.getText(self, "Save as playlist", "Name:", text=title)
            if not ok or not name.strip():
                return None
        return self.new_playlist(name, ids)

    def add_to_playlist(self, playlist_id: int, track_ids: list[int]) -> None:
        ids = list(track_ids)
        self.undo.run(
            undo.TracksEdit(
                self.undo, playlist_id, "Add", lambda c, p: userlists.add_tracks(c, p, ids)
            )
        )

    def add_selection_to(self, playlist_id: int) -> None:
        self.add_to_playlist(playlist_id, self.host.library.selected_track_ids())

    def remove_selected(self) -> None:
        """Take the selected tracks out of the user playlist shown."""
        pid, library = self._current_user_playlist(), self.host.library
        if pid is None:
            return
        if library.in_own_order():
            positions = library.selected_view_rows()
            edit = undo.TracksEdit(
                self.undo, pid, "Remove", lambda c, p: userlists.remove_positions(c, p, positions)
            )
        else:
            ids = library.selected_track_ids()
            edit = undo.TracksEdit(
                self.undo, pid, "Remove", lambda c, p: userlists.remove_tracks(c, p, ids)
            )
        self.undo.run(edit)

    def _reorderable(self) -> int | None:
        """The user playlist shown, when its rows are in its own order (else a message)."""
        pid = self._current_user_playlist()
        if pid is not None and not self.host.library.in_own_order():
            self.host.flash("Clear the sort and the search to reorder.", 5000)
            return None
        return pid

    def move_selected(self, step: int) -> None:
        """Move the selected track of a user playlist up or down (playlist order only)."""
        library, cat = self.host.library, self.host.cat
        rows = library.selected_view_rows()
        pid = self._reorderable() if len(rows) == 1 else None
        if pid is None or cat is None:
            return
        src, dest = rows[0], rows[0] + step
        if not 0 <= dest < library.model.rowCount():
            return
        library.select_after_load([library.model.track_id(src)])
        move = undo.TracksEdit(
            self.undo, pid, "Move", lambda c, p: userlists.move(c, p, src, dest), count=1
        )
        self.undo.run(move)

    def move_rows_to(self, view_rows: list[int], target: int) -> None:
        """Move these rows of the user playlist shown (in its own order) before row TARGET."""
        library, cat = self.host.library, self.host.cat
        pid = self._reorderable() if view_rows else None
        if pid is None or cat is None:
            return
        n = library.model.rowCount()
        moving = sorted({r for r in view_rows if 0 <= r < n})
        rest = [p for p in range(n) if p not in set(moving)]
        k = sum(1 for p in rest if p < target)
        order = rest[:k] + moving + rest[k:]
        if order == list(range(n)):
            return
        library.select_after_load([library.model.track_id(r) for r in moving])
        reorder = undo.TracksEdit(
            self.undo, pid, "Move", lambda c, p: userlists.reorder(c, p, order), len(moving)
        )
        self.undo.run(reorder)

    def rename_playlist(self, playlist_id: int, kind: str, name: str | None = None) -> None:
        cat = self.host.cat
        if cat is None:
            return
        if name is None:
            name, ok = QInputDialog.getText(self, "Rename playlist", "New name:")
            if not ok or not name.strip():
                return
        self.undo.run(undo.Rename(self.undo, playlist_id, kind, name.strip()))

    def pin_playlist(self, playlist_id: int, pinned: bool = True) -> None:
        self.undo.run(undo.Pin(self.undo, playlist_id, pinned))

    def delete_playlist(self, playlist_id: int) -> None:
        if self.host.cat is None:
            return
        self.undo.run(undo.Delete(self.undo, playlist_id))
        self.show_library()

    def _menu(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        key = None if item is None else item.data(0, self.tree.ROLE)
        menu = QMenu(self)
        if key and key[0] == "foryou":
            menu.addAction("Refresh", self.for_you_requested.emit)
        if key and key[0] in (AUTO, USER):
            kind, pid = str(key[0]), int(key[1])
            menu.addAction("Play", lambda: self.play_playlist(pid))
            menu.addSeparator()
            menu.addAction("Rename…", lambda: self.rename_playlist(pid, kind))
            if kind == AUTO:
                # Only the one that applies: Unpin when pinned, else Pin.
                if any(p.pinned for p in self.host.data.playlists if p.id == pid):
                    menu.addAction("Unpin", lambda: self.pin_playlist(pid, False))
                else:
                    pin = "Pin (keep through re-clustering)"
                    menu.addAction(pin, lambda: self.pin_playlist(pid))
            else:
                menu.addAction("Delete", lambda: self.delete_playlist(pid))
            menu.addAction("Export as M3U8…", lambda: self.export(playlist_id=pid))
        menu.addAction("New playlist…", lambda: self.new_playlist(track_ids=[]))
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    # -- M3U -----------------------------------------------------------------------------------

    def export(
        self, playlist_id: int | None = None, folder: str | None = None
    ) -> ExportDialog | Job | None:
        """Ask what to export (the playlist given or shown, or those the user ticks; nothing
        is ticked when the library is shown) and where, say what that writes, then write it
        in the background; returns the dialog. Given a folder and a playlist (or one shown),
        writes that playlist there without asking (scripts and tests); returns the job."""
        if self.host.cat is None:
            return None
        if playlist_id is None:
            pl = self.current_playlist()
            playlist_id = None if pl is None else pl[1]
        if folder is not None and playlist_id is not None:
            return self.export_to(folder, [playlist_id])
        start = folder or self.host.settings.export_dir or str(Path.home() / "Playlists")
        dialog = ExportDialog(self.host, playlist_id, start, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.chosen.connect(lambda dest, ids: self.export_to(dest, list(ids)))
        dialog.open()
        return dialog

    def export_to(self, folder: str, ids: list[int]) -> Job | None:
        """Write these playlists as .m3u8 into FOLDER, in the background, and remember the
        folder for the next export. The only write near music folders."""
        cat, settings = self.host.cat, self.host.settings
        if cat is None or not ids:
            return None
        dest, absolute = folder, settings.export_absolute
        if settings.export_dir != dest:
            settings.export_dir = dest
            self.export_folder_chosen.emit(dest)

        def done(report: actions.ExportReport) -> None:
            self.last_export = report
            self.host.flash(f"{report.summary()} ({dest})", 8000)

        return self.host.runner.submit(
            "export",
            lambda _p, _c: actions.export_playlists(cat, dest, absolute=absolute, ids=ids),
            on_result=done,
            on_error=self.host.job_failed("export"),
        )

    def import_m3u(self, source: str | None = None) -> Job | None:
        cat = self.host.cat
        if cat is None:
            return None
        if source is None:
            source, _ = QFileDialog.getOpenFileName(
                self, "Import playlist", str(Path.home()), "Playlists (*.m3u *.m3u8)"
            )
            if not source:
                return None
        src = source

        def done(report: actions.ImportReport) -> None:
            self.host.flash(report.summary(), 8000)
            self.host.reload()

        return self.host.runner.submit(
            "import",
            lambda _p, _c: actions.import_playlist(cat, src),
            on_result=done,
            on_error=self.host.job_failed("import"),
        )

    def fill_add_menu(self, menu: QMenu) -> None:
        """The table's "Add to playlist" menu: one entry per user playlist."""
        for info in self.host.data.playlists:
            if info.kind == USER:
                menu.addAction(info.name, partial(self.add_selection_to, int(info.id)))
