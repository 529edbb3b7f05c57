"""The main window: it puts the parts together, opens and closes libraries, and shows each read
of the catalogue.

The parts are their own classes: the Library tab (:mod:`~musicorg.gui.library_view`), the map
(:mod:`~musicorg.gui.mappanel`), the playlists sidebar (:mod:`~musicorg.gui.sidebar`), the
details (:mod:`~musicorg.gui.details`), the menus (:mod:`~musicorg.gui.menus`), the pipeline
control (:mod:`~musicorg.gui.pipeline_control`) and playback (:mod:`~musicorg.gui.nowplaying`:
the now-playing bar, the queue, the media keys). All catalogue work runs through
:class:`~musicorg.gui.tasks.TaskRunner`; the window only starts it and shows what comes back.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QWidget,
)

from musicorg import __version__, paths
from musicorg import settings as settings_mod
from musicorg.app import actions
from musicorg.gui import accessibility, dialogs, gcpolicy, opening, recent, sizes, theme, unmatched
from musicorg.gui.ask import AskBox, WordIndex
from musicorg.gui.details import DetailsDock
from musicorg.gui.explanations import Explanations
from musicorg.gui.foryou import ForYou
from musicorg.gui.library_view import LibraryView
from musicorg.gui.librarydata import LibraryData, load_library
from musicorg.gui.mapcolours import ColourBy
from musicorg.gui.mappanel import PICKED, MapPanel
from musicorg.gui.menus import build_menus, table_menu
from musicorg.gui.mix import MINUS, PLUS, Mix, MixPanel
from musicorg.gui.nowplaying import PlaybackParts
from musicorg.gui.pipeline_control import PipelineControl
from musicorg.gui.playcontrol import PlayControl
from musicorg.gui.player import Player, default_player
from musicorg.gui.sidebar import Sidebar
from musicorg.gui.tasks import TaskRunner, label
from musicorg.gui.watcher import LibraryWatch
from musicorg.gui.widgets import JobsPanel, ProblemsPanel, WelcomePage
from musicorg.store import library, safety, tracks
from musicorg.store.db import Catalogue, CatalogueError

if TYPE_CHECKING:
    from musicorg.gui.mapview import MapView

T = TypeVar("T")


class MainWindow(QMainWindow):
    #: a new read of the library is shown
    library_loaded = Signal()
    #: the stages started together ended: "ok", "cancelled" or the reason they stopped
    pipeline_finished = Signal(str)

    def __init__(
        self,
        *,
        player: Player | None = None,
        settings_file: Path | None = None,
        map_method: str = "umap",
        audio_backend: str | None = None,
    ) -> None:
        super().__init__()
        self.settings_file = settings_file
        self.settings = settings_mod.load(settings_file)
        self.runner = TaskRunner(self)
        self.player: Player = player or default_player()
        self.map_method = map_method
        self.cat: Catalogue | None = None
        self._opening = 0  # which open_library the catalogue being opened belongs to
        self.demo = False
        self.folders: list[str] = []
        self.data = LibraryData.empty()
        self._reload_pending = False
        self.setWindowTitle("musicorg")
        self.resize(1280, 800)
        self._build_pages()
        self._build_docks()
        self._build_status_bar()
        self._build_playback(audio_backend)
        self.pipeline = PipelineControl(self, self)
        self.pipeline.finished.connect(self.pipeline_finished)
        self.pipeline.model_changed.connect(self.details_dock.forget_space)
        self.watch = LibraryWatch(self, self)  # the music folders, while a library is open
        self._build_discovery()
        self.toolbar = QToolBar("Main")
        self.toolbar.setObjectName("toolbar")
        self.toolbar.setMovable(False)
        self.addToolBar(self.toolbar)
        self.recent = recent.RecentLibraries(self, self)
        build_menus(self, self)
        sizes.set_minimums(
            self, sidebar=self.sidebar, centre=self.centralWidget(), docks=[self.queue_dock]
        )
        self.runner.job_added.connect(partial(unmatched.follow_import, self))
        self.show_welcome()
        accessibility.install(self)  # names for every control, tab order between the areas

    # ==== construction ========================================================================

    def _build_pages(self) -> None:
        self.library = LibraryView()
        self.library.restore_layout(self.settings.table_columns, self.settings.table_sort)
        self.library.layout_changed.connect(self._library_layout_changed)
        self.model = self.library.model
        self.table = self.library.table
        self.library.selection_changed.connect(self._selection_changed)
        self.library.shown_changed.connect(self._shown_changed)
        self.table.customContextMenuRequested.connect(partial(table_menu, self))
        self.map_panel = MapPanel()
        self.map_panel.point_clicked.connect(lambda row: self.reveal(int(self.data.snap.ids[row])))
        self.map_panel.area_selected.connect(self._map_area_selected)
        self.map_panel.rows_clicked.connect(self._map_rows_clicked)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.library, "Library")
        self.tabs.addTab(self.map_panel, "Map")
        self.library.results_shown.connect(self._results_shown)
        self.welcome = WelcomePage()
        self.welcome.choose_folder.connect(lambda: self.choose_music_folder())
        self.welcome.open_demo.connect(self.open_demo)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.tabs)
        self.setCentralWidget(self.stack)

    def _build_docks(self) -> None:
        self.sidebar = Sidebar(self, self)
        self.tree = self.sidebar.tree
        self.table.rows_moved.connect(self.sidebar.move_rows_to)
        self.sidebar.export_folder_chosen.connect(lambda f: self.save_settings(export_dir=f))
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.sidebar)
        self.details_dock = DetailsDock(self, self)
        self.details = self.details_dock.pane
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.details_dock)
        self.problems = ProblemsPanel()
        self.problems_dock = QDockWidget("Problems", self)
        self.problems_dock.setObjectName("problems")
        self.problems_dock.setWidget(self.problems)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.problems_dock)
        self.problems_dock.hide()
        self._docks: tuple[QWidget, ...] = (self.sidebar, self.details_dock)

    def _build_playback(self, audio_backend: str | None) -> None:
        self.playing = PlaybackParts(
            self,
            self,
            self.sidebar,
            self.details,
            self.map_panel,
            audio_backend,
            save_volume=lambda volume: self.save_settings(volume=volume),
        )
        self.playback: PlayControl = self.playing.control
        self.queue_dock: QDockWidget = self.playing.queue_dock
        self._docks = (*self._docks, self.playing.toolbar)

    def _build_discovery(self) -> None:
        """Ask in words, the mix, For you, the playlists' explanations, colouring the map."""
        self.words = WordIndex()
        self.ask = AskBox(self, self.words)
        mix_panel = MixPanel()
        self.details.add_panel(mix_panel)
        self.mix = Mix(self, self.details_dock, mix_panel, self.map_panel)
        self.details.add_to_mix.connect(lambda: self.mix.add(sign=PLUS))
        self.details.subtract_from_mix.connect(lambda: self.mix.add(sign=MINUS))
        self.for_you = ForYou(self, self.details_dock, self.map_panel)
        self.sidebar.for_you_requested.connect(lambda: self.for_you.refresh())
        self.explanations = Explanations(self, self.sidebar, self.details_dock, self.map_panel)
        self.library_loaded.connect(self.explanations.library_loaded)
        self.colour_by = ColourBy(self, self.map_panel, self.words)
        self.library.results_shown.connect(lambda _title: self.map_panel.clear_preview())
        self.library.results_closed.connect(self.map_panel.clear_preview)
        ids = lambda row: [int(self.data.snap.ids[row])]  # noqa: E731 (a snapshot row's track)
        self.map_panel.more_like_requested.connect(
            lambda row: self.details_dock.more_like_this(ids(row))
        )
        self.map_panel.play_requested.connect(lambda row: self.playback.play_tracks(ids(row)))
        for changed in (self.pipeline.model_changed, self.pipeline.finished):
            changed.connect(lambda *_a: self.words.forget())
            changed.connect(lambda *_a: self.colour_by.forget())

    def _build_status_bar(self) -> None:
        self.jobs_panel = JobsPanel()
        self.runner.job_added.connect(self.jobs_panel.add)
        self.runner.job_ended.connect(self.jobs_panel.remove)
        self.status_label = QLabel("")
        self.status_label.setContentsMargins(6, 0, 12, 0)
        self.message_label = QLabel("")
        theme.style(self.message_label, lambda: f"color: {theme.css(theme.muted())}")
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(self.message_label.clear)
        self.statusBar().addWidget(self.status_label)
        self.statusBar().addWidget(self.message_label, 1)
        self.statusBar().addPermanentWidget(self.jobs_panel)

    @property
    def map(self) -> MapView:
        """The map view, created on first use and brought up to date."""
        return self.map_panel.view

    # ==== messages ============================================================================

    def flash(self, text: str, ms: int = 5000) -> None:
        """A passing message in the status bar (next to the library counts, not over them)."""
        self.message_label.setText(text if len(text) < 160 else text[:157] + "…")
        self.message_label.setToolTip(text)
        self._message_timer.start(ms)

    def job_failed(self, stage: str) -> Callable[[str, str], None]:
        def on_error(message: str, _tb: str) -> None:
            self.problems.add_job_error(stage, message)
            self.problems_dock.setWindowTitle(f"Problems ({self.problems.count()})")
            self.problems_dock.show()
            self.flash(f"{label(stage)} failed: {message}", 10000)

        return on_error

    def edit(self, what: str, fn: Callable[[], T]) -> T | None:
        """Run a small edit of the catalogue now (one short transaction), then read it again;
        an error is shown, not raised."""
        try:
            return fn()
        except Exception as exc:  # any failed edit is a message; the window goes on
            self.problems.add_job_error(what, str(exc))
            self.flash(f"{what}: {exc}", 8000)
            return None
        finally:
            self.reload()

    def _update_status(self) -> None:
        s = self.data.stats
        if not s:
            return
        parts = [f"{s['tracks']} tracks"]
        if s.get("missing"):
            parts.append(f"{s['missing']} missing")
        if self.data.snap.duplicates():  # the search's is:duplicate lists them
            parts.append(f"{self.data.snap.duplicates()} duplicates")
        shown = self.model.rowCount()
        if shown != s["tracks"]:
            parts.insert(0, f"{shown} shown")
        if s.get("problems"):
            parts.append(f"{s['problems']} problems")
        if self.data.model_version:
            parts.append(f"model {self.data.model_version}")
        self.status_label.setText(" · ".join(parts))

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

    def _library_layout_changed(self) -> None:
        """Keep the table's columns and sort for the next start."""
        columns, sort = self.library.layout_state()
        if (columns, sort) != (self.settings.table_columns, self.settings.table_sort):
            self.save_settings(table_columns=columns, table_sort=sort)

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
        self,
        db: Path | str,
        folders: list[str] | None,
        *,
        demo: bool = False,
        rescan: bool = True,
    ) -> None:
        """Open the catalogue ``db`` on ``folders`` (None: the folders it already holds, as for
        a catalogue named with ``--db``, whose folders are not the saved settings'); ``db`` is
        a file, or a shared catalogue's ``postgresql://`` URL. An existing catalogue opens in
        the background (see :mod:`~musicorg.gui.opening`): the rest follows in :meth:`_opened`."""
        self.close_library()
        number = self._opening
        if opening.at_once(db):
            self._opened(number, db, folders, demo, rescan, opening.open_catalogue(db))
            return
        self.stack.setCurrentWidget(self.tabs)
        self.status_label.setText(opening.message(db))
        self.toolbar.setEnabled(False)  # nothing to act on until it is open
        self.runner.submit(
            "open",
            partial(opening.open_job, db),
            on_result=partial(self._opened, number, db, folders, demo, rescan),
            on_error=lambda message, _tb: self._opened(
                number, db, folders, demo, rescan, CatalogueError(message)
            ),
            on_cancel=partial(self._opened, number, db, folders, demo, rescan, None),
        )

    def _opened(
        self,
        number: int,
        db: Path | str,
        folders: list[str] | None,
        demo: bool,
        rescan: bool,
        result: opening.Opened | None,
    ) -> None:
        """The catalogue of an :meth:`open_library` is open (or could not be, or its opening
        was cancelled: None): show it."""
        if number != self._opening:  # another library was opened, or the window closed, since
            if isinstance(result, Catalogue):
                result.close()
            return
        if result is None:
            self.show_welcome()
            self.flash("The library was not opened.", 8000)
            return
        if isinstance(result, CatalogueError):
            text = str(result)
            if "damaged" in text and self.recover_damaged(Path(db), folders, text, demo):
                return
            self.problems.add_job_error("open", text)
            self.problems_dock.show()
            self.show_welcome()
            return
        self.cat = result
        self.toolbar.setEnabled(True)
        self.demo = demo
        if folders is None:
            folders = [paths.fs_display(root) for root in tracks.root_paths(self.cat)]
        self.folders = list(folders)
        self.setWindowTitle(recent.window_title(recent.library_name(self.folders, db, demo=demo)))
        self.recent.opened(db, demo)
        self.stack.setCurrentWidget(self.tabs)
        self.toolbar.show()
        for dock in self._docks:
            dock.show()
        self.status_label.setText("Opening the library…")
        self.playback.open(self.cat)
        self.watch.follow()
        self.reload()
        if rescan:
            self.pipeline.rescan()

    def recover_damaged(
        self, db: Path, folders: list[str] | None, message: str, demo: bool
    ) -> bool:
        """Offer the three ways out of a damaged catalogue. User playlists survive each one:
        a backup holds them, a rebuild brings them back from the mirror, quit changes nothing.
        Returns False when the user chose to quit."""
        good = safety.newest_good_backup(db)  # a damaged backup is never offered
        choice = dialogs.ask_damaged(self, db, message, good)
        saved: Path | None = None
        if choice == "restore" and good is not None:
            safety.restore_backup(db, good)
            self.flash(f"Restored the backup {good.name}.", 10000)
        elif choice == "rebuild":
            saved = actions.set_aside_for_rebuild(db)
            if folders is None:  # the damaged file's folders are lost: scan the saved ones
                folders = list(self.settings.music_folders)
        else:
            self.close()
            return False
        self.open_library(db, folders, demo=demo)
        if saved is not None:
            self._restore_mirror_after_rescan(saved)
        return True

    def _restore_mirror_after_rescan(self, saved: Path) -> None:
        def bring_back(_outcome: str) -> None:
            self.pipeline_finished.disconnect(bring_back)
            if self.cat is not None:
                report = actions.restore_mirror(self.cat, saved)
                self.flash(
                    f"Rebuilt; {len(report.restored)} playlists restored from the mirror.", 10000
                )
                self.reload()

        self.pipeline_finished.connect(bring_back)

    def close_library(self) -> None:
        self._opening += 1  # a catalogue still opening is closed when it arrives
        self.watch.stop()
        self.runner.cancel_all()
        self.pipeline.clear()
        self.sidebar.undo.clear()  # its steps belong to the catalogue that closes
        self.playback.close()  # its last plays are written before the catalogue closes
        if self.cat is not None:
            self.cat.close()
            self.cat = None
        self.details_dock.forget_space()
        self.words.forget()
        self.colour_by.forget()
        self.explanations.forget()
        self.data = LibraryData.empty()

    # ==== reading the library =================================================================

    def idle(self) -> bool:
        """No job running or queued, no reload pending: what is shown is up to date."""
        return not self.runner.jobs and not self._reload_pending and not self.pipeline.busy()

    def reload(self) -> None:
        """Read the catalogue again (in the background) and show it when it arrives."""
        if self.cat is None:
            return
        if self.runner.running("load"):
            self._reload_pending = True
            return
        cat, method, sort_key = self.cat, self.map_method, self.model.sort_key
        query = self.model.query

        def run(_p: Any, _c: Any) -> LibraryData:
            data = load_library(cat, method)
            if sort_key is not None:
                data.snap.order(sort_key)  # the sort order is ready before the UI needs it
            if query.strip():
                data.snap.match(query)  # and so are the rows of the search's words
            return data

        self.runner.submit(
            "load", run, on_result=partial(self._loaded, cat), on_error=self.job_failed("load")
        )

    def _loaded(self, cat: Catalogue, data: LibraryData) -> None:
        if cat is not self.cat:
            return
        keep = self.library.selected_track_ids()
        self.data = data
        self.model.set_snapshot(data.snap)
        self.tree.set_playlists(data.playlists)
        self.map_panel.set_data(
            data.snap, data.xy, data.groups, shown=self.tabs.currentIndex() == 1
        )
        self.problems.set_file_problems(data.problems)
        n = self.problems.count()  # the title follows the table, down to none
        self.problems_dock.setWindowTitle(f"Problems ({n})" if n else "Problems")
        if keep:
            self.library.select_track_ids(keep, scroll=False)
        self.sidebar.show_current(keep_results=True)
        self._update_status()
        self.library.loaded()
        self.library_loaded.emit()
        gcpolicy.adopt()  # the new read is kept: out of the collector's walks
        if self._reload_pending:
            self._reload_pending = False
            QTimer.singleShot(0, self.reload)

    # ==== between the parts ===================================================================

    def _selection_changed(self, rows: np.ndarray) -> None:
        self.map_panel.set_selected(rows)
        self.details_dock.show_rows(rows)

    def _shown_changed(self) -> None:
        self._update_status()
        self.map_panel.set_highlight(self.model.rows if self.library.filtered() else None)

    def reveal(self, track_id: int) -> None:
        if not self.library.shows(track_id):
            self.sidebar.show_library()
        self.library.select_track_ids([track_id])

    def _results_shown(self, title: str) -> None:
        if title != PICKED:  # what the map picked is selected; the map stays in front
            self.tabs.setCurrentIndex(0)

    def _map_area_selected(self, snap_rows: np.ndarray) -> None:
        """A lasso or a rectangle: the tracks as a result list, all selected; the map stays."""
        ids = [int(t) for t in self.data.snap.ids[snap_rows]]
        if ids:
            self.library.show_results(PICKED, ids)
        self.library.select_track_ids(ids, scroll=False)

    def _map_rows_clicked(self, snap_rows: np.ndarray) -> None:
        """A Shift or Ctrl click on the map: these tracks selected, in the library when the
        table does not show them all; the map stays."""
        ids = [int(t) for t in self.data.snap.ids[snap_rows]]
        if self.library.select_track_ids(ids, scroll=False) < len(ids):
            self.sidebar.show_library()
            self.sidebar.show_current()
            self.library.select_track_ids(ids, scroll=False)

    def focusNextPrevChild(self, next: bool) -> bool:
        """Tab and Shift+Tab go from area to area: playlists, search, the Library or Map tab,
        details, then the rest (see :mod:`~musicorg.gui.accessibility`)."""
        return accessibility.move_focus(self, next) or super().focusNextPrevChild(next)

    def focus_search(self) -> None:
        if self.stack.currentWidget() is self.tabs:
            self.library.focus_search()

    # ==== dialogs =============================================================================

    def open_settings(self) -> dialogs.SettingsDialog:
        dialog = dialogs.SettingsDialog(self.settings, self.pipeline.device_in_use, self)
        dialog.finished.connect(lambda code: self._settings_done(dialog, code))
        dialog.open()
        return dialog

    def _settings_done(self, dialog: dialogs.SettingsDialog, code: int) -> None:
        if code != dialogs.SettingsDialog.DialogCode.Accepted:
            return
        new = dialog.result_settings()
        changes = {k: v for k, v in vars(new).items() if getattr(self.settings, k) != v}
        cat = self.cat
        if cat is not None:
            for a, b in dialog.relocations:
                self.edit("relocate", partial(library.relocate, cat, a, b))
        if changes:
            self.save_settings(**changes)
        if "music_folders" in changes and not self.demo:
            self.folders = list(new.music_folders)
            if self.cat is None and self.folders:
                self.open_library(paths.default_db_path(), self.folders)
            else:
                self.pipeline.rescan()
        elif "cluster_method" in changes:
            self.pipeline.run(["rebuild"])
        elif {"playlist_min", "playlist_max"} & set(changes):
            self.pipeline.run(["resize"])  # split and merge; names and members stay
        if {"watch_folders", "music_folders"} & set(changes):
            self.watch.follow()

    def about_info(self) -> dict[str, Any]:
        s = self.data.stats
        bundled = ""
        with contextlib.suppress(OSError):
            bundled = ", ".join(p.name for p in paths.models_dir().iterdir() if p.is_dir())
        return {
            "Version": __version__,
            "Library": "demo library" if self.demo else (self.cat.where if self.cat else ""),
            "Folders": ", ".join(self.folders),
            "Tracks": s.get("tracks"),
            "Missing": s.get("missing"),
            "With lyrics": s.get("with_lyrics"),
            "Problems": s.get("problems"),
            "Active model": self.data.model_version or "none yet (analyse the library)",
            "Bundled model": bundled,
            "Device": self.pipeline.device_in_use or self.settings.device,
            "Audio output": self.playback.output_name(),
            "External player": self.player.name,
            "Log folder": str(paths.log_dir()),
        }

    def show_about(self) -> dialogs.AboutDialog:
        dialog = dialogs.AboutDialog(self.about_info(), self)
        dialog.open()
        return dialog

    def open_log_folder(self) -> None:
        folder = paths.log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.player.stop()
        self.playing.mpris.close()
        self.close_library()
        super().closeEvent(event)
