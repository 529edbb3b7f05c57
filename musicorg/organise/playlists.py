"""Automatic playlists: clustering of the latent means, size guards, order, names, stability.

The pipeline works on an array of latent means (one row per track) and is pure up to
:func:`plan_playlists`; :func:`build_playlists` reads the catalogue, runs it and writes the
result. Everything is deterministic for a given input and seed.

**Hierarchy.** The library is cut into *playlists* of the target length (settings
``playlist_min`` .. ``playlist_max``, default 20-60) and the playlists are gathered into at
most :data:`MAX_GROUPS` top-level *groups* (colours and sidebar sections). The chosen method
(setting ``cluster_method``) decides how:

- ``kmeans`` (default): playlists first. K-Means over the whole library with K = N / target
  length (the best of up to :data:`LEAF_INITS` starts; a library of more than
  :data:`LEAF_BRANCH` playlists is first split in a few parts by K-Means), then the guards
  below, then a local search that moves single tracks between neighbouring playlists while
  that lowers the K-Means objective and the sizes stay within bounds. The groups are then
  made of whole playlists: K-Means on the playlists' centres (weighted by length), K from
  ``kmin`` to 20 chosen by the silhouette of the tracks, on a sample of at most
  :data:`SILHOUETTE_SAMPLE`. ``kmin`` is 2, or more in a big library, so that a group holds
  about :data:`GROUP_PLAYLISTS` playlists at most where 20 groups allow it (a sidebar
  section of 1,000 playlists is no use). Playlists come first because groups cut first
  (at a K the silhouette likes, often 2) run through clusters that the playlists then
  cannot follow: on held-out tracks that made them less coherent than plain K-Means with
  as many clusters (``scripts/eval_playlists.py``).
- ``agglomerative``: groups first, by Ward linkage on the tracks themselves up to
  :data:`AGGLO_MAX_POINTS`, else on :data:`AGGLO_MICRO` K-Means micro-centroids (every track
  takes the group of its micro-centroid); the cut (``kmin``-20 groups) is chosen by the
  silhouette too. Each group is then cut into playlists as above, and the local search
  keeps tracks inside their group.
- ``dbscan``: groups first, on a sample of at most :data:`DBSCAN_SAMPLE` tracks, with
  ``min_samples = DBSCAN_MIN_SAMPLES`` (fewer on tiny libraries) and the **eps rule**: eps is
  the median, over the sample, of each track's distance to its ``min_samples``-th nearest
  neighbour. Tracks outside the sample take the cluster of their nearest core track when it
  lies within eps. More than 20 clusters are merged by Ward linkage of their centroids. Noise
  tracks take part in no group: they join their nearest playlist. Then as ``agglomerative``.

**Guards** (against the paper's failure, where one cluster held 97.7 % of the tracks):

- no playlist holds more than ``max_size`` tracks, where ``max_size`` is ``playlist_max`` and,
  in a library of at least 500 tracks, at most 15 % of it. A K-Means cluster that is longer
  is cut into even pieces of itself (K-Means inside it, assignment under a capacity), so a
  natural cluster is never cut to fill its neighbours; a last pass cuts any playlist that
  is still too long into equal runs along its main axis, so the bound always holds;
- no playlist is shorter than ``min_size``: a shorter cluster is dissolved and its tracks
  (like DBSCAN's noise, and any other leftover) join their nearest playlist (that has
  room); ``min_size`` is ``playlist_min``, and in a small library ``max(3, ceil(N / 8))``
  when that is lower;
- songs with the same artist and title (normalised, case-insensitive), and byte-equal copies,
  collapse to one entry (the one with the lowest track id) before clustering;
- missing tracks take no part.

**Order.** Inside a playlist, tracks follow a smooth path through the latent space: greedy
nearest neighbour from the track farthest from the playlist's centre, then 2-opt.

**Stability.** Rebuilding is explicit (the user asks, or :func:`needs_recluster` says that an
analysis added at least 10 % new tracks since the last build); never on a mere rescan. A rebuild
starts from the previous playlists (each track where it was, new tracks in the nearest
playlist, then the guards and the local search), so a rebuild of the same library keeps
its playlists and a few new tracks change little. New
playlists are matched to the old ones of the same model version by the Hungarian method on
Jaccard similarity; a match of at least 0.5 keeps the playlist's id and name (and its
``renamed`` flag: a playlist the user renamed keeps that name while its members change).
Unmatched old playlists are removed. A *pinned* playlist keeps its tracks and its name: its
tracks stay in it and are left out of the clustering; the rest of the library is clustered.
Each rebuild also matches groups by Jaccard, so a group keeps its index (its colour) when it
keeps at least half its tracks. Pinned playlists are put in the new group nearest to them.
Automatic playlists belong to one model version; other versions' playlists are left alone,
and user playlists never depend on the model.
"""

from __future__ import annotations

import json
import logging
import math
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, insert, select, text, update

from musicorg.jobs import CancelFn, ProgressFn, check, never, no_progress
from musicorg.keys import AUTO, BUILT_KEY, FEATURES_VERSION
from musicorg.model import autotags
from musicorg.organise import naming
from musicorg.store.db import Analysis, Catalogue, Embedding, Meta, Playlist, PlaylistItem, Track
from musicorg.store.events import announces_playlists_change
from musicorg.store.vectors import active_model_version

log = logging.getLogger(__name__)

METHODS = ("kmeans", "agglomerative", "dbscan")
MAX_GROUPS = 20
GROUP_PLAYLISTS = 50  # K's lower bound keeps groups to about this many playlists
SHARE_CAP = 0.15  # no playlist over 15 % of a library ...
SHARE_CAP_FROM = 500  # ... of at least this many tracks
FIT_SAMPLE = 20_000
SILHOUETTE_SAMPLE = 3_000
AGGLO_MAX_POINTS = 4_000
AGGLO_MICRO = 1_000
DBSCAN_SAMPLE = 10_000
DBSCAN_MIN_SAMPLES = 10
LEAF_BRANCH = 256  # a node with at most this many playlists is cut by one K-Means
NODE_BRANCH = 8  # otherwise it is split in at most this many parts first
LEAF_INITS = 10  # K-Means starts of a leaf cut (the best is kept) ...
LEAF_BUDGET = 200_000  # ... fewer where rows x centres exceeds this (big libraries)
REFINE_NEAR = 16  # a track may move to the playlists with the nearest centres
REFINE_PASSES = 25
GROUP_INITS = 4
TWO_OPT_MAX = 250  # 2-opt on playlists up to this length
MATCH_MIN = 0.5
PLAN_THREADS = 1
RECLUSTER_SHARE = 0.10
HIGH_ID_KEY = "playlists_high_id"

