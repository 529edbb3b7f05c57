"""Mixing by example ("alchemy"): tracks added to the mix (+) and subtracted from it (−) make a
"more like this" that moves towards the first and away from the second
(:func:`musicorg.app.actions.more_like_this` with ``minus``).

The mix is listed in the details pane (each seed removable, a slider for how much the −
tracks weigh); *Show mix* computes it in the background and shows the list, and the map
previews it before anything is saved: + seeds, − seeds and the picks are ringed, each its own
mark (:meth:`musicorg.gui.mappanel.MapPanel.set_preview`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from musicorg.app import actions
from musicorg.gui.tasks import Job

if TYPE_CHECKING:
    from musicorg.gui.details import DetailsDock
    from musicorg.gui.host import Host
    from musicorg.gui.mappanel import MapPanel

PLUS, MINUS = "+", "−"
PLUS_COLOUR, MINUS_COLOUR = "#1a7f37", "#c62828"
#: How many tracks a mix gives (its + seeds come first).
MIX_N = 25


class MixPanel(QWidget):
    """The mix as the details pane lists it."""

    #: "Show mix" was pressed
    run_requested = Signal()
    #: remove this track from the mix
    remove_requested = Signal(int)
    clear_requested = Signal()
    #: the weight of the − seeds changed (0 to 1), and the slider was let go
    weight_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("<b>Mix</b> — more like the + tracks, less like the − ones")
        self.title.setWordWrap(True)
        self.list = QListWidget()
        self.list.setMaximumHeight(110)
        self.list.itemActivated.connect(lambda _i: self._remove_current())
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Take the selected track out of the mix")
        self.remove_button.clicked.connect(self._remove_current)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear_requested)
        self.run_button = QPushButton("Show mix")
        self.run_button.setToolTip("The tracks of the mix, shown in the table and on the map")
        self.run_button.clicked.connect(self.run_requested)
        self.weight_label = QLabel()
        self.weight = QSlider(Qt.Orientation.Horizontal)
        self.weight.setRange(0, 100)
        self.weight.setToolTip("How strongly the − tracks push the mix away from them")
        self.weight.valueChanged.connect(self._show_weight)
        self.weight.sliderReleased.connect(lambda: self.weight_changed.emit(self.weight_value()))
        buttons = QHBoxLayout()
        for b in (self.run_button, self.remove_button, self.clear_button):
            buttons.addWidget(b)
        slider = QHBoxLayout()
        slider.addWidget(self.weight_label)
        slider.addWidget(self.weight, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        layout.addLayout(slider)
        layout.addLayout(buttons)
        self.set_weight(actions.MINUS_WEIGHT)
        self.hide()

    def weight_value(self) -> float:
        return self.weight.value() / 100.0

    def set_weight(self, w: float) -> None:
        self.weight.setValue(round(100 * w))
        self._show_weight()

    def _show_weight(self, *_a: Any) -> None:
        self.weight_label.setText(f"− weight {self.weight_value():.2f}")

    def _remove_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.remove_requested.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    def set_seeds(self, plus: list[tuple[int, str]], minus: list[tuple[int, str]]) -> None:
        """List the seeds; the pane hides when the mix is empty."""
        self.list.clear()
        for sign, colour, seeds in ((PLUS, PLUS_COLOUR, plus), (MINUS, MINUS_COLOUR, minus)):
            for track_id, text in seeds:
                item = QListWidgetItem(f"{sign}  {text}")
                item.setData(Qt.ItemDataRole.UserRole, track_id)
                item.setForeground(QColor(colour))
                self.list.addItem(item)
        self.weight.setEnabled(bool(minus))
        self.run_button.setEnabled(bool(plus))
        self.setVisible(bool(plus or minus))

    def seeds_shown(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]


class Mix(QObject):
    """The seeds of the mix, and the list they make."""

    #: a mix was shown (its SimilarResult)
    shown = Signal(object)

    def __init__(self, host: Host, dock: DetailsDock, panel: MixPanel, map_panel: MapPanel) -> None:
        super().__init__(panel)
        self.host, self.dock, self.panel, self.map_panel = host, dock, panel, map_panel
        self.plus: list[int] = []
        self.minus: list[int] = []
        self.weight = panel.weight_value()
        self._title = ""
        panel.run_requested.connect(lambda: self.run())
        panel.remove_requested.connect(self.remove)
        panel.clear_requested.connect(self.clear)
        panel.weight_changed.connect(self.set_weight)

    # -- the seeds -------------------------------------------------------------------------

    def add(self, ids: list[int] | None = None, sign: str = PLUS) -> None:
        """Add tracks (default: the selected ones) to the mix (``PLUS``) or subtract them."""
        ids = self.host.library.selected_track_ids() if ids is None else ids
        if not ids:
            self.host.flash("Select one or more tracks first.", 4000)
            return
        to, other = (self.plus, self.minus) if sign == PLUS else (self.minus, self.plus)
        for t in ids:
            if t in other:
                other.remove(t)
            if t not in to:
                to.append(t)
        self._changed()

    def remove(self, track_id: int) -> None:
        for seeds in (self.plus, self.minus):
            if track_id in seeds:
                seeds.remove(track_id)
        self._changed()

    def clear(self) -> None:
        self.plus, self.minus = [], []
        self._changed()
        if self._showing():
            self.host.library.close_results()

    def set_weight(self, w: float) -> None:
        """The weight of the − seeds; a mix on screen is made again with it."""
        self.weight = min(max(w, 0.0), 1.0)
        if self.panel.weight_value() != self.weight:
            self.panel.set_weight(self.weight)
        if self._showing() and self.plus:
            self.run()

    def _label(self, track_id: int) -> str:
        snap = self.host.data.snap
        row = snap.row_of(track_id)
        return snap.label(row) if row is not None else f"track {track_id}"

    def _changed(self) -> None:
        self.panel.set_seeds(
            [(t, self._label(t)) for t in self.plus], [(t, self._label(t)) for t in self.minus]
        )

    def _showing(self) -> bool:
        results = self.host.library.results
        return bool(self._title) and results is not None and results[0] == self._title

    # -- the list --------------------------------------------------------------------------

    def title(self) -> str:
        parts = [self._label(self.plus[0]) if self.plus else ""]
        if len(self.plus) > 1:
            parts.append(f"+{len(self.plus) - 1}")
        if self.minus:
            parts.append(f"− {self._label(self.minus[0])}")
            if len(self.minus) > 1:
                parts.append(f"−{len(self.minus) - 1}")
        return "Mix: " + " ".join(p for p in parts if p)

    def run(self, n: int = MIX_N) -> Job | None:
        """Make the mix's list in the background; it shows, ringed on the map, when it lands."""
        cat = self.host.cat
        if cat is None or not self.plus:
            self.host.flash("Add at least one track to the mix (+) first.", 4000)
            return None
        plus, minus, weight = list(self.plus), list(self.minus), self.weight
        return self.dock.ask_space(
            "mix",
            lambda space: actions.more_like_this(
                cat, plus, n, space, minus=minus, minus_weight=weight
            ),
            lambda found, _space: self._landed(plus, minus, found),
        )

    def _landed(
        self, plus: list[int], minus: list[int], found: actions.SimilarResult | str
    ) -> None:
        if isinstance(found, str):
            self.host.flash(f"Mix: {found}", 8000)
            return
        picks = [s.track_id for s in found.tracks]
        self._title = self.title()
        note = ""
        if minus:
            note = f"− weight {found.minus_weight:.2f}"
            if found.near_minus:
                note += f"; {found.near_minus} tracks close to the − ones left out"
        self.host.library.show_results(self._title, [*plus, *picks], note=note)
        snap = self.host.data.snap
        self.map_panel.set_preview(
            snap.rows_of(np.asarray(plus, dtype=np.int64)),
            snap.rows_of(np.asarray(minus, dtype=np.int64)),
            snap.rows_of(np.asarray(picks, dtype=np.int64)),
        )
        self.shown.emit(found)
