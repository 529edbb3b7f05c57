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
    mu = space.mu.astype(np.float64)
    a, b = mu[ra], mu[rb]
    to_seg, t, to_b = segment_geometry(mu, a, b)
    length = float(np.linalg.norm(b - a))

    used_keys = {space.keys[ra], space.keys[rb]}
    used_songs = {space.song_key(ra), space.song_key(rb)} - {None}
    eligible = ~space.missing & (to_b <= to_b[ra])
    eligible[[ra, rb]] = False
    for i in np.flatnonzero(eligible).tolist():
        if space.keys[i] in used_keys or space.song_key(i) in used_songs:
            eligible[i] = False
    pool = np.sort(to_seg[eligible])
    if radius is not None:
        rows = _walk(space, mu, a, b, to_b, eligible & (to_seg <= radius), ra, rb, n)
    else:
        # The smallest of a few growing radii that gives a path of the length asked for.
        rows, radius = [ra, rb], 0.0
        for per_step in RADIUS_STEPS:
            want = min(per_step * max(n - 2, 0), len(pool))
            radius = float(pool[want - 1]) if want else 0.0
            rows = _walk(space, mu, a, b, to_b, eligible & (to_seg <= radius), ra, rb, n)
            if len(rows) == n or want == len(pool):
                break

    steps = [
        Step(
            track_id=int(space.ids[i]),
            path=space.displays[i],
            artist=space.artists[i],
            title=space.titles[i],
            duration=space.durations[i],
            to_b=float(to_b[i]),
            to_segment=float(to_seg[i]),
            t=round(float(t[i]), 4),
        )
        for i in rows
    ]
    return PathResult(
        tracks=steps, radius=radius, length=length, model_version=space.version, asked=n
    )


def _walk(
    space: Space,
    mu: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    to_b: np.ndarray,
    corridor_mask: np.ndarray,
    ra: int,
    rb: int,
    n: int,
) -> list[int]:
    """Rows of the path: A, one track per waypoint that has a usable one, B."""
    corridor = np.flatnonzero(corridor_mask).tolist()
    used_keys = {space.keys[ra], space.keys[rb]}
    used_songs = {space.song_key(ra), space.song_key(rb)} - {None}
    rows = [ra]
    for k in range(1, n - 1):
        point = a + (k / (n - 1)) * (b - a)
        limit = to_b[rows[-1]]
        best, best_d = -1, np.inf
        for i in corridor:
            if to_b[i] > limit or space.keys[i] in used_keys:
                continue
            song = space.song_key(i)
            if song is not None and song in used_songs:
                continue
            d = float(np.linalg.norm(mu[i] - point))
            if d < best_d:
                best, best_d = i, d
        if best < 0:
            continue
        rows.append(best)
        used_keys.add(space.keys[best])
        song = space.song_key(best)
        if song is not None:
            used_songs.add(song)
    rows.append(rb)
    return rows
