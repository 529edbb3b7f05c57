"""Read-side queries and small edits on the catalogue, shared by the CLI and the GUI."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, func, select, update

from musicorg import paths
from musicorg.jobs import paused
from musicorg.keys import AUTO
from musicorg.model import autotags
from musicorg.store.db import (
    Analysis,
    Catalogue,
    Lyrics,
    Playlist,
    PlaylistItem,
    Problem,
    Root,
    Track,
    all_rows,
    drop_rows,
)


@dataclass
class TrackRow:
    id: int
    path: str
    title: str | None
    artist: str | None
    album: str | None
    albumartist: str | None
    genre: str | None
    year: int | None
    tracknumber: int | None
    duration: float | None
    fmt: str
    codec: str | None
    sample_rate: int | None
    channels: int | None
    missing: bool
    has_lyrics: bool
    # The words heard in the audio (musicorg.model.autotags), most probable first; empty until the
    # track is analysed with tags.
    tags: list[autotags.TagScore] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tags"] = [t.as_dict() for t in self.tags]
        return d


#: The columns of a :class:`TrackRow` (its ``tags`` aside), then the content key of its tags.
_TRACK_ROW = select(
    Track.id,
    Track.display,
    Track.title,
    Track.artist,
    Track.album,
    Track.albumartist,
    Track.genre,
    Track.year,
    Track.tracknumber,
    Track.duration,
    Track.fmt,
    Track.codec,
    Track.sample_rate,
    Track.channels,
    Track.missing,
    Lyrics.track_id.is_not(None),
    Track.content_key,
).outerjoin(Lyrics, Lyrics.track_id == Track.id)


def _track_rows(rows: Sequence[Any], heard: dict[str, bytes]) -> list[TrackRow]:
    """Rows of ``_TRACK_ROW`` as :class:`TrackRow`, with the tags ``heard`` (per content key)."""
    keys = [f.name for f in fields(TrackRow) if f.name != "tags"]
    probs = np.full((len(rows), autotags.N_TAGS), np.nan, dtype=np.float32)
    for i, r in enumerate(rows):
        decoded = autotags.decode(heard.get(r[16]))
        if decoded is not None:
            probs[i] = decoded
    words = autotags.top_tags_of_rows(probs) if len(rows) else []
    out: list[TrackRow] = []
    for r, tags in zip(rows, words, strict=True):
        values: dict[str, Any] = dict(zip(keys, (*r[:14], bool(r[14]), bool(r[15])), strict=True))
        out.append(TrackRow(**values, tags=tags))
    return out


def tracks(cat: Catalogue, *, include_missing: bool = True) -> list[TrackRow]:
    q = _TRACK_ROW.order_by(Track.display)
    if not include_missing:
        q = q.where(Track.missing.is_(False))
    with cat.read() as conn:
        rows = conn.execute(q).all()
        heard = _tag_blobs(conn)
    return _track_rows(rows, heard)


def _tag_blobs(conn: Connection, content_key: str | None = None) -> dict[str, bytes]:
    """The stored tag probabilities per content key (of one key, or all), from the newest
    analysis that has them. MusiCNN's tags do not depend on the hand-made features, so tags
    of an older features version still describe the track until it is analysed again (and
    this needs no import of the heavy features module)."""
    q = (
        select(Analysis.content_key, Analysis.tags)
        .where(Analysis.tags.is_not(None))
        .order_by(Analysis.features_version)
    )
    if content_key is not None:
        q = q.where(Analysis.content_key == content_key)
    return {str(key): blob for key, blob in conn.execute(q) if blob is not None}


def track_tags(cat: Catalogue, track_id: int) -> list[autotags.TagScore]:
    """The words heard in one track's audio, most probable first (none before its analysis
    with tags)."""
    with cat.read() as conn:
        key = conn.execute(select(Track.content_key).where(Track.id == track_id)).scalar()
        blob = _tag_blobs(conn, str(key)).get(str(key)) if key is not None else None
    return autotags.top_tags(autotags.decode(blob))


# --- what the window shows ------------------------------------------------------------------

#: The columns of :class:`TrackColumns`, as read.
#: Rows read at a time for the window's snapshot (see track_columns).
_READ_CHUNK = 5000
_SNAPSHOT = {
    "ids": Track.id,
    "content_keys": Track.content_key,
    "paths": Track.path,
    "missing": Track.missing,
    "displays": Track.display,
    "has_lyrics": Lyrics.track_id.is_not(None),
    "titles": Track.title,
    "artists": Track.artist,
    "albums": Track.album,
    "genres": Track.genre,
    "years": Track.year,
    "durations": Track.duration,
    "formats": Track.fmt,
}


@dataclass
class TrackColumns:
    """Every track of the catalogue, by id, as one sequence per column (the window's table and
    map are built from these, column by column)."""

    # Which file each track is.
    ids: Sequence[int]
    content_keys: Sequence[str]
    paths: Sequence[bytes]
    missing: Sequence[bool]
    displays: Sequence[str]
    has_lyrics: Sequence[bool]
    # Its tags, as the table's columns show them.
    titles: Sequence[str | None]
    artists: Sequence[str | None]
    albums: Sequence[str | None]
    genres: Sequence[str | None]
    years: Sequence[int | None]
    durations: Sequence[float | None]
    formats: Sequence[str]

    @classmethod
    def empty(cls) -> TrackColumns:
        return cls(**{name: () for name in _SNAPSHOT})


def track_columns(cat: Catalogue) -> TrackColumns:
    """Every track of the catalogue, missing ones included, ordered by id."""
    q = (
        select(*_SNAPSHOT.values())
        .outerjoin(Lyrics, Lyrics.track_id == Track.id)
        .order_by(Track.id)
    )
    columns: list[list[Any]] = [[] for _ in _SNAPSHOT]
    with cat.read() as conn:
        # In slices: one fetch and transposition of 100,000 rows held the GIL for ~200 ms, and
        # the window (another thread) stalled that long while a scan reloaded it.
        for chunk in paused(conn.execute(q).partitions(_READ_CHUNK)):
            for column, values in zip(columns, zip(*chunk, strict=True), strict=True):
                column.extend(values)
    if not columns[0]:
        return TrackColumns.empty()
    return TrackColumns(**dict(zip(_SNAPSHOT, columns, strict=True)))


@dataclass
class TrackDetails:
    """One track as the details pane shows it: its row, its bit rate and its lyrics."""

    track: TrackRow
    bitrate: int | None
    lyrics: str | None
    lyrics_source: str | None


def track_details(cat: Catalogue, track_id: int) -> TrackDetails | None:
    """One track's fields, heard tags, bit rate and lyrics (None when it is no longer there)."""
    with cat.read() as conn:
        rows = conn.execute(_TRACK_ROW.where(Track.id == track_id)).all()
        if not rows:
            return None
        heard = _tag_blobs(conn, str(rows[0][16]))
        extra = conn.execute(
            select(Track.bitrate, Lyrics.text, Lyrics.source)
            .outerjoin(Lyrics, Lyrics.track_id == Track.id)
            .where(Track.id == track_id)
        ).one()
    return TrackDetails(_track_rows(rows, heard)[0], extra[0], extra[1], extra[2])


