"""One vocabulary: the words musicorg says of tracks, and the words it understands in a query.

A :class:`Vocabulary` is built from what a library knows of its tracks (:class:`TrackFacts`)
and holds one :class:`Word` per thing that can be said of a track:

- **heard** words: the 42 words of :data:`musicorg.model.autotags.WORDS` over MusiCNN's 50
  tags ("Jazz", "mellow", "instrumental", "80s", ...), with their kinds (style, mood, sound,
  era, or ``heard`` for those never used in a name);
- **genre** words from the files' genre tags ("Death Metal", and its broader "Metal"),
  **artists**, and **decades** from the year tags ("1980s");
- the **descriptors** slow/fast, dark/bright, calm/energetic: each pair one scale, made
  from the analysis (tempo, brightness, energy) and, for calm/energetic, the heard moods too
  (:data:`DESCRIPTORS`).

Every word gives, for every track,

- a **score** in [0, 1] (:meth:`Vocabulary.score`): 0 or 1 for the words of the files (a
  track has that genre tag, artist or decade, or not); for what is heard or measured, the
  track's place in the library (a *library-relative* rank: 0.9 = above 90 % of the
  library), so that the scores of different words can be added; 0.5 for a track with no
  analysis;
- whether the word is **on** (:meth:`Vocabulary.on`): true of the track, as a playlist name
  may say it. A word of the files is on when the track has it; a heard word when one of its
  tags reaches that tag's calibrated threshold; a descriptor in its half of the library
  (strictly beyond the median).

A query (:meth:`Vocabulary.parse`) is read as *terms*: phrases of one or more words
("female vocals", "hip hop", "no vocals"), each with a *sense* (weighted words: "chill" →
chill and mellow; "upbeat" → energetic and happy; :data:`SYNONYMS`), possibly negated ("not
metal", "without vocals", "no drums", "-metal", "non-electronic"). Filler words ("songs",
"some", "with") are skipped; the words that mean nothing here are returned as *unknown*,
never dropped. :meth:`Vocabulary.term_score` turns a sense into one score per track (see
there); :mod:`musicorg.organise.ask` ranks with it.

The weights of the composite senses ("classical", "sad", "calm") were chosen on the TRAINING
split of the real-song sets only; ``training/eval_ask.py`` reports them on the held-out split.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from musicorg.jobs import paused
from musicorg.model import autotags

# Kinds of word. A heard word keeps its autotags kind (style, mood, sound, era); one that is
# never used in a name ("beautiful", "guitar") is of kind HEARD.
GENRE, ARTIST, DECADE, DESCRIPTOR, HEARD = "genre", "artist", "decade", "descriptor", "heard"
STYLE, MOOD, SOUND, ERA = autotags.STYLE, autotags.MOOD, autotags.SOUND, autotags.ERA
#: The kinds whose words come from the files' tags (scores 0 or 1).
FILE_KINDS: Final = (GENRE, ARTIST, DECADE)

#: A file word's match adds this to a term (see :meth:`Vocabulary.term_score`).
FILE_FLOOR: Final = 0.9
#: Phrases of at most this many words are looked up.
MAX_PHRASE: Final = 6

Sense = tuple[tuple[str, float], ...]

# Each descriptor pair: (low word, high word, the scale of the high word as weighted signals).
# A signal is "tempo", "brightness", "energy" (the analysis) or a heard word's key; a negative
# weight counts the signal reversed. Calm/energetic is the energy of the signal and what the
# tagger hears (mellow, chill, easy listening): energy alone ranks quiet but tense songs as
# calm (real songs, training split: 0.50 of the 20 calmest by energy alone are calm,
# against 0.80 with the heard moods).
DESCRIPTORS: Final[tuple[tuple[str, str, Sense], ...]] = (
    ("slow", "fast", (("tempo", 1.0),)),
    ("dark", "bright", (("brightness", 1.0),)),
    (
        "calm",
        "energetic",
        (
            ("energy", 1.0),
            ("heard:mellow", -1.0),
            ("heard:chill", -1.0),
            ("heard:easy listening", -1.0),
        ),
    ),
)

#: Each descriptor word -> its pair.
_PAIR_OF: Final = {word: pair for pair in DESCRIPTORS for word in pair[:2]}

_VOICES: Final = (("heard:female vocalists", 1.0), ("heard:male vocalists", 1.0))
_CLASSICAL: Final = (
    ("genre:classical", 1.0),
    ("genre:orchestral", 1.0),
    ("genre:symphony", 1.0),
    ("heard:instrumental", 2.0),
    ("heard:electronic", -1.0),
    ("descriptor:calm", 1.0),
)
_SAD: Final = (("heard:sad", 1.0), ("heard:blues", 1.0))
_CALM: Final = (("descriptor:calm", 1.0),)
_ENERGETIC: Final = (("descriptor:energetic", 1.0),)
_HAPPY: Final = (("heard:happy", 1.0),)


def _each(phrases: str, sense: Sense) -> dict[str, Sense]:
    return {p.strip(): sense for p in phrases.split(",")}


#: Phrases and what they mean (a word key and its weight; a key the library lacks is left
#: out). Each word's own label and tags are phrases too, and so are the library's genres,
#: decades and artists: this table holds the other ways of saying them.
SYNONYMS: Final[Mapping[str, Sense]] = {
    # Moods.
    **_each(
        "chill, chilled, chillout, chill out, laid back, relaxed, relaxing, lofi, lo fi",
        (("heard:chill", 1.0), ("heard:mellow", 1.0)),
    ),
    **_each(
        "upbeat, up beat, feel good, uplifting",
        (("descriptor:energetic", 1.0), ("heard:happy", 1.0)),
    ),
    **_each("happy, cheerful, joyful, joyous, cheery, fun, sunny", _HAPPY),
    **_each(
        "sad, melancholic, melancholy, sorrowful, gloomy, depressing, blue, heartbreak, "
        "heartbroken, tearjerker",
        _SAD,
    ),
    **_each(
        "calm, peaceful, quiet, soft, gentle, soothing, serene, tranquil, low energy, "
        "sleepy, sleep",
        _CALM,
    ),
    **_each(
        "energetic, intense, powerful, high energy, lively, loud, aggressive, energy", _ENERGETIC
    ),
    **_each("fast, quick, rapid, uptempo, up tempo, high tempo", (("descriptor:fast", 1.0),)),
    **_each("slow, downtempo, down tempo, low tempo, slow tempo", (("descriptor:slow", 1.0),)),
    **_each("dark, murky, sombre, somber", (("descriptor:dark", 1.0),)),
    **_each("bright, brilliant, sparkling, shiny", (("descriptor:bright", 1.0),)),
    **_each("sexy, sensual, romantic", (("heard:sexy", 1.0),)),
    **_each("party, partying, club", (("heard:party", 1.0), ("heard:dance", 0.5))),
    **_each("dance, danceable, dancing", (("heard:dance", 1.0),)),
    **_each("groovy, groove, funky", (("heard:funk", 1.0),)),
    **_each("beautiful, pretty, lovely", (("heard:beautiful", 1.0),)),
    **_each("easy listening, easy, lounge", (("heard:easy listening", 1.0),)),
    **_each("experimental, weird, avant garde, avantgarde", (("heard:experimental", 1.0),)),
    **_each("oldies, old, retro, vintage", (("heard:oldies", 1.0),)),
    # Voices and instruments.
    **_each(
        "vocals, vocal, voice, voices, singing, singer, singers, sung, song with vocals, "
        "vocalist, vocalists",
        _VOICES,
    ),
    **_each(
        "instrumental, instrumentals, no vocals, no vocal, no voice, no voices, "
        "no singing, without singing, vocal free",
        (("heard:instrumental", 1.0),),
    ),
    **_each(
        "female vocals, female vocal, female voice, female singer, female, woman, women, "
        "female vocalist, female vocalists, female fronted",
        (("heard:female vocalists", 1.0),),
    ),
    **_each(
        "male vocals, male vocal, male voice, male singer, male, man, men, male vocalist, "
        "male vocalists",
        (("heard:male vocalists", 1.0),),
    ),
    **_each("guitar, guitars, guitar music", (("heard:guitar", 1.0),)),
    **_each("acoustic, unplugged", (("heard:acoustic", 1.0),)),
    # Genres the tagger hears, by other names (the files' genre tags match by their own).
    **_each(
        "electronic, electronica, electro, edm, synth, synths, synthesizer",
        (("heard:electronic", 1.0), ("genre:electronic", 1.0)),
    ),
    **_each("techno, trance", (("heard:electronic", 1.0), ("heard:dance", 1.0))),
    **_each("house, house music", (("heard:house", 1.0),)),
    **_each("hip hop, hiphop, rap, rapping", (("heard:hip-hop", 1.0), ("genre:rap", 1.0))),
    **_each("r and b, rnb, randb, rhythm and blues", (("heard:r&b", 1.0),)),
    **_each("classical, orchestral, symphonic, orchestra, symphony, classic music", _CLASSICAL),
    **_each("jazz, jazzy", (("heard:jazz", 1.0),)),
    **_each("bluesy", (("heard:blues", 1.0),)),
    **_each("poppy", (("heard:pop", 1.0),)),
    **_each("folky", (("heard:folk", 1.0),)),
    **_each("metal, heavy", (("heard:metal", 1.0),)),
    **_each("ambient, atmospheric, soundscape, drone", (("heard:ambient", 1.0),)),
    **_each("prog, prog rock, progressive", (("heard:progressive rock", 1.0),)),
    **_each("punk rock", (("heard:punk", 1.0),)),
}

#: Words that introduce a negated term ("not metal", "without vocals", "no drums").
NEGATIONS: Final = frozenset(
    {"not", "no", "without", "non", "minus", "except", "avoid", "exclude", "excluding", "nothing"}
)
#: Filler: skipped, never reported as unknown.
FILLER: Final = frozenset(
    str.split(
        "a an and or the some any with of for me to in by from that is are be please play give "
        "find want like music songs song tracks track stuff something things kind sort type style "
        "very really quite bit little more mostly rather sounding sounds sound vibe vibes mood "
        "playlist list but also which"
    )
)

_SPLIT_GENRES = re.compile(r"\s*(?:;|/|\||,|\x00)\s*")
_QUOTES = re.compile(r"[\"'`´’‘“”]")
_NOT_WORD = re.compile(r"[\W_]+")
_TOKENS = re.compile(r"[^\s,;:?()\"“”+|/!]+")
_JUNK_GENRES: Final = frozenset(
    {"", "(none)", "none", "other", "unknown", "misc", "genre", "music", "general", "various"}
)
_DECADE_WORDS: Final = {
    "twenties": (1920, 2020),
    "thirties": (1930,),
    "forties": (1940,),
    "fifties": (1950,),
    "sixties": (1960,),
    "seventies": (1970,),
    "eighties": (1980,),
    "nineties": (1990,),
    "noughties": (2000,),
    "aughts": (2000,),
}
_ERAS: Final = {1960: "60s", 1970: "70s", 1980: "80s", 1990: "90s", 2000: "00s"}


# --- the forms of words ----------------------------------------------------------------------


def normalise(text: str | None) -> str:
    """A tag value as compared: NFKC, case-folded, quotes removed, spaces collapsed."""
    if not text:
        return ""
    folded = _QUOTES.sub("", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split()).strip(" .-_")


def match_key(text: str) -> str:
    """The form in which a phrase is looked up: no accents, case-folded, "&" as "and", every
    other mark a space ("Hip-Hop" → "hip hop", "R&B" → "r and b", "80's" → "80s")."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    plain = _QUOTES.sub("", plain).replace("&", " and ")
    return " ".join(_NOT_WORD.sub(" ", plain).split())


