"""For you: a playlist from what the player recorded (``musicorg.store.plays``): tracks like the
ones played most and most recently.

**Seeds.** Every played track that was not skipped (below) is a candidate seed, weighed by
``log2(1 + plays) × 0.5 ** (days since its last play / 30)``: plays count, with diminishing
returns, and a play a month old counts half as much as one today. The :data:`MAX_SEEDS`
heaviest are the seeds; the answer lists them with their plays and weights.

**Score.** A track's score is the weighted mean over the seeds of ``exp(-d² / 2h²)``, d its
Euclidean distance on μ to the seed (the space of ``similar``); h is the median distance
from a seed to its 10th nearest track, so "near" follows the density of the library. The
neighbourhoods of skipped tracks count against a track (half their weight).

**Left out:** the seeds themselves; what was just heard (the tracks of the last
:data:`RECENT_PLAYS` plays, that is the 50 most recently played tracks, as the store keeps each
track's last play; and every track played in the last :data:`RECENT_HOURS` hours);
every *skipped* track, that is a track skipped at least as often as it was played, or skipped
since it was last played (its latest verdict is a skip); missing tracks; copies of any of
these (same content key, or same artist and title). The best :data:`DEFAULT_N` are put in the
playlists' smooth order with no artist twice in a row (:func:`musicorg.organise.similar.arrange`).
Asking again recomputes it from the plays as they are then.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from musicorg.organise.similar import SimilarError, Space, arrange, load_space
from musicorg.store import plays
from musicorg.store.db import Catalogue
from musicorg.store.plays import PlayStats

DEFAULT_N: Final = 30
MAX_SEEDS: Final = 10
HALF_LIFE_DAYS: Final = 30.0
RECENT_PLAYS: Final = 50
RECENT_HOURS: Final = 24.0
#: The weight of a skipped track's neighbourhood against a track, relative to a seed's.
SKIP_PENALTY: Final = 0.5
#: At most this many skipped tracks (the most recently skipped) count against their neighbours.
MAX_SKIPS_COUNTED: Final = 20
#: The bandwidth h is the median distance from a seed to its this-many-th nearest track.
BANDWIDTH_RANK: Final = 10

#: The rules above, as the JSON answer states them.
RULES: Final = {
    "seed_weight": f"log2(1 + plays) x 0.5 ** (days since last play / {HALF_LIFE_DAYS:g})",
    "max_seeds": MAX_SEEDS,
    "just_heard": f"the {RECENT_PLAYS} most recently played, and the last {RECENT_HOURS:g} h",
    "skipped": "skipped at least as often as played, or skipped since the last play",
}
NO_PLAYS: Final = "no plays recorded yet: play some music in the app first, then ask again"


class ForYouError(SimilarError):
    """No playlist can be made (no plays yet, no analysed ones), with a message for people."""


@dataclass
class Seed:
    """A played track the playlist is made from."""

    track_id: int
    path: str
    artist: str | None
    title: str | None
    play_count: int
    last_played: float | None
    weight: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Pick:
    track_id: int
    path: str
    artist: str | None
    title: str | None
    score: float
    #: The seed it is nearest to (track id).
    like: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ForYouResult:
    seeds: list[Seed]
    tracks: list[Pick]
    model_version: str
    just_heard: int = 0  # tracks left out as just heard
    skipped: int = 0  # tracks left out as skipped
    artist_conflict: str | None = None
    rules: dict[str, Any] = field(default_factory=lambda: dict(RULES))

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "rules": self.rules,
            "seeds": [s.as_dict() for s in self.seeds],
            "left_out": {"just_heard": self.just_heard, "skipped": self.skipped},
            "artist_conflict": self.artist_conflict,
            "tracks": [t.as_dict() for t in self.tracks],
        }


def is_skipped(stats: PlayStats) -> bool:
    """A track the user turned away from: skipped at least as often as played, or skipped
    after its last play."""
    if stats.skip_count <= 0:
        return False
    if stats.skip_count >= stats.play_count:
        return True
    last_skip = stats.last_skipped if stats.last_skipped is not None else -math.inf
    last_play = stats.last_played if stats.last_played is not None else -math.inf
    return last_skip > last_play


def just_heard(recorded: Mapping[int, PlayStats], now: float) -> set[int]:
    """The tracks played last: the :data:`RECENT_PLAYS` most recent, and all of the last
    :data:`RECENT_HOURS` hours."""
    played = [(s.last_played, t) for t, s in recorded.items() if s.last_played is not None]
    played.sort(reverse=True)
    recent = {t for _when, t in played[:RECENT_PLAYS]}
    cutoff = now - RECENT_HOURS * 3600
    return recent | {t for when, t in played if when >= cutoff}


def seed_weight(stats: PlayStats, now: float) -> float:
    days = max(0.0, now - (stats.last_played or now)) / 86400
    return float(math.log2(1 + stats.play_count) * 0.5 ** (days / HALF_LIFE_DAYS))


def for_you(
    cat: Catalogue,
    n: int = DEFAULT_N,
    *,
    now: float | None = None,
    space: Space | None = None,
    recorded: Mapping[int, PlayStats] | None = None,
) -> ForYouResult:
    """The "for you" playlist of ``n`` tracks from the recorded plays (``recorded``: the
    plays to use instead of the catalogue's)."""
    recorded = plays.stats(cat) if recorded is None else recorded
    if not any(s.play_count > 0 for s in recorded.values()):
        raise ForYouError(NO_PLAYS)
    return recommend(space or load_space(cat), recorded, n, now=now)


def recommend(
    space: Space, recorded: Mapping[int, PlayStats], n: int = DEFAULT_N, *, now: float | None = None
) -> ForYouResult:
    """:func:`for_you` in a space already read."""
    if n < 1:
        raise ForYouError(f"ask for at least one track, not {n}")
    now = time.time() if now is None else now
    skipped = {t for t, s in recorded.items() if is_skipped(s)}
    heard = just_heard(recorded, now)
    row_of = {int(t): i for i, t in enumerate(space.ids)}
    weights = {
        t: seed_weight(s, now)
        for t, s in recorded.items()
        if s.play_count > 0 and t not in skipped and t in row_of
    }
    if not weights:
        if any(s.play_count > 0 and t not in skipped for t, s in recorded.items()):
            raise ForYouError("the played tracks have no embedding yet: run `musicorg analyse`")
        raise ForYouError("every played track was skipped since: play some more music first")
    chosen = sorted(weights, key=lambda t: (-weights[t], t))[:MAX_SEEDS]
    seed_rows = [row_of[t] for t in chosen]
    w = np.array([weights[t] for t in chosen], dtype=np.float64)
    skip_rows = [row_of[t] for t in skipped if t in row_of]
    latest = sorted(skipped & row_of.keys(), key=lambda t: -(recorded[t].last_skipped or 0.0))
    counted = [row_of[t] for t in latest[:MAX_SKIPS_COUNTED]]
    score, like = _scores(space.mu, seed_rows, w, counted)
    out_rows = set(seed_rows) | set(skip_rows) | {row_of[t] for t in heard if t in row_of}
    rows = _best(space, score, out_rows, n)
    order, left = arrange(space.mu, rows, space.artist_key)
    return ForYouResult(
        seeds=[_seed(space, row_of[t], recorded[t], weights[t]) for t in chosen],
        tracks=[_pick(space, r, score[r], int(space.ids[seed_rows[like[r]]])) for r in order],
        model_version=space.version,
        just_heard=len(heard),
        skipped=len(skipped),
        artist_conflict=(
            f"{len(left)} tracks left out: no place for them between other artists"
            if left
            else None
        ),
    )


def _scores(
    mu: NDArray[np.float32], seed_rows: list[int], w: NDArray[np.float64], skip_rows: list[int]
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """(N,) each track's score and (N,) the index of its nearest seed."""
    x = mu.astype(np.float64)
    d = np.stack([np.linalg.norm(x - x[r], axis=1) for r in seed_rows])  # seeds × N
    k = min(BANDWIDTH_RANK, x.shape[0] - 1)
    h = float(np.median(np.partition(d, k, axis=1)[:, k])) if k > 0 else 1.0
    h = h if h > 0 else 1.0
    score = (w[:, None] * np.exp(-(d**2) / (2 * h * h))).sum(axis=0) / w.sum()
    for r in skip_rows:
        score -= (
            SKIP_PENALTY
            * np.exp(-((np.linalg.norm(x - x[r], axis=1) / h) ** 2) / 2)
            / len(skip_rows)
        )
    return score, np.argmin(d, axis=0)


def _best(space: Space, score: NDArray[np.float64], out_rows: set[int], n: int) -> list[int]:
    """The ``n`` best available rows, one copy of each song, none of ``out_rows`` (nor a copy
    of one), no artist in more than half the places."""
    cap = math.ceil(n / 2)
    banned_keys = {space.keys[r] for r in out_rows}
    banned_songs = {space.song_key(r) for r in out_rows} - {None}
    per_artist: dict[str, int] = {}
    chosen: list[int] = []
    for r in np.argsort(-score, kind="stable").tolist():
        if len(chosen) == n:
            break
        song = space.song_key(r)
        if (
            space.missing[r]
            or r in out_rows
            or space.keys[r] in banned_keys
            or song in banned_songs
        ):
            continue
        artist = space.artist_key(r)
        if artist is not None and per_artist.get(artist, 0) >= cap:
            continue
        chosen.append(r)
        banned_keys.add(space.keys[r])
        if song is not None:
            banned_songs.add(song)
        if artist is not None:
            per_artist[artist] = per_artist.get(artist, 0) + 1
    return chosen


def _seed(space: Space, row: int, stats: PlayStats, weight: float) -> Seed:
    return Seed(
        track_id=int(space.ids[row]),
        path=space.displays[row],
        artist=space.artists[row],
        title=space.titles[row],
        play_count=stats.play_count,
        last_played=stats.last_played,
        weight=round(weight, 4),
    )


def _pick(space: Space, row: int, score: float, like: int) -> Pick:
    return Pick(
        track_id=int(space.ids[row]),
        path=space.displays[row],
        artist=space.artists[row],
        title=space.titles[row],
        score=round(float(score), 6),
        like=like,
    )
