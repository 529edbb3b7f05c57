"""The Map tab. Its view (:class:`~musicorg.gui.mapview.MapView`, pyqtgraph) is built when first
needed, so that the window shows sooner, and brought up to date only when it is looked at: a
hidden map is not redrawn at every reload. What the window gives it in between (the regions'
words, a previewed mix, numbers to colour by) is kept here until then.

What the user picks on the map is a selection, not a trip elsewhere: the window shows it in
the details pane and selects it in the table (a lasso or a rectangle as the result list
:data:`PICKED`), while the map stays in front with the focus."""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QMetaMethod, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from musicorg.gui.colourby import Scale
from musicorg.gui.snapshot import Snapshot

if TYPE_CHECKING:
    from musicorg.gui.maplabels import Region
    from musicorg.gui.mapview import MapView

#: The title of the result list of what a lasso or a rectangle picked.
PICKED = "Picked on the map"


class MapPanel(QWidget):
    #: a snapshot row picked by a click
    point_clicked = Signal(int)
    #: a click with Shift or Ctrl: the snapshot rows selected now
    rows_clicked = Signal(object)
    #: "More like this" for a snapshot row (the map's menu offers it when connected)
    more_like_requested = Signal(int)
    #: "Play" for a snapshot row (the map's menu offers it when connected)
    play_requested = Signal(int)
    #: snapshot rows picked by a lasso or a rectangle
    area_selected = Signal(object)
    #: colour by a number: the mode (tempo, brightness, energy, word) and the word's key
    colour_requested = Signal(str, str)
    #: the words to colour by are wanted
    words_wanted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        QVBoxLayout(self).setContentsMargins(0, 0, 0, 0)
        self._view: MapView | None = None
        self._dirty = False
        self._snap = Snapshot.empty()
        self._xy = np.zeros((0, 2))
        self._groups: np.ndarray | None = None
        self._selected = np.zeros(0, dtype=np.int64)
        self._highlight: np.ndarray | None = None
        self._playing = 0  # the track playing (0: none)
        self._regions: list[Region] = []
        empty = np.zeros(0, dtype=np.int64)
        self._preview: tuple[np.ndarray, np.ndarray, np.ndarray] = (empty, empty, empty)
        # Import the plotting library in the background while the window comes up.
        threading.Thread(target=importlib.import_module, args=("pyqtgraph",), daemon=True).start()

    @property
    def view(self) -> MapView:
        """The map view, created on first use and brought up to date."""
        if self._view is None:
            # lazy: pyqtgraph and scipy cost 0.3 s of the window's start-up
            from musicorg.gui.mapview import MapView

            self._view = MapView()
            self._view.point_clicked.connect(self.point_clicked)
            self._view.rows_clicked.connect(self.rows_clicked)
            self._view.more_like_requested.connect(self.more_like_requested)
            self._view.play_requested.connect(self.play_requested)
            self._view.offered = self.offers
            self._view.area_selected.connect(self.area_selected)
            self._view.colour_requested.connect(self.colour_requested)
            self._view.words_wanted.connect(self.words_wanted)
            layout = self.layout()
            assert layout is not None
            layout.addWidget(self._view)
            self._dirty = bool(len(self._snap))
        if self._dirty:
            self._refresh(self._view)
        return self._view

    def offers(self, signal: str) -> bool:
        """Whether the window listens to this signal of the panel (an action it offers)."""
        return self.isSignalConnected(QMetaMethod.fromSignal(getattr(self, signal)))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.view.update()  # built, and brought up to date, when the tab is looked at

    def _refresh(self, view: MapView) -> None:
        self._dirty = False
        view.set_data(self._snap, self._xy, self._groups, self._regions)
        view.set_highlight(self._highlight)
        view.set_selected(self._selected)
        view.set_playing(self._snap.row_of(self._playing) if self._playing else None)
        view.set_preview(*self._preview)

    def set_data(
        self, snap: Snapshot, xy: np.ndarray | None, groups: np.ndarray | None, *, shown: bool
    ) -> None:
        """New points (``xy`` per snapshot row, NaN or None: not on the map), drawn now when
        the map is ``shown``, else when it is next looked at."""
        self._snap, self._groups = snap, groups
        self._xy = xy if xy is not None else np.full((len(snap), 2), np.nan)
        self._dirty = True
        if shown:
            self._refresh(self.view)

    def set_selected(self, rows: np.ndarray) -> None:
        self._selected = rows
        if self._view is not None and not self._dirty:
            self._view.set_selected(rows)

    def set_highlight(self, rows: np.ndarray | None) -> None:
        """Draw these rows on top (a playlist or the hits of a search); None: no highlight."""
        self._highlight = rows
        if self._view is not None and not self._dirty:
            self._view.set_highlight(rows)

    def set_playing(self, track_id: int) -> None:
        """Ring the point of the track playing (0: none)."""
        self._playing = track_id
        if self._view is not None and not self._dirty:
            self._view.set_playing(self._snap.row_of(track_id) if track_id else None)

    def set_regions(self, regions: list[Region]) -> None:
        """Label these regions (the automatic playlists) with their words."""
        self._regions = list(regions)
        if self._view is not None and not self._dirty:
            self._view.set_regions(self._regions)

    def set_preview(self, plus: np.ndarray, minus: np.ndarray, picks: np.ndarray) -> None:
        """Ring a list not saved yet: its + seeds, − seeds and picks (snapshot rows)."""
        self._preview = (plus, minus, picks)
        if self._view is not None and not self._dirty:
            self._view.set_preview(plus, minus, picks)

    def clear_preview(self) -> None:
        empty = np.zeros(0, dtype=np.int64)
        self.set_preview(empty, empty, empty)

    def set_values(self, scale: Scale) -> None:
        """The numbers the map asked to be coloured by (its view exists: it asked)."""
        if self._view is not None:
            self._view.set_values(scale)

    def set_word_choices(self, words: list[tuple[str, str]]) -> None:
        if self._view is not None:
            self._view.set_word_choices(words)
