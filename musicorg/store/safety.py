"""Keeping the catalogue safe: rotating backups, and what to do when the file is damaged.

Backups are made with SQLite's online-backup API (consistent even while another process
writes), at most once a day per catalogue, and the newest :data:`KEEP` are kept next to it in
``backups/`` (a folder of mode 0700; each backup 0600). The catalogue is checked with
``PRAGMA quick_check`` first: a damaged catalogue is never backed up, so it never rotates a good
backup out. A damaged catalogue is detected on open (it cannot be read, or was not closed
cleanly and fails the quick check); the user restores the newest good backup
(``musicorg doctor --restore``, or the app's offer on start), rebuilds from a scan (user
playlists come back from their mirror files), or quits. Nothing here deletes a catalogue: a
damaged one is set aside.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.exc import DBAPIError

from musicorg.store.db import (
    CLEAN_MARK_SUFFIX,
    SCHEMA_VERSION,
    CatalogueDamagedError,
    CatalogueError,
    Meta,
    backup,
    closed_cleanly,
    create_private,
    damaged_message,
    is_server,
    is_server_url,
    quick_check,
    raw_connect,
    read_connection_file,
    read_schema_version,
    server_url,
    shown_url,
    translate_error,
    write_clean_mark,
)

log = logging.getLogger(__name__)

KEEP = 3
EVERY_S = 24 * 3600
#: The files of one catalogue: the file itself, SQLite's two beside it, the clean-close mark.
SIDECARS = ("", "-wal", "-shm", CLEAN_MARK_SUFFIX)


def backup_dir(db_path: Path) -> Path:
    return db_path.parent / "backups"


def backups(db_path: Path) -> list[Path]:
    """Existing backups of this catalogue, newest first."""
    folder = backup_dir(db_path)
    if not folder.is_dir():
        return []
    found = folder.glob(f"{db_path.stem}-*.sqlite")
    return sorted(found, key=lambda p: p.name, reverse=True)


def rotate_backups(db_path: Path, *, keep: int = KEEP, every_s: float = EVERY_S) -> Path | None:
    """Back up the catalogue if the newest backup is older than ``every_s``; keep ``keep``.

    Raises :class:`CatalogueDamagedError` (and backs up nothing, removes nothing) when the
    catalogue fails ``PRAGMA quick_check``. A backup that cannot be made (no room, a read-only
    folder) is logged and skipped: None. A catalogue on a server is ``pg_dump``'s to back up.
    """
    if is_server(db_path) or not db_path.exists():
        return None
    existing = backups(db_path)
    if existing and time.time() - existing[0].stat().st_mtime < every_s:
        return None
    try:
        problem = quick_check(db_path)
    except CatalogueError as exc:
        log.warning("could not back up %s: %s", db_path, exc)
        return None
    if problem is not None:
        raise CatalogueDamagedError(damaged_message(db_path, problem))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = backup_dir(db_path) / f"{db_path.stem}-{stamp}.sqlite"
    tmp = dest.with_suffix(".partial")
    try:
        backup(db_path, tmp)
        os.replace(tmp, dest)
    except (sqlite3.Error, OSError) as exc:
        with contextlib.suppress(OSError):  # a folder we may not even look into
            tmp.unlink(missing_ok=True)
        log.warning("could not back up %s: %s", db_path, exc)
        return None
    for old in backups(db_path)[keep:]:
        old.unlink(missing_ok=True)
    log.info("backed up the catalogue to %s", dest)
    return dest


def check_catalogue(db_path: Path) -> str | None:
    """None if the file is a healthy SQLite database (or absent); else what is wrong."""
    if not db_path.exists():
        return None
    try:
        return quick_check(db_path)
    except CatalogueError as exc:
        return str(exc)


@dataclass
class BackupState:
    """One backup: where, when, how big, and what ``PRAGMA quick_check`` says (None: ok)."""

    path: Path
    mtime: float
    size: int
    mode: int
    problem: str | None

    @property
    def good(self) -> bool:
        return self.problem is None


def backup_states(db_path: Path) -> list[BackupState]:
    """Every backup of this catalogue, newest first, each checked (reads each one whole)."""
    out = []
    for path in backups(db_path):
        st = path.stat()
        out.append(BackupState(path, st.st_mtime, st.st_size, st.st_mode & 0o777, check(path)))
    return out


def check(path: Path) -> str | None:
    """What is wrong with the SQLite file at ``path`` (None: it passes ``quick_check``)."""
    try:
        return quick_check(path)
    except CatalogueError as exc:
        return str(exc)


def newest_good_backup(db_path: Path) -> Path | None:
    """The newest backup of this catalogue that passes ``PRAGMA quick_check`` (None: none)."""
    for path in backups(db_path):
        if check(path) is None:
            return path
    return None


@dataclass
class CatalogueState:
    """What can be told about a catalogue file from outside, without trusting it."""

    path: Path
    exists: bool
    problem: str | None = None  # damaged, or cannot be read (None: passes quick_check)
    schema_version: int | None = None
    active_model: str | None = None
    closed_cleanly: bool = True
    modes: dict[str, int] | None = None  # file name -> mode, for the file and its sidecars


def inspect(db_path: Path) -> CatalogueState:
    """Check the catalogue at ``db_path`` read-only: ``quick_check``, its schema version and
    active model, whether it was closed cleanly, and the modes of its files."""
    if not db_path.exists():
        return CatalogueState(db_path, exists=False)
    state = CatalogueState(db_path, exists=True, closed_cleanly=closed_cleanly(db_path))
    state.modes = {}
    for suffix in SIDECARS:
        with_suffix = Path(f"{db_path}{suffix}")
        if with_suffix.exists():
            state.modes[with_suffix.name] = with_suffix.stat().st_mode & 0o777
    state.problem = check(db_path)
    if state.problem is not None:
        return state
    try:
        con = raw_connect(db_path, read_only=True)
        try:
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        finally:
            con.close()
    except sqlite3.Error as exc:
        state.problem = f"it has no musicorg meta table ({exc})"
        return state
    state.schema_version = int(meta.get("schema_version", 0))
    state.active_model = meta.get("active_model")
    if state.schema_version > SCHEMA_VERSION:
        state.problem = f"written by a newer musicorg (schema {state.schema_version})"
    return state


@dataclass
class ServerState:
    """What can be told about a catalogue on a PostgreSQL server: whether it answers, its
    server's version, its schema version and active model."""

    where: str  # the URL without its password
    problem: str | None = None  # cannot connect, or not a musicorg catalogue (None: fine)
    server_version: str | None = None
    schema_version: int | None = None  # 0: an empty database (the first command fills it)
    active_model: str | None = None


