"""Which folders `musicorg scan` walks, and folders that are not there (issue 17, items 1, 11).

The saved music folders belong to the user's own catalogue: `scan --db OTHER` with no folder
scans OTHER's own folders, never the user's. A folder named on the command line that does not
exist is refused in one line, by `scan` and by `relocate` (which would otherwise mark every
track missing, for `prune --yes` to forget)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from musicorg import settings as settings_mod
from musicorg.cli import main


def _split(music: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two libraries of the test files: ``mine`` (music/a) and ``theirs`` (music/b)."""
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    shutil.move(music / "a", mine)
    shutil.move(music / "b", theirs)
    return mine, theirs


def _track_folders(db: Path | None, capsys: pytest.CaptureFixture[str]) -> set[str]:
    capsys.readouterr()
    assert main([*(["--db", str(db)] if db else []), "tracks", "--json"]) == 0
    return {os.path.dirname(t["path"]) for t in json.loads(capsys.readouterr().out)}


def test_scan_without_folders_scans_this_catalogues_own(
    music: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine, theirs = _split(music, tmp_path)
    other = tmp_path / "other.sqlite"
    assert main(["-q", "scan", str(mine)]) == 0  # the user's catalogue: saved
    assert main(["-q", "--db", str(other), "scan", str(theirs)]) == 0  # another: not saved
    assert settings_mod.load().music_folders == [str(mine)]
    (theirs / "new.ogg").write_bytes(next(theirs.glob("*.ogg")).read_bytes())
    capsys.readouterr()
    assert main(["-q", "--db", str(other), "scan", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [os.path.basename(p) for p in report["added"]] == ["new.ogg"]
    assert _track_folders(other, capsys) == {str(theirs)}  # never the saved `mine`
    assert main(["-q", "scan"]) == 0  # the user's catalogue: its saved folders
    assert _track_folders(None, capsys) == {str(mine)}


def test_a_new_catalogue_without_folders_is_refused_in_one_line(
    tmp_path: Path, music: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-q", "scan", str(music)]) == 0  # saved folders exist, for the user's one
    capsys.readouterr()
    fresh = tmp_path / "fresh.sqlite"
    assert main(["-q", "--db", str(fresh), "scan"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"musicorg scan: no folder given and none saved; try: musicorg --db {fresh} scan ~/Music"
    ]


def test_the_default_catalogue_falls_back_on_its_roots(
    music: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-q", "scan", str(music)]) == 0
    settings_mod.update(music_folders=[])  # saved folders lost (a new config folder)
    (music / "a" / "new.ogg").write_bytes(next(music.rglob("*.ogg")).read_bytes())
    capsys.readouterr()
    assert main(["-q", "scan", "--json"]) == 0
    assert [os.path.basename(p) for p in json.loads(capsys.readouterr().out)["added"]] == [
        "new.ogg"
    ]


def test_scan_refuses_a_folder_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.sqlite"
    assert main(["-q", "--db", str(db), "scan", str(tmp_path / "no-such-folder")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"musicorg scan: {tmp_path / 'no-such-folder'} does not exist; nothing was scanned"
    ]


def test_relocate_to_a_folder_that_is_not_there_changes_nothing(
    music: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.sqlite"
    assert main(["-q", "--db", str(db), "scan", str(music)]) == 0
    before = _track_folders(db, capsys)
    gone = tmp_path / "goodX"
    assert main(["--db", str(db), "relocate", str(music / "a"), str(gone)]) == 1
    out = capsys.readouterr()
    assert "Relocated" not in out.out
    assert out.err.splitlines() == [
        f"musicorg relocate: {gone} does not exist; move the folder there first "
        "(nothing was changed)"
    ]
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert main(["--db", str(db), "relocate", str(music / "a"), str(a_file)]) == 1
    assert "is not a folder" in capsys.readouterr().err
    assert _track_folders(db, capsys) == before
    assert main(["--db", str(db), "prune", "--yes"]) == 0
    assert "No missing tracks." in capsys.readouterr().out
