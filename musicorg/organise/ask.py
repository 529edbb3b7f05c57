"""Ask in words: a few words ("calm jazz", "upbeat not metal", "80s female vocals") turned into
a ranked playlist, each track with why it matched.

The words are read by the library's :class:`~musicorg.organise.vocabulary.Vocabulary`: terms
(phrases, with their synonyms), negations, and the words it does not know, which the answer
names (never silently dropped). Each term scores every track in [0, 1]
(:meth:`~musicorg.organise.vocabulary.Vocabulary.term_score`: library-relative ranks of what
is heard and measured, the files' own genre, artist and decade tags first); a negated term
counts ``1 - score``, and a track whose own tags say what is negated ("not metal" and a genre
tag "Death Metal") is left out. A track's score is the mean over the terms. The best ``n``
tracks (available ones only, one copy of each song, no artist holding more than half the
list unless the query names that artist) are then put in the playlists' smooth neighbour
order with no artist twice in a row (:func:`musicorg.organise.similar.arrange`).

Everything after the read is vectorised over the library: with the read kept
(:func:`load_index`, as the window keeps its :class:`~musicorg.organise.similar.Space`), a
query on 100,000 tracks takes a few tens of milliseconds (``scripts/bench_ask.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from musicorg.organise.similar import SimilarError, arrange, norm_text
from musicorg.organise.vocabulary import ARTIST, Query, Term, TrackFacts, Vocabulary
from musicorg.store import autolists
from musicorg.store.db import Catalogue
from musicorg.store.vectors import active_model_version

#: How many tracks ``ask`` lists when not told.
DEFAULT_N: Final = 30


class AskError(SimilarError):
    """A query that cannot be answered, with a message for people."""


@dataclass
class AskIndex:
    """The available tracks with an embedding of one model version, what the vocabulary
    knows of them, and μ: the read a query works on (keep it between queries)."""

    version: str
    track_ids: NDArray[np.int64]
    displays: list[str]
    artists: list[str | None]
    titles: list[str | None]
    content_keys: list[str]
    mu: NDArray[np.float32]
    vocab: Vocabulary
    artist_keys: list[str | None] = field(default_factory=list, repr=False)
    song_keys: list[str | None] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.artist_keys = [norm_text(a) for a in self.artists]
        self.song_keys = [
            None if not a or not t else f"{a}\x1f{t}"
            for a, t in zip(self.artist_keys, map(norm_text, self.titles), strict=True)
        ]

    def __len__(self) -> int:
        return len(self.track_ids)


def build_index(
    version: str,
    track_ids: Sequence[int] | NDArray[np.integer[Any]],
    displays: Sequence[str],
    titles: Sequence[str | None],
    content_keys: Sequence[str],
    mu: NDArray[np.floating[Any]],
    facts: TrackFacts,
) -> AskIndex:
    """An index from arrays (the catalogue's read, a benchmark's or an evaluation's)."""
    return AskIndex(
        version=version,
        track_ids=np.asarray(track_ids, dtype=np.int64),
        displays=list(displays),
        artists=list(facts.artists),
        titles=list(titles),
        content_keys=list(content_keys),
        mu=np.asarray(mu, dtype=np.float32),
        vocab=Vocabulary.build(facts),
    )


def load_index(cat: Catalogue, version: str | None = None) -> AskIndex:
    """The index of the active model's (or ``version``'s) available tracks."""
    version = version or active_model_version(cat)
    if not version:
        raise AskError("no embeddings yet: run `musicorg analyse` first")
    lib = autolists.library(cat, version)
    if not lib.track_ids:
        raise AskError(f"no embeddings for model {version}: run `musicorg analyse` first")
    facts = TrackFacts(
        lib.genres,
        lib.artists,
        lib.years,
        lib.tempo,
        lib.brightness,
        lib.energy,
        tag_probs=lib.tag_probs,
    )
    return build_index(
        version, lib.track_ids, lib.displays, lib.titles, lib.content_keys, lib.vectors, facts
    )


@dataclass
class WordScore:
    """One word of a term, as true of one track: its label, kind and score (0 to 1)."""

    word: str
    kind: str
    score: float


@dataclass
class Reason:
    """Why a track matched one term: the term's score for it (for a negated term, 1 - the
    score of what is negated) and the words behind it."""

    term: str
    negated: bool
    score: float
    words: list[WordScore]

    @property
    def shown(self) -> str:
        return f"{'not ' if self.negated else ''}{self.term} {self.score:.2f}"


@dataclass
class Match:
    track_id: int
    path: str
    artist: str | None
    title: str | None
    score: float
    why: list[Reason]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AskResult:
    query: str
    terms: list[str]  # as understood ("calm", "not metal")
    unknown: list[str]  # the words that mean nothing here
    tracks: list[Match]
    model_version: str
    #: Set when tracks had to be left out to keep one artist from playing twice in a row.
    artist_conflict: str | None = None
    metric: str = (
        "mean over the terms of library-relative scores (a negated term counts 1 - score); "
        "the files' own tags first"
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "understood": self.terms,
            "unknown": self.unknown,
            "model_version": self.model_version,
            "metric": self.metric,
            "artist_conflict": self.artist_conflict,
            "tracks": [t.as_dict() for t in self.tracks],
        }


def ask(
    cat: Catalogue,
    text: str,
    n: int = DEFAULT_N,
    *,
    version: str | None = None,
    index: AskIndex | None = None,
) -> AskResult:
    """The ``n`` tracks that best fit ``text``, in a smooth order; :class:`AskError` when no
    word of it is understood."""
    return answer(index or load_index(cat, version), text, n)


def answer(index: AskIndex, text: str, n: int = DEFAULT_N) -> AskResult:
    """:func:`ask` on an index already read."""
    if n < 1:
        raise AskError(f"ask for at least one track, not {n}")
    query = index.vocab.parse(text)
    if not query.terms:
        raise AskError(_nothing_understood(query))
    scores, per_term, excluded = rank(index, query)
    named = _named_artists(index, query.terms)
    picked = pick(index, scores, excluded, n, named)

    def artist_of(row: int) -> str | None:
        return None if row in named else index.artist_keys[row]

    order, left = arrange(index.mu, picked, artist_of)
    conflict = None
    if left:
        who = index.artists[left[0]] or "?"
        conflict = f"{len(left)} tracks by {who} left out: no place for them between other artists"
    return AskResult(
        query=text,
        terms=[t.shown for t in query.terms],
        unknown=query.unknown,
        tracks=[_match(index, query.terms, per_term, scores, r) for r in order],
        model_version=index.version,
        artist_conflict=conflict,
    )


def rank(
    index: AskIndex, query: Query
) -> tuple[NDArray[np.float32], list[NDArray[np.float32]], NDArray[np.bool_]]:
    """(N,) each track's score (the mean over the terms), each term's (N,) scores, and the
    tracks left out (their own tags say what a negated term negates)."""
    vocab = index.vocab
    total = np.zeros(len(index), dtype=np.float32)
    per_term: list[NDArray[np.float32]] = []
    excluded = np.zeros(len(index), dtype=bool)
    for term in query.terms:
        s = vocab.term_score(term.sense)
        per_term.append(s)
        total += (1.0 - s) if term.negated else s
        if term.negated:
            for key, _w in term.sense:
                if key in vocab and vocab.words[key].from_files:
                    excluded[vocab.rows(key)] = True
    total /= max(len(query.terms), 1)
    return total, per_term, excluded


def pick(
    index: AskIndex,
    scores: NDArray[np.float32],
    excluded: NDArray[np.bool_],
    n: int,
    exempt: frozenset[int] = frozenset(),
) -> list[int]:
    """The rows of the ``n`` best tracks, best first: not excluded, one copy of each song (the
    same content key, or the same artist and title), and no artist (but those ``exempt``) in
    more than half the places, so that no artist need play twice in a row."""
    cap = math.ceil(n / 2)
    chosen: list[int] = []
    keys: set[str] = set()
    songs: set[str] = set()
    per_artist: dict[str, int] = {}
    masked = np.where(excluded, -np.inf, scores.astype(np.float64))
    for candidates in _best_first(masked, 4 * n + 64):
        for r in candidates:
            if len(chosen) == n:
                return chosen
            artist = None if r in exempt else index.artist_keys[r]
            song = index.song_keys[r]
            if index.content_keys[r] in keys or (song is not None and song in songs):
                continue
            if artist is not None and per_artist.get(artist, 0) >= cap:
                continue
            chosen.append(r)
            keys.add(index.content_keys[r])
            if song is not None:
                songs.add(song)
            if artist is not None:
                per_artist[artist] = per_artist.get(artist, 0) + 1
    return chosen


def _best_first(scores: NDArray[np.float64], first: int) -> list[list[int]]:
    """The rows with a finite score, best first (ties by row), in two batches: the best
    ``first``, then the rest (most queries need only the first, which is a partial sort)."""
    ok = np.flatnonzero(np.isfinite(scores))
    if len(ok) <= first:
        return [ok[np.lexsort((ok, -scores[ok]))].tolist()]
    top = ok[np.argpartition(-scores[ok], first)[:first]]
    top = top[np.lexsort((top, -scores[top]))]
    rest = np.setdiff1d(ok, top, assume_unique=True)
    rest = rest[np.lexsort((rest, -scores[rest]))]
    return [top.tolist(), rest.tolist()]


def _named_artists(index: AskIndex, terms: Sequence[Term]) -> frozenset[int]:
    """Rows by an artist that a (not negated) term names: they may play in a row."""
    rows: set[int] = set()
    for term in terms:
        if term.negated:
            continue
        for key, _w in term.sense:
            if key in index.vocab and index.vocab.words[key].kind == ARTIST:
                rows.update(index.vocab.rows(key).tolist())
    return frozenset(rows)


def _match(
    index: AskIndex,
    terms: Sequence[Term],
    per_term: Sequence[NDArray[np.float32]],
    scores: NDArray[np.float32],
    row: int,
) -> Match:
    vocab = index.vocab
    why: list[Reason] = []
    for term, s in zip(terms, per_term, strict=True):
        words: list[WordScore] = []
        for key, weight in term.sense:
            if key not in vocab:
                continue
            word = vocab.words[key]
            value = float(vocab.score(key)[row])
            if word.from_files and value == 0:
                continue  # a tag the track does not have says nothing of it
            shown = value if weight > 0 else 1.0 - value
            label = word.label if weight > 0 else f"not {word.label}"
            words.append(WordScore(label, word.kind, round(shown, 4)))
        value = float(s[row])
        why.append(
            Reason(term.text, term.negated, round(1.0 - value if term.negated else value, 4), words)
        )
    return Match(
        track_id=int(index.track_ids[row]),
        path=index.displays[row],
        artist=index.artists[row],
        title=index.titles[row],
        score=round(float(scores[row]), 4),
        why=why,
    )


def _nothing_understood(query: Query) -> str:
    said = ", ".join(repr(u) for u in query.unknown) or repr(query.text.strip())
    return (
        f"no word of {said} is known here; try a genre, an artist, a decade (80s), a mood "
        "(calm, happy, sad, chill, upbeat), a sound (instrumental, female vocals) or a "
        "tempo (slow, fast)"
    )
