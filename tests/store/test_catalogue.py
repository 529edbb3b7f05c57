"""Catalogue schema, migrations from an older schema, and settings."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from musicorg import settings as settings_mod
from musicorg.store.db import SCHEMA_VERSION, Catalogue, CatalogueError

# The schema as musicorg 0.0 wrote it (version 1): tracks, lyrics and problems only.
SCHEMA_1 = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE roots (id INTEGER PRIMARY KEY, path BLOB NOT NULL UNIQUE, display TEXT NOT NULL,
    added_at FLOAT NOT NULL);
CREATE TABLE tracks (id INTEGER PRIMARY KEY, path BLOB NOT NULL UNIQUE, display TEXT NOT NULL,
    root_id INTEGER REFERENCES roots(id) ON DELETE SET NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, content_key VARCHAR NOT NULL, fmt VARCHAR NOT NULL, codec VARCHAR,
    duration FLOAT, sample_rate INTEGER, channels INTEGER, bitrate INTEGER, title TEXT,
    artist TEXT, album TEXT, albumartist TEXT, genre TEXT, year INTEGER, tracknumber INTEGER,
    missing BOOLEAN NOT NULL, added_at FLOAT NOT NULL, updated_at FLOAT NOT NULL);
CREATE INDEX ix_tracks_content_key ON tracks (content_key);
CREATE INDEX ix_tracks_missing ON tracks (missing);
CREATE TABLE lyrics (track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
    text TEXT NOT NULL, source VARCHAR NOT NULL, updated_at FLOAT NOT NULL);
CREATE TABLE genius_cache (query TEXT PRIMARY KEY, lyrics TEXT, fetched_at FLOAT NOT NULL);
CREATE TABLE problems (id INTEGER PRIMARY KEY, path BLOB NOT NULL, display TEXT NOT NULL,
    stage VARCHAR NOT NULL, kind VARCHAR NOT NULL, message TEXT NOT NULL, size INTEGER,
    mtime_ns INTEGER, seen_at FLOAT NOT NULL, UNIQUE (path, stage));
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO tracks VALUES (1, X'2F6D2F612E6F6767', '/m/a.ogg', NULL, 10, 1, 'k1', 'ogg', 'vorbis',
    200.0, 44100, 2, 128000, 'A song', 'An artist', NULL, NULL, 'Rock', 1999, 1, 0, 0, 0);
INSERT INTO lyrics VALUES (1, 'la la', 'vorbis', 0);
"""


def test_fresh_catalogue_has_current_schema(tmp_path: Path) -> None:
    with Catalogue(tmp_path / "c.sqlite") as cat:
        assert cat.get_meta("schema_version") == str(SCHEMA_VERSION)
        with cat.read() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        assert mode == "wal"
        assert cat.integrity_ok()


def test_migration_from_schema_1_keeps_data_and_backs_up(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA_1)
    con.commit()
    con.close()
    with Catalogue(path) as cat:
        assert cat.get_meta("schema_version") == str(SCHEMA_VERSION)
        with cat.read() as conn:
            row = conn.exec_driver_sql(
                "SELECT t.title, l.text FROM tracks t JOIN lyrics l ON l.track_id = t.id"
            ).one()
            assert tuple(row) == ("A song", "la la")
            tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
        assert {"analyses", "embeddings", "playlists", "playlist_items", "map_coords"} <= tables
    backups = list(tmp_path.glob("old.schema1-*.bak.sqlite"))
    assert len(backups) == 1
    old = sqlite3.connect(backups[0])
    assert old.execute("SELECT value FROM meta").fetchone() == ("1",)
    assert old.execute("SELECT title FROM tracks").fetchone() == ("A song",)
    old.close()


def test_migration_from_schema_2_adds_the_musicnn_columns(tmp_path: Path) -> None:
    path = tmp_path / "two.sqlite"
    with Catalogue(path) as cat, cat.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE analyses DROP COLUMN musicnn")
        conn.exec_driver_sql("ALTER TABLE analyses DROP COLUMN tags")
        conn.exec_driver_sql("ALTER TABLE analyses DROP COLUMN n_patches")
        conn.exec_driver_sql(
            "INSERT INTO analyses (content_key, features_version, features, shape, weak, "
            "created_at) VALUES ('k', 2, x'00', '39x130', 0, 0)"
        )
        conn.exec_driver_sql("UPDATE meta SET value='2' WHERE key='schema_version'")
    with Catalogue(path) as cat, cat.read() as conn:
        assert cat.get_meta("schema_version") == str(SCHEMA_VERSION)
        row = conn.exec_driver_sql(
            "SELECT content_key, features_version, musicnn, tags, n_patches FROM analyses"
        ).one()
        assert tuple(row) == ("k", 2, None, None, None)
    assert len(list(tmp_path.glob("two.schema2-*.bak.sqlite"))) == 1


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    with Catalogue(path) as cat:
        cat.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(CatalogueError, match="newer musicorg"):
        Catalogue(path)


def test_garbage_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(CatalogueError, match="damaged"):
        Catalogue(path)


def test_settings_round_trip_mode_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cfg" / "settings.toml"
    s = settings_mod.load(path)
    assert s.device == "auto" and s.music_folders == []
    s.music_folders = ["/music/a", "/music/ü"]
    s.genius_token = "secret"
    s.playlist_min, s.playlist_max = 10, 30
    settings_mod.save(s, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert settings_mod.load(path) == s
    monkeypatch.setenv("MUSICORG_DEVICE", "cpu")
    assert settings_mod.load(path).device == "cpu"
    # An override is not written back by an unrelated edit.
    settings_mod.update(path, cluster_method="dbscan")
    assert settings_mod.load(path, env=False).device == "auto"
    with pytest.raises(ValueError, match="device"):
        settings_mod.update(path, device="tpu")