def genre_keys(tag: str | None) -> list[tuple[str, str]]:
    """(key, display) of every genre of one genre tag ("Rock; Death Metal"), the broader last
    word of a genre of several words included ("Death Metal" is also "Metal")."""
    out: list[tuple[str, str]] = []
    if not tag:
        return out
    for part in _SPLIT_GENRES.split(tag):
        display = " ".join(part.split())
        key = normalise(display)
        if key in _JUNK_GENRES or len(key) < 2:
            continue
        out.append((key, display))
        words = display.split()
        if len(words) > 1 and len(words[-1]) > 2:
            broad = normalise(words[-1])
            if broad not in _JUNK_GENRES:
                out.append((broad, words[-1]))
    return out


def decade(year: int | None) -> str | None:
    """ "1980s" for 1984; None for no year or an impossible one."""
    if year is None or not 1000 <= year <= 2100:
        return None
    return f"{year // 10 * 10}s"


#: Values :func:`int_array` converts with one numpy call at most.
_SLICE = 100_000


def int_array(values: Sequence[int], dtype: Any = np.intp) -> NDArray[Any]:
    """``values`` as an integer array, a slice at a time: the tracks of a word of half of a
    million tracks (a genre), made an array at once, held the GIL for 20-30 ms, and the
    window's explaining job builds a vocabulary (and dedupes the library) in a worker thread."""
    if len(values) <= _SLICE:
        return np.asarray(values, dtype=dtype)
    out = np.empty(len(values), dtype=dtype)
    for lo in paused(range(0, len(values), _SLICE)):
        out[lo : lo + _SLICE] = values[lo : lo + _SLICE]
    return out


