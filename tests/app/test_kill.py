"""SIGKILL in the middle of a real `musicorg scan` / `musicorg analyse`: nothing is lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from musicorg.cli import main

DATA = Path(__file__).parents[1] / "data"


def _library(root: Path, n: int, seed: int = 1) -> Path:
    """n byte-distinct real files: real audio with a distinct run of junk after the frames."""
    import random

    rng = random.Random(seed)
    sources = [DATA / "kevin_macleod_vibe_ace.mp3", DATA / "parapraxis_digital_pursuit.mp3"]
    blobs = [p.read_bytes() for p in sources]
    for i in range(n):
        folder = root / f"disc{i // 250:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:05d}.mp3").write_bytes(blobs[i % 2] + rng.randbytes(512 + i % 97))
    return root


def _count(db: Path, sql: str) -> int:
    con = sqlite3.connect(db, timeout=30)
    try:
        return int(con.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def _rows(db: Path, sql: str) -> dict[str, float]:
    con = sqlite3.connect(db, timeout=30)
    try:
        return {str(k): float(v) for k, v in con.execute(sql).fetchall()}
    finally:
        con.close()


def _start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "musicorg.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )


def _kill_when(proc: subprocess.Popen[bytes], db: Path, sql: str, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = _count(db, sql) if db.exists() else 0
        if n > 0:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return n
        if proc.poll() is not None:
            pytest.fail("the job finished before it could be killed")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("the job made no progress")


def _user_playlist(db: Path) -> None:
    con = sqlite3.connect(db, timeout=30)
    with con:
        con.execute(
            "INSERT INTO playlists (id, name, kind, pinned, renamed, created_at, updated_at) "
            "VALUES (900, 'Road trip', 'user', 0, 1, 0, 0)"
        )
        con.execute("INSERT INTO playlist_items VALUES (900, 0, 1), (900, 1, 2)")
    con.close()


def _user_playlist_intact(db: Path) -> bool:
    con = sqlite3.connect(db, timeout=30)
    rows = con.execute(
        "SELECT p.name, i.position, i.track_id FROM playlists p JOIN playlist_items i "
        "ON i.playlist_id = p.id WHERE p.id = 900 ORDER BY i.position"
    ).fetchall()
    con.close()
    return rows == [("Road trip", 0, 1), ("Road trip", 1, 2)]


def _integrity(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        con.close()


def test_kill_mid_scan_then_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    music = _library(tmp_path / "music", 3000)
    db = tmp_path / "cat.sqlite"
    # A first small scan holds a user playlist that the kill must not touch.
    seed = tmp_path / "seed"
    seed.mkdir()
    for p in sorted(music.rglob("*.mp3"))[:2]:
        (seed / p.name).write_bytes(p.read_bytes())
    assert main(["--db", str(db), "-q", "scan", str(seed)]) == 0
    _user_playlist(db)

    proc = _start("--db", str(db), "-q", "scan", str(music))
    _kill_when(proc, db, "SELECT count(*) FROM tracks WHERE root_id != 1")
    assert _integrity(db) == "ok"
    assert _user_playlist_intact(db)
    done = _count(db, "SELECT count(*) FROM tracks WHERE root_id != 1")
    assert 0 < done < 3000

    capsys.readouterr()
    assert main(["--db", str(db), "-q", "scan", str(music), "--json"]) == 0
    import json

    report = json.loads(capsys.readouterr().out)
    assert len(report["added"]) == 3000 - done
    assert report["unchanged"] == done
    assert _user_playlist_intact(db) and _integrity(db) == "ok"


def test_kill_mid_analyse_then_resume(tmp_path: Path, music: Path) -> None:
    pytest.importorskip("torch")
    db = tmp_path / "cat.sqlite"
    assert main(["--db", str(db), "-q", "scan", str(music)]) == 0
    _user_playlist(db)
    proc = _start("--db", str(db), "-q", "analyse", "--device", "cpu", "--workers", "1")
    _kill_when(proc, db, "SELECT count(*) FROM analyses", timeout=300)
    assert _integrity(db) == "ok" and _user_playlist_intact(db)
    before = _rows(db, "SELECT content_key, created_at FROM analyses")
    assert before
    assert main(["--db", str(db), "-q", "analyse", "--device", "cpu", "--workers", "1"]) == 0
    total = _count(db, "SELECT count(DISTINCT content_key) FROM tracks")
    after = _rows(db, "SELECT content_key, created_at FROM analyses")
    assert len(after) == total
    # The tracks finished before the kill were not analysed again.
    assert {k: after[k] for k in before} == before
    assert _count(db, "SELECT count(*) FROM embeddings") == total
    assert _user_playlist_intact(db)
