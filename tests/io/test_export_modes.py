"""Folder and file modes whatever the umask (issue 17, item 11): musicorg's own folders are
never group- or world-writable, its configuration folder is private, exports are 0644."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from musicorg import paths
from musicorg.io import m3u

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o077], ids=["umask000", "umask077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_folders_are_never_group_or_world_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int
) -> None:
    for name in ("DATA", "CONFIG", "CACHE", "LOG"):
        monkeypatch.setenv(f"MUSICORG_{name}_DIR", str(tmp_path / "home" / "deep" / name.lower()))
    made = {
        "config": paths.config_dir(),
        "data": paths.data_dir(),
        "cache": paths.cache_dir(),
        "log": paths.log_dir(),
    }
    for name, folder in made.items():
        assert folder.is_dir(), name
        allowed = 0o700 if name == "config" else 0o755
        assert _mode(folder) == allowed & ~umask, name
    for parent in (tmp_path / "home", tmp_path / "home" / "deep"):
        assert _mode(parent) == 0o755 & ~umask
    # The settings file's folder, and a file beside the catalogue, land in them.
    assert paths.settings_path().parent == made["config"]
    assert paths.default_db_path().parent == made["data"]


def test_an_existing_folder_is_left_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o750)
    monkeypatch.setenv("MUSICORG_CONFIG_DIR", str(shared))
    assert paths.config_dir() == shared and _mode(shared) == 0o750


def test_a_folder_that_cannot_be_made_is_still_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MUSICORG_DATA_DIR", str(blocker / "data"))
    assert paths.data_dir() == blocker / "data"


def test_exported_playlists_are_0644(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "Mix.m3u8"
    m3u.write_atomic(target, "#EXTM3U\n")
    assert _mode(target) == 0o644
    target.chmod(0o600)  # an older export, rewritten
    m3u.write_atomic(target, "#EXTM3U\n#PLAYLIST:Mix\n")
    assert _mode(target) == 0o644
    assert target.read_text(encoding="utf-8") == "#EXTM3U\n#PLAYLIST:Mix\n"
    assert [p.name for p in tmp_path.iterdir()] == ["Mix.m3u8"]  # no temporary file left


def test_export_command_writes_0644(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int
) -> None:
    from musicorg.cli import main
    from musicorg.store import userlists
    from musicorg.store.db import Catalogue

    db = tmp_path / "x.sqlite"
    with Catalogue(db) as cat:
        userlists.create(cat, "Empty", [])
    assert main(["--db", str(db), "-q", "export", str(tmp_path / "out")]) == 0
    files = list((tmp_path / "out").glob("*.m3u8"))
    assert files and all(_mode(f) == 0o644 for f in files)
