"""Tracks and roots as the scanner reads and writes them.

The writes stay bulk: a batch of new and changed files is one executemany UPDATE, one
executemany INSERT ... RETURNING and one lyrics upsert, in one transaction (statements per row
cost more than reading the files). Tracks are never deleted, only marked missing.

Paths here are this machine's: on a catalogue shared by several machines, a root that another
machine added is read and written through this machine's mount of it (``db.Mounts``, recorded
with :func:`add_mount`), so scanning the same music at another folder catalogues nothing twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    LargeBinary,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    type_coerce,
    update,
)

from musicorg import paths
from musicorg.store import lyrics, problems
from musicorg.store.db import Catalogue, Root, RootMount, Track, machine_id, upsert
from musicorg.store.problems import ProblemNote

#: The problems table's stage of the scanner.
SCAN_STAGE: Final = "scan"
# SQLite's limit on bound parameters is far above this; it keeps each statement small.
_CHUNK = 500

#: Columns of one track by name: what the scanner read of a file.
TrackValues = dict[str, object]

#: The columns the scanner (re)writes of a track it has read, besides path, display, root.
TRACK_FIELDS: Final = (
    "size",
    "mtime_ns",
    "content_key",
    "fmt",
    "codec",
    "duration",
    "sample_rate",
    "channels",
    "bitrate",
    "title",
    "artist",
    "album",
    "albumartist",
    "genre",
    "year",
    "tracknumber",
    "missing",
    "updated_at",
)

_UPDATE = (
    update(Track)
    .where(Track.id == bindparam("_id"))
    .values({c: bindparam(c) for c in ("path", "display", "root_id", *TRACK_FIELDS)})
)


def _inserting(conn: Connection) -> Executable:
    """The INSERT of new tracks, in the dialect of ``conn``. A path another writer catalogued
    since this scan read the catalogue (another process or machine, or the same folder scanned
    twice at once) is updated, never inserted twice; it keeps its id, its analyses and its
    added_at."""
    new = upsert(conn, Track)
    return new.on_conflict_do_update(
        index_elements=[Track.path],
        set_={c: new.excluded[c] for c in ("display", "root_id", *TRACK_FIELDS)},
    ).returning(Track.id, Track.path)


@dataclass(frozen=True)
class KnownTrack:
    """What the scanner compares a file on disk with."""

    id: int
    root_id: int | None
    size: int
    mtime_ns: int
    content_key: str
    missing: bool


@dataclass
class TrackBatch:
    """One committed batch of a scan."""

    updates: list[tuple[int, TrackValues]] = field(default_factory=list)  # (track id, values)
    inserts: list[TrackValues] = field(default_factory=list)  # with "added_at"
    problems: list[ProblemNote] = field(default_factory=list)
    solved: list[bytes] = field(default_factory=list)  # paths whose scan problem is gone
    lyrics: dict[bytes, tuple[str, str]] = field(default_factory=dict)  # path → (text, source)


def ensure_roots(cat: Catalogue, folders: Iterable[bytes]) -> dict[bytes, int]:
    """The id of each root folder, added to the catalogue when it is new."""
    ids: dict[bytes, int] = {}
    with cat.begin() as conn:
        for folder in folders:
            conn.execute(  # another writer may add the same root at the same moment
                upsert(conn, Root)
                .values(path=folder, display=paths.fs_display(folder), added_at=time.time())
                .on_conflict_do_nothing(index_elements=[Root.path])
            )
            ids[folder] = int(conn.execute(select(Root.id).where(Root.path == folder)).scalar_one())
    return ids


def root_paths(cat: Catalogue) -> list[bytes]:
    """The catalogue's music folders, as the bytes the scanner walked."""
    with cat.read() as conn:
        return [bytes(r) for (r,) in conn.execute(select(Root.path).order_by(Root.path))]


def _prefix(folder: bytes) -> bytes:
    return folder if folder.endswith(b"/") else folder + b"/"


def under(folder: bytes, path: bytes) -> bool:
    """Whether ``path`` lies in ``folder`` (both absolute, normalised)."""
    return path.startswith(_prefix(folder))


