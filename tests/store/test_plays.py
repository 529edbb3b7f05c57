"""Plays and skips per track: record, read, clear, cascade, and the migration from schema 3."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, insert

from musicorg.store import plays
from musicorg.store.db import SCHEMA_VERSION, Catalogue, Track
from musicorg.store.plays import PlayStats

pytestmark = pytest.mark.both_catalogues


def add_track(cat: Catalogue, path: str, *, duration: float = 8.0, missing: bool = False) -> int:
    now = time.time()
    with cat.begin() as conn:
        row = conn.execute(
            insert(Track)
            .values(
                path=path.encode(),
                display=path,
                size=1,
                mtime_ns=1,
                content_key=f"k-{path}",
                fmt="flac",
                duration=duration,
                missing=missing,
                added_at=now,
                updated_at=now,
            )
            .returning(Track.id)
        ).one()
    return int(row[0])


def test_record_read_and_clear(cat: Catalogue) -> None:
    a, b, c = (add_track(cat, f"/m/{n}.flac") for n in "abc")
    assert plays.stats(cat) == {}
    assert plays.record_play(cat, a, at=100.0)
    assert plays.record_play(cat, a, at=200.0)
    assert plays.record_skip(cat, a, at=150.0)
    assert plays.record_skip(cat, b, at=300.0)
    assert plays.record_play(cat, c)
    got = plays.stats(cat)
    assert got[a] == PlayStats(play_count=2, last_played=200.0, skip_count=1, last_skipped=150.0)
    assert got[b] == PlayStats(play_count=0, last_played=None, skip_count=1, last_skipped=300.0)
    assert got[c].play_count == 1 and got[c].last_played is not None
    assert abs(got[c].last_played - time.time()) < 60

    assert plays.clear(cat, [a, 9999]) == 1
    assert set(plays.stats(cat)) == {b, c}
    assert plays.clear(cat) == 2
    assert plays.stats(cat) == {}


def test_a_track_that_is_gone_records_nothing_and_its_row_goes_with_it(cat: Catalogue) -> None:
    a = add_track(cat, "/m/a.flac")
    assert not plays.record_play(cat, 12345)
    plays.record_play(cat, a)
    with cat.begin() as conn:
        conn.execute(delete(Track).where(Track.id == a))
    assert plays.stats(cat) == {}


def test_track_files(cat: Catalogue) -> None:
    a = add_track(cat, "/m/a.flac", duration=5.0)
    b = add_track(cat, "/m/b.flac", missing=True)
    files = plays.track_files(cat, [b, a, a, 777])
    assert set(files) == {a, b}
    assert files[a] == plays.TrackFile(b"/m/a.flac", "/m/a.flac", 5.0, False)
    assert files[b].missing


def test_a_schema_3_catalogue_migrates_with_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "three.sqlite"
    with Catalogue(path) as cat:
        a = add_track(cat, "/m/a.flac")
        with cat.begin() as conn:
            conn.exec_driver_sql("DROP TABLE plays")
            conn.exec_driver_sql("UPDATE meta SET value='3' WHERE key='schema_version'")
    with Catalogue(path) as cat:
        assert cat.get_meta("schema_version") == str(SCHEMA_VERSION) == "5"
        assert plays.stats(cat) == {}
        plays.record_play(cat, a, at=1.0)
        assert plays.stats(cat)[a].play_count == 1
        with cat.read() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM tracks").scalar() == 1
    (backup,) = tmp_path.glob("three.schema3-*.bak.sqlite")
    old = sqlite3.connect(backup)
    try:
        assert old.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("3",)
        tables = {r[0] for r in old.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "plays" not in tables and "tracks" in tables
    finally:
        old.close()


def test_a_fresh_catalogue_has_the_plays_table(tmp_path: Path) -> None:
    with Catalogue(tmp_path / "new.sqlite") as cat, cat.read() as conn:
        columns = {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(plays)")}
    assert columns == {"track_id", "play_count", "last_played", "skip_count", "last_skipped"}
