"""What the window shows of a library, per row of its snapshot: built from the app layer's
one-go read (:func:`musicorg.app.actions.read_library`), off the UI thread. No Qt calls here."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musicorg.app import actions, pipeline
from musicorg.gui.snapshot import COLUMNS, Snapshot, in_slices
from musicorg.store import duplicates, plays
from musicorg.store.db import Catalogue
from musicorg.store.library import ProblemRow

#: From this many tracks on, the load ranks every column of the table ahead: at a million, the
#: first sort by the artist or the file took 2-4 s on the UI thread. numpy sorts text without
#: holding the GIL, so the window runs on meanwhile; a smaller library ranks a column when it
#: is first sorted by, as before.
RANK_AHEAD = 200_000


@dataclass
class LibraryData:
    snap: Snapshot
    model_version: str | None = None
    playlists: list[actions.PlaylistEntry] = field(default_factory=list)
    groups: np.ndarray | None = None  # str per snapshot row ("" = none)
    xy: np.ndarray | None = None  # (N, 2) per snapshot row, NaN = not on the map
    problems: list[ProblemRow] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> LibraryData:
        return cls(snap=Snapshot.empty())


def _rows(snap: Snapshot, track_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The snapshot rows of those track ids that it has, and a mask of which ids those are."""
    return snap.find(track_ids)


def groups_per_row(snap: Snapshot, track_ids: list[int], names: list[str]) -> np.ndarray | None:
    """The group of each snapshot row ("" for none) from track ids and their groups; None when
    no track has one. The few names are numbered first, so that no numpy call converts a
    million strings at once."""
    if not track_ids:
        return None
    rows, known = _rows(snap, track_ids)
    number: dict[str, int] = {"": 0}
    codes = np.fromiter(
        (number.setdefault(name, len(number)) for name in names), dtype=np.int64, count=len(names)
    )
    per_row = np.zeros(len(snap), dtype=np.int64)
    per_row[rows] = codes[known]
    out: np.ndarray = in_slices(np.asarray(list(number), dtype=np.str_).take, per_row)
    return out


def xy_per_row(snap: Snapshot, track_ids: list[int], xy: np.ndarray) -> np.ndarray | None:
    """The map coordinates of each snapshot row (NaN where a track is not on the map) from
    track ids and their (N, 2) coordinates; None when no track is on the map."""
    if not track_ids:
        return None
    rows, known = _rows(snap, track_ids)
    out = np.full((len(snap), 2), np.nan)
    out[rows] = np.asarray(xy, dtype=np.float64).reshape(-1, 2)[known]
    return out


def load_map_modules() -> None:
    """Import the map's modules (pyqtgraph, scipy's k-d tree) now, off the UI thread: imported
    when the map was first shown, their 0.6-0.7 s of module code ran on the UI thread (a stall
    of up to 2.9 s at a million tracks, with the loading job's threads wanting the GIL)."""
    import musicorg.gui.mapview  # noqa: F401  # lazy: the window's start-up stays light


def load_library(cat: Catalogue, map_method: str = "umap") -> LibraryData:
    """Everything the window shows, read in one go (call off the UI thread)."""
    read = actions.read_library(cat, map_method)
    pipeline.load_scan_stage()  # here, off the UI thread, before a scan needs it
    load_map_modules()
    snap = Snapshot.build(read.tracks)
    snap.set_plays(plays.stats(cat))
    snap.set_duplicates(duplicates.same_audio(cat))
    if len(snap) >= RANK_AHEAD:
        for key, _header in COLUMNS:
            snap.rank(key)
            time.sleep(0)  # let the other threads run between columns
    return LibraryData(
        snap=snap,
        model_version=read.model_version,
        playlists=read.playlists,
        groups=groups_per_row(snap, *read.groups),
        xy=xy_per_row(snap, *read.map),
        problems=read.problems,
        stats=read.stats,
    )
