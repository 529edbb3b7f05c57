"""The library map: one point per track (a pyqtgraph plot), coloured by group, genre or
year, with a legend of at most 20 entries, or by a number (a word's probability, tempo,
brightness, energy) with a colour bar; unknown values ("No genre", "Unknown year") are grey,
and the legend is in natural order with them last. Hover names the track and its region; a
click picks it; a lasso or a rectangle picks many. As in image editors, Shift adds to the
selection, Ctrl takes away from it (a Ctrl+click toggles one point), both together keep what
is in both. "Fit all" (F, Home) shows every point; "Reset" (0) also goes back to panning; a
right click offers these, the region's tracks, the track's "More like this" and "Play" (when
the window offers them) and the colourings. Points of the table's selection, and of the shown
playlist or search hits, are drawn on top; missing tracks are grey. Each automatic playlist's
region is labelled with its top words, or its group's when zoomed out
(:mod:`musicorg.gui.maplabels`), and a mix being previewed rings its + seeds, − seeds and
picks, each with its own mark.

A library of more than :data:`~musicorg.gui.mapframe.MAX_POINTS` tracks is drawn as a sample
of that many points (:func:`~musicorg.gui.mapframe.sample_rows`: the same tracks from one
reload to the next); the bar says so ("Showing 200,000 of 1,000,000 tracks"). Clicks, lassos
and the legend work on the points drawn, each still a real track; the selection, the
highlight and the track playing are drawn wherever their tracks lie.

What is drawn (the sample, the k-d tree that finds the point under the mouse, the colour of
each point) is worked out by :mod:`musicorg.gui.mapframe`, in a worker thread from
:data:`BACKGROUND_FROM` tracks on; each colour is one layer of points that look alike
(:class:`~musicorg.gui.mappoints.PointCloud`), so the UI thread only hands arrays over.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QMetaMethod, QObject, QPoint, QPointF, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QContextMenuEvent,
    QKeySequence,
    QMouseEvent,
    QPainterPath,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsPathItem,
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from musicorg.gui import shortcuts, theme
from musicorg.gui.colourby import (
    MEASURE_MODES,
    NO_VALUE_COLOUR,
    STEPS,
    WORD_MODE,
    ColourBar,
    Scale,
    ramp,
)
from musicorg.gui.latest import Latest
from musicorg.gui.mapframe import (
    MISSING_COLOUR,
    OTHER_COLOUR,
    SCALE_MODES,
    Frame,
    Layers,
    Points,
    frame,
    legend_colours,
)
from musicorg.gui.maplabels import GROUP, MapLabels, Region
from musicorg.gui.mappoints import PointCloud
from musicorg.gui.snapshot import Snapshot

#: From this many tracks on, the map's points and colours are worked out in a worker thread
#: (:func:`~musicorg.gui.mapframe.frame`), and the map draws them when they are ready.
BACKGROUND_FROM = 50_000


def missing_colour() -> str:
    """Missing tracks: faint on a light map, and dim rather than bright on a dark one."""
    return theme.dimmed().name() if theme.is_dark() else MISSING_COLOUR


#: What a drag or a click does to the selection, by the keys held (as in image editors).
REPLACE, ADD, REMOVE, INTERSECT = "replace", "add", "remove", "intersect"
#: The pen of the lasso or rectangle being drawn, by what it will do.
SHAPE_COLOURS = {REPLACE: "#0060c0", ADD: "#1a7f37", REMOVE: "#c62828", INTERSECT: "#7b3fb0"}
COLOUR_MODES = [("group", "Group"), ("genre", "Genre tag"), ("year", "Year")]
#: The marks of a previewed mix: + seeds, − seeds, picks (colour, symbol, size, pen width).
PREVIEW_MARKS = {
    "plus": ("#1a7f37", "o", 22, 3.0),
    "minus": ("#c62828", "s", 20, 3.0),
    "picks": ("#1f5fbf", "o", 13, 2.0),
}


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Boolean mask of POINTS (N,2) inside POLYGON (M,2), even-odd rule, vectorised over N."""
    inside = np.zeros(len(points), dtype=bool)
    if len(polygon) < 3 or not len(points):
        return inside
    x, y = points[:, 0], points[:, 1]
    xj, yj = polygon[-1]
    for xi, yi in polygon:
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < at)
        xj, yj = xi, yi
    return inside


def selection_op(modifiers: Qt.KeyboardModifier) -> str:
    """What a pick does with these keys held: Shift adds, Ctrl takes away, both intersect."""
    shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
    ctrl = bool(modifiers & Qt.KeyboardModifier.ControlModifier)
    if shift and ctrl:
        return INTERSECT
    return ADD if shift else REMOVE if ctrl else REPLACE


