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
    for row in sorted(range(len(track_ids)), key=lambda r: track_ids[r]):
        key = content_keys[row] if content_keys is not None else None
        if key and str(key) in seen_keys:
            continue
        song = song_key(artists[row], titles[row])
        length = durations[row] if durations is not None else None
        if song is not None and any(
            _same_length(length, other) for other in seen_songs.get(song, ())
        ):
            continue
        if key:
            seen_keys.add(str(key))
        if song is not None:
            seen_songs.setdefault(song, []).append(length)
        keep.append(row)
    return np.asarray(sorted(keep), dtype=np.intp)


def _same_length(a: float | None, b: float | None) -> bool:
    return a is None or b is None or abs(a - b) <= COPY_SECONDS


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
    # Lazy: scipy.optimize is loaded only when a rebuild matches playlists (start-up time).
    from scipy.optimize import linear_sum_assignment

    if not old or not new:
        return {}
    sim = jaccard_matrix(old, new)
    rows, cols = linear_sum_assignment(sim, maximize=True)
    return {int(j): int(i) for i, j in zip(rows, cols, strict=True) if sim[i, j] >= threshold}
