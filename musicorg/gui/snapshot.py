"""An in-memory column snapshot of the catalogue's tracks, for the library table and the map.

One read of the store (:func:`musicorg.store.library.track_columns`) fills one numpy array per
column, sorted by track id. Sorting and filtering then work on whole arrays (argsort of
precomputed keys, vectorised substring search on precomputed lowercase text), never with a
Python call per row, so they stay fast at 100,000 tracks. This module does not import Qt: it
is loaded off the UI thread and tested on its own.

A track without tags still reads as something: its file name (without the extension) is its
title and its folder its album, both marked as guessed. Text columns sort naturally ("track3"
before "track30", case ignored), on keys made once per snapshot. The search box also takes
filters: ``is:duplicate`` (the same audio as another file), ``is:untagged``, ``is:missing``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musicorg.jobs import paused
from musicorg.store.library import TrackColumns
from musicorg.store.plays import PlayStats

# (key, header) of the table's columns, in order: what a window 1280 pixels wide shows first
# (the title to the file), then the rest.
COLUMNS: list[tuple[str, str]] = [
    ("title", "Title"),
    ("artist", "Artist"),
    ("album", "Album"),
    ("duration", "Length"),
    ("fmt", "Format"),
    ("path", "File"),
    ("genre", "Genre"),
    ("year", "Year"),
    ("copies", "Duplicate"),
    ("plays", "Plays"),
    ("last_played", "Last played"),
    ("skips", "Skips"),
]
TEXT_COLUMNS = ("title", "artist", "album", "genre", "fmt", "path")
#: The columns of what the player recorded (:meth:`Snapshot.set_plays` fills them).
PLAY_COLUMNS = ("plays", "last_played", "skips")
#: Columns of numbers, aligned to the right.
NUMBER_COLUMNS = ("year", "duration", "plays", "skips")
#: The search box's filters (a word of the search), and what each keeps.
FILTERS = {
    "is:duplicate": "duplicates: the same audio as another file",
    "is:untagged": "untagged files: no title and no artist",
    "is:missing": "missing files: gone from the disk",
}
# Runs of digits are padded with zeros to this many, so that they compare as numbers (two
# longer runs of different lengths are the only ones that may not).
_PAD = 8
# Rows made into natural keys at a time (bounds the memory the padding takes).
_CHUNK = 8192
#: The searched words whose rows a snapshot keeps (the last ones searched).
KEEP_WORDS = 16


def _natural_chunk(lower: np.ndarray) -> np.ndarray:
    """:func:`natural_keys` of some rows, on their characters as a (rows, width) array."""
    n, width = len(lower), lower.dtype.itemsize // 4
    chars = np.ascontiguousarray(lower).view(np.uint32).reshape(n, width)
    digit = (chars >= ord("0")) & (chars <= ord("9"))
    starts = digit.copy()
    starts[:, 1:] &= ~digit[:, :-1]
    if not starts.any():
        return lower
    # The length of each run of digits, in the order of their starts.
    run = np.cumsum(starts.ravel(), dtype=np.int64) * digit.ravel()
    lengths = np.bincount(run)[1:]
    pads = np.maximum(_PAD - lengths, 0)
    sr, sc = np.nonzero(starts)
    pad_at = np.zeros((n, width), dtype=np.int32)
    pad_at[sr, sc] = pads
    shift = np.cumsum(pad_at, axis=1, dtype=np.int32)  # where each character moves to
    out_width = width + int(shift[:, -1].max())
    out = np.zeros((n, out_width), dtype=np.uint32)
    out[np.arange(n)[:, None], np.arange(width)[None, :] + shift] = chars
    total = int(pads.sum())
    if total:
        first = np.repeat(sc + shift[sr, sc] - pads, pads)
        offsets = np.arange(total) - np.repeat(np.cumsum(pads) - pads, pads)
        out[np.repeat(sr, pads), first + offsets] = ord("0")
    keys: np.ndarray = out.view(f"<U{out_width}").reshape(n)
    return keys


def natural_keys(lower: np.ndarray) -> np.ndarray:
    """Keys that sort lowercase text naturally: every run of digits padded with zeros in
    front, so "track3" sorts before "track30" (in numpy, a chunk of rows at a time)."""
    if not len(lower):
        return lower
    return in_slices(_natural_chunk, lower)


def _array(values: Sequence[Any], dtype: Any) -> np.ndarray:
    """``values`` as an array of ``dtype``, made a slice at a time (see :func:`in_slices`)."""
    if not len(values):
        return np.zeros(0, dtype=dtype)
    return in_slices(lambda part: np.asarray(part, dtype=dtype), values)


def _str_array(values: Sequence[Any]) -> np.ndarray:
    return in_slices(
        lambda part: np.array(["" if v is None else str(v) for v in part], dtype=np.str_),
        values,
    )


def in_slices(fn: Callable[..., np.ndarray], *columns: Any) -> np.ndarray:
    """``fn`` of the columns, a slice of :data:`_CHUNK` rows at a time, joined. One numpy call
    over 100,000 strings holds the GIL for tens of milliseconds (over a million values, even
    a list of numbers made an array, for hundreds); the snapshot is built in a worker thread
    while the window (another thread) must stay responsive."""
    n = len(columns[0])
    if n <= _CHUNK:
        return fn(*columns)
    parts = []
    for i in paused(range(0, n, _CHUNK)):
        parts.append(fn(*(c[i : i + _CHUNK] for c in columns)))
    # Joined a slice at a time too: one np.concatenate of 100,000 wide strings (the search
    # text) held the GIL for 100-200 ms.
    out = np.empty(n, dtype=np.result_type(*parts))
    for i, part in paused(zip(range(0, n, _CHUNK), parts, strict=True)):
        out[i : i + len(part)] = part
    return out


@dataclass
class Snapshot:
    ids: np.ndarray  # int64, ascending
    cols: dict[str, np.ndarray]
    raw_paths: list[bytes]
    missing: np.ndarray  # bool
    has_lyrics: np.ndarray  # bool
    content_keys: np.ndarray  # str
    lower: dict[str, np.ndarray] = field(default_factory=dict)
    #: Per row, its lowercase title, artist, album, genre and file path as UTF-8 bytes.
    haystack: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.bytes_))
    #: Per text column, the rows whose value is guessed from the file (no tag): bool.
    guessed: dict[str, np.ndarray] = field(default_factory=dict)
    #: Whether a track has neither a title nor an artist tag: bool.
    untagged: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: The group of files with the same audio each row is in (-1: none; see set_duplicates).
    same_audio: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _natural: dict[str, np.ndarray] = field(default_factory=dict)
    _orders: dict[str, np.ndarray] = field(default_factory=dict)
    #: The rows each word searched lately is in (bool per row), oldest first: see match.
    _found: dict[str, np.ndarray] = field(default_factory=dict)
    _found_lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def empty(cls) -> Snapshot:
        return cls.build(TrackColumns.empty())

    @classmethod
    def build(cls, tracks: TrackColumns) -> Snapshot:
        """From the columns of every track, ordered by id."""
        display = _str_array(tracks.displays)
        # A track without a title shows its file name, one without an album its folder.
        titles = [
            t or os.path.splitext(os.path.basename(d))[0]
            for t, d in zip(tracks.titles, tracks.displays, strict=True)
        ]
        albums = [
            a or os.path.basename(os.path.dirname(d))
            for a, d in zip(tracks.albums, tracks.displays, strict=True)
        ]
        no_title = _array([not t for t in tracks.titles], bool)
        no_album = _array([not a for a in tracks.albums], bool)
        no_artist = _array([not a for a in tracks.artists], bool)
        cols = {
            "title": _str_array(titles),
            "artist": _str_array(tracks.artists),
            "album": _str_array(albums),
            "genre": _str_array(tracks.genres),
            "year": _array([y or 0 for y in tracks.years], np.int32),
            "duration": _array(
                [np.nan if d is None else d for d in tracks.durations], np.float32
            ).reshape(-1),
            "fmt": _str_array(tracks.formats),
            "plays": np.zeros(len(display), dtype=np.int32),
            "last_played": np.full(len(display), np.nan, dtype=np.float64),
            "skips": np.zeros(len(display), dtype=np.int32),
            "path": display,
            "copies": np.zeros(len(display), dtype=np.int32),
        }
        snap = cls(
            ids=_array(tracks.ids, np.int64),
            cols=cols,
            raw_paths=[bytes(p) for p in tracks.paths],
            missing=_array([bool(m) for m in tracks.missing], bool),
            content_keys=_str_array(tracks.content_keys),
            has_lyrics=_array([bool(h) for h in tracks.has_lyrics], bool),
            guessed={"title": no_title, "album": no_album & (cols["album"] != "")},
            untagged=no_title & no_artist,
            same_audio=np.full(len(display), -1, dtype=np.int64),
        )
        snap.lower = {k: in_slices(np.strings.lower, cols[k]) for k in TEXT_COLUMNS}
        snap._natural = {k: natural_keys(snap.lower[k]) for k in TEXT_COLUMNS}
        if len(snap.ids):
            sep = "\x1f"
            hay = snap.lower["title"]
            for k in ("artist", "album", "genre", "path"):
                hay = in_slices(
                    lambda a, b: np.strings.add(np.strings.add(a, sep), b), hay, snap.lower[k]
                )
            # As UTF-8 bytes: a quarter of the memory of numpy's 4-byte characters, and searched
            # three times faster; a substring of the text is a substring of its UTF-8 bytes.
            snap.haystack = in_slices(lambda a: np.strings.encode(a, "utf-8", "surrogatepass"), hay)
        return snap

    # --- lookups --------------------------------------------------------------------------

    def rows_of(self, track_ids: Any) -> np.ndarray:
        """Snapshot rows of the given track ids (unknown ids are dropped), in their order."""
        rows, _known = self.find(track_ids)
        return rows

    def find(self, track_ids: Any) -> tuple[np.ndarray, np.ndarray]:
        """The snapshot rows of those track ids that it has, and a mask of which ids those
        are; a slice of ids at a time (:func:`in_slices`): at a million tracks, one call over
        them all held the GIL, and stalled the window, for a second."""
        given = track_ids if isinstance(track_ids, np.ndarray | list | tuple) else list(track_ids)
        tid = in_slices(lambda part: np.asarray(part, dtype=np.int64).reshape(-1), given)
        if not len(self.ids) or not len(tid):
            return np.zeros(0, dtype=np.int64), np.zeros(len(tid), dtype=bool)
        last = len(self.ids) - 1

        def positions(part: np.ndarray) -> np.ndarray:
            found: np.ndarray = np.clip(np.searchsorted(self.ids, part), 0, last)
            return found

        pos = in_slices(positions, tid)
        known = self.ids[pos] == tid
        out: np.ndarray = pos[known].astype(np.int64)
        return out, known

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
            self._orders.pop(key, None)

    def set_duplicates(self, groups: Sequence[Sequence[int]]) -> None:
        """The groups of track ids with the same audio (:func:`musicorg.store.duplicates
        .same_audio`): each row learns its group and how many files the audio is in."""
        same = np.full(len(self), -1, dtype=np.int64)
        copies = np.zeros(len(self), dtype=np.int32)
        for number, ids in enumerate(groups):
            rows = self.rows_of(ids)
            if len(rows) > 1:
                same[rows] = number
                copies[rows] = len(rows)
        self.same_audio = same
        self.cols["copies"] = copies
        self._orders.pop("copies", None)

    def copies_of(self, row: int) -> np.ndarray:
        """The other rows with the same audio as ROW (none when it is the only file)."""
        group = int(self.same_audio[row]) if len(self.same_audio) else -1
        if group < 0:
            return np.zeros(0, dtype=np.int64)
        rows = np.flatnonzero(self.same_audio == group)
        out: np.ndarray = rows[rows != row]
        return out

    def duplicates(self) -> int:
        """How many files are copies, beyond one file per audio (two files of one audio: one)."""
        grouped = self.same_audio[self.same_audio >= 0]
        return int(len(grouped) - len(np.unique(grouped)))

    def text(self, key: str, row: int) -> str:
        value = self.cols[key][row]
        if key == "copies":
            return f"{int(value)} files" if value else ""
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
        """How a track is named outside the table: "artist – title"; without an artist, the
        title (the file name, untagged) and the album (or folder) it is in, so that two
        untagged "track10" in two folders read differently."""
        artist = str(self.cols["artist"][row])
        title = str(self.cols["title"][row])
        if artist:
            return f"{artist} – {title}"
        album = str(self.cols["album"][row])
        return f"{title} ({album})" if album else title

    def file_path(self, row: int) -> str:
        """The file's path as a str the OS accepts (undecodable bytes survive)."""
        return os.fsdecode(self.raw_paths[row])

    # --- sorting and filtering ------------------------------------------------------------

    def order(self, key: str) -> np.ndarray:
        """The rows in the ascending order of column KEY, ties in row order (cached)."""
        order = self._orders.get(key)
        if order is None:
            values = self._natural[key] if key in self._natural else self.cols[key]
            if key == "copies":  # the files of one audio together, the others after
                values = np.where(self.same_audio >= 0, self.same_audio, len(self))
            if key in ("duration", "last_played"):
                values = np.nan_to_num(values, nan=-1.0)
            order = np.argsort(values, kind="stable")
            order.setflags(write=False)  # the view hands it out as the rows of the table
            self._orders[key] = order
        return order

    def rank(self, key: str) -> np.ndarray:
        """Position of each row in the ascending order of column KEY."""
        order = self.order(key)
        r = np.empty(len(order), dtype=np.int64)
        r[order] = np.arange(len(order), dtype=np.int64)
        return r

    def match(self, query: str) -> np.ndarray:
        """Boolean mask of rows whose title, artist, album, genre or file contains every word,
        and that pass every filter of :data:`FILTERS` in the query."""
        mask = np.ones(len(self), dtype=bool)
        for word in query.lower().split():
            if not len(self):
                break
            if word == "is:duplicate":
                mask &= self.same_audio >= 0
            elif word == "is:untagged":
                mask &= self.untagged
            elif word == "is:missing":
                mask &= self.missing
            else:
                mask &= self.rows_with(word)
        return mask

    def rows_with(self, word: str) -> np.ndarray:
        """Boolean mask of the rows whose search text contains ``word`` (lowercase). Kept for
        the next searches: a word searched again costs nothing, and a word that contains one
        searched lately ("river" after "rive", "12" after "1") is looked for only in that
        one's rows. So each keystroke of a search searches the library once at most. (Called
        from the UI thread and from a search's worker.)"""
        with self._found_lock:
            found = self._found.pop(word, None)
            if found is not None:  # the newest now
                self._found[word] = found
                return found
            within = [rows for known, rows in self._found.items() if known in word]
        needle = word.encode("utf-8", "surrogatepass")
        candidates = np.flatnonzero(np.logical_and.reduce(within)) if within else None
        if candidates is not None and 2 * len(candidates) < len(self):
            found = np.zeros(len(self), dtype=bool)
            found[candidates[np.strings.find(self.haystack[candidates], needle) >= 0]] = True
        else:  # among most rows: a copy of theirs would cost more than it saves
            found = np.strings.find(self.haystack, needle) >= 0
        found.setflags(write=False)
        with self._found_lock:
            self._found[word] = found
            while len(self._found) > KEEP_WORDS:
                del self._found[next(iter(self._found))]
        return found

    def view(
        self,
        query: str = "",
        scope: np.ndarray | None = None,
        sort_key: str | None = None,
        descending: bool = False,
    ) -> np.ndarray:
        """Rows to show: in SCOPE (rows, kept in their order when unsorted), matching QUERY,
        sorted by SORT_KEY. The duplicates filter, unsorted, puts the files of one audio
        together."""
        if sort_key is None and scope is None and "is:duplicate" in query.lower().split():
            sort_key = "copies"
        mask = self.match(query) if query.strip() else None
        if scope is not None:
            rows = scope.astype(np.int64, copy=False)
            if mask is not None:
                rows = rows[mask[rows]]
            if sort_key is not None and len(rows):
                rows = rows[np.argsort(self.rank(sort_key)[rows], kind="stable")]
        elif sort_key is not None:  # the column's order, without the rows that do not match
            order = self.order(sort_key)
            rows = order if mask is None else order[mask[order]]
        else:
            rows = np.arange(len(self), dtype=np.int64) if mask is None else np.flatnonzero(mask)
        if descending and sort_key is not None:
            rows = rows[::-1].copy()
        return rows
