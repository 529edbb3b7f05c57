"""Rotating backups and damaged-catalogue detection."""

from __future__ import annotations

import os
import time
from pathlib import Path

from musicorg.ingest import scanner
from musicorg.store import safety
from musicorg.store.db import Catalogue


def test_rotating_backups_keep_three(tmp_path: Path, music: Path) -> None:
    db = tmp_path / "cat.sqlite"
    with Catalogue(db) as cat:
        scanner.scan(cat, [music])
    made = []
    for day in range(5):
        dest = safety.rotate_backups(db, every_s=0)
        assert dest is not None
        os.utime(dest, (time.time() - (5 - day) * 86400,) * 2)
        made.append(dest)
        time.sleep(1.01)  # backups are named by the second
    kept = safety.backups(db)
    assert kept == sorted(made, reverse=True)[:3]
    # Within a day of the newest backup nothing new is made.
    os.utime(kept[0], None)
    assert safety.rotate_backups(db) is None
    with Catalogue(kept[0]) as old:
        assert old.integrity_ok()


def test_damaged_catalogue_is_detected_and_restored(tmp_path: Path, music: Path) -> None:
    db = tmp_path / "cat.sqlite"
    with Catalogue(db) as cat:
        scanner.scan(cat, [music])
        n = len(cat.engine.connect().exec_driver_sql("SELECT id FROM tracks").all())
    backup = safety.rotate_backups(db, every_s=0)
    assert backup is not None and safety.check_catalogue(db) is None
    raw = bytearray(db.read_bytes())
    raw[4096:8192] = os.urandom(4096)  # clobber a page of the table data
    raw[0:16] = b"garbage garbage!"
    db.write_bytes(bytes(raw))
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    assert safety.check_catalogue(db) is not None
    safety.restore_backup(db, backup)
    assert safety.check_catalogue(db) is None
    assert list(tmp_path.glob("cat.damaged-*.sqlite"))
    with Catalogue(db) as cat, cat.read() as conn:
        assert len(conn.exec_driver_sql("SELECT id FROM tracks").all()) == n
