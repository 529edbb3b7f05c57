"""More like this, and song paths: walks in the latent space of the active model.

Distances are **Euclidean on μ**, the latent means. The model's contrastive term is a Euclidean
InfoNCE on μ, and the map and the automatic playlists work on the same geometry, so "near"
means the same thing everywhere. With several seeds, a track's distance is its distance to the
**nearest seed**: a mix of two styles gives neighbours of both rather than tracks from the empty
middle between them, where the centroid would lie.

Only available tracks (not missing) are ever suggested. Copies of one song are collapsed: the
same content key (byte-equal files) or the same normalised artist and title count as one, and
the closest copy is kept. Seeds and their copies are never suggested.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from musicorg.store import trackrefs
from musicorg.store.db import Catalogue
from musicorg.store.vectors import TrackVectors, active_model_version, track_vectors


class SimilarError(ValueError):
    """A request that cannot be answered, with a message for people."""


@dataclass
class Space(TrackVectors):
    """Tracks with an embedding of one model version: ids, metadata and μ (N, d)."""

    _row: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._row = {int(t): i for i, t in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def row(self, track_id: int) -> int:
        return self._row[int(track_id)]

    def artist_key(self, i: int) -> str | None:
        return norm_text(self.artists[i])

    def song_key(self, i: int) -> str | None:
        artist, title = norm_text(self.artists[i]), norm_text(self.titles[i])
        return None if not artist or not title else f"{artist}\x1f{title}"


_SPACES = re.compile(r"\s+")


def norm_text(value: str | None) -> str | None:
    """A tag as compared for duplicates: NFKC, case-folded, spaces collapsed; None if empty."""
    if not value:
        return None
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", value).casefold()).strip()
    return text or None


def load_space(cat: Catalogue, version: str | None = None) -> Space:
    """Every track (missing ones too, marked) with an embedding of ``version`` (default: active)."""
    version = version or active_model_version(cat)
    if not version:
        raise SimilarError("no embeddings yet: run `musicorg analyse` first")
    found = track_vectors(cat, version)
    if not len(found.ids):
        raise SimilarError(f"no embeddings for model {version}: run `musicorg analyse` first")
    return Space(**vars(found))


def resolve_tracks(cat: Catalogue, files: Sequence[str | bytes | os.PathLike[str]]) -> list[int]:
    """Track ids of catalogued files, matched by their path bytes (absolute, then real path)."""
    candidates = [
        list(dict.fromkeys((raw, os.path.abspath(raw), os.path.realpath(raw))))
        for raw in map(os.fsencode, files)
    ]
    ids: list[int] = []
    for tried, found in zip(candidates, trackrefs.first_by_path(cat, candidates), strict=True):
        if found is None:
            shown = tried[0].decode("utf-8", "backslashreplace")
            raise SimilarError(f"not in the catalogue: {shown} (run `musicorg scan` first?)")
        ids.append(found)
    return ids


@dataclass
class Suggestion:
    track_id: int
    path: str
    artist: str | None
    title: str | None
    duration: float | None
    distance: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SimilarResult:
    seeds: list[int]
    tracks: list[Suggestion]
    model_version: str
    metric: str = "euclidean on mu, distance to the nearest seed"
    duplicates_collapsed: int = 0
    #: Set when the list had to stop short because only one artist was left to play next.
    artist_conflict: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "seeds": self.seeds,
            "model_version": self.model_version,
            "metric": self.metric,
            "duplicates_collapsed": self.duplicates_collapsed,
            "artist_conflict": self.artist_conflict,
            "tracks": [t.as_dict() for t in self.tracks],
        }


def _suggestion(space: Space, i: int, distance: float) -> Suggestion:
    return Suggestion(
        track_id=int(space.ids[i]),
        path=space.displays[i],
        artist=space.artists[i],
        title=space.titles[i],
        duration=space.durations[i],
        distance=round(float(distance), 6),
    )


def _seed_rows(space: Space, seeds: Sequence[int]) -> list[int]:
    rows = []
    for t in seeds:
        try:
            rows.append(space.row(t))
        except KeyError:
            raise SimilarError(
                f"track {t} has no embedding with model {space.version}: "
                "run `musicorg analyse` first"
            ) from None
    return rows


def distances_to(space: Space, rows: Sequence[int]) -> np.ndarray:
    """(N,) Euclidean distance of every track to the nearest of these rows."""
    mu = space.mu.astype(np.float64)
    best = np.full(len(space), np.inf)
    for r in rows:
        best = np.minimum(best, np.linalg.norm(mu - mu[r], axis=1))
    return best


def similar(
    cat: Catalogue,
    seeds: Sequence[int],
    n: int = 25,
    *,
    version: str | None = None,
    space: Space | None = None,
) -> SimilarResult:
    """The ``n`` tracks nearest to the seeds (track ids), no artist twice in a row.

    Candidates are taken nearest first; each next place goes to the nearest unused candidate
    whose artist differs from the one just before (unknown artists never clash). If at some
    point every candidate left is by the artist just played, the list ends there and
    ``artist_conflict`` says so.
    """
    if not seeds:
        raise SimilarError("give at least one seed track")
    space = space or load_space(cat, version)
    seed_rows = _seed_rows(space, seeds)
    dist = distances_to(space, seed_rows)
    counter = [0]
    ranked = _unique(space, dist, seed_rows, counter)
    chosen, conflict = _no_artist_twice(space, ranked, n)
    return SimilarResult(
        seeds=[int(s) for s in seeds],
        tracks=[_suggestion(space, i, dist[i]) for i in chosen],
        model_version=space.version,
        duplicates_collapsed=counter[0],
        artist_conflict=conflict,
    )


def _unique(
    space: Space, dist: np.ndarray, seed_rows: Sequence[int], collapsed: list[int]
) -> Iterator[int]:
    """Available rows, nearest first, without the seeds and with one copy of each song."""
    seed_keys = {space.keys[r] for r in seed_rows}
    seed_songs = {space.song_key(r) for r in seed_rows} - {None}
    seen_keys: set[str] = set(seed_keys)
    seen_songs: set[str | None] = set(seed_songs)
    for i in np.argsort(dist, kind="stable").tolist():
        if space.missing[i] or i in seed_rows:
            continue
        key, song = space.keys[i], space.song_key(i)
        if key in seen_keys or (song is not None and song in seen_songs):
            if key not in seed_keys and song not in seed_songs:
                collapsed[0] += 1
            continue
        seen_keys.add(key)
        if song is not None:
            seen_songs.add(song)
        yield i


def _no_artist_twice(space: Space, ranked: Iterator[int], n: int) -> tuple[list[int], str | None]:
    """Greedy: each place goes to the nearest unused candidate not by the artist just before."""
    chosen: list[int] = []
    deferred: list[int] = []  # skipped for their artist; all nearer than any not yet drawn
    last: str | None = None
    while len(chosen) < n:
        pick = next(
            (j for j, i in enumerate(deferred) if last is None or space.artist_key(i) != last),
            None,
        )
        if pick is not None:
            i = deferred.pop(pick)
        else:
            for i in ranked:
                if last is None or space.artist_key(i) != last:
                    break
                deferred.append(i)
            else:
                if not deferred:
                    return chosen, None  # the library has no more tracks to offer
                artist = space.artists[deferred[0]] or "?"
                return chosen, (
                    f"stopped after {len(chosen)} tracks: every other candidate is by "
                    f"{artist}, who was just played"
                )
        chosen.append(i)
        last = space.artist_key(i)
    return chosen, None
