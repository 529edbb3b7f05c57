"""The catalogue: one SQLite file (or a PostgreSQL database), reached through SQLAlchemy 2.x.

Tables are declared here and nowhere else. The schema carries a version in ``meta``; opening an
older catalogue backs it up with SQLite's online-backup API and then runs the migrations in
:data:`MIGRATIONS`, one version at a time, each in its own transaction.

Paths are kept as bytes (``os.fsencode``) so that names which are not valid UTF-8 survive,
next to a display string for people.

Faults: the catalogue file, its ``-wal``/``-shm`` and its backups are made 0600 and its folder
0700, whatever the umask. A catalogue that was not closed cleanly (see :func:`closed_cleanly`)
gets a ``PRAGMA quick_check`` when it is opened, and so does every catalogue before a backup or
a migration. The SQLite errors that people can act on (damaged, read-only, disk full, busy)
become a :class:`CatalogueError` of one line. A catalogue that cannot be written opens read-only.

PostgreSQL: ``Catalogue("postgresql://…")`` (psycopg 3) opens a database on a server, which
several processes and machines may write at once: the server's transactions and row locks order
them, so none of the file machinery above applies (no PRAGMAs, WAL, quick_check, clean-close
mark, file modes, backups or write lock; backups are ``pg_dump``'s job). The schema and the
migrations are the same. Such a catalogue is also named by a small *connection file*
(:data:`SERVER_SUFFIX`, 0600, in the data folder) that holds its URL: ``Catalogue.path`` is that
file, so whatever reopens a catalogue from its path (a worker process, the recent list) reopens
the same database, and whatever keeps files beside a catalogue keeps them beside it.

Mounts: a catalogue shared by several machines stores each track's path as the machine that
added its root saw it. Another machine that has the same music at another folder records a
*mount* of that root (``root_mounts``: root, :func:`machine_id`, its folder there). On open, a
catalogue reads this machine's mounts (:class:`Mounts`), and the paths of roots, tracks and
problems (the column type :class:`StoredPath`) turn into this machine's paths as they are read
and back into the stored ones as they are written: the scanner, the analysis, the player and
the exports all see the files where they are here, and nothing is catalogued twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sqlite3
import time
import urllib.parse
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    inspect,
    text,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from musicorg import paths
from musicorg.jobs import CancelFn, Cancelled, paused

log = logging.getLogger(__name__)

SCHEMA_VERSION = 5
# How long a writer waits for another process's write transaction before giving up.
BUSY_TIMEOUT_S = float(os.environ.get("MUSICORG_BUSY_TIMEOUT", "15"))


#: Rows fetched at a time by :func:`all_rows`.
SLICE_ROWS = 5000


def streamed(statement: Any) -> Any:
    """``statement`` (a copy) for a read of wide rows of the whole library (vectors and tags)
    a slice at a time: on a server, its rows come from a server-side cursor as the slices are
    fetched. A plain query on PostgreSQL sends every row before the first slice is read: at a
    million tracks the playlists' read peaked at 2.1 GB (1.4 GB streamed) and took as long
    (13-17 s). Narrow rows read faster plainly (the window's columns: 3.3 s against 3.9-5.1 s
    streamed, the map's coordinates 2.7 s against 3.1-3.7 s), so they are not streamed. SQLite
    reads a row at a time anyway."""
    return statement.execution_options(stream_results=True)


def all_rows(conn: Connection, statement: Any) -> list[Any]:
    """Every row of ``statement``, fetched :data:`SLICE_ROWS` at a time with a pause between
    slices. For the window's reads of the whole library, made in a worker thread: one fetch
    of 100,000 rows builds them all in one C call that holds the GIL, and the window (another
    thread) stalls for as long (100-200 ms)."""
    out: list[Any] = []
    for part in paused(conn.execute(statement).partitions(SLICE_ROWS)):
        out.extend(part)
    return out


#: Rows :func:`drop_rows` frees at a time.
DROP_ROWS = 50_000


def drop_rows(rows: list[Any]) -> None:
    """Empty ``rows`` (a list :func:`all_rows` read, used up) a slice at a time from its end,
    with a pause between slices: the last reference to a million rows, let go at once, frees
    them all in one C call that holds the GIL for 50-70 ms."""
    for _slice in paused(range(0, len(rows), DROP_ROWS)):
        del rows[-DROP_ROWS:]


class CatalogueError(RuntimeError):
    """A catalogue that cannot be opened or used, with a message for people."""


class CatalogueBusyError(CatalogueError):
    """Another musicorg process held the catalogue's write lock for too long."""


class CatalogueDamagedError(CatalogueError):
    """The catalogue file is damaged: SQLite finds it malformed, or not a database at all."""


class CatalogueReadOnlyError(CatalogueError):
    """A change asked of a catalogue that this process cannot write (or cannot create)."""


class CatalogueFullError(CatalogueError):
    """The disk (or the quota) holding the catalogue has no room for a change."""


#: The mode of the catalogue's files (SQLite gives its -wal and -shm the mode of the file).
FILE_MODE = 0o600
#: How many SQLite steps of the opening check go by between two asks of its ``cancel``.
_CANCEL_STEPS = 4_000
#: Beside ``catalogue.sqlite``: ``catalogue.sqlite-clean``, the clean-close mark.
CLEAN_MARK_SUFFIX = "-clean"
_DAMAGE_WORDS = ("malformed", "not a database", "disk image")


def _one_line(detail: object, limit: int = 160) -> str:
    flat = " ".join(str(detail).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def damaged_message(path: Path | str, detail: object) -> str:
    """What a damaged catalogue says, on one line: what, where and what to do."""
    return (
        f"the catalogue {path} is damaged ({_one_line(detail)}); run `musicorg doctor` to see "
        "its backups and how to restore one"
    )


def read_only_message(path: Path | str) -> str:
    return (
        f"the catalogue {path} is read-only; it can be read, but to change it make the file "
        "and its folder writable"
    )


def full_message(path: Path | str) -> str:
    return (
        f"the disk holding the catalogue {path} is full; free some space there and run the "
        "command again (the unfinished change was rolled back)"
    )


def translate_error(
    path: Path | str, exc: BaseException, *, busy: str = ""
) -> CatalogueError | None:
    """The :class:`CatalogueError` that SQLite's error ``exc`` means, or None when it means
    none that people can act on (a bug: let it raise as it is). ``busy`` words the message of
    "database is locked"."""
    if not isinstance(exc, sqlite3.Error | DBAPIError):
        return None
    if isinstance(exc, DBAPIError) and type(exc.orig).__module__.startswith("psycopg"):
        return _server_error(path, exc)
    detail = str(getattr(exc, "orig", None) or exc)
    low = detail.lower()
    if any(word in low for word in _DAMAGE_WORDS):
        return CatalogueDamagedError(damaged_message(path, detail))
    if "readonly" in low or "read-only" in low:
        return CatalogueReadOnlyError(read_only_message(path))
    if "disk is full" in low:
        return CatalogueFullError(full_message(path))
    if "database is locked" in low:
        return CatalogueBusyError(
            busy or f"another musicorg process is writing to {path}; try again when it is done"
        )
    if "unable to open database file" in low or "disk i/o error" in low:
        return CatalogueError(
            f"cannot use the catalogue {path} ({_one_line(detail)}); check that it and its "
            "folder exist and that this user may read them"
        )
    return None


# --- PostgreSQL: URLs, connection files, errors ------------------------------------------------

#: The URL schemes of a catalogue on a PostgreSQL server.
SERVER_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")
#: The connection file of a server catalogue: its URL, in the data folder.
SERVER_SUFFIX = ".pgurl"


def is_server_url(location: object) -> bool:
    """Whether ``location`` (a ``--db`` value, a setting) is a PostgreSQL URL, not a file."""
    return isinstance(location, str) and location.startswith(SERVER_SCHEMES)


def is_server(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` names a catalogue on a server: its URL or its connection file."""
    return is_server_url(location) or os.fspath(location).endswith(SERVER_SUFFIX)


def _on_server(dialect_name: str) -> bool:
    return dialect_name == "postgresql"


def server_url(url: str) -> str:
    """``url`` with the driver SQLAlchemy is to use: psycopg 3."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def _server_engine_args(connect: dict[str, Any]) -> dict[str, Any]:
    """``create_engine``'s arguments for a server (``connect``: psycopg's own), for write speed:
    SQLAlchemy writes ``$1`` placeholders and psycopg's ``RawCursor`` sends them as they are.
    With psycopg's usual ``%(name)s``, every page of a many-row INSERT … RETURNING (1,000 rows
    of some 20 values) is parsed anew in Python (psycopg caches short queries only): 7 s of
    CPU per 40,000 tracks written, against 1 s this way. psycopg before 3.2 has no RawCursor."""
    import psycopg  # lazy: SQLite never needs psycopg

    raw = getattr(psycopg, "RawCursor", None)
    if raw is None:
        return {"connect_args": connect}
    return {"paramstyle": "numeric_dollar", "connect_args": {**connect, "cursor_factory": raw}}


def _raw_server_cursors(dbapi_conn: Any, _record: Any) -> None:
    """A new server connection's named (server-side) cursors take ``$1`` placeholders too, as
    its plain ones do (see :func:`_server_engine_args`; :func:`streamed` reads use them)."""
    import psycopg  # lazy: SQLite never needs psycopg

    raw = getattr(psycopg, "RawServerCursor", None)
    if raw is not None and getattr(psycopg, "RawCursor", None) is not None:
        dbapi_conn.server_cursor_factory = raw


def shown_url(url: str) -> str:
    """``url`` as messages and logs show it: without its password."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = urllib.parse.quote(parts.username or "", safe="")
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def connection_file(url: str) -> Path:
    """The connection file that names the server catalogue at ``url`` (not made here)."""
    parts = urllib.parse.urlsplit(server_url(url))
    name = parts.path.strip("/") or "catalogue"
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40]
    digest = hashlib.sha256(server_url(url).encode()).hexdigest()[:10]
    return paths.data_dir() / "servers" / f"{safe}-{digest}{SERVER_SUFFIX}"


def read_connection_file(path: Path) -> str:
    """The URL in the connection file at ``path``; a :class:`CatalogueError` when unreadable."""
    try:
        url = path.read_text("utf-8").strip()
    except (OSError, ValueError) as exc:
        raise CatalogueError(
            f"cannot read the catalogue's connection file {path} ({exc}); open the catalogue "
            "by its URL (--db postgresql://…)"
        ) from exc
    if not is_server_url(url):
        raise CatalogueError(f"{path} holds no postgresql:// URL")
    return url


def write_connection_file(url: str) -> Path:
    """Write (0600, atomically) the connection file of ``url`` unless it holds it already."""
    path = connection_file(url)
    paths.make_dir(path.parent, paths.PRIVATE_MODE)
    try:
        if path.read_text("utf-8").strip() == url:
            return path
    except (OSError, ValueError):
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    create_private(tmp)
    tmp.write_text(url + "\n", "utf-8")
    os.replace(tmp, path)
    return path


def _server_error(where: Path | str, exc: DBAPIError) -> CatalogueError | None:
    """What a PostgreSQL error means to people, or None (a bug: let it raise as it is)."""
    detail = _one_line(getattr(exc, "orig", None) or exc)
    low = detail.lower()
    if "no space left" in low or "could not extend file" in low:
        return CatalogueFullError(
            f"the server of the catalogue {where} has no room ({detail}); the unfinished "
            "change was rolled back"
        )
    if "permission denied" in low or "read-only transaction" in low:
        return CatalogueReadOnlyError(
            f"the catalogue {where} cannot be changed by this user ({detail}); ask its "
            "administrator for write access"
        )
    if type(exc.orig).__name__ == "OperationalError" or exc.connection_invalidated:
        return CatalogueError(
            f"cannot reach the catalogue {where} ({detail}); check that the server runs and "
            "the URL (--db, or catalogue_url in the settings)"
        )
    return None


def upsert(conn: Connection, table: Any) -> sqlite.Insert:
    """An INSERT into ``table`` with ``on_conflict_do_update``/``on_conflict_do_nothing`` and
    ``excluded``, in the dialect of ``conn`` (SQLite's, or PostgreSQL's: the same calls)."""
    if _on_server(conn.dialect.name):
        # lazy: SQLAlchemy's PostgreSQL dialect costs 60 ms of import that SQLite never needs
        from sqlalchemy.dialects import postgresql

        # The two Insert classes take the same on_conflict_* arguments.
        return postgresql.insert(table)  # type: ignore[return-value]
    return sqlite.insert(table)


def follow_ids(conn: Connection, table: Any) -> None:
    """After rows were inserted into ``table`` with ids of our own choosing: make the
    server's id sequence continue after them (SQLite needs nothing: it takes the largest)."""
    if _on_server(conn.dialect.name):
        name = getattr(table, "__tablename__", None) or table.name
        seq = f"pg_get_serial_sequence('{name}', 'id')"
        conn.exec_driver_sql(
            f"SELECT setval({seq}, GREATEST((SELECT MAX(id) FROM {name}), nextval({seq})))"
        )


def lock_ids(conn: Connection, table: Any) -> None:
    """Before choosing ids for new rows of ``table`` from those already there: on a server,
    wait for any other writer doing the same, until this transaction ends (a lock of the
    server's); on SQLite nothing (BEGIN IMMEDIATE lets one writer in at a time already)."""
    if _on_server(conn.dialect.name):
        name = getattr(table, "__tablename__", None) or table.name
        key = zlib.crc32(name.encode()) & 0x7FFF_FFFF
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_IDS_LOCK}, {key})")


# --- mounts: the same music at another folder on another machine ------------------------------

#: Names this machine in ``root_mounts`` (tests set it; else /etc/machine-id, else the host).
MACHINE_ID_ENV = "MUSICORG_MACHINE_ID"


def machine_id() -> str:
    """This machine, as ``root_mounts`` names it: ``MUSICORG_MACHINE_ID``, else systemd's
    /etc/machine-id, else the host name."""
    chosen = os.environ.get(MACHINE_ID_ENV, "").strip()
    if chosen:
        return chosen
    try:
        found = Path("/etc/machine-id").read_text("ascii").strip()
    except (OSError, ValueError):
        found = ""
    return found or socket.gethostname()


def _swap(path: bytes, pairs: Iterable[tuple[bytes, bytes]]) -> bytes:
    """``path`` with the first ``(from, to)`` folder that holds it replaced by ``to``."""
    for src, dst in pairs:
        if path == src:
            return dst
        prefix = src if src.endswith(b"/") else src + b"/"
        if path.startswith(prefix):
            return (dst if dst.endswith(b"/") else dst + b"/") + path[len(prefix) :]
    return path


@dataclass(frozen=True)
class Mounts:
    """This machine's folders of the catalogue's roots: ``(stored root, folder here)``."""

    pairs: tuple[tuple[bytes, bytes], ...] = ()
    _stored_first: tuple[tuple[bytes, bytes], ...] = field(init=False, repr=False)
    _local_first: tuple[tuple[bytes, bytes], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # The longest folder first: a root nested in another one has a mount of its own.
        by_stored = sorted(self.pairs, key=lambda p: -len(p[0]))
        by_local = sorted(((here, stored) for stored, here in self.pairs), key=lambda p: -len(p[0]))
        object.__setattr__(self, "_stored_first", tuple(by_stored))
        object.__setattr__(self, "_local_first", tuple(by_local))

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def to_local(self, path: bytes) -> bytes:
        """A stored path as this machine reaches the file."""
        return _swap(path, self._stored_first)

    def to_stored(self, path: bytes) -> bytes:
        """A path on this machine as the catalogue stores it."""
        return _swap(path, self._local_first)


#: The mounts of each open catalogue's engine (by its dialect, one per engine) that has some.
_MOUNTS: weakref.WeakKeyDictionary[Dialect, Mounts] = weakref.WeakKeyDictionary()


def read_mounts(conn: Connection, machine: str) -> Mounts:
    """The mounts of ``machine`` (read as stored: no mapping applies to this query)."""
    rows = conn.execute(
        text(
            "SELECT r.path, m.path FROM root_mounts m JOIN roots r ON r.id = m.root_id "
            "WHERE m.machine_id = :m"
        ),
        {"m": machine},
    ).all()
    return Mounts(tuple((bytes(r[0]), bytes(r[1])) for r in rows if bytes(r[0]) != bytes(r[1])))


class StoredPath(TypeDecorator[bytes]):
    """A file's path as bytes (``os.fsencode``): stored as the catalogue knows it, read and
    written as this machine sees it (:class:`Mounts`). An engine without mounts converts
    nothing (the plain type's processors: no cost)."""

    impl = LargeBinary
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect not in _MOUNTS:
            return self.impl_instance.bind_processor(dialect)
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect not in _MOUNTS:
            return self.impl_instance.result_processor(dialect, coltype)
        return super().result_processor(dialect, coltype)

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        mounts = _MOUNTS.get(dialect)
        if mounts is None or not isinstance(value, bytes):
            return value
        return mounts.to_stored(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        mounts = _MOUNTS.get(dialect)
        if mounts is None or value is None:
            return value if value is None else bytes(value)
        return mounts.to_local(bytes(value))


class Base(DeclarativeBase):
    pass


#: An integer past 2**31 (file sizes, nanosecond mtimes): SQLite's INTEGER holds any, and
#: stays as it was; PostgreSQL's needs BIGINT.
BIG = Integer().with_variant(BigInteger(), "postgresql")


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Root(Base):
    """A music folder the user added. Tracks under a root that is not there are *missing*."""

    __tablename__ = "roots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[bytes] = mapped_column(StoredPath, unique=True)
    display: Mapped[str] = mapped_column(Text)
    added_at: Mapped[float] = mapped_column(Float)


class Track(Base):
    __tablename__ = "tracks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[bytes] = mapped_column(StoredPath, unique=True)
    display: Mapped[str] = mapped_column(Text)
    root_id: Mapped[int | None] = mapped_column(ForeignKey("roots.id", ondelete="SET NULL"))
    size: Mapped[int] = mapped_column(BIG)
    mtime_ns: Mapped[int] = mapped_column(BIG)
    content_key: Mapped[str] = mapped_column(String, index=True)
    fmt: Mapped[str] = mapped_column(String)  # real container, from the bytes, not the name
    codec: Mapped[str | None] = mapped_column(String)
    duration: Mapped[float | None] = mapped_column(Float)
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[int | None] = mapped_column(Integer)
    bitrate: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    artist: Mapped[str | None] = mapped_column(Text)
    album: Mapped[str | None] = mapped_column(Text)
    albumartist: Mapped[str | None] = mapped_column(Text)
    genre: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    tracknumber: Mapped[int | None] = mapped_column(Integer)
    missing: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    added_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Lyrics(Base):
    __tablename__ = "lyrics"
    track_id: Mapped[int] = mapped_column(
        ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True
    )
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String)  # id3-uslt, vorbis, mp4, sidecar-lrc, ...
    updated_at: Mapped[float] = mapped_column(Float)


class GeniusCache(Base):
    """Answers from Genius, so that a song is asked for once (a miss is cached too)."""

    __tablename__ = "genius_cache"
    query: Mapped[str] = mapped_column(Text, primary_key=True)
    lyrics: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[float] = mapped_column(Float)


class Problem(Base):
    """A file a stage could not handle, with the mtime it had then: retried only when it changes."""

    __tablename__ = "problems"
    __table_args__ = (UniqueConstraint("path", "stage"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[bytes] = mapped_column(StoredPath)
    display: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String)  # scan, analyze (the analyse stage), lyrics
    kind: Mapped[str] = mapped_column(String)  # "not audio", "empty", "truncated", ...
    message: Mapped[str] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BIG)
    mtime_ns: Mapped[int | None] = mapped_column(BIG)
    seen_at: Mapped[float] = mapped_column(Float)


# --- schema 2: analysis, embeddings, playlists, map -------------------------------------------


class Analysis(Base):
    """Audio features of one content key; byte-equal duplicates share a row."""

    __tablename__ = "analyses"
    content_key: Mapped[str] = mapped_column(String, primary_key=True)
    features_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    features: Mapped[bytes] = mapped_column(LargeBinary)  # float32, row-major
    shape: Mapped[str] = mapped_column(String)  # "39x130"
    stats: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32 (78,): mean+std per row
    tempo: Mapped[float | None] = mapped_column(Float)
    brightness: Mapped[float | None] = mapped_column(Float)
    energy: Mapped[float | None] = mapped_column(Float)
    weak: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    # Schema 3 (features version 3): MusiCNN's penultimate vector (float32 (200,), the mean
    # over the window's patches), its 50 tag probabilities (float32 (50,), same mean) and the
    # number of 3-s patches behind them.
    musicnn: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    tags: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    n_patches: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Embedding(Base):
    __tablename__ = "embeddings"
    content_key: Mapped[str] = mapped_column(String, primary_key=True)
    model_version: Mapped[str] = mapped_column(String, primary_key=True)
    mu: Mapped[bytes] = mapped_column(LargeBinary)  # float32
    created_at: Mapped[float] = mapped_column(Float)


class Playlist(Base):
    __tablename__ = "playlists"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String, index=True)  # "auto" or "user"
    model_version: Mapped[str | None] = mapped_column(String, index=True)  # auto playlists only
    group_name: Mapped[str | None] = mapped_column(Text)
    group_index: Mapped[int | None] = mapped_column(Integer)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    renamed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class PlaylistItem(Base):
    __tablename__ = "playlist_items"
    playlist_id: Mapped[int] = mapped_column(
        ForeignKey("playlists.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), index=True)


class MapCoord(Base):
    __tablename__ = "map_coords"
    model_version: Mapped[str] = mapped_column(String, primary_key=True)
    method: Mapped[str] = mapped_column(String, primary_key=True)  # "pca" or "umap"
    content_key: Mapped[str] = mapped_column(String, primary_key=True)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)


# --- schema 4: what was played ----------------------------------------------------------------


class Play(Base):
    """How often a track was played and skipped in musicorg's player, and when last (epoch
    seconds). A track with no row was never played; the row goes with its track."""

    __tablename__ = "plays"
    track_id: Mapped[int] = mapped_column(
        ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True
    )
    play_count: Mapped[int] = mapped_column(Integer, default=0)
    last_played: Mapped[float | None] = mapped_column(Float, nullable=True)
    skip_count: Mapped[int] = mapped_column(Integer, default=0)
    last_skipped: Mapped[float | None] = mapped_column(Float, nullable=True)


# --- schema 5: where each machine has a root ------------------------------------------------


class RootMount(Base):
    """The folder where one machine has the music of a root that another machine added (a
    catalogue shared by several desktops): see :class:`Mounts`. The path is this machine's,
    as it is (no mapping)."""

    __tablename__ = "root_mounts"
    __table_args__ = (UniqueConstraint("machine_id", "path"),)
    root_id: Mapped[int] = mapped_column(
        ForeignKey("roots.id", ondelete="CASCADE"), primary_key=True
    )
    machine_id: Mapped[str] = mapped_column(String, primary_key=True)
    path: Mapped[bytes] = mapped_column(LargeBinary)
    display: Mapped[str] = mapped_column(Text)
    added_at: Mapped[float] = mapped_column(Float)


Index("ix_tracks_root", Track.root_id)

# A track as lists of tracks show and keep it (playlist mirror, suggestions): in this order.
TRACK_ENTRY = (
    Track.path,
    Track.display,
    Track.content_key,
    Track.artist,
    Track.title,
    Track.duration,
)


def record_problem(
    conn: Connection,
    path: bytes,
    stage: str,
    kind: str,
    message: str,
    *,
    size: int | None,
    mtime_ns: int | None,
) -> None:
    """Note (or refresh) why ``stage`` could not handle the file at ``path``; the size and
    mtime say when to retry it (only once the file changes)."""
    values = {
        "display": os.fsencode(path).decode("utf-8", errors="backslashreplace"),
        "kind": kind,
        "message": message,
        "size": size,
        "mtime_ns": mtime_ns,
        "seen_at": time.time(),
    }
    where = (Problem.path == path, Problem.stage == stage)
    if not conn.execute(update(Problem).where(*where).values(**values)).rowcount:
        conn.execute(insert(Problem).values(path=path, stage=stage, **values))


# --- migrations -------------------------------------------------------------------------------

SCHEMA_2_TABLES = ("analyses", "embeddings", "playlists", "playlist_items", "map_coords")


def _migrate_1_to_2(conn: Connection) -> None:
    """Schema 2 adds the tables of analysis, embeddings, playlists and map coordinates."""
    tables = [Base.metadata.tables[name] for name in SCHEMA_2_TABLES]
    Base.metadata.create_all(conn, tables=tables)


def _migrate_2_to_3(conn: Connection) -> None:
    """Schema 3 adds MusiCNN's vector, tags and patch count to the analyses (a table that the
    step from schema 1 just created already has them)."""
    if _on_server(conn.dialect.name):
        have = {c["name"] for c in inspect(conn).get_columns("analyses")}
        blob = "BYTEA"
    else:
        have = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(analyses)")}
        blob = "BLOB"
    for name, kind in (("musicnn", blob), ("tags", blob), ("n_patches", "INTEGER")):
        if name not in have:
            conn.exec_driver_sql(f"ALTER TABLE analyses ADD COLUMN {name} {kind}")


def _migrate_3_to_4(conn: Connection) -> None:
    """Schema 4 adds the plays table (what the player played and skipped)."""
    Base.metadata.create_all(conn, tables=[Base.metadata.tables["plays"]])


def _migrate_4_to_5(conn: Connection) -> None:
    """Schema 5 adds the root_mounts table (each machine's folder of a shared root)."""
    Base.metadata.create_all(conn, tables=[Base.metadata.tables["root_mounts"]])


#: The key of the server lock that one process holds while it creates or migrates the schema.
_SCHEMA_LOCK = 0x6D75_7369  # "musi"
#: The first key of the server locks of :func:`lock_ids` (the second is the table's).
_IDS_LOCK = 0x6964_7321  # "ids!"

MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
    3: _migrate_3_to_4,
    4: _migrate_4_to_5,
}


def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's own transaction handling drive BEGIN; pysqlite's implicit one is off.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    cur.close()


def _on_connect_read_only(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # No journal mode here: changing it is a write (the file is in WAL mode already).
    dbapi_conn.isolation_level = None
    dbapi_conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}").close()


def _on_begin(conn: Connection) -> None:
    # A write transaction starts with BEGIN IMMEDIATE: it takes the write lock at once, so two
    # writers queue on busy_timeout instead of failing half-way with "database is locked".
    # Reads start a deferred transaction and, in WAL mode, never block or wait for a writer.
    write = conn.get_execution_options().get("musicorg_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


# --- files: modes, read-only access, the clean-close mark -------------------------------------


def _sidecar(path: Path, suffix: str) -> Path:
    return Path(f"{path}{suffix}")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _folder_writable(path: Path) -> bool:
    return os.access(path.parent, os.W_OK | os.X_OK)


def writable(path: Path) -> bool:
    """Whether this process can change the catalogue at ``path`` (or create it there): the
    file and its folder, where SQLite makes the ``-wal`` and ``-shm`` files, must be writable."""
    return _folder_writable(path) and (not path.exists() or os.access(path, os.W_OK))


def create_private(path: Path) -> None:
    """Make ``path`` an empty file of mode 0600 (whatever the umask), or truncate it to one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def _read_only_params(path: Path) -> str:
    """The URI parameters that open the WAL-mode catalogue at ``path`` for reading only.

    SQLite reads a WAL file through the ``-shm`` index: with one there (even read-only), or a
    folder where it can make one, ``mode=ro`` sees every committed change. In a read-only
    folder with neither ``-shm`` nor changes waiting in a ``-wal``, nobody is connected and
    nobody can start writing in WAL mode (it would need a ``-shm`` there), so the file is read
    as ``immutable``. With changes waiting and no ``-shm``, there is no correct way to read it.
    """
    if _sidecar(path, "-shm").exists() or _folder_writable(path):
        return "mode=ro"
    if _size(_sidecar(path, "-wal")) > 0:
        raise CatalogueReadOnlyError(
            f"cannot read the catalogue {path}: it holds changes that were never merged into it "
            "and its folder is read-only; make the folder writable and run the command again"
        )
    return "mode=ro&immutable=1"


def connect_uri(path: Path, *, read_only: bool) -> str:
    """The ``file:`` URI that :func:`sqlite3.connect` (``uri=True``) opens ``path`` with."""
    base = "file:" + urllib.parse.quote(os.fsencode(path.absolute()))
    return f"{base}?{_read_only_params(path) if read_only else 'mode=rwc'}"


def raw_connect(path: Path, *, read_only: bool | None = None) -> sqlite3.Connection:
    """A plain SQLite connection to the file at ``path``; read-only when asked, or when this
    process cannot write it."""
    if read_only is None:
        read_only = not writable(path)
    uri = connect_uri(path, read_only=read_only)
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False)


def tidy_read_only(path: Path, had_shm: bool) -> None:
    """After reading a catalogue that this process cannot write: remove the ``-wal`` and
    ``-shm`` that opening it made (``had_shm`` False), when no change waits in the ``-wal``.
    SQLite gives them the file's mode, so a 0444 ``-shm`` left there would stop whoever makes
    the file writable again. Only then: a writable catalogue's ``-shm`` may be in use by
    another process, and removing it under that process is not safe."""
    if had_shm or os.access(path, os.W_OK) or _size(_sidecar(path, "-wal")):
        return
    for suffix in ("-wal", "-shm"):
        try:
            _sidecar(path, suffix).unlink(missing_ok=True)
        except OSError:
            return


def clean_mark(path: Path) -> Path:
    """The clean-close mark of the catalogue at ``path``: see :func:`closed_cleanly`."""
    return _sidecar(path, CLEAN_MARK_SUFFIX)


def fingerprint(path: Path) -> str | None:
    """What the clean-close mark holds: the file's device, inode, size, mtime and ctime."""
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"


def closed_cleanly(path: Path) -> bool:
    """Whether the catalogue at ``path`` is as the last :meth:`Catalogue.close` left it.

    Closing a healthy catalogue writes its :func:`fingerprint` into the mark beside it. A
    crash, another process writing, or anything else that changed the file since (random bytes
    written into it, a copy over it) changes the fingerprint; changes not yet merged leave a
    non-empty ``-wal``. Either way the next open runs ``PRAGMA quick_check``. The mark is
    never cleared on open, so several processes may hold the catalogue at once: the worst a
    stale or missing mark costs is one quick_check. On a healthy catalogue closed cleanly the
    test is two ``stat`` calls and a read of a 60-byte file.
    """
    if _size(_sidecar(path, "-wal")) > 0:
        return False
    try:
        mark = clean_mark(path).read_text("ascii").strip()
    except (OSError, ValueError):
        return False
    return mark == fingerprint(path)


def write_clean_mark(path: Path) -> None:
    """Write the clean-close mark of ``path`` (0600, atomically); quietly nothing where the
    folder cannot be written."""
    value = fingerprint(path)
    if value is None:
        return
    mark = clean_mark(path)
    tmp = mark.with_name(f".{mark.name}.{os.getpid()}.tmp")
    try:
        create_private(tmp)
        tmp.write_text(value + "\n", "ascii")
        os.replace(tmp, mark)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        log.debug("no clean-close mark for %s: %s", path, exc)


def forget_clean_mark(path: Path) -> None:
    """Remove the mark (the catalogue was found damaged): the next open checks it."""
    try:
        clean_mark(path).unlink(missing_ok=True)
    except OSError as exc:
        log.debug("could not remove the clean-close mark of %s: %s", path, exc)


def quick_check(path: Path) -> str | None:
    """``PRAGMA quick_check`` of the SQLite file at ``path``, read-only: None when it is
    healthy, else what is wrong (one line). :class:`CatalogueError` when it cannot be read at
    all (no permission, no such file) rather than damaged."""
    had_shm = _sidecar(path, "-shm").exists()
    try:
        con = raw_connect(path, read_only=True)
        try:
            rows = con.execute("PRAGMA quick_check").fetchall()
        finally:
            con.close()
            tidy_read_only(path, had_shm)
    except sqlite3.Error as exc:
        err = translate_error(path, exc)
        if isinstance(err, CatalogueDamagedError) or err is None:
            return _one_line(exc)
        raise err from exc
    if rows == [("ok",)]:
        return None
    return _one_line("; ".join(str(r[0]) for r in rows[:3]))


def backup(src: Path, dest: Path) -> Path:
    """Copy a live catalogue consistently with SQLite's backup API, to a file of mode 0600 in
    rollback-journal mode (a lone file: reading it later makes no ``-wal`` beside it)."""
    paths.make_dir(dest.parent, paths.PRIVATE_MODE)
    create_private(dest)
    s = raw_connect(src)
    try:
        d = sqlite3.connect(dest)
        try:
            s.backup(d)
            d.execute("PRAGMA journal_mode=DELETE").close()
        finally:
            d.close()
    finally:
        s.close()
    return dest


def _has_table(conn: Connection, name: str) -> bool:
    if _on_server(conn.dialect.name):
        return inspect(conn).has_table(name)
    found = conn.exec_driver_sql(
        f"SELECT 1 FROM sqlite_master WHERE type='table' AND name='{name}'"
    ).first()
    return found is not None


def read_schema_version(conn: Connection) -> int:
    if not _has_table(conn, "meta"):
        if _has_table(conn, "tracks"):
            raise CatalogueError("this file is not a musicorg catalogue (it has no schema version)")
        return 0
    row = conn.execute(text("SELECT value FROM meta WHERE key='schema_version'")).first()
    return int(row[0]) if row else 0


def _make_folder(path: Path) -> None:
    """The catalogue's folder, made 0700 if missing; one line when it cannot be."""
    try:
        paths.make_dir(path.parent, paths.PRIVATE_MODE)
    except OSError as exc:
        raise CatalogueReadOnlyError(
            f"cannot make the folder {path.parent} for the catalogue ({exc.strerror or exc}); "
            "make its parent writable or choose another place (MUSICORG_DATA_DIR, or --db)"
        ) from exc
    if not path.exists() and not _folder_writable(path):
        raise CatalogueReadOnlyError(
            f"cannot create the catalogue {path}: its folder is not writable; make it "
            "writable or choose another place (MUSICORG_DATA_DIR, or --db)"
        )


class Catalogue:
    """An open catalogue file: an engine, plus helpers for transactions.

    A catalogue this process cannot write opens read-only (``read_only`` forces it): reads
    work, and :meth:`begin` raises :class:`CatalogueReadOnlyError`. ``checked`` says whether
    opening it ran ``PRAGMA quick_check`` (it was not closed cleanly: :func:`closed_cleanly`).
    That check reads the whole file (seconds at a million tracks): the window opens a catalogue
    off its UI thread, and ``cancel`` (when it answers True) stops the check with
    :class:`~musicorg.jobs.Cancelled`, the catalogue left closed and unchanged.

    ``location`` is a file, or a PostgreSQL URL (or its connection file): ``server`` is True
    then, ``url`` holds the URL, and ``path`` is the connection file (see the module's note).
    """

    checked: bool
    #: The server's URL (None for a SQLite file).
    url: str | None = None
    #: This machine's folders of the catalogue's roots (read on open; see :class:`Mounts`).
    mounts: Mounts = Mounts()

    def __init__(
        self,
        location: Path | str,
        *,
        migrate: bool = True,
        read_only: bool = False,
        cancel: CancelFn | None = None,
    ) -> None:
        if is_server(location):
            self._open_server(location, migrate=migrate, read_only=read_only)
            return
        self.path = Path(location)
        _make_folder(self.path)
        self.read_only = read_only or not writable(self.path)
        if not self.read_only and not self.path.exists():
            create_private(self.path)  # SQLite gives the -wal and -shm this mode too
        self._healthy = False
        self._mark_seen = fingerprint(self.path) if closed_cleanly(self.path) else None
        self._had_shm = _sidecar(self.path, "-shm").exists()  # see tidy_read_only
        uri = connect_uri(self.path, read_only=self.read_only)
        self.engine: Engine = create_engine(
            f"sqlite:///{self.path}",
            creator=lambda: sqlite3.connect(
                uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False
            ),
        )
        on_connect = _on_connect_read_only if self.read_only else _on_connect
        event.listen(self.engine, "connect", on_connect)
        event.listen(self.engine, "begin", _on_begin)
        try:
            self._check(cancel)
            self._prepare(migrate)
            self._load_mounts()
        except Exception as exc:
            self.engine.dispose()
            if isinstance(exc, CatalogueError):
                raise
            err = translate_error(self.path, exc)
            if err is None:
                raise
            raise err from exc
        self._healthy = True

    @property
    def server(self) -> bool:
        """Whether the catalogue is a database on a PostgreSQL server."""
        return self.url is not None

    @property
    def where(self) -> str:
        """The catalogue as messages name it: its file, or its URL without the password."""
        return shown_url(self.url) if self.url is not None else str(self.path)

    def _open_server(self, location: Path | str, *, migrate: bool, read_only: bool) -> None:
        """Open the database at a URL (or the connection file's): no file machinery."""
        if is_server_url(location):
            url = str(location)
            self.path = write_connection_file(url)
        else:
            self.path = Path(location)
            url = read_connection_file(self.path)
        self.url = url
        self.read_only = read_only
        self.checked = False
        self._healthy = True
        self._mark_seen = None
        self._had_shm = False
        # A server that does not answer fails the open within seconds, not minutes.
        connect: dict[str, Any] = {} if "connect_timeout" in url else {"connect_timeout": 10}
        if "options" not in url:  # a streamed read's cursor is planned to be read to its end
            connect["options"] = "-c cursor_tuple_fraction=1"
        self.engine = create_engine(
            server_url(url), pool_pre_ping=True, **_server_engine_args(connect)
        )
        event.listen(self.engine, "connect", _raw_server_cursors)
        try:
            self._prepare_server(migrate)
            self._load_mounts()
        except Exception as exc:
            self.engine.dispose()
            if isinstance(exc, CatalogueError):
                raise
            err = translate_error(self.where, exc)
            if err is None:
                raise
            raise err from exc

    def _load_mounts(self) -> None:
        """Read this machine's mounts: from now on this catalogue's paths go through them.
        Only on open: SQLAlchemy keeps the column type's converters of an engine once made,
        so a mount recorded later applies from the catalogue's next open."""
        with self.read() as conn:
            self.mounts = read_mounts(conn, machine_id())
        if self.mounts:
            _MOUNTS[self.engine.dialect] = self.mounts
        else:
            _MOUNTS.pop(self.engine.dialect, None)

    def _prepare_server(self, migrate: bool) -> None:
        """Create or migrate the schema, one process at a time: each holds a lock of the
        server's for its transaction (two desktops opening a new database at once)."""
        with self.engine.connect() as conn:
            version = read_schema_version(conn)
        if version == SCHEMA_VERSION:
            return
        self._refuse(version, migrate)
        with self.engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            version = read_schema_version(conn)
            if version == 0:
                Base.metadata.create_all(conn)
                self._set_version(conn, SCHEMA_VERSION)
                return
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                version += 1
                self._set_version(conn, version)
                log.info("migrated catalogue %s to schema %d", self.where, version)

    def _refuse(self, version: int, migrate: bool) -> None:
        """A :class:`CatalogueError` when a catalogue of ``version`` cannot be made current."""
        if version > SCHEMA_VERSION:
            raise CatalogueError(
                f"{self.where} was written by a newer musicorg (schema {version}; "
                f"this one knows {SCHEMA_VERSION})"
            )
        if self.read_only:
            what = "is empty" if version == 0 else f"has schema {version} and needs a migration"
            raise CatalogueReadOnlyError(
                f"the catalogue {self.where} is read-only and {what}; make the file and its "
                "folder writable and run the command again"
            )
        if version and not migrate:
            raise CatalogueError(f"{self.where} has schema {version} and needs a migration")

    def _check(self, cancel: CancelFn | None = None) -> None:
        """``PRAGMA quick_check`` unless the catalogue was closed cleanly (free then); SQLite
        asks ``cancel`` every few thousand steps of it."""
        self.checked = self._mark_seen is None
        if not self.checked:
            return
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            if cancel is not None and isinstance(raw, sqlite3.Connection):
                raw.set_progress_handler(lambda: int(cancel()), _CANCEL_STEPS)
            try:
                rows = conn.exec_driver_sql("PRAGMA quick_check").all()
            except Exception:
                if cancel is not None and cancel():
                    raise Cancelled() from None  # interrupted: nothing was found wrong
                raise
            finally:
                if isinstance(raw, sqlite3.Connection):
                    raw.set_progress_handler(None, 0)
        if rows != [("ok",)]:
            forget_clean_mark(self.path)
            detail = "; ".join(str(r[0]) for r in rows[:3])
            raise CatalogueDamagedError(damaged_message(self.path, detail))

    def _prepare(self, migrate: bool) -> None:
        with self.engine.connect() as conn:
            version = read_schema_version(conn)
        if version == SCHEMA_VERSION:
            return
        self._refuse(version, migrate)
        if version == 0:
            with self.begin() as conn:
                Base.metadata.create_all(conn)
                self._set_version(conn, SCHEMA_VERSION)
            return
        self._migrate(version)

    def _migrate(self, version: int) -> None:
        """Check, back up, then migrate one version at a time."""
        problem = None if self.checked else quick_check(self.path)
        if problem is not None:
            raise CatalogueDamagedError(damaged_message(self.path, problem))
        stamp = time.strftime("%Y%m%d-%H%M%S")
        dest = self.path.with_name(f"{self.path.stem}.schema{version}-{stamp}.bak.sqlite")
        backup(self.path, dest)
        log.info("backed up catalogue to %s before migrating", dest)
        while version < SCHEMA_VERSION:
            with self.begin() as conn:
                MIGRATIONS[version](conn)
                version += 1
                self._set_version(conn, version)
            log.info("migrated catalogue to schema %d", version)

    @staticmethod
    def _set_version(conn: Connection, version: int) -> None:
        conn.execute(
            text(
                "INSERT INTO meta(key, value) VALUES ('schema_version', :v) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value"
            ),
            {"v": str(version)},
        )

    def _translated(self, exc: Exception, busy: str = "") -> CatalogueError | None:
        err = translate_error(self.where, exc, busy=busy)
        if isinstance(err, CatalogueDamagedError) and not self.server:
            self._healthy = False
            forget_clean_mark(self.path)
        return err

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite; the server's own on PostgreSQL,
        where several writers work at once)."""
        if self.read_only:
            raise CatalogueReadOnlyError(read_only_message(self.where))
        busy = (
            f"another musicorg process has been writing to {self.path} for over "
            f"{BUSY_TIMEOUT_S:.0f} s; try again when it is done"
        )
        try:
            with self.engine.connect() as conn:
                conn.execution_options(musicorg_write=True)
                with conn.begin():
                    yield conn
        except Exception as exc:
            err = self._translated(exc, busy)
            if err is None:
                raise
            raise err from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except Exception as exc:
            err = self._translated(exc)
            if err is None:
                raise
            raise err from exc

    def get_meta(self, key: str) -> str | None:
        with self.read() as conn:
            row = conn.execute(text("SELECT value FROM meta WHERE key=:k"), {"k": key}).first()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO meta(key, value) VALUES (:k, :v) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value"
                ),
                {"k": key, "v": value},
            )

    def integrity_ok(self) -> bool:
        if self.server:  # the server keeps its own files whole; it answers, or it does not
            with self.read() as conn:
                return conn.exec_driver_sql("SELECT 1").scalar() == 1
        with self.read() as conn:
            row = conn.exec_driver_sql("PRAGMA integrity_check").first()
        return row is not None and row[0] == "ok"

    def close(self) -> None:
        """Close every connection, then mark the catalogue closed cleanly (see
        :func:`closed_cleanly`) unless it was found damaged meanwhile."""
        self.engine.dispose()
        if self.server:
            return
        if self.read_only:
            tidy_read_only(self.path, self._had_shm)
        if self._healthy and fingerprint(self.path) != self._mark_seen:
            write_clean_mark(self.path)
            self._mark_seen = fingerprint(self.path)

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
