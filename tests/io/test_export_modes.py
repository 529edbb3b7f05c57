"""Folder and file modes whatever the umask (issue 17, item 11): musicorg's own folders are
never group- or world-writable, its configuration and data folders are private; exports follow
the umask (0644 under 022), and a full disk during an export (``/dev/full``) is one clear error
that leaves no temporary file and the older export as it was."""

from __future__ import annotations

import errno
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
        allowed = 0o700 if name in ("config", "data") else 0o755  # private: token, catalogue
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


#: umask -> the mode of an exported playlist: 0666 less the umask, as for any file created.
EXPORT_MODES = {0o022: 0o644, 0o077: 0o600, 0o002: 0o664}


@pytest.fixture(params=sorted(EXPORT_MODES), ids=lambda u: f"umask{u:03o}")
def export_umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """The process's umask set for one test and put back after it (pytest runs the tests of
    a process one at a time, and nothing here starts a thread)."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_exported_playlists_follow_the_umask(tmp_path: Path, export_umask: int) -> None:
    expected = EXPORT_MODES[export_umask]
    target = tmp_path / "Mix.m3u8"
    m3u.write_atomic(target, "#EXTM3U\n")
    assert _mode(target) == expected
    target.chmod(0o600 if expected != 0o600 else 0o644)  # an older export, rewritten
    m3u.write_atomic(target, "#EXTM3U\n#PLAYLIST:Mix\n")
    assert _mode(target) == expected
    assert target.read_text(encoding="utf-8") == "#EXTM3U\n#PLAYLIST:Mix\n"
    assert [p.name for p in tmp_path.iterdir()] == ["Mix.m3u8"]  # no temporary file left


def test_write_atomic_leaves_the_umask_alone(tmp_path: Path, export_umask: int) -> None:
    m3u.write_atomic(tmp_path / "Mix.m3u8", "#EXTM3U\n")
    assert os.umask(export_umask) == export_umask  # unchanged (and set back to the same)


def test_export_command_follows_the_umask(tmp_path: Path, export_umask: int) -> None:
    from musicorg.cli import main
    from musicorg.store import userlists
    from musicorg.store.db import Catalogue

    db = tmp_path / "x.sqlite"
    with Catalogue(db) as cat:
        userlists.create(cat, "Empty", [])
    assert main(["--db", str(db), "-q", "export", str(tmp_path / "out")]) == 0
    files = list((tmp_path / "out").glob("*.m3u8"))
    assert files and all(_mode(f) == EXPORT_MODES[export_umask] for f in files)


# -- a full disk during an export --------------------------------------------------------------

needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every playlist file written from now on lands on a full disk.

    ``write_atomic`` still creates its real temporary file in the export folder (the real
    ``_create_temporary``); the file descriptor it gets back is then pointed at ``/dev/full``
    (``dup2``), on which every write fails with ENOSPC, exactly as on a full disk. Nothing of
    the writing, the clean-up or the error handling is replaced. The temporary files made are
    listed, to check they are gone afterwards."""
    real = m3u._create_temporary
    made: list[Path] = []

    def on_full_disk(folder: Path) -> tuple[int, Path]:
        fd, tmp = real(folder)
        made.append(tmp)
        full = os.open("/dev/full", os.O_WRONLY)
        try:
            os.dup2(full, fd)
        finally:
            os.close(full)
        return fd, tmp

    monkeypatch.setattr(m3u, "_create_temporary", on_full_disk)
    return made


@needs_dev_full
def test_a_full_disk_leaves_the_older_export_and_no_temporary_file(
    tmp_path: Path, full_disk: list[Path]
) -> None:
    target = tmp_path / "Mix.m3u8"
    target.write_text("#EXTM3U\n#PLAYLIST:Old\n", encoding="utf-8")
    target.chmod(0o640)
    with pytest.raises(m3u.ExportWriteError) as info:
        m3u.write_atomic(target, "#EXTM3U\n#PLAYLIST:New\n" + "x\n" * 100_000)
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
    assert str(info.value) == f"cannot write {target}: No space left on device"
    assert len(full_disk) == 1 and not full_disk[0].exists()  # made, then removed
    assert [p.name for p in tmp_path.iterdir()] == ["Mix.m3u8"]
    assert target.read_text(encoding="utf-8") == "#EXTM3U\n#PLAYLIST:Old\n"
    assert _mode(target) == 0o640


@needs_dev_full
def test_export_command_on_a_full_disk_is_one_line(
    tmp_path: Path, full_disk: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from musicorg.cli import main
    from musicorg.store import userlists
    from musicorg.store.db import Catalogue

    db = tmp_path / "x.sqlite"
    with Catalogue(db) as cat:
        userlists.create(cat, "Mix", [])
    out = tmp_path / "out"
    out.mkdir()
    (out / "Mix.m3u8").write_text("#EXTM3U\n#PLAYLIST:Old\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["--db", str(db), "-q", "export", str(out)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    line = lines[0]
    assert line.startswith("musicorg export: cannot write ") and str(out / "Mix.m3u8") in line
    assert "no space left" in line and "free some space" in line, line
    assert full_disk and not any(t.exists() for t in full_disk)
    assert [p.name for p in out.iterdir()] == ["Mix.m3u8"]
    assert (out / "Mix.m3u8").read_text(encoding="utf-8") == "#EXTM3U\n#PLAYLIST:Old\n"