def library_rank(values: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
    """Each value's place in the library, in (0, 1): its mid-rank among the finite values
    (equal values share the middle of their ranks), + 0.5, / their count; 0.5 for a NaN (no
    analysis: neither high nor low)."""
    v = np.asarray(values, dtype=np.float64)
    out = np.full(len(v), 0.5, dtype=np.float32)
    ok = np.isfinite(v)
    k = int(ok.sum())
    if k:
        _unique, inverse, counts = np.unique(v[ok], return_inverse=True, return_counts=True)
        ends = np.cumsum(counts)
        out[ok] = ((ends - counts / 2) / k)[inverse]
    return out


# --- what a library knows of its tracks --------------------------------------------------------


@dataclass
class TrackFacts:
    """What the vocabulary knows of each track (one entry per track). The same fields as
    :class:`musicorg.organise.naming.TrackTags`."""

    genres: Sequence[str | None]
    artists: Sequence[str | None]
    years: Sequence[int | None]
    tempo: NDArray[np.floating[Any]] | None = None
    brightness: NDArray[np.floating[Any]] | None = None
    energy: NDArray[np.floating[Any]] | None = None
    # MusiCNN's tag probabilities (N × 50, a row of NaN for a track without tags), the tag
    # names of its columns and the thresholds (None: the shipped ones).
    tag_probs: NDArray[np.floating[Any]] | None = None
    tag_names: Sequence[str] | None = None
    tag_cutoffs: Mapping[str, float] | None = None

    def __len__(self) -> int:
        return len(self.genres)


@dataclass(frozen=True)
class Word:
    """A word of the vocabulary: its key (``"heard:jazz"``, ``"genre:death metal"``,
    ``"artist:kevin macleod"``, ``"decade:1980s"``, ``"descriptor:calm"``), how it is shown,
    and its kind."""

    key: str
    label: str
    kind: str

    @property
    def from_files(self) -> bool:
        return self.kind in FILE_KINDS


@dataclass(frozen=True)
class Term:
    """One phrase of a query and what it means: weighted word keys (the sense), negated or
    not. ``text`` is the phrase as read (match form)."""

    text: str
    sense: Sense
    negated: bool = False

    @property
    def shown(self) -> str:
        return f"not {self.text}" if self.negated else self.text


@dataclass
class Query:
    """A parsed query: its terms in order, and the words that mean nothing here."""

    text: str
    terms: list[Term]
    unknown: list[str]


@dataclass
class _Heard:
    """MusiCNN's tags of a library: each heard word's probability (the highest of its tags)
    and whether it is on."""

    value: NDArray[np.float32]  # N × W, NaN without tags
    on: NDArray[np.bool_]  # N × W
    column: dict[str, int]  # word key -> column


@dataclass
class Vocabulary:
    """The words of one library and their scores per track (see the module docstring)."""

    n_tracks: int
    words: dict[str, Word]
    _rows: dict[str, NDArray[np.intp]] = field(repr=False)  # file word -> tracks with it
    _signals: dict[str, NDArray[np.float64]] = field(repr=False)  # tempo, brightness, energy
    _heard: _Heard | None = field(repr=False)
    _phrases: dict[str, dict[str, float]] = field(repr=False)
    _artist_phrases: dict[str, str] = field(repr=False)
    _cache: dict[str, NDArray[np.float32]] = field(default_factory=dict, repr=False)
    # Casefolded label -> key of the words not from the files (for :meth:`opposites`; built
    # once: a million-track library has hundreds of thousands of artist words).
    _heard_labels: dict[str, str] | None = field(default=None, repr=False)

    # -- building ------------------------------------------------------------------------

    @classmethod
    def build(cls, facts: TrackFacts) -> Vocabulary:
        n = len(facts)
        words: dict[str, Word] = {}
        rows: dict[str, list[int]] = {}
        _file_words(facts, words, rows)
        heard = _heard_words(facts, words)
        signals = {
            name: np.asarray(values, dtype=np.float64)
            for name in ("tempo", "brightness", "energy")
            if (values := getattr(facts, name)) is not None and len(values) == n
        }
        for low, high, recipe in DESCRIPTORS:
            # The measured signal comes first; the heard ones join when there are tags.
            if recipe[0][0] in signals:
                words[f"{DESCRIPTOR}:{low}"] = Word(f"{DESCRIPTOR}:{low}", low, DESCRIPTOR)
                words[f"{DESCRIPTOR}:{high}"] = Word(f"{DESCRIPTOR}:{high}", high, DESCRIPTOR)
        vocab = cls(
            n_tracks=n,
            words=words,
            # Each list let go as soon as it is an array: the lists of a million tracks (29
            # million entries) freed at once as this returned held the GIL for 60-100 ms.
            _rows={k: int_array(rows.pop(k)) for k in list(rows)},
            _signals=signals,
            _heard=heard,
            _phrases={},
            _artist_phrases={},
        )
        vocab._index_phrases()
        return vocab

    def _index_phrases(self) -> None:
        """Every phrase the vocabulary understands, in its match form."""
        phrases = self._phrases
        for word in self.words.values():
            if word.kind == ARTIST:
                continue
            forms = [word.label, *_HEARD_TAGS.get(word.key, ())]
            for form in forms:
                _add_phrase(phrases, match_key(form), {word.key: 1.0})
        for phrase, sense in SYNONYMS.items():
            known = {k: w for k, w in sense if k in self.words}
            if known:
                _add_phrase(phrases, match_key(phrase), known)
        self._index_decades()
        for word in self.words.values():
            if word.kind == ARTIST:
                key = match_key(word.label)
                if key and key not in phrases:
                    self._artist_phrases[key] = word.key
                    self._artist_phrases.setdefault(key.replace(" ", ""), word.key)

    def _index_decades(self) -> None:
        """ "1980s", "1980's", "80s", "eighties": the decade of the year tags, and the era the
        tagger hears."""
        for start in range(1900, 2100, 10):
            sense: dict[str, float] = {}
            if f"{DECADE}:{start}s" in self.words:
                sense[f"{DECADE}:{start}s"] = 1.0
            era = _ERAS.get(start)
            if era and f"heard:{era}" in self.words:
                sense[f"heard:{era}"] = 1.0
            if not sense:
                continue
            short = f"{start % 100:02d}s"
            for form in (f"{start}s", short):
                _add_phrase(self._phrases, form, sense)
        for name, starts in _DECADE_WORDS.items():
            for start in starts:
                found = {
                    k: w for k, w in self._phrases.get(f"{start}s", {}).items() if k in self.words
                }
                if found:
                    _add_phrase(self._phrases, name, found)

    # -- the words -----------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        return key in self.words

    def keys(self, kinds: Sequence[str] | None = None) -> list[str]:
        """The word keys, of the given kinds (all when None), in a fixed order."""
        return [k for k, w in self.words.items() if kinds is None or w.kind in kinds]

    def score(self, key: str) -> NDArray[np.float32]:
        """(N,) in [0, 1]: how much word ``key`` is true of each track (module docstring).
        Computed once per word and kept. KeyError for a word the library lacks."""
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        word = self.words[key]
        if word.from_files:
            out = np.zeros(self.n_tracks, dtype=np.float32)
            out[self._rows[key]] = 1.0
        elif word.kind == DESCRIPTOR:
            out = self._descriptor_score(word.label)
        else:
            out = library_rank(self.heard_value(key))
        self._cache[key] = out
        return out

    def heard_value(self, key: str) -> NDArray[np.float32]:
        """(N,) a heard word's probability (the highest of its tags), NaN without tags."""
        if self._heard is None:
            raise KeyError(key)
        return self._heard.value[:, self._heard.column[key]]

    def on(self, key: str) -> NDArray[np.bool_]:
        """(N,) whether word ``key`` is true of each track, as a playlist name may say it."""
        word = self.words[key]
        if word.from_files:
            out = np.zeros(self.n_tracks, dtype=bool)
            out[self._rows[key]] = True
            return out
        if word.kind == DESCRIPTOR:
            # The word's half of the analysed tracks, strictly beyond their median.
            score = self._descriptor_score(word.label)
            ok = np.isfinite(self._signals[_PAIR_OF[word.label][2][0][0]])
            if not ok.any():
                return np.zeros(self.n_tracks, dtype=bool)
            return np.asarray(ok & (score > np.median(score[ok])), dtype=bool)
        assert self._heard is not None
        return self._heard.on[:, self._heard.column[key]]

    def rows(self, key: str) -> NDArray[np.intp]:
        """The tracks (rows) that word ``key`` is on for."""
        if self.words[key].from_files:
            return self._rows[key]
        return np.flatnonzero(self.on(key))

    def share(self, key: str) -> float:
        """The fraction of the library that word ``key`` is on for."""
        return float(len(self.rows(key))) / max(self.n_tracks, 1)

    def opposites(self, key: str) -> set[str]:
        """The words a name holding ``key`` must not hold: the other end of a descriptor pair,
        and the pairs of :data:`musicorg.model.autotags.OPPOSITES` (by label)."""
        word = self.words[key]
        out: set[str] = set()
        for low, high, _recipe in DESCRIPTORS:
            if word.key == f"{DESCRIPTOR}:{low}":
                out.add(f"{DESCRIPTOR}:{high}")
            elif word.key == f"{DESCRIPTOR}:{high}":
                out.add(f"{DESCRIPTOR}:{low}")
        if word.kind not in FILE_KINDS:
            if self._heard_labels is None:
                self._heard_labels = {
                    w.label.casefold(): k for k, w in self.words.items() if not w.from_files
                }
            for other in autotags.opposites_of(word.label):
                found = self._heard_labels.get(other.casefold())
                if found is not None:
                    out.add(found)
        return {k for k in out if k in self.words}

    def _descriptor_score(self, label: str) -> NDArray[np.float32]:
        low, high, recipe = _PAIR_OF[label]
        key = f"{DESCRIPTOR}:{high}"
        high_score = self._cache.get(key)
        if high_score is None:
            total = np.zeros(self.n_tracks, dtype=np.float32)
            weights = 0.0
            for signal, weight in recipe:
                if signal in self._signals:
                    rank = library_rank(self._signals[signal])
                elif signal in self.words:
                    rank = self.score(signal)
                else:
                    continue
                total += abs(weight) * (rank if weight > 0 else 1.0 - rank)
                weights += abs(weight)
            high_score = total / weights
            self._cache[key] = high_score
        if label == high:
            return high_score
        low_key = f"{DESCRIPTOR}:{low}"
        if low_key not in self._cache:
            self._cache[low_key] = (1.0 - high_score).astype(np.float32)
        return self._cache[low_key]

    # -- phrases and queries -------------------------------------------------------------

    def lookup(self, phrase: str) -> Sense | None:
        """What ``phrase`` means here (its words and their weights), or None. An artist's name
        counts only when it means nothing else."""
        key = match_key(phrase)
        found = self._phrases.get(key) or self._phrases.get(key.replace(" ", ""))
        if found:
            return tuple(found.items())
        artist = self._artist_phrases.get(key) or self._artist_phrases.get(key.replace(" ", ""))
        return ((artist, 1.0),) if artist else None

    def parse(self, text: str) -> Query:
        """The terms of ``text`` (longest phrases first), its negations, and what is unknown."""
        tokens = list(_tokens(text))
        terms: list[Term] = []
        unknown: list[list[str]] = []
        negated = False
        last_unknown = -2  # the token index of the last unknown word
        i = 0
        while i < len(tokens):
            word, negative = tokens[i]
            negated = negated or negative
            found = self._longest(tokens, i)
            if found is not None:
                length, sense = found
                phrase = " ".join(t for t, _n in tokens[i : i + length])
                terms.append(Term(phrase, sense, negated))
                negated = False
                i += length
                continue
            if word in NEGATIONS:
                negated = True
            elif word not in FILLER:
                if last_unknown == i - 1:
                    unknown[-1].append(word)
                else:
                    unknown.append([word])
                last_unknown = i
                negated = False
            i += 1
        return Query(text, terms, [" ".join(u) for u in unknown])

    def _longest(self, tokens: list[tuple[str, bool]], start: int) -> tuple[int, Sense] | None:
        for length in range(min(MAX_PHRASE, len(tokens) - start), 0, -1):
            words = [t for t, _n in tokens[start : start + length]]
            if any(n for _t, n in tokens[start + 1 : start + length]):
                continue  # "-" inside: two terms
            sense = self.lookup(" ".join(words))
            if sense is None and length == 1 and _plural(words[0]):
                sense = self.lookup(words[0][:-1])
            if sense is not None:
                return length, sense
        return None

    def term_score(self, sense: Sense) -> NDArray[np.float32]:
        """(N,) in [0, 1]: how well each track fits a sense. The heard and measured words give
        their weighted mean (a negative weight counts ``1 - score``); a word of the files (a
        genre tag, an artist, a decade) that a track has lifts it to at least
        :data:`FILE_FLOOR`, above every track without it: the user's own tags come first,
        ordered among themselves by what is heard. A sense of file words only scores 0 or 1.
        """
        graded = np.zeros(self.n_tracks, dtype=np.float32)
        total = 0.0
        has_file = np.zeros(self.n_tracks, dtype=bool)
        any_file = False
        for key, weight in sense:
            if key not in self.words:
                continue
            if self.words[key].from_files:
                has_file[self._rows[key]] = True
                any_file = True
                continue
            s = self.score(key)
            graded += abs(weight) * (s if weight > 0 else 1.0 - s)
            total += abs(weight)
        if total == 0:
            return has_file.astype(np.float32)
        graded /= total
        if not any_file:
            return graded
        return np.where(
            has_file, FILE_FLOOR + (1 - FILE_FLOOR) * graded, FILE_FLOOR * graded
        ).astype(np.float32)


def _heard_key(word: autotags.Word) -> str:
    return f"heard:{word.label.casefold()}"


#: Each heard word's MusiCNN tags, which are phrases for it too ("chillout", "electronica").
_HEARD_TAGS: Final = {_heard_key(w): w.tags for w in autotags.WORDS}


def _add_phrase(phrases: dict[str, dict[str, float]], key: str, sense: Mapping[str, float]) -> None:
    if not key:
        return
    for form in {key, key.replace(" ", "")}:
        if len(form) < 2 or (form != key and len(form) < 4):
            continue
        merged = phrases.setdefault(form, {})
        for k, w in sense.items():
            merged[k] = max(merged.get(k, w), w)


def _file_words(facts: TrackFacts, words: dict[str, Word], rows: dict[str, list[int]]) -> None:
    """Genre, artist and decade words, and the tracks that have each (a tag value is parsed
    once however many tracks share it)."""
    genre_cache: dict[str, list[tuple[str, str]]] = {}
    artist_cache: dict[str, str] = {}
    displays: dict[str, dict[str, int]] = {}
    for i in range(len(facts)):
        tag = facts.genres[i]
        seen: set[str] = set()
        if tag:
            parsed = genre_cache.get(tag)
            if parsed is None:
                parsed = genre_cache[tag] = genre_keys(tag)
            for key, display in parsed:
                seen.add(_note(displays, f"{GENRE}:{key}", display))
        artist = facts.artists[i]
        akey = ""
        if artist:
            akey = artist_cache.get(artist, "")
            if not akey:
                akey = artist_cache[artist] = normalise(artist)
        if artist and akey:
            seen.add(_note(displays, f"{ARTIST}:{akey}", " ".join(artist.split())))
        dec = decade(facts.years[i])
        if dec:
            seen.add(_note(displays, f"{DECADE}:{dec}", dec))
        for key in seen:
            rows.setdefault(key, []).append(i)
    for key, forms in displays.items():
        kind = key.split(":", 1)[0]
        best = sorted(forms.items(), key=lambda kv: (-kv[1], kv[0] == kv[0].lower(), kv[0]))[0][0]
        if kind == GENRE and best.islower():
            best = best[:1].upper() + best[1:]
        words[key] = Word(key, best, kind)


def _note(displays: dict[str, dict[str, int]], key: str, display: str) -> str:
    forms = displays.setdefault(key, {})
    forms[display] = forms.get(display, 0) + 1
    return key


def _heard_words(facts: TrackFacts, words: dict[str, Word]) -> _Heard | None:
    """The heard words (all of them when the library has tag probabilities)."""
    if facts.tag_probs is None or len(facts.tag_probs) != len(facts):
        return None
    on, value = autotags.word_matrix(
        facts.tag_probs, names=facts.tag_names, cutoffs=facts.tag_cutoffs
    )
    names = list(facts.tag_names) if facts.tag_names is not None else list(autotags.tag_names())
    probs = np.asarray(facts.tag_probs, dtype=np.float32).reshape(-1, len(names))
    column: dict[str, int] = {}
    for w, (heard, cols) in enumerate(
        zip(autotags.WORDS, autotags.word_columns(names), strict=True)
    ):
        if not cols:
            continue
        key = _heard_key(heard)
        words[key] = Word(key, heard.label, heard.kind or HEARD)
        column[key] = w
        # The score ranks the highest probability of the word's tags (word_matrix keeps the
        # highest of those that are on, which ranks a track with one weak tag on above one
        # with a strong tag just under its threshold).
        with np.errstate(invalid="ignore"):
            value[:, w] = probs[:, cols].max(axis=1)
    return _Heard(value, on, column)


def _tokens(text: str) -> Iterator[tuple[str, bool]]:
    """(word, negated by a leading "-") of a query, in match form ("Hip-Hop" → "hip", "hop")."""
    for raw in _TOKENS.findall(unicodedata.normalize("NFKC", text)):
        negative = raw.startswith("-") and len(raw) > 1
        parts = match_key(raw.lstrip("-")).split()
        for j, part in enumerate(parts):
            yield part, negative and j == 0


def _plural(word: str) -> bool:
    return len(word) > 3 and word.endswith("s") and not word[:-1].isdigit()