def combine(current: np.ndarray, picked: np.ndarray, op: str) -> np.ndarray:
    """The selection after a pick of ``picked`` rows with ``op`` (sorted, unique rows)."""
    current = np.asarray(current, dtype=np.int64)
    picked = np.asarray(picked, dtype=np.int64)
    if op == ADD:
        out = np.union1d(current, picked)
    elif op == REMOVE:
        out = np.setdiff1d(current, picked)
    elif op == INTERSECT:
        out = np.intersect1d(current, picked)
    else:
        out = np.unique(picked)
    return out.astype(np.int64)


class _MapViewBox(pg.ViewBox):
    def __init__(self, owner: MapView) -> None:
        super().__init__()
        self.owner = owner

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if self.owner.mode == "pan" or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        pos = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            # The keys held when the button went down (or now) say what the shape does.
            keys = ev.modifiers() | self.owner.press_modifiers
            self.owner._shape_begin(self.mapSceneToView(ev.buttonDownScenePos()), keys)
        self.owner._shape_extend(pos)
        if ev.isFinish():
            self.owner._shape_finish()

    def mouseClickEvent(self, ev: Any) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.owner._clicked(self.mapSceneToView(ev.scenePos()), ev.modifiers())
            return
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            self.owner.open_menu(ev.scenePos(), ev.screenPos().toPoint())
            return
        super().mouseClickEvent(ev)


