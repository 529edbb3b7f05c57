"""``musicorg relocate --this-machine OLD NEW`` on a catalogue shared through a PostgreSQL
server (tests/pg.py): a second machine with the same music at another folder records its
folder, then scans and lists its own paths; the first machine's stay as they were."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from musicorg.cli import main
from musicorg.store.db import MACHINE_ID_ENV
from tests.conftest import audio_files


def _paths(url: str, capsys: pytest.CaptureFixture[str]) -> set[str]:
    capsys.readouterr()
    assert main(["--db", url, "tracks", "--json"]) == 0
    return {str(row["path"]) for row in json.loads(capsys.readouterr().out)}


def test_a_second_machine_records_its_folder_and_scans_it(
    pg_url: str,
    music: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = tmp_path / "elsewhere" / "Music"
    shutil.copytree(music, other)  # copytree keeps the mtimes: the same music
    monkeypatch.setenv(MACHINE_ID_ENV, "alpha")
    assert main(["--db", pg_url, "-q", "scan", str(music)]) == 0
    monkeypatch.setenv(MACHINE_ID_ENV, "beta")
    capsys.readouterr()
    assert main(["--db", pg_url, "relocate", "--this-machine", str(music), str(other)]) == 0
    assert "is now read at" in capsys.readouterr().out
    # Its own folders (no DIR): beta's, and nothing new.
    assert main(["--db", pg_url, "scan", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unchanged"] == len(audio_files()) and report["added"] == []
    assert len(_paths(pg_url, capsys)) == len(audio_files())
    monkeypatch.setenv(MACHINE_ID_ENV, "alpha")
    assert main(["--db", pg_url, "-q", "scan"]) == 0
    assert len(_paths(pg_url, capsys)) == len(audio_files())
    # A folder the catalogue does not have: one line, nothing changed.
    assert main(["--db", pg_url, "relocate", "--this-machine", str(tmp_path), str(other)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a music folder of this catalogue" in err