FloatArray = NDArray[np.float32]
IndexArray = NDArray[np.intp]


class PlaylistError(RuntimeError):
    """Playlists cannot be built or changed, with a message for people."""


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


def _leaf_count(n: int, min_size: int, max_size: int) -> int:
    """How many playlists ``n`` tracks make: near the middle of the range, within the bounds."""
    target = (min_size + max_size) / 2
    lo = math.ceil(n / max_size)
    hi = max(lo, n // max(min_size, 1))
    return int(min(max(round(n / target), lo, 1), hi))


# --- small numeric helpers --------------------------------------------------------------------


def _sqdist(a: FloatArray, b: FloatArray) -> FloatArray:
    """Squared Euclidean distances (len(a), len(b)), never negative."""
    d = (a * a).sum(1)[:, None] - 2.0 * (a @ b.T) + (b * b).sum(1)[None, :]
    out: FloatArray = np.maximum(d, 0.0).astype(np.float32, copy=False)
    return out


def _nearest(x: FloatArray, centres: FloatArray, chunk: int = 8192) -> IndexArray:
    out = np.empty(len(x), dtype=np.intp)
    for lo in range(0, len(x), chunk):
        out[lo : lo + chunk] = _sqdist(x[lo : lo + chunk], centres).argmin(1)
    return out


def _sample(n: int, size: int, rng: np.random.Generator) -> IndexArray:
    if n <= size:
        return np.arange(n, dtype=np.intp)
    return np.sort(rng.choice(n, size=size, replace=False)).astype(np.intp)


def _prepare(x: NDArray[Any]) -> FloatArray:
    """Centred float32 copy, scaled to unit mean-square norm (per-dimension scales are kept:
    the latent dimensions a VAE leaves unused must not be blown up into noise)."""
    x = np.asarray(x, dtype=np.float32)
    x = x - x.mean(0, keepdims=True)
    scale = float(np.sqrt((x * x).sum(1).mean())) if len(x) else 0.0
    return (x / scale if scale > 0 else x).astype(np.float32)


def _kmeans(
    x: FloatArray, k: int, seed: int, init: FloatArray | None = None, n_init: int = 1
) -> FloatArray:
    """K-Means centres (sklearn, Lloyd; the best of ``n_init`` k-means++ starts, or one run
    from ``init``)."""
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


def _silhouette(x: FloatArray, labels: IndexArray, seed: int) -> float:
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= len(labels):
        return -1.0
    size = min(len(x), SILHOUETTE_SAMPLE)
    return float(silhouette_score(x, labels, sample_size=size, random_state=seed))


# --- top-level groups -------------------------------------------------------------------------


def _min_groups(n: int, min_size: int, max_size: int) -> int:
    """The fewest groups worth offering: enough that a group holds about GROUP_PLAYLISTS
    playlists at most (where 20 groups allow it), so a big library's sidebar stays usable."""
    playlists = _leaf_count(n, min_size, max_size) if n > max_size else 1
    return max(2, min(MAX_GROUPS, math.ceil(playlists / GROUP_PLAYLISTS)))


def _max_groups(n: int, min_size: int) -> int:
    return max(1, min(MAX_GROUPS, n // max(min_size, 1)))


def _ward_cut(
    points: FloatArray, kmin: int, kmax: int, score: Callable[[IndexArray], float]
) -> IndexArray:
    """Ward linkage of ``points``; the cut with 2..kmax clusters that ``score`` likes best."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if kmax < 2 or len(points) < 3:
        return np.zeros(len(points), dtype=np.intp)
    tree = linkage(points.astype(np.float64), method="ward")
    best: tuple[float, IndexArray] | None = None
    for k in range(min(kmin, kmax), min(kmax, len(points) - 1) + 1):
        labels = np.asarray(fcluster(tree, k, criterion="maxclust"), dtype=np.intp) - 1
        s = score(labels)
        if best is None or s > best[0] + 1e-9:
            best = (s, labels)
    return best[1] if best is not None else np.zeros(len(points), dtype=np.intp)


def _groups_agglomerative(
    x: FloatArray, min_size: int, max_size: int, seed: int, rng: np.random.Generator
) -> IndexArray:
    kmax = _max_groups(len(x), min_size)
    kmin = _min_groups(len(x), min_size, max_size)
    if kmax < 2:
        return np.zeros(len(x), dtype=np.intp)
    if len(x) <= AGGLO_MAX_POINTS:
        return _ward_cut(x, kmin, kmax, lambda labels: _silhouette(x, labels, seed))
    from sklearn.cluster import MiniBatchKMeans

    mbk = MiniBatchKMeans(
        n_clusters=AGGLO_MICRO, batch_size=4096, n_init=1, max_iter=20, random_state=seed
    )
    mbk.fit(x[_sample(len(x), 5 * FIT_SAMPLE, rng)])
    micro = np.asarray(mbk.cluster_centers_, dtype=np.float32)
    owner = _nearest(x, micro)
    used = np.unique(owner)
    micro = micro[used]
    owner = np.searchsorted(used, owner).astype(np.intp)
    rows = _sample(len(x), SILHOUETTE_SAMPLE, rng)

    def score(labels: IndexArray) -> float:
        return _silhouette(x[rows], labels[owner[rows]], seed)

    return _ward_cut(micro, kmin, kmax, score)[owner]


def dbscan_min_samples(n: int) -> int:
    """DBSCAN's min_samples for ``n`` tracks: DBSCAN_MIN_SAMPLES, fewer on tiny libraries."""
    return max(2, min(DBSCAN_MIN_SAMPLES, n // 10))


def dbscan_eps(x: FloatArray, min_samples: int) -> float:
    """The eps rule: the median distance of a track to its ``min_samples``-th neighbour."""
    from sklearn.neighbors import NearestNeighbors

    k = min(min_samples, len(x) - 1)
    if k < 1:
        return 1.0
    nn = NearestNeighbors(n_neighbors=k + 1).fit(x)
    dist, _ = nn.kneighbors(x)
    eps = float(np.median(dist[:, k]))
    return eps if eps > 0 else 1e-6


def _groups_dbscan(x: FloatArray, min_size: int, seed: int, rng: np.random.Generator) -> IndexArray:
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.cluster import DBSCAN
    from sklearn.neighbors import NearestNeighbors

    n = len(x)
    min_samples = dbscan_min_samples(n)
    rows = _sample(n, DBSCAN_SAMPLE, rng)
    xs = x[rows]
    if len(xs) < 3:
        return np.zeros(n, dtype=np.intp)
    eps = dbscan_eps(xs, min_samples)
    db = DBSCAN(eps=eps, min_samples=min_samples).fit(xs)
    labels_s = np.asarray(db.labels_, dtype=np.intp)
    labels = np.full(n, -1, dtype=np.intp)
    labels[rows] = labels_s
    if labels_s.max(initial=-1) < 0:
        return np.zeros(n, dtype=np.intp)  # all noise: one group, cut by size below
    if len(rows) < n:
        core = np.asarray(db.core_sample_indices_, dtype=np.intp)
        rest = np.setdiff1d(np.arange(n), rows)
        nn = NearestNeighbors(n_neighbors=1).fit(xs[core])
        dist, idx = nn.kneighbors(x[rest])
        near = dist[:, 0] <= eps
        labels[rest[near]] = labels_s[core[idx[near, 0]]]
    # Groups of fewer than min_size tracks would only be dissolved later: their tracks are noise.
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    small = ids[counts < min_size]
    labels[np.isin(labels, small)] = -1
    ids = ids[counts >= min_size]
    if len(ids) == 0:
        return np.zeros(n, dtype=np.intp)
    labels = np.where(labels >= 0, np.searchsorted(ids, labels), -1).astype(np.intp)
    if len(ids) > MAX_GROUPS:
        centres = np.stack([x[labels == g].mean(0) for g in range(len(ids))])
        tree = linkage(centres.astype(np.float64), method="ward")
        merged = np.asarray(fcluster(tree, MAX_GROUPS, criterion="maxclust"), dtype=np.intp) - 1
        labels = np.where(labels >= 0, merged[np.maximum(labels, 0)], -1).astype(np.intp)
    return labels


def _group_playlists(
    x: FloatArray,
    parts: list[IndexArray],
    min_size: int,
    max_size: int,
    seed: int,
    rng: np.random.Generator,
) -> list[int]:
    """Groups of whole playlists (the ``kmeans`` method): K-Means on the playlists' centres,
    weighted by their lengths, with K from ``kmin`` to 20 (and at most half the playlists)
    chosen by the silhouette of the tracks, on a sample of at most SILHOUETTE_SAMPLE."""
    from sklearn.cluster import KMeans

    n = len(x)
    kmax = min(_max_groups(n, min_size), len(parts) // 2)
    if kmax < 2:
        return [0] * len(parts)
    kmin = min(_min_groups(n, min_size, max_size), kmax)
    cents = np.stack([x[p].mean(0) for p in parts]).astype(np.float32)
    weight = np.array([len(p) for p in parts], dtype=np.float64)
    owner = np.empty(n, dtype=np.intp)
    for i, p in enumerate(parts):
        owner[p] = i
    rows = _sample(n, SILHOUETTE_SAMPLE, rng)
    best: tuple[float, IndexArray] | None = None
    for k in range(kmin, kmax + 1):
        km = KMeans(n_clusters=k, n_init=GROUP_INITS, random_state=seed, algorithm="lloyd")
        km.fit(cents, sample_weight=weight)
        lab = np.asarray(km.labels_, dtype=np.intp)
        score = _silhouette(x[rows], lab[owner[rows]], seed)
        if best is None or score > best[0] + 1e-9:
            best = (score, lab)
    assert best is not None
    return [int(g) for g in best[1]]


# --- cutting groups into playlists ------------------------------------------------------------


def _capacity_assign(x: FloatArray, centres: FloatArray, cap: int) -> IndexArray:
    """Nearest centre, except that no centre takes more than ``cap`` rows: then the pairs are
    taken closest first."""
    d = _sqdist(x, centres)
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


def _balanced_cut(x: FloatArray, k: int, cap: int, seed: int, n_init: int = 1) -> IndexArray:
    """``k`` parts of at most ``cap`` rows: K-Means centres, assignment under the capacity,
    and a couple of constrained Lloyd steps."""
    centres = _kmeans(x, k, seed, n_init=n_init)
    labels = _capacity_assign(x, centres, cap)
    for _ in range(2):
        centres = np.stack(
            [x[labels == j].mean(0) if (labels == j).any() else centres[j] for j in range(k)]
        ).astype(np.float32)
        new = _capacity_assign(x, centres, cap)
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
        labels = _nearest(xs, init)
        labels = np.where(follow >= 0, follow, labels).astype(np.intp)
        k = len(init)
    else:
        centres = _kmeans(xs, k, seed, init=init, n_init=_inits(len(xs), k))
        labels = _nearest(xs, centres)
        k = len(centres)
    parts = [p for p in (np.flatnonzero(labels == j).astype(np.intp) for j in range(k)) if len(p)]
    split_inits = min(3, _inits(len(xs), k))
    small = [p for p in parts if len(p) < min_size]
    parts = [p for p in parts if len(p) >= min_size]
    if small and parts:
        rest = np.concatenate(small)
        cents = np.stack([xs[p].mean(0) for p in parts]).astype(np.float32)
        near = _nearest(xs[rest], cents)
        parts = [np.sort(np.concatenate([p, rest[near == j]])) for j, p in enumerate(parts)]
    elif small:
        parts = [np.sort(np.concatenate(small))]
    out: list[IndexArray] = []
    for p in parts:
        if len(p) <= max_size:
            out.append(p)
            continue
        pieces = _leaf_count(len(p), min_size, max_size)
        cut = _balanced_cut(xs[p], pieces, math.ceil(len(p) / pieces), seed, split_inits)
        out.extend(p[cut == j] for j in range(pieces) if (cut == j).any())
    return out


def _refine(
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
    Runs until no move helps or for REFINE_PASSES passes (by then the moves left are few), so
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
    for _ in range(REFINE_PASSES):
        check(cancel)
        cent = (sums / np.maximum(sizes, 1)[:, None]).astype(np.float32)
        # Neighbour lists of the playlists that changed, then who must look again: tracks
        # of a changed playlist or of one with a changed neighbour.
        ch = np.flatnonzero(touched)
        dc = _sqdist(cent[ch], cent)
        dc[np.arange(len(ch)), ch] = np.inf
        if same is not None:
            dc[same[ch][:, None] != same[None, :]] = np.inf
        nb = np.argpartition(dc, m - 1, axis=1)[:, :m] if m < k - 1 else np.argsort(dc, 1)[:, :m]
        near[ch] = nb
        valid[ch] = np.isfinite(np.take_along_axis(dc, nb, 1))
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
class _Previous:
    """The previous run's playlists, seen from this run's rows."""

    owner: IndexArray  # per row: index of its previous playlist, -1 for none
    sizes: NDArray[np.int64]  # per previous playlist: how many of its tracks are rows now

    @classmethod
    def of(cls, n: int, previous: Sequence[IndexArray]) -> _Previous | None:
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
        d = _sqdist(xs, np.stack(centres).astype(np.float32)).min(1)
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
    labels = _nearest(xs, np.asarray(km.cluster_centers_, dtype=np.float32))
    follow = np.where(owner >= 0, part_of[np.maximum(owner, 0)], -1)
    labels = np.where(follow >= 0, follow, labels).astype(np.intp)
    if np.bincount(labels, minlength=k).max() == len(xs):
        return None
    return labels


def _split(
    x: FloatArray,
    idx: IndexArray,
    min_size: int,
    max_size: int,
    seed: int,
    cancel: CancelFn,
    prev: _Previous | None = None,
) -> list[IndexArray]:
    """Cut the rows ``idx`` into playlists of about the target length (recursive K-Means).
    ``prev`` (the previous run's playlists) makes rebuilds stable."""
    n = len(idx)
    if n <= max_size:
        return [idx]
    check(cancel)
    leaves = _leaf_count(n, min_size, max_size)
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
    fit = _sample(n, FIT_SAMPLE, rng)
    anchored = _anchored_split(xs, prev.owner[idx], prev.sizes, k, seed) if prev else None
    labels = _nearest(xs, _kmeans(xs[fit], k, seed)) if anchored is None else anchored
    out: list[IndexArray] = []
    if np.bincount(labels, minlength=k).max() == n:  # K-Means could not split: cut by size
        labels = _balanced_cut(xs, k, math.ceil(n / k), seed)
    for j in range(k):
        part = idx[labels == j]
        if len(part):
            out.extend(_split(x, part, min_size, max_size, seed + 1 + j, cancel, prev))
    return out


def _even_runs(x: FloatArray, idx: IndexArray, max_size: int) -> list[IndexArray]:
    """Equal runs along the main axis: the last resort that always meets the size bound."""
    parts = math.ceil(len(idx) / max_size)
    xs = x[idx] - x[idx].mean(0)
    _u, _s, vt = np.linalg.svd(xs, full_matrices=False)
    order = idx[np.argsort(xs @ vt[0], kind="stable")]
    return [np.asarray(a, dtype=np.intp) for a in np.array_split(order, parts)]


def _place(
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
            d = _sqdist(x[rows[lo : lo + 4096]], centres[cand])
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


def _repair(
    x: FloatArray,
    parts: list[IndexArray],
    part_group: list[int],
    extra: IndexArray,
    min_size: int,
    max_size: int,
    seed: int,
    cancel: CancelFn,
    prev: _Previous | None = None,
) -> tuple[list[IndexArray], list[int]]:
    """Enforce the size bounds; ``extra`` rows (noise) join their nearest playlist."""
    members: list[list[int]] = [list(p) for p in parts]
    groups = list(part_group)
    for _round in range(4):
        check(cancel)
        sizes = np.array([len(m) for m in members], dtype=np.int64)
        sums = np.stack([x[m].sum(0) if m else np.zeros(x.shape[1]) for m in members]).astype(
            np.float64
        )
        alive = sizes > 0
        homeless: list[int] = [int(r) for r in extra] if _round == 0 else []
        # Dissolve short playlists, shortest first, while there is another one to go to.
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
        if homeless:
            if not alive.any():  # nothing to join: the leftovers make one playlist
                members.append([])
                groups.append(0)
                sizes = np.append(sizes, 0)
                sums = np.vstack([sums, np.zeros((1, x.shape[1]))])
                alive = np.append(alive, True)
            _place(
                x,
                np.asarray(sorted(homeless), dtype=np.intp),
                members,
                sizes,
                sums,
                alive,
                max_size,
            )
        # Cut long playlists again.
        changed = False
        new_members: list[list[int]] = []
        new_groups: list[int] = []
        for m, g in zip(members, groups, strict=True):
            if not m:
                continue
            if len(m) > max_size:
                changed = True
                arr = np.asarray(sorted(m), dtype=np.intp)
                for p in _split(
                    x, arr, min_size, max_size, seed + 7919 * (_round + 1), cancel, prev
                ):
                    new_members.append(list(p))
                    new_groups.append(g)
            else:
                new_members.append(m)
                new_groups.append(g)
        members, groups = new_members, new_groups
        extra = np.zeros(0, dtype=np.intp)
        sizes_now = [len(m) for m in members]
        if not changed and (min(sizes_now) >= min_size or len(members) == 1):
            break
    out: list[IndexArray] = []
    out_groups: list[int] = []
    for m, g in zip(members, groups, strict=True):
        arr = np.asarray(sorted(m), dtype=np.intp)
        runs = _even_runs(x, arr, max_size) if len(arr) > max_size else [arr]
        for run in runs:
            out.append(run)
            out_groups.append(g)
    return out, out_groups


# --- order inside a playlist ------------------------------------------------------------------


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
    d = np.sqrt(np.maximum(_sqdist(pts.astype(np.float32), pts.astype(np.float32)), 0)).astype(
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


# --- the pipeline on arrays -------------------------------------------------------------------


@dataclass
class Plan:
    """Playlists as row indices into the input, each in play order, with their groups."""

    playlists: list[IndexArray]
    group_of: list[int]
    n_groups: int
    method: str
    min_size: int
    max_size: int
    seconds: dict[str, float] = field(default_factory=dict)

    def labels(self, n: int) -> IndexArray:
        out = np.full(n, -1, dtype=np.intp)
        for i, rows in enumerate(self.playlists):
            out[rows] = i
        return out

    def group_members(self, g: int) -> IndexArray:
        parts = [p for p, pg in zip(self.playlists, self.group_of, strict=True) if pg == g]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.intp)


def plan_playlists(
    vectors: NDArray[Any],
    *,
    method: str = "kmeans",
    playlist_min: int = 20,
    playlist_max: int = 60,
    seed: int = 0,
    order: bool = True,
    previous: Sequence[IndexArray] = (),
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> Plan:
    """Groups and playlists for the rows of ``vectors`` (N × d latent means).

    ``previous``: the playlists of the last run, as row indices of this input (tracks that
    are gone left out). Where a region of the latent space has no natural borders, they are
    where it gets cut again, so that a rebuild after a few new tracks keeps its playlists.

    Runs with one BLAS/OpenMP thread: the fits are many and small, and threads that wait by
    spinning make them many times slower as soon as the cores are busy with something else
    (an analysis, a training run)."""
    # Load every native library first: threadpoolctl limits only those loaded already, and
    # scikit-learn brings its own OpenMP runtime.
    import scipy.cluster.hierarchy  # noqa: F401
    import sklearn.cluster
    import sklearn.metrics
    import sklearn.neighbors  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=PLAN_THREADS):  # type: ignore[no-untyped-call]
        return _plan_playlists(
            vectors,
            method=method,
            playlist_min=playlist_min,
            playlist_max=playlist_max,
            seed=seed,
            order=order,
            previous=previous,
            progress=progress,
            cancel=cancel,
        )


def _plan_playlists(
    vectors: NDArray[Any],
    *,
    method: str,
    playlist_min: int,
    playlist_max: int,
    seed: int,
    order: bool,
    previous: Sequence[IndexArray],
    progress: ProgressFn,
    cancel: CancelFn,
) -> Plan:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    n = len(vectors)
    min_size, max_size = size_limits(n, playlist_min, playlist_max)
    timings: dict[str, float] = {}
    if n == 0:
        return Plan([], [], 0, method, min_size, max_size, timings)
    t0 = time.perf_counter()
    x = _prepare(vectors)
    rng = np.random.default_rng(seed)
    progress(0, 4, "Finding groups…" if method != "kmeans" else "Finding playlists…")
    if method == "kmeans":
        groups = np.zeros(n, dtype=np.intp)  # playlists first; groups from them below
    elif method == "agglomerative":
        groups = _groups_agglomerative(x, min_size, max_size, seed, rng)
    else:
        groups = _groups_dbscan(x, min_size, seed, rng)
    timings["groups"] = time.perf_counter() - t0
    check(cancel)

    t1 = time.perf_counter()
    if method != "kmeans":
        progress(1, 4, "Cutting groups into playlists…")
    prev = _Previous.of(n, previous)
    parts: list[IndexArray] = []
    part_group: list[int] = []
    for g in range(int(groups.max(initial=-1)) + 1):
        idx = np.flatnonzero(groups == g).astype(np.intp)
        if len(idx) == 0:
            continue
        for p in _split(x, idx, min_size, max_size, seed + 101 * (g + 1), cancel, prev):
            parts.append(p)
            part_group.append(g)
    noise = np.flatnonzero(groups < 0).astype(np.intp)
    parts, part_group = _repair(x, parts, part_group, noise, min_size, max_size, seed, cancel, prev)
    if len(parts) > 1:
        lab = np.empty(n, dtype=np.intp)
        for j, p in enumerate(parts):
            lab[p] = j
        same = None if method == "kmeans" else np.asarray(part_group, dtype=np.intp)
        lab = _refine(x, lab, len(parts), min_size, max_size, same, cancel)
        parts = [np.flatnonzero(lab == j).astype(np.intp) for j in range(len(parts))]
    timings["split"] = time.perf_counter() - t1
    if method == "kmeans":
        t3 = time.perf_counter()
        progress(1, 4, "Finding groups…")
        part_group = _group_playlists(x, parts, min_size, max_size, seed, rng)
        timings["groups"] += time.perf_counter() - t3

    # Groups in order along the library's main axis (neighbouring colours are neighbours);
    # playlists inside a group likewise.
    t2 = time.perf_counter()
    used = sorted(set(part_group))
    centroids = np.stack([x[p].mean(0) for p in parts])
    axis = _main_axis(x, rng)
    gpos = {
        g: float(np.mean([centroids[i] @ axis for i, pg in enumerate(part_group) if pg == g]))
        for g in used
    }
    rank = {g: r for r, g in enumerate(sorted(used, key=lambda g: (gpos[g], g)))}
    order_keys = sorted(
        range(len(parts)), key=lambda i: (rank[part_group[i]], float(centroids[i] @ axis), i)
    )
    playlists: list[IndexArray] = []
    group_of: list[int] = []
    progress(2, 4, "Ordering tracks…")
    for k, i in enumerate(order_keys):
        if k % 200 == 0:
            check(cancel)
        rows = parts[i]
        playlists.append(rows[order_path(x[rows])] if order else rows)
        group_of.append(rank[part_group[i]])
    timings["order"] = time.perf_counter() - t2
    progress(3, 4, "Playlists ready")
    return Plan(playlists, group_of, len(used), method, min_size, max_size, timings)


def _main_axis(x: FloatArray, rng: np.random.Generator) -> FloatArray:
    rows = _sample(len(x), 5000, rng)
    xs = x[rows] - x[rows].mean(0)
    if len(xs) < 2:
        return np.eye(x.shape[1], 1, dtype=np.float32)[:, 0]
    _u, _s, vt = np.linalg.svd(xs, full_matrices=False)
    axis = vt[0]
    # Fix the sign so that the order does not flip between runs.
    if axis[np.argmax(np.abs(axis))] < 0:
        axis = -axis
    out: FloatArray = axis.astype(np.float32)
    return out


def plain_kmeans(vectors: NDArray[Any], k: int, seed: int = 0, n_init: int = 10) -> IndexArray:
    """The baseline of the evaluation: scikit-learn's K-Means with ``k`` clusters, its
    defaults otherwise (k-means++, up to 300 Lloyd iterations), the best of ``n_init``
    starts, and no guards."""
    from sklearn.cluster import KMeans

    x = _prepare(vectors)
    k = max(1, min(k, len(x)))
    km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x)
    return np.asarray(km.labels_, dtype=np.intp)


# --- duplicates -------------------------------------------------------------------------------


def song_key(artist: str | None, title: str | None) -> tuple[str, str] | None:
    """Normalised (artist, title), or None when either is unknown."""
    a, t = naming.normalise(artist), naming.normalise(title)
    if not a or not t:
        return None
    return unicodedata.normalize("NFKC", a), unicodedata.normalize("NFKC", t)


def dedupe(
    track_ids: Sequence[int],
    artists: Sequence[str | None],
    titles: Sequence[str | None],
    content_keys: Sequence[str | None] | None = None,
) -> IndexArray:
    """Rows to keep: one per song (same artist and title) and per content key, the lowest
    track id of each."""
    seen: set[tuple[str, ...]] = set()
    keep: list[int] = []
    for row in sorted(range(len(track_ids)), key=lambda r: track_ids[r]):
        keys: list[tuple[str, ...]] = []
        song = song_key(artists[row], titles[row])
        if song is not None:
            keys.append(("song", *song))
        if content_keys is not None and content_keys[row]:
            keys.append(("bytes", str(content_keys[row])))
        if any(k in seen for k in keys):
            continue
        seen.update(keys)
        keep.append(row)
    return np.asarray(sorted(keep), dtype=np.intp)


# --- matching across runs ---------------------------------------------------------------------


def jaccard_matrix(old: Sequence[set[int]], new: Sequence[set[int]]) -> NDArray[np.float64]:
    out = np.zeros((len(old), len(new)), dtype=np.float64)
    where: dict[int, list[int]] = {}
    for j, s in enumerate(new):
        for t in s:
            where.setdefault(t, []).append(j)
    for i, s in enumerate(old):
        inter: dict[int, int] = {}
        for t in s:
            for j in where.get(t, ()):
                inter[j] = inter.get(j, 0) + 1
        for j, c in inter.items():
            out[i, j] = c / (len(s) + len(new[j]) - c)
    return out


def match(
    old: Sequence[set[int]], new: Sequence[set[int]], threshold: float = MATCH_MIN
) -> dict[int, int]:
    """new index → old index for the Hungarian matching on Jaccard, pairs ≥ threshold."""
    from scipy.optimize import linear_sum_assignment

    if not old or not new:
        return {}
    sim = jaccard_matrix(old, new)
    rows, cols = linear_sum_assignment(sim, maximize=True)
    return {int(j): int(i) for i, j in zip(rows, cols, strict=True) if sim[i, j] >= threshold}


# --- the catalogue side -----------------------------------------------------------------------


@dataclass
class PlaylistInfo:
    id: int
    name: str
    kind: str
    model_version: str | None
    group_name: str | None
    group_index: int | None
    pinned: bool
    renamed: bool
    size: int
    duration: float
    unavailable: int
    track_ids: list[int]
    examples: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Library:
    track_ids: list[int]
    displays: list[str]
    vectors: FloatArray
    artists: list[str | None]
    titles: list[str | None]
    genres: list[str | None]
    years: list[int | None]
    content_keys: list[str]
    tempo: NDArray[np.float64]
    brightness: NDArray[np.float64]
    energy: NDArray[np.float64]
    # MusiCNN's tag probabilities (N × 50; NaN rows for tracks not tagged yet).
    tag_probs: NDArray[np.float32]

    def subset(self, rows: IndexArray) -> _Library:
        def pick(seq: Sequence[Any]) -> list[Any]:
            return [seq[int(r)] for r in rows]

        return _Library(
            pick(self.track_ids),
            pick(self.displays),
            self.vectors[rows],
            pick(self.artists),
            pick(self.titles),
            pick(self.genres),
            pick(self.years),
            pick(self.content_keys),
            self.tempo[rows],
            self.brightness[rows],
            self.energy[rows],
            self.tag_probs[rows],
        )

    def tags(self) -> naming.TrackTags:
        return naming.TrackTags(
            self.genres,
            self.artists,
            self.years,
            self.tempo,
            self.brightness,
            self.energy,
            tag_probs=self.tag_probs,
        )


def _load_library(cat: Catalogue, version: str) -> _Library:
    """Available tracks with an embedding of ``version``, with tags and descriptors."""
    with cat.read() as conn:
        rows = conn.execute(
            select(
                Track.id,
                Track.display,
                Track.artist,
                Track.title,
                Track.genre,
                Track.year,
                Track.content_key,
                Embedding.mu,
                Analysis.tempo,
                Analysis.brightness,
                Analysis.energy,
                Analysis.tags,
            )
            .join(Embedding, Embedding.content_key == Track.content_key)
            .outerjoin(
                Analysis,
                (Analysis.content_key == Track.content_key)
                & (Analysis.features_version == FEATURES_VERSION),
            )
            .where(Embedding.model_version == version, Track.missing.is_(False))
            .order_by(Track.id)
        ).all()
    if not rows:
        return _Library(
            [],
            [],
            np.zeros((0, 0), np.float32),
            [],
            [],
            [],
            [],
            [],
            *(np.zeros(0),) * 3,
            np.zeros((0, autotags.N_TAGS), np.float32),
        )

    def floats(col: int) -> NDArray[np.float64]:
        return np.array([np.nan if r[col] is None else float(r[col] or 0.0) for r in rows])

    return _Library(
        track_ids=[int(r[0]) for r in rows],
        displays=[str(r[1]) for r in rows],
        vectors=np.stack([np.frombuffer(r[7], dtype=np.float32) for r in rows]),
        artists=[r[2] for r in rows],
        titles=[r[3] for r in rows],
        genres=[r[4] for r in rows],
        years=[r[5] for r in rows],
        content_keys=[str(r[6]) for r in rows],
        tempo=floats(8),
        brightness=floats(9),
        energy=floats(10),
        tag_probs=_tag_probs([r[11] for r in rows]),
    )


def _tag_probs(blobs: Sequence[bytes | None]) -> NDArray[np.float32]:
    """The stored tag probabilities as an N × 50 array, NaN where a track has none."""
    out = np.full((len(blobs), autotags.N_TAGS), np.nan, dtype=np.float32)
    for i, blob in enumerate(blobs):
        probs = autotags.decode(blob)
        if probs is not None:
            out[i] = probs
    return out


@dataclass
class _Old:
    id: int
    name: str
    pinned: bool
    renamed: bool
    group_index: int | None
    group_name: str | None
    members: list[int]


def _old_playlists(cat: Catalogue, version: str) -> list[_Old]:
    with cat.read() as conn:
        pls = conn.execute(
            select(
                Playlist.id,
                Playlist.name,
                Playlist.pinned,
                Playlist.renamed,
                Playlist.group_index,
                Playlist.group_name,
            )
            .where(Playlist.kind == AUTO, Playlist.model_version == version)
            .order_by(Playlist.id)
        ).all()
        items = conn.execute(
            select(PlaylistItem.playlist_id, PlaylistItem.track_id)
            .join(Playlist, Playlist.id == PlaylistItem.playlist_id)
            .where(Playlist.kind == AUTO, Playlist.model_version == version)
            .order_by(PlaylistItem.playlist_id, PlaylistItem.position)
        ).all()
    members: dict[int, list[int]] = {}
    for pid, tid in items:
        members.setdefault(int(pid), []).append(int(tid))
    return [
        _Old(int(p[0]), str(p[1]), bool(p[2]), bool(p[3]), p[4], p[5], members.get(int(p[0]), []))
        for p in pls
    ]


def _built_info(cat: Catalogue, version: str) -> dict[str, Any] | None:
    raw = cat.get_meta(BUILT_KEY + version)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def needs_recluster(cat: Catalogue) -> bool:
    """True when the active model's playlists should be rebuilt without being asked: none was
    built yet (and there is something to build from), or analyses since the last build added
    at least 10 % new tracks. A rescan alone never makes this true."""
    version = active_model_version(cat)
    if version is None:
        return False
    with cat.read() as conn:
        ids = [
            int(t)
            for (t,) in conn.execute(
                select(Track.id)
                .join(Embedding, Embedding.content_key == Track.content_key)
                .where(Embedding.model_version == version, Track.missing.is_(False))
            )
        ]
    if not ids:
        return False
    info = _built_info(cat, version)
    if info is None:
        return True
    built_n = int(info.get("n", 0))
    max_id = int(info.get("max_track_id", 0))
    new = sum(1 for t in ids if t > max_id)
    return new >= max(1, math.ceil(RECLUSTER_SHARE * max(built_n, 1)))


def _settings() -> tuple[str, int, int]:
    from musicorg import settings as settings_mod

    s = settings_mod.load()
    return s.cluster_method, s.playlist_min, s.playlist_max


def build_playlists(
    cat: Catalogue,
    *,
    method: str | None = None,
    playlist_min: int | None = None,
    playlist_max: int | None = None,
    seed: int = 0,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> list[PlaylistInfo]:
    """(Re)build the automatic playlists of the active model version; return the list."""
    version = active_model_version(cat)
    if version is None:
        raise PlaylistError("no analysis yet: run `musicorg analyze` first")
    s_method, s_min, s_max = _settings()
    method = method or s_method
    pmin = playlist_min if playlist_min is not None else s_min
    pmax = playlist_max if playlist_max is not None else s_max
    if not 1 <= pmin <= pmax:
        raise PlaylistError("playlist length must satisfy 1 <= min <= max")

    progress(0, 0, "Reading embeddings…")
    lib = _load_library(cat, version)
    if not lib.track_ids:
        raise PlaylistError(f"no embeddings for model {version}: run `musicorg analyze` first")
    old = _old_playlists(cat, version)
    pinned = [o for o in old if o.pinned]
    pinned_ids = {t for o in pinned for t in o.members}
    check(cancel)

    # Naming is relative to the whole (deduplicated) library, pinned tracks included.
    whole = lib.subset(dedupe(lib.track_ids, lib.artists, lib.titles, lib.content_keys))
    free_rows = np.asarray(
        [i for i, t in enumerate(whole.track_ids) if t not in pinned_ids], dtype=np.intp
    )
    free = whole.subset(free_rows)
    vocab = naming.Vocabulary.build(whole.tags())

    # The previous run's playlists, as rows of this run, steer the cuts (see plan_playlists).
    free_row = {t: i for i, t in enumerate(free.track_ids)}
    previous = [
        np.asarray([free_row[t] for t in o.members if t in free_row], dtype=np.intp)
        for o in old
        if not o.pinned
    ]
    plan = plan_playlists(
        free.vectors,
        method=method,
        previous=[p for p in previous if len(p)],
        playlist_min=pmin,
        playlist_max=pmax,
        seed=seed,
        progress=progress,
        cancel=cancel,
    )
    check(cancel)
    new_sets = [{free.track_ids[int(r)] for r in p} for p in plan.playlists]

    # Groups: keep the index (colour) of an old group that keeps at least half its tracks.
    old_groups: dict[int, set[int]] = {}
    for o in old:
        if not o.pinned and o.group_index is not None:
            old_groups.setdefault(int(o.group_index), set()).update(o.members)
    old_gids = sorted(old_groups)
    new_group_sets = [
        {free.track_ids[int(r)] for r in plan.group_members(g)} for g in range(plan.n_groups)
    ]
    gmatch = match([old_groups[g] for g in old_gids], new_group_sets)
    group_index: dict[int, int] = {g: old_gids[i] for g, i in gmatch.items()}
    free_idx = (i for i in range(10 * MAX_GROUPS) if i not in group_index.values())
    for g in range(plan.n_groups):
        if g not in group_index:
            group_index[g] = next(free_idx)
    # Group names from the group's tracks, in the group-index order.
    gorder = sorted(range(plan.n_groups), key=lambda g: group_index[g])
    row_of = {t: i for i, t in enumerate(whole.track_ids)}

    def rows(tids: set[int] | list[int]) -> IndexArray:
        return np.asarray(sorted(row_of[t] for t in tids if t in row_of), dtype=np.intp)

    # Playlists: Hungarian matching on Jaccard with the old, unpinned ones (which keep their
    # names).
    movable = [o for o in old if not o.pinned]
    pmatch = match([set(o.members) for o in movable], new_sets)
    # A group's name does not contradict one of its playlists ("energetic" over a "calm" one).
    avoid = [
        naming.contradicted(
            vocab,
            [rows(new_sets[j]) for j, pg in enumerate(plan.group_of) if pg == g],
            [
                movable[pmatch[j]].name
                for j, pg in enumerate(plan.group_of)
                if pg == g and j in pmatch
            ],
        )
        for g in gorder
    ]
    gnames_list = naming.name_sets(
        [rows(new_group_sets[g]) for g in gorder],
        vocab,
        fallback="Group",
        max_tokens=2,
        avoid=avoid,
    )
    group_name = {g: gnames_list[k] for k, g in enumerate(gorder)}

    reserved = [o.name for o in pinned] + [movable[i].name for i in pmatch.values()]
    fresh = [j for j in range(len(new_sets)) if j not in pmatch]
    fresh_names = naming.name_sets(
        [rows(new_sets[j]) for j in fresh],
        vocab,
        reserved=reserved,
        wordings=gnames_list,
        parents=[group_name[plan.group_of[j]] for j in fresh],
    )
    names = {j: fresh_names[k] for k, j in enumerate(fresh)}

    # Pinned playlists go to the new group nearest to their tracks.
    gcent = (
        np.stack([free.vectors[plan.group_members(g)].mean(0) for g in range(plan.n_groups)])
        if plan.n_groups
        else np.zeros((0, 0), np.float32)
    )
    vec_of = {t: whole.vectors[i] for i, t in enumerate(whole.track_ids)}

    now = time.time()
    with cat.begin() as conn:
        # Ids are never reused, not even those of playlists deleted just now or earlier: the
        # GUI and exports may still hold one.
        top = conn.execute(select(func.max(Playlist.id))).scalar_one_or_none() or 0
        mark = conn.execute(select(Meta.value).where(Meta.key == HIGH_ID_KEY)).scalar()
        next_id = max(int(top), int(mark or 0)) + 1
        keep_ids = {movable[i].id for i in pmatch.values()}
        gone = [o.id for o in movable if o.id not in keep_ids]
        if gone:
            conn.execute(delete(PlaylistItem).where(PlaylistItem.playlist_id.in_(gone)))
            conn.execute(delete(Playlist).where(Playlist.id.in_(gone)))
        for o in pinned:
            vecs = [vec_of[t] for t in o.members if t in vec_of]
            if vecs and plan.n_groups:
                c = np.mean(vecs, axis=0)
                g = int(np.argmin(((gcent - c) ** 2).sum(1)))
                conn.execute(
                    update(Playlist)
                    .where(Playlist.id == o.id)
                    .values(group_index=group_index[g], group_name=group_name[g], updated_at=now)
                )
        for j, p in enumerate(plan.playlists):
            g = plan.group_of[j]
            values = {"group_index": group_index[g], "group_name": group_name[g], "updated_at": now}
            if j in pmatch:
                pid = movable[pmatch[j]].id
                conn.execute(update(Playlist).where(Playlist.id == pid).values(**values))
                conn.execute(delete(PlaylistItem).where(PlaylistItem.playlist_id == pid))
            else:
                pid = int(
                    conn.execute(
                        insert(Playlist)
                        .values(
                            id=next_id,
                            name=names[j],
                            kind=AUTO,
                            model_version=version,
                            pinned=False,
                            renamed=False,
                            created_at=now,
                            **values,
                        )
                        .returning(Playlist.id)
                    ).scalar_one()
                )
                next_id += 1
            conn.execute(
                insert(PlaylistItem),
                [
                    {"playlist_id": pid, "position": pos, "track_id": free.track_ids[int(r)]}
                    for pos, r in enumerate(p)
                ],
            )
        conn.execute(
            text(
                "INSERT INTO meta(key, value) VALUES (:k, :v) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value"
            ),
            {"k": HIGH_ID_KEY, "v": str(next_id - 1)},
        )
    cat.set_meta(
        BUILT_KEY + version,
        json.dumps(
            {
                "n": len(lib.track_ids),
                "max_track_id": max(lib.track_ids),
                "method": method,
                "playlist_min": pmin,
                "playlist_max": pmax,
                "built_at": now,
            }
        ),
    )
    progress(4, 4, f"{len(plan.playlists)} playlists in {plan.n_groups} groups")
    return list_playlists(cat, version)


def list_playlists(
    cat: Catalogue,
    model_version: str | None = None,
    *,
    include_user: bool = False,
    examples: int = 3,
) -> list[PlaylistInfo]:
    """Automatic playlists of a model version (default: the active one), by group then name;
    user playlists after them when ``include_user``."""
    version = model_version or active_model_version(cat)
    with cat.read() as conn:
        q = select(
            Playlist.id,
            Playlist.name,
            Playlist.kind,
            Playlist.model_version,
            Playlist.group_name,
            Playlist.group_index,
            Playlist.pinned,
            Playlist.renamed,
        )
        cond = (Playlist.kind == AUTO) & (Playlist.model_version == version)
        if include_user:
            cond = cond | (Playlist.kind == "user")
        pls = conn.execute(q.where(cond)).all()
        ids = [int(p[0]) for p in pls]
        items = conn.execute(
            select(
                PlaylistItem.playlist_id,
                Track.id,
                Track.artist,
                Track.title,
                Track.display,
                Track.duration,
                Track.missing,
            )
            .join(Track, Track.id == PlaylistItem.track_id)
            .where(PlaylistItem.playlist_id.in_(ids))
            .order_by(PlaylistItem.playlist_id, PlaylistItem.position)
        ).all()
    by_pl: dict[int, list[Any]] = {}
    for it in items:
        by_pl.setdefault(int(it[0]), []).append(it)
    out: list[PlaylistInfo] = []
    for p in pls:
        its = by_pl.get(int(p[0]), [])
        shown = [it for it in its if not it[6]]
        out.append(
            PlaylistInfo(
                id=int(p[0]),
                name=str(p[1]),
                kind=str(p[2]),
                model_version=p[3],
                group_name=p[4],
                group_index=p[5],
                pinned=bool(p[6]),
                renamed=bool(p[7]),
                size=len(its),
                duration=float(sum(it[5] or 0.0 for it in shown)),
                unavailable=len(its) - len(shown),
                track_ids=[int(it[1]) for it in its],
                examples=[_label(it[2], it[3], it[4]) for it in shown[:examples]],
            )
        )
    out.sort(
        key=lambda i: (
            i.kind != AUTO,
            i.group_index if i.group_index is not None else 1 << 30,
            i.name.casefold(),
            i.id,
        )
    )
    return out


def _label(artist: str | None, title: str | None, display: str) -> str:
    if artist and title:
        return f"{artist} – {title}"
    if title:
        return title
    return display.rsplit("/", 1)[-1]


def _auto_row(cat: Catalogue, playlist_id: int) -> tuple[str, str | None]:
    with cat.read() as conn:
        row = conn.execute(
            select(Playlist.kind, Playlist.model_version).where(Playlist.id == playlist_id)
        ).first()
    if row is None:
        raise PlaylistError(f"no playlist with id {playlist_id}")
    if row[0] != AUTO:
        raise PlaylistError("that is a user playlist; rename it with the user-playlist tools")
    return str(row[0]), row[1]


@announces_playlists_change
def rename_playlist(cat: Catalogue, playlist_id: int, name: str) -> None:
    """Give an automatic playlist a name of the user's; it survives rebuilds that match it."""
    clean = " ".join(name.split())
    if not clean:
        raise PlaylistError("a playlist needs a name")
    _kind, version = _auto_row(cat, playlist_id)
    with cat.begin() as conn:
        clash = conn.execute(
            select(Playlist.id).where(
                Playlist.kind == AUTO,
                Playlist.model_version == version,
                Playlist.id != playlist_id,
            )
        ).all()
        names = conn.execute(
            select(Playlist.name).where(Playlist.id.in_([int(c[0]) for c in clash]))
        ).all()
        if any(str(n[0]).casefold() == clean.casefold() for n in names):
            raise PlaylistError(f"another playlist is already called {clean!r}")
        conn.execute(
            update(Playlist)
            .where(Playlist.id == playlist_id)
            .values(name=clean, renamed=True, updated_at=time.time())
        )


@announces_playlists_change
def pin_playlist(cat: Catalogue, playlist_id: int, pinned: bool = True) -> None:
    """Pin (freeze) or unpin an automatic playlist. A pinned playlist keeps its tracks and
    name through rebuilds, and its tracks are left out of the clustering."""
    _auto_row(cat, playlist_id)
    with cat.begin() as conn:
        conn.execute(
            update(Playlist)
            .where(Playlist.id == playlist_id)
            .values(pinned=bool(pinned), updated_at=time.time())
        )


def ensure_playlists(
    cat: Catalogue,
    *,
    method: str | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> tuple[list[PlaylistInfo], bool]:
    """The playlists, rebuilt first only when :func:`needs_recluster` says so; and whether
    they were rebuilt."""
    if needs_recluster(cat):
        return build_playlists(cat, method=method, progress=progress, cancel=cancel), True
    return list_playlists(cat), False