def auto_playlist_groups(cat: Catalogue, version: str | None) -> tuple[list[int], list[str]]:
    """The tracks of the automatic playlists (of ``version``; of every version with None),
    and the group of each (its playlist's name when the playlist has no group)."""
    q = (
        select(PlaylistItem.track_id, Playlist.group_name, Playlist.name)
        .join(Playlist, Playlist.id == PlaylistItem.playlist_id)
        .where(Playlist.kind == AUTO)
    )
    if version:
        q = q.where(Playlist.model_version == version)
    with cat.read() as conn:
        rows = all_rows(conn, q)
    out = [int(r[0]) for r in rows], [str(r[1] or r[2] or "") for r in rows]
    drop_rows(rows)  # a million rows let go at once held the GIL for ~60 ms
    return out


def track_count(cat: Catalogue) -> int:
    """Tracks in the catalogue, missing ones included."""
    with cat.read() as conn:
        return int(conn.execute(select(func.count(Track.id))).scalar_one())


def stats(cat: Catalogue) -> dict[str, Any]:
    with cat.read() as conn:
        total = conn.execute(select(func.count(Track.id))).scalar_one()
        missing = conn.execute(
            select(func.count(Track.id)).where(Track.missing.is_(True))
        ).scalar_one()
        duration = conn.execute(
            select(func.coalesce(func.sum(Track.duration), 0.0)).where(Track.missing.is_(False))
        ).scalar_one()
        by_format = dict(
            conn.execute(
                select(Track.fmt, func.count(Track.id)).group_by(Track.fmt).order_by(Track.fmt)
            ).all()
        )
        by_codec = dict(
            conn.execute(
                select(Track.codec, func.count(Track.id))
                .group_by(Track.codec)
                .order_by(Track.codec)
            ).all()
        )
        lyrics_by_source = dict(
            conn.execute(
                select(Lyrics.source, func.count(Lyrics.track_id)).group_by(Lyrics.source)
            ).all()
        )
        problems = conn.execute(select(func.count(Problem.id))).scalar_one()
        roots = [r[0] for r in conn.execute(select(Root.display).order_by(Root.display))]
    return {
        "tracks": int(total),
        "available": int(total - missing),
        "missing": int(missing),
        "with_lyrics": int(sum(lyrics_by_source.values())),
        "lyrics_by_source": {str(k): int(v) for k, v in lyrics_by_source.items()},
        "total_duration_s": round(float(duration or 0.0), 1),
        "by_format": {str(k): int(v) for k, v in by_format.items()},
        "by_codec": {str(k): int(v) for k, v in by_codec.items()},
        "problems": int(problems),
        "folders": roots,
    }


