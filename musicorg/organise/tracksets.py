"""Sets of tracks across runs: copies of one song collapse to one entry before clustering, and
a new build's playlists (and groups) are matched to the previous ones by the Hungarian method
on Jaccard similarity (:data:`MATCH_MIN` at least) so that they keep their ids and names.
Pure: no catalogue, no settings."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from musicorg.organise import vocabulary
from musicorg.organise.cuts import IndexArray

MATCH_MIN = 0.5
#: Two files of one song (same artist and title) are copies when their lengths differ by
#: at most this (encoders pad a few hundred milliseconds at most).
COPY_SECONDS = 2.0


# --- duplicates -------------------------------------------------------------------------------


def song_key(artist: str | None, title: str | None) -> tuple[str, str] | None:
    """Normalised (artist, title), or None when either is unknown."""
    a, t = vocabulary.normalise(artist), vocabulary.normalise(title)
    if not a or not t:
        return None
    return unicodedata.normalize("NFKC", a), unicodedata.normalize("NFKC", t)


def dedupe(
    track_ids: Sequence[int],
    artists: Sequence[str | None],
    titles: Sequence[str | None],
    content_keys: Sequence[str | None] | None = None,
    durations: Sequence[float | None] | None = None,
) -> IndexArray:
    """Rows to keep: one per song and per content key, the lowest track id of each.

    Two rows are the same song when they have the same artist and title and, where both
    lengths are known (``durations``), lengths within :data:`COPY_SECONDS`: the same
    recording in two formats is as long in both, while different pieces under one sloppy
    tag (five tracks of an album all titled like it) are not, and each keeps its place."""
    seen_keys: set[str] = set()
    seen_songs: dict[tuple[str, str], list[float | None]] = {}
    keep: list[int] = []
    order = np.argsort(vocabulary.int_array(track_ids, np.int64), kind="stable")
    # A slice at a time, as the numbers made arrays and the songs let go below: the window's
    # explaining job runs this over the whole library in a worker thread, and one numpy call
    # over a million tracks (or their songs freed at once) held the GIL for 20-100 ms.
    for lo in range(0, len(order), _SLICE):
        for row in order[lo : lo + _SLICE].tolist():
            key = content_keys[row] if content_keys is not None else None
            if key and str(key) in seen_keys:
                continue
            song = song_key(artists[row], titles[row])
            length = durations[row] if durations is not None else None
            others = seen_songs.get(song) if song is not None else None
            if others and _any_same_length(length, others):
                continue
            if key:
                seen_keys.add(str(key))
            if song is not None:
                seen_songs.setdefault(song, []).append(length)
            keep.append(row)
    while seen_songs:
        seen_songs.popitem()
    return np.sort(vocabulary.int_array(keep))


#: Rows :func:`dedupe` walks between two pauses of its loop.
_SLICE = 100_000


def _any_same_length(a: float | None, others: list[float | None]) -> bool:
    if a is None:
        return True
    return any(b is None or abs(a - b) <= COPY_SECONDS for b in others)


# --- matching across runs ---------------------------------------------------------------------


#: From this many cells (old × new sets), :func:`match` solves only the pairs at its threshold,
#: part by part, instead of the whole matrix (a million tracks make 25,000 playlists: a dense
#: 25,000² matrix would take 5 GB and the Hungarian method minutes).
MATCH_DENSE_CELLS = 4_000_000


def _overlaps(
    old: Sequence[set[int]], new: Sequence[set[int]]
) -> tuple[IndexArray, IndexArray, NDArray[np.float64]]:
    """(old index, new index, Jaccard) of every pair of sets that share a track."""
    new_len = np.asarray([len(s) for s in new], dtype=np.int64)
    old_len = np.asarray([len(s) for s in old], dtype=np.int64)
    new_ids = np.fromiter((t for s in new for t in s), dtype=np.int64, count=int(new_len.sum()))
    new_of = np.repeat(np.arange(len(new), dtype=np.int64), new_len)
    if len(np.unique(new_ids)) == len(new_ids):
        # New sets apart (playlists, groups): each track is in at most one of them.
        order = np.argsort(new_ids, kind="stable")
        new_ids, new_of = new_ids[order], new_of[order]
        old_ids = np.fromiter((t for s in old for t in s), dtype=np.int64, count=int(old_len.sum()))
        old_of = np.repeat(np.arange(len(old), dtype=np.int64), old_len)
        pos = np.minimum(np.searchsorted(new_ids, old_ids), max(len(new_ids) - 1, 0))
        hit = new_ids[pos] == old_ids if len(new_ids) else np.zeros(len(old_ids), dtype=bool)
        key = old_of[hit] * len(new) + new_of[pos[hit]]
        cells, counts = np.unique(key, return_counts=True)
        i, j = cells // len(new), cells % len(new)
    else:
        where: dict[int, list[int]] = {}
        for jj, s in enumerate(new):
            for t in s:
                where.setdefault(t, []).append(jj)
        found: dict[tuple[int, int], int] = {}
        for ii, s in enumerate(old):
            for t in s:
                for jj in where.get(t, ()):
                    found[ii, jj] = found.get((ii, jj), 0) + 1
        i = np.asarray([c[0] for c in found], dtype=np.int64)
        j = np.asarray([c[1] for c in found], dtype=np.int64)
        counts = np.asarray(list(found.values()), dtype=np.int64)
    jac = counts / (old_len[i] + new_len[j] - counts)
    return i.astype(np.intp), j.astype(np.intp), jac.astype(np.float64)


def jaccard_matrix(old: Sequence[set[int]], new: Sequence[set[int]]) -> NDArray[np.float64]:
    out = np.zeros((len(old), len(new)), dtype=np.float64)
    i, j, jac = _overlaps(old, new)
    out[i, j] = jac
    return out


def match(
    old: Sequence[set[int]], new: Sequence[set[int]], threshold: float = MATCH_MIN
) -> dict[int, int]:
    """new index → old index for the Hungarian matching on Jaccard, pairs ≥ threshold.

    Past :data:`MATCH_DENSE_CELLS` cells, the pairs under the threshold are left out before
    the matching (they could only be given up for, never kept), and each connected part of
    what is left is matched on its own: the same result unless a better pair would have been
    traded for several pairs under the threshold."""
    # Lazy: scipy.optimize is loaded only when a rebuild matches playlists (start-up time).
    from scipy.optimize import linear_sum_assignment

    if not old or not new:
        return {}
    if len(old) * len(new) <= MATCH_DENSE_CELLS:
        sim = jaccard_matrix(old, new)
        rows, cols = linear_sum_assignment(sim, maximize=True)
        return {int(j): int(i) for i, j in zip(rows, cols, strict=True) if sim[i, j] >= threshold}
    i, j, jac = _overlaps(old, new)
    keep = jac >= threshold
    return _match_parts(i[keep], j[keep], jac[keep], len(old), len(new))


def _match_parts(
    i: IndexArray, j: IndexArray, jac: NDArray[np.float64], n_old: int, n_new: int
) -> dict[int, int]:
    """The Hungarian matching of the pairs (i, j) with weights ``jac``, one connected part of
    the bipartite graph at a time (a part of one pair is that pair)."""
    # Lazy: scipy is loaded only when a rebuild matches playlists (start-up time).
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(i) == 0:
        return {}
    n = n_old + n_new
    graph = coo_matrix((np.ones(len(i)), (i, n_old + j)), shape=(n, n))
    _count, part = connected_components(graph, directed=False)
    out: dict[int, int] = {}
    for members in _by_part(part[i]):
        pi, pj, pw = i[members], j[members], jac[members]
        if len(members) == 1:
            out[int(pj[0])] = int(pi[0])
            continue
        ui, ri = np.unique(pi, return_inverse=True)
        uj, rj = np.unique(pj, return_inverse=True)
        sim = np.zeros((len(ui), len(uj)))
        sim[ri, rj] = pw
        rows, cols = linear_sum_assignment(sim, maximize=True)
        out.update(
            {int(uj[c]): int(ui[r]) for r, c in zip(rows, cols, strict=True) if sim[r, c] > 0}
        )
    return out


def _by_part(part: IndexArray) -> list[IndexArray]:
    """The positions of each value of ``part``, one array per value."""
    order = np.argsort(part, kind="stable")
    bounds = np.flatnonzero(np.diff(part[order])) + 1
    return np.split(order, bounds)
