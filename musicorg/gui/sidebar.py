"""The Playlists dock: the library, "For you", automatic playlists by group and the user's
own; what it selects is shown in the table. Playlist edits (new, add, remove, reorder, rename, pin,
delete) and M3U export and import start here."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QPoint, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QWidget

from musicorg.app import actions
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

    def __init__(self, host: Host, parent: QWidget | None = None) -> None:
        self.tree = PlaylistTree()
        super().__init__("Playlists", "sidebar", host, self.tree, parent)
        self.tree.currentItemChanged.connect(lambda _c, _p: self.show_current())
        self.tree.tracks_dropped.connect(self.add_to_playlist)
        self.tree.customContextMenuRequested.connect(self._menu)
        host.library.results_closed.connect(self._results_closed)
        host.library.results_save.clicked.connect(lambda: self.save_results())
        self.last_export: actions.ExportReport | None = None
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
        final = name.strip()
        pid = self.host.edit(
            "playlist", lambda: userlists.create(cat, userlists.free_name(cat, final), ids)
        )
        if pid is not None:
            self.host.flash(f"Playlist created with {len(ids)} tracks.", 5000)
        return pid

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
        cat = self.host.cat
        if cat is not None:
            self.host.edit("playlist", lambda: userlists.add_tracks(cat, playlist_id, track_ids))

    def add_selection_to(self, playlist_id: int) -> None:
        self.add_to_playlist(playlist_id, self.host.library.selected_track_ids())

    def remove_selected(self) -> None:
        """Take the selected tracks out of the user playlist shown."""
        pid, cat, library = self._current_user_playlist(), self.host.cat, self.host.library
        if pid is None or cat is None:
            return
        if library.in_own_order():
            positions = library.selected_view_rows()
            self.host.edit("playlist", lambda: userlists.remove_positions(cat, pid, positions))
        else:
            ids = library.selected_track_ids()
            self.host.edit("playlist", lambda: userlists.remove_tracks(cat, pid, ids))

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
        self.host.edit("playlist", lambda: userlists.move(cat, pid, src, dest))

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
        self.host.edit("playlist", lambda: userlists.reorder(cat, pid, order))

    def rename_playlist(self, playlist_id: int, kind: str, name: str | None = None) -> None:
        cat = self.host.cat
        if cat is None:
            return
        if name is None:
            name, ok = QInputDialog.getText(self, "Rename playlist", "New name:")
            if not ok or not name.strip():
                return
        final = name.strip()
        rename = userlists.rename if kind == USER else actions.rename_auto_playlist
        self.host.edit("rename", lambda: rename(cat, playlist_id, final))

    def pin_playlist(self, playlist_id: int, pinned: bool = True) -> None:
        cat = self.host.cat
        if cat is not None:
            self.host.edit("pin", lambda: actions.pin_auto_playlist(cat, playlist_id, pinned))

    def delete_playlist(self, playlist_id: int) -> None:
        cat = self.host.cat
        if cat is None:
            return
        self.host.edit("delete", lambda: userlists.delete_playlist(cat, playlist_id))
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

    def export(self, playlist_id: int | None = None, folder: str | None = None) -> Job | None:
        """Write a playlist (default: the one shown; all of them when none is) as .m3u8 into
        a folder the user picks, in the background. The only write near music folders."""
        cat, settings = self.host.cat, self.host.settings
        if cat is None:
            return None
        if playlist_id is None:
            pl = self.current_playlist()
            playlist_id = None if pl is None else pl[1]
        names = None
        if playlist_id is not None:
            names = [p.name for p in self.host.data.playlists if p.id == playlist_id]
        if folder is None:
            what = names[0] if names else "all playlists"
            start = settings.export_dir or str(Path.home())
            folder = QFileDialog.getExistingDirectory(self, f"Export {what} to…", start)
            if not folder:
                return None
        dest, absolute = folder, settings.export_absolute

        def done(report: actions.ExportReport) -> None:
            self.last_export = report
            self.host.flash(f"{report.summary()} ({dest})", 8000)

        return self.host.runner.submit(
            "export",
            lambda _p, _c: actions.export_playlists(cat, dest, absolute=absolute, names=names),
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
