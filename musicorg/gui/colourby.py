"""Colouring the map by a number per track: a word's probability or score (any word of the
library's vocabulary), or a measure (tempo, brightness, energy), with a colour bar.

The numbers come from the app layer (:func:`musicorg.app.actions.word_scores`,
:func:`~musicorg.app.actions.measure_values`), fetched in the background by
:mod:`musicorg.gui.mapcolours` the first time and kept until the library changes. The map
draws them as :data:`STEPS` colours from dark blue to yellow between the 2nd and the 98th
percentile; tracks with no value are light grey.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from musicorg.app import actions
from musicorg.gui import theme

#: The colours of a scale, low to high (perceptually even, readable on white; the five
#: anchor colours of the "viridis" scale, a public-domain colour map).
ANCHORS = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
STEPS = 16
NO_VALUE_COLOUR = "#d6d6d6"
#: The map's colour modes that are numbers, and how the box names them.
MEASURE_MODES = [("tempo", "Tempo"), ("brightness", "Brightness"), ("energy", "Energy")]
WORD_MODE = ("word", "A word…")


def ramp(n: int = STEPS) -> list[str]:
    """``n`` colours evenly along the anchors."""
    anchors = np.array([[QColor(c).redF(), QColor(c).greenF(), QColor(c).blueF()] for c in ANCHORS])
    at = np.linspace(0, len(anchors) - 1, n)
    lo = np.floor(at).astype(int)
    hi = np.minimum(lo + 1, len(anchors) - 1)
    t = (at - lo)[:, None]
    rgb = anchors[lo] * (1 - t) + anchors[hi] * t
    return [QColor.fromRgbF(*(float(v) for v in c)).name() for c in rgb]


@dataclass
class Scale:
    """A number per snapshot row shown as colours: the step of each row (-1: no value), the
    range the steps span, and what the numbers are."""

    steps: np.ndarray  # int64 per row
    lo: float
    hi: float
    label: str
    unit: str

    def text(self, value: float) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.unit in ("BPM", "Hz"):
            return f"{value:,.0f}{unit}"
        return f"{value:.2f}{unit}"


def scale(values: np.ndarray, label: str, unit: str, n: int = STEPS) -> Scale:
    """The steps of ``values`` (one per snapshot row, NaN: none) between their 2nd and 98th
    percentile (0 to 1 for scores that are all 0 or 1)."""
    ok = np.isfinite(values)
    steps = np.full(len(values), -1, dtype=np.int64)
    if not ok.any():
        return Scale(steps, 0.0, 1.0, label, unit)
    lo, hi = (float(v) for v in np.percentile(values[ok], [2, 98]))
    if hi <= lo:
        lo, hi = float(values[ok].min()), float(values[ok].max())
    if hi <= lo:
        hi = lo + 1.0
    t = np.clip((values[ok] - lo) / (hi - lo), 0.0, 1.0)
    steps[ok] = np.minimum((t * n).astype(np.int64), n - 1)
    return Scale(steps, lo, hi, label, unit)


def per_row(ids: np.ndarray, found: actions.MapValues) -> np.ndarray:
    """The values of ``found`` per snapshot row (``ids``: the snapshot's ascending track ids),
    NaN for the rows it does not have."""
    out = np.full(len(ids), np.nan)
    if not len(ids) or not len(found.track_ids):
        return out
    pos = np.minimum(np.searchsorted(ids, found.track_ids), len(ids) - 1)
    hit = ids[pos] == found.track_ids
    out[pos[hit]] = found.values[hit]
    return out


class ColourBar(QWidget):
    """A vertical colour bar: high at the top, low at the bottom, and what it measures."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scale: Scale | None = None
        self.setFixedWidth(130)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.setAutoFillBackground(True)

    def set_scale(self, s: Scale | None) -> None:
        self.scale = s
        self.update()

    def labels(self) -> tuple[str, str, str]:
        """What it says: the title, the top value and the bottom one."""
        s = self.scale
        if s is None:
            return "", "", ""
        return s.label, s.text(s.hi), s.text(s.lo)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), theme.background())
        title, top, bottom = self.labels()
        if not title:
            return
        fm = painter.fontMetrics()
        line = fm.height()
        text_rect = QRectF(6, 4, self.width() - 10, 3 * line)
        painter.setPen(theme.ink())
        flags = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop) | int(
            Qt.TextFlag.TextWordWrap
        )
        painter.drawText(text_rect, flags, title)
        bar = QRectF(8, 8 + 3 * line, 18, max(40.0, self.height() - 4 * line - 24))
        gradient = QLinearGradient(bar.topLeft(), bar.bottomLeft())
        colours = ramp(STEPS)
        for i, c in enumerate(reversed(colours)):
            gradient.setColorAt(i / (len(colours) - 1), QColor(c))
        painter.fillRect(bar, gradient)
        painter.setPen(theme.muted())
        painter.drawRect(bar)
        painter.setPen(theme.ink())
        painter.drawText(int(bar.right()) + 6, int(bar.top()) + fm.ascent(), top)
        painter.drawText(int(bar.right()) + 6, int(bar.bottom()), bottom)
        # The grey of tracks with no value, below the bar.
        swatch = QRectF(bar.left(), bar.bottom() + 8, 18, 10)
        painter.fillRect(swatch, QColor(NO_VALUE_COLOUR))
        painter.drawText(int(swatch.right()) + 6, int(swatch.bottom()), "no value")
        painter.end()
