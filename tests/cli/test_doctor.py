"""Damaged and full catalogues on the command line (one line each, the backups kept), and the
``musicorg doctor`` command (issue #17)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from musicorg.cli import main
from musicorg.store import db as dbmod
from musicorg.store import safety


def scanned(tmp_path: Path, music: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A catalogue made by ``scan`` (which backs it up first), scanned again so that its
    newest backup holds the tracks."""
    db = tmp_path / "cat.sqlite"
    assert main(["--db", str(db), "-q", "scan", str(music)]) == 0
    for b in safety.backups(db):
        b.unlink()
    assert main(["--db", str(db), "-q", "scan", str(music)]) == 0
    capsys.readouterr()
    return db


def random_bytes_in_the_middle(db: Path) -> None:
    time.sleep(0.05)  # after the close, as in life (one clock tick cannot tell them apart)
    with db.open("r+b") as fh:
        fh.seek(db.stat().st_size // 2)
        fh.write(os.urandom(200_000))


def ff_at_12288(db: Path) -> None:
    time.sleep(0.05)
    with db.open("r+b") as fh:
        fh.seek(12288)
        fh.write(b"\xff" * 16)


def the_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("damage", [random_bytes_in_the_middle, ff_at_12288])
def test_a_damaged_catalogue_is_one_line_and_never_backed_up(
    tmp_path: Path, music: Path, capsys: pytest.CaptureFixture[str], damage: Any
) -> None:
    db = scanned(tmp_path, music, capsys)
    (good,) = safety.backups(db)
    kept = good.read_bytes()
    damage(db)
    for command in (["stats"], ["scan", str(music)], ["tracks"]):
        for _run in range(3):  # as many runs as it took to rotate every good backup out
            assert main(["--db", str(db), *command]) == 1
            line = the_line(capsys)
            assert f"the catalogue {db} is damaged (" in line
            assert line.endswith(
                "; run `musicorg doctor` to see its backups and how to restore one"
            )
    assert safety.backups(db) == [good] and good.read_bytes() == kept


def test_doctor_finds_the_damage_and_restores_the_newest_good_backup(
    tmp_path: Path, music: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = scanned(tmp_path, music, capsys)
    assert main(["--db", str(db), "doctor"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"musicorg doctor: {db}"
    assert out.splitlines()[-1] == "Everything is in order."
    (good,) = safety.backups(db)
    random_bytes_in_the_middle(db)
    assert main(["--db", str(db), "doctor"]) == 1
    out = capsys.readouterr().out
    assert f"  BAD  catalogue {db} is damaged or unreadable: " in out
    assert (
        f"  - restore the newest good backup ({good.name}): `musicorg --db {db} doctor "
        "--restore` (the damaged catalogue is set aside beside it, not deleted)"
    ) in out
    assert main(["--db", str(db), "doctor", "--restore"]) == 0
    restored = capsys.readouterr().out
    assert restored.startswith(f"Restored {good} to {db}; the catalogue that was there is set")
    (aside,) = tmp_path.glob("cat.damaged-*.sqlite")
    assert main(["--db", str(db), "stats"]) == 0
    assert "Tracks:" in capsys.readouterr().out
    assert main(["--db", str(db), "doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["good_backup"] == str(good)
    assert aside.exists() and good.exists()  # nothing deleted
    # Nothing to restore now: one line, and the catalogue stays.
    assert main(["--db", str(db), "doctor", "--restore"]) == 1
    assert the_line(capsys).startswith(
        f"musicorg doctor: the catalogue {db} passes its check: nothing to restore"
    )


def test_doctor_with_no_good_backup(
    tmp_path: Path, music: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = scanned(tmp_path, music, capsys)
    for b in safety.backups(db):
        b.unlink()
    ff_at_12288(db)
    assert main(["--db", str(db), "doctor", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["good_backup"] is None
    assert report["advice"][0].startswith("no good backup")
    assert main(["--db", str(db), "doctor", "--restore"]) == 1
    assert the_line(capsys).startswith(f"musicorg doctor: no backup of {db} passes its check")


def test_a_full_disk_during_scan_is_one_line(
    tmp_path: Path, music: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = scanned(tmp_path, music, capsys)
    more = tmp_path / "more"  # enough new tracks to need new pages
    for i in range(12):
        shutil.copytree(music, more / str(i))
    plain = dbmod._on_connect

    def full(dbapi_conn: sqlite3.Connection, record: Any) -> None:
        plain(dbapi_conn, record)  # then no page beyond what the file has: "disk is full"
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count={pages}").close()

    monkeypatch.setattr(dbmod, "_on_connect", full)
    assert main(["--db", str(db), "-q", "scan", str(music), str(more)]) == 1
    assert the_line(capsys).endswith(
        f"the disk holding the catalogue {db} is full; free some space there and run the "
        "command again (the unfinished change was rolled back)"
    )
    monkeypatch.setattr(dbmod, "_on_connect", plain)
    assert main(["--db", str(db), "doctor"]) == 0
