"""The window's menus, its toolbar, and the table's context menu. Each entry calls a part of the
window (the sidebar, the details, the pipeline control, the library view) or the window itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMenu,
    QSizePolicy,
    QTabWidget,
    QToolBar,
    QWidget,
)

from musicorg.gui.details import DetailsDock
from musicorg.gui.library_view import LibraryView
from musicorg.gui.pipeline_control import PipelineControl
from musicorg.gui.sidebar import Sidebar
from musicorg.keys import USER

Shortcut = str | QKeySequence | QKeySequence.StandardKey


class MenuHost(Protocol):
    """What the menus call: the window's parts, and what the window does itself."""

    library: LibraryView
    sidebar: Sidebar
    details_dock: DetailsDock
    problems_dock: QDockWidget
    pipeline: PipelineControl
    tabs: QTabWidget
    toolbar: QToolBar

    def choose_music_folder(self, folder: str | None = None) -> None: ...
    def open_demo(self) -> None: ...
    def open_settings(self) -> object: ...
    def focus_search(self) -> None: ...
    def open_log_folder(self) -> None: ...
    def show_about(self) -> object: ...


def build_menus(window: QMainWindow, host: MenuHost) -> None:
    """The menu bar, and the toolbar's actions and search box. Every action is the window's
    too, so its shortcut works wherever the focus is."""

    def add(
        menu: QMenu, text: str, slot: Callable[[], object], key: Shortcut | None = None
    ) -> QAction:
        action = QAction(text, window)
        if key is not None:
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        window.addAction(action)
        return action

    bar = window.menuBar()
    pipeline, sidebar, details = host.pipeline, host.sidebar, host.details_dock
    m = bar.addMenu("&File")
    add(m, "Choose music folder…", lambda: host.choose_music_folder(), "Ctrl+O")
    add(m, "Open the demo library", host.open_demo)
    m.addSeparator()
    export = add(m, "Export playlist as M3U8…", lambda: sidebar.export(), "Ctrl+E")
    add(m, "Import M3U/M3U8…", lambda: sidebar.import_m3u())
    m.addSeparator()
    add(m, "Settings…", host.open_settings, QKeySequence.StandardKey.Preferences)
    m.addSeparator()
    add(m, "Quit", window.close, QKeySequence.StandardKey.Quit)

    m = bar.addMenu("&Library")
    rescan = add(m, "Rescan", pipeline.rescan, "F5")
    add(m, "Analyse", pipeline.analyse)
    add(m, "Rebuild playlists", lambda: pipeline.run(["rebuild"]))
    add(m, "Recompute map", lambda: pipeline.run(["remap", "reumap"]))
    add(m, "Retrain the model on this library…", pipeline.open_retrain)
    add(m, "Revert to the bundled model", pipeline.revert_model)
    add(m, "Model versions…", pipeline.open_models)
    m.addSeparator()
    add(m, "Cancel all jobs", pipeline.cancel_jobs, "Ctrl+.")

    m = bar.addMenu("&Track")
    preview = add(m, "Preview / stop", details.toggle_preview, "Space")
    add(m, "More like this", lambda: details.more_like_this(), "Ctrl+M")
    add(m, "Path to…", lambda: details.path_to(), "Ctrl+P")
    m.addSeparator()
    add(m, "New playlist from selection…", lambda: sidebar.new_playlist(), "Ctrl+N")
    add(m, "Remove from playlist", sidebar.remove_selected, "Del")
    add(m, "Move up in playlist", lambda: sidebar.move_selected(-1), "Alt+Up")
    add(m, "Move down in playlist", lambda: sidebar.move_selected(1), "Alt+Down")

    m = bar.addMenu("&View")
    add(m, "Search", host.focus_search, QKeySequence.StandardKey.Find)
    add(m, "Library", lambda: host.tabs.setCurrentIndex(0), "Ctrl+1")
    add(m, "Map", lambda: host.tabs.setCurrentIndex(1), "Ctrl+2")
    m.addSeparator()
    for dock in (sidebar, details, host.problems_dock):
        m.addAction(dock.toggleViewAction())

    m = bar.addMenu("&Help")
    add(m, "Open log folder", host.open_log_folder)
    add(m, "About musicorg", host.show_about)

    for action in (rescan, preview, export):
        host.toolbar.addAction(action)
    spacer = QWidget()
    spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    host.toolbar.addWidget(spacer)
    host.toolbar.addWidget(host.library.search)


def table_menu(host: MenuHost, pos: QPoint) -> None:
    """The track table's context menu, at POS (the table's viewport coordinates)."""
    sidebar, details, table = host.sidebar, host.details_dock, host.library.table
    menu = QMenu(table)
    menu.addAction("Preview", details.toggle_preview)
    menu.addAction("More like this", lambda: details.more_like_this())
    menu.addAction("Path to…", lambda: details.path_to())
    menu.addSeparator()
    menu.addAction("New playlist from selection…", lambda: sidebar.new_playlist())
    sidebar.fill_add_menu(menu.addMenu("Add to playlist"))
    pl = sidebar.current_playlist()
    if pl and pl[0] == USER:
        menu.addAction("Remove from this playlist", sidebar.remove_selected)
    menu.exec(table.viewport().mapToGlobal(pos))
