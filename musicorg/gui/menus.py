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
    QMenuBar,
    QSizePolicy,
    QTabWidget,
    QToolBar,
    QWidget,
)

from musicorg.gui import theme
from musicorg.gui.ask import AskBox
from musicorg.gui.details import DetailsDock
from musicorg.gui.library_view import LibraryView
from musicorg.gui.mix import MINUS, PLUS, Mix
from musicorg.gui.pipeline_control import PipelineControl
from musicorg.gui.playcontrol import PlayControl
from musicorg.gui.recent import RecentLibraries
from musicorg.gui.shortcuts import KEYS, show_shortcuts
from musicorg.gui.sidebar import Sidebar
from musicorg.keys import USER

Shortcut = str | QKeySequence | QKeySequence.StandardKey


class AddAction(Protocol):
    """Adds an action to a menu and to the window (build_menus's ``add``)."""

    def __call__(
        self, menu: QMenu, text: str, slot: Callable[[], object], key: Shortcut | None = None
    ) -> QAction: ...


class MenuHost(Protocol):
    """What the menus call: the window's parts, and what the window does itself."""

    library: LibraryView
    sidebar: Sidebar
    details_dock: DetailsDock
    problems_dock: QDockWidget
    pipeline: PipelineControl
    playback: PlayControl
    queue_dock: QDockWidget
    tabs: QTabWidget
    toolbar: QToolBar
    recent: RecentLibraries
    ask: AskBox
    mix: Mix

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
    add(m, "Open a shared catalogue (PostgreSQL)…", lambda: host.recent.open_shared(window))
    m.addMenu(host.recent.menu(m))
    m.addSeparator()
    export = add(m, "Export playlist as M3U8…", lambda: sidebar.export(), "Ctrl+E")
    add(m, "Import M3U/M3U8…", lambda: sidebar.import_m3u())
    m.addSeparator()
    add(m, "Settings…", host.open_settings, QKeySequence.StandardKey.Preferences)
    m.addSeparator()
    add(m, "Quit", window.close, QKeySequence.StandardKey.Quit)

    sidebar.undo.fill_menu(bar.addMenu("&Edit"), window)  # Undo/Redo of playlist edits

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

    m = _playback_menus(bar, add, host)
    add(m, "More like this", lambda: details.more_like_this(), "Ctrl+M")
    add(m, "Path to…", lambda: details.path_to(), "Ctrl+P")
    add(m, "Add to mix (+)", lambda: host.mix.add(sign=PLUS), "Ctrl+=")
    add(m, "Subtract from mix (−)", lambda: host.mix.add(sign=MINUS), "Ctrl+-")
    add(m, "Show mix", lambda: host.mix.run())
    m.addSeparator()
    add(m, "New playlist from selection…", lambda: sidebar.new_playlist(), "Ctrl+N")
    add(m, "Remove from playlist", sidebar.remove_selected, "Del")
    add(m, "Move up in playlist", lambda: sidebar.move_selected(-1), "Alt+Up")
    add(m, "Move down in playlist", lambda: sidebar.move_selected(1), "Alt+Down")

    m = bar.addMenu("&View")
    add(m, "Search", host.focus_search, QKeySequence.StandardKey.Find)
    add(m, "Ask in words", lambda: host.ask.field.setFocus(), "Ctrl+K")
    add(m, "Library", lambda: host.tabs.setCurrentIndex(0), "Ctrl+1")
    add(m, "Map", lambda: host.tabs.setCurrentIndex(1), "Ctrl+2")
    m.addSeparator()
    for dock in (sidebar, details, host.queue_dock, host.problems_dock):
        m.addAction(dock.toggleViewAction())

    m = bar.addMenu("&Help")
    add(m, "Open log folder", host.open_log_folder)
    add(m, "Keyboard shortcuts", lambda: show_shortcuts(window), KEYS[0]).setShortcuts(list(KEYS))
    add(m, "About musicorg", host.show_about)

    for action, icon in ((rescan, "rescan"), (export, "export")):
        action.setIcon(theme.icon(icon))  # SVG: sharp at any scale
        host.toolbar.addAction(action)
    host.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    spacer = QWidget()
    spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    host.toolbar.addWidget(spacer)
    host.toolbar.addWidget(host.ask.field)
    host.toolbar.addWidget(host.library.search)


def _playback_menus(bar: QMenuBar, add: AddAction, host: MenuHost) -> QMenu:
    """The Playback menu, and the Track menu's first entries (play, queue, open elsewhere);
    returns the Track menu. What plays is off while there is no audio output."""
    playback, details = host.playback, host.details_dock
    m = bar.addMenu("&Playback")
    needs_output = [
        add(m, "Play/Pause", playback.toggle, "Space"),
        add(m, "Next", playback.next, "Ctrl+Right"),
        add(m, "Previous", playback.previous, "Ctrl+Left"),
        add(m, "Stop", playback.stop),
    ]
    m.addSeparator()
    add(m, "Clear play history of the selection…", playback.clear_history)
    add(m, "Clear all play history…", lambda: playback.clear_history(everything=True))

    m = bar.addMenu("&Track")
    needs_output += [
        add(m, "Play", playback.play_selection),
        add(m, "Play next", playback.play_next_selection),
        add(m, "Add to queue", playback.queue_selection),
    ]
    for action in needs_output:
        playback.available_changed.connect(action.setEnabled)
    external = add(m, "Open in external player", details.open_external)
    external.setEnabled(details.host.player.available())
    external.setToolTip(details.external_player_note())
    m.addSeparator()
    return m


def table_menu(host: MenuHost, pos: QPoint) -> None:
    """The track table's context menu, at POS (the table's viewport coordinates)."""
    table = host.library.table
    track_menu(host).exec(table.viewport().mapToGlobal(pos))


def track_menu(host: MenuHost) -> QMenu:
    """The track table's context menu: play, queue, find similar, playlists."""
    sidebar, details, table = host.sidebar, host.details_dock, host.library.table
    playback = host.playback
    menu = QMenu(table)
    for text, slot in [
        ("Play", playback.play_selection),
        ("Play next", playback.play_next_selection),
        ("Add to queue", playback.queue_selection),
    ]:
        menu.addAction(text, slot).setEnabled(playback.available)
    menu.addSeparator()
    menu.addAction("More like this", lambda: details.more_like_this())
    menu.addAction("Path to…", lambda: details.path_to())
    menu.addAction("Add to mix (+)", lambda: host.mix.add(sign=PLUS))
    menu.addAction("Subtract from mix (−)", lambda: host.mix.add(sign=MINUS))
    menu.addSeparator()
    menu.addAction("New playlist from selection…", lambda: sidebar.new_playlist())
    sidebar.fill_add_menu(menu.addMenu("Add to playlist"))
    pl = sidebar.current_playlist()
    if pl and pl[0] == USER:
        menu.addAction("Remove from this playlist", sidebar.remove_selected)
    menu.addSeparator()
    menu.addAction("Clear play history…", playback.clear_history)
    return menu
