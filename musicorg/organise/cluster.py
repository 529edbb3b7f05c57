"""Automatic playlists on arrays: groups and playlists for the rows of N × d latent means.

Pure: :func:`plan_playlists` takes the means and the size settings as arguments (the
catalogue reads and writes, and the settings read, are in :mod:`musicorg.organise.playlists`)
and is deterministic for a given input and seed.

**Hierarchy.** The library is cut into *playlists* of the target length (``playlist_min`` ..
``playlist_max``, default 20-60) and the playlists are gathered into at most
:data:`MAX_GROUPS` top-level *groups* (colours and sidebar sections). The method decides how:

- ``kmeans`` (default): playlists first. K-Means over the whole library with K = N / target
  length (the best of up to ``LEAF_INITS`` starts; a library of more than ``LEAF_BRANCH``
  playlists is first split in a few parts by K-Means), then the guards below, then a local
  search that moves single tracks between neighbouring playlists while that lowers the
  K-Means objective and the sizes stay within bounds (:mod:`musicorg.organise.cuts`). The
  groups are then made of whole playlists: K-Means on the playlists' centres (weighted by
  length), K from ``kmin`` to 20 chosen by the silhouette of the tracks, on a sample of at
  most :data:`SILHOUETTE_SAMPLE`. ``kmin`` is 2, or more in a big library, so that a group
  holds about :data:`GROUP_PLAYLISTS` playlists at most where 20 groups allow it (a sidebar
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
  when that is lower.

**A big library** (``kmeans``, from :data:`LARGE_FROM` tracks) is first cut into blocks of
about :data:`cuts.LEAF_BRANCH` playlists each by mini-batch K-Means (scikit-learn's
``MiniBatchKMeans``, fitted on a sample of at most :data:`BLOCK_SAMPLE` tracks, every track
then taking its nearest block), and each block is cut as above; the guards and the local
search then run over the whole library, across the blocks. Nothing holds N × N, nor N × K
beyond a chunk of rows. Smaller libraries are cut as before, with the same results.

**Order.** Inside a playlist, tracks follow a smooth path through the latent space
(:mod:`musicorg.organise.order`); groups are in order along the library's main axis
(neighbouring colours are neighbours), and playlists inside a group likewise.

**Stability.** ``previous`` (the last run's playlists, as rows of this input) steers the cuts,
so that a rebuild of the same library keeps its playlists and a few new tracks change little.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import numpy as np
from numpy.typing import NDArray

from musicorg.jobs import CancelFn, ProgressFn, check, never, no_progress
from musicorg.organise import cuts
from musicorg.organise.cuts import (
    FloatArray,
    IndexArray,
    Previous,
    leaf_count,
    nearest,
    refine,
    repair,
    sample_rows,
    size_limits,
    split,
)
from musicorg.organise.order import order_path
from musicorg.settings import CLUSTER_METHODS

METHODS = CLUSTER_METHODS  # the settings validate against the same names
MAX_GROUPS = 20
GROUP_PLAYLISTS = 50  # K's lower bound keeps groups to about this many playlists
SILHOUETTE_SAMPLE = 3_000
AGGLO_MAX_POINTS = 4_000
AGGLO_MICRO = 1_000
DBSCAN_SAMPLE = 10_000
DBSCAN_MIN_SAMPLES = 10
GROUP_INITS = 4
LARGE_FROM = 200_000  # from this many tracks, the kmeans method cuts blocks first
BLOCK_SAMPLE = 100_000  # the mini-batch K-Means of the blocks is fitted on this many
PLAN_THREADS = 1

P = ParamSpec("P")
R = TypeVar("R")


def prepare(x: NDArray[Any]) -> FloatArray:
    """Centred float32 copy, scaled to unit mean-square norm (per-dimension scales are kept:
    the latent dimensions a VAE leaves unused must not be blown up into noise)."""
    x = np.asarray(x, dtype=np.float32)
    x = x - x.mean(0, keepdims=True)
    scale = float(np.sqrt((x * x).sum(1).mean())) if len(x) else 0.0
    return (x / scale if scale > 0 else x).astype(np.float32)


def _silhouette(x: FloatArray, labels: IndexArray, seed: int) -> float:
    # Lazy (start-up time): scikit-learn takes seconds to import.
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= len(labels):
        return -1.0
    size = min(len(x), SILHOUETTE_SAMPLE)
    return float(silhouette_score(x, labels, sample_size=size, random_state=seed))


# --- top-level groups -------------------------------------------------------------------------


def _min_groups(n: int, min_size: int, max_size: int) -> int:
    """The fewest groups worth offering: enough that a group holds about GROUP_PLAYLISTS
    playlists at most (where 20 groups allow it), so a big library's sidebar stays usable."""
    playlists = leaf_count(n, min_size, max_size) if n > max_size else 1
    return max(2, min(MAX_GROUPS, math.ceil(playlists / GROUP_PLAYLISTS)))