def _in_roots(
    cat: Catalogue, root_ids: Iterable[int], folders: Iterable[bytes]
) -> ColumnElement[bool]:
    """Tracks of these roots, or whose path lies in one of these folders whatever their root
    (a folder nested in another root, or holding one): a range on the path's unique index (of
    the stored paths: the folders go through this machine's mounts first)."""
    clauses: list[ColumnElement[bool]] = []
    ids = list(root_ids)
    if ids:
        clauses.append(Track.root_id.in_(ids))
    stored = type_coerce(Track.path, LargeBinary)  # the path as stored: no mount applies
    for folder in folders:
        prefix = _prefix(cat.mounts.to_stored(folder))
        clauses.append(and_(stored >= prefix, stored < prefix[:-1] + b"0"))
    return or_(false(), *clauses)


def known(
    cat: Catalogue, root_ids: Iterable[int], folders: Iterable[bytes] = ()
) -> dict[bytes, KnownTrack]:
    """Path → the track under one of these roots or in one of these folders, missing or not.

    A track is known by its path whatever root it was found under: a folder scanned on its
    own and then as part of its parent (or the other way round) must not insert it twice.
    """
    with cat.read() as conn:
        rows = conn.execute(
            select(
                Track.path,
                Track.id,
                Track.root_id,
                Track.size,
                Track.mtime_ns,
                Track.content_key,
                Track.missing,
            ).where(_in_roots(cat, root_ids, folders))
        )
        return {
            path: KnownTrack(tid, root, size, mtime, key, bool(missing))
            for path, tid, root, size, mtime, key, missing in rows
        }


def missing_by_content_key(cat: Catalogue) -> dict[str, list[int]]:
    """Ids of the tracks marked missing (anywhere), by content key."""
    with cat.read() as conn:
        rows = conn.execute(select(Track.content_key, Track.id).where(Track.missing.is_(True)))
        out: dict[str, list[int]] = {}
        for key, tid in rows:
            out.setdefault(key, []).append(tid)
    return out


def set_missing(cat: Catalogue, ids: Sequence[int], missing: bool) -> None:
    """Mark these tracks missing (or back), in one transaction."""
    if not ids:
        return
    with cat.begin() as conn:
        for i in range(0, len(ids), _CHUNK):
            conn.execute(
                update(Track).where(Track.id.in_(ids[i : i + _CHUNK])).values(missing=missing)
            )


def mark_missing_under(
    cat: Catalogue, folders: Iterable[bytes], exists: Callable[[bytes], bool]
) -> list[str]:
    """Mark missing the available tracks under ``folders`` whose file does not ``exist``;
    their display paths."""
    lost_displays: list[str] = []
    with cat.begin() as conn:
        for folder in folders:
            prefix = cat.mounts.to_stored(folder) + b"/"  # compared with the stored paths
            under = conn.execute(
                select(Track.id, Track.path, Track.display).where(
                    func.substr(Track.path, 1, len(prefix)) == prefix,
                    Track.missing.is_(False),
                )
            ).all()
            lost = [(tid, disp) for tid, path, disp in under if not exists(path)]
            if lost:
                ids = [tid for tid, _ in lost]
                conn.execute(update(Track).where(Track.id.in_(ids)).values(missing=True))
                lost_displays.extend(disp for _, disp in lost)
    return lost_displays


def mark_roots_missing(
    cat: Catalogue, root_ids: Sequence[int], folders: Sequence[bytes] = ()
) -> list[str]:
    """Mark missing every track under these roots or in these (vanished) folders; the display
    paths of those that were not."""
    if not root_ids and not folders:
        return []
    where = _in_roots(cat, root_ids, folders)
    with cat.begin() as conn:
        now_missing = conn.execute(
            select(Track.display).where(where, Track.missing.is_(False))
        ).all()
        conn.execute(update(Track).where(where).values(missing=True))
    return [r[0] for r in now_missing]


