"""Two processes on one catalogue: a writer waits for the other, or refuses clearly."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from musicorg.cli import main


def _scan(db: Path, music: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "musicorg.cli", "--db", str(db), "-q", "scan", str(music)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def _hold_write_lock(db: Path, seconds: float, started: threading.Event) -> None:
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO meta VALUES ('held', 'yes')")
    started.set()
    time.sleep(seconds)
    con.execute("COMMIT")
    con.close()


def test_second_writer_waits_for_the_first(tmp_path: Path, music: Path) -> None:
    db = tmp_path / "cat.sqlite"
    assert main(["--db", str(db), "-q", "stats"]) == 0  # create the catalogue
    started = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(db, 2.0, started))
    holder.start()
    started.wait()
    result = _scan(db, music)
    holder.join()
    assert result.returncode == 0, result.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM tracks").fetchone()[0] > 0
    assert con.execute("SELECT value FROM meta WHERE key='held'").fetchone() == ("yes",)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()


def test_second_writer_refuses_clearly_after_its_timeout(tmp_path: Path, music: Path) -> None:
    db = tmp_path / "cat.sqlite"
    assert main(["--db", str(db), "-q", "stats"]) == 0
    started = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(db, 4.0, started))
    holder.start()
    started.wait()
    result = _scan(db, music, MUSICORG_BUSY_TIMEOUT="1")
    holder.join()
    assert result.returncode == 1
    assert "another musicorg process" in result.stderr
    assert "Traceback" not in result.stderr
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert con.execute("SELECT count(*) FROM tracks").fetchone()[0] == 0
    con.close()
