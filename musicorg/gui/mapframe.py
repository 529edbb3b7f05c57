"""What the map draws, worked out from a snapshot without Qt: which tracks are drawn (all, or
a steady sample of :data:`MAX_POINTS`), the k-d tree that finds the point under the mouse,
the category of each point in the colouring shown (group, genre, year, or a step of a number)
and the points of each colour layer. All of it is numpy and scipy, so the map of a big library
is worked out in a worker thread (:func:`frame`) while the window goes on, and the UI thread
only hands the arrays to its layers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from musicorg.gui.colourby import MEASURE_MODES, STEPS, WORD_MODE, Scale
from musicorg.gui.snapshot import Snapshot

MAX_LEGEND = 20
#: The most points the map draws; a bigger library is drawn as a sample (see sample_rows).
MAX_POINTS = 200_000
#: An odd 64-bit constant (the golden ratio's): multiplying a track id by it scatters the ids.
_SCATTER = np.uint64(0x9E3779B97F4A7C15)
PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#637939",
    "#aec7e8",
    "#393b79",
]
OTHER = "Other"
OTHER_COLOUR = "#c9c9c9"
MISSING_COLOUR = "#e4e4e4"


#: The categories that say a value is not known: grey, never a palette colour, and last.
UNKNOWN = frozenset({"No genre", "Unknown year", "No group", "No group yet"})
UNKNOWN_COLOUR = "#9e9e9e"
#: Tag values that stand for no value (compared without case and brackets).
PLACEHOLDERS = frozenset({"", "none", "unknown", "n/a", "na", "null", "-", "?", "genre"})


def sample_rows(ids: np.ndarray, rows: np.ndarray, cap: int) -> np.ndarray:
    """At most ``cap`` of ``rows`` (ascending snapshot rows; ``ids`` the track id per snapshot
    row), in ascending order: all of them when they fit, else those whose track ids scatter
    lowest. The choice depends on the track ids alone, so a reload draws the same tracks, and
    a track added to the library changes the sample by at most one other track."""
    if len(rows) <= cap:
        return rows
    scattered = ids[rows].astype(np.uint64) * _SCATTER
    keep = np.argpartition(scattered, cap - 1)[:cap]
    out: np.ndarray = rows[np.sort(keep)]
    return out


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sorts as people read: "Group 2" before "Group 10", "track3" before "track30", any case."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part.casefold())
        for part in re.split(r"(\d+)", text)
        if part
    )


def unknown_tag(value: str) -> bool:
    """Whether a tag's value says nothing: blank, "(None)", "Unknown", "N/A"…"""
    return value.strip().strip("()[]<>").strip().casefold() in PLACEHOLDERS


