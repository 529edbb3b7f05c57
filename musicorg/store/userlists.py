"""User playlists: create, rename, delete, add, remove and reorder tracks, list.

A user playlist is a ``playlists`` row of kind ``"user"`` and its items, numbered by position
from 0 without gaps. Items point at tracks by id, so a track that goes missing stays in the
playlist and is shown as unavailable; only forgetting the track (``musicorg prune``) drops it.
The same track may appear more than once. Names of user playlists are unique.

Automatic playlists are not changed here: every edit refuses a playlist of another kind.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Integer, cast, delete, func, insert, select, update

from musicorg.keys import USER
from musicorg.store.db import Catalogue, Playlist, PlaylistItem, Track, follow_ids, lock_ids
from musicorg.store.events import announces_playlists_change


class UserListError(ValueError):
    """A request on user playlists that cannot be done, with a message for people."""


@dataclass
class PlaylistInfo:
    id: int
    name: str
    kind: str
    tracks: int
    unavailable: int
    model_version: str | None
    group_name: str | None
    created_at: float
    updated_at: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Item:
    position: int
    track_id: int
    path: bytes
    display: str
    artist: str | None
    title: str | None
    duration: float | None
    missing: bool

    @property
    def available(self) -> bool:
        return not self.missing


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise UserListError("a playlist needs a name")
    return name


def _user_playlist(conn: Connection, playlist_id: int) -> None:
    row = conn.execute(select(Playlist.kind).where(Playlist.id == playlist_id)).first()
    if row is None:
        raise UserListError(f"no playlist with id {playlist_id}")
    if row[0] != USER:
        raise UserListError("automatic playlists cannot be edited here")


def _name_taken(conn: Connection, name: str, but: int | None = None) -> bool:
    q = select(Playlist.id).where(Playlist.kind == USER, Playlist.name == name)
    if but is not None:
        q = q.where(Playlist.id != but)
    return conn.execute(q).first() is not None


def free_name(cat: Catalogue, name: str) -> str:
    """``name``, or ``name (2)``, ``name (3)``… : the first one no user playlist has."""
    with cat.read() as conn:
        return free_name_in(conn, name)


def free_name_in(conn: Connection, name: str) -> str:
    """:func:`free_name` inside a transaction the caller holds (a write one, to then take it)."""
    name = _clean_name(name)
    taken = {n for (n,) in conn.execute(select(Playlist.name).where(Playlist.kind == USER))}
    candidate, i = name, 1
    while candidate in taken:
        i += 1
        candidate = f"{name} ({i})"
    return candidate


def _check_tracks(conn: Connection, track_ids: Sequence[int]) -> None:
    wanted = set(track_ids)
    found: set[int] = set()
    ids = list(wanted)
    for lo in range(0, len(ids), 500):
        found.update(
            int(t)
            for (t,) in conn.execute(select(Track.id).where(Track.id.in_(ids[lo : lo + 500])))
        )
    unknown = sorted(wanted - found)
    if unknown:
        raise UserListError(f"unknown track ids: {', '.join(map(str, unknown[:10]))}")


def _track_ids(conn: Connection, playlist_id: int) -> list[int]:
    return [
        int(t)
        for (t,) in conn.execute(
            select(PlaylistItem.track_id)
            .where(PlaylistItem.playlist_id == playlist_id)
            .order_by(PlaylistItem.position)
        )
    ]


def _write_items(conn: Connection, playlist_id: int, track_ids: Sequence[int]) -> None:
    conn.execute(delete(PlaylistItem).where(PlaylistItem.playlist_id == playlist_id))
    if track_ids:
        conn.execute(
            insert(PlaylistItem),
            [
                {"playlist_id": playlist_id, "position": i, "track_id": int(t)}
                for i, t in enumerate(track_ids)
            ],
        )
    conn.execute(update(Playlist).where(Playlist.id == playlist_id).values(updated_at=time.time()))


def insert_playlist(conn: Connection, name: str, kind: str = USER) -> int:
    """A new, empty playlist row, as it is (no check of the name); its id."""
    now = time.time()
    lock_ids(conn, Playlist)  # a build on another desktop may be giving out ids of its own
    row = conn.execute(
        insert(Playlist)
        .values(name=name, kind=kind, created_at=now, updated_at=now)
        .returning(Playlist.id)
    ).first()
    assert row is not None
    return int(row[0])


@announces_playlists_change
def create(cat: Catalogue, name: str, track_ids: Iterable[int] = ()) -> int:
    """A new user playlist with these tracks in this order; its id."""
    name = _clean_name(name)
    ids = [int(t) for t in track_ids]
    with cat.begin() as conn:
        if _name_taken(conn, name):
            raise UserListError(f"a playlist named {name!r} already exists")
        _check_tracks(conn, ids)
        pid = insert_playlist(conn, name)
        _write_items(conn, pid, ids)
    return pid


@announces_playlists_change
def save(cat: Catalogue, name: str, track_ids: Iterable[int]) -> tuple[int, bool]:
    """Create the user playlist ``name``, or replace its tracks if it exists: (id, replaced)."""
    name = _clean_name(name)
    ids = [int(t) for t in track_ids]
    with cat.begin() as conn:
        row = conn.execute(
            select(Playlist.id).where(Playlist.kind == USER, Playlist.name == name)
        ).first()
        if row is not None:
            _check_tracks(conn, ids)
            _write_items(conn, int(row[0]), ids)
            return int(row[0]), True
    return create(cat, name, ids), False


@announces_playlists_change
def rename(cat: Catalogue, playlist_id: int, name: str) -> None:
    name = _clean_name(name)
    with cat.begin() as conn:
        _user_playlist(conn, playlist_id)
        if _name_taken(conn, name, but=playlist_id):
            raise UserListError(f"a playlist named {name!r} already exists")
        conn.execute(
            update(Playlist)
            .where(Playlist.id == playlist_id)
            .values(name=name, updated_at=time.time())
        )


@announces_playlists_change
def delete_playlist(cat: Catalogue, playlist_id: int) -> None:
    with cat.begin() as conn:
        _user_playlist(conn, playlist_id)
        conn.execute(delete(PlaylistItem).where(PlaylistItem.playlist_id == playlist_id))
        conn.execute(delete(Playlist).where(Playlist.id == playlist_id))


@announces_playlists_change
def add_tracks(
    cat: Catalogue, playlist_id: int, track_ids: Iterable[int], position: int | None = None
) -> None:
    """Insert tracks before ``position`` (default: at the end)."""
    ids = [int(t) for t in track_ids]
    with cat.begin() as conn:
        _user_playlist(conn, playlist_id)
        _check_tracks(conn, ids)
        current = _track_ids(conn, playlist_id)
        at = len(current) if position is None else max(0, min(position, len(current)))
        _write_items(conn, playlist_id, [*current[:at], *ids, *current[at:]])


@announces_playlists_change
def remove_positions(cat: Catalogue, playlist_id: int, positions: Iterable[int]) -> int:
    """Remove the items at these positions; the number removed."""
    drop = set(positions)
    with cat.begin() as conn:
        _user_playlist(conn, playlist_id)
        current = _track_ids(conn, playlist_id)
        kept = [t for i, t in enumerate(current) if i not in drop]
        _write_items(conn, playlist_id, kept)
    return len(current) - len(kept)


@announces_playlists_change
def remove_tracks(cat: Catalogue, playlist_id: int, track_ids: Iterable[int]) -> int:
    """Remove every occurrence of these tracks; the number of items removed."""
    drop = {int(t) for t in track_ids}
    with cat.begin() as conn:
        _user_playlist(conn, playlist_id)
        current = _track_ids(conn, playlist_id)
        kept = [t for t in current if t not in drop]
        _write_items(conn, playlist_id, kept)
    return len(current) - len(kept)


@announces_playlists_change
def move(cat: Catalogue, playlist_id: int, source: int, dest: int) -> None:
    """Move the item at ``source`` so that it ends up at position ``dest``."""
    with cat.begin() as conn:
        _user_playlist(conn, playlist_id)
        current = _track_ids(conn, playlist_id)
        if not 0 <= source < len(current) or not 0 <= dest < len(current):
            raise UserListError(f"positions must be between 0 and {len(current) - 1}")
        track = current.pop(source)
        current.insert(dest, track)
        _write_items(conn, playlist_id, current)


@announces_playlists_change
def reorder(cat: Catalogue, playlist_id: int, order: Sequence[int]) -> None:
    """Put the items in a new order: ``order[i]`` is the old position of the new i-th item."""
    with cat.begin() as conn:
        _user_playlist(conn, playlist_id)
        current = _track_ids(conn, playlist_id)
        if sorted(order) != list(range(len(current))):
            raise UserListError("the new order must name every position exactly once")
        _write_items(conn, playlist_id, [current[i] for i in order])


@announces_playlists_change
def set_tracks(cat: Catalogue, playlist_id: int, track_ids: Iterable[int]) -> None:
    """Make the user playlist hold exactly these tracks in this order (an undo puts back
    what an edit changed)."""
    ids = [int(t) for t in track_ids]
    with cat.begin() as conn:
        _user_playlist(conn, playlist_id)
        _check_tracks(conn, ids)
        _write_items(conn, playlist_id, ids)


@announces_playlists_change
def restore(cat: Catalogue, playlist_id: int, name: str, track_ids: Iterable[int]) -> int:
    """Bring back a deleted user playlist under its old id when that is free (so that it keeps
    its place among the others), else under a new one; its name, or ``name (2)``… when another
    playlist took it meanwhile. Returns the id it has."""
    ids = [int(t) for t in track_ids]
    with cat.begin() as conn:
        _check_tracks(conn, ids)
        final = free_name_in(conn, name)
        lock_ids(conn, Playlist)  # no other writer takes the id between the look and the insert
        taken = conn.execute(select(Playlist.id).where(Playlist.id == playlist_id)).first()
        if taken is None:
            now = time.time()
            conn.execute(
                insert(Playlist).values(
                    id=playlist_id, name=final, kind=USER, created_at=now, updated_at=now
                )
            )
            pid = playlist_id
            follow_ids(conn, Playlist)
        else:
            pid = insert_playlist(conn, final)
        _write_items(conn, pid, ids)
    return pid


def track_ids(cat: Catalogue, playlist_id: int) -> list[int]:
    """The track ids of a playlist, in its order."""
    with cat.read() as conn:
        return _track_ids(conn, playlist_id)


@dataclass
class PlaylistState:
    """What an undo of a rename, pin or delete needs to know of a playlist."""

    name: str
    kind: str
    pinned: bool


def state(cat: Catalogue, playlist_id: int) -> PlaylistState | None:
    """The name, kind and pin of a playlist; None when there is none with this id."""
    with cat.read() as conn:
        row = conn.execute(
            select(Playlist.name, Playlist.kind, Playlist.pinned).where(Playlist.id == playlist_id)
        ).first()
    return None if row is None else PlaylistState(str(row[0]), str(row[1]), bool(row[2]))


def playlists(cat: Catalogue, kind: str | None = None) -> list[PlaylistInfo]:
    """Playlists (of one kind, or all), automatic ones first, with their item counts."""
    counts = (
        select(
            PlaylistItem.playlist_id.label("pid"),
            func.count().label("n"),
            func.sum(cast(Track.missing, Integer)).label("gone"),
        )
        .join(Track, Track.id == PlaylistItem.track_id)
        .group_by(PlaylistItem.playlist_id)
        .subquery()
    )
    q = (
        select(
            Playlist.id,
            Playlist.name,
            Playlist.kind,
            func.coalesce(counts.c.n, 0),
            func.coalesce(counts.c.gone, 0),
            Playlist.model_version,
            Playlist.group_name,
            Playlist.created_at,
            Playlist.updated_at,
        )
        .outerjoin(counts, counts.c.pid == Playlist.id)
        .order_by(Playlist.kind, Playlist.group_index, Playlist.id)
    )
    if kind is not None:
        q = q.where(Playlist.kind == kind)
    with cat.read() as conn:
        rows = conn.execute(q).all()
    return [
        PlaylistInfo(
            id=int(r[0]),
            name=str(r[1]),
            kind=str(r[2]),
            tracks=int(r[3]),
            unavailable=int(r[4]),
            model_version=r[5],
            group_name=r[6],
            created_at=float(r[7]),
            updated_at=float(r[8]),
        )
        for r in rows
    ]


def find(cat: Catalogue, name: str, kind: str | None = USER) -> PlaylistInfo | None:
    """The playlist with this name (user playlists by default), or None."""
    for info in playlists(cat, kind):
        if info.name == name:
            return info
    return None


def items(cat: Catalogue, playlist_id: int) -> list[Item]:
    """The tracks of a playlist in order, missing ones included (``available`` is False)."""
    with cat.read() as conn:
        rows = conn.execute(
            select(
                PlaylistItem.position,
                Track.id,
                Track.path,
                Track.display,
                Track.artist,
                Track.title,
                Track.duration,
                Track.missing,
            )
            .join(Track, Track.id == PlaylistItem.track_id)
            .where(PlaylistItem.playlist_id == playlist_id)
            .order_by(PlaylistItem.position)
        ).all()
    return [
        Item(int(p), int(t), bytes(path), disp, a, ti, d, bool(m))
        for p, t, path, disp, a, ti, d, m in rows
    ]
