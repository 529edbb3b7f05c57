"""A catalogue that this user cannot write opens for reading: the read-only commands work, the
others refuse in one line, and nothing is left behind that stops a later writer. Run as an
unprivileged user (root may write anything), as real processes (issue #17, item 6)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from musicorg.ingest import scanner
from musicorg.store import library
from musicorg.store.db import Catalogue

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to drop to an unprivileged user",
)

DATA = Path(__file__).resolve().parents[1] / "data"
SEED = DATA / "kevin_macleod_vibe_ace.ogg"


def _nobody() -> tuple[int, int]:
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' user")
    return pw.pw_uid, pw.pw_gid


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder outside pytest's root-only tmp, which the unprivileged user can reach."""
    folder = Path(tempfile.mkdtemp(prefix="musicorg-ro-"))
    os.chmod(folder, 0o777)
    try:
        yield folder
    finally:
        for path in (folder, *folder.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                os.chmod(path, 0o755)
        shutil.rmtree(folder, ignore_errors=True)


def as_nobody(base: Path, *args: str) -> subprocess.CompletedProcess[str]:
    uid, gid = _nobody()
    home = base / "home"
    home.mkdir(exist_ok=True)
    os.chown(home, uid, gid)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        **{f"MUSICORG_{n}_DIR": str(home / n.lower()) for n in ("DATA", "CONFIG", "CACHE", "LOG")},
    }
    cmd = [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={gid}",
        "--clear-groups",
        sys.executable,
        "-m",
        "musicorg.cli",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def catalogue_in(folder: Path) -> Path:
    folder.mkdir()
    db = folder / "cat.sqlite"
    with Catalogue(db) as cat:
        scanner.scan(cat, [DATA])
    return db


def assert_reads_work(base: Path, db: Path) -> None:
    for command in (["stats"], ["tracks"], ["problems"], ["playlists"]):
        result = as_nobody(base, "--db", str(db), *command)
        assert result.returncode == 0, (command, result.stderr)
        assert "Traceback" not in result.stderr
    stats = as_nobody(base, "--db", str(db), "stats")
    assert "Tracks:" in stats.stdout
    # `similar` reads its way to its own answer (nothing is analysed here).
    similar = as_nobody(base, "--db", str(db), "similar", str(SEED))
    assert (
        similar.stderr.strip()
        == "musicorg similar: no embeddings yet: run `musicorg analyse` first"
    )


def assert_writes_refused(base: Path, db: Path) -> None:
    before = db.read_bytes()
    result = as_nobody(base, "--db", str(db), "scan", str(DATA))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"musicorg scan: the catalogue {db} is read-only; it can be read, but to change it make "
        "the file and its folder writable"
    ]
    assert db.read_bytes() == before


def test_a_0444_catalogue_in_a_writable_folder(base: Path) -> None:
    db = catalogue_in(base / "lib")
    os.chmod(db.parent, 0o777)
    os.chmod(db, 0o444)
    assert_reads_work(base, db)
    assert_writes_refused(base, db)
    # No read-only -wal or -shm is left to stop the owner once the file is writable again.
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    uid, gid = _nobody()
    for path in (db, *db.parent.iterdir()):
        os.chown(path, uid, gid)
    os.chmod(db, 0o644)
    again = as_nobody(base, "--db", str(db), "scan", str(DATA))
    assert again.returncode == 0, again.stderr


def test_a_catalogue_in_a_0555_folder(base: Path) -> None:
    db = catalogue_in(base / "lib")
    os.chmod(db, 0o644)
    os.chmod(db.parent, 0o555)
    assert_reads_work(base, db)
    assert_writes_refused(base, db)
    # Nobody can start writing in WAL mode there, so it was read as immutable: no -shm.
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()


def test_an_unwritable_data_folder_is_one_line(base: Path) -> None:
    locked = base / "locked"
    locked.mkdir(mode=0o755)
    home = base / "home"
    home.mkdir()
    uid, gid = _nobody()
    os.chown(home, uid, gid)
    for command in (["stats"], ["scan", str(DATA)]):
        result = as_nobody(base, "--db", str(locked / "data" / "cat.sqlite"), *command)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"musicorg {command[0]}: cannot make the folder {locked / 'data'} for the catalogue "
            "(Permission denied); make its parent writable or choose another place "
            "(MUSICORG_DATA_DIR, or --db)"
        ]
    new = as_nobody(base, "--db", str(locked / "cat.sqlite"), "stats")
    assert new.returncode == 1
    assert new.stderr.strip().splitlines() == [
        f"musicorg stats: cannot create the catalogue {locked / 'cat.sqlite'}: its folder is not "
        "writable; make it writable or choose another place (MUSICORG_DATA_DIR, or --db)"
    ]


def test_the_library_reads_of_a_read_only_catalogue(tmp_path: Path) -> None:
    """In-process: what the commands above call, on a catalogue opened read-only."""
    db = catalogue_in(tmp_path / "lib")
    with Catalogue(db, read_only=True) as cat:
        assert library.stats(cat)["tracks"] == len(library.tracks(cat)) > 0
        assert library.problems(cat) == []
