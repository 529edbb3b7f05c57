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

Where the regions lie (:func:`geometry`: each region's centre and group, each point's region)
and how big their labels are is worked out once per change of the regions or the points. For
a big library that is done in a worker thread (:data:`BACKGROUND_FROM`), a slice of the points
at a time so that the window runs on meanwhile: at a million tracks in 24,808 playlists it
held the UI thread for 1-3 s when the map was first shown. The labels appear when it is done
(:attr:`MapLabels.ready`); until then the map shows those it had.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QRectF, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetricsF

from musicorg.gui import theme
from musicorg.gui.latest import Latest
from musicorg.gui.snapshot import in_slices
from musicorg.jobs import paused

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
#: From this many tracks in the regions on, their geometry is worked out in a worker thread.
BACKGROUND_FROM = 20_000
#: The most cells (regions × group names) of the table :func:`group_of_codes` counts in;
#: past it, it sorts the pairs instead.
_TABLE_CELLS = 5_000_000
#: Values one numpy call of :func:`geometry` takes at a time.
_SLICE = 50_000
#: Candidates :func:`place` checks at once against the labels kept before them.
_BATCH = 512


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
    as big as the biggest box, so each candidate is checked against its neighbours only.

    The candidates are taken :data:`_BATCH` at a time: numpy sets aside at once those that
    meet a box kept before the batch (most of them, zoomed out: of 24,808 playlists some
    hundreds fit), and the others are checked in turn against the boxes the batch kept. The
    same boxes are kept as checking each candidate in turn, in a fifth of the time."""
    if not len(boxes):
        return np.zeros(0, dtype=np.int64)
    inside = _inside(boxes, bounds)
    order = np.argsort(-priority, kind="stable")
    order = order[inside[order]]
    if not len(order):
        return np.zeros(0, dtype=np.int64)
    cand = np.asarray(boxes, dtype=np.float64)[order]
    cw = float((cand[:, 2] - cand[:, 0]).max()) + 2 * MARGIN
    ch = float((cand[:, 3] - cand[:, 1]).max()) + 2 * MARGIN
    # The cell of each candidate, one in from the edge so that its neighbours all exist.
    gx = np.floor_divide(cand[:, 0], cw).astype(np.int64)
    gy = np.floor_divide(cand[:, 1], ch).astype(np.int64)
    gx, gy = gx - gx.min() + 1, gy - gy.min() + 1
    kept = _Cells(int(gx.max()) + 2, int(gy.max()) + 2)
    out: list[int] = []
    for lo in range(0, len(order), _BATCH):
        part = slice(lo, lo + _BATCH)
        free = np.flatnonzero(~kept.meets(cand[part], gx[part], gy[part])) + lo
        # In turn, against the boxes kept in this batch (as the grid of the whole once was).
        grid: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}
        for i, (bx0, by0, bx1, by1), x, y in zip(
            free.tolist(), cand[free].tolist(), gx[free].tolist(), gy[free].tolist(), strict=True
        ):
            clash = any(
                kx0 < bx1 + MARGIN
                and bx0 < kx1 + MARGIN
                and ky0 < by1 + MARGIN
                and by0 < ky1 + MARGIN
                for cx in (x - 1, x, x + 1)
                for cy in (y - 1, y, y + 1)
                for kx0, ky0, kx1, ky1 in grid.get((cx, cy), ())
            )
            if not clash:
                grid.setdefault((x, y), []).append((bx0, by0, bx1, by1))
                out.append(i)
                kept.add(cand[i], x, y)
    kept_rows: np.ndarray = order[np.asarray(out, dtype=np.int64)]
    return kept_rows


class _Cells:
    """The boxes kept so far by :func:`place`, filed by grid cell in one array (cell x, cell y,
    slot, x0 y0 x1 y1; NaN where a slot is empty), for checks of many candidates at once."""

    def __init__(self, nx: int, ny: int) -> None:
        self.boxes = np.full((nx, ny, 2, 4), np.nan)
        self.count = np.zeros((nx, ny), dtype=np.int64)

    def add(self, box: np.ndarray, x: int, y: int) -> None:
        slot = int(self.count[x, y])
        if slot == self.boxes.shape[2]:  # a full cell: room for more in every cell
            more = np.full((*self.boxes.shape[:2], slot, 4), np.nan)
            self.boxes = np.concatenate([self.boxes, more], axis=2)
        self.boxes[x, y, slot] = box
        self.count[x, y] = slot + 1

    def meets(self, boxes: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
        """Whether each of ``boxes`` (in the cells ``gx``, ``gy``) meets a box kept."""
        dx, dy = np.meshgrid([-1, 0, 1], [-1, 0, 1], indexing="ij")
        near = self.boxes[gx[:, None] + dx.ravel(), gy[:, None] + dy.ravel()]  # (n, 9, s, 4)
        b = boxes[:, None, None, :]
        with np.errstate(invalid="ignore"):
            hit = (
                (near[..., 0] < b[..., 2] + MARGIN)
                & (b[..., 0] < near[..., 2] + MARGIN)
                & (near[..., 1] < b[..., 3] + MARGIN)
                & (b[..., 1] < near[..., 3] + MARGIN)
            )
        out: np.ndarray = hit.any(axis=(1, 2))
        return out


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
    last = len(ids) - 1
    # A slice at a time (in_slices): a million track ids, looked up at once, held the GIL for
    # 100-200 ms.
    pos = in_slices(lambda part: np.minimum(np.searchsorted(ids, part), last), track_ids)
    hit = ids[pos] == track_ids
    return pos[hit].astype(np.int64), hit


def group_of_regions(
    which: np.ndarray, row_groups: np.ndarray, k: int
) -> tuple[np.ndarray, list[str]]:
    """The group of each of ``k`` regions (-1: none), the one most of its tracks are in
    (``which`` the region of each track, ``row_groups`` its group's name, "" for none),
    and the groups' names."""
    names, codes = name_codes(row_groups)
    return group_of_codes(which, codes, names, k)


def name_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct strings of ``values``, sorted, and the index of each value among them: as
    ``np.unique(values, return_inverse=True)``, but a slice of values at a time (the group
    names of a million tracks, sorted at once, held the GIL for 0.2-0.4 s)."""
    values = np.asarray(values).reshape(-1)
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for part in _slices(values):
        found, inverse = np.unique(part, return_inverse=True)
        parts.append((found, inverse.reshape(-1)))
    if not parts:
        return values[:0], np.zeros(0, dtype=np.int64)
    names = np.unique(np.concatenate([found for found, _inverse in parts]))
    codes = np.empty(len(values), dtype=np.int64)
    at = 0
    for found, inverse in parts:
        codes[at : at + len(inverse)] = np.searchsorted(names, found)[inverse]
        at += len(inverse)
    return names, codes


def group_of_codes(
    which: np.ndarray, codes: np.ndarray, names: np.ndarray, k: int
) -> tuple[np.ndarray, list[str]]:
    """:func:`group_of_regions`, with the group of each track given as its index into
    ``names`` (the group names, sorted: :func:`name_codes`)."""
    out = np.full(k, -1, dtype=np.int64)
    blank = np.flatnonzero(names == "")
    ok = codes != (int(blank[0]) if len(blank) else -1)
    if not ok.any():
        return out, []
    # Each (region, group) pair as one integer.
    n_names = max(len(names), 1)
    pairs = which[ok].astype(np.int64) * n_names + codes[ok]
    if k * n_names <= _TABLE_CELLS:
        # Counted in a table of regions by groups (one pass), where sorting a million pairs
        # (np.unique) held the GIL for a tenth of a second. Most tracks wins; of groups with
        # as many, the first by name, as the sort below gives.
        table = np.bincount(pairs, minlength=k * n_names).reshape(k, n_names)
        has = table.max(axis=1) > 0
        out[has] = table.argmax(axis=1)[has]
    else:
        keys, counts = np.unique(pairs, return_counts=True)
        both = np.column_stack([keys // n_names, keys % n_names])
        # Most tracks first within each region; the first row per region wins.
        both = both[np.lexsort((-counts, both[:, 0]))]
        first = np.r_[True, both[1:, 0] != both[:-1, 0]]
        out[both[first, 0]] = both[first, 1]
    used = np.unique(out[out >= 0])
    remap = np.full(len(names), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    out = np.where(out >= 0, remap[np.maximum(out, 0)], -1)
    return out, [str(names[g]) for g in used]


def _slices(values: np.ndarray) -> Iterator[np.ndarray]:
    """``values`` a slice of :data:`_SLICE` at a time, with a pause for the other threads
    after each (:func:`musicorg.jobs.paused`)."""
    for lo in paused(range(0, len(values), _SLICE)):
        yield values[lo : lo + _SLICE]


@dataclass
class Geometry:
    """Where the regions lie on a map, and how big their labels are: what
    :meth:`MapLabels.apply` shows. Made by :func:`geometry` and :func:`measure`, in a worker
    thread for a big library."""

    regions: list[Region]  # the playlists
    groups: list[Region]  # the groups of two or more of them
    centres: np.ndarray  # per playlist (k, 2), data coordinates; NaN: not on the map
    group_centres: np.ndarray
    group_of: np.ndarray  # group per playlist (-1: none)
    row_region: np.ndarray  # region per snapshot row (-1: none)
    priority: np.ndarray  # the size of each playlist, then of each group
    sizes: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # label w, h (px)


def geometry(
    regions: Sequence[Region],
    ids: np.ndarray,
    xy: np.ndarray,
    row_groups: np.ndarray | None = None,
) -> Geometry:
    """The regions over the map's points: ``ids`` the track id per snapshot row, ``xy`` its
    coordinates (NaN: not on the map) and ``row_groups`` its group's name ("": none). No Qt
    here, and no numpy call over more than a slice of the points (a worker thread runs this
    while the window goes on)."""
    regions = list(regions)
    k = len(regions)
    row_region = np.full(len(ids), -1, dtype=np.int64)
    lengths = np.array([len(r.track_ids) for r in regions], dtype=np.int64)
    members = (
        np.concatenate([r.track_ids for r in regions]).astype(np.int64)
        if k
        else np.zeros(0, dtype=np.int64)
    )
    which = np.repeat(np.arange(k, dtype=np.int64), lengths)
    rows, hit = _rows_of(ids, members)
    which = which[hit]
    row_region[rows] = which
    pts = xy[rows] if len(rows) else np.zeros((0, 2))
    ok = np.isfinite(pts).all(axis=1)
    centres = _means(which[ok], pts[ok], k)
    group_of, groups = _groups(regions, which, rows, row_groups, len(ids))
    in_group = row_region >= 0
    group_rows = np.flatnonzero(in_group & np.isfinite(xy).all(axis=1))
    row_group = group_of[row_region[group_rows]]
    keep = row_group >= 0
    group_centres = _means(row_group[keep], xy[group_rows[keep]], len(groups))
    priority = np.array([len(r.track_ids) for r in (*regions, *groups)], dtype=np.float64)
    return Geometry(regions, groups, centres, group_centres, group_of, row_region, priority)


def _groups(
    regions: list[Region],
    which: np.ndarray,
    rows: np.ndarray,
    row_groups: np.ndarray | None,
    n_rows: int,
) -> tuple[np.ndarray, list[Region]]:
    """The group of each region (-1: none) and the groups of two or more regions, from the
    group most of each region's tracks are in."""
    k = len(regions)
    group_of = np.full(k, -1, dtype=np.int64)
    groups: list[Region] = []
    if row_groups is None or not len(rows) or len(row_groups) != n_rows:
        return group_of, groups
    # The names numbered over every row, then taken for the regions' rows: the same groups
    # as numbering the names of those rows alone, without a copy of their strings.
    names, codes = name_codes(row_groups)
    found, used = group_of_codes(which, codes[rows], names, k)
    counts = np.bincount(found[found >= 0], minlength=len(used))
    big = np.flatnonzero(counts >= 2)  # a group of one playlist is that playlist
    remap = np.full(len(used) + 1, -1, dtype=np.int64)
    remap[big] = np.arange(len(big))
    group_of = remap[np.where(found >= 0, found, len(used))]
    for g, name in paused(enumerate(used[i] for i in big)):  # a group at a time
        members = [regions[int(i)] for i in np.flatnonzero(group_of == g)]
        groups.append(
            Region(
                -1 - g,
                name,
                group_summary(name, members),
                np.concatenate([r.track_ids for r in members]).astype(np.int64),
                GROUP,
            )
        )
    return group_of, groups


def measure(
    geo: Geometry, font: QFont, group_font: QFont, known: dict[tuple[str, bool], Any]
) -> np.ndarray:
    """The size of each label of ``geo`` (width, height in pixels, as drawn): the playlists',
    then the groups'. ``known`` holds sizes measured before, by (text, whether a group's), and
    gets the new ones (many regions share their words). Font metrics are reentrant: a worker
    thread may measure, with fonts of its own."""
    metrics = {False: QFontMetricsF(font), True: QFontMetricsF(group_font)}
    out = np.empty((len(geo.regions) + len(geo.groups), 2), dtype=np.float64)
    for i, region in enumerate((*geo.regions, *geo.groups)):
        key = (region.text, region.kind == GROUP)
        size = known.get(key)
        if size is None:
            m = metrics[key[1]]
            # As a TextItem draws it: its document keeps 4 px around the text.
            size = known[key] = (m.horizontalAdvance(region.text) + 8, m.height() + 8)
        out[i] = size
    return out


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


def _placed(
    request: tuple[Any, ...], fonts: tuple[QFont, QFont], known: dict[Any, Any]
) -> tuple[Geometry, np.ndarray, dict[Any, Any]]:
    """In the worker thread: the geometry of ``request`` (the arguments of :func:`geometry`)
    and its labels' sizes; with the track ids it is over and the sizes measured."""
    geo = geometry(*request)
    geo.sizes = measure(geo, *fonts, known)
    return geo, request[1], known


class MapLabels(QObject):
    """The labels of the regions on one map (a pyqtgraph plot with its view box)."""

    #: the labels of the regions last given are placed (at once, or once the worker is done)
    ready = Signal()

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
        # The worker: of the requests made while it works, only the last one runs next.
        self._worker = Latest(self, "map-labels", self._landed)
        self._ids: np.ndarray | None = None  # the track ids the regions were placed over
        self._known: dict[tuple[str, bool], Any] = {}  # label sizes measured (see measure)

    # -- data ----------------------------------------------------------------------------------

    def set_regions(
        self,
        regions: list[Region],
        ids: np.ndarray,
        xy: np.ndarray,
        row_groups: np.ndarray | None = None,
    ) -> None:
        """New regions over the map's points: ``ids`` the track id per snapshot row, ``xy``
        its coordinates (NaN: not on the map) and ``row_groups`` its group's name ("": none).
        Placed at once, or from :data:`BACKGROUND_FROM` tracks in the regions on by a worker
        thread (:attr:`ready` says when)."""
        request = (list(regions), ids, xy, row_groups)
        if sum(len(r.track_ids) for r in regions) < BACKGROUND_FROM:
            self._worker.drop()  # what the worker brings now is stale
            geo = geometry(*request)
            geo.sizes = measure(geo, self.font, self.group_font, self._known)
            self.apply(geo, ids)
            return
        if ids is not self._ids:  # other points: no point's region is known until it lands
            self.row_region = np.full(len(ids), -1, dtype=np.int64)
            self._ids = ids
        fonts = (QFont(self.font), QFont(self.group_font))  # the worker's own copies
        self._worker.submit(_placed, request, fonts, dict(self._known))

    def busy(self) -> bool:
        """Whether the labels of the regions last given are still being worked out."""
        return self._worker.busy()

    def _landed(self, result: tuple[Geometry, np.ndarray, dict[Any, Any]]) -> None:
        geo, ids, known = result
        self._known.update(known)
        self.apply(geo, ids)

    def apply(self, geo: Geometry, ids: np.ndarray | None = None) -> None:
        """Show the regions of ``geo`` (over the points of the track ids ``ids``)."""
        self.regions, self.groups = geo.regions, geo.groups
        self.centres, self.group_centres = geo.centres, geo.group_centres
        self.group_of, self.row_region = geo.group_of, geo.row_region
        self.sizes, self.priority = geo.sizes.reshape(-1, 2), geo.priority
        self._ids = ids
        self.layout()
        self.ready.emit()

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
