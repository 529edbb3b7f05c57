"""The smallest sizes of the window and its parts, so that a small window shrinks the table
rather than squeezing the playlists to a sliver.

Without these, a dock is as narrow as its widest button allows (the sidebar: about 70 px, a
column of cut-off names) and the centre is as wide as its widest page, the welcome page's
fixed text, which kept the whole window from being narrower than about 950 px.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QMainWindow, QWidget

#: The main window is never smaller than this (width, height).
WINDOW = (760, 480)
#: The playlists sidebar keeps room for a playlist's name.
SIDEBAR_WIDTH = 180
#: Other docks beside the centre (the queue; the details need more and say so themselves).
DOCK_WIDTH = 180
#: The centre (the table and the map) keeps room for a title column and a map.
CENTRE_WIDTH = 280


def set_minimums(
    window: QMainWindow,
    *,
    sidebar: QWidget,
    centre: QWidget | None,
    docks: Iterable[QWidget] = (),
) -> None:
    """Give the window, the sidebar, the other docks and the centre their smallest sizes. An
    explicit minimum replaces what a widget's contents ask for (the centre's pages), but a
    dock that asks for more than :data:`DOCK_WIDTH` keeps what it asks."""
    window.setMinimumSize(*WINDOW)
    sidebar.setMinimumWidth(SIDEBAR_WIDTH)
    if centre is not None:
        centre.setMinimumWidth(CENTRE_WIDTH)
    for dock in docks:
        if dock.minimumSizeHint().width() < DOCK_WIDTH:
            dock.setMinimumWidth(DOCK_WIDTH)
