"""Words on the map: each automatic playlist's region is labelled at its centre (the mean of its
tracks' map coordinates) with its top words, and hovering a region shows its explanation.

When the playlists are grouped, a group whose playlists crowd together on screen (fewer than a
third of the labels of its playlists in view would fit, or only one) is labelled once instead,
with the group's name at the group's centre, in a larger type; its tooltip lists its playlists'
words. Zoomed out, the map shows its groups; zoomed in, the playlists of the group looked at.

Labels never overlap. They are placed greedily, biggest first: a label whose box (in pixels,
as drawn) meets one already placed, or leaves the view, is dropped. Zoomed out, the regions
crowd together and only the biggest keep their words; zoomed in, more fit. The placement runs
when the view stops moving (a short timer after the last range change), costs a few
milliseconds even for thousands of playlists, and never touches the points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QRectF, QTimer
from PySide6.QtGui import QFont, QFontMetricsF

from musicorg.gui import theme

if TYPE_CHECKING:
    import pyqtgraph as pg

#: Room (pixels) kept free around each label.
MARGIN = 3.0
#: How long the view stays still before the labels are placed again (ms).
SETTLE_MS = 120
#: Under the marks (highlight, selection, the track playing, a mix's rings), over the points.
LABEL_Z = 9
#: A group shows its playlists' labels when at least this share of those in view fit.
PLAYLISTS_SHARE = 1 / 3
#: How many of a group's playlists its tooltip lists.
GROUP_LISTED = 8
PLAYLIST, GROUP = "playlist", "group"


@dataclass
class Region:
    """An automatic playlist (or a group of them) as the map shows it."""

    key: int  # the playlist id (a group: -1 - its index)
    text: str  # its label: top 1-2 words (a group: its name)
    summary: str  # its explanation in one line (the hover text)
    track_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    kind: str = PLAYLIST


def place(
    boxes: np.ndarray, priority: np.ndarray, bounds: tuple[float, float, float, float]
) -> np.ndarray:
    """Indices of the boxes kept, by decreasing priority: ``boxes`` (N, 4) as x0, y0, x1, y1,
    ``bounds`` the view's (x0, y0, x1, y1). A box is kept when it lies inside the bounds and
    meets no box kept before it (MARGIN apart). The kept boxes are filed in a grid of cells
    as big as the biggest box, so each candidate is checked against its neighbours only."""
    if not len(boxes):
        return np.zeros(0, dtype=np.int64)
    inside = _inside(boxes, bounds)
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


def _inside(boxes: np.ndarray, bounds: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = bounds
    with np.errstate(invalid="ignore"):
        out: np.ndarray = (
            (boxes[:, 0] >= x0) & (boxes[:, 1] >= y0) & (boxes[:, 2] <= x1) & (boxes[:, 3] <= y1)
        )
    return out


def collapsed_groups(
    boxes: np.ndarray,
    priority: np.ndarray,
    group_of: np.ndarray,
    n_groups: int,
    bounds: tuple[float, float, float, float],
) -> np.ndarray:
    """Which groups are labelled as one (a bool per group): those with at least two
    playlists in view (``boxes`` per playlist, ``group_of`` its group, -1: none) of which
    fewer than :data:`PLAYLISTS_SHARE`, or only one, would be labelled."""
    out = np.zeros(n_groups, dtype=bool)
    grouped = group_of >= 0
    if not n_groups or not grouped.any():
        return out
    kept = np.zeros(len(boxes), dtype=bool)
    kept[place(boxes, priority, bounds)] = True
    seen = _inside(boxes, bounds) & grouped
    in_view = np.bincount(group_of[seen], minlength=n_groups)
    fit = np.bincount(group_of[seen & kept], minlength=n_groups)
    out[:] = (in_view >= 2) & ((fit < 2) | (fit < PLAYLISTS_SHARE * in_view))
    return out


def _rows_of(ids: np.ndarray, track_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions in ``ids`` (ascending) of those ``track_ids`` it holds, and which of
    ``track_ids`` those are (a mask)."""
    if not len(ids) or not len(track_ids):
        return np.zeros(0, dtype=np.int64), np.zeros(len(track_ids), dtype=bool)
    pos = np.minimum(np.searchsorted(ids, track_ids), len(ids) - 1)
    hit = ids[pos] == track_ids
    return pos[hit].astype(np.int64), hit


