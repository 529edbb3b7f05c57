"""Keeping the catalogue safe: rotating backups, and what to do when the file is damaged.

Backups are made with SQLite's online-backup API (consistent even while another process
writes), at most once a day per catalogue, and the newest :data:`KEEP` are kept next to it in
``backups/``. A damaged catalogue is detected on start (it cannot be opened, or
``PRAGMA quick_check`` fails); the user chooses to restore a backup, to rebuild from a scan
(user playlists come back from their mirror files), or to quit.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path

from musicorg.store.db import backup

log = logging.getLogger(__name__)

KEEP = 3
EVERY_S = 24 * 3600


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
    """Back up the catalogue if the newest backup is older than ``every_s``; keep ``keep``."""
    if not db_path.exists():
        return None
    existing = backups(db_path)
    if existing and time.time() - existing[0].stat().st_mtime < every_s:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = backup_dir(db_path) / f"{db_path.stem}-{stamp}.sqlite"
    tmp = dest.with_suffix(".partial")
    try:
        backup(db_path, tmp)
        os.replace(tmp, dest)
    except (sqlite3.Error, OSError) as exc:
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
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=15)
        try:
            rows = con.execute("PRAGMA quick_check").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if rows != [("ok",)]:
        return "; ".join(str(r[0]) for r in rows[:5])
    return None


def set_aside(db_path: Path) -> Path:
    """Move a damaged catalogue (and its WAL files) out of the way, keeping it for inspection."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = db_path.with_name(f"{db_path.stem}.damaged-{stamp}{db_path.suffix}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{db_path}{suffix}")
        if src.exists():
            os.replace(src, Path(f"{dest}{suffix}"))
    return dest


def restore_backup(db_path: Path, source: Path) -> Path:
    """Replace the catalogue by a backup; the damaged file is set aside, not deleted."""
    set_aside(db_path)
    tmp = db_path.with_suffix(".restoring")
    shutil.copy2(source, tmp)
    os.replace(tmp, db_path)
    return db_path
