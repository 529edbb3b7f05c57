"""What the window asks of the library besides the pipeline: its one-go read of everything it
shows, "more like this" and song paths, M3U export and import, renaming and pinning automatic
playlists, and the playlist mirror after a rebuild.

The GUI calls these, never a stage module: they are the stages' own functions, with the
window's defaults. Reads of the store that need no stage (user playlist edits, track details)
the GUI makes itself.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musicorg.io import m3u, mirror
from musicorg.io.m3u import ExportPlan, ExportReport, ImportReport
from musicorg.io.mirror import RestoreReport
from musicorg.organise import ask, foryou, mapping, similar, songpath
from musicorg.organise.ask import AskIndex, AskResult
from musicorg.organise.foryou import ForYouResult
from musicorg.organise.similar import SimilarError, SimilarResult, Space
from musicorg.organise.songpath import PathResult
from musicorg.store import autolists, library, safety
from musicorg.store.db import Catalogue
from musicorg.store.vectors import active_model_version

__all__ = [
    "AskIndex",
    "AskResult",
    "ExportPlan",
    "ExportReport",
    "ForYouResult",
    "ImportReport",
    "LibraryRead",
    "MapValues",
    "PathResult",
    "PlaylistEntry",
    "RestoreReport",
    "SimilarError",
    "SimilarResult",
    "Space",
]

# -- the window's read -----------------------------------------------------------------------


@dataclass
class PlaylistEntry:
    """A playlist as the sidebar shows it."""

    id: int
    name: str
    kind: str  # keys.AUTO or keys.USER
    group_name: str | None
    pinned: bool
    track_ids: list[int]

    @property
    def size(self) -> int:
        return len(self.track_ids)


def playlists(cat: Catalogue) -> list[PlaylistEntry]:
    """The automatic playlists of the active model by group, then the user's."""
    # lazy: the clustering behind organise.playlists loads scipy (0.2 s of the window's start-up)
    from musicorg.organise.playlists import list_playlists

    return [
        PlaylistEntry(p.id, p.name, p.kind, p.group_name, p.pinned, list(p.track_ids))
        for p in list_playlists(cat, include_user=True)
    ]


def map_coordinates(
    cat: Catalogue, version: str | None, method: str
) -> tuple[list[int], np.ndarray]:
    """Track ids on the ``method`` map of ``version`` (missing tracks included: the window
    greys them) and their (N, 2) coordinates; none before any analysis."""
    if version is None:
        return [], np.zeros((0, 2), np.float32)
    return mapping.load_map(cat, version, method, include_missing=True)


@dataclass
class LibraryRead:
    """Everything the window shows, read in one go."""

    tracks: library.TrackColumns
    model_version: str | None
    playlists: list[PlaylistEntry]
    #: Track ids in the automatic playlists of the active model, and the group of each.
    groups: tuple[list[int], list[str]]
    #: Track ids on the map and their (N, 2) coordinates.
    map: tuple[list[int], np.ndarray]
    problems: list[library.ProblemRow]
    stats: dict[str, Any]


def read_library(cat: Catalogue, map_method: str = "umap") -> LibraryRead:
    """The window's read (call it off the UI thread). The map is the ``map_method`` one when
    there is one, else the PCA one."""
    version = active_model_version(cat)
    coords = map_coordinates(cat, version, map_method)
    if not coords[0] and map_method != "pca":
        coords = map_coordinates(cat, version, "pca")
    return LibraryRead(
        tracks=library.track_columns(cat),
        model_version=version,
        playlists=playlists(cat),
        groups=library.auto_playlist_groups(cat, version),
        map=coords,
        problems=library.problems(cat),
        stats=library.stats(cat),
    )


# -- more like this, song paths --------------------------------------------------------------


def similar_space(cat: Catalogue) -> Space:
    """The latent space of the active model (kept by the window between requests). Raises
    ``SimilarError`` before any analysis."""
    return similar.load_space(cat)


#: How much the tracks to move away from weigh in a mix, unless said otherwise (0 to 1).
MINUS_WEIGHT = similar.MINUS_WEIGHT


def more_like_this(
    cat: Catalogue,
    seeds: list[int],
    n: int,
    space: Space,
    *,
    minus: list[int] | None = None,
    minus_weight: float = similar.MINUS_WEIGHT,
) -> SimilarResult:
    """The tracks nearest to the seeds; with ``minus`` seeds, nearest to the mix that moves
    away from them (alchemy). ``SimilarError`` (one line) when it cannot be answered."""
    return similar.similar(
        cat, seeds, n=n, space=space, minus=minus or (), minus_weight=minus_weight
    )


def ask_index(cat: Catalogue) -> AskIndex:
    """What a query in words reads of the active model's library (keep it between queries,
    like the space; read it again after an analysis). ``SimilarError`` before any analysis."""
    return ask.load_index(cat)


def ask_in_words(cat: Catalogue, text: str, n: int, index: AskIndex) -> AskResult:
    """The ``n`` tracks that best fit ``text``, each with why; ``result.unknown`` names the
    words not understood. ``SimilarError`` (an ``AskError``) when no word is understood."""
    return ask.ask(cat, text, n=n, index=index)


def for_you(cat: Catalogue, n: int, space: Space) -> ForYouResult:
    """The "for you" playlist from the recorded plays (computed afresh on each call);
    ``SimilarError`` (a ``ForYouError``) with no plays yet."""
    return foryou.for_you(cat, n=n, space=space)


