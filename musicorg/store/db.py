"""The catalogue: one SQLite file, reached through SQLAlchemy 2.x.

Tables are declared here and nowhere else. The schema carries a version in ``meta``; opening an
older catalogue backs it up with SQLite's online-backup API and then runs the migrations in
:data:`MIGRATIONS`, one version at a time, each in its own transaction.

Paths are kept as bytes (``os.fsencode``) so that names which are not valid UTF-8 survive,
next to a display string for people.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
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
    UniqueConstraint,
    create_engine,
    event,
    insert,
    text,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
# How long a writer waits for another process's write transaction before giving up.
BUSY_TIMEOUT_S = float(os.environ.get("MUSICORG_BUSY_TIMEOUT", "15"))


class CatalogueError(RuntimeError):
    """A catalogue that cannot be opened or used, with a message for people."""


class CatalogueBusyError(CatalogueError):
    """Another musicorg process held the catalogue's write lock for too long."""


class Base(DeclarativeBase):
    pass


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Root(Base):
    """A music folder the user added. Tracks under a root that is not there are *missing*."""

    __tablename__ = "roots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    display: Mapped[str] = mapped_column(Text)
    added_at: Mapped[float] = mapped_column(Float)


class Track(Base):
    __tablename__ = "tracks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    display: Mapped[str] = mapped_column(Text)
    root_id: Mapped[int | None] = mapped_column(ForeignKey("roots.id", ondelete="SET NULL"))
    size: Mapped[int] = mapped_column(Integer)
    mtime_ns: Mapped[int] = mapped_column(Integer)
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
    path: Mapped[bytes] = mapped_column(LargeBinary)
    display: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String)  # scan, analyze (the analyse stage), lyrics
    kind: Mapped[str] = mapped_column(String)  # "not audio", "empty", "truncated", ...
    message: Mapped[str] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(Integer)
    mtime_ns: Mapped[int | None] = mapped_column(Integer)
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
    have = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(analyses)")}
    for name, kind in (("musicnn", "BLOB"), ("tags", "BLOB"), ("n_patches", "INTEGER")):
        if name not in have:
            conn.exec_driver_sql(f"ALTER TABLE analyses ADD COLUMN {name} {kind}")


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _migrate_1_to_2, 2: _migrate_2_to_3}


def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's own transaction handling drive BEGIN; pysqlite's implicit one is off.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    cur.close()


def _on_begin(conn: Connection) -> None:
    # A write transaction starts with BEGIN IMMEDIATE: it takes the write lock at once, so two
    # writers queue on busy_timeout instead of failing half-way with "database is locked".
    # Reads start a deferred transaction and, in WAL mode, never block or wait for a writer.
    write = conn.get_execution_options().get("musicorg_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def backup(src: Path, dest: Path) -> Path:
    """Copy a live catalogue consistently with SQLite's backup API."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(src) as s, sqlite3.connect(dest) as d:
        s.backup(d)
    d.close()
    s.close()
    return dest


def read_schema_version(conn: Connection) -> int:
    has_meta = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
    ).first()
    if not has_meta:
        has_tracks = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='tracks'"
        ).first()
        if has_tracks:
            raise CatalogueError("this file is not a musicorg catalogue (it has no schema version)")
        return 0
    row = conn.execute(text("SELECT value FROM meta WHERE key='schema_version'")).first()
    return int(row[0]) if row else 0


class Catalogue:
    """An open catalogue file: an engine, plus helpers for transactions."""

    def __init__(self, path: Path | str, *, migrate: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(
            f"sqlite:///{self.path}",
            connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
        )
        event.listen(self.engine, "connect", _on_connect)
        event.listen(self.engine, "begin", _on_begin)
        try:
            self._prepare(migrate)
        except sqlite3.DatabaseError as exc:  # pragma: no cover - wrapped below
            raise CatalogueError(f"cannot open catalogue {self.path}: {exc}") from exc
        except Exception as exc:
            if "file is not a database" in str(exc) or "malformed" in str(exc):
                raise CatalogueError(
                    f"the catalogue {self.path} is damaged ({exc.__class__.__name__}: {exc})"
                ) from exc
            if "database is locked" in str(exc):
                raise CatalogueBusyError(
                    f"another musicorg process is writing to {self.path}; try again when it is done"
                ) from exc
            raise

    def _prepare(self, migrate: bool) -> None:
        with self.engine.connect() as conn:
            version = read_schema_version(conn)
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise CatalogueError(
                f"{self.path} was written by a newer musicorg (schema {version}; "
                f"this one knows {SCHEMA_VERSION})"
            )
        if version == 0:
            with self.begin() as conn:
                Base.metadata.create_all(conn)
                self._set_version(conn, SCHEMA_VERSION)
            return
        if not migrate:
            raise CatalogueError(f"{self.path} has schema {version} and needs a migration")
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

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE)."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(musicorg_write=True)
                with conn.begin():
                    yield conn
        except Exception as exc:
            if "database is locked" in str(exc):
                raise CatalogueBusyError(
                    f"another musicorg process has been writing to {self.path} for over "
                    f"{BUSY_TIMEOUT_S:.0f} s; try again when it is done"
                ) from exc
            raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

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
        with self.read() as conn:
            row = conn.exec_driver_sql("PRAGMA integrity_check").first()
        return row is not None and row[0] == "ok"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
