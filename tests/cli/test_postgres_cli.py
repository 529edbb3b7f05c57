"""Commands on a catalogue on a real PostgreSQL server (tests/pg.py): ``--db postgresql://…``,
the settings' ``catalogue_url``, and the doctor's checks of a server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from musicorg import paths
from musicorg import settings as settings_mod
from musicorg.cli import main
from musicorg.store import library
from musicorg.store.db import SCHEMA_VERSION, Catalogue
from tests.conftest import audio_files


def _titles(url: str) -> int:
    with Catalogue(url) as cat:
        return len(library.tracks(cat))


def test_db_url_for_scan_stats_and_tracks(
    pg_url: str, music: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", pg_url, "-q", "scan", str(music)]) == 0
    capsys.readouterr()
    assert main(["stats", "--db", pg_url, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["tracks"] == len(audio_files())
    assert main(["--db", pg_url, "tracks"]) == 0
    assert capsys.readouterr().out.count("\n") >= len(audio_files())
    # No SQLite catalogue was made, and no lock or backup beside one.
    assert not paths.default_db_path().exists()
    assert not (paths.data_dir() / "backups").exists()


def test_the_settings_url_is_the_default_catalogue(pg_url: str, music: Path) -> None:
    settings_mod.update(catalogue_url=pg_url)
    assert main(["-q", "scan", str(music)]) == 0
    assert _titles(pg_url) == len(audio_files())
    assert not paths.default_db_path().exists()


def test_doctor_checks_the_connection_and_the_schema(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Catalogue(pg_url).close()
    assert main(["--db", pg_url, "doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    catalogue, backup = report["checks"][:2]
    assert catalogue["ok"] and "connected (PostgreSQL" in catalogue["text"]
    assert f"schema {SCHEMA_VERSION}" in catalogue["text"]
    assert backup["ok"] and "pg_dump" in backup["text"]
    assert main(["--db", pg_url, "doctor", "--restore"]) == 1
    err = capsys.readouterr().err
    assert "pg_dump" in err and err.count("\n") == 1


def test_doctor_and_commands_say_in_one_line_when_the_server_is_away(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql://musicorg:secret@/nowhere?host=/nonexistent-socket-dir"
    assert main(["--db", url, "doctor"]) == 1
    out = capsys.readouterr().out
    assert "BAD  catalogue postgresql://musicorg:***@/nowhere" in out
    assert "check that the PostgreSQL server runs" in out and "secret" not in out
    assert main(["--db", url, "stats"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("musicorg stats: cannot reach the catalogue") and err.count("\n") == 1
    assert "secret" not in err
