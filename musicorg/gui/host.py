"""What the parts of the main window (sidebar, details, pipeline control) ask of it.

They take a :class:`Host`, not the window's class, so that they never import the window's
module; :class:`~musicorg.gui.mainwindow.MainWindow` is one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from PySide6.QtWidgets import QDockWidget, QWidget

from musicorg.gui.library_view import LibraryView
from musicorg.gui.librarydata import LibraryData
from musicorg.gui.player import Player
from musicorg.gui.tasks import TaskRunner
from musicorg.settings import Settings
from musicorg.store.db import Catalogue

T = TypeVar("T")


class Host(Protocol):
    @property
    def cat(self) -> Catalogue | None:
        """The open catalogue (None: none is open)."""

    @property
    def data(self) -> LibraryData:
        """What is shown of it (the last read)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def folders(self) -> list[str]:
        """The music folders a scan reads."""

    @property
    def runner(self) -> TaskRunner: ...

    @property
    def player(self) -> Player: ...

    @property
    def library(self) -> LibraryView:
        """The Library tab: table, search, selection, result lists."""

    def reload(self) -> None:
        """Read the catalogue again, in the background, and show it."""

    def flash(self, text: str, ms: int = 5000) -> None:
        """A passing message in the status bar."""

    def job_failed(self, stage: str) -> Callable[[str, str], None]:
        """The error callback of a job: a row in the problems panel, and a message."""

    def edit(self, what: str, fn: Callable[[], T]) -> T | None:
        """Run a small edit of the catalogue now, then read it again; an error is shown (and
        None returned), not raised."""

    def reveal(self, track_id: int) -> None:
        """Select a track in the table, showing the whole library if it is not shown."""


class HostedDock(QDockWidget):
    """A dock of the window that shows one widget and works with the window (its host)."""

    def __init__(
        self, title: str, name: str, host: Host, widget: QWidget, parent: QWidget | None
    ) -> None:
        super().__init__(title, parent)
        self.setObjectName(name)
        self.host = host
        self.setWidget(widget)
