"""Points of one look on the map: one symbol, size, pen and brush for all of them, drawn in
one call of ``QPainter.drawPixmapFragments`` from a symbol rendered once.

pyqtgraph's ScatterPlotItem lets each point have its own look, so it keeps a record per point
with Python objects in it: filling that record costs about half a microsecond a point on the
UI thread (a tenth of a second for the 200,000 points of a big map, at every recolour). Here a
point is its two coordinates and nothing else, so giving a layer its points costs what copying
two arrays costs, and painting costs what pyqtgraph's cached path costs (map the visible
points to pixels, then one draw call)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.ScatterPlotItem import renderSymbol
from pyqtgraph.Qt.internals import PrimitiveArray
from PySide6.QtCore import QRectF
from PySide6.QtGui import QPainter, QPixmap

#: Half the diagonal of a unit square: how far a symbol of size s reaches, s times this.
_REACH = 0.7072


class PointCloud(pg.GraphicsObject):  # type: ignore[misc]
    """A layer of points that all look alike. ``opts`` holds the look ("symbol", "size",
    "pen", "brush"); :meth:`setData`, :meth:`getData` and :meth:`clear` work as
    ScatterPlotItem's do for such points. Clicks pass through to the map, which picks the
    nearest point itself."""

    def __init__(
        self, *, size: float = 6, symbol: str = "o", pen: Any = None, brush: Any = None
    ) -> None:
        super().__init__()
        self.opts: dict[str, Any] = {
            "size": float(size),
            "symbol": symbol,
            "pen": pg.mkPen(pen),
            "brush": pg.mkBrush(brush),
        }
        self._x = np.zeros(0)
        self._y = np.zeros(0)
        self._bounds: tuple[float, float, float, float] | None = None
        self._symbol: tuple[float, QPixmap] | None = None  # (device pixel ratio, pixmap)
        self._frags = PrimitiveArray(QPainter.PixmapFragment, 10)

    # --- data -----------------------------------------------------------------------------

    def setData(self, x: Any, y: Any, brush: Any = None) -> None:
        """The points (their coordinates; NaN ones are not drawn), and their brush if given."""
        self._x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        self._y = np.ascontiguousarray(y, dtype=np.float64).reshape(-1)
        if len(self._x) != len(self._y):
            raise ValueError("x and y differ in length")
        self._bounds = None
        finite = np.isfinite(self._x) & np.isfinite(self._y)
        if finite.any():
            xs, ys = self._x[finite], self._y[finite]
            self._bounds = (float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max()))
        if brush is not None:
            self.setBrush(brush)
        self._changed()

    def getData(self) -> tuple[np.ndarray, np.ndarray]:
        return self._x, self._y

    def clear(self) -> None:
        self.setData(np.zeros(0), np.zeros(0))

    def setBrush(self, brush: Any) -> None:
        self.opts["brush"] = pg.mkBrush(brush)
        self._symbol = None
        self.update()

    def __len__(self) -> int:
        return len(self._x)

    def _changed(self) -> None:
        self.prepareGeometryChange()
        self.informViewBoundsChanged()
        self.update()

    # --- what the view box asks -----------------------------------------------------------

    def dataBounds(
        self,
        ax: int,
        frac: float = 1.0,
        orthoRange: Any = None,
    ) -> tuple[float | None, float | None]:
        if self._bounds is None:
            return (None, None)
        if frac >= 1.0 and orthoRange is None:
            return self._bounds[2 * ax : 2 * ax + 2]  # type: ignore[return-value]
        d, other = (self._x, self._y) if ax == 0 else (self._y, self._x)
        keep = np.isfinite(d)
        if orthoRange is not None:
            keep &= (other >= orthoRange[0]) & (other <= orthoRange[1])
        d = d[keep]
        if not len(d):
            return (None, None)
        lo, hi = np.percentile(d, [50 * (1 - min(frac, 1.0)), 50 * (1 + min(frac, 1.0))])
        return (float(lo), float(hi))

    def pixelPadding(self) -> float:
        return float(self.opts["size"] + self.opts["pen"].widthF()) * _REACH

    def boundingRect(self) -> QRectF:
        if self._bounds is None:
            return QRectF()
        x0, x1, y0, y1 = self._bounds
        px = py = 0.0
        vectors = self.pixelVectors()
        if vectors[0] is not None:
            pad = self.pixelPadding()
            px, py = vectors[0].length() * pad, vectors[1].length() * pad
        return QRectF(x0 - px, y0 - py, x1 - x0 + 2 * px, y1 - y0 + 2 * py)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()
        super().viewTransformChanged()

    # --- painting -------------------------------------------------------------------------

    def _pixmap(self, dpr: float) -> QPixmap:
        """The symbol, rendered for this device pixel ratio (kept until the look changes)."""
        if self._symbol is None or self._symbol[0] != dpr:
            o = self.opts
            image = renderSymbol(o["symbol"], o["size"], o["pen"], o["brush"], dpr=dpr)
            self._symbol = (dpr, QPixmap.fromImage(image))
        return self._symbol[1]

    def paint(self, p: QPainter, option: Any, widget: Any = None) -> None:
        if not len(self._x):
            return
        t = p.transform()
        px = t.m11() * self._x + t.m21() * self._y + t.dx()
        py = t.m12() * self._x + t.m22() * self._y + t.dy()
        device = p.device()
        reach = math.ceil(self.pixelPadding()) + 1
        width = device.width() if device is not None else 0
        height = device.height() if device is not None else 0
        shown = (px > -reach) & (py > -reach) & (px < width + reach) & (py < height + reach)
        n = int(np.count_nonzero(shown))
        if not n:
            return
        dpr = (
            float(widget.devicePixelRatioF())
            if widget is not None
            else p.device().devicePixelRatioF()
        )
        pixmap = self._pixmap(dpr)
        self._frags.resize(n)
        frags = self._frags.ndarray()
        frags[:, 0] = px[shown]
        frags[:, 1] = py[shown]
        frags[:, 2:6] = (0.0, 0.0, pixmap.width(), pixmap.height())
        frags[:, 6:10] = (1 / dpr, 1 / dpr, 0.0, 1.0)
        p.resetTransform()
        p.drawPixmapFragments(*self._frags.drawargs(), pixmap)  # type: ignore[call-arg]
