"""What the window shows of a library, per row of its snapshot: built from the app layer's
one-go read (:func:`musicorg.app.actions.read_library`), off the UI thread. No Qt calls here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musicorg.app import actions, pipeline
from musicorg.gui.snapshot import COLUMNS, Snapshot, in_slices
from musicorg.jobs import paused
from musicorg.store import duplicates, plays
from musicorg.store.db import Catalogue, drop_rows
from musicorg.store.library import ProblemRow

#: From this many tracks on, the load ranks every column of the table ahead: at a million, the
#: first sort by the artist or the file took 2-4 s on the UI thread. numpy sorts text without
#: holding the GIL, so the window runs on meanwhile; a smaller library ranks a column when it
#: is first sorted by, as before.
RANK_AHEAD = 200_000
#: Rows one numpy call of the load takes at a time (see :func:`~musicorg.gui.snapshot.in_slices`).
_SLICE = 100_000


@dataclass
class LibraryData:
    snap: Snapshot
    model_version: str | None = None
    playlists: list[actions.PlaylistEntry] = field(default_factory=list)
    groups: np.ndarray | None = None  # str per snapshot row ("" = none)
    xy: np.ndarray | None = None  # (N, 2) per snapshot row, NaN = not on the map
    problems: list[ProblemRow] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    #: Each playlist's id, name, size and a hash of its tracks (what its explanation depends
    #: on), made by the load: at a million tracks, hashing every playlist's tracks took
    #: 20 ms of the UI thread as the read was shown. None: not made (the window makes it).
    playlist_keys: tuple[tuple[int, str, int, int], ...] | None = None

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
    coords, picked = np.asarray(xy).reshape(-1, 2), np.flatnonzero(known)
    for lo in paused(range(0, len(rows), _SLICE)):  # a slice at a time
        out[rows[lo : lo + _SLICE]] = coords[picked[lo : lo + _SLICE]]
    return out


def playlist_keys(
    playlists: list[actions.PlaylistEntry],
) -> tuple[tuple[int, str, int, int], ...]:
    """Each playlist's id, name, size and a hash of its tracks (see ``LibraryData``)."""
    return tuple((p.id, p.name, p.size, hash(tuple(p.track_ids))) for p in playlists)


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
        for key, _header in paused(COLUMNS):
            snap.order(key)
    data = LibraryData(
        snap=snap,
        model_version=read.model_version,
        playlists=read.playlists,
        groups=groups_per_row(snap, *read.groups),
        xy=xy_per_row(snap, *read.map),
        problems=read.problems,
        stats=read.stats,
        playlist_keys=playlist_keys(read.playlists),
    )
    # The read's columns, used up, let go of a slice at a time: a million tracks' lists (some
    # ten million strings and numbers) freed at once as this returned held the GIL, and
    # stalled the window, for ~0.3 s.
    for column in (*vars(read.tracks).values(), *read.groups, read.map[0]):
        if isinstance(column, list):
            drop_rows(column)
    return data
