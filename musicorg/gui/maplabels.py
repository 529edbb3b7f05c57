"""Words on the map: each automatic playlist's region is labelled at its centre (the mean of its
tracks' map coordinates) with its top words, and hovering a region shows its explanation.

Labels never overlap. They are placed greedily, biggest playlist first: a label whose box
(in pixels, as drawn) meets one already placed, or leaves the view, is dropped. Zoomed out,
the regions crowd together and only the biggest keep their words; zoomed in, more fit. The
placement runs when the view stops moving (a short timer after the last range change), costs
a few milliseconds even for thousands of playlists, and never touches the points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QRectF, QTimer
from PySide6.QtGui import QFont, QFontMetricsF

if TYPE_CHECKING:
    import pyqtgraph as pg

#: Room (pixels) kept free around each label.
MARGIN = 3.0
#: How long the view stays still before the labels are placed again (ms).
SETTLE_MS = 120
#: Under the marks (highlight, selection, the track playing, a mix's rings), over the points.
LABEL_Z = 9


@dataclass
class Region:
    """An automatic playlist as the map shows it."""

    key: int  # the playlist id
    text: str  # its label: top 1-2 words
    summary: str  # its explanation in one line (the hover text)
    track_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def place(
    boxes: np.ndarray, priority: np.ndarray, bounds: tuple[float, float, float, float]
) -> np.ndarray:
    """Indices of the boxes kept, by decreasing priority: ``boxes`` (N, 4) as x0, y0, x1, y1,
    ``bounds`` the view's (x0, y0, x1, y1). A box is kept when it lies inside the bounds and
    meets no box kept before it (MARGIN apart). The kept boxes are filed in a grid of cells
    as big as the biggest box, so each candidate is checked against its neighbours only."""
    if not len(boxes):
        return np.zeros(0, dtype=np.int64)
    x0, y0, x1, y1 = bounds
    inside = (boxes[:, 0] >= x0) & (boxes[:, 1] >= y0) & (boxes[:, 2] <= x1) & (boxes[:, 3] <= y1)
    order = np.argsort(-priority, kind="stable")
    order = order[inside[order]]
    if not len(order):
        return np.zeros(0, dtype=np.int64)
    cw = float((boxes[order, 2] - boxes[order, 0]).max()) + 2 * MARGIN
    ch = float((boxes[order, 3] - boxes[order, 1]).max()) + 2 * MARGIN
    grid: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}
    out: list[int] = []
    for i, (bx0, by0, bx1, by1) in zip(order.tolist(), boxes[order].tolist(), strict=True):
        gx, gy = int(bx0 // cw), int(by0 // ch)
        clash = any(
            kx0 < bx1 + MARGIN and bx0 < kx1 + MARGIN and ky0 < by1 + MARGIN and by0 < ky1 + MARGIN
            for cx in (gx - 1, gx, gx + 1)
            for cy in (gy - 1, gy, gy + 1)
            for kx0, ky0, kx1, ky1 in grid.get((cx, cy), ())
        )
        if not clash:
            grid.setdefault((gx, gy), []).append((bx0, by0, bx1, by1))
            out.append(i)
    return np.asarray(out, dtype=np.int64)


def _rows_of(ids: np.ndarray, track_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions in ``ids`` (ascending) of those ``track_ids`` it holds, and which of
    ``track_ids`` those are (a mask)."""
    if not len(ids) or not len(track_ids):
        return np.zeros(0, dtype=np.int64), np.zeros(len(track_ids), dtype=bool)
    pos = np.minimum(np.searchsorted(ids, track_ids), len(ids) - 1)
    hit = ids[pos] == track_ids
    return pos[hit].astype(np.int64), hit


def overlapping(rects: list[QRectF]) -> list[tuple[int, int]]:
    """The pairs of rectangles that intersect (for the tests and a check by eye)."""
    return [
        (i, j)
        for i in range(len(rects))
        for j in range(i + 1, len(rects))
        if rects[i].intersects(rects[j])
    ]


