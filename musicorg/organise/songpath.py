"""Song paths: a sequence of tracks that goes from A to B through the latent space.

Geometry is Euclidean on μ, as in :mod:`musicorg.organise.similar`. With ``a`` and ``b`` the μ of A
and
B, the path is built as follows:

1. The *corridor radius* ``r``: a track may be used only if its distance to the segment
   ``[a, b]`` is at most ``r``. Unless given, ``r`` is the distance to the segment of the
   ``m·(n-2)``-th closest eligible track, for the first ``m`` in :data:`RADIUS_STEPS`
   (3, 6, 12, 24 candidates per step) that gives a path of ``n`` tracks: the corridor is as
   narrow as it can be while still filling the path. It is always reported, with
   ``r / |ab|``. Eligible: available, not a copy of A or B, no farther from B than A is.
2. Waypoints ``p_i = a + t_i (b - a)`` with ``t_i = i / (n-1)``, ``i = 1 … n-2``.
3. For each waypoint in turn, the next track is the unused corridor track nearest to ``p_i``
   among those whose distance to B is **at most that of the previous track**. A waypoint with
   no such track is skipped, so a path can be shorter than asked.

**A big library** (see :mod:`musicorg.organise.similar`) takes its tracks from the
nearest-neighbour index: the ``24·(n-2)`` tracks nearest each of ``n`` points evenly spaced
from A to B (the corridor is the union of small balls around the segment), and runs the steps
above on those; the radius is then that of the candidates.

Guarantees (checked by the tests): the path starts with A and ends with B, no track (nor a copy
of one: same content key, or same artist and title) appears twice, the distance to B never
increases from one track to the next, and every track between A and B lies within ``r`` of
the segment from A to B.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from musicorg.organise.similar import SimilarError, Space, load_space
from musicorg.store.db import Catalogue

RADIUS_STEPS = (3, 6, 12, 24)  # candidates per step the default radius lets in, in turn


@dataclass
class Step:
    track_id: int
    path: str
    artist: str | None
    title: str | None
    duration: float | None
    to_b: float  # distance to B
    to_segment: float  # distance to the segment [A, B]
    t: float  # where along the segment it projects, 0 at A and 1 at B

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PathResult:
    tracks: list[Step]
    radius: float
    length: float  # |ab|
    model_version: str
    asked: int
    metric: str = "euclidean on mu"

    @property
    def bound(self) -> str:
        rel = self.radius / self.length if self.length else 0.0
        return (
            f"every step is within r = {self.radius:.4g} of the segment A-B "
            f"({rel:.2f} x |AB| = {self.length:.4g}); the distance to B never increases"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "metric": self.metric,
            "radius": self.radius,
            "length": self.length,
            "bound": self.bound,
            "asked": self.asked,
            "tracks": [t.as_dict() for t in self.tracks],
        }


def segment_geometry(mu: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """For every row: (distance to the segment [a, b], projection t in [0, 1], distance to b)."""
    v = b - a
    length2 = float(v @ v)
    t = np.clip((mu - a) @ v / length2, 0.0, 1.0) if length2 > 0 else np.zeros(len(mu))
    closest = a[None, :] + t[:, None] * v[None, :]
    return np.linalg.norm(mu - closest, axis=1), t, np.linalg.norm(mu - b, axis=1)


def song_path(
    cat: Catalogue,
    a_id: int,
    b_id: int,
    n: int = 12,
    *,
    radius: float | None = None,
    version: str | None = None,
    space: Space | None = None,
) -> PathResult:
    """A path of at most ``n`` tracks (A and B included) from track ``a_id`` to ``b_id``."""
    if n < 2:
        raise SimilarError("a path has at least two tracks, A and B")
    if a_id == b_id:
        raise SimilarError("A and B are the same track")
    space = space or load_space(cat, version)
    try:
        ra, rb = space.row(a_id), space.row(b_id)
    except KeyError:
        raise SimilarError(
            f"A or B has no embedding with model {space.version}: run `musicorg analyse` first"
        ) from None
    among = _candidates(space, ra, rb, n)
    mu = (space.mu if among is None else space.mu[among]).astype(np.float64)
    # Positions in ``mu``: rows of the space, or of the candidates ``among``.
    row = np.arange(len(space)) if among is None else among
    pa, pb = (ra, rb) if among is None else (int(np.searchsorted(among, r)) for r in (ra, rb))
    a, b = mu[pa], mu[pb]
    to_seg, t, to_b = segment_geometry(mu, a, b)
    length = float(np.linalg.norm(b - a))

    used_keys = {space.keys[ra], space.keys[rb]}
    used_songs = {space.song_key(ra), space.song_key(rb)} - {None}
    eligible = ~space.missing[row] & (to_b <= to_b[pa])
    eligible[[pa, pb]] = False
    for j in np.flatnonzero(eligible).tolist():
        i = int(row[j])
        if space.keys[i] in used_keys or space.song_key(i) in used_songs:
            eligible[j] = False
    pool = np.sort(to_seg[eligible])
    geometry = _Geometry(row, mu, a, b, to_b)
    if radius is not None:
        found = _walk(space, geometry, eligible & (to_seg <= radius), pa, pb, n)
    else:
        # The smallest of a few growing radii that gives a path of the length asked for.
        found, radius = [pa, pb], 0.0
        for per_step in RADIUS_STEPS:
            want = min(per_step * max(n - 2, 0), len(pool))
            radius = float(pool[want - 1]) if want else 0.0
            found = _walk(space, geometry, eligible & (to_seg <= radius), pa, pb, n)
            if len(found) == n or want == len(pool):
                break

    steps = [
        Step(
            track_id=int(space.ids[row[j]]),
            path=space.displays[row[j]],
            artist=space.artists[row[j]],
            title=space.titles[row[j]],
            duration=space.durations[row[j]],
            to_b=float(to_b[j]),
            to_segment=float(to_seg[j]),
            t=round(float(t[j]), 4),
        )
        for j in found
    ]
    return PathResult(
        tracks=steps, radius=radius, length=length, model_version=space.version, asked=n
    )


def _candidates(space: Space, ra: int, rb: int, n: int) -> np.ndarray | None:
    """Rows near the segment from A to B by the index (A and B among them, sorted); None when
    the library searches exactly."""
    if space.near_index() is None:
        return None
    a, b = space.mu[ra], space.mu[rb]
    points = a[None, :] + np.linspace(0.0, 1.0, max(n, 2))[:, None] * (b - a)[None, :]
    found = space.candidates(points, max(RADIUS_STEPS) * max(n - 2, 1))
    return None if found is None else np.union1d(found, [ra, rb]).astype(np.intp)


@dataclass
class _Geometry:
    """Where the walk happens: ``row`` maps a position to the space's row; ``mu`` and
    ``to_b`` are by position."""

    row: np.ndarray
    mu: np.ndarray
    a: np.ndarray
    b: np.ndarray
    to_b: np.ndarray


def _walk(
    space: Space, g: _Geometry, corridor_mask: np.ndarray, pa: int, pb: int, n: int
) -> list[int]:
    """Positions of the path: A, one track per waypoint that has a usable one, B."""
    corridor = np.flatnonzero(corridor_mask).tolist()
    key_of = {j: space.keys[int(g.row[j])] for j in corridor}
    song_of = {j: space.song_key(int(g.row[j])) for j in corridor}
    ra, rb = int(g.row[pa]), int(g.row[pb])
    used_keys = {space.keys[ra], space.keys[rb]}
    used_songs = {space.song_key(ra), space.song_key(rb)} - {None}
    found = [pa]
    for k in range(1, n - 1):
        point = g.a + (k / (n - 1)) * (g.b - g.a)
        limit = g.to_b[found[-1]]
        best, best_d = -1, np.inf
        for j in corridor:
            if g.to_b[j] > limit or key_of[j] in used_keys:
                continue
            song = song_of[j]
            if song is not None and song in used_songs:
                continue
            d = float(np.linalg.norm(g.mu[j] - point))
            if d < best_d:
                best, best_d = j, d
        if best < 0:
            continue
        found.append(best)
        used_keys.add(key_of[best])
        song = song_of[best]
        if song is not None:
            used_songs.add(song)
    found.append(pb)
    return found
