"""The catalogue: one SQLite file, reached through SQLAlchemy 2.x.

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
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import urllib.parse
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
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from musicorg import paths

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4
# How long a writer waits for another process's write transaction before giving up.
BUSY_TIMEOUT_S = float(os.environ.get("MUSICORG_BUSY_TIMEOUT", "15"))


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


def _migrate_3_to_4(conn: Connection) -> None:
    """Schema 4 adds the plays table (what the player played and skipped)."""
    Base.metadata.create_all(conn, tables=[Base.metadata.tables["plays"]])


MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
    3: _migrate_3_to_4,
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
    """

    checked: bool

    def __init__(self, path: Path | str, *, migrate: bool = True, read_only: bool = False) -> None:
        self.path = Path(path)
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
            self._check()
            self._prepare(migrate)
        except Exception as exc:
            self.engine.dispose()
            if isinstance(exc, CatalogueError):
                raise
            err = translate_error(self.path, exc)
            if err is None:
                raise
            raise err from exc
        self._healthy = True

    def _check(self) -> None:
        """``PRAGMA quick_check`` unless the catalogue was closed cleanly (free then)."""
        self.checked = self._mark_seen is None
        if not self.checked:
            return
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql("PRAGMA quick_check").all()
        if rows != [("ok",)]:
            forget_clean_mark(self.path)
            detail = "; ".join(str(r[0]) for r in rows[:3])
            raise CatalogueDamagedError(damaged_message(self.path, detail))

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
        if self.read_only:
            what = "is empty" if version == 0 else f"has schema {version} and needs a migration"
            raise CatalogueReadOnlyError(
                f"the catalogue {self.path} is read-only and {what}; make the file and its "
                "folder writable and run the command again"
            )
        if version == 0:
            with self.begin() as conn:
                Base.metadata.create_all(conn)
                self._set_version(conn, SCHEMA_VERSION)
            return
        if not migrate:
            raise CatalogueError(f"{self.path} has schema {version} and needs a migration")
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
        err = translate_error(self.path, exc, busy=busy)
        if isinstance(err, CatalogueDamagedError):
            self._healthy = False
            forget_clean_mark(self.path)
        return err

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE)."""
        if self.read_only:
            raise CatalogueReadOnlyError(read_only_message(self.path))
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
        with self.read() as conn:
            row = conn.exec_driver_sql("PRAGMA integrity_check").first()
        return row is not None and row[0] == "ok"

    def close(self) -> None:
        """Close every connection, then mark the catalogue closed cleanly (see
        :func:`closed_cleanly`) unless it was found damaged meanwhile."""
        self.engine.dispose()
        if self.read_only:
            tidy_read_only(self.path, self._had_shm)
        if self._healthy and fingerprint(self.path) != self._mark_seen:
            write_clean_mark(self.path)
            self._mark_seen = fingerprint(self.path)

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
