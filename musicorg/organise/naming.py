"""Names for automatic playlists and their groups, from what their tracks have in common.

A name is made of up to three *tokens* joined by " · ", e.g. "Metal · fast · 2000s". A token
is one of

- a genre tag (normalised, case-insensitive; a tag of several words such as "Death Metal"
  also counts as its last word, "Metal", the broader genre);
- an artist;
- a decade ("1990s"), from the year tag;
- a descriptor, by library-relative halves (the tracks strictly above or below the library's
  median of its scale): tempo gives "slow" or "fast", brightness "dark" or "bright", and
  "calm" or "energetic" is the energy of the signal together with the heard moods (mellow,
  chill), as :data:`musicorg.organise.vocabulary.DESCRIPTORS` defines them;
- a word heard by the tagger (:mod:`musicorg.model.autotags`): a genre ("Jazz", "Hip-Hop"; kind
  ``style``), a mood ("mellow", "happy"), a sound ("instrumental", "female vocalists") or an
  era ("80s"). A track has the word when one of its tags reaches that tag's threshold.

Every token is a word of :class:`musicorg.organise.vocabulary.Vocabulary`, on for the tracks
its ``on`` says, so that a word means the same tracks in a name, in ``ask``, on the map and in
the details pane.

A token may be used for a set of tracks only when it is true of at least 60 % of them
(:data:`MIN_SHARE`) **and** is more common among them than in the whole library, so that a
word which describes everything ("Soundtrack" in a library of soundtracks) names nothing.

The name takes the best genre-or-artist token of the files first (largest excess of share over
the library share), or else the best genre heard by the tagger; then the best qualities
(descriptors, moods, sounds; a heard genre too after an artist), by excess; then a decade of
the year tags, or else an era heard by the tagger. When nothing qualifies, what is true of
:data:`RELAXED_SHARE` (40 %) of the set and more common in it names it, or else what is true
of 60 % of it however common (a group of the whole library), or else the tempo band of its
middle half ("110–140 BPM"); "Mix <n>" (groups: "Group <n>") only names a set that nothing
at all is known of. Names are unique: a duplicate takes its next qualifying token, then a
token of 40 %, then its tempo band ("Ambient · chill · 90–120 BPM"), and a number only when
all of those are taken, in a deterministic order.

A name never contradicts itself or repeats itself (:meth:`Vocabulary.fits`): no two opposite
words (:data:`musicorg.model.autotags.OPPOSITES`: "instrumental" and "female vocalists", "happy" and
"sad", ...; each descriptor's two halves; and :data:`CLASHES`, "calm" with "fast" and "slow"
with "energetic"), one genre at most (of the files, or else heard: never "Hip Hop · Hip-Hop"
or "Death Metal · Metal"), one decade or era at most.

A group's name avoids a word whose opposite is true of one of its playlists (a group
"bright · energetic" holding a playlist "bright · calm" reads as a contradiction), as long as
something else qualifies: :func:`contradicted` finds those words.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from musicorg.jobs import paused
from musicorg.model import autotags
from musicorg.organise import vocabulary
from musicorg.organise.vocabulary import ARTIST, DECADE, DESCRIPTOR, GENRE

SEP = " · "
MIN_SHARE = 0.6
#: When nothing is true of MIN_SHARE of a set, what is true of this share names it (still
#: more common in it than in the library); a duplicate name takes such a word too.
RELAXED_SHARE = 0.4
MAX_TOKENS = 3

# Kinds of token, in the order they appear in a name (a name's first word is a genre or
# artist of the files, or a style; its last a decade or an era).
STYLE, MOOD, SOUND, ERA = autotags.STYLE, autotags.MOOD, autotags.SOUND, autotags.ERA
KIND_ORDER = {
    GENRE: 0,
    ARTIST: 0,
    STYLE: 0,
    DESCRIPTOR: 1,
    MOOD: 1,
    SOUND: 1,
    DECADE: 2,
    ERA: 2,
}
# What a set *is* (one per name), how it sounds, when it is from.
WHAT = (GENRE, ARTIST)
QUALITIES = (DESCRIPTOR, MOOD, SOUND)
WHEN = (DECADE, ERA)
GENRES = (GENRE, STYLE)

#: Words of two descriptors that read as a contradiction in one name ("calm · fast", "slow ·
#: energetic"), besides each descriptor's own two halves and the tagger's OPPOSITES.
CLASHES: tuple[tuple[str, str], ...] = (("calm", "fast"), ("slow", "energetic"))

#: The kinds of word a name may use (the vocabulary's HEARD words, "beautiful" or "guitar",
#: never name a set).
NAME_KINDS = frozenset(KIND_ORDER)

#: What naming knows of each track: the vocabulary's facts (one entry per row of the pipeline).
TrackTags = vocabulary.TrackFacts


def _clashes(labels: list[str], kinds: list[str], opposite: dict[int, set[int]]) -> None:
    """Add to ``opposite`` the pairs of :data:`CLASHES` ("calm" and "fast"), both ways: words
    that may describe one track together but read as a contradiction in a name."""
    by_label = {labels[t].casefold(): t for t, kind in enumerate(kinds) if kind == DESCRIPTOR}
    for a, b in CLASHES:
        ta, tb = by_label.get(a), by_label.get(b)
        if ta is not None and tb is not None:
            opposite.setdefault(ta, set()).add(tb)
            opposite.setdefault(tb, set()).add(ta)


#: Entries of the incidence matrix :func:`_incidence` places with one numpy call at most.
_SLICE = 200_000


def _incidence(
    rows: list[NDArray[np.intp]], n: int
) -> tuple[sparse.csr_matrix, NDArray[np.float64]]:
    """The N × T matrix of which tracks carry each token (``rows[t]``: the tracks of token
    t), with a 1 for each, and how many tracks carry each token (its column's sum).

    The naming of the playlists (the window's explaining job, in a worker thread) builds it
    for the whole library: at a million tracks 29 million entries of 55,000 tokens, which
    scipy's one conversion from (row, column) pairs took 0.3-2 s to sort, holding the GIL
    all along (the window stalled as long). With each token's tracks ascending and distinct,
    as the vocabulary gives them, the rows are counted and the entries placed a token (or
    :data:`_SLICE` of its tracks) at a time instead, in the same order: the same matrix, in
    canonical form. Otherwise, scipy's conversion (duplicates summed)."""
    t_count = len(rows)
    if any(len(r) > 1 and not bool((r[1:] > r[:-1]).all()) for r in rows):
        data_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.intp)
        data_cols = np.repeat(np.arange(t_count, dtype=np.intp), [len(r) for r in rows])
        matrix = sparse.csr_matrix(
            (np.ones(len(data_rows)), (data_rows, data_cols)), shape=(n, t_count)
        )
        return matrix, np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel()
    sizes = [len(r) for r in rows]
    nnz = sum(sizes)
    index: type[np.signedinteger[Any]] = (
        np.int32 if max(n, t_count, nnz) < np.iinfo(np.int32).max else np.int64
    )
    per_row: NDArray[np.signedinteger[Any]] = np.zeros(n, dtype=index)
    for part in _parts(rows):
        for _t, r in part:
            per_row[r] += 1
    indptr = np.zeros(n + 1, dtype=index)
    np.cumsum(per_row, out=indptr[1:])
    indices = np.empty(nnz, dtype=index)
    filled: NDArray[np.signedinteger[Any]] = indptr[:-1].copy()  # each row's next entry
    for part in _parts(rows):
        for t, r in part:
            indices[filled[r]] = t
            filled[r] += 1
    data = np.empty(nnz, dtype=np.float64)
    for lo in paused(range(0, nnz, _SLICE * 5)):
        data[lo : lo + _SLICE * 5] = 1.0
    matrix = sparse.csr_matrix((data, indices, indptr), shape=(n, t_count))
    matrix.has_canonical_format = True  # each row's tokens ascending, none twice
    return matrix, np.asarray(sizes, dtype=np.float64)


def _parts(
    rows: list[NDArray[np.intp]],
) -> Iterator[list[tuple[int, NDArray[np.intp]]]]:
    """The tokens' tracks in order, as (token, tracks) pieces of at most :data:`_SLICE`
    tracks, in batches of about as many, with a pause for the other threads between."""
    batch: list[tuple[int, NDArray[np.intp]]] = []
    size = 0
    for t, r in enumerate(rows):
        for lo in range(0, len(r), _SLICE):
            piece = r[lo : lo + _SLICE]
            batch.append((t, piece))
            size += len(piece)
            if size >= _SLICE:
                yield batch
                time.sleep(0)  # let the other threads (the window) run between batches
                batch, size = [], 0
    if batch:
        yield batch


@dataclass
class Vocabulary:
    """Every token of a library, and which tracks carry it (a sparse N × T 0/1 matrix)."""

    incidence: sparse.csr_matrix
    labels: list[str]
    kinds: list[str]
    library_share: NDArray[np.float64]
    # Token -> the tokens of its opposite words ("calm" <-> "energetic", "instrumental" ->
    # "female vocalists" and "male vocalists").
    opposite: dict[int, set[int]] = field(default_factory=dict)
    # Each track's tempo (BPM; NaN or 0 where unknown), for the tempo band of a name that
    # no word tells apart.
    tempo: NDArray[np.float64] | None = None
    # Members (their bytes) -> the tokens they carry and how many of them carry each: a build
    # asks the same sets at several shares (25,000 playlists at a million tracks).
    _counted: dict[bytes, tuple[NDArray[np.intp], NDArray[np.float64]]] = field(
        default_factory=dict, repr=False
    )

    @property
    def n_tracks(self) -> int:
        return int(self.incidence.shape[0])

    @classmethod
    def build(cls, tags: TrackTags) -> Vocabulary:
        """The tokens are the words of :class:`musicorg.organise.vocabulary.Vocabulary` that a
        name may use, each on for the tracks its :meth:`~musicorg.organise.vocabulary.
        Vocabulary.on` says: the same word means the same tracks in a name, an answer to
        ``ask``, a map label and the details pane."""
        words = vocabulary.Vocabulary.build(tags)
        n = words.n_tracks
        # The words a name may use that are on for some track.
        on = {key: words.rows(key) for key in words.keys(tuple(NAME_KINDS))}
        keys = [key for key, chosen in on.items() if len(chosen)]
        column = {key: t for t, key in enumerate(keys)}
        incidence, counts = _incidence([on[key] for key in keys], n)
        share = counts / max(n, 1)
        labels = [words.words[key].label for key in keys]
        kinds = [words.words[key].kind for key in keys]
        opposite: dict[int, set[int]] = {}
        for t, key in enumerate(keys):
            others = {column[o] for o in words.opposites(key) if o in column}
            if others:
                opposite[t] = others
        _clashes(labels, kinds, opposite)
        tempo = None if tags.tempo is None else np.asarray(tags.tempo, dtype=np.float64)
        tempo = tempo if tempo is not None and len(tempo) == n else None
        return cls(incidence, labels, kinds, share, opposite, tempo)

    def shares(self, members: NDArray[np.intp]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per token: its share among ``members``, and that share less the library's."""
        counts = np.asarray(self.incidence[members].sum(axis=0)).ravel()
        share = counts / max(len(members), 1)
        return share, share - self.library_share

    def _counts(self, members: NDArray[np.intp]) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """The tokens some of ``members`` carry, and how many carry each (remembered)."""
        key = np.asarray(members, dtype=np.intp).tobytes()
        found = self._counted.get(key)
        if found is None:
            counts = np.asarray(self.incidence[members].sum(axis=0)).ravel()
            tokens = np.flatnonzero(counts).astype(np.intp)
            found = self._counted[key] = (tokens, counts[tokens].astype(np.float64))
        return found

    def tempo_band(self, members: NDArray[np.intp]) -> str | None:
        """The tempo of the middle half of ``members``, "90–120 BPM" (to 5 BPM), or None."""
        if self.tempo is None or len(members) == 0:
            return None
        bpm = self.tempo[np.asarray(members, dtype=np.intp)]
        bpm = bpm[np.isfinite(bpm) & (bpm > 0)]
        if len(bpm) == 0:
            return None
        lo, hi = (int(5 * round(v / 5)) for v in np.percentile(bpm, [25, 75]))
        return f"{lo} BPM" if lo == hi else f"{lo}–{hi} BPM"

    def fits(self, token: int, chosen: Collection[int]) -> bool:
        """Whether ``token`` may join a name of the tokens ``chosen``: it is none of them, no
        opposite of one, and not a second genre (a genre of the files and a style, or two
        styles) or a second decade or era."""
        kind = self.kinds[token]
        for other in chosen:
            if other == token or other in self.opposite.get(token, ()):
                return False
            okind = self.kinds[other]
            if (kind in WHEN and okind in WHEN) or (kind in GENRES and okind in GENRES):
                return False
        return True

    def qualifying(
        self, members: NDArray[np.intp], min_share: float = MIN_SHARE, *, contrast: bool = True
    ) -> list[tuple[int, float, float]]:
        """(token, share among members, excess over the library) of the tokens true of at
        least ``min_share`` of the members and (``contrast``) more common among them than in
        the library, best first."""
        if len(members) == 0 or not self.kinds:
            return []
        if min_share <= 1e-12:  # tokens none of them carries qualify too
            share, excess = self.shares(members)
            ok = np.flatnonzero((share >= min_share - 1e-12) & ((excess > 1e-12) | (not contrast)))
            out = [(int(t), float(share[t]), float(excess[t])) for t in ok]
        else:
            tokens, counts = self._counts(members)
            share = counts / len(members)
            excess = share - self.library_share[tokens]
            ok = np.flatnonzero((share >= min_share - 1e-12) & ((excess > 1e-12) | (not contrast)))
            out = [(int(tokens[i]), float(share[i]), float(excess[i])) for i in ok]
        out.sort(key=lambda e: (-e[2], -e[1], self.labels[e[0]]))
        return out


def contradicted(
    vocab: Vocabulary, parts: Sequence[NDArray[np.intp]], names: Collection[str] = ()
) -> set[int]:
    """The tokens with an opposite that qualifies for one of ``parts`` (the playlists of a
    group) or is a word of one of ``names`` (the names they keep from an earlier build):
    words a name of the whole should not use."""
    said: set[int] = set()
    for part in parts:
        said.update(t for t, _s, _e in vocab.qualifying(np.asarray(part, dtype=np.intp)))
    by_word = {vocab.labels[t].casefold(): t for t in vocab.opposite}
    for name in names:
        for word in _words(re.sub(r" \d+$", "", name)):
            t = by_word.get(word)
            if t is not None:
                said.add(t)
    return {o for t in said for o in vocab.opposite.get(t, ())}


def still_true(vocab: Vocabulary, members: NDArray[np.intp], name: str) -> bool:
    """Whether every word of ``name`` (a trailing number and a tempo band aside) is a token
    true of RELAXED_SHARE of ``members`` and more common among them than in the library:
    a name made for other tracks (another model's playlist) may go on naming these."""
    said = {vocab.labels[t].casefold() for t, _s, _e in vocab.qualifying(members, RELAXED_SHARE)}
    words = _words(re.sub(r" \d+$", "", name))
    return bool(words) and all(w in said or w.endswith(" bpm") for w in words)


def _compose(vocab: Vocabulary, tokens: list[tuple[int, float, float]], limit: int) -> list[int]:
    """Pick up to ``limit`` token ids: one genre-or-artist of the files (else a style), then
    qualities, then a decade (else an era); never two that do not fit (:meth:`Vocabulary.fits`)."""
    kinds = vocab.kinds
    best = [t[0] for t in tokens]
    chosen: list[int] = []
    # A more specific genre ("Death Metal") wins over its broad word when both qualify with
    # the same share: the sort above is by excess, which the specific one has less of only
    # when it is less common, i.e. really less true.
    lead = next((t for t in best if kinds[t] in WHAT), None)
    if lead is None:
        lead = next((t for t in best if kinds[t] == STYLE), None)
    if lead is not None:
        chosen.append(lead)
    when = next((t for t in best if kinds[t] == DECADE), None)
    if when is None:
        when = next((t for t in best if kinds[t] == ERA), None)
    room = limit - len(chosen) - (1 if when is not None else 0)
    for t in best:
        if room <= 0:
            break
        if (kinds[t] in QUALITIES or kinds[t] == STYLE) and vocab.fits(t, chosen):
            chosen.append(t)
            room -= 1
    if when is not None and len(chosen) < limit and vocab.fits(when, chosen):
        chosen.append(when)
    chosen.sort(key=lambda t: KIND_ORDER[kinds[t]])
    return chosen[:limit]


def _lead(vocab: Vocabulary, ids: list[int], parent: str | None) -> list[int]:
    """``ids`` in name order, the qualities that the parent's name (a group's) also says
    first, in its order: "bright · energetic · slow" in a group "bright", not "energetic ·
    bright · slow"."""
    if not parent:
        return ids
    words = _words(parent)

    def rank(t: int) -> tuple[int, int]:
        label = vocab.labels[t].casefold()
        said = vocab.kinds[t] in QUALITIES and label in words
        return KIND_ORDER[vocab.kinds[t]], words.index(label) if said else len(words)

    return sorted(ids, key=rank)


def _words(name: str) -> list[str]:
    """A name's tokens, in order, stripped and case-folded (for comparing, not showing)."""
    return [part.strip().casefold() for part in name.split(SEP.strip())]


def _key(name: str) -> str:
    """What makes two names the same: their tokens, in any order and any case ("bright ·
    energetic" and "Energetic · Bright" name the same thing)."""
    return SEP.join(sorted(_words(name)))


def _reword(name: str, like: str) -> str:
    """``name``'s tokens (same ones as ``like``'s, in any order and case) in ``like``'s order."""
    mine = {part.strip().casefold(): part.strip() for part in name.split(SEP.strip())}
    order = _words(like)
    if sorted(mine) != sorted(order):
        return name
    return SEP.join(mine[token] for token in order)


def name_sets(
    sets: Sequence[NDArray[np.intp]],
    vocab: Vocabulary,
    *,
    reserved: Collection[str] = (),
    wordings: Collection[str] = (),
    fallback: str = "Mix",
    max_tokens: int = MAX_TOKENS,
    avoid: Sequence[Collection[int]] | None = None,
    parents: Sequence[str | None] | None = None,
) -> list[str]:
    """A unique name for every set of track rows (in the given, deterministic order).

    ``reserved`` names (kept from an earlier run, chosen by the user, or the groups' names
    that a playlist must not repeat) are never given out. Names are compared by their tokens
    in any order (see :func:`_key`). ``wordings`` are names shown elsewhere: they stay free
    to use, but a name with the same tokens takes their word order. ``avoid`` gives, per set,
    tokens left out of its name unless nothing else qualifies (see :func:`contradicted`).
    ``parents`` gives, per set, the name of the group it is in: the descriptors that name
    says come first.

    A set that no word of MIN_SHARE describes is named by the words of RELAXED_SHARE, or else
    by words true of MIN_SHARE of it however common in the library (a group of the whole
    library: "Electronic"), or else by its tempo band ("110–140 BPM"). A name
    already given takes, in turn: its set's next word of MIN_SHARE, then of RELAXED_SHARE,
    then the tempo band of its middle half ("Ambient · 90–120 BPM"); a number only when all
    of these are taken too, and "<fallback> <n>" only for a set nothing at all is known of.
    """
    taken = {_key(n) for n in reserved}
    # The first wording of each name in use: a numbered repeat keeps its word order
    # ("bright · energetic 2" after "bright · energetic", never "energetic · bright 2").
    worded = {_key(n): n for n in wordings}
    worded.update({_key(n): n for n in reserved})
    strict = _filtered(vocab, sets, MIN_SHARE, avoid)
    relaxed = _filtered(vocab, sets, RELAXED_SHARE, avoid)
    # A set as varied as the library (a group of all of it) is named by what most of it is.
    common = [vocab.qualifying(np.asarray(s, dtype=np.intp), contrast=False) for s in sets]
    qualifying = [q or r or c for q, r, c in zip(strict, relaxed, common, strict=True)]
    parent = list(parents) if parents is not None else [None] * len(sets)
    proposals: list[list[int]] = [
        _lead(vocab, _compose(vocab, q, max_tokens), parent[i]) for i, q in enumerate(qualifying)
    ]
    names: list[str | None] = [None] * len(sets)

    def text(ids: list[int]) -> str:
        return _text(vocab, ids)

    # First pass: the sets whose name is not shared keep it as it is.
    counts = Counter(_key(text(p)) for p in proposals if p)
    for i, p in enumerate(proposals):
        if p and counts[_key(text(p))] == 1 and _key(text(p)) not in taken:
            names[i] = _reword(text(p), worded.get(_key(text(p)), text(p)))
            taken.add(_key(text(p)))
            worded.setdefault(_key(text(p)), text(p))
    # Then the duplicates and the sets with no word, in order.
    for i, p in enumerate(proposals):
        if names[i] is not None:
            continue
        band = vocab.tempo_band(np.asarray(sets[i], dtype=np.intp))
        if not p and band is None:
            continue  # nothing known at all: the fallback below
        choices = [qualifying[i], relaxed[i]]
        candidate = _tell_apart(vocab, p, choices, parent[i], band, taken, worded)
        names[i] = candidate
        taken.add(_key(candidate))
        worded.setdefault(_key(candidate), candidate)
    return _fill(names, fallback, taken)


def _tell_apart(
    vocab: Vocabulary,
    ids: list[int],
    choices: Sequence[list[tuple[int, float, float]]],
    parent: str | None,
    band: str | None,
    taken: Collection[str],
    worded: Mapping[str, str],
) -> str:
    """A name not yet ``taken`` for a set that proposes ``ids`` (or nothing, when it has a
    tempo ``band``): the proposal, else with a further token of ``choices`` (its
    qualifying tokens, then its relaxed ones), else with its tempo band; a number last."""
    candidate = _text(vocab, ids) if ids else str(band)
    if _key(candidate) in taken and ids:
        worded_as = _reword(candidate, worded.get(_key(candidate), candidate))
        banded = f"{worded_as}{SEP}{band}" if band else None
        longer = (_longer(vocab, ids, q, parent, taken) for q in choices)
        candidate = (
            next((n for n in longer if n), None)
            or (banded if banded and _key(banded) not in taken else None)
            or candidate
        )
    candidate = _reword(candidate, worded.get(_key(candidate), candidate))
    number = 2
    base = candidate
    while _key(candidate) in taken:
        candidate = f"{base} {number}"
        number += 1
    return candidate


def _filtered(
    vocab: Vocabulary,
    sets: Sequence[NDArray[np.intp]],
    min_share: float,
    avoid: Sequence[Collection[int]] | None,
) -> list[list[tuple[int, float, float]]]:
    """The qualifying tokens of each set at ``min_share``, less its ``avoid`` ones unless
    nothing else qualifies."""
    out = [vocab.qualifying(np.asarray(s, dtype=np.intp), min_share) for s in sets]
    if avoid is not None:
        for i, bad in enumerate(avoid):
            kept = [q for q in out[i] if q[0] not in bad]
            if kept:
                out[i] = kept
    return out


def _text(vocab: Vocabulary, ids: list[int]) -> str:
    return SEP.join(vocab.labels[t] for t in ids)


def _longer(
    vocab: Vocabulary,
    ids: list[int],
    qualifying: list[tuple[int, float, float]],
    parent: str | None,
    taken: Collection[str],
) -> str | None:
    """A name of ``ids`` and one more qualifying token that no other name has yet (a quality
    or decade rather than a second genre or artist), or None."""
    have = {vocab.kinds[t] for t in ids}
    extras = [
        t[0]
        for t in qualifying
        if vocab.fits(t[0], ids) and not (vocab.kinds[t[0]] in WHAT and vocab.kinds[t[0]] in have)
    ]
    # Qualities and decades first: a second genre or artist reads badly.
    extras.sort(key=lambda t: vocab.kinds[t] in (*WHAT, STYLE))
    for extra in extras:
        longer = _lead(
            vocab, sorted([*ids, extra], key=lambda t: KIND_ORDER[vocab.kinds[t]]), parent
        )
        if _key(_text(vocab, longer)) not in taken:
            return _text(vocab, longer)
    return None


def _fill(names: list[str | None], fallback: str, taken: set[str]) -> list[str]:
    """The names, with "<fallback> <n>" (the lowest free numbers) where a set has none."""
    number = 1
    out: list[str] = []
    for name in names:
        if name is None:
            while _key(f"{fallback} {number}") in taken:
                number += 1
            name = f"{fallback} {number}"
            taken.add(_key(name))
        out.append(name)
    return out


def explain(vocab: Vocabulary, members: NDArray[np.intp]) -> list[dict[str, Any]]:
    """The qualifying tokens of a set with their shares, for tests and the GUI's tooltips."""
    return [
        {
            "token": vocab.labels[t],
            "kind": vocab.kinds[t],
            "share": share,
            "library_share": float(vocab.library_share[t]),
        }
        for t, share, _excess in vocab.qualifying(np.asarray(members, dtype=np.intp))
    ]