def group_of_regions(
    which: np.ndarray, row_groups: np.ndarray, k: int
) -> tuple[np.ndarray, list[str]]:
    """The group of each of ``k`` regions (-1: none), the one most of its tracks are in
    (``which`` the region of each track, ``row_groups`` its group's name, "" for none),
    and the groups' names."""
    out = np.full(k, -1, dtype=np.int64)
    names, codes = np.unique(row_groups, return_inverse=True)
    codes = codes.reshape(-1)
    ok = row_groups != ""
    if not ok.any():
        return out, []
    # Each (region, group) pair as one integer: np.unique over rows of a million tracks took
    # a second, over their codes a tenth of that (the same sorted pairs).
    n_names = max(len(names), 1)
    keys, counts = np.unique(which[ok].astype(np.int64) * n_names + codes[ok], return_counts=True)
    pairs = np.column_stack([keys // n_names, keys % n_names])
    # Most tracks first within each region; the first row per region wins.
    order = np.lexsort((-counts, pairs[:, 0]))
    pairs = pairs[order]
    first = np.r_[True, pairs[1:, 0] != pairs[:-1, 0]]
    out[pairs[first, 0]] = pairs[first, 1]
    used = np.unique(out[out >= 0])
    remap = np.full(len(names), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    out = np.where(out >= 0, remap[np.maximum(out, 0)], -1)
    return out, [str(names[g]) for g in used]


def group_summary(name: str, members: list[Region]) -> str:
    """A group's hover text: its name, its size and its playlists' words, biggest first."""
    members = sorted(members, key=lambda r: -len(r.track_ids))
    tracks = sum(len(r.track_ids) for r in members)
    lines = [f"{name}: a group of {len(members)} playlists, {tracks} tracks"]
    lines += [f"• {r.text}" for r in members[:GROUP_LISTED]]
    if len(members) > GROUP_LISTED:
        lines.append(f"• and {len(members) - GROUP_LISTED} more")
    return "\n".join(lines)


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
        self.regions: list[Region] = []  # the playlists
        self.groups: list[Region] = []  # the groups of two or more of them
        self.centres = np.zeros((0, 2))  # per playlist, data coordinates, NaN: not on the map
        self.group_centres = np.zeros((0, 2))
        self.group_of = np.zeros(0, dtype=np.int64)  # group per playlist (-1: none)
        self.sizes = np.zeros((0, 2))  # label width, height in pixels: playlists, then groups
        self.priority = np.zeros(0)  # playlists, then groups
        self.row_region = np.zeros(0, dtype=np.int64)  # region per snapshot row (-1: none)
        self.shown: list[Region] = []  # the regions labelled now
        self._shown_at = np.zeros((0, 2))  # where
        self.enabled = True
        self.font = QFont()
        self.font.setBold(True)
        self.font.setPointSizeF(max(self.font.pointSizeF(), 9.0))
        self.group_font = QFont(self.font)
        self.group_font.setPointSizeF(self.font.pointSizeF() * 1.3)
        self._items: list[Any] = []  # pg.TextItem
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self.layout)
        view_box.sigRangeChanged.connect(lambda *_a: self.layout_soon())
        view_box.sigResized.connect(lambda *_a: self.layout_soon())

    # -- data ----------------------------------------------------------------------------------

    def set_regions(
        self,
        regions: list[Region],
        ids: np.ndarray,
        xy: np.ndarray,
        row_groups: np.ndarray | None = None,
    ) -> None:
        """New regions over the map's points: ``ids`` the track id per snapshot row, ``xy``
        its coordinates (NaN: not on the map) and ``row_groups`` its group's name ("": none)."""
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
        self.centres = _means(which[ok], pts[ok], k)
        self._set_groups(which, rows, row_groups, k)
        gk = len(self.groups)
        in_group = self.row_region >= 0
        group_rows = np.flatnonzero(in_group & np.isfinite(xy).all(axis=1))
        row_group = self.group_of[self.row_region[group_rows]]
        keep = row_group >= 0
        self.group_centres = _means(row_group[keep], xy[group_rows[keep]], gk)
        self.sizes = np.array(
            [self._size(r.text, self.font) for r in regions]
            + [self._size(g.text, self.group_font) for g in self.groups],
            dtype=np.float64,
        ).reshape(-1, 2)
        self.priority = np.array(
            [len(r.track_ids) for r in (*regions, *self.groups)], dtype=np.float64
        )
        self.layout()

    def _set_groups(
        self, which: np.ndarray, rows: np.ndarray, row_groups: np.ndarray | None, k: int
    ) -> None:
        """The groups of two or more regions, from the group most of each region's tracks
        are in."""
        self.group_of = np.full(k, -1, dtype=np.int64)
        self.groups = []
        if row_groups is None or not len(rows) or len(row_groups) != len(self.row_region):
            return
        group_of, names = group_of_regions(which, np.asarray(row_groups)[rows], k)
        counts = np.bincount(group_of[group_of >= 0], minlength=len(names))
        big = np.flatnonzero(counts >= 2)  # a group of one playlist is that playlist
        remap = np.full(len(names) + 1, -1, dtype=np.int64)
        remap[big] = np.arange(len(big))
        self.group_of = remap[np.where(group_of >= 0, group_of, len(names))]
        for g, name in enumerate(names[i] for i in big):
            members = [self.regions[int(i)] for i in np.flatnonzero(self.group_of == g)]
            self.groups.append(
                Region(
                    -1 - g,
                    name,
                    group_summary(name, members),
                    np.concatenate([r.track_ids for r in members]).astype(np.int64),
                    GROUP,
                )
            )

    @staticmethod
    def _size(text: str, font: QFont) -> tuple[float, float]:
        metrics = QFontMetricsF(font)
        # As a TextItem draws it: its document keeps 4 px around the text.
        return metrics.horizontalAdvance(text) + 8, metrics.height() + 8

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
        """Each label's box in the view box's pixels (x0, y0, x1, y1), centred on its
        region's centre: the playlists', then the groups'; -1e9 for one not on the map."""
        centres = np.vstack([self.centres, self.group_centres]).reshape(-1, 2)
        centre = self._to_pixels(centres) if len(centres) else np.zeros((0, 2))
        half = self.sizes / 2
        boxes = np.column_stack([centre - half, centre + half])
        ok = np.isfinite(boxes).all(axis=1, keepdims=True)
        out: np.ndarray = np.where(ok, boxes, -1e9)
        return out

    def layout(self) -> None:
        """Place the labels for the view as it is now: the groups crowded on screen by their
        name, the other playlists by their words, none over another."""
        self._timer.stop()
        self.shown, self._shown_at = [], np.zeros((0, 2))
        if self.enabled and self.regions and self.plot.isVisible():
            rect = self.view_box.boundingRect()
            bounds = (0.0, 0.0, rect.width(), rect.height())
            boxes, k = self.boxes(), len(self.regions)
            grouped = collapsed_groups(
                boxes[:k], self.priority[:k], self.group_of, len(self.groups), bounds
            )
            has = self.group_of >= 0
            own = np.ones(k, dtype=bool)
            own[has] = ~grouped[self.group_of[has]]
            candidates = np.concatenate([np.flatnonzero(own), k + np.flatnonzero(grouped)])
            kept = candidates[place(boxes[candidates], self.priority[candidates], bounds)]
            everything = [*self.regions, *self.groups]
            self.shown = [everything[int(i)] for i in kept]
            self._shown_at = np.vstack([self.centres, self.group_centres])[kept].reshape(-1, 2)
        self._draw()

    def _draw(self) -> None:
        # lazy: pyqtgraph comes with the map view (0.3 s of start-up); Region needs none of it
        import pyqtgraph as pg

        while len(self._items) < len(self.shown):
            item = pg.TextItem("", anchor=(0.5, 0.5), color=theme.ink(), fill=theme.label_fill())
            item.setZValue(LABEL_Z)
            self.plot.addItem(item, ignoreBounds=True)
            self._items.append(item)
        for item, region, (x, y) in zip(self._items, self.shown, self._shown_at, strict=False):
            group = region.kind == GROUP
            item.setFont(self.group_font if group else self.font)
            item.fill = pg.mkBrush(
                theme.mix(theme.label_fill(225), theme.accent(), 0.12)
                if group
                else theme.label_fill()
            )
            item.setText(region.text)
            item.setToolTip(region.summary)
            item.setPos(float(x), float(y))
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
        """The region (a playlist or a group) whose label is under this scene point."""
        for item, region in zip(self.items(), self.shown, strict=False):
            if item.sceneBoundingRect().contains(scene_x, scene_y):
                return region
        return None

    def texts(self) -> list[str]:
        return [r.text for r in self.shown]


def _means(which: np.ndarray, pts: np.ndarray, k: int) -> np.ndarray:
    """The mean of ``pts`` (N, 2) of each of ``k`` sets (``which``: the set of each point);
    NaN for a set with none."""
    count = np.bincount(which, minlength=k).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.column_stack(
            [np.bincount(which, weights=pts[:, d], minlength=k) / count for d in (0, 1)]
        ).reshape(k, 2)
