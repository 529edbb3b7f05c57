"""The map's point layers (:class:`musicorg.gui.mappoints.PointCloud`) paint what pyqtgraph's
ScatterPlotItem paints for points of one look, pixel for pixel, and tell the view box the same
bounds; NaN points are left out; a layer is emptied and refilled as the map recolours."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

import pyqtgraph as pg
from PySide6.QtGui import QImage, QPainter

from musicorg.gui.mappoints import PointCloud


def plot(qtbot: Any, item: Any) -> pg.PlotWidget:
    w = pg.PlotWidget(background="w")
    qtbot.addWidget(w)
    w.hideButtons()
    for axis in ("left", "bottom"):
        w.getPlotItem().hideAxis(axis)
    w.resize(400, 300)
    w.addItem(item)
    w.show()
    return w


def pixels(w: pg.PlotWidget, rng: tuple[float, float, float, float]) -> np.ndarray:
    w.getPlotItem().setRange(xRange=rng[:2], yRange=rng[2:], padding=0)
    image = QImage(400, 300, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    p = QPainter(image)
    w.render(p)
    p.end()
    return np.frombuffer(image.constBits(), dtype=np.uint8).reshape(300, 400, 4).copy()


LOOKS = [
    {"size": 6, "pen": None, "brush": "#4e79a7"},
    {"size": 11, "pen": pg.mkPen("#000000", width=2), "brush": "#ffd400"},
    {"size": 20, "symbol": "s", "pen": pg.mkPen("#c62828", width=3), "brush": (0, 0, 0, 0)},
]


@pytest.mark.parametrize("look", LOOKS, ids=["layer", "selection", "square ring"])
def test_points_paint_as_pyqtgraphs_scatter_does(qtbot: Any, look: dict[str, Any]) -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=400), rng.normal(size=400)
    ours = PointCloud(**look)
    theirs = pg.ScatterPlotItem(pxMode=True, **look)
    ours.setData(x=x, y=y)
    theirs.setData(x=x, y=y)
    a, b = plot(qtbot, ours), plot(qtbot, theirs)
    for view in [(-3.0, 3.0, -3.0, 3.0), (-0.5, 0.7, -0.2, 0.4)]:  # all, and zoomed in
        mine, ref = pixels(a, view), pixels(b, view)
        assert (mine != 255).any()  # points were painted
        assert np.array_equal(mine, ref)
    # The view box fits both alike: the same data bounds and pixel padding.
    for ax, values in enumerate((x, y)):
        assert ours.dataBounds(ax) == (values.min(), values.max()) == theirs.dataBounds(ax)
    assert ours.pixelPadding() >= theirs.pixelPadding()


def test_nan_points_are_not_drawn_and_a_layer_empties_and_refills(qtbot: Any) -> None:
    layer = PointCloud(size=6, brush="#e15759")
    w = plot(qtbot, layer)
    layer.setData(x=np.array([0.0, np.nan, 1.0]), y=np.array([0.0, 5.0, np.nan]))
    assert layer.dataBounds(0) == (0.0, 0.0) and layer.dataBounds(1) == (0.0, 0.0)
    assert len(layer.getData()[0]) == 3
    layer.clear()
    assert len(layer) == 0 and layer.dataBounds(0) == (None, None)
    assert layer.boundingRect().isNull()
    empty = pixels(w, (-1.0, 1.0, -1.0, 1.0))
    assert (empty == 255).all()  # nothing painted on the white background
    layer.setData(x=[0.0], y=[0.0], brush="#59a14f")
    assert layer.opts["brush"].color().name() == "#59a14f"
    one = pixels(w, (-1.0, 1.0, -1.0, 1.0))
    green = (one[..., 1] > 120) & (one[..., 2] < 120) & (one[..., 0] < 120)  # BGRA
    assert 10 < int(green.sum()) < 60  # one point of 6 px
    with pytest.raises(ValueError):
        layer.setData(x=[0.0, 1.0], y=[0.0])