def inspect_server(location: str | os.PathLike[str]) -> ServerState:
    """Connect to the catalogue at ``location`` (a URL or its connection file) and read its
    schema version and active model, changing nothing."""
    url = str(location) if is_server_url(location) else ""
    try:
        url = url or read_connection_file(Path(location))
    except CatalogueError as exc:
        return ServerState(str(location), problem=str(exc))
    state = ServerState(shown_url(url))
    engine = create_engine(server_url(url))
    try:
        with engine.connect() as conn:
            state.server_version = str(conn.exec_driver_sql("SHOW server_version").scalar())
            state.schema_version = read_schema_version(conn)
            if state.schema_version:
                rows = conn.execute(select(Meta.key, Meta.value)).all()
                state.active_model = dict((str(k), str(v)) for k, v in rows).get("active_model")
    except CatalogueError as exc:
        state.problem = str(exc)
    except DBAPIError as exc:
        err = translate_error(state.where, exc)
        if err is None:
            raise
        state.problem = str(err)
    finally:
        engine.dispose()
    if state.schema_version is not None and state.schema_version > SCHEMA_VERSION:
        state.problem = f"written by a newer musicorg (schema {state.schema_version})"
    return state


def set_aside(db_path: Path) -> Path:
    """Move a damaged catalogue (and its WAL files and mark) out of the way, keeping it for
    inspection."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = db_path.with_name(f"{db_path.stem}.damaged-{stamp}{db_path.suffix}")
    for suffix in SIDECARS:
        src = Path(f"{db_path}{suffix}")
        if src.exists():
            os.replace(src, Path(f"{dest}{suffix}"))
    return dest


def restore_backup(db_path: Path, source: Path) -> Path | None:
    """Replace the catalogue by the backup ``source``, which must pass ``quick_check``
    (:class:`CatalogueDamagedError` otherwise). The catalogue there is set aside, never
    deleted: returns where it went (None: there was none)."""
    problem = check(source)
    if problem is not None:
        raise CatalogueDamagedError(
            f"the backup {source} is damaged too ({problem}); choose another one (`musicorg "
            "doctor` lists them)"
        )
    tmp = db_path.with_suffix(".restoring")
    create_private(tmp)
    shutil.copyfile(source, tmp)
    existed = db_path.exists()
    aside = set_aside(db_path)  # with its -wal: never replayed onto the backup
    os.replace(tmp, db_path)
    write_clean_mark(db_path)  # it passed quick_check just now
    return aside if existed else None