def write_batch(cat: Catalogue, batch: TrackBatch) -> None:
    """Write one batch of the scan in one transaction, with a few executemany statements."""
    if cat.mounts:
        _stored_displays(cat, batch)
    with cat.begin() as conn:
        problems.note(conn, SCAN_STAGE, batch.problems)
        ids_by_path: dict[bytes, int] = {}
        if batch.updates:
            updates = _retarget(conn, batch.updates)
            conn.execute(_UPDATE, [{"_id": tid, **values} for tid, values in updates])
            ids_by_path.update((cast(bytes, values["path"]), tid) for tid, values in updates)
        if batch.inserts:
            rows = conn.execute(_inserting(conn), batch.inserts).all()
            ids_by_path.update({bytes(path): int(tid) for tid, path in rows})
        problems.forget(conn, SCAN_STAGE, batch.solved)
        lyrics.upsert(conn, ((ids_by_path[p], t, src) for p, (t, src) in batch.lyrics.items()))


def _retarget(
    conn: Connection, updates: list[tuple[int, TrackValues]]
) -> list[tuple[int, TrackValues]]:
    """The updates, each aimed at the track that holds its path now. A file taken for the moved
    copy of a track may have been catalogued at its new path by another writer since the scan
    read the catalogue: that track gets the values (moving the other onto its path would
    break the path's uniqueness); the other stays where it was, and is found missing later."""
    wanted = [cast(bytes, values["path"]) for _, values in updates]
    holders: dict[bytes, int] = {}
    for i in range(0, len(wanted), _CHUNK):
        rows = conn.execute(
            select(Track.path, Track.id).where(Track.path.in_(wanted[i : i + _CHUNK]))
        )
        holders.update((bytes(path), int(tid)) for path, tid in rows)
    out: dict[int, TrackValues] = {}
    for tid, values in updates:
        out[holders.get(cast(bytes, values["path"]), tid)] = values
    return list(out.items())


def _stored_displays(cat: Catalogue, batch: TrackBatch) -> None:
    """Give the tracks of ``batch`` the display of their stored path: the catalogue shows each
    track by one name, whichever machine read it last."""
    for values in (*(v for _, v in batch.updates), *batch.inserts):
        stored = cat.mounts.to_stored(cast(bytes, values["path"]))
        values["display"] = paths.fs_display(stored)


# --- mounts: where this machine has a root ------------------------------------------------


class MountError(ValueError):
    """A mount that cannot be recorded, with a message for people."""


@dataclass(frozen=True)
class RootInfo:
    """A root as the catalogue stores it, and where this machine has it (None: no mount)."""

    id: int
    stored: bytes
    display: str
    here: bytes | None


def roots(cat: Catalogue) -> list[RootInfo]:
    """The catalogue's roots, by their stored paths, each with this machine's mount if any."""
    machine = machine_id()
    stored = type_coerce(Root.path, LargeBinary)
    with cat.read() as conn:
        rows = conn.execute(
            select(Root.id, stored, Root.display, RootMount.path)
            .outerjoin(
                RootMount, and_(RootMount.root_id == Root.id, RootMount.machine_id == machine)
            )
            .order_by(stored)
        ).all()
    return [
        RootInfo(int(rid), bytes(path), str(disp), None if here is None else bytes(here))
        for rid, path, disp, here in rows
    ]


def add_mount(cat: Catalogue, root: bytes, here: bytes) -> RootInfo:
    """Record that this machine has the root stored as ``root`` (or a root this machine
    already has a mount of, by that folder) at the folder ``here``; the root. Applies from the
    catalogue's next open. :class:`MountError` when ``root`` names no root."""
    root, here = os.path.abspath(root), os.path.abspath(here)
    known = roots(cat)
    found = next((r for r in known if root in (r.stored, r.here)), None)
    if found is None:
        names = ", ".join(paths.fs_display(r.stored) for r in known) or "none yet"
        raise MountError(
            f"{paths.fs_display(root)} is not a music folder of this catalogue (its folders: "
            f"{names})"
        )
    clash = next((r for r in known if r.here == here and r.id != found.id), None)
    if clash is not None:
        raise MountError(
            f"{paths.fs_display(here)} is already where this machine has "
            f"{paths.fs_display(clash.stored)}"
        )
    values = {"path": here, "display": paths.fs_display(here), "added_at": time.time()}
    with cat.begin() as conn:
        new = upsert(conn, RootMount).values(root_id=found.id, machine_id=machine_id(), **values)
        conn.execute(
            new.on_conflict_do_update(
                index_elements=[RootMount.root_id, RootMount.machine_id], set_=values
            )
        )
    return RootInfo(found.id, found.stored, found.display, here)
