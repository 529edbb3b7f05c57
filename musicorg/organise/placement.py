"""Playlists that stay put: new tracks join the playlists there are, and new length rules
apply by splitting and merging, never by clustering again. Pure: arrays in, row indices out.

- :func:`place`: each new row joins the playlist with the nearest centre (the mean of its
  μ) that has room under ``max_size``; when one fills up, the rows nearest to it stay and
  the others spill to their next nearest. Only where no playlist has room does the nearest
  one take it anyway (then :func:`resize` cuts it). Inside a playlist a new track goes where
  it lengthens the path through the latent space least (:func:`insert_in_order`), so the
  order the listener knows stays.
- :func:`resize`: playlists longer than ``max_size`` are cut in even, K-Means-shaped pieces
  of themselves (each piece keeps the play order; the biggest goes on as the old playlist,
  with its id and name), and playlists shorter than ``min_size`` are dissolved, the shortest
  first, their tracks joining their nearest playlists with room; one the user renamed
  instead takes the tracks it lacks from its nearest playlist. Every other playlist keeps
  every track.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from musicorg.organise import cuts
from musicorg.organise.cuts import FloatArray, IndexArray, leaf_count

RESIZE_ROUNDS = 4


def _sums(x: FloatArray, members: Sequence[Sequence[int]]) -> NDArray[np.float64]:
    out = np.zeros((len(members), x.shape[1]), dtype=np.float64)
    for i, m in enumerate(members):
        if len(m):
            out[i] = x[np.asarray(m, dtype=np.intp)].sum(0)
    return out


def place(
    x: FloatArray,
    members: Sequence[Sequence[int]],
    rows: IndexArray,
    max_size: int,
    closed: Sequence[bool] | None = None,
) -> list[list[int]]:
    """Rows ``rows`` of ``x`` joined to their nearest playlist of ``members`` (rows of ``x``)
    with room; ``closed`` playlists (pinned ones) take none. The rows each playlist gains,
    nearest first."""
    sizes = np.array([len(m) for m in members], dtype=np.int64)
    alive = sizes > 0
    if closed is not None:
        alive &= ~np.asarray(closed, dtype=bool)
    gained: list[list[int]] = [[] for _ in members]
    if len(rows) == 0 or not alive.any():
        return gained
    rows = np.asarray(rows, dtype=np.intp)
    cuts.place_rows(x, rows, gained, sizes, _sums(x, members), alive, max_size)
    return gained


def insert_in_order(x: FloatArray, order: Sequence[int], new: Sequence[int]) -> list[int]:
    """``order`` (rows in play order) with each row of ``new`` put where it lengthens the path
    least; the rows of ``order`` keep their order."""
    out = list(order)
    for r in new:
        if not out:
            out.append(int(r))
            continue
        path = x[np.asarray(out, dtype=np.intp)]
        to = np.sqrt(((path - x[int(r)]) ** 2).sum(1))
        step = np.sqrt(((path[1:] - path[:-1]) ** 2).sum(1))
        # Between out[i-1] and out[i], or before the first, or after the last.
        inner = to[:-1] + to[1:] - step
        costs = np.concatenate([[to[0]], inner, [to[-1]]])
        at = int(np.argmin(costs))
        out.insert(at, int(r))
    return out


@dataclass
class Resized:
    """Playlists after :func:`resize`: rows in play order, the old playlist each comes from,
    and whether it goes on as that playlist (its id and name) or is a new piece of it."""

    parts: list[list[int]]
    source: list[int]
    goes_on: list[bool]


def _split_part(x: FloatArray, part: list[int], min_size: int, max_size: int) -> list[list[int]]:
    """An over-long playlist in even pieces of itself, each in the old play order, the
    biggest first: equal runs along its main axis, then a few Lloyd steps under the
    capacity (numpy only: a resize of a big library cuts thousands)."""
    pieces = leaf_count(len(part), min_size, max_size)
    rows = np.asarray(part, dtype=np.intp)
    xs = x[rows]
    cap = math.ceil(len(part) / pieces)
    runs = cuts.even_runs(x, rows, cap)
    centres = np.stack([x[run].mean(0) for run in runs]).astype(np.float32)
    labels = cuts.capacity_assign(xs, centres, cap)
    for _ in range(3):
        centres = np.stack(
            [
                xs[labels == j].mean(0) if (labels == j).any() else centres[j]
                for j in range(len(centres))
            ]
        ).astype(np.float32)
        labels = cuts.capacity_assign(xs, centres, cap)
    out = [
        [r for r, lab in zip(part, labels, strict=True) if lab == j] for j in range(len(centres))
    ]
    out = [p for p in out if p]
    out.sort(key=lambda p: (-len(p), part.index(p[0])))
    return out


def _split_long(x: FloatArray, r: Resized, min_size: int, max_size: int) -> bool:
    changed = False
    for i in range(len(r.parts)):
        if len(r.parts[i]) <= max_size:
            continue
        changed = True
        first, *rest = _split_part(x, r.parts[i], min_size, max_size)
        r.parts[i] = first
        for piece in rest:
            r.parts.append(piece)
            r.source.append(r.source[i])
            r.goes_on.append(False)
    return changed


def _dissolve_short(
    x: FloatArray, r: Resized, min_size: int, max_size: int, last: Sequence[bool]
) -> bool:
    """Dissolve short playlists one at a time, shortest first, while another is left; their
    tracks join their nearest playlists. One of ``last`` (by source: the user's) is not
    dissolved while another playlist is not of ``last``: it takes the tracks it lacks from
    its nearest such playlist instead."""
    changed = False
    while len(r.parts) > 1:
        short = [i for i, p in enumerate(r.parts) if len(p) < min_size]
        if not short:
            break
        i = min(short, key=lambda j: (bool(last[r.source[j]]), len(r.parts[j]), j))
        changed = True
        donors = [j for j in range(len(r.parts)) if j != i and not last[r.source[j]]]
        if last[r.source[i]] and donors:
            _fill_from(x, r, i, donors, min_size)
            continue
        rows = np.asarray(r.parts[i], dtype=np.intp)
        for name in ("parts", "source", "goes_on"):
            getattr(r, name).pop(i)
        gained = place(x, r.parts, rows, max_size)
        for j, new in enumerate(gained):
            if new:
                r.parts[j] = insert_in_order(x, r.parts[j], new)
    return changed


def _fill_from(x: FloatArray, r: Resized, i: int, donors: list[int], min_size: int) -> None:
    """Playlist ``i`` takes the tracks it lacks to reach ``min_size`` from the nearest of
    ``donors`` (its tracks nearest to ``i``'s centre); a donor left short is dissolved next."""
    centre = x[np.asarray(r.parts[i], dtype=np.intp)].mean(0)
    cents = np.stack([x[np.asarray(r.parts[j], dtype=np.intp)].mean(0) for j in donors])
    j = donors[int(np.argmin(((cents - centre) ** 2).sum(1)))]
    rows = np.asarray(r.parts[j], dtype=np.intp)
    need = min(min_size - len(r.parts[i]), len(rows))
    take = rows[np.argsort(((x[rows] - centre) ** 2).sum(1), kind="stable")[:need]]
    taken = {int(t) for t in take}
    r.parts[j] = [t for t in r.parts[j] if t not in taken]
    r.parts[i] = insert_in_order(x, r.parts[i], [int(t) for t in take])
    if not r.parts[j]:
        for name in ("parts", "source", "goes_on"):
            getattr(r, name).pop(j)


def resize(
    x: FloatArray,
    members: Sequence[Sequence[int]],
    min_size: int,
    max_size: int,
    *,
    dissolve_last: Sequence[bool] | None = None,
) -> Resized:
    """The playlists ``members`` (rows of ``x``, in play order) within ``min_size`` ..
    ``max_size``, moving as few tracks as the bounds allow (see the module's docstring).
    ``dissolve_last`` marks playlists (the user's renamed ones) dissolved only when no other
    short one is left."""
    last = list(dissolve_last) if dissolve_last is not None else [False] * len(members)
    r = Resized(
        [list(m) for m in members if len(m)],
        [i for i, m in enumerate(members) if len(m)],
        [True for m in members if len(m)],
    )
    for _round in range(RESIZE_ROUNDS):
        merged = _dissolve_short(x, r, min_size, max_size, last)
        cut = _split_long(x, r, min_size, max_size)
        if not (merged or cut):
            break
    # The last resort that always meets the bound: equal runs along the main axis.
    for i in range(len(r.parts)):
        if len(r.parts[i]) > max_size:
            pos = {row: k for k, row in enumerate(r.parts[i])}
            runs = cuts.even_runs(x, np.asarray(r.parts[i], dtype=np.intp), max_size)
            first, *rest = [sorted((int(t) for t in run), key=pos.__getitem__) for run in runs]
            r.parts[i] = first
            for run in rest:
                r.parts.append(run)
                r.source.append(r.source[i])
                r.goes_on.append(False)
    return r
