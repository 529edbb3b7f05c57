"""The order inside a playlist: a smooth open path through the latent space, greedy nearest
neighbour from the track farthest from the playlist's centre, then 2-opt (on playlists of at
most :data:`TWO_OPT_MAX` tracks). Pure: arrays in, row indices out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from musicorg.organise.cuts import IndexArray, sqdist

TWO_OPT_MAX = 250  # 2-opt on playlists up to this length


def path_length(x: NDArray[Any], order: Sequence[int] | IndexArray) -> float:
    """Sum of the Euclidean steps along ``order``."""
    pts = np.asarray(x, dtype=np.float64)[np.asarray(order, dtype=np.intp)]
    if len(pts) < 2:
        return 0.0
    return float(np.sqrt(((pts[1:] - pts[:-1]) ** 2).sum(1)).sum())


def order_path(x: NDArray[Any], *, two_opt: bool = True) -> IndexArray:
    """A smooth open path through the rows of ``x``: greedy nearest neighbour from the row
    farthest from the centre, then 2-opt (segment reversals) while a step gets shorter."""
    pts = np.asarray(x, dtype=np.float64)
    n = len(pts)
    if n <= 2:
        return np.arange(n, dtype=np.intp)
    d = np.sqrt(np.maximum(sqdist(pts.astype(np.float32), pts.astype(np.float32)), 0)).astype(
        np.float64
    )
    start = int(np.argmax(((pts - pts.mean(0)) ** 2).sum(1)))
    order = [start]
    free = np.ones(n, dtype=bool)
    free[start] = False
    for _ in range(n - 1):
        row = np.where(free, d[order[-1]], np.inf)
        nxt = int(np.argmin(row))
        order.append(nxt)
        free[nxt] = False
    path = np.asarray(order, dtype=np.intp)
    if two_opt and n <= TWO_OPT_MAX:
        path = _two_opt(path, d)
    return path


def _two_opt(path: IndexArray, d: NDArray[np.float64], max_moves: int = 0) -> IndexArray:
    """Open-path 2-opt: reverse path[i..j] when that shortens it, best move first."""
    n = len(path)
    max_moves = max_moves or 4 * n
    i_idx, j_idx = np.triu_indices(n, k=1)
    for _ in range(max_moves):
        p = path
        prev = np.concatenate([[-1], p[:-1]])  # node before i (-1: none)
        nxt = np.concatenate([p[1:], [-1]])  # node after j (-1: none)
        a, b = prev[i_idx], p[i_idx]
        c, e = p[j_idx], nxt[j_idx]
        has_a, has_e = a >= 0, e >= 0
        a0, e0 = np.maximum(a, 0), np.maximum(e, 0)
        old = np.where(has_a, d[a0, b], 0.0) + np.where(has_e, d[c, e0], 0.0)
        new = np.where(has_a, d[a0, c], 0.0) + np.where(has_e, d[b, e0], 0.0)
        gain = old - new
        best = int(np.argmax(gain))
        if gain[best] <= 1e-9:
            break
        i, j = int(i_idx[best]), int(j_idx[best])
        path = np.concatenate([p[:i], p[i : j + 1][::-1], p[j + 1 :]])
    return path
