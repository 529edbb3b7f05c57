"""The main window: library table, sidebar of playlists, details pane, map, jobs and problems.

All catalogue work runs through :class:`~musicorg.gui.tasks.TaskRunner`; this module only
starts stages and shows what comes back.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
import time
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from musicorg import __version__, paths
from musicorg import settings as settings_mod
from musicorg.gui import stages
from musicorg.gui.dialogs import AboutDialog, SettingsDialog
from musicorg.gui.player import Player, default_player
from musicorg.gui.snapshot import COLUMNS, Snapshot
from musicorg.gui.tablemodel import TrackTableModel
from musicorg.gui.tasks import Job, TaskRunner, label
from musicorg.gui.widgets import DetailsPane, JobsPanel, PlaylistTree, ProblemsPanel, WelcomePage
from musicorg.store.db import Catalogue, CatalogueError

log = logging.getLogger(__name__)

#: What a rescan runs: each stage re-does only what changed. The PCA map shows at once; the
#: UMAP one replaces it when it is ready.
PIPELINE = ("scan", "analyse", "playlists", "map", "umap")


class LibraryTable(QTableView):
    """The track table. Rows drag out (file URLs, track ids); while a user playlist is shown in
    its own order, rows dragged within the table reorder it."""

    #: view rows dropped at a view row (the playlist is reordered)
    rows_moved = Signal(object, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reorderable = False
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setShowGrid(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(22)
        self.horizontalHeader().setStretchLastSection(True)
        self.horizontalHeader().setSortIndicatorShown(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        widths = {"title": 220, "artist": 150, "album": 160, "genre": 110, "year": 48, "fmt": 56}
        self._widths = [widths.get(k, 70) for k, _ in COLUMNS]

    def set_reorderable(self, on: bool) -> None:
        self.reorderable = on
        self.setAcceptDrops(on)
        self.setDropIndicatorShown(on)
        self.setDragDropMode(
            QAbstractItemView.DragDropMode.DragDrop
            if on
            else QAbstractItemView.DragDropMode.DragOnly
        )

    def _drop_row(self, event: Any) -> int:
        pos = event.position().toPoint()
        row = self.rowAt(pos.y())
        if row < 0:
            return self.model().rowCount()
        rect = self.visualRect(self.model().index(row, 0))
        return row + 1 if pos.y() > rect.center().y() else row

    def dragEnterEvent(self, event: Any) -> None:
        if self.reorderable and event.source() is self:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        if self.reorderable and event.source() is self:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: Any) -> None:
        if not (self.reorderable and event.source() is self):
            event.ignore()
            return
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        event.setDropAction(Qt.DropAction.CopyAction)  # the model is changed by the move
        event.accept()
        if rows:
            self.rows_moved.emit(rows, self._drop_row(event))

    def apply_widths(self) -> None:
        for i, w in enumerate(self._widths[:-1]):
            self.setColumnWidth(i, w)


class MainWindow(QMainWindow):
    #: a new snapshot of the library is shown
    library_loaded = Signal()
    #: the stages started together finished: "ok", "cancelled" or the reason it stopped
    pipeline_finished = Signal(str)
    #: a list of tracks from "More like this" or "Path to…" is shown
    results_shown = Signal(str)
    #: the details pane lists the nearest tracks of this track
    neighbours_shown = Signal(int)

    def __init__(
        self,
        *,
        player: Player | None = None,
        settings_file: Path | None = None,
        map_method: str = "umap",
    ) -> None:
        super().__init__()
        self.settings_file = settings_file
        self.settings = settings_mod.load(settings_file)
        self.runner = TaskRunner(self)
        self.player: Player = player or default_player()
        self.map_method = map_method
        self.cat: Catalogue | None = None
        self.demo = False
        self.folders: list[str] = []
        self.data = stages.LibraryData(snap=Snapshot.empty())
        self.device_in_use = ""
        self.pipeline: list[str] = []
        self._reload_pending = False
        self._last_scan_reload = 0.0
        self._space: Any = None
        self._results: tuple[str, list[int]] | None = None
        self._selected_rows = np.zeros(0, dtype=np.int64)
        self._shown_playlist: tuple[str, int] | None = None
        self.last_export: Any = None
        self._neighbours_for = 0
        self._details_for: tuple[int, ...] = ()

        self.setWindowTitle("musicorg")
        self.resize(1280, 800)
        self._build_ui()
        self._build_menus()
        self.runner.job_added.connect(self.jobs_panel.add)
        self.runner.job_ended.connect(self.jobs_panel.remove)
        self.show_welcome()

    # ==== construction ========================================================================

    def _build_ui(self) -> None:
        self.model = TrackTableModel(self)
        self.table = LibraryTable()
        self.table.setModel(self.model)
        self.table.apply_widths()
        self.table.selectionModel().selectionChanged.connect(self._table_selection_changed)
        # A reset (new snapshot, search, playlist) drops the selection without a signal.
        self.model.modelReset.connect(self._table_selection_changed)
        self.table.doubleClicked.connect(lambda _i: self.toggle_preview())
        self.table.customContextMenuRequested.connect(self._table_menu)
        self.table.rows_moved.connect(self.move_rows_to)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search title, artist, album, genre, file  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMaximumWidth(420)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(120)
        self._search_timer.timeout.connect(self._apply_search)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())

        self.results_bar = QWidget()
        rb = QHBoxLayout(self.results_bar)
        rb.setContentsMargins(6, 2, 6, 2)
        self.results_label = QLabel("")
        self.results_save = QPushButton("Save as playlist…")
        self.results_save.clicked.connect(lambda: self.save_results_as_playlist())
        self.results_close = QPushButton("Close")
        self.results_close.clicked.connect(self.close_results)
        rb.addWidget(self.results_label, 1)
        rb.addWidget(self.results_save)
        rb.addWidget(self.results_close)
        self.results_bar.setStyleSheet("background: #fff6d5")
        self.results_bar.hide()

        library_page = QWidget()
        lp = QVBoxLayout(library_page)
        lp.setContentsMargins(0, 0, 0, 0)
        lp.setSpacing(0)
        lp.addWidget(self.results_bar)
        lp.addWidget(self.table)

        # The map (pyqtgraph) is built when first needed: the window shows sooner.
        self._map: Any = None
        self._map_dirty = False
        # Import the plotting library in the background while the window comes up.
        threading.Thread(target=importlib.import_module, args=("pyqtgraph",), daemon=True).start()
        self.map_page = QWidget()
        QVBoxLayout(self.map_page).setContentsMargins(0, 0, 0, 0)

        self.tabs = QTabWidget()
        self.tabs.addTab(library_page, "Library")
        self.tabs.addTab(self.map_page, "Map")
        self.tabs.currentChanged.connect(lambda i: i == 1 and self.map is not None)

        self.welcome = WelcomePage()
        self.welcome.choose_folder.connect(lambda: self.choose_music_folder())
        self.welcome.open_demo.connect(self.open_demo)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.tabs)
        self.setCentralWidget(self.stack)

        self.tree = PlaylistTree()
        self.tree.currentItemChanged.connect(lambda _c, _p: self._tree_changed())
        self.tree.tracks_dropped.connect(self.add_to_playlist)
        self.tree.customContextMenuRequested.connect(self._tree_menu)
        self.sidebar = QDockWidget("Playlists", self)
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setWidget(self.tree)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.sidebar)

        self.details = DetailsPane()
        self.details.more_like_this.connect(lambda: self.more_like_this())
        self.details.path_to.connect(lambda: self.path_to())
        self.details.preview.connect(self.toggle_preview)
        self.details.neighbour_activated.connect(self.select_track_ids_one)
        self.details_dock = QDockWidget("Details", self)
        self.details_dock.setObjectName("details")
        self.details_dock.setWidget(self.details)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.details_dock)

        self.problems = ProblemsPanel()
        self.problems_dock = QDockWidget("Problems", self)
        self.problems_dock.setObjectName("problems")
        self.problems_dock.setWidget(self.problems)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.problems_dock)
        self.problems_dock.hide()

        toolbar = QToolBar("Main")
        toolbar.setObjectName("toolbar")
        toolbar.setMovable(False)
        self.toolbar = toolbar
        self.addToolBar(toolbar)
        self.jobs_panel = JobsPanel()
        self.status_label = QLabel("")
        self.message_label = QLabel("")
        self.message_label.setStyleSheet("color: #444")
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(self.message_label.clear)
        self.status_label.setContentsMargins(6, 0, 12, 0)
        self.statusBar().addWidget(self.status_label)
        self.statusBar().addWidget(self.message_label, 1)
        self.statusBar().addPermanentWidget(self.jobs_panel)
        self._docks = (self.sidebar, self.details_dock)

    def _refresh_map(self) -> None:
        """Give the map the current data (it redraws only what changed)."""
        self._map_dirty = False
        view = self.map
        view.set_data(self.data.snap, self._xy(), self.data.groups)
        self._update_map_highlight()
        view.set_selected(self._selected_rows)

    @property
    def map(self) -> Any:
        """The map view (musicorg.gui.mapview.MapView), created on first use; brought up to
        date when it is shown (a hidden map is not redrawn at every reload)."""
        if self._map is not None and self._map_dirty:
            self._refresh_map()
        if self._map is None:
            from musicorg.gui.mapview import MapView

            self._map = MapView()
            self._map.point_clicked.connect(self._map_clicked)
            self._map.area_selected.connect(self._map_area_selected)
            layout = self.map_page.layout()
            assert layout is not None
            layout.addWidget(self._map)
            if len(self.data.snap):
                self._refresh_map()
        return self._map

    def _action(
        self,
        menu: QMenu,
        text: str,
        slot: Any,
        shortcut: str | QKeySequence | QKeySequence.StandardKey | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        m = bar.addMenu("&File")
        self._action(m, "Choose music folder…", lambda: self.choose_music_folder(), "Ctrl+O")
        self._action(m, "Open the demo library", self.open_demo)
        m.addSeparator()
        self.act_export = self._action(
            m, "Export playlist as M3U8…", lambda: self.export(), "Ctrl+E"
        )
        self.act_import = self._action(m, "Import M3U/M3U8…", lambda: self.import_m3u())
        m.addSeparator()
        self._action(m, "Settings…", self.open_settings, QKeySequence.StandardKey.Preferences)
        m.addSeparator()
        self._action(m, "Quit", self.close, QKeySequence.StandardKey.Quit)

        m = bar.addMenu("&Library")
        self.act_rescan = self._action(m, "Rescan", self.rescan, "F5")
        self._action(m, "Analyse", lambda: self.run_pipeline(list(PIPELINE[1:])))
        self._action(m, "Rebuild playlists", lambda: self.run_pipeline(["rebuild"]))
        self._action(m, "Recompute map", lambda: self.run_pipeline(["remap", "reumap"]))
        self._action(m, "Retrain the model on this library…", self.open_retrain)
        self._action(m, "Revert to the bundled model", self.revert_model)
        self._action(m, "Model versions…", self.open_models)
        m.addSeparator()
        self._action(m, "Cancel all jobs", self.cancel_jobs, "Ctrl+.")

        m = bar.addMenu("&Track")
        self.act_preview = self._action(m, "Preview / stop", self.toggle_preview, "Space")
        self._action(m, "More like this", lambda: self.more_like_this(), "Ctrl+M")
        self._action(m, "Path to…", lambda: self.path_to(), "Ctrl+P")
        m.addSeparator()
        self._action(m, "New playlist from selection…", lambda: self.new_playlist(), "Ctrl+N")
        self._action(m, "Remove from playlist", self.remove_selected_from_playlist, "Del")
        self._action(m, "Move up in playlist", lambda: self.move_selected(-1), "Alt+Up")
        self._action(m, "Move down in playlist", lambda: self.move_selected(1), "Alt+Down")

        m = bar.addMenu("&View")
        self._action(m, "Search", self.focus_search, QKeySequence.StandardKey.Find)
        self._action(m, "Library", lambda: self.tabs.setCurrentIndex(0), "Ctrl+1")
        self._action(m, "Map", lambda: self.tabs.setCurrentIndex(1), "Ctrl+2")
        m.addSeparator()
        for dock in (self.sidebar, self.details_dock, self.problems_dock):
            m.addAction(dock.toggleViewAction())

        m = bar.addMenu("&Help")
        self._action(m, "Open log folder", self.open_log_folder)
        self._action(m, "About musicorg", self.show_about)

        self.toolbar.addAction(self.act_rescan)
        self.toolbar.addAction(self.act_preview)
        self.toolbar.addAction(self.act_export)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(spacer)
        self.toolbar.addWidget(self.search)

    def flash(self, text: str, ms: int = 5000) -> None:
        """A passing message in the status bar (next to the library counts, not over them)."""
        self.message_label.setText(text if len(text) < 160 else text[:157] + "…")
        self.message_label.setToolTip(text)
        self._message_timer.start(ms)

    # ==== libraries ===========================================================================

    def save_settings(self, **changes: Any) -> None:
        for k, v in changes.items():
            setattr(self.settings, k, v)
        try:
            current = settings_mod.load(self.settings_file, env=False)
            for k, v in changes.items():
                setattr(current, k, v)
            settings_mod.save(current, self.settings_file)
        except (OSError, ValueError) as exc:
            self.problems.add_job_error("settings", f"could not save the settings: {exc}")

    def show_welcome(self) -> None:
        self.stack.setCurrentWidget(self.welcome)
        for dock in self._docks:
            dock.hide()
        self.toolbar.hide()
        self.status_label.setText("Choose a music folder to begin.")

    def restore_last(self) -> bool:
        """Reopen the library of the last session; False when there is none (welcome)."""
        s = self.settings
        if s.last_library == "demo":
            self.open_demo()
            return True
        if s.music_folders:
            db = Path(s.last_library) if s.last_library else paths.default_db_path()
            self.open_library(db, list(s.music_folders), rescan=True)
            return True
        return False

    def open_demo(self) -> None:
        self.open_library(paths.demo_db_path(), [str(paths.demo_dir())], demo=True, rescan=True)
        self.save_settings(last_library="demo")

    def choose_music_folder(self, folder: str | None = None) -> None:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Choose your music folder")
        if not folder:
            return
        folder = os.path.abspath(os.path.expanduser(folder))
        folders = list(dict.fromkeys([*self.settings.music_folders, folder]))
        db = paths.default_db_path()
        self.save_settings(music_folders=folders, last_library=str(db))
        self.open_library(db, folders, rescan=True)

    def open_library(
        self, db: Path, folders: list[str], *, demo: bool = False, rescan: bool = True
    ) -> None:
        self.close_library()
        try:
            self.cat = Catalogue(db)
        except CatalogueError as exc:
            if "damaged" in str(exc) and self.recover_damaged(Path(db), folders, str(exc), demo):
                return
            self.problems.add_job_error("open", str(exc))
            self.problems_dock.show()
            self.show_welcome()
            return
        self.demo = demo
        self.folders = list(folders)
        self.setWindowTitle("musicorg — demo library" if demo else f"musicorg — {db}")
        self.stack.setCurrentWidget(self.tabs)
        self.toolbar.show()
        for dock in self._docks:
            dock.show()
        self.status_label.setText("Opening the library…")
        self.reload()
        if rescan:
            self.run_pipeline(list(PIPELINE))

    # ==== a damaged catalogue ==================================================================

    def ask_damaged(self, db: Path, message: str, backup: Path | None) -> str:
        """Ask what to do with a damaged catalogue: "restore", "rebuild" or "quit"."""
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("The catalogue is damaged")
        box.setText(f"musicorg cannot read its catalogue {db}.")
        box.setInformativeText(
            f"{message}\n\nYour music files are not affected, and your own playlists are kept "
            "in a mirror beside the catalogue. The damaged file is set aside, not deleted."
        )
        restore = None
        if backup is not None:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(backup.stat().st_mtime))
            restore = box.addButton(
                f"Restore the backup of {when}", QMessageBox.ButtonRole.AcceptRole
            )
        rebuild = box.addButton("Rebuild from a scan", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        clicked = box.clickedButton()
        if restore is not None and clicked is restore:
            return "restore"
        return "rebuild" if clicked is rebuild else "quit"

    def recover_damaged(self, db: Path, folders: list[str], message: str, demo: bool) -> bool:
        """Offer the three ways out of a damaged catalogue. User playlists survive each one:
        a backup holds them, a rebuild brings them back from the mirror, quit changes nothing.
        Returns False when the user chose to quit."""
        import shutil

        from musicorg.io import mirror
        from musicorg.store import safety

        backups = safety.backups(db)
        choice = self.ask_damaged(db, message, backups[0] if backups else None)
        if choice == "restore" and backups:
            safety.restore_backup(db, backups[0])
            self.statusBar().showMessage(f"Restored the backup {backups[0].name}.", 10000)
            self.open_library(db, folders, demo=demo)
            return True
        if choice == "rebuild":
            source = db.with_name(db.stem + ".playlists")
            saved: Path | None = None
            if (source / "playlists.json").exists():
                saved = db.with_name(f"{db.stem}.playlists-before-rebuild-{int(time.time())}")
                shutil.copytree(source, saved)
            safety.set_aside(db)
            self.open_library(db, folders, demo=demo)
            if saved is not None:

                def bring_back(_result: str) -> None:
                    self.pipeline_finished.disconnect(bring_back)
                    if self.cat is not None:
                        report = mirror.restore(self.cat, saved)
                        self.statusBar().showMessage(
                            f"Rebuilt; {len(report.restored)} playlists restored from the mirror.",
                            10000,
                        )
                        self.reload()

                self.pipeline_finished.connect(bring_back)
            return True
        self.close()
        return False

    def close_library(self) -> None:
        self.runner.cancel_all()
        self.pipeline = []
        if self.cat is not None:
            self.cat.close()
            self.cat = None
        self._space = None
        self.data = stages.LibraryData(snap=Snapshot.empty())

    # ==== background work =====================================================================

    def idle(self) -> bool:
        """No job running or queued, no reload pending: what is shown is up to date."""
        return not self.runner.jobs and not self._reload_pending and not self.pipeline

    def reload(self) -> None:
        """Read the catalogue again (in the background) and show it when it arrives."""
        if self.cat is None:
            return
        if self.runner.running("load"):
            self._reload_pending = True
            return
        cat, method, sort_key = self.cat, self.map_method, self.model.sort_key

        def run(_p: Any, _c: Any) -> stages.LibraryData:
            data = stages.load_library(cat, method)
            if sort_key is not None:
                data.snap.rank(sort_key)  # the sort order is ready before the UI needs it
            return data

        self.runner.submit(
            "load",
            run,
            on_result=partial(self._loaded, cat),
            on_error=self._job_failed("load"),
        )

    def _loaded(self, cat: Catalogue, data: stages.LibraryData) -> None:
        if cat is not self.cat:
            return
        keep = self.selected_track_ids()
        self.data = data
        self.model.set_snapshot(data.snap)
        self.tree.set_playlists(data.playlists)
        self._map_dirty = True
        if self.tabs.currentIndex() == 1:
            self._refresh_map()
        self.problems.set_file_problems(data.problems)
        if self.problems.count():
            self.problems_dock.setWindowTitle(f"Problems ({self.problems.count()})")
        if keep:
            self.select_track_ids(keep, scroll=False)
        self._tree_changed(keep_results=True)
        self._update_status()
        self.library_loaded.emit()
        if self._reload_pending:
            self._reload_pending = False
            QTimer.singleShot(0, self.reload)

    def _xy(self) -> np.ndarray:
        n = len(self.data.snap)
        return self.data.xy if self.data.xy is not None else np.full((n, 2), np.nan)

    def _update_status(self) -> None:
        s = self.data.stats
        if not s:
            return
        parts = [f"{s['tracks']} tracks"]
        if s.get("missing"):
            parts.append(f"{s['missing']} missing")
        shown = self.model.rowCount()
        if shown != s["tracks"]:
            parts.insert(0, f"{shown} shown")
        if s.get("problems"):
            parts.append(f"{s['problems']} problems")
        if self.data.model_version:
            parts.append(f"model {self.data.model_version}")
        self.status_label.setText(" · ".join(parts))

    def _job_failed(self, stage: str) -> Any:
        def on_error(message: str, _tb: str) -> None:
            self.problems.add_job_error(stage, message)
            self.problems_dock.setWindowTitle(f"Problems ({self.problems.count()})")
            self.problems_dock.show()
            self.flash(f"{label(stage)} failed: {message}", 10000)

        return on_error

    def run_pipeline(self, names: list[str]) -> None:
        """Run stages one after the other; each starts when the one before succeeded."""
        if self.cat is None:
            return
        if self.pipeline:
            self.flash("Already working; the library stays usable.", 4000)
            return
        self.pipeline = list(names)
        self._next_stage()

    def rescan(self) -> None:
        self.run_pipeline(list(PIPELINE))

    def cancel_jobs(self) -> None:
        for job in self.runner.running():
            job.cancel()

    def _next_stage(self, previous: Any = None) -> None:
        cat = self.cat
        while self.pipeline and cat is not None:
            name = self.pipeline.pop(0)
            fn = self._stage_fn(name, cat, previous)
            if fn is None:
                continue
            self.runner.submit(
                name,
                fn,
                on_result=partial(self._stage_done, name),
                on_error=partial(self._stage_failed, name),
                on_progress=partial(self._stage_progress, name),
                on_cancel=partial(self._stage_cancelled, name),
            )
            return
        self.pipeline = []
        self.reload()
        self.pipeline_finished.emit("ok")

    def _stage_fn(self, name: str, cat: Catalogue, previous: Any) -> Any:
        if name == "scan":
            return stages.scan(cat, self.folders)
        if name == "analyse":
            return stages.analyse(cat, self.settings.device)
        if name in ("playlists", "rebuild"):
            return stages.build_playlists(cat, self.settings, force=name == "rebuild")
        if name in ("map", "umap", "remap", "reumap"):
            method = "umap" if "umap" in name else "pca"
            return stages.compute_map(cat, method, force=name.startswith("re"))
        raise ValueError(name)

    def _stage_progress(self, name: str, done: int, total: int, text: str) -> None:
        self.flash(text, 3000)
        if name == "scan" and time.monotonic() - self._last_scan_reload > 3.0 and done:
            # Results appear as they come: show what the scan has committed so far.
            self._last_scan_reload = time.monotonic()
            self.reload()

    def _stage_done(self, name: str, result: Any) -> None:
        log.info("%s done: %s", name, getattr(result, "summary", lambda: result)())
        if name == "analyse":
            self.device_in_use = str(getattr(result, "device", "") or "")
            self._space = None
            self._details_for = ()  # nearest tracks can be shown now
        self.reload()
        summary = getattr(result, "summary", None)
        if callable(summary):
            # A refused or uninstalled model is worth saying before the counts.
            warning = getattr(result, "model_warning", None)
            self.flash(
                f"{warning[:1].upper()}{warning[1:]}. {summary()}" if warning else summary(), 8000
            )
        self._next_stage(result)

    def _stage_failed(self, name: str, message: str, tb: str) -> None:
        self._job_failed(name)(message, tb)
        self.pipeline = []
        self.reload()
        self.pipeline_finished.emit(f"{name} failed: {message}")

    def _stage_cancelled(self, name: str) -> None:
        self.pipeline = []
        self.flash(f"{label(name)} cancelled; the work done is kept.", 8000)
        self.reload()
        self.pipeline_finished.emit("cancelled")

    # ==== table, search, selection ============================================================

    def focus_search(self) -> None:
        if self.stack.currentWidget() is self.tabs:
            self.search.setFocus()
            self.search.selectAll()

    def _apply_search(self) -> None:
        keep = self.selected_track_ids()
        self.model.set_query(self.search.text())
        if keep:
            self.select_track_ids(keep, scroll=False)
        self._update_status()
        self._update_map_highlight()

    def _selected_view_array(self) -> np.ndarray:
        """Selected view rows, from the selection's ranges (no index object per row)."""
        sel = self.table.selectionModel().selection()
        ranges = [sel.at(i) for i in range(sel.size())]
        parts = [np.arange(r.top(), r.bottom() + 1, dtype=np.int64) for r in ranges]
        if not parts:
            return np.zeros(0, dtype=np.int64)
        rows = np.unique(np.concatenate(parts))
        out: np.ndarray = rows[rows < len(self.model.rows)]
        return out

    def selected_view_rows(self) -> list[int]:
        return [int(r) for r in self._selected_view_array()]

    def selected_snap_rows(self) -> np.ndarray:
        rows = self._selected_view_array()
        out: np.ndarray = self.model.rows[rows]
        return out

    def selected_track_ids(self) -> list[int]:
        rows = self.selected_snap_rows()
        return [int(t) for t in self.model.snap.ids[rows]] if len(rows) else []

    def select_track_ids(self, ids: list[int], *, scroll: bool = True) -> int:
        """Select these tracks in the table (those shown); returns how many are selected."""
        snap_rows = self.model.snap.rows_of(ids)
        view_rows = np.unique(self.model.view_rows_of(snap_rows))
        sel = QItemSelection()
        last = self.model.columnCount() - 1
        # Contiguous runs make few selection ranges even for thousands of rows.
        if len(view_rows):
            breaks = np.flatnonzero(np.diff(view_rows) != 1)
            starts = np.concatenate([[0], breaks + 1])
            ends = np.concatenate([breaks, [len(view_rows) - 1]])
            for s, e in zip(starts, ends, strict=True):
                sel.select(
                    self.model.index(int(view_rows[s]), 0),
                    self.model.index(int(view_rows[e]), last),
                )
        self.table.selectionModel().select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if len(view_rows):
            self.table.selectionModel().setCurrentIndex(
                self.model.index(int(view_rows[0]), 0), QItemSelectionModel.SelectionFlag.NoUpdate
            )
            if scroll:
                self.table.scrollTo(self.model.index(int(view_rows[0]), 0))
        return len(view_rows)

    def select_track_ids_one(self, track_id: int) -> None:
        if not len(self.model.view_rows_of(self.model.snap.rows_of([track_id]))):
            self.show_library()
        self.select_track_ids([track_id])

    def _table_selection_changed(self, *_args: Any) -> None:
        rows = self.selected_snap_rows()
        self._selected_rows = rows
        if self._map is not None:
            self._map.set_selected(rows)
        self._show_details(rows)

    def _show_details(self, rows: np.ndarray) -> None:
        snap = self.model.snap
        shown = (*(int(t) for t in snap.ids[rows[:50]]), len(rows))
        if shown == self._details_for:
            return  # the same tracks as before a reload: nothing to redo
        self._details_for = shown
        if not len(rows):
            self.details.title.setText("No track selected")
            self.details.text.clear()
            self._neighbours_for = 0
            self.details.set_neighbours([])
            self.details.set_enabled(False)
            return
        self.details.set_enabled(True)
        if len(rows) > 1:
            self.details.title.setText(f"{len(rows)} tracks selected")
            total = float(np.nansum(snap.cols["duration"][rows]))
            self.details.text.setHtml(
                f"<p>Total length {int(total // 60)} min. “More like this” uses all of them as "
                "seeds; “Path to…” goes from the first to the last.</p>"
            )
            self._neighbours_for = 0
            self.details.set_neighbours([])
            return
        row = int(rows[0])
        self.details.title.setText(snap.label(row))
        info = self._track_details(int(snap.ids[row]))
        self.details.text.setHtml(info)
        self._show_neighbours(int(snap.ids[row]))

    def _track_details(self, track_id: int) -> str:
        from html import escape

        from sqlalchemy import select

        from musicorg.model import autotags
        from musicorg.store import library
        from musicorg.store.db import Lyrics, Track

        if self.cat is None:
            return ""
        heard = library.track_tags(self.cat, track_id)
        with self.cat.read() as conn:
            found = conn.execute(select(Track.__table__).where(Track.id == track_id)).first()
            t = None if found is None else SimpleNamespace(**found._mapping)
            lyr = conn.execute(
                select(Lyrics.text, Lyrics.source).where(Lyrics.track_id == track_id)
            ).first()
            if t is None:
                return "<p>This track is no longer in the catalogue.</p>"
            fields = [
                ("Title", t.title),
                ("Artist", t.artist),
                ("Album", t.album),
                ("Album artist", t.albumartist),
                ("Genre", t.genre),
                # The tags heard in the audio (nothing before the analysis gives them); a
                # line breaks between tags, never inside one ("instrumental 0.41").
                ("Sounds like", autotags.describe(heard, unbreakable=True) if heard else None),
                ("Year", t.year),
                ("Track", t.tracknumber),
                ("Length", self.model.snap.text("duration", self.model.snap.row_of(track_id) or 0)),
                ("Format", f"{t.fmt}{' / ' + t.codec if t.codec else ''}"),
                ("Sample rate", f"{t.sample_rate} Hz" if t.sample_rate else None),
                ("Bit rate", f"{t.bitrate // 1000} kbit/s" if t.bitrate else None),
                ("File", t.display),
                ("Status", "missing (its folder or file is not there)" if t.missing else None),
            ]
        rows = "".join(
            f"<tr><td><b>{k}</b></td><td>{escape(str(v))}</td></tr>"
            for k, v in fields
            if v not in (None, "")
        )
        html = f"<table cellspacing='3'>{rows}</table>"
        if lyr is not None:
            html += (
                f"<h4>Lyrics <small>(source: {escape(str(lyr[1]))})</small></h4>"
                f"<p>{escape(str(lyr[0])).replace(chr(10), '<br>')}</p>"
            )
        else:
            html += "<p><i>No lyrics.</i></p>"
        return html

    def _similar_space(self) -> Any:
        sim = stages.core("similar")
        if sim is None or self.cat is None:
            return None
        if self._space is None:
            try:
                self._space = sim.load_space(self.cat)
            except Exception as exc:
                log.info("no latent space: %s", exc)
                return None
        return self._space

    def _show_neighbours(self, track_id: int) -> None:
        """Nearest tracks, computed in the background (the latent space of a large library
        takes a moment to load the first time)."""
        sim = stages.core("similar")
        if sim is None or self.cat is None:
            return
        self._neighbours_for = track_id
        if self.runner.running("neighbours"):
            return  # the running one re-checks what is selected when it lands
        self.details.set_neighbours([], "looking…")
        cat = self.cat

        def run(_p: Any, _c: Any) -> Any:
            space = self._space
            if space is None:
                try:
                    space = sim.load_space(cat)
                except Exception as exc:
                    return None, str(exc)
            try:
                return space, sim.similar(cat, [track_id], n=10, space=space)
            except Exception as exc:
                return space, str(exc)

        self.runner.submit(
            "neighbours",
            run,
            on_result=partial(self._neighbours_done, cat, track_id),
            on_error=lambda msg, _tb: self.details.set_neighbours([], msg),
        )

    def _neighbours_done(self, cat: Catalogue, track_id: int, result: Any) -> None:
        if cat is not self.cat:
            return
        space, found = result
        if space is not None:
            self._space = space
        if self._neighbours_for != track_id:
            if self._neighbours_for:
                self._show_neighbours(self._neighbours_for)
            return
        if isinstance(found, str):
            self.details.set_neighbours([], "after analysis" if space is None else found)
            return
        self.details.set_neighbours(
            [
                (s.track_id, f"{s.artist or '?'} – {s.title or Path(s.path).stem}")
                for s in found.tracks
            ]
        )
        self.neighbours_shown.emit(track_id)

    # ==== sidebar and playlists ===============================================================

    def show_library(self) -> None:
        self.tree.setCurrentItem(self.tree.library_item)

    def current_playlist(self) -> tuple[str, int] | None:
        key = self.tree.current_key()
        if key and key[0] in ("auto", "user"):
            return str(key[0]), int(key[1])
        return None

    def _tree_changed(self, keep_results: bool = False) -> None:
        if not keep_results:
            self._results = None
            self.results_bar.hide()
        if self._results is not None:
            self.model.set_scope_ids(self._results[1])
            self._update_map_highlight()
            return
        pl = self.current_playlist()
        self.table.set_reorderable(pl is not None and pl[0] == "user")
        if pl is None or self.cat is None:
            self.model.set_scope_ids(None)
        else:
            ids = self._playlist_ids(pl[1])
            if self._shown_playlist != pl:
                # A playlist opens in its own order (which is what reordering edits).
                self._clear_sort()
            self.model.set_scope_ids(ids)
        self._shown_playlist = pl
        self._update_status()
        self._update_map_highlight()

    def _clear_sort(self) -> None:
        self.model.sort_key = None
        header = self.table.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        header.blockSignals(False)

    def _playlist_ids(self, playlist_id: int) -> list[int]:
        for p in self.data.playlists:
            if p.id == playlist_id:
                return list(p.track_ids)
        return []

    def _update_map_highlight(self) -> None:
        if self._map is None:
            return
        if self.model.scope is not None or self.model.query.strip():
            self.map.set_highlight(self.model.rows)
        else:
            self.map.set_highlight(None)

    def _user_lists(self) -> Any:
        ul = stages.core("userlists")
        if ul is None:
            self.flash("Playlists are not available in this build.", 5000)
        return ul

    def _playlist_edit(self, what: str, fn: Any) -> Any:
        """Run a small playlist edit now (it is one short transaction) and show its errors."""
        try:
            return fn()
        except Exception as exc:
            self.problems.add_job_error(what, str(exc))
            self.flash(f"{what}: {exc}", 8000)
            return None

    def new_playlist(
        self, name: str | None = None, track_ids: list[int] | None = None
    ) -> int | None:
        ul = self._user_lists()
        if ul is None or self.cat is None:
            return None
        ids = self.selected_track_ids() if track_ids is None else track_ids
        if name is None:
            name, ok = QInputDialog.getText(self, "New playlist", "Name:", text="New playlist")
            if not ok or not name.strip():
                return None
        cat = self.cat
        pid = self._playlist_edit(
            "playlist", lambda: ul.create(cat, ul.free_name(cat, name.strip()), ids)
        )
        if pid is not None:
            self.reload()
            self.flash(f"Playlist created with {len(ids)} tracks.", 5000)
        return None if pid is None else int(pid)

    def add_to_playlist(self, playlist_id: int, track_ids: list[int]) -> None:
        ul = self._user_lists()
        if ul is None or self.cat is None:
            return
        cat = self.cat
        self._playlist_edit("playlist", lambda: ul.add_tracks(cat, playlist_id, track_ids))
        self.reload()

    def _add_selection_to(self, playlist_id: int) -> None:
        self.add_to_playlist(playlist_id, self.selected_track_ids())

    def remove_selected_from_playlist(self) -> None:
        pl = self.current_playlist()
        ul = self._user_lists()
        if pl is None or pl[0] != "user" or ul is None or self.cat is None:
            return
        cat = self.cat
        if self.model.sort_key is None and not self.model.query.strip():
            positions = self.selected_view_rows()
            self._playlist_edit("playlist", lambda: ul.remove_positions(cat, pl[1], positions))
        else:
            ids = self.selected_track_ids()
            self._playlist_edit("playlist", lambda: ul.remove_tracks(cat, pl[1], ids))
        self.reload()

    def move_selected(self, step: int) -> None:
        """Move the selected track of a user playlist up or down (playlist order only)."""
        pl = self.current_playlist()
        ul = self._user_lists()
        rows = self.selected_view_rows()
        if pl is None or pl[0] != "user" or ul is None or self.cat is None or len(rows) != 1:
            return
        if self.model.sort_key is not None or self.model.query.strip():
            self.flash("Clear the sort and the search to reorder.", 5000)
            return
        src, dest = rows[0], rows[0] + step
        if not 0 <= dest < self.model.rowCount():
            return
        cat = self.cat
        tid = self.model.track_id(src)
        self._playlist_edit("playlist", lambda: ul.move(cat, pl[1], src, dest))
        self._reselect_after_load([tid])
        self.reload()

    def move_rows_to(self, view_rows: list[int], target: int) -> None:
        """Move these rows of the user playlist shown (in its own order) before row TARGET."""
        pl = self.current_playlist()
        ul = self._user_lists()
        if pl is None or pl[0] != "user" or ul is None or self.cat is None or not view_rows:
            return
        if self.model.sort_key is not None or self.model.query.strip():
            self.flash("Clear the sort and the search to reorder.")
            return
        n = self.model.rowCount()
        moving = sorted({r for r in view_rows if 0 <= r < n})
        rest = [p for p in range(n) if p not in set(moving)]
        k = sum(1 for p in rest if p < target)
        order = rest[:k] + moving + rest[k:]
        if order == list(range(n)):
            return
        cat, pid = self.cat, pl[1]
        ids = [self.model.track_id(r) for r in moving]
        self._playlist_edit("playlist", lambda: ul.reorder(cat, pid, order))
        self._reselect_after_load(ids)
        self.reload()

    def _reselect_after_load(self, ids: list[int]) -> None:
        def again() -> None:
            self.library_loaded.disconnect(again)
            self.select_track_ids(ids)

        self.library_loaded.connect(again)

    def rename_playlist(self, playlist_id: int, kind: str, name: str | None = None) -> None:
        if self.cat is None:
            return
        if name is None:
            name, ok = QInputDialog.getText(self, "Rename playlist", "New name:")
            if not ok or not name.strip():
                return
        cat = self.cat
        if kind == "user":
            ul = self._user_lists()
            if ul is not None:
                self._playlist_edit("rename", lambda: ul.rename(cat, playlist_id, name.strip()))
        else:
            pm = stages.core("playlists")
            fn = getattr(pm, "rename", None) or getattr(pm, "rename_playlist", None)
            if fn is None:
                self.flash("Renaming automatic playlists is not available.")
                return
            self._playlist_edit("rename", lambda: fn(cat, playlist_id, name.strip()))
        self.reload()

    def pin_playlist(self, playlist_id: int, pinned: bool = True) -> None:
        if self.cat is None:
            return
        pm = stages.core("playlists")
        fn = getattr(pm, "pin", None) or getattr(pm, "pin_playlist", None)
        if fn is None:
            self.flash("Pinning is not available in this build.", 5000)
            return
        cat = self.cat
        self._playlist_edit("pin", lambda: stages.call_stage(fn, cat, playlist_id, pinned=pinned))
        self.reload()

    def delete_playlist(self, playlist_id: int) -> None:
        ul = self._user_lists()
        if ul is None or self.cat is None:
            return
        cat = self.cat
        self._playlist_edit("delete", lambda: ul.delete_playlist(cat, playlist_id))
        self.show_library()
        self.reload()

    def _tree_menu(self, pos: Any) -> None:
        item = self.tree.itemAt(pos)
        key = None if item is None else item.data(0, self.tree.ROLE)
        menu = QMenu(self)
        if key and key[0] in ("auto", "user"):
            kind, pid = str(key[0]), int(key[1])
            menu.addAction("Rename…", lambda: self.rename_playlist(pid, kind))
            if kind == "auto":
                menu.addAction("Pin (keep through re-clustering)", lambda: self.pin_playlist(pid))
                menu.addAction("Unpin", lambda: self.pin_playlist(pid, False))
            else:
                menu.addAction("Delete", lambda: self.delete_playlist(pid))
            menu.addAction("Export as M3U8…", lambda: self.export(playlist_id=pid))
        menu.addAction("New playlist…", lambda: self.new_playlist(track_ids=[]))
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def _table_menu(self, pos: Any) -> None:
        menu = QMenu(self)
        menu.addAction("Preview", self.toggle_preview)
        menu.addAction("More like this", lambda: self.more_like_this())
        menu.addAction("Path to…", lambda: self.path_to())
        menu.addSeparator()
        menu.addAction("New playlist from selection…", lambda: self.new_playlist())
        add = menu.addMenu("Add to playlist")
        for info in self.data.playlists:
            if info.kind == "user":
                add.addAction(
                    info.name,
                    partial(self._add_selection_to, int(info.id)),
                )
        pl = self.current_playlist()
        if pl and pl[0] == "user":
            menu.addAction("Remove from this playlist", self.remove_selected_from_playlist)
        menu.exec(self.table.viewport().mapToGlobal(pos))

    # ==== more like this, path, results =======================================================

    def show_results(self, title: str, ids: list[int]) -> None:
        self._results = (title, list(ids))
        self.table.set_reorderable(False)
        self.results_label.setText(f"{title}: {len(ids)} tracks")
        self.results_bar.show()
        self._clear_sort()
        self.model.set_scope_ids(list(ids))
        self.tabs.setCurrentIndex(0)
        self._update_status()
        self._update_map_highlight()
        self.results_shown.emit(title)

    def close_results(self) -> None:
        self._results = None
        self.results_bar.hide()
        self._tree_changed()

    def save_results_as_playlist(self, name: str | None = None) -> int | None:
        if self._results is None:
            return None
        title, ids = self._results
        if name is None:
            name, ok = QInputDialog.getText(self, "Save as playlist", "Name:", text=title)
            if not ok or not name.strip():
                return None
        pid = self.new_playlist(name, ids)
        return pid

    def more_like_this(self, seeds: list[int] | None = None, n: int = 25) -> None:
        seeds = seeds or self.selected_track_ids()
        sim = stages.core("similar")
        if not seeds or sim is None or self.cat is None:
            self.flash("Select one or more tracks first.", 4000)
            return
        space = self._similar_space()
        if space is None:
            self.flash("“More like this” needs the analysis first.", 5000)
            return
        try:
            result = sim.similar(self.cat, seeds, n=n, space=space)
        except Exception as exc:
            self._job_failed("more like this")(str(exc), "")
            return
        label = self.model.snap.label(self.model.snap.row_of(seeds[0]) or 0)
        title = f"More like {label}" + (f" (+{len(seeds) - 1})" if len(seeds) > 1 else "")
        self.show_results(title, [*seeds, *[s.track_id for s in result.tracks]])

    def path_to(self, a: int | None = None, b: int | None = None, n: int = 12) -> None:
        sp = stages.core("songpath")
        if sp is None or self.cat is None:
            self.flash("“Path to…” is not available in this build.", 5000)
            return
        ids = self.selected_track_ids()
        if a is None and ids:
            a = ids[0]
        if b is None and len(ids) >= 2:
            b = ids[-1]
        if a is None:
            self.flash("Select the track to start from.", 4000)
            return
        if b is None:
            b = self._ask_track("Path to…", "Go to which track?", exclude=a)
            if b is None:
                return
        space = self._similar_space()
        if space is None:
            self.flash("“Path to…” needs the analysis first.", 5000)
            return
        try:
            result = sp.song_path(self.cat, a, b, n, space=space)
        except Exception as exc:
            self._job_failed("path")(str(exc), "")
            return
        steps = getattr(result, "tracks", None) or getattr(result, "steps", [])
        track_ids = [int(getattr(s, "track_id", s)) for s in steps]
        snap = self.model.snap
        title = f"Path from {snap.label(snap.row_of(a) or 0)} to {snap.label(snap.row_of(b) or 0)}"
        self.show_results(title, track_ids)

    def _ask_track(self, title: str, label: str, exclude: int) -> int | None:
        snap = self.model.snap
        rows = [r for r in range(min(len(snap), 5000)) if int(snap.ids[r]) != exclude]
        labels = [f"{snap.label(r)}  [{int(snap.ids[r])}]" for r in rows]
        choice, ok = QInputDialog.getItem(self, title, label, labels, 0, True)
        if not ok or choice not in labels:
            return None
        return int(snap.ids[rows[labels.index(choice)]])

    # ==== map =================================================================================

    def _map_clicked(self, snap_row: int) -> None:
        tid = int(self.model.snap.ids[snap_row])
        if not len(self.model.view_rows_of(np.array([snap_row]))):
            self.show_library()
        self.select_track_ids([tid])

    def _map_area_selected(self, snap_rows: np.ndarray) -> None:
        ids = [int(t) for t in self.model.snap.ids[snap_rows]]
        if not ids:
            return
        self.show_results("Picked on the map", ids)
        self.select_track_ids(ids, scroll=False)

    # ==== export and import ===================================================================

    def export(self, playlist_id: int | None = None, folder: str | None = None) -> Job | None:
        """Write a playlist (default: the one shown; all of them when none is) as .m3u8 into
        a folder the user picks, in the background. The only write near music folders."""
        m3u = stages.core("m3u")
        if m3u is None or self.cat is None:
            self.flash("Export is not available in this build.")
            return None
        if playlist_id is None:
            pl = self.current_playlist()
            playlist_id = None if pl is None else pl[1]
        names = None
        if playlist_id is not None:
            names = [p.name for p in self.data.playlists if p.id == playlist_id]
        if folder is None:
            start = self.settings.export_dir or str(Path.home())
            what = names[0] if names else "all playlists"
            folder = QFileDialog.getExistingDirectory(self, f"Export {what} to…", start)
            if not folder:
                return None
        cat, absolute = self.cat, self.settings.export_absolute
        dest = folder

        def run(_progress: Any, _cancel: Any) -> Any:
            return m3u.export_playlists(cat, dest, absolute=absolute, names=names)

        def done(report: Any) -> None:
            self.last_export = report
            self.flash(f"{report.summary()} ({dest})", 8000)

        return self.runner.submit(
            "export", run, on_result=done, on_error=self._job_failed("export")
        )

    def import_m3u(self, source: str | None = None) -> Job | None:
        m3u = stages.core("m3u")
        if m3u is None or self.cat is None:
            self.flash("Import is not available in this build.", 5000)
            return None
        if source is None:
            source, _ = QFileDialog.getOpenFileName(
                self, "Import playlist", str(Path.home()), "Playlists (*.m3u *.m3u8)"
            )
            if not source:
                return None
        cat, src = self.cat, source

        def done(report: Any) -> None:
            self.flash(report.summary(), 8000)
            self.reload()

        return self.runner.submit(
            "import",
            lambda _p, _c: m3u.import_playlist(cat, src),
            on_result=done,
            on_error=self._job_failed("import"),
        )

    # ==== preview =============================================================================

    def toggle_preview(self) -> None:
        if self.player.playing():
            self.stop_preview()
            return
        rows = self.selected_snap_rows()
        if not len(rows):
            return
        row = int(rows[0])
        if self.model.snap.missing[row]:
            self.flash("This track is missing: nothing to play.", 4000)
            return
        if not self.player.available():
            reason = getattr(self.player, "reason", "no audio player")
            self.flash(f"Preview: {reason}", 6000)
        try:
            self.player.play(self.model.snap.file_path(row))
        except OSError as exc:
            self._job_failed("preview")(str(exc), "")
            return
        self.flash(f"Playing {self.model.snap.label(row)}", 4000)

    def stop_preview(self) -> None:
        self.player.stop()

    # ==== dialogs =============================================================================

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.settings, self.device_in_use, self)
        dialog.finished.connect(lambda code: self._settings_done(dialog, code))
        dialog.open()
        return dialog

    def _settings_done(self, dialog: SettingsDialog, code: int) -> None:
        if code != SettingsDialog.DialogCode.Accepted:
            return
        new = dialog.result_settings()
        old = self.settings
        changes = {k: v for k, v in vars(new).items() if getattr(old, k) != v}
        if self.cat is not None:
            lib = __import__("musicorg.store.library", fromlist=["relocate"])
            cat = self.cat
            for a, b in dialog.relocations:
                self._playlist_edit("relocate", lambda a=a, b=b: lib.relocate(cat, a, b))
        if changes:
            self.save_settings(**changes)
        if "music_folders" in changes and not self.demo:
            self.folders = list(new.music_folders)
            if self.cat is None and self.folders:
                self.open_library(paths.default_db_path(), self.folders)
            else:
                self.run_pipeline(list(PIPELINE))
        elif {"cluster_method", "playlist_min", "playlist_max"} & set(changes):
            self.run_pipeline(["rebuild"])
        elif dialog.relocations:
            self.reload()

    def open_retrain(self) -> Any:
        """The Retrain dialog (musicorg.gui.retrain_dialog); afterwards the stages catch up
        with whichever model is active."""
        if self.cat is None:
            return None
        from musicorg.gui.retrain_dialog import RetrainDialog

        cat = self.cat
        before = cat.get_meta("active_model")
        dialog = RetrainDialog(cat.path, self)

        def done(_code: int) -> None:
            if self.cat is cat and cat.get_meta("active_model") != before:
                self._space = None
                self.run_pipeline(list(PIPELINE[1:]))

        dialog.finished.connect(done)
        dialog.open()
        return dialog

    def revert_model(self) -> None:
        """Back to the bundled model in one click. Its embeddings and playlists are kept per
        version, so only what it lacks is computed; user playlists are not touched."""
        from musicorg.model import registry as model_registry

        self.use_model_version(model_registry.bundled_version())

    def use_model_version(self, version: str) -> None:
        """Make ``version`` the active model: the analysis stages then embed what it lacks
        and build its playlists if it has none (a refused model falls back to the bundled
        one, with the reason in the status bar)."""
        if self.cat is None:
            return
        from musicorg.model import registry as model_registry

        what = "the bundled model" if version == model_registry.bundled_version() else "model"
        if self.cat.get_meta("active_model") == version:
            self.statusBar().showMessage(f"The {what} {version} is already active.", 5000)
            return
        self.cat.set_meta("active_model", version)
        self._space = None
        self.statusBar().showMessage(f"Switching to {what} {version}.", 5000)
        self.run_pipeline(list(PIPELINE[1:]))

    def open_models(self) -> Any:
        """The Model versions dialog (musicorg.gui.models_dialog)."""
        if self.cat is None:
            return None
        from musicorg.gui.models_dialog import ModelsDialog

        dialog = ModelsDialog(self.cat.path, self)
        dialog.use_requested.connect(self.use_model_version)
        dialog.open()
        return dialog

    def about_info(self) -> dict[str, Any]:
        s = self.data.stats
        bundled = ""
        with contextlib.suppress(OSError):
            bundled = ", ".join(p.name for p in paths.models_dir().iterdir() if p.is_dir())
        return {
            "Version": __version__,
            "Library": "demo library" if self.demo else (str(self.cat.path) if self.cat else ""),
            "Folders": ", ".join(self.folders),
            "Tracks": s.get("tracks"),
            "Missing": s.get("missing"),
            "With lyrics": s.get("with_lyrics"),
            "Problems": s.get("problems"),
            "Active model": self.data.model_version or "none yet (analyse the library)",
            "Bundled model": bundled,
            "Device": self.device_in_use or self.settings.device,
            "Player": self.player.name,
            "Log folder": str(paths.log_dir()),
        }

    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(self.about_info(), self)
        dialog.open()
        return dialog

    def open_log_folder(self) -> None:
        folder = paths.log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    # ==== closing =============================================================================

    def closeEvent(self, event: QCloseEvent) -> None:
        self.player.stop()
        self.close_library()
        super().closeEvent(event)
