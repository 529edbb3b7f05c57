"""Tags heard in the audio: MusiCNN's 50 tag probabilities as words people can read.

The analysis stores, per track, the probabilities of MusiCNN's 50 Last.fm tags (float32 bytes
in ``analyses.tags``; their names, in output order, are ``musicnn_tags.json`` beside the
weights). A tag is *on* for a track when its probability reaches that tag's threshold, read
from ``tag_thresholds.json`` in the same folder (written by ``training/calibrate_tags.py``,
which says how each threshold was chosen).

The tags are grouped into :data:`WORDS`: each word has one label, shown in the details pane, by
``musicorg tracks`` and in playlist names, and is on when any of its tags is on. Near-duplicate
tags are one word ("female vocalist" and "female vocalists"; "chill" and "chillout"). Each
word has a *kind*, which decides where it may stand in a playlist name (see
:mod:`musicorg.organise.naming`):

- ``style`` — a genre heard in the audio ("Jazz", "Hip-Hop"); capitalised like a genre tag of
  the files, which still comes first in a name;
- ``mood`` — "mellow", "chill", "happy", "sad", "party", "easy listening";
- ``sound`` — "instrumental", "female vocalists", "male vocalists", "acoustic";
- ``era`` — "60s" … "90s", "00s" (the sound of a decade, not the year tag);
- ``None`` — shown in the details only, never in a name: words that say nothing about a
  playlist ("beautiful", "sexy", "catchy", "experimental", "guitar", "oldies").

:data:`OPPOSITES` are pairs of words a name never holds together ("instrumental" and "female
vocalists", "happy" and "sad"); the pairs may name an audio descriptor of
:mod:`musicorg.organise.naming` too ("mellow" and "energetic").
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from musicorg import paths

log = logging.getLogger(__name__)

N_TAGS: Final = 50
TAGS_NAME: Final = "musicnn_tags.json"
THRESHOLDS_NAME: Final = "tag_thresholds.json"
# Used for a tag that the thresholds file does not list (or when the file is missing): high
# enough that such a tag is rarely on.
DEFAULT_THRESHOLD: Final = 0.5
# At most this many tags are shown for a track (details pane, ``musicorg tracks --json``).
TOP_TAGS: Final = 5

STYLE, MOOD, SOUND, ERA = "style", "mood", "sound", "era"
KINDS: Final = (STYLE, MOOD, SOUND, ERA)


@dataclass(frozen=True)
class Word:
    """A word said of tracks: its label, its kind (``None``: never in a name) and the MusiCNN
    tags that say it (the first is the canonical one, used in JSON)."""

    label: str
    kind: str | None
    tags: tuple[str, ...]

    @property
    def tag(self) -> str:
        return self.tags[0]


# Every MusiCNN tag, exactly once (a test checks it against musicnn_tags.json).
WORDS: Final[tuple[Word, ...]] = (
    # Genres heard in the audio. "alternative rock", "indie rock", "indie pop", "electronica",
    # "electro" and "heavy metal" are near-duplicates of a broader tag in Last.fm's use and
    # join it; the other sub-genres are distinct enough to stand alone.
    Word("Rock", STYLE, ("rock",)),
    Word("Pop", STYLE, ("pop",)),
    Word("Alternative", STYLE, ("alternative", "alternative rock")),
    Word("Indie", STYLE, ("indie", "indie rock", "indie pop")),
    Word("Electronic", STYLE, ("electronic", "electronica", "electro")),
    Word("Dance", STYLE, ("dance",)),
    Word("House", STYLE, ("House",)),
    Word("Jazz", STYLE, ("jazz",)),
    Word("Metal", STYLE, ("metal", "heavy metal")),
    Word("Classic Rock", STYLE, ("classic rock",)),
    Word("Hard Rock", STYLE, ("hard rock",)),
    Word("Progressive Rock", STYLE, ("Progressive rock",)),
    Word("Punk", STYLE, ("punk",)),
    Word("Soul", STYLE, ("soul",)),
    Word("R&B", STYLE, ("rnb",)),
    Word("Funk", STYLE, ("funk",)),
    Word("Blues", STYLE, ("blues",)),
    Word("Folk", STYLE, ("folk",)),
    Word("Country", STYLE, ("country",)),
    Word("Hip-Hop", STYLE, ("Hip-Hop",)),
    Word("Ambient", STYLE, ("ambient",)),
    # Moods: lower case, like the audio descriptors ("calm", "fast").
    Word("mellow", MOOD, ("Mellow",)),
    Word("chill", MOOD, ("chill", "chillout")),
    Word("easy listening", MOOD, ("easy listening",)),
    Word("happy", MOOD, ("happy",)),
    Word("sad", MOOD, ("sad",)),
    Word("party", MOOD, ("party",)),
    # Voices and instruments.
    Word("instrumental", SOUND, ("instrumental",)),
    Word("female vocalists", SOUND, ("female vocalists", "female vocalist")),
    Word("male vocalists", SOUND, ("male vocalists",)),
    Word("acoustic", SOUND, ("acoustic",)),
    # Eras: the tag's own spelling, so that they do not read as the year tag's "1980s".
    Word("60s", ERA, ("60s",)),
    Word("70s", ERA, ("70s",)),
    Word("80s", ERA, ("80s",)),
    Word("90s", ERA, ("90s",)),
    Word("00s", ERA, ("00s",)),
    # Shown in the details, never in a name: praise ("beautiful", "sexy", "catchy"), a
    # catch-all ("experimental"), an instrument nearly everything has ("guitar") and an era
    # too vague beside the decades ("oldies").
    Word("beautiful", None, ("beautiful",)),
    Word("sexy", None, ("sexy",)),
    Word("catchy", None, ("catchy",)),
    Word("experimental", None, ("experimental",)),
    Word("guitar", None, ("guitar",)),
    Word("oldies", None, ("oldies",)),
)

# Words a name never says together (labels; "energetic", "calm", "slow" and "fast" are audio
# descriptors).
OPPOSITES: Final[tuple[tuple[str, str], ...]] = (
    ("instrumental", "female vocalists"),
    ("instrumental", "male vocalists"),
    ("happy", "sad"),
    ("party", "sad"),
    ("party", "mellow"),
    ("party", "calm"),
    ("mellow", "energetic"),
    ("chill", "energetic"),
    ("mellow", "fast"),
    ("chill", "fast"),
    ("party", "slow"),
    ("acoustic", "Electronic"),
)


def opposites_of(label: str) -> set[str]:
    """The labels a name holding ``label`` must not hold (case-insensitive)."""
    key = label.casefold()
    out: set[str] = set()
    for a, b in OPPOSITES:
        if a.casefold() == key:
            out.add(b)
        elif b.casefold() == key:
            out.add(a)
    return out


def default_dir() -> Path:
    return paths.models_dir() / "musicnn"


@functools.lru_cache(maxsize=8)
def _tag_names(directory: Path) -> tuple[str, ...]:
    names = json.loads((directory / TAGS_NAME).read_text(encoding="utf-8"))
    if not isinstance(names, list) or len(names) != N_TAGS:
        raise ValueError(f"{directory / TAGS_NAME}: expected a list of {N_TAGS} tag names")
    return tuple(str(n) for n in names)


def tag_names(directory: Path | None = None) -> tuple[str, ...]:
    """MusiCNN's tag names, in the order of its outputs."""
    return _tag_names(directory or default_dir())


