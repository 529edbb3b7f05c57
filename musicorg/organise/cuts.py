"""Cutting tracks into playlists within the size bounds: the guards, the local search, and
the steering by a previous run. Pure: arrays in, row indices out (no catalogue, no settings).

The cut is recursive K-Means: a node of at most :data:`LEAF_BRANCH` playlists is cut by one
K-Means with K = N / target length (the best of up to :data:`LEAF_INITS` starts, fewer where
a start costs more than :data:`LEAF_BUDGET` row-centre pairs), a bigger one is first split in
at most :data:`NODE_BRANCH` parts. :func:`repair` then enforces the bounds that
:func:`size_limits` gives (see :mod:`musicorg.organise.cluster` for the guards), and
:func:`refine` moves single tracks between neighbouring playlists while that lowers the
K-Means objective and the sizes stay within bounds.

A rebuild passes the previous run's playlists (:class:`Previous`): where a region has no
natural borders they are where it gets cut again, so a few new tracks change little.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from musicorg.jobs import CancelFn, check, never

log = logging.getLogger(__name__)

SHARE_CAP = 0.15  # no playlist over 15 % of a library ...
SHARE_CAP_FROM = 500  # ... of at least this many tracks
FIT_SAMPLE = 20_000
LEAF_BRANCH = 256  # a node with at most this many playlists is cut by one K-Means
NODE_BRANCH = 8  # otherwise it is split in at most this many parts first
LEAF_INITS = 10  # K-Means starts of a leaf cut (the best is kept) ...
LEAF_BUDGET = 200_000  # ... fewer where rows x centres exceeds this (big libraries)
REFINE_NEAR = 16  # a track may move to the playlists with the nearest centres
REFINE_PASSES = 25
NEAR_LOCAL_FROM = 4_096  # from this many playlists, later passes look for neighbours locally
# ... and refine stops after this many passes: at 250,000 tracks, 12 passes left the K-Means
# objective 0.09 % above 25 passes', for two thirds of the time.
REFINE_PASSES_BIG = 12

FloatArray = NDArray[np.float32]
IndexArray = NDArray[np.intp]


# --- sizes ------------------------------------------------------------------------------------


def size_limits(n: int, playlist_min: int = 20, playlist_max: int = 60) -> tuple[int, int]:
    """(min_size, max_size) of a playlist in a library of ``n`` tracks."""
    max_size = max(1, playlist_max)
    min_size = min(playlist_min, max(3, math.ceil(n / 8)))
    if n >= SHARE_CAP_FROM:
        max_size = min(max_size, math.floor(SHARE_CAP * n))
    else:
        # A small library still gets a handful of playlists (about four or more) rather than
        # two halves of everything: the configured maximum is capped at a quarter of it.
        max_size = min(max_size, max(2 * min_size, math.ceil(n / 4)))
    return max(1, min(min_size, max_size)), max_size


def leaf_count(n: int, min_size: int, max_size: int) -> int:
    """How many playlists ``n`` tracks make: near the middle of the range, within the bounds."""
    target = (min_size + max_size) / 2
    lo = math.ceil(n / max_size)
    hi = max(lo, n // max(min_size, 1))
    return int(min(max(round(n / target), lo, 1), hi))


# --- small numeric helpers --------------------------------------------------------------------


def sqdist(a: FloatArray, b: FloatArray) -> FloatArray:
    """Squared Euclidean distances (len(a), len(b)), never negative."""
    d = (a * a).sum(1)[:, None] - 2.0 * (a @ b.T) + (b * b).sum(1)[None, :]
    out: FloatArray = np.maximum(d, 0.0).astype(np.float32, copy=False)
    return out


def nearest(x: FloatArray, centres: FloatArray, chunk: int = 8192) -> IndexArray:
    out = np.empty(len(x), dtype=np.intp)
    for lo in range(0, len(x), chunk):
        out[lo : lo + chunk] = sqdist(x[lo : lo + chunk], centres).argmin(1)
    return out


def sample_rows(n: int, size: int, rng: np.random.Generator) -> IndexArray:
    if n <= size:
        return np.arange(n, dtype=np.intp)
    return np.sort(rng.choice(n, size=size, replace=False)).astype(np.intp)


def kmeans(
    x: FloatArray, k: int, seed: int, init: FloatArray | None = None, n_init: int = 1
) -> FloatArray:
    """K-Means centres (sklearn, Lloyd; the best of ``n_init`` k-means++ starts, or one run
    from ``init``)."""
    # Lazy (start-up time): scikit-learn takes seconds to import.
    from sklearn.cluster import KMeans

    k = max(1, min(k, len(x)))
    km = KMeans(
        n_clusters=k,
        init="k-means++" if init is None else init,
        n_init=n_init if init is None else 1,
        max_iter=100,
        random_state=seed,
        algorithm="lloyd",
    )
    km.fit(x)
    return np.asarray(km.cluster_centers_, dtype=np.float32)


# --- cutting into playlists -------------------------------------------------------------------


def capacity_assign(x: FloatArray, centres: FloatArray, cap: int) -> IndexArray:
    """Nearest centre, except that no centre takes more than ``cap`` rows: then the pairs are
    taken closest first."""
    d = sqdist(x, centres)
    labels: IndexArray = d.argmin(1).astype(np.intp)
    if np.bincount(labels, minlength=len(centres)).max() <= cap:
        return labels
    labels[:] = -1
    room = np.full(len(centres), cap, dtype=np.int64)
    left = len(x)
    for flat in np.argsort(d, axis=None, kind="stable"):
        i, j = divmod(int(flat), len(centres))
        if labels[i] < 0 and room[j] > 0:
            labels[i] = j
            room[j] -= 1
            left -= 1
            if left == 0:
                break
    return labels


def _inits(rows: int, k: int) -> int:
    """K-Means starts for ``rows`` rows and ``k`` centres: LEAF_INITS in a small library,
    fewer (down to one) where a start costs more than LEAF_BUDGET row-centre pairs."""
    return max(1, min(LEAF_INITS, LEAF_BUDGET // max(rows * k, 1)))


def balanced_cut(x: FloatArray, k: int, cap: int, seed: int, n_init: int = 1) -> IndexArray:
    """``k`` parts of at most ``cap`` rows: K-Means centres, assignment under the capacity,
    and a couple of constrained Lloyd steps."""
    centres = kmeans(x, k, seed, n_init=n_init)
    labels = capacity_assign(x, centres, cap)
    for _ in range(2):
        centres = np.stack(
            [x[labels == j].mean(0) if (labels == j).any() else centres[j] for j in range(k)]
        ).astype(np.float32)
        new = capacity_assign(x, centres, cap)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def _leaf_cut(
    xs: FloatArray,
    k: int,
    min_size: int,
    max_size: int,
    seed: int,
    init: FloatArray | None = None,
    follow: IndexArray | None = None,
) -> list[IndexArray]:
    """Cut the rows of ``xs`` into about ``k`` playlists within the size bounds.

    K-Means with ``k`` centres (the best of several starts; or, on a rebuild, the previous
    playlists: ``follow`` gives each row's previous part, new rows take the nearest centre).
    Then the guards, each kept local: the tracks of a part shorter than ``min_size`` join
    their nearest remaining part, and a part longer than ``max_size`` is cut in even,
    K-Means-shaped pieces of itself. A natural cluster is never cut to fill another."""
    if follow is not None and init is not None:
        labels = nearest(xs, init)
        labels = np.where(follow >= 0, follow, labels).astype(np.intp)
        k = len(init)
    else:
        centres = kmeans(xs, k, seed, init=init, n_init=_inits(len(xs), k))
        labels = nearest(xs, centres)
        k = len(centres)
    parts = [p for p in (np.flatnonzero(labels == j).astype(np.intp) for j in range(k)) if len(p)]
    split_inits = min(3, _inits(len(xs), k))
    small = [p for p in parts if len(p) < min_size]
    parts = [p for p in parts if len(p) >= min_size]
    if small and parts:
        rest = np.concatenate(small)
        cents = np.stack([xs[p].mean(0) for p in parts]).astype(np.float32)
        near = nearest(xs[rest], cents)
        parts = [np.sort(np.concatenate([p, rest[near == j]])) for j, p in enumerate(parts)]
    elif small:
        parts = [np.sort(np.concatenate(small))]
    out: list[IndexArray] = []
    for p in parts:
        if len(p) <= max_size:
            out.append(p)
            continue
        pieces = leaf_count(len(p), min_size, max_size)
        cut = balanced_cut(xs[p], pieces, math.ceil(len(p) / pieces), seed, split_inits)
        out.extend(p[cut == j] for j in range(pieces) if (cut == j).any())
    return out


#: Playlists whose neighbour lists refine() computes at once (rows of a distance matrix).
_CENTRE_ROWS = 2048


def _nearest_centres(
    cent: FloatArray, ch: IndexArray, m: int, same: IndexArray | None
) -> tuple[IndexArray, NDArray[np.bool_]]:
    """The ``m`` playlists with the nearest centres to each playlist of ``ch`` (of its own
    group when ``same`` gives groups), and which of them are real (a group may be smaller)."""
    k = len(cent)
    dc = sqdist(cent[ch], cent)
    dc[np.arange(len(ch)), ch] = np.inf
    if same is not None:
        dc[same[ch][:, None] != same[None, :]] = np.inf
    nb = np.argpartition(dc, m - 1, axis=1)[:, :m] if m < k - 1 else np.argsort(dc, 1)[:, :m]
    return nb, np.isfinite(np.take_along_axis(dc, nb, 1))


def _nearer_centres(
    cent: FloatArray, ch: IndexArray, near: IndexArray, m: int, same: IndexArray | None
) -> tuple[IndexArray, NDArray[np.bool_]]:
    """:func:`_nearest_centres` among the playlists of ``ch``'s last neighbour lists
    (``near``) and of theirs: after a pass moves centres a little, the nearest ones are
    still found there, at a cost that does not grow with the number of playlists."""
    cand = np.concatenate([near[ch], near[near[ch]].reshape(len(ch), -1)], axis=1)
    cand.sort(axis=1)
    diff = cent[cand] - cent[ch][:, None, :]
    d = np.einsum("ijk,ijk->ij", diff, diff)
    d[cand == ch[:, None]] = np.inf
    d[:, 1:][cand[:, 1:] == cand[:, :-1]] = np.inf  # each candidate once
    if same is not None:
        d[same[cand] != same[ch][:, None]] = np.inf
    pick = np.argpartition(d, m - 1, axis=1)[:, :m]
    nb = np.take_along_axis(cand, pick, 1)
    return nb, np.isfinite(np.take_along_axis(d, pick, 1))


def _neighbours(
    cent: FloatArray,
    changed: IndexArray,
    near: IndexArray,
    valid: NDArray[np.bool_],
    same: IndexArray | None,
    local: bool,
) -> None:
    """The neighbour lists (``near``, ``valid``: k × m) of the playlists ``changed``, in place.
    In slices of playlists: 25,000 playlists (a million tracks) would make a 2.5 GB matrix of
    centre distances at once. ``local`` (past the first pass of a big library, when the
    centres have moved a little): a playlist's new neighbours are looked for among its
    neighbours and theirs."""
    m = near.shape[1]
    if not local and len(cent) > NEAR_LOCAL_FROM:
        _bucketed_centres(cent, changed, near, valid, same)
        return
    for lo in range(0, len(changed), _CENTRE_ROWS):
        ch = changed[lo : lo + _CENTRE_ROWS]
        if local:
            near[ch], valid[ch] = _nearer_centres(cent, ch, near, m, same)
        else:
            near[ch], valid[ch] = _nearest_centres(cent, ch, m, same)


#: Buckets of playlist centres searched for each bucket's neighbour lists (its own and the
#: nearest others), when there are more than NEAR_LOCAL_FROM playlists.
NEAR_BUCKETS = 8


def _bucketed_centres(
    cent: FloatArray,
    changed: IndexArray,
    near: IndexArray,
    valid: NDArray[np.bool_],
    same: IndexArray | None,
) -> None:
    """:func:`_nearest_centres` for many playlists, in place: the centres are cut into about
    √k buckets (K-Means on the centres), and a bucket's playlists look among the playlists of
    the :data:`NEAR_BUCKETS` nearest buckets only (a twentieth of them at 25,000 playlists).
    The few true neighbours a bucket's edge hides are found by the local passes after."""
    k, m = len(cent), near.shape[1]
    n_buckets = max(2, math.isqrt(k))
    centres = kmeans(cent[sample_rows(k, 20 * n_buckets, np.random.default_rng(0))], n_buckets, 0)
    bucket = nearest(cent, centres)
    around = np.argsort(sqdist(centres, centres), axis=1)[:, :NEAR_BUCKETS]
    wanted = np.zeros(k, dtype=bool)
    wanted[changed] = True
    for b in range(len(centres)):
        ch = np.flatnonzero((bucket == b) & wanted)
        if len(ch) == 0:
            continue
        cand = np.flatnonzero(np.isin(bucket, around[b]))
        d = sqdist(cent[ch], cent[cand])
        d[cand[None, :] == ch[:, None]] = np.inf
        if same is not None:
            d[same[ch][:, None] != same[cand][None, :]] = np.inf
        if len(cand) > m:
            pick = np.argpartition(d, m - 1, axis=1)[:, :m]
        else:  # too few: fill with the nearest of all
            near[ch], valid[ch] = _nearest_centres(cent, ch, m, same)
            continue
        near[ch] = cand[pick]
        valid[ch] = np.isfinite(np.take_along_axis(d, pick, 1))


def refine(
    x: FloatArray,
    labels: IndexArray,
    k: int,
    min_size: int,
    max_size: int,
    same: IndexArray | None = None,
    cancel: CancelFn = never,
) -> IndexArray:
    """Local search on the K-Means objective within the size bounds (Hartigan's moves): a
    track moves to another playlist when that lowers the sum of squared distances of tracks
    to their playlist's centre, and both playlists stay within ``min_size``..``max_size``.
    Candidates are the REFINE_NEAR playlists with the nearest centres (of the same group when
    ``same`` gives groups); only tracks near a playlist that changed are looked at again.
    Runs until no move helps or for REFINE_PASSES passes (REFINE_PASSES_BIG past NEAR_LOCAL_FROM
    playlists; by then the moves left are few), so
    that a rebuild that starts from this result finds (next to) nothing to change."""
    labels = labels.copy()
    m = min(REFINE_NEAR, k - 1)
    if m < 1:
        return labels
    x64 = x.astype(np.float64)
    sizes = np.bincount(labels, minlength=k).astype(np.int64)
    sums = np.zeros((k, x.shape[1]))
    np.add.at(sums, labels, x64)
    touched = np.ones(k, dtype=bool)
    near = np.zeros((k, m), dtype=np.intp)
    valid = np.zeros((k, m), dtype=bool)
    first = True
    for _ in range(REFINE_PASSES if k <= NEAR_LOCAL_FROM else REFINE_PASSES_BIG):
        check(cancel)
        cent = (sums / np.maximum(sizes, 1)[:, None]).astype(np.float32)
        # Neighbour lists of the playlists that changed, then who must look again: tracks
        # of a changed playlist or of one with a changed neighbour.
        _neighbours(
            cent, np.flatnonzero(touched), near, valid, same, k > NEAR_LOCAL_FROM and not first
        )
        first = False
        active = touched | (touched[near] & valid).any(1)
        rows = np.flatnonzero(active[labels])
        best = np.empty(len(rows), dtype=np.intp)
        gain = np.empty(len(rows), dtype=np.float64)
        for lo in range(0, len(rows), 4096):
            r = rows[lo : lo + 4096]
            lab = labels[r]
            cand = near[lab]
            diff = x[r][:, None, :] - cent[cand]
            d = np.einsum("ijk,ijk->ij", diff, diff).astype(np.float64)
            own = ((x[r] - cent[lab]) ** 2).sum(1).astype(np.float64)
            n_own = sizes[lab].astype(np.float64)
            out_cost = np.where(n_own > 1, own * n_own / np.maximum(n_own - 1, 1), -np.inf)
            sc = sizes[cand].astype(np.float64)
            in_cost = np.where(valid[lab], d * sc / (sc + 1), np.inf)
            j = in_cost.argmin(1)
            at = np.arange(len(r))
            best[lo : lo + 4096] = cand[at, j]
            gain[lo : lo + 4096] = out_cost - in_cost[at, j]
        touched = np.zeros(k, dtype=bool)
        for t in np.flatnonzero(gain > 1e-12)[np.argsort(-gain[gain > 1e-12], kind="stable")]:
            i, a, b = int(rows[t]), int(labels[rows[t]]), int(best[t])
            if sizes[a] - 1 < min_size or sizes[b] + 1 > max_size:
                continue
            xi = x64[i]
            if touched[a] or touched[b]:  # the gain was computed before they changed
                da = float(((xi - sums[a] / sizes[a]) ** 2).sum()) * sizes[a] / (sizes[a] - 1)
                db = float(((xi - sums[b] / sizes[b]) ** 2).sum()) * sizes[b] / (sizes[b] + 1)
                if da - db <= 1e-12:
                    continue
            labels[i] = b
            sizes[a] -= 1
            sizes[b] += 1
            sums[a] -= xi
            sums[b] += xi
            touched[a] = touched[b] = True
        log.debug("refine: %d rows looked at, %d playlists changed", len(rows), touched.sum())
        if not touched.any():
            break
    return labels


@dataclass
class Previous:
    """The previous run's playlists, seen from this run's rows."""

    owner: IndexArray  # per row: index of its previous playlist, -1 for none
    sizes: NDArray[np.int64]  # per previous playlist: how many of its tracks are rows now

    @classmethod
    def of(cls, n: int, previous: Sequence[IndexArray]) -> Previous | None:
        if not previous:
            return None
        owner = np.full(n, -1, dtype=np.intp)
        for i, rows in enumerate(previous):
            owner[np.asarray(rows, dtype=np.intp)] = i
        return cls(owner, np.bincount(owner[owner >= 0], minlength=len(previous)))


def _anchors(
    xs: FloatArray, owner: IndexArray, sizes: NDArray[np.int64], leaves: int, lo: int, hi: int
) -> tuple[int, FloatArray | None, IndexArray | None]:
    """The previous playlists that have most of their (remaining) tracks in this node, so that
    a rebuild keeps the cuts it made before. Returns the number of leaves and start centres:
    when the previous count fits the bounds ``lo``..``hi``, that count, those playlists'
    centres and, per row, the part it starts in (its previous playlist's; -1 for new rows and
    rows whose playlist lies mostly elsewhere); otherwise (settings changed, the library grew
    a lot) the new count and centres for K-Means to start from: those of the biggest
    previous playlists, topped up with farthest-point picks, and no parts.
    (leaves, None, None) without a previous run."""
    own = owner[owner >= 0]
    if len(own) == 0:
        return leaves, None, None
    ids, here = np.unique(own, return_counts=True)
    keep = here * 2 > sizes[ids]
    ids, here = ids[keep], here[keep]
    if len(ids) == 0:
        return leaves, None, None
    fits = lo <= len(ids) <= hi
    if fits:
        leaves = len(ids)
    chosen = ids[np.lexsort((ids, -here))[:leaves]]
    centres = [xs[owner == i].mean(0) for i in chosen]
    while len(centres) < leaves:
        d = sqdist(xs, np.stack(centres).astype(np.float32)).min(1)
        centres.append(xs[int(np.argmax(d))])
    if not fits:
        return leaves, np.stack(centres).astype(np.float32), None
    slot = np.full(int(owner.max()) + 1, -1, dtype=np.intp)
    slot[chosen] = np.arange(len(chosen))
    follow = np.where(owner >= 0, slot[np.maximum(owner, 0)], -1).astype(np.intp)
    return leaves, np.stack(centres).astype(np.float32), follow


def _anchored_split(
    xs: FloatArray, owner: IndexArray, sizes: NDArray[np.int64], k: int, seed: int
) -> IndexArray | None:
    """Split a node in ``k`` parts without cutting through the previous playlists: their
    centres are clustered, each row follows its previous playlist, new rows the nearest part.
    None when too few previous playlists lie here."""
    # Lazy (start-up time): scikit-learn takes seconds to import.
    from sklearn.cluster import KMeans

    own = owner[owner >= 0]
    if len(own) == 0:
        return None
    ids, here = np.unique(own, return_counts=True)
    keep = here * 2 > sizes[ids]
    ids, here = ids[keep], here[keep]
    if len(ids) < 2 * k:
        return None
    cents = np.stack([xs[owner == i].mean(0) for i in ids]).astype(np.float32)
    km = KMeans(n_clusters=k, n_init=1, max_iter=100, random_state=seed, algorithm="lloyd")
    km.fit(cents, sample_weight=here.astype(np.float64))
    part_of = np.full(int(owner.max()) + 1, -1, dtype=np.intp)
    part_of[ids] = np.asarray(km.labels_, dtype=np.intp)
    labels = nearest(xs, np.asarray(km.cluster_centers_, dtype=np.float32))
    follow = np.where(owner >= 0, part_of[np.maximum(owner, 0)], -1)
    labels = np.where(follow >= 0, follow, labels).astype(np.intp)
    if np.bincount(labels, minlength=k).max() == len(xs):
        return None
    return labels


def split(
    x: FloatArray,
    idx: IndexArray,
    min_size: int,
    max_size: int,
    seed: int,
    cancel: CancelFn,
    prev: Previous | None = None,
) -> list[IndexArray]:
    """Cut the rows ``idx`` into playlists of about the target length (recursive K-Means).
    ``prev`` (the previous run's playlists) makes rebuilds stable."""
    n = len(idx)
    if n <= max_size:
        return [idx]
    check(cancel)
    leaves = leaf_count(n, min_size, max_size)
    xs = x[idx]
    if leaves <= LEAF_BRANCH:
        init = follow = None
        if prev is not None:
            lo = math.ceil(n / max_size)
            hi = max(lo, min(LEAF_BRANCH, n // max(min_size, 1)))
            leaves, init, follow = _anchors(xs, prev.owner[idx], prev.sizes, leaves, lo, hi)
        cut = _leaf_cut(xs, leaves, min_size, max_size, seed, init, follow)
        return [idx[p] for p in cut]
    k = max(2, min(NODE_BRANCH, math.ceil(leaves / LEAF_BRANCH)))
    rng = np.random.default_rng(seed)
    fit = sample_rows(n, FIT_SAMPLE, rng)
    anchored = _anchored_split(xs, prev.owner[idx], prev.sizes, k, seed) if prev else None
    labels = nearest(xs, kmeans(xs[fit], k, seed)) if anchored is None else anchored
    out: list[IndexArray] = []
    if np.bincount(labels, minlength=k).max() == n:  # K-Means could not split: cut by size
        labels = balanced_cut(xs, k, math.ceil(n / k), seed)
    for j in range(k):
        part = idx[labels == j]
        if len(part):
            out.extend(split(x, part, min_size, max_size, seed + 1 + j, cancel, prev))
    return out


def even_runs(x: FloatArray, idx: IndexArray, max_size: int) -> list[IndexArray]:
    """Equal runs along the main axis: the last resort that always meets the size bound."""
    parts = math.ceil(len(idx) / max_size)
    xs = x[idx] - x[idx].mean(0)
    _u, _s, vt = np.linalg.svd(xs, full_matrices=False)
    order = idx[np.argsort(xs @ vt[0], kind="stable")]
    return [np.asarray(a, dtype=np.intp) for a in np.array_split(order, parts)]


def place_rows(
    x: FloatArray,
    rows: IndexArray,
    members: list[list[int]],
    sizes: NDArray[np.int64],
    sums: NDArray[np.float64],
    alive: NDArray[np.bool_],
    max_size: int,
) -> None:
    """Every row joins its nearest playlist that has room (closest rows first when a playlist
    fills up; centres move between rounds). With no room left anywhere, the nearest one."""
    while len(rows):
        centres = (sums / np.maximum(sizes, 1)[:, None]).astype(np.float32)
        open_ = alive & (sizes < max_size)
        anywhere = not open_.any()
        allowed = alive if anywhere else open_
        cand = np.flatnonzero(allowed)
        best = np.empty(len(rows), dtype=np.intp)
        dist = np.empty(len(rows), dtype=np.float32)
        for lo in range(0, len(rows), 4096):
            d = sqdist(x[rows[lo : lo + 4096]], centres[cand])
            arg = d.argmin(1)
            best[lo : lo + 4096] = cand[arg]
            dist[lo : lo + 4096] = d[np.arange(len(arg)), arg]
        placed = np.zeros(len(rows), dtype=bool)
        for j in np.unique(best):
            mine = np.flatnonzero(best == j)
            room = len(mine) if anywhere else int(max_size - sizes[j])
            take = mine[np.argsort(dist[mine], kind="stable")[:room]]
            placed[take] = True
            members[int(j)].extend(int(r) for r in rows[take])
            sizes[j] += len(take)
            sums[j] += x[rows[take]].sum(0)
        rows = rows[~placed]


def repair(
    x: FloatArray,
    parts: list[IndexArray],
    part_group: list[int],
    extra: IndexArray,
    min_size: int,
    max_size: int,
    seed: int,
    cancel: CancelFn,
    prev: Previous | None = None,
) -> tuple[list[IndexArray], list[int]]:
    """Enforce the size bounds; ``extra`` rows (noise) join their nearest playlist."""
    members: list[list[int]] = [list(p) for p in parts]
    groups = list(part_group)
    for _round in range(4):
        check(cancel)
        homeless = [int(r) for r in extra] if _round == 0 else []
        _rehome(x, members, groups, homeless, min_size, max_size)
        round_seed = seed + 7919 * (_round + 1)
        members, groups, changed = _recut(
            x, members, groups, min_size, max_size, round_seed, cancel, prev
        )
        sizes_now = [len(m) for m in members]
        if not changed and (min(sizes_now) >= min_size or len(members) == 1):
            break
    out: list[IndexArray] = []
    out_groups: list[int] = []
    for m, g in zip(members, groups, strict=True):
        arr = np.asarray(sorted(m), dtype=np.intp)
        runs = even_runs(x, arr, max_size) if len(arr) > max_size else [arr]
        for run in runs:
            out.append(run)
            out_groups.append(g)
    return out, out_groups


def _rehome(
    x: FloatArray,
    members: list[list[int]],
    groups: list[int],
    homeless: list[int],
    min_size: int,
    max_size: int,
) -> None:
    """Dissolve the short playlists (shortest first, while another one is left to go to);
    their tracks and the ``homeless`` rows join their nearest playlist that has room. Works
    in place: a dissolved playlist is left empty, a new one may be appended."""
    sizes = np.array([len(m) for m in members], dtype=np.int64)
    sums = np.stack([x[m].sum(0) if m else np.zeros(x.shape[1]) for m in members]).astype(
        np.float64
    )
    alive = sizes > 0
    while True:
        short = np.flatnonzero(alive & (sizes < min_size))
        if len(short) == 0 or alive.sum() <= 1:
            break
        i = int(short[np.argmin(sizes[short])])
        alive[i] = False
        homeless.extend(members[i])
        members[i] = []
        sizes[i] = 0
        sums[i] = 0.0
    if not homeless:
        return
    if not alive.any():  # nothing to join: the leftovers make one playlist
        members.append([])
        groups.append(0)
        sizes = np.append(sizes, 0)
        sums = np.vstack([sums, np.zeros((1, x.shape[1]))])
        alive = np.append(alive, True)
    rows = np.asarray(sorted(homeless), dtype=np.intp)
    place_rows(x, rows, members, sizes, sums, alive, max_size)


def _recut(
    x: FloatArray,
    members: list[list[int]],
    groups: list[int],
    min_size: int,
    max_size: int,
    seed: int,
    cancel: CancelFn,
    prev: Previous | None,
) -> tuple[list[list[int]], list[int], bool]:
    """Cut the playlists longer than ``max_size`` again, and drop the empty ones: the
    playlists, their groups, and whether any was cut."""
    changed = False
    new_members: list[list[int]] = []
    new_groups: list[int] = []
    for m, g in zip(members, groups, strict=True):
        if not m:
            continue
        if len(m) > max_size:
            changed = True
            arr = np.asarray(sorted(m), dtype=np.intp)
            for p in split(x, arr, min_size, max_size, seed, cancel, prev):
                new_members.append(list(p))
                new_groups.append(g)
        else:
            new_members.append(m)
            new_groups.append(g)
    return new_members, new_groups, changed