class MapLabels(QObject):
    """The labels of the regions on one map (a pyqtgraph plot with its view box)."""

    def __init__(self, plot: pg.PlotWidget, view_box: pg.ViewBox) -> None:
        super().__init__(plot)
        self.plot, self.view_box = plot, view_box
        self.regions: list[Region] = []
        self.centres = np.zeros((0, 2))  # data coordinates, NaN: not on the map
        self.sizes = np.zeros((0, 2))  # label width, height in pixels
        self.priority = np.zeros(0)
        self.row_region = np.zeros(0, dtype=np.int64)  # region per snapshot row (-1: none)
        self.shown: np.ndarray = np.zeros(0, dtype=np.int64)  # regions labelled now
        self.enabled = True
        self.font = QFont()
        self.font.setBold(True)
        self.font.setPointSizeF(max(self.font.pointSizeF(), 9.0))
        self._items: list[Any] = []  # pg.TextItem
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self.layout)
        view_box.sigRangeChanged.connect(lambda *_a: self.layout_soon())
        view_box.sigResized.connect(lambda *_a: self.layout_soon())

    # -- data ----------------------------------------------------------------------------------

    def set_regions(self, regions: list[Region], ids: np.ndarray, xy: np.ndarray) -> None:
        """New regions over the map's points: ``ids`` the track id per snapshot row and ``xy``
        its coordinates (NaN: not on the map)."""
        self.regions = list(regions)
        k = len(regions)
        self.row_region = np.full(len(ids), -1, dtype=np.int64)
        lengths = np.array([len(r.track_ids) for r in regions], dtype=np.int64)
        members = (
            np.concatenate([r.track_ids for r in regions]).astype(np.int64)
            if k
            else np.zeros(0, dtype=np.int64)
        )
        which = np.repeat(np.arange(k, dtype=np.int64), lengths)
        rows, hit = _rows_of(ids, members)
        which = which[hit]
        self.row_region[rows] = which
        pts = xy[rows] if len(rows) else np.zeros((0, 2))
        ok = np.isfinite(pts).all(axis=1)
        count = np.bincount(which[ok], minlength=k).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            centres = np.column_stack(
                [np.bincount(which[ok], weights=pts[ok, d], minlength=k) / count for d in (0, 1)]
            ).reshape(k, 2)
        self.centres = centres
        metrics = QFontMetricsF(self.font)
        self.sizes = np.array(
            # As a TextItem draws it: its document keeps 4 px around the text.
            [(metrics.horizontalAdvance(r.text) + 8, metrics.height() + 8) for r in regions],
            dtype=np.float64,
        ).reshape(-1, 2)
        self.priority = np.array([len(r.track_ids) for r in regions], dtype=np.float64)
        self.layout()

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        self.layout()

    def region_of_row(self, row: int) -> Region | None:
        if 0 <= row < len(self.row_region) and self.row_region[row] >= 0:
            return self.regions[int(self.row_region[row])]
        return None

    # -- placement -----------------------------------------------------------------------------

    def layout_soon(self) -> None:
        """Place the labels once the view has settled."""
        self._timer.start()

    def _to_pixels(self, pts: np.ndarray) -> np.ndarray:
        """Data coordinates to the view box's pixels (y down)."""
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        rect = self.view_box.boundingRect()
        w, h = max(rect.width(), 1.0), max(rect.height(), 1.0)
        px = (pts[:, 0] - x0) / max(x1 - x0, 1e-12) * w
        py = (y1 - pts[:, 1]) / max(y1 - y0, 1e-12) * h
        return np.column_stack([px, py])

    def boxes(self) -> np.ndarray:
        """Each region's label box in the view box's pixels (x0, y0, x1, y1), centred on its
        centre; NaN for a region not on the map."""
        centre = self._to_pixels(self.centres) if len(self.centres) else np.zeros((0, 2))
        half = self.sizes / 2
        return np.column_stack([centre - half, centre + half])

    def layout(self) -> None:
        """Place the labels for the view as it is now."""
        self._timer.stop()
        if not self.enabled or not len(self.regions) or not self.plot.isVisible():
            self.shown = np.zeros(0, dtype=np.int64)
        else:
            rect = self.view_box.boundingRect()
            boxes = self.boxes()
            ok = np.isfinite(boxes).all(axis=1)
            boxes = np.where(ok[:, None], boxes, -1e9)
            self.shown = place(boxes, self.priority, (0.0, 0.0, rect.width(), rect.height()))
        self._draw()

    def _draw(self) -> None:
        # lazy: pyqtgraph comes with the map view (0.3 s of start-up); Region needs none of it
        import pyqtgraph as pg

        while len(self._items) < len(self.shown):
            item = pg.TextItem("", anchor=(0.5, 0.5), color="#1b1b1b", fill=(255, 255, 255, 200))
            item.setFont(self.font)
            item.setZValue(LABEL_Z)
            self.plot.addItem(item, ignoreBounds=True)
            self._items.append(item)
        for item, k in zip(self._items, self.shown, strict=False):
            region = self.regions[int(k)]
            item.setText(region.text)
            item.setToolTip(region.summary)
            item.setPos(float(self.centres[k, 0]), float(self.centres[k, 1]))
            item.show()
        for item in self._items[len(self.shown) :]:
            item.hide()

    # -- what the user sees --------------------------------------------------------------------

    def items(self) -> list[Any]:
        """The labels drawn now."""
        return self._items[: len(self.shown)]

    def scene_rects(self) -> list[QRectF]:
        """The drawn labels' rectangles in scene coordinates."""
        return [item.sceneBoundingRect() for item in self.items()]

    def at(self, scene_x: float, scene_y: float) -> Region | None:
        """The region whose label is under this scene point."""
        for item, k in zip(self.items(), self.shown, strict=False):
            if item.sceneBoundingRect().contains(scene_x, scene_y):
                return self.regions[int(k)]
        return None

    def texts(self) -> list[str]:
        return [self.regions[int(k)].text for k in self.shown]
