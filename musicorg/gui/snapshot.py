"""An in-memory column snapshot of the catalogue's tracks, for the library table and the map.

One read of the store (:func:`musicorg.store.library.track_columns`) fills one numpy array per
column, sorted by track id. Sorting and filtering then work on whole arrays (argsort of
precomputed keys, vectorised substring search on precomputed lowercase text), never with a
Python call per row, so they stay fast at 100,000 tracks. This module does not import Qt: it
is loaded off the UI thread and tested on its own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musicorg.store.library import TrackColumns
from musicorg.store.plays import PlayStats

# (key, header) of the table's columns, in order.
COLUMNS: list[tuple[str, str]] = [
    ("title", "Title"),
    ("artist", "Artist"),
    ("album", "Album"),
    ("genre", "Genre"),
    ("year", "Year"),
    ("duration", "Length"),
    ("fmt", "Format"),
    ("plays", "Plays"),
    ("last_played", "Last played"),
    ("skips", "Skips"),
    ("path", "File"),
]
TEXT_COLUMNS = ("title", "artist", "album", "genre", "fmt", "path")
#: The columns of what the player recorded (:meth:`Snapshot.set_plays` fills them).
PLAY_COLUMNS = ("plays", "last_played", "skips")
#: Columns of numbers, aligned to the right.
NUMBER_COLUMNS = ("year", "duration", "plays", "skips")


def _str_array(values: Sequence[Any]) -> np.ndarray:
    return np.array(["" if v is None else str(v) for v in values], dtype=np.str_)


@dataclass
class Snapshot:
    ids: np.ndarray  # int64, ascending
    cols: dict[str, np.ndarray]
    raw_paths: list[bytes]
    missing: np.ndarray  # bool
    has_lyrics: np.ndarray  # bool
    content_keys: np.ndarray  # str
    lower: dict[str, np.ndarray] = field(default_factory=dict)
    haystack: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.str_))
    _ranks: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def empty(cls) -> Snapshot:
        return cls.build(TrackColumns.empty())

    @classmethod
    def build(cls, tracks: TrackColumns) -> Snapshot:
        """From the columns of every track, ordered by id."""
        display = _str_array(tracks.displays)
        # A track without a title shows its file name.
        titles = [
            t or os.path.splitext(os.path.basename(str(d)))[0]
            for t, d in zip(tracks.titles, tracks.displays, strict=True)
        ]
        cols = {
            "title": _str_array(titles),
            "artist": _str_array(tracks.artists),
            "album": _str_array(tracks.albums),
            "genre": _str_array(tracks.genres),
            "year": np.array([y or 0 for y in tracks.years], dtype=np.int32),
            "duration": np.array(
                [np.nan if d is None else d for d in tracks.durations], dtype=np.float32
            ).reshape(-1),
            "fmt": _str_array(tracks.formats),
            "plays": np.zeros(len(display), dtype=np.int32),
            "last_played": np.full(len(display), np.nan, dtype=np.float64),
            "skips": np.zeros(len(display), dtype=np.int32),
            "path": display,
        }
        snap = cls(
            ids=np.asarray(tracks.ids, dtype=np.int64),
            cols=cols,
            raw_paths=[bytes(p) for p in tracks.paths],
            missing=np.asarray([bool(m) for m in tracks.missing], dtype=bool),
            content_keys=_str_array(tracks.content_keys),
            has_lyrics=np.asarray([bool(h) for h in tracks.has_lyrics], dtype=bool),
        )
        snap.lower = {k: np.strings.lower(cols[k]) for k in TEXT_COLUMNS}
        if len(snap.ids):
            sep = "\x1f"
            hay = snap.lower["title"]
            for k in ("artist", "album", "genre", "path"):
                hay = np.strings.add(np.strings.add(hay, sep), snap.lower[k])
            snap.haystack = hay
        return snap

    # --- lookups --------------------------------------------------------------------------

    def rows_of(self, track_ids: Any) -> np.ndarray:
        """Snapshot rows of the given track ids (unknown ids are dropped), in their order."""
        tid = np.asarray(list(track_ids) if not isinstance(track_ids, np.ndarray) else track_ids)
        tid = tid.astype(np.int64, copy=False).reshape(-1)
        if not len(self.ids) or not len(tid):
            return np.zeros(0, dtype=np.int64)
        pos = np.searchsorted(self.ids, tid)
        pos = np.clip(pos, 0, len(self.ids) - 1)
        ok = self.ids[pos] == tid
        out: np.ndarray = pos[ok].astype(np.int64)
        return out

    def row_of(self, track_id: int) -> int | None:
        rows = self.rows_of([track_id])
        return int(rows[0]) if len(rows) else None

    def set_plays(self, stats: Mapping[int, PlayStats]) -> None:
        """The plays, last play and skips of each track (a track not in ``stats`` was never
        played nor skipped)."""
        plays = np.zeros(len(self), dtype=np.int32)
        last = np.full(len(self), np.nan, dtype=np.float64)
        skips = np.zeros(len(self), dtype=np.int32)
        if stats and len(self):
            ids = np.fromiter(stats.keys(), dtype=np.int64, count=len(stats))
            values = list(stats.values())
            pos = np.clip(np.searchsorted(self.ids, ids), 0, len(self) - 1)
            known = self.ids[pos] == ids
            rows = pos[known]
            kept = [v for v, k in zip(values, known, strict=True) if k]
            plays[rows] = [v.play_count for v in kept]
            last[rows] = [np.nan if v.last_played is None else v.last_played for v in kept]
            skips[rows] = [v.skip_count for v in kept]
        self.cols.update(plays=plays, last_played=last, skips=skips)
        for key in PLAY_COLUMNS:
            self._ranks.pop(key, None)

    def text(self, key: str, row: int) -> str:
        value = self.cols[key][row]
        if key == "year":
            return str(int(value)) if value else ""
        if key in ("plays", "skips"):
            return str(int(value)) if value else ""
        if key == "last_played":
            if value != value:
                return ""
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(value)))
        if key == "duration":
            if value != value:
                return ""
            total = round(float(value))
            h, rem = divmod(total, 3600)
            m, s = divmod(rem, 60)
            return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
        return str(value)

    def label(self, row: int) -> str:
        artist = str(self.cols["artist"][row])
        title = str(self.cols["title"][row])
        return f"{artist} – {title}" if artist else title

    def file_path(self, row: int) -> str:
        """The file's path as a str the OS accepts (undecodable bytes survive)."""
        return os.fsdecode(self.raw_paths[row])

    # --- sorting and filtering ------------------------------------------------------------

    def rank(self, key: str) -> np.ndarray:
        """Position of each row in the ascending order of column KEY (cached)."""
        r = self._ranks.get(key)
        if r is None:
            values = self.lower[key] if key in self.lower else self.cols[key]
            if key in ("duration", "last_played"):
                values = np.nan_to_num(values, nan=-1.0)
            order = np.argsort(values, kind="stable")
            r = np.empty(len(order), dtype=np.int64)
            r[order] = np.arange(len(order), dtype=np.int64)
            self._ranks[key] = r
        return r

    def match(self, query: str) -> np.ndarray:
        """Boolean mask of rows whose title, artist, album, genre or file contains every word."""
        mask = np.ones(len(self), dtype=bool)
        for word in query.lower().split():
            if not len(self):
                break
            mask &= np.strings.find(self.haystack, word) >= 0
        return mask

    def view(
        self,
        query: str = "",
        scope: np.ndarray | None = None,
        sort_key: str | None = None,
        descending: bool = False,
    ) -> np.ndarray:
        """Rows to show: in SCOPE (rows, kept in their order when unsorted), matching QUERY,
        sorted by SORT_KEY."""
        if scope is not None:
            rows = scope.astype(np.int64, copy=False)
            if query.strip():
                rows = rows[self.match(query)[rows]]
        elif query.strip():
            rows = np.flatnonzero(self.match(query))
        else:
            rows = np.arange(len(self), dtype=np.int64)
        if sort_key is not None and len(rows):
            order = np.argsort(self.rank(sort_key)[rows], kind="stable")
            if descending:
                order = order[::-1]
            rows = rows[order]
        return rows