def _max_groups(n: int, min_size: int) -> int:
    return max(1, min(MAX_GROUPS, n // max(min_size, 1)))


def _ward_cut(
    points: FloatArray, kmin: int, kmax: int, score: Callable[[IndexArray], float]
) -> IndexArray:
    """Ward linkage of ``points``; the cut with 2..kmax clusters that ``score`` likes best."""
    # Lazy (start-up time): loaded only when playlists are built.
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
    # Lazy (start-up time): scikit-learn takes seconds to import.
    from sklearn.cluster import MiniBatchKMeans

    mbk = MiniBatchKMeans(
        n_clusters=AGGLO_MICRO, batch_size=4096, n_init=1, max_iter=20, random_state=seed
    )
    mbk.fit(x[sample_rows(len(x), 5 * cuts.FIT_SAMPLE, rng)])
    micro = np.asarray(mbk.cluster_centers_, dtype=np.float32)
    owner = nearest(x, micro)
    used = np.unique(owner)
    micro = micro[used]
    owner = np.searchsorted(used, owner).astype(np.intp)
    rows = sample_rows(len(x), SILHOUETTE_SAMPLE, rng)

    def score(labels: IndexArray) -> float:
        return _silhouette(x[rows], labels[owner[rows]], seed)

    return _ward_cut(micro, kmin, kmax, score)[owner]


def dbscan_min_samples(n: int) -> int:
    """DBSCAN's min_samples for ``n`` tracks: DBSCAN_MIN_SAMPLES, fewer on tiny libraries."""
    return max(2, min(DBSCAN_MIN_SAMPLES, n // 10))


def dbscan_eps(x: FloatArray, min_samples: int) -> float:
    """The eps rule: the median distance of a track to its ``min_samples``-th neighbour."""
    # Lazy (start-up time): scikit-learn takes seconds to import.
    from sklearn.neighbors import NearestNeighbors

    k = min(min_samples, len(x) - 1)
    if k < 1:
        return 1.0
    nn = NearestNeighbors(n_neighbors=k + 1).fit(x)
    dist, _ = nn.kneighbors(x)
    eps = float(np.median(dist[:, k]))
    return eps if eps > 0 else 1e-6


def _groups_dbscan(x: FloatArray, min_size: int, seed: int, rng: np.random.Generator) -> IndexArray:
    # Lazy (start-up time): scikit-learn takes seconds to import.
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.cluster import DBSCAN
    from sklearn.neighbors import NearestNeighbors

    n = len(x)
    min_samples = dbscan_min_samples(n)
    rows = sample_rows(n, DBSCAN_SAMPLE, rng)
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
    # Lazy (start-up time): scikit-learn takes seconds to import.
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
    rows = sample_rows(n, SILHOUETTE_SAMPLE, rng)
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


def _one_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` with one BLAS/OpenMP thread: the fits are many and small, and threads that
    wait by spinning make them many times slower as soon as the cores are busy with something
    else (an analysis, a training run)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        # Lazy (start-up time): scikit-learn takes seconds to import. Every native library is
        # loaded first: threadpoolctl limits only those loaded already, and scikit-learn
        # brings its own OpenMP runtime.
        import scipy.cluster.hierarchy  # noqa: F401
        import sklearn.cluster
        import sklearn.metrics
        import sklearn.neighbors  # noqa: F401
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=PLAN_THREADS):  # type: ignore[no-untyped-call]
            return fn(*args, **kwargs)

    return wrapper


@_one_thread
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
    """Groups and playlists for the rows of ``vectors`` (N × d latent means), with one
    BLAS/OpenMP thread.

    ``previous``: the playlists of the last run, as row indices of this input (tracks that
    are gone left out). Where a region of the latent space has no natural borders, they are
    where it gets cut again, so that a rebuild after a few new tracks keeps its playlists."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    n = len(vectors)
    min_size, max_size = size_limits(n, playlist_min, playlist_max)
    timings: dict[str, float] = {}
    if n == 0:
        return Plan([], [], 0, method, min_size, max_size, timings)
    t0 = time.perf_counter()
    x = prepare(vectors)
    rng = np.random.default_rng(seed)
    progress(0, 4, "Finding groups…" if method != "kmeans" else "Finding playlists…")
    if method == "kmeans" and n >= LARGE_FROM:
        # Blocks, each cut on its own; groups of playlists from them below.
        groups = _blocks(x, leaf_count(n, min_size, max_size), seed, rng)
        timings["blocks"] = time.perf_counter() - t0
    elif method == "kmeans":
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
    same_group = method != "kmeans"
    prev = Previous.of(n, previous)
    parts, part_group = _cut(x, groups, min_size, max_size, seed, same_group, prev, cancel)
    timings["split"] = time.perf_counter() - t1
    if method == "kmeans":
        t3 = time.perf_counter()
        progress(1, 4, "Finding groups…")
        part_group = _group_playlists(x, parts, min_size, max_size, seed, rng)
        timings["groups"] += time.perf_counter() - t3

    t2 = time.perf_counter()
    playlists, group_of = _arrange(x, parts, part_group, rng, order, progress, cancel)
    timings["order"] = time.perf_counter() - t2
    progress(3, 4, "Playlists ready")
    n_groups = len(set(part_group))
    return Plan(playlists, group_of, n_groups, method, min_size, max_size, timings)


def _blocks(x: FloatArray, leaves: int, seed: int, rng: np.random.Generator) -> IndexArray:
    """Blocks of about LEAF_BRANCH playlists of a big library: mini-batch K-Means on a sample,
    then each track in its nearest block (empty blocks dropped, numbers kept dense)."""
    # Lazy (start-up time): scikit-learn takes seconds to import.
    from sklearn.cluster import MiniBatchKMeans

    k = max(1, math.ceil(leaves / cuts.LEAF_BRANCH))
    if k == 1:
        return np.zeros(len(x), dtype=np.intp)
    mbk = MiniBatchKMeans(n_clusters=k, batch_size=4096, n_init=3, max_iter=50, random_state=seed)
    mbk.fit(x[sample_rows(len(x), BLOCK_SAMPLE, rng)])
    labels = nearest(x, np.asarray(mbk.cluster_centers_, dtype=np.float32))
    _used, dense = np.unique(labels, return_inverse=True)
    return dense.astype(np.intp)


def _members(labels: IndexArray, k: int) -> list[IndexArray]:
    """The rows of each label 0..k-1, in order: one sort, not one pass per label."""
    order = np.argsort(labels, kind="stable").astype(np.intp)
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    return [order[bounds[j] : bounds[j + 1]] for j in range(k)]


def _cut(
    x: FloatArray,
    groups: IndexArray,
    min_size: int,
    max_size: int,
    seed: int,
    same_group: bool,
    prev: Previous | None,
    cancel: CancelFn,
) -> tuple[list[IndexArray], list[int]]:
    """Each group cut into playlists, the guards, then the local search (which keeps tracks
    inside their group when ``same_group``); noise rows (group -1) join their nearest
    playlist. The playlists and the group of each."""
    parts: list[IndexArray] = []
    part_group: list[int] = []
    for g, idx in enumerate(_members(groups, int(groups.max(initial=-1)) + 1)):
        if len(idx) == 0:
            continue
        for p in split(x, idx, min_size, max_size, seed + 101 * (g + 1), cancel, prev):
            parts.append(p)
            part_group.append(g)
    noise = np.flatnonzero(groups < 0).astype(np.intp)
    parts, part_group = repair(x, parts, part_group, noise, min_size, max_size, seed, cancel, prev)
    if len(parts) > 1:
        lab = np.empty(len(x), dtype=np.intp)
        for j, p in enumerate(parts):
            lab[p] = j
        same = np.asarray(part_group, dtype=np.intp) if same_group else None
        lab = refine(x, lab, len(parts), min_size, max_size, same, cancel)
        parts = _members(lab, len(parts))
    return parts, part_group


def _arrange(
    x: FloatArray,
    parts: list[IndexArray],
    part_group: list[int],
    rng: np.random.Generator,
    order: bool,
    progress: ProgressFn,
    cancel: CancelFn,
) -> tuple[list[IndexArray], list[int]]:
    """Groups in order along the library's main axis (neighbouring colours are neighbours),
    playlists inside a group likewise, and the tracks of each playlist in path order (when
    ``order``). The playlists and their groups, numbered in that order."""
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
    return playlists, group_of


def _main_axis(x: FloatArray, rng: np.random.Generator) -> FloatArray:
    rows = sample_rows(len(x), 5000, rng)
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
    # Lazy (start-up time): scikit-learn takes seconds to import.
    from sklearn.cluster import KMeans

    x = prepare(vectors)
    k = max(1, min(k, len(x)))
    km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x)
    return np.asarray(km.labels_, dtype=np.intp)