# -- colouring the map by a word or a measure ------------------------------------------------

#: What the map can be coloured by besides a word: the measured descriptors, with their units.
MEASURES: dict[str, str] = {"tempo": "BPM", "brightness": "Hz", "energy": "dBFS"}
#: The kinds of word offered for colouring (not artists: too many, and 0 or 1 for one track).
COLOUR_KINDS = ("style", "mood", "sound", "era", "heard", "descriptor", "genre", "decade")


@dataclass
class MapValues:
    """One number per track for colouring the map: NaN where a track has none."""

    track_ids: np.ndarray  # int64
    values: np.ndarray  # float64
    label: str  # "Jazz (heard, probability)", "Tempo"
    unit: str  # "BPM", "" for a score


def colour_words(index: AskIndex) -> list[tuple[str, str]]:
    """The words of the library the map can be coloured by: (word key, label), heard words
    first, then the descriptors, the genres and the decades of the files' tags."""
    vocab = index.vocab
    order = {kind: i for i, kind in enumerate(COLOUR_KINDS)}
    keys = vocab.keys(COLOUR_KINDS)
    keys.sort(key=lambda k: (order[vocab.words[k].kind], vocab.words[k].label.casefold()))
    return [(k, vocab.words[k].label) for k in keys]


def word_scores(index: AskIndex, word: str) -> MapValues:
    """Per track of ``index``, how much ``word`` (a key of :func:`colour_words`) is true: a
    heard word's probability (NaN without tags), else its score from 0 to 1 (a file tag 0 or
    1, a descriptor the track's place in the library). KeyError for a word it lacks."""
    vocab = index.vocab
    found = vocab.words[word]
    if found.kind in ("style", "mood", "sound", "era", "heard"):
        values = np.asarray(vocab.heard_value(word), dtype=np.float64)
        label = f"{found.label} (heard, probability)"
    else:
        values = np.asarray(vocab.score(word), dtype=np.float64)
        label = f"{found.label} (score)"
    return MapValues(index.track_ids.copy(), values, label, "")


def measure_values(cat: Catalogue) -> dict[str, MapValues]:
    """Tempo (BPM), brightness (spectral centroid, Hz) and energy (RMS in dBFS) of the active
    model's tracks, from their analysis (NaN where there is none); empty before any."""
    version = active_model_version(cat)
    if version is None:
        return {}
    lib = autolists.library(cat, version)
    ids = np.asarray(lib.track_ids, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        energy = 20 * np.log10(np.where(lib.energy > 0, lib.energy, np.nan))
    values = {"tempo": lib.tempo, "brightness": lib.brightness, "energy": energy}
    return {
        name: MapValues(ids, np.asarray(v, dtype=np.float64), name.capitalize(), MEASURES[name])
        for name, v in values.items()
    }


def song_path(cat: Catalogue, a: int, b: int, n: int, space: Space) -> PathResult:
    return songpath.song_path(cat, a, b, n, space=space)


# -- automatic playlists ---------------------------------------------------------------------


def rename_auto_playlist(cat: Catalogue, playlist_id: int, name: str) -> None:
    # lazy: organise.playlists loads scipy (0.2 s of the window's start-up)
    from musicorg.organise.playlists import rename_playlist

    rename_playlist(cat, playlist_id, name)


def pin_auto_playlist(cat: Catalogue, playlist_id: int, pinned: bool) -> None:
    # lazy: organise.playlists loads scipy (0.2 s of the window's start-up)
    from musicorg.organise.playlists import pin_playlist

    pin_playlist(cat, playlist_id, pinned)


# -- M3U -------------------------------------------------------------------------------------


def plan_export(cat: Catalogue, folder: str, ids: list[int]) -> ExportPlan:
    """What exporting the playlists ``ids`` into ``folder`` would write, replace and remove
    (call it off the UI thread: it looks at the folder)."""
    return m3u.plan_export(cat, folder, ids=ids)


def export_playlists(
    cat: Catalogue,
    folder: str,
    *,
    absolute: bool,
    names: list[str] | None = None,
    ids: list[int] | None = None,
) -> ExportReport:
    """One ``.m3u8`` per playlist (those in ``names`` or ``ids``; all with neither) into
    ``folder``; the files musicorg wrote there for them under older names go."""
    return m3u.export_playlists(cat, folder, absolute=absolute, names=names, ids=ids)


def import_playlist(cat: Catalogue, file: str) -> ImportReport:
    return m3u.import_playlist(cat, file)


# -- a damaged catalogue ---------------------------------------------------------------------


def set_aside_for_rebuild(db: Path) -> Path | None:
    """Set a damaged catalogue aside so that a scan rebuilds it, after copying its playlist
    mirror (the rebuilt catalogue writes a new one). Returns that copy (None: no mirror)."""
    source = db.with_name(db.stem + ".playlists")
    saved: Path | None = None
    if (source / "playlists.json").exists():
        saved = db.with_name(f"{db.stem}.playlists-before-rebuild-{int(time.time())}")
        shutil.copytree(source, saved)
    safety.set_aside(db)
    return saved


def restore_mirror(cat: Catalogue, source: Path) -> RestoreReport:
    """The playlists of a mirror copied by :func:`set_aside_for_rebuild`, back in ``cat``."""
    return mirror.restore(cat, source)