class MapView(QWidget):
    #: snapshot rows picked by a lasso or a rectangle
    area_selected = Signal(object)
    #: snapshot row picked by a click
    point_clicked = Signal(int)
    #: a click with Shift or Ctrl: the snapshot rows selected now
    rows_clicked = Signal(object)
    #: "More like this" for a snapshot row (offered when connected)
    more_like_requested = Signal(int)
    #: "Play" for a snapshot row (offered when connected)
    play_requested = Signal(int)
    #: colour by a number: the mode (tempo, brightness, energy, word) and the word's key
    colour_requested = Signal(str, str)
    #: the list of words to colour by is wanted
    words_wanted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: What is drawn (the points of a snapshot); its snapshot, coordinates, groups, rows
        #: drawn, sample and k-d tree are the properties below.
        self.points: Points = frame(Snapshot.empty(), np.zeros((0, 2)), None, "group", None).points
        #: The data last given (snapshot, xy, groups): drawn, or being worked out.
        self._want: tuple[Snapshot, np.ndarray, np.ndarray | None] = (
            self.points.snap,
            self.points.xy,
            None,
        )
        self._waiting = False  # the points of the data last given are not drawn yet
        self._frames = Latest(self, "map-frame", self._show)
        self.mode = "pan"
        self.colour_mode = "group"
        self.legend_names: list[str] = []
        self._shape: list[tuple[float, float]] = []
        self._shape_kind = "lasso"
        self.selected_rows = np.zeros(0, dtype=np.int64)
        self.highlight_rows = np.zeros(0, dtype=np.int64)
        self.playing_rows = np.zeros(0, dtype=np.int64)  # the track playing (one row or none)
        self.scale: Scale | None = None  # the colouring by a number, per snapshot row
        self.word = ""  # the word key coloured by
        self.regions: list[Region] = []
        self.press_modifiers = Qt.KeyboardModifier.NoModifier  # when a button last went down
        self._shape_op = REPLACE
        self.menu: QMenu | None = None  # the context menu last opened
        #: Whether the window offers an action of a point (its signal's name).
        self.offered: Callable[[str], bool] = self._connected

        self._build_actions()
        bar = self._build_bar()
        self._build_plot()
        # The legend sits beside the plot, so it never hides points.
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        theme.style(
            self.legend, lambda: f"background: {theme.css(theme.background())}; padding: 6px"
        )
        self.legend_colours: list[str] = []
        self.empty_label = QLabel(
            "No map yet. It appears once the library is analysed (Library → Analyse)."
        )
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.colour_bar = ColourBar()
        self.labels = MapLabels(self.plot, self.view_box)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.setSpacing(4)
        body = QHBoxLayout()
        body.setSpacing(0)
        body.addWidget(self.plot, 1)
        body.addWidget(self.legend)
        body.addWidget(self.colour_bar)
        layout.addLayout(body, 1)
        layout.addWidget(self.empty_label)
        self.plot.hide()
        self.legend.hide()
        self.colour_bar.hide()

    def _build_actions(self) -> None:
        """Fit all and Reset, with their keys while the map has the focus."""
        self.fit_action = QAction("Fit all", self)
        self.fit_action.setShortcuts([QKeySequence(k) for k in shortcuts.MAP_KEYS["Fit all"]])
        self.fit_action.setToolTip("Show every point (F or Home)")
        self.fit_action.triggered.connect(self.fit_all)
        self.reset_action = QAction("Reset", self)
        self.reset_action.setShortcuts([QKeySequence(k) for k in shortcuts.MAP_KEYS["Reset"]])
        self.reset_action.setToolTip("Show every point and go back to panning (0)")
        self.reset_action.triggered.connect(self.reset_view)
        for action in (self.fit_action, self.reset_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)

    def _build_bar(self) -> QVBoxLayout:
        """Colour by, the picking modes (pan, lasso, rectangle), fit and reset, and the count
        of points."""
        self.colour_box = QComboBox()
        for key, label in [*COLOUR_MODES, *MEASURE_MODES, WORD_MODE]:
            self.colour_box.addItem(label, key)
        self.colour_box.insertSeparator(len(COLOUR_MODES))
        self.colour_box.currentIndexChanged.connect(
            lambda _i: self.set_colour_mode(str(self.colour_box.currentData()))
        )
        # The words of the library (filled when "A word…" is first chosen); typing finds one.
        self.word_box = QComboBox()
        self.word_box.setEditable(True)
        self.word_box.setMinimumWidth(170)
        self.word_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        edit = self.word_box.lineEdit()
        if edit is not None:
            edit.setPlaceholderText("a word: jazz, mellow, fast…")
        self.word_box.activated.connect(lambda _i: self._word_chosen())
        self.word_box.hide()
        self.words_check = QCheckBox("Words")
        self.words_check.setToolTip("Label each playlist's region with its top words")
        self.words_check.setChecked(True)
        self.words_check.toggled.connect(lambda on: self.labels.set_enabled(on))
        self.preview_label = QLabel("")
        self.preview_label.setTextFormat(Qt.TextFormat.RichText)
        self.info = QLabel("")
        self.tools = self._build_tools()
        # One row; the tools go to a second one when the map is too narrow for both.
        self.bar_row, self.tools_row = QHBoxLayout(), QHBoxLayout()
        self.colour_label = QLabel("Colour by")
        for w in (self.colour_label, self.colour_box, self.word_box, self.words_check):
            self.bar_row.addWidget(w)
        self.bar_row.addSpacing(12)
        self.bar_row.addWidget(self.tools)
        self.bar_row.addStretch(1)
        self.bar_row.addWidget(self.preview_label)
        self.bar_row.addSpacing(8)
        self.bar_row.addWidget(self.info)
        self.tools_row.addStretch(1)
        bar = QVBoxLayout()
        bar.addLayout(self.bar_row)
        bar.addLayout(self.tools_row)
        return bar

    def _build_tools(self) -> QWidget:
        """The picking modes (pan, lasso, rectangle), fit all and reset."""
        tools = QWidget()
        row = QHBoxLayout(tools)
        row.setContentsMargins(0, 0, 0, 0)
        self.mode_buttons: dict[str, QToolButton] = {}
        add = "; Shift adds to the selection, Ctrl takes away"
        for key, label, tip in [
            ("pan", "Pan", "Drag to move, wheel to zoom; Shift+click adds a track"),
            ("lasso", "Lasso", "Draw around tracks to pick them" + add),
            ("rect", "Rectangle", "Drag a rectangle to pick tracks" + add),
        ]:
            b = QToolButton()
            b.setText(label)
            b.setToolTip(tip)
            b.setCheckable(True)
            b.setAutoExclusive(True)
            b.clicked.connect(lambda _c=False, k=key: self.set_mode(k))
            row.addWidget(b)
            self.mode_buttons[key] = b
        self.mode_buttons["pan"].setChecked(True)
        row.addSpacing(12)
        self.view_buttons: dict[str, QToolButton] = {}
        for key, action in (("fit", self.fit_action), ("reset", self.reset_action)):
            b = QToolButton()
            b.setDefaultAction(action)
            row.addWidget(b)
            self.view_buttons[key] = b
        return tools

    def _arrange_bar(self) -> None:
        """The tools in the first row when it has room for them, else in a second row."""
        parts = (self.colour_label, self.colour_box, self.word_box, self.words_check)
        shown = [w for w in (*parts, self.preview_label, self.info) if not w.isHidden()]
        need = sum(w.sizeHint().width() + 6 for w in shown) + self.tools.sizeHint().width() + 40
        one_row = need <= self.width()
        if one_row == (self.bar_row.indexOf(self.tools) >= 0):
            return
        if one_row:
            self.tools_row.removeWidget(self.tools)
            self.bar_row.insertWidget(self.bar_row.indexOf(self.words_check) + 2, self.tools)
        else:
            self.bar_row.removeWidget(self.tools)
            self.tools_row.insertWidget(0, self.tools)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._arrange_bar()

    def _build_plot(self) -> None:
        """The plot, its overlays (highlight, selection), the hover label and the lasso."""
        self.view_box = _MapViewBox(self)
        self.plot = pg.PlotWidget(viewBox=self.view_box, background=theme.background())
        theme.follow(self.plot, lambda _w: self.plot.setBackground(theme.background()))
        self.plot.setMenuEnabled(False)
        self.plot.installEventFilter(self)
        self.plot.viewport().installEventFilter(self)
        self.plot.hideButtons()
        self.plot.setAspectLocked(False)
        for axis in ("left", "bottom"):
            self.plot.getPlotItem().hideAxis(axis)
        # One layer per colour (legend entry), each with one look for all its points: far
        # cheaper to fill and to recolour than a look per point.
        self.layers: list[PointCloud] = []
        self.high_scatter = PointCloud(
            size=9, pen=pg.mkPen(theme.ink(), width=1.2), brush=pg.mkBrush(0, 0, 0, 0)
        )
        self.sel_scatter = PointCloud(
            size=11, pen=pg.mkPen("#000000", width=2), brush=pg.mkBrush("#ffd400")
        )
        # The track playing: a wide red ring around its point, above the selection.
        self.play_scatter = PointCloud(
            size=20, pen=pg.mkPen("#e0001b", width=3), brush=pg.mkBrush(0, 0, 0, 0)
        )
        self.high_scatter.setZValue(10)
        self.sel_scatter.setZValue(11)
        self.play_scatter.setZValue(12)
        for item in (self.high_scatter, self.sel_scatter, self.play_scatter):
            self.plot.addItem(item)
        # A previewed mix: its + seeds, − seeds and picks, each ringed with its own mark.
        self.preview: dict[str, pg.ScatterPlotItem] = {}
        self.preview_rows: dict[str, np.ndarray] = {}
        for z, (key, (colour, symbol, size, width)) in enumerate(PREVIEW_MARKS.items()):
            item = PointCloud(
                size=size,
                symbol=symbol,
                pen=pg.mkPen(colour, width=width),
                brush=pg.mkBrush(0, 0, 0, 0),
            )
            item.setZValue(14 - z)
            self.plot.addItem(item)
            self.preview[key] = item
            self.preview_rows[key] = np.zeros(0, dtype=np.int64)
        self.hover_label = pg.TextItem(
            "", anchor=(0, 1), color=theme.tooltip_text(), fill=theme.tooltip_fill()
        )
        self.hover_label.setZValue(100)
        self.hover_label.hide()
        self.plot.addItem(self.hover_label, ignoreBounds=True)
        self.shape_item = QGraphicsPathItem()
        pen = QPen(QColor("#0060c0"))
        pen.setCosmetic(True)
        pen.setWidthF(1.5)
        pen.setStyle(Qt.PenStyle.DashLine)
        self.shape_item.setPen(pen)
        self.shape_item.setZValue(90)
        self.plot.addItem(self.shape_item, ignoreBounds=True)
        self._proxy = pg.SignalProxy(
            self.plot.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved
        )

    # --- data -----------------------------------------------------------------------------

    def set_data(
        self,
        snap: Snapshot,
        xy: np.ndarray,
        groups: np.ndarray | None,
        regions: list[Region] | None = None,
    ) -> None:
        """XY (len(snap), 2): coordinates per snapshot row, NaN where a track has none; the
        regions to label over them, when they change too (their labels are placed once). A
        map of :data:`BACKGROUND_FROM` tracks or more is worked out in a worker thread and
        drawn when it is ready (:meth:`busy` until then): the points drawn before stay, and
        what is picked on them waits."""
        if regions is not None:
            self.regions = list(regions)
        self._want = (snap, xy, groups)
        self._waiting = True
        empty = np.zeros(0, dtype=np.int64)
        self.selected_rows = self.highlight_rows = self.playing_rows = empty
        self.clear_preview()
        if self.colour_mode in SCALE_MODES:
            self.scale = None  # for the rows of the old snapshot: asked for again
            self.colour_requested.emit(self.colour_mode, self.word)
        self._request(None)

    def busy(self) -> bool:
        """Whether what was last given is still being worked out in the worker."""
        return self._frames.busy()

    def _request(self, known: Points | None) -> None:
        """Work out the frame of the data last given in the colouring shown (``known``: its
        points, when they are drawn already): at once for a small map, else in the worker."""
        snap, xy, groups = self._want
        args = (snap, xy, groups, self.colour_mode, self.scale, known)
        if len(snap) < BACKGROUND_FROM:
            self._frames.drop()  # what the worker brings now is stale
            self._show(frame(*args))
        else:
            self._frames.submit(frame, *args)

    def _show(self, fr: Frame) -> None:
        """Draw ``fr``: its colours, and when its points are new, them with the marks and the
        regions' labels over them."""
        new = fr.points is not self.points
        first = new and not len(self.points.rows)
        self.points = fr.points
        if new:
            self._waiting = False
            has = bool(len(self.rows))
            self.plot.setVisible(has)
            self.legend.setVisible(has)
            self.empty_label.setVisible(not has)
            self._draw_overlay(self.sel_scatter, self.selected_rows)
            self._draw_overlay(self.high_scatter, self.highlight_rows)
            self._draw_overlay(self.play_scatter, self.playing_rows)
            for key, item in self.preview.items():
                self._draw_overlay(item, self.preview_rows[key])
        self._draw_layers(fr.layers)
        if first and len(self.rows):
            self.plot.getPlotItem().autoRange()
        self._show_count()
        if new:
            self.labels.set_regions(self.regions, self.snap.ids, self.xy, self.groups)

    # The points drawn, as the rest of the map reads them.

    @property
    def snap(self) -> Snapshot:
        return self.points.snap

    @property
    def xy(self) -> np.ndarray:
        """Per snapshot row; NaN: not on the map."""
        return self.points.xy

    @property
    def groups(self) -> np.ndarray | None:
        return self.points.groups

    @property
    def rows(self) -> np.ndarray:
        """The snapshot rows drawn."""
        return self.points.rows

    @property
    def placed(self) -> int:
        """The tracks on the map: more than drawn when sampled."""
        return self.points.placed

    @property
    def drawn(self) -> np.ndarray | None:
        """Per snapshot row, whether drawn (only when sampled)."""
        return self.points.drawn

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.labels.layout_soon()

    def point_count(self) -> int:
        """The points drawn (at most MAX_POINTS)."""
        return len(self.rows)

    def _show_count(self) -> None:
        """The count of tracks on the map in the bar; of a sample, how many are drawn."""
        if not len(self.rows):
            self.info.setText("")
            self.info.setToolTip("")
        elif self.drawn is None:
            self.info.setText(f"{len(self.rows)} tracks on the map")
            self.info.setToolTip("")
        else:
            self.info.setText(f"Showing {len(self.rows):,} of {self.placed:,} tracks")
            self.info.setToolTip(
                f"The map draws a sample of {len(self.rows):,} of the {self.placed:,} tracks on "
                "it (the same ones each time). A click, a lasso or a rectangle picks among the "
                "points drawn; the table lists every track."
            )

    def set_colour_mode(self, mode: str, word: str | None = None) -> None:
        """Colour by a category (group, genre, year) or by a number (tempo, brightness,
        energy, or ``word``'s probability: the numbers are asked for, and drawn when they
        come, :meth:`set_values`)."""
        self.colour_mode = mode
        i = self.colour_box.findData(mode)
        if i >= 0 and i != self.colour_box.currentIndex():
            self.colour_box.blockSignals(True)
            self.colour_box.setCurrentIndex(i)
            self.colour_box.blockSignals(False)
        self.word_box.setVisible(mode == "word")
        self._arrange_bar()
        if word is not None:
            self.word = word
        if mode not in SCALE_MODES:
            self.scale = None
            self.recolour()
            return
        if mode == "word" and not self.word_box.count():
            self.words_wanted.emit()
        if mode == "word" and not self.word:
            self.word_box.setFocus()
            return  # a word first
        self.scale = None
        self.info.setText("colouring…")
        self.colour_requested.emit(mode, self.word)

    def set_word_choices(self, words: list[tuple[str, str]]) -> None:
        """The words to colour by: (key, label), in the order shown."""
        self.word_box.blockSignals(True)
        self.word_box.clear()
        for key, label in words:
            self.word_box.addItem(label, key)
        i = self.word_box.findData(self.word) if self.word else -1
        self.word_box.setCurrentIndex(i)
        self.word_box.blockSignals(False)

    def _word_chosen(self) -> None:
        key = self.word_box.currentData()
        if key is None:  # typed: the first word of that name
            i = self.word_box.findText(self.word_box.currentText(), Qt.MatchFlag.MatchFixedString)
            key = self.word_box.itemData(i) if i >= 0 else None
        if key is not None:
            self.set_colour_mode("word", str(key))

    def set_values(self, scale: Scale) -> None:
        """Draw the numbers asked for (one step per snapshot row) with a colour bar."""
        if self.colour_mode not in SCALE_MODES or len(scale.steps) != len(self.snap):
            return
        self.scale = scale
        self.recolour()
        self._show_count()

    def recolour(self) -> None:
        """Colour the points in the colouring shown (worked out as :meth:`set_data` does)."""
        self._request(self.points)

    def _draw_layers(self, layers: Layers) -> None:
        """Give each colour layer its points, and show the legend or the colour bar."""
        scaled = layers.mode in SCALE_MODES
        if not scaled:
            colours = legend_colours(layers.names)
        elif layers.scale is not None:
            colours = [*ramp(STEPS), NO_VALUE_COLOUR]
        else:
            colours = [OTHER_COLOUR]
        self.legend_names = list(layers.names)
        self.legend_colours = [] if scaled else colours
        entries = list(zip(layers.names, colours, strict=False))
        colours_all = [*colours, missing_colour()]
        while len(self.layers) < len(colours_all):
            layer = PointCloud(size=6, pen=None)
            self.plot.addItem(layer)
            self.layers.append(layer)
        for i, layer in enumerate(self.layers):
            part = (
                layers.xy[layers.bounds[i] : layers.bounds[i + 1]] if i < len(colours_all) else None
            )
            if part is not None and len(part):
                layer.setData(x=part[:, 0], y=part[:, 1], brush=pg.mkBrush(colours_all[i]))
                # Numbers: the high ones on top (what the colour picks out); the grey below.
                layer.setZValue(i - len(colours_all) if scaled else -i)
            else:
                layer.clear()
        if scaled and len(self.layers) > STEPS:
            self.layers[STEPS].setZValue(-len(colours_all) - 1)
        has = bool(len(self.rows))
        self.colour_bar.set_scale(layers.scale if scaled else None)
        self.colour_bar.setVisible(has and scaled)
        self.legend.setVisible(has and not scaled)
        if layers.missing:
            entries.append(("Missing", missing_colour()))
        self.legend.setText(
            "".join(
                f"<div style='white-space:nowrap'><span style='color:{c}; font-size:15px'>●"
                f"</span>&nbsp;{html.escape(n[:40])}</div>"
                for n, c in entries
            )
        )

    def _draw_overlay(self, item: PointCloud, rows: np.ndarray) -> None:
        if self._waiting:
            return  # drawn with the points they are of
        if self.drawn is not None and len(rows) > len(self.rows):
            rows = rows[self.drawn[rows]]  # no more marks than points: those drawn
        rows = rows[np.isfinite(self.xy[rows]).all(axis=1)] if len(rows) else rows
        if len(rows):
            item.setData(x=self.xy[rows, 0], y=self.xy[rows, 1])
        else:
            item.clear()

    def set_selected(self, rows: np.ndarray) -> None:
        self.selected_rows = np.asarray(rows, dtype=np.int64)
        self._draw_overlay(self.sel_scatter, self.selected_rows)

    def set_playing(self, row: int | None) -> None:
        """Ring the point of this snapshot row (the track playing); None: no ring."""
        self.playing_rows = np.array([] if row is None else [row], dtype=np.int64)
        self._draw_overlay(self.play_scatter, self.playing_rows)

    def playing_point(self) -> tuple[float, float] | None:
        """Where the ring is drawn, if it is."""
        data = self.play_scatter.getData()
        if data is None or not len(data[0]):
            return None
        return float(data[0][0]), float(data[1][0])

    def set_highlight(self, rows: np.ndarray | None) -> None:
        self.highlight_rows = (
            np.zeros(0, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        )
        self._draw_overlay(self.high_scatter, self.highlight_rows)

    # --- a previewed mix, regions ---------------------------------------------------------

    def set_preview(self, plus: np.ndarray, minus: np.ndarray, picks: np.ndarray) -> None:
        """Ring the + seeds, the − seeds and the picks of a list not saved yet."""
        rows = {"plus": plus, "minus": minus, "picks": picks}
        for key, item in self.preview.items():
            self.preview_rows[key] = np.asarray(rows[key], dtype=np.int64)
            self._draw_overlay(item, self.preview_rows[key])
        marks = []
        for key, text in (("plus", "+ seeds"), ("minus", "− seeds"), ("picks", "picks")):
            if len(self.preview_rows[key]):
                colour, symbol, _size, _w = PREVIEW_MARKS[key]
                mark = "□" if symbol == "s" else "○"
                marks.append(f"<span style='color:{colour}'><b>{mark}</b> {text}</span>")
        self.preview_label.setText("Preview: " + " &nbsp;".join(marks) if marks else "")
        self._arrange_bar()  # the preview's key may leave no room for the tools in one row

    def clear_preview(self) -> None:
        empty = np.zeros(0, dtype=np.int64)
        self.set_preview(empty, empty, empty)

    def preview_points(self, key: str) -> np.ndarray:
        """Where the rings of ``key`` (plus, minus, picks) are drawn: (N, 2)."""
        data = self.preview[key].getData()
        if data is None or not len(data[0]):
            return np.zeros((0, 2))
        return np.column_stack([data[0], data[1]])

    def set_regions(self, regions: list[Region]) -> None:
        """The automatic playlists' regions, labelled with their words."""
        self.regions = list(regions)
        if not self._waiting:  # else placed once the points are drawn
            self.labels.set_regions(self.regions, self.snap.ids, self.xy, self.groups)

    # --- the view: fit all, reset -----------------------------------------------------------

    def fit_all(self) -> None:
        """Show every point."""
        self.plot.getPlotItem().autoRange()

    def reset_view(self) -> None:
        """Back to how the map opens: every point shown, the Pan tool, the words on."""
        self._shape = []
        self.shape_item.setPath(QPainterPath())
        self.hover_label.hide()
        self.set_mode("pan")
        self.words_check.setChecked(True)
        self.fit_all()

    # --- the context menu -------------------------------------------------------------------

    def _connected(self, signal: str) -> bool:
        return self.isSignalConnected(QMetaMethod.fromSignal(getattr(self, signal)))

    def open_menu(self, scene_pos: QPointF, screen_pos: QPoint) -> QMenu:
        """The context menu for what lies at this scene point, opened at this screen point."""
        menu = self.context_menu(scene_pos)
        menu.popup(screen_pos)
        return menu

    def _menu_key(self) -> None:
        """The menu key (or Shift+F10) on the plot: the menu of the middle of the view."""
        viewport = self.plot.viewport()
        centre = viewport.rect().center()
        self.open_menu(self.plot.mapToScene(centre), viewport.mapToGlobal(centre))

    def region_at(self, scene_pos: QPointF) -> Region | None:
        """The region under this scene point: its label's, or that of the point there."""
        region = self.labels.at(scene_pos.x(), scene_pos.y())
        if region is not None:
            return region
        row = self.row_at(scene_pos)
        return None if row is None else self.labels.region_of_row(row)

    def row_at(self, scene_pos: QPointF) -> int | None:
        """The snapshot row of the point under this scene point, if any."""
        if not self.view_box.sceneBoundingRect().contains(scene_pos):
            return None
        pos = self.view_box.mapSceneToView(scene_pos)
        return self.nearest(pos.x(), pos.y(), self._pick_radius())

    def context_menu(self, scene_pos: QPointF) -> QMenu:
        """The menu for this scene point: fit and reset, the region's tracks, the track's
        actions the window offers, the words and the colourings."""
        if self.menu is not None:
            self.menu.deleteLater()
        menu = self.menu = QMenu(self)
        menu.addAction(self.fit_action)
        menu.addAction(self.reset_action)
        region, row = self.region_at(scene_pos), self.row_at(scene_pos)
        if self._waiting:  # the points drawn are not those of the data given
            region = row = None
        if region is not None:
            what = "the group" if region.kind == GROUP else ""
            text = f"Select all in {what} “{_short(region.text)}”".replace("  ", " ")
            rows = self.snap.rows_of(region.track_ids)
            menu.addSeparator()
            menu.addAction(text).triggered.connect(
                lambda _c=False, r=rows: self.area_selected.emit(np.unique(r))
            )
        if row is not None:
            name = _short(self.snap.label(row))
            for signal, text in (
                ("more_like_requested", f"More like “{name}”"),
                ("play_requested", f"Play “{name}”"),
            ):
                if self.offered(signal):
                    emit = getattr(self, signal).emit
                    menu.addAction(text).triggered.connect(lambda _c=False, e=emit: e(row))
        menu.addSeparator()
        words = menu.addAction("Show words")
        words.setCheckable(True)
        words.setChecked(self.words_check.isChecked())
        words.toggled.connect(self.words_check.setChecked)
        colours = menu.addMenu("Colour by")
        for i in range(self.colour_box.count()):
            key = self.colour_box.itemData(i)
            if key is None:
                continue  # the separator
            action = colours.addAction(self.colour_box.itemText(i))
            action.setCheckable(True)
            action.setChecked(i == self.colour_box.currentIndex())
            action.triggered.connect(lambda _c=False, k=i: self.colour_box.setCurrentIndex(k))
        return menu

    # --- picking --------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if isinstance(event, QMouseEvent) and event.type() == QEvent.Type.MouseButtonPress:
            self.press_modifiers = event.modifiers()  # what a drag from here will do
        if isinstance(event, QContextMenuEvent):
            if event.reason() == QContextMenuEvent.Reason.Keyboard:
                self._menu_key()
            return True  # a right click opens it through the view box, once
        return super().eventFilter(watched, event)

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.mode_buttons[mode].setChecked(True)

    def nearest(self, x: float, y: float, radius: float) -> int | None:
        if self.points.tree is None or self._waiting:
            return None  # nothing drawn, or the points drawn are not of the data given
        dist, i = self.points.tree.query([x, y], distance_upper_bound=radius)
        if not np.isfinite(dist):
            return None
        return int(self.rows[int(i)])

    def _pick_radius(self) -> float:
        px = self.view_box.viewPixelSize()
        return float(max(px[0], px[1]) * 8)

    def _clicked(
        self, pos: QPointF, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
    ) -> None:
        """A click picks the point under it; with Shift it is added to the selection, with
        Ctrl it is taken out of it, or added when it was not in it."""
        row = self.nearest(pos.x(), pos.y(), self._pick_radius())
        if row is None:
            return
        op = selection_op(modifiers)
        if op == REPLACE:
            self.point_clicked.emit(row)
            return
        if op == REMOVE and row not in set(self.selected_rows.tolist()):
            op = ADD
        self.rows_clicked.emit(combine(self.selected_rows, np.array([row]), op))

    def _mouse_moved(self, event: Any) -> None:
        scene_pos = event[0]
        if not self.plot.isVisible() or not self.view_box.sceneBoundingRect().contains(scene_pos):
            self.hover_label.hide()
            return
        pos = self.view_box.mapSceneToView(scene_pos)
        region = self.labels.at(scene_pos.x(), scene_pos.y())
        if region is not None:  # a region's label: its words
            self.hover_label.setText(region.summary)
            self.hover_label.setPos(pos.x(), pos.y())
            self.hover_label.show()
            return
        row = self.nearest(pos.x(), pos.y(), self._pick_radius())
        if row is None:
            self.hover_label.hide()
            return
        self.hover_label.setText(self.hover_text(row))
        self.hover_label.setPos(float(self.xy[row, 0]), float(self.xy[row, 1]))
        self.hover_label.show()

    def hover_text(self, row: int) -> str:
        """A point's track, and the words of the region it lies in."""
        text = self.snap.label(row)
        if self.snap.missing[row]:
            text += " (missing)"
        region = self.labels.region_of_row(row)
        if region is not None:
            text += f"\nin {region.summary}"
        return text

    def rows_in_rect(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        pts = self.xy[self.rows]
        lo_x, hi_x = sorted((x0, x1))
        lo_y, hi_y = sorted((y0, y1))
        inside = (
            (pts[:, 0] >= lo_x) & (pts[:, 0] <= hi_x) & (pts[:, 1] >= lo_y) & (pts[:, 1] <= hi_y)
        )
        out: np.ndarray = self.rows[inside]
        return out

    def rows_in_polygon(self, polygon: list[tuple[float, float]]) -> np.ndarray:
        poly = np.asarray(polygon, dtype=np.float64)
        if len(poly) > 256:
            poly = poly[np.linspace(0, len(poly) - 1, 256).astype(int)]
        out: np.ndarray = self.rows[points_in_polygon(self.xy[self.rows], poly)]
        return out

    def select_rect(
        self, x0: float, y0: float, x1: float, y1: float, op: str = REPLACE
    ) -> np.ndarray:
        """Pick the points in this rectangle (``op``: with the selection, see
        :func:`combine`); returns the rows selected now."""
        rows = combine(self.selected_rows, self.rows_in_rect(x0, y0, x1, y1), op)
        self.area_selected.emit(rows)
        return rows

    def select_polygon(self, polygon: list[tuple[float, float]], op: str = REPLACE) -> np.ndarray:
        """Pick the points in this polygon (``op``: with the selection, see
        :func:`combine`); returns the rows selected now."""
        rows = combine(self.selected_rows, self.rows_in_polygon(polygon), op)
        self.area_selected.emit(rows)
        return rows

    def _shape_begin(
        self, pos: QPointF, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
    ) -> None:
        self._shape_kind = self.mode
        self._shape_op = selection_op(modifiers)
        self._shape = [(pos.x(), pos.y())]
        pen = self.shape_item.pen()
        pen.setColor(QColor(SHAPE_COLOURS[self._shape_op]))
        self.shape_item.setPen(pen)

    def _shape_extend(self, pos: QPointF) -> None:
        if not self._shape:
            return  # reset while drawing
        if self._shape_kind == "rect":
            self._shape = [self._shape[0], (pos.x(), pos.y())]
            (x0, y0), (x1, y1) = self._shape
            pts = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        else:
            self._shape.append((pos.x(), pos.y()))
            pts = [*self._shape, self._shape[0]]
        path = QPainterPath(QPointF(*pts[0]))
        for p in pts[1:]:
            path.lineTo(QPointF(*p))
        self.shape_item.setPath(path)

    def _shape_finish(self) -> None:
        shape, self._shape = self._shape, []
        self.shape_item.setPath(QPainterPath())
        if self._waiting:
            return  # the points drawn are not those of the data given: picked when drawn
        if self._shape_kind == "rect" and len(shape) == 2:
            (x0, y0), (x1, y1) = shape
            self.select_rect(x0, y0, x1, y1, self._shape_op)
        elif len(shape) >= 3:
            self.select_polygon(shape, self._shape_op)


def _short(text: str, n: int = 40) -> str:
    """``text`` cut to ``n`` characters, with an ellipsis when cut."""
    return text if len(text) <= n else text[: n - 1] + "…"