@functools.lru_cache(maxsize=8)
def _thresholds(directory: Path) -> Mapping[str, float]:
    path = directory / THRESHOLDS_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        raw = data["thresholds"]
        return {str(k): float(v) for k, v in raw.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("tag thresholds unreadable (%s): every tag uses %s", exc, DEFAULT_THRESHOLD)
        return {}


def thresholds(directory: Path | None = None) -> dict[str, float]:
    """Each tag's threshold (every tag of :func:`tag_names`; a missing one gets
    :data:`DEFAULT_THRESHOLD`)."""
    directory = directory or default_dir()
    known = _thresholds(directory)
    return {name: float(known.get(name, DEFAULT_THRESHOLD)) for name in tag_names(directory)}


def decode(blob: bytes | None) -> NDArray[np.float32] | None:
    """The 50 probabilities stored in ``analyses.tags``, or None (no tags, or a damaged row)."""
    if not blob or len(blob) != 4 * N_TAGS:
        return None
    probs = np.frombuffer(blob, dtype=np.float32)
    return probs if bool(np.isfinite(probs).all()) else None


def word_columns(names: Sequence[str] | None = None) -> list[list[int]]:
    """Per word of :data:`WORDS`, the columns of its tags in MusiCNN's output."""
    names = list(names) if names is not None else list(tag_names())
    index = {n: i for i, n in enumerate(names)}
    return [[index[t] for t in w.tags if t in index] for w in WORDS]


def word_matrix(
    probs: NDArray[np.floating[Any]],
    *,
    names: Sequence[str] | None = None,
    cutoffs: Mapping[str, float] | None = None,
) -> tuple[NDArray[np.bool_], NDArray[np.float32]]:
    """For tag probabilities ``probs`` (N × 50; a row of NaN for a track without tags): which
    words of :data:`WORDS` are on (N × W bool: any of the word's tags at or above its
    threshold) and each word's probability (N × W: the highest of its tags that are on, else of
    all its tags; NaN without tags)."""
    names = list(names) if names is not None else list(tag_names())
    cut = cutoffs if cutoffs is not None else thresholds()
    p = np.asarray(probs, dtype=np.float32).reshape(-1, len(names))
    limit = np.array([cut.get(n, DEFAULT_THRESHOLD) for n in names], dtype=np.float32)
    with np.errstate(invalid="ignore"):
        tag_on = p >= limit  # NaN compares False
    n = p.shape[0]
    on = np.zeros((n, len(WORDS)), dtype=bool)
    value = np.full((n, len(WORDS)), np.nan, dtype=np.float32)
    for w, cols in enumerate(word_columns(names)):
        if not cols:
            continue
        sub_on = tag_on[:, cols]
        sub = p[:, cols]
        on[:, w] = sub_on.any(axis=1)
        with np.errstate(invalid="ignore"):
            best_on = np.where(sub_on, sub, -np.inf).max(axis=1)
            best_any = sub.max(axis=1)
        value[:, w] = np.where(on[:, w], best_on, best_any)
    return on, value


@dataclass(frozen=True)
class TagScore:
    """One word said of a track, with its probability."""

    tag: str  # MusiCNN's canonical tag name ("female vocalists")
    label: str  # the word shown ("female vocalists", "Jazz", "mellow")
    probability: float

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["probability"] = round(self.probability, 4)
        return d

    @property
    def shown(self) -> str:
        """The probability as shown: two decimals, or two significant digits under 0.1 (a
        rare tag is on at a few thousandths: "happy 0.0041", not "happy 0.00")."""
        p = self.probability
        return f"{p:.2f}" if p >= 0.095 else f"{p:.2g}"


def top_tags(
    probs: NDArray[np.floating[Any]] | None,
    *,
    limit: int = TOP_TAGS,
    names: Sequence[str] | None = None,
    cutoffs: Mapping[str, float] | None = None,
) -> list[TagScore]:
    """The words that are on for one track (50 probabilities), most probable first, at most
    ``limit``; none when the track has no tags."""
    if probs is None:
        return []
    return top_tags_of_rows(
        np.asarray(probs).reshape(1, -1), limit=limit, names=names, cutoffs=cutoffs
    )[0]


def top_tags_of_rows(
    probs: NDArray[np.floating[Any]],
    *,
    limit: int = TOP_TAGS,
    names: Sequence[str] | None = None,
    cutoffs: Mapping[str, float] | None = None,
) -> list[list[TagScore]]:
    """:func:`top_tags` of every row of ``probs`` (N × 50; a NaN row: no tags), in one pass."""
    on, value = word_matrix(probs, names=names, cutoffs=cutoffs)
    out: list[list[TagScore]] = []
    for row_on, row_value in zip(on, value, strict=True):
        found = [
            TagScore(WORDS[i].tag, WORDS[i].label, float(row_value[i]))
            for i in np.flatnonzero(row_on)
        ]
        found.sort(key=lambda s: (-s.probability, s.label))
        out.append(found[:limit])
    return out


def describe(
    scores: Sequence[TagScore], *, probabilities: bool = True, unbreakable: bool = False
) -> str:
    """``"Jazz 0.62 · instrumental 0.41 · mellow 0.33"`` (or the labels alone).
    ``unbreakable``: no line break inside a tag or before a "·" (no-break spaces there)."""
    space = "\u00a0" if unbreakable else " "
    parts = [f"{s.label} {s.shown}" if probabilities else s.label for s in scores]
    return f"{space}· ".join(part.replace(" ", space) for part in parts)