@dataclass
class ProblemRow:
    path: str
    stage: str
    kind: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def problems(cat: Catalogue) -> list[ProblemRow]:
    with cat.read() as conn:
        rows = conn.execute(
            select(Problem.display, Problem.stage, Problem.kind, Problem.message).order_by(
                Problem.display, Problem.stage
            )
        ).all()
    return [ProblemRow(*r) for r in rows]


def missing_tracks(cat: Catalogue) -> list[str]:
    with cat.read() as conn:
        return [
            r[0]
            for r in conn.execute(
                select(Track.display).where(Track.missing.is_(True)).order_by(Track.display)
            )
        ]


def prune_missing(cat: Catalogue) -> int:
    """Forget the tracks marked missing. Their analyses stay, keyed by content."""
    with cat.begin() as conn:
        result = conn.execute(delete(Track).where(Track.missing.is_(True)))
        conn.execute(
            delete(Problem).where(Problem.path.not_in(select(Track.path)), Problem.stage != "scan")
        )
    return int(result.rowcount or 0)


def relocate(cat: Catalogue, old: str | bytes, new: str | bytes) -> int:
    """Move a library root from OLD to NEW: paths change, identities and analyses stay."""
    old_b = os.path.abspath(os.fsencode(old)).rstrip(b"/")
    new_b = os.path.abspath(os.fsencode(new)).rstrip(b"/")
    if old_b == new_b:
        return 0
    moved = 0
    with cat.begin() as conn:
        for rid, rpath in conn.execute(select(Root.id, Root.path)).all():
            if rpath == old_b or rpath.startswith(old_b + b"/"):
                np = new_b + rpath[len(old_b) :]
                clash = conn.execute(select(Root.id).where(Root.path == np)).first()
                if clash is not None and clash[0] != rid:
                    conn.execute(update(Track).where(Track.root_id == rid).values(root_id=clash[0]))
                    conn.execute(delete(Root).where(Root.id == rid))
                else:
                    conn.execute(
                        update(Root)
                        .where(Root.id == rid)
                        .values(path=np, display=paths.fs_display(np))
                    )
        rows = conn.execute(select(Track.id, Track.path)).all()
        for tid, path in rows:
            if not path.startswith(old_b + b"/"):
                continue
            np = new_b + path[len(old_b) :]
            conn.execute(
                update(Track)
                .where(Track.id == tid)
                .values(path=np, display=paths.fs_display(np), missing=not os.path.exists(np))
            )
            moved += 1
        for pid, path in conn.execute(select(Problem.id, Problem.path)).all():
            if path.startswith(old_b + b"/"):
                np = new_b + path[len(old_b) :]
                conn.execute(
                    update(Problem)
                    .where(Problem.id == pid)
                    .values(path=np, display=paths.fs_display(np))
                )
    return moved
