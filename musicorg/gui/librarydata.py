"""What the window shows of a library, per row of its snapshot: built from the app layer's
one-go read (:func:`musicorg.app.actions.read_library`), off the UI thread. No Qt here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musicorg.app import actions, pipeline
from musicorg.gui.snapshot import Snapshot
from musicorg.store import duplicates, plays
from musicorg.store.db import Catalogue
from musicorg.store.library import ProblemRow


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
    ids = np.asarray(track_ids, dtype=np.int64)
    known = np.isin(ids, snap.ids)
    return snap.rows_of(ids[known]), known


def groups_per_row(snap: Snapshot, track_ids: list[int], names: list[str]) -> np.ndarray | None:
    """The group of each snapshot row ("" for none) from track ids and their groups; None when
    no track has one."""
    if not track_ids:
        return None
    rows, known = _rows(snap, track_ids)
    groups = np.full(len(snap), "", dtype=object)
    groups[rows] = np.asarray(names, dtype=object)[known]
    out: np.ndarray = groups.astype(np.str_)
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


def load_library(cat: Catalogue, map_method: str = "umap") -> LibraryData:
    """Everything the window shows, read in one go (call off the UI thread)."""
    read = actions.read_library(cat, map_method)
    pipeline.load_scan_stage()  # here, off the UI thread, before a scan needs it
    snap = Snapshot.build(read.tracks)
    snap.set_plays(plays.stats(cat))
    snap.set_duplicates(duplicates.same_audio(cat))
    return LibraryData(
        snap=snap,
        model_version=read.model_version,
        playlists=read.playlists,
        groups=groups_per_row(snap, *read.groups),
        xy=xy_per_row(snap, *read.map),
        problems=read.problems,
        stats=read.stats,
    )
