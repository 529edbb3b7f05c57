"""What the walk of a music folder cannot take in (issue 17, item 11): a folder it cannot list,
a FIFO, a dangling link, a loop of links. Each is a problem row with a reason, the scan goes
on, a FIFO is never opened (it would block) and a loop is never followed round."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from musicorg.ingest import scanner
from musicorg.ingest.scanner import ScanReport
from musicorg.store import library
from musicorg.store.db import Catalogue
from tests.ingest.test_hostile import _nobody


def _scan_in_time(cat: Catalogue, folder: Path, seconds: float = 60) -> ScanReport:
    """The scan, failing (not hanging) if it blocks, as it would on opening a FIFO."""
    out: list[ScanReport] = []
    worker = threading.Thread(target=lambda: out.append(scanner.scan(cat, [folder])), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "the scan blocked"
    return out[0]


def _problems(cat: Catalogue) -> dict[str, tuple[str, str]]:
    return {os.path.basename(p.path): (p.kind, p.message) for p in library.problems(cat)}


def test_special_files_and_links_are_problems(cat: Catalogue, music: Path) -> None:
    odd = music / "odd"
    odd.mkdir()
    os.mkfifo(odd / "pipe.mp3")
    os.symlink(odd / "nowhere.flac", odd / "gone.flac")
    os.symlink(odd / "b.ogg", odd / "a.ogg")
    os.symlink(odd / "a.ogg", odd / "b.ogg")
    os.symlink(music, odd / "back-to-top")
    os.symlink(odd / "no-such-cover.jpg", odd / "cover.jpg")  # no music lost: not a problem
    files = [p for p in music.rglob("*") if p.is_file() and not p.is_symlink()]

    report = _scan_in_time(cat, music)
    assert len(report.added) == len(files)  # everything else, once
    reported = {os.path.basename(p): k for p, k, _m in report.problems}
    problems = _problems(cat)
    assert reported == {k: v[0] for k, v in problems.items()}
    assert problems["pipe.mp3"] == ("not a regular file", "this is a named pipe (FIFO), not a file")
    assert problems["gone.flac"][0] == "broken link"
    assert f"points to {odd / 'nowhere.flac'}, which does not exist" in problems["gone.flac"][1]
    assert problems["a.ogg"][0] == problems["b.ogg"][0] == "link loop"
    assert problems["back-to-top"] == (
        "link loop",
        f"this link leads back to {music}, which holds it; not followed",
    )
    assert "cover.jpg" not in problems

    # Unchanged: kept, not reported again. Fixed: forgotten.
    again = _scan_in_time(cat, music)
    assert not again.problems and not again.changed
    assert set(_problems(cat)) == set(problems)
    for name in ("pipe.mp3", "gone.flac", "a.ogg", "b.ogg", "back-to-top"):
        os.unlink(odd / name)
    _scan_in_time(cat, music)
    assert _problems(cat) == {}


def test_a_file_swapped_for_a_fifo_after_the_walk_is_not_opened(
    cat: Catalogue, music: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    song = next(music.rglob("*.flac"))
    walk = scanner._walk_roots

    def swap(*args: object, **kwargs: object) -> object:
        found = walk(*args, **kwargs)  # type: ignore[arg-type]
        song.unlink()
        os.mkfifo(song)
        return found

    monkeypatch.setattr(scanner, "_walk_roots", swap)
    _scan_in_time(cat, music)
    assert _problems(cat)[song.name][0] == "not a regular file"


_SCAN = [sys.executable, "-m", "musicorg.cli", "-q", "--db"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to an unprivileged user")
def test_an_unreadable_folder_is_a_problem_and_keeps_its_tracks() -> None:
    ids = _nobody()
    if ids is None or shutil.which("setpriv") is None:
        pytest.skip("no 'nobody' user or no setpriv")
    base = Path(tempfile.mkdtemp(prefix="musicorg-walk-"))
    try:
        os.chmod(base, 0o755)
        music = base / "music"
        for sub, name in (
            ("open", "kevin_macleod_vibe_ace.ogg"),
            ("shut", "muldjord_chaos_god.flac"),
        ):
            (music / sub).mkdir(parents=True)
            shutil.copy(Path(__file__).parents[1] / "data" / name, music / sub / name)
        home = base / "home"
        home.mkdir()
        os.chown(home, *ids)
        db = home / "cat.sqlite"
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            **{
                f"MUSICORG_{n}_DIR": str(home / n.lower())
                for n in ("DATA", "CONFIG", "CACHE", "LOG")
            },
        }
        nobody = ["setpriv", f"--reuid={ids[0]}", f"--regid={ids[1]}", "--clear-groups"]

        def scan() -> subprocess.CompletedProcess[str]:
            cmd = [*nobody, *_SCAN, str(db), "scan", str(music)]
            return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)

        first = scan()
        assert first.returncode == 0, first.stderr
        os.chmod(music / "shut", 0o000)
        second = scan()
        assert second.returncode == 0, second.stderr
        assert "unreadable folder" in second.stdout
        with Catalogue(db) as cat:
            problems = {p.path: (p.kind, p.message) for p in library.problems(cat)}
            rows = {os.path.basename(r.path): r.missing for r in library.tracks(cat)}
        assert problems == {
            str(music / "shut"): (
                "unreadable folder",
                "cannot list this folder (permission denied); the music in it is not catalogued",
            )
        }
        # What it held is not known to be gone: its track stays, not marked missing.
        assert rows == {"kevin_macleod_vibe_ace.ogg": False, "muldjord_chaos_god.flac": False}
        os.chmod(music / "shut", 0o755)
        assert scan().returncode == 0
        with Catalogue(db) as cat:
            assert library.problems(cat) == []
    finally:
        os.chmod(music / "shut", 0o755)
        shutil.rmtree(base, ignore_errors=True)
