"""What the player played and skipped, per track: counts and the last time of each.

A play and a skip are decided by the player's rules (``musicorg.playback.plays``); this module
only keeps them. A track with no row was never played or skipped; its row goes with the track
(``ON DELETE CASCADE``). Also here: the little the player needs to know of a track's file.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import delete, select

from musicorg.store.db import Catalogue, Play, Track, all_rows, drop_rows, upsert

# SQLite's limit on bound parameters is far above this; it keeps each statement small.
_CHUNK: Final = 500


@dataclass(frozen=True)
class PlayStats:
    """One track's plays and skips; the times are epoch seconds, None when never."""

    play_count: int
    last_played: float | None
    skip_count: int
    last_skipped: float | None


@dataclass(frozen=True)
class TrackFile:
    """What the player needs of a track: its file, a name for messages, and whether the last
    scan found it missing."""

    path: bytes
    display: str
    duration: float | None
    missing: bool


def _record(cat: Catalogue, track_id: int, at: float | None, *, skip: bool) -> bool:
    when = time.time() if at is None else float(at)
    count, last = Play.play_count, Play.last_played
    if skip:
        count, last = Play.skip_count, Play.last_skipped
    with cat.begin() as conn:
        new = upsert(conn, Play).values(
            track_id=track_id,
            play_count=0 if skip else 1,
            last_played=None if skip else when,
            skip_count=1 if skip else 0,
            last_skipped=when if skip else None,
        )
        # A track pruned since it was queued has no row to count against: nothing to record.
        if conn.execute(select(Track.id).where(Track.id == track_id)).first() is None:
            return False
        conn.execute(
            new.on_conflict_do_update(
                index_elements=[Play.track_id], set_={count.key: count + 1, last.key: when}
            )
        )
    return True


def record_play(cat: Catalogue, track_id: int, at: float | None = None) -> bool:
    """Count one play of ``track_id`` at ``at`` (epoch seconds; now when None). False when the
    track is no longer in the catalogue (nothing is recorded then)."""
    return _record(cat, track_id, at, skip=False)


def record_skip(cat: Catalogue, track_id: int, at: float | None = None) -> bool:
    """Count one skip of ``track_id`` at ``at`` (epoch seconds; now when None). False when the
    track is no longer in the catalogue."""
    return _record(cat, track_id, at, skip=True)


def clear(cat: Catalogue, track_ids: Iterable[int] | None = None) -> int:
    """Forget the plays and skips of ``track_ids`` (of every track when None); returns how
    many tracks had any."""
    with cat.begin() as conn:
        if track_ids is None:
            return int(conn.execute(delete(Play)).rowcount)
        ids = sorted(set(track_ids))
        removed = 0
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            removed += int(conn.execute(delete(Play).where(Play.track_id.in_(chunk))).rowcount)
        return removed


def stats(cat: Catalogue) -> dict[int, PlayStats]:
    """Track id → its plays and skips, for every track played or skipped at least once."""
    q = select(Play.track_id, Play.play_count, Play.last_played, Play.skip_count, Play.last_skipped)
    with cat.read() as conn:
        rows = all_rows(conn, q)  # a slice at a time: the window loads this in a worker
    out = {int(r[0]): PlayStats(int(r[1]), r[2], int(r[3]), r[4]) for r in rows}
    drop_rows(rows)
    return out


def track_files(cat: Catalogue, track_ids: Sequence[int]) -> dict[int, TrackFile]:
    """Track id → its file, for those of ``track_ids`` still in the catalogue."""
    ids = sorted(set(track_ids))
    out: dict[int, TrackFile] = {}
    q = select(Track.id, Track.path, Track.display, Track.duration, Track.missing)
    with cat.read() as conn:
        for i in range(0, len(ids), _CHUNK):
            for r in conn.execute(q.where(Track.id.in_(ids[i : i + _CHUNK]))):
                out[int(r[0])] = TrackFile(bytes(r[1]), str(r[2]), r[3], bool(r[4]))
    return out