def categories(
    snap: Snapshot, mode: str, groups: np.ndarray | None, rows: np.ndarray | None = None
) -> tuple[np.ndarray, list[str]]:
    """Per-row category index into the returned names: the known ones in natural order (the
    biggest MAX_LEGEND - 1 when there are more, then 'Other'), then the unknown ones. With
    ``rows``, of those snapshot rows only (one index per row given), counted among them."""
    take = (lambda a: a) if rows is None else (lambda a: a[rows])
    n = len(snap) if rows is None else len(rows)
    if not n:
        return np.zeros(0, dtype=np.int64), []
    if mode == "year":
        years = take(snap.cols["year"])
        raw, inverse = np.unique(np.where(years > 0, (years // 10) * 10, 0), return_inverse=True)
        shown = [f"{d}s" if d > 0 else "Unknown year" for d in raw.tolist()]
    elif mode == "group" and groups is not None:
        raw, inverse = np.unique(take(groups), return_inverse=True)
        shown = [str(g) or "No group" for g in raw.tolist()]
    elif mode == "group":
        inverse, shown = np.zeros(n, dtype=np.int64), ["No group yet"]
    else:
        raw, inverse = np.unique(take(snap.cols["genre"]), return_inverse=True)
        shown = ["No genre" if unknown_tag(str(g)) else str(g) for g in raw.tolist()]
    # Values shown alike ("", "(None)", "Unknown" as "No genre") are one category.
    index: dict[str, int] = {}
    merged = np.array([index.setdefault(name, len(index)) for name in shown], dtype=np.int64)
    names = list(index)
    inverse = merged[np.asarray(inverse).reshape(-1)]
    counts = np.bincount(inverse, minlength=len(names))
    unknown = [i for i, name in enumerate(names) if name in UNKNOWN]
    known = [i for i, name in enumerate(names) if name not in UNKNOWN]
    room = MAX_LEGEND - len(unknown)
    other = len(known) > room
    if other:  # the biggest keep their own colour
        known = sorted(known, key=lambda i: -int(counts[i]))[: room - 1]
    keep = sorted(known, key=lambda i: natural_key(names[i]))
    remap = np.full(len(names), len(keep), dtype=np.int64)  # the rest: "Other"
    remap[keep] = np.arange(len(keep))
    remap[unknown] = len(keep) + int(other) + np.arange(len(unknown))
    out_names = [names[k] for k in keep] + [OTHER] * other + [names[u] for u in unknown]
    return remap[inverse], out_names


def legend_colours(names: list[str]) -> list[str]:
    """The colour of each category: the palette in turn for the known ones, grey for the
    unknown ones and for "Other"."""
    out, i = [], 0
    for name in names:
        if name in UNKNOWN:
            out.append(UNKNOWN_COLOUR)
        elif name == OTHER:
            out.append(OTHER_COLOUR)
        else:
            out.append(PALETTE[i % len(PALETTE)])
            i += 1
    return out


#: The colourings by a number: a colour bar, not a legend.
SCALE_MODES = frozenset(key for key, _label in [*MEASURE_MODES, WORD_MODE])


@dataclass(frozen=True)
class Points:
    """The points a snapshot puts on the map."""

    snap: Snapshot
    xy: np.ndarray  # per snapshot row (NaN: not on the map)
    groups: np.ndarray | None  # the group's name per snapshot row
    rows: np.ndarray  # the snapshot rows drawn, ascending
    placed: int  # the tracks with a place on the map: more than drawn when sampled
    drawn: np.ndarray | None  # per snapshot row, whether drawn (only when sampled)
    tree: Any  # cKDTree over xy[rows], None when nothing is drawn


def points(snap: Snapshot, xy: np.ndarray, groups: np.ndarray | None) -> Points:
    """The points of ``xy`` (one row per snapshot row) to draw, and their k-d tree."""
    xy = np.asarray(xy, dtype=np.float64)
    if xy.shape != (len(snap), 2):
        xy = xy.reshape(len(snap), 2)
    placed = np.flatnonzero(np.isfinite(xy).all(axis=1)).astype(np.int64)
    rows = sample_rows(snap.ids, placed, MAX_POINTS)
    drawn = None
    if len(rows) < len(placed):
        drawn = np.zeros(len(snap), dtype=bool)
        drawn[rows] = True
    tree = cKDTree(xy[rows]) if len(rows) else None
    return Points(snap, xy, groups, rows, len(placed), drawn, tree)


@dataclass(frozen=True)
class Layers:
    """The drawn points by colour: layer ``i`` holds ``xy[bounds[i]:bounds[i + 1]]``. The
    layers are the legend's categories in its order (``names``), or a number's :data:`STEPS`
    steps and then "no value" (``names`` empty), and last the missing tracks."""

    mode: str
    scale: Scale | None
    names: list[str]
    xy: np.ndarray
    bounds: np.ndarray
    missing: bool  # whether any drawn track is missing


def layers(pts: Points, mode: str, scale: Scale | None) -> Layers:
    """The colour layers of ``pts`` coloured by ``mode``: a category, or one of
    :data:`SCALE_MODES` with the ``scale``'s steps per snapshot row (None: not known yet, one
    grey layer)."""
    rows, snap = pts.rows, pts.snap
    names: list[str] = []
    if mode not in SCALE_MODES:
        part, names = categories(snap, mode, pts.groups, rows if pts.drawn is not None else None)
        idx = part if pts.drawn is not None else part[rows]
        count = len(names)
    elif scale is None:
        idx, count = np.zeros(len(rows), dtype=np.int64), 1
    else:
        steps = scale.steps[rows]
        idx, count = np.where(steps < 0, STEPS, steps), STEPS + 1
    missing = snap.missing[rows]
    idx = np.where(missing, count, idx)
    order = np.argsort(idx, kind="stable")
    bounds = np.searchsorted(idx[order], np.arange(count + 2))
    return Layers(mode, scale, names, pts.xy[rows[order]], bounds, bool(missing.any()))


@dataclass(frozen=True)
class Frame:
    """What one state of the map draws."""

    points: Points
    layers: Layers


def frame(
    snap: Snapshot,
    xy: np.ndarray,
    groups: np.ndarray | None,
    mode: str,
    scale: Scale | None,
    known: Points | None = None,
) -> Frame:
    """The frame of these points coloured so; ``known``: points already worked out, used
    again when they are of the same snapshot, coordinates and groups."""
    pts = known
    if pts is None or not (
        pts.snap is snap and pts.groups is groups and pts.xy is np.asarray(xy, dtype=np.float64)
    ):
        pts = points(snap, xy, groups)
    return Frame(pts, layers(pts, mode, scale))
