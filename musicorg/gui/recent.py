"""The libraries opened lately (File → Recent libraries), and how a library is named for
people: its music folder's name, or "Demo library", never the catalogue's path.

The list lives in the settings (``recent_libraries``, newest first, at most
:data:`MAX_RECENT`): each entry is a catalogue's path, or :data:`DEMO` for the demo library.
Opening an entry opens that catalogue on its own folders, the ones it was scanned from, so
the way back from the demo is one click.

A shared catalogue on a PostgreSQL server (File → Open a shared catalogue) is opened by its
URL; the list keeps its connection file (``db.connection_file``, 0600), never the URL, and
names it by its database and server without the password.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMenu, QWidget

from musicorg import paths
from musicorg.settings import Settings
from musicorg.store.db import (
    Catalogue,
    CatalogueError,
    connection_file,
    is_server,
    is_server_url,
    read_connection_file,
    server_url,
    shown_url,
)

#: At most this many libraries are remembered.
MAX_RECENT = 8
#: The entry of the demo library.
DEMO = "demo"
DEMO_NAME = "Demo library"


class RecentHost(Protocol):
    """What the list needs of the window."""

    settings: Settings
    cat: Catalogue | None
    demo: bool

    def open_library(
        self,
        db: Path | str,
        folders: list[str] | None,
        *,
        demo: bool = False,
        rescan: bool = True,
    ) -> None: ...
    def open_demo(self) -> None: ...
    def save_settings(self, **changes: Any) -> None: ...
    def flash(self, text: str, ms: int = 5000) -> None: ...


def remembered(entries: Sequence[str], entry: str) -> list[str]:
    """The list with ``entry`` first, once, and at most :data:`MAX_RECENT` entries."""
    return [entry, *(e for e in entries if e != entry)][:MAX_RECENT]


def server_name(location: Path | str) -> str:
    """A catalogue on a server as people call it: its database and server ("musicorg on
    dbhost"), never its password; from its URL or its connection file."""
    url = str(location)
    if not is_server_url(url):
        try:
            url = read_connection_file(Path(location))
        except CatalogueError:
            return Path(location).stem
    parts = urllib.parse.urlsplit(server_url(url))
    name = urllib.parse.unquote(parts.path.strip("/")) or "musicorg"
    return f"{name} on {parts.hostname}" if parts.hostname else f"{name} (shared)"


def library_name(
    folders: Sequence[str], db: Path | str | None = None, *, demo: bool = False
) -> str:
    """A library as people call it: "Demo library", its folder's name ("Music"), two names,
    or the first and how many more; the catalogue's file name (a shared catalogue's database
    and server) when it has no folder."""
    if demo:
        return DEMO_NAME
    names = [os.path.basename(os.path.normpath(f)) or f for f in folders]
    if not names and db is not None and is_server(db):
        return server_name(db)
    if not names:
        return Path(db).stem if db is not None else "musicorg"
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} and {len(names) - 1} more folders"


def window_title(name: str) -> str:
    return f"{name} — musicorg"


def entry_name(entry: str, settings: Settings) -> str:
    """The name an entry shows in the menu (without opening its catalogue): the demo, the
    saved music folders for the usual catalogue, else the catalogue's file name."""
    if entry == DEMO:
        return DEMO_NAME
    if is_server(entry):
        return server_name(entry)
    db = Path(entry)
    if db == paths.default_db_path() and settings.music_folders:
        return library_name(settings.music_folders)
    return db.stem


class RecentLibraries(QObject):
    """Remembers each library the window opens, and fills the File menu's list."""

    def __init__(self, host: RecentHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host = host

    def entries(self) -> list[str]:
        return list(self.host.settings.recent_libraries)

    def opened(self, db: Path | str, demo: bool) -> None:
        """A library was opened: it goes first in the list (saved with the settings); a
        shared catalogue by its connection file, so that no password is kept in the list."""
        if demo:
            entry = DEMO
        elif is_server_url(db):
            entry = str(connection_file(str(db)).absolute())
        else:
            entry = str(Path(db).absolute())
        entries = remembered(self.entries(), entry)
        if entries != self.entries():
            self.host.save_settings(recent_libraries=entries)

    def current(self) -> str | None:
        cat = self.host.cat
        if cat is None:
            return None
        return DEMO if self.host.demo else str(Path(cat.path).absolute())

    def open(self, entry: str) -> None:
        """Open an entry of the list: the demo, or a catalogue on its own folders. A catalogue
        that is gone leaves the list (opening it would make an empty one)."""
        if entry == DEMO:
            self.host.open_demo()
            return
        db = Path(entry)
        if not db.is_file():
            self.host.save_settings(recent_libraries=[e for e in self.entries() if e != entry])
            self.host.flash(f"The library {db} is no longer there.", 8000)
            return
        self.host.open_library(db, None)
        if db == paths.default_db_path():
            # The next start reopens it (with the saved folders, which are its folders).
            self.host.save_settings(last_library=str(db))

    def clear(self) -> None:
        self.host.save_settings(recent_libraries=[])

    def open_shared(self, parent: QWidget) -> None:
        """File → Open a shared catalogue: ask for its URL, then open it on its own folders
        (each machine's, through its mounts)."""
        url, ok = QInputDialog.getText(
            parent,
            "Open a shared catalogue",
            "The catalogue's PostgreSQL URL, for example\n"
            "postgresql://musicorg@dbhost/musicorg\n"
            "(keep the password in ~/.pgpass rather than in the URL):",
            QLineEdit.EchoMode.Normal,
            "postgresql://",
        )
        url = url.strip()
        if not ok or not url or url == "postgresql://":
            return
        if not is_server_url(url):
            self.host.flash(
                "That is not a PostgreSQL URL: it begins with postgresql://, then the user, "
                "the server and the database.",
                8000,
            )
            return
        self.host.open_library(url, None)

    def menu(self, parent: QWidget) -> QMenu:
        """File → Recent libraries, filled each time it opens."""
        menu = QMenu("Recent libraries", parent)
        menu.setToolTipsVisible(True)
        menu.aboutToShow.connect(lambda: self._fill(menu))
        self._fill(menu)
        return menu

    def _fill(self, menu: QMenu) -> None:
        menu.clear()
        current, settings = self.current(), self.host.settings
        for i, entry in enumerate(self.entries()):
            name = entry_name(entry, settings).replace("&", "&&")  # no accelerator in a name
            text = f"&{i + 1} {name}"
            action = menu.addAction(text, partial(self.open, entry))
            action.setToolTip(
                "The demo library that ships with musicorg" if entry == DEMO else _tip(entry)
            )
            action.setEnabled(entry != current)
        if menu.isEmpty():
            menu.addAction("(none yet)").setEnabled(False)
            return
        menu.addSeparator()
        menu.addAction("Clear the list", self.clear)


def _tip(entry: str) -> str:
    """An entry's tooltip: the catalogue's path, or a shared one's URL without its password."""
    if is_server(entry):
        try:
            return shown_url(read_connection_file(Path(entry)))
        except CatalogueError:
            return entry
    return entry
