"""One rule for every command: an expected failure prints exactly one line on stderr (what,
where, what to do), never a traceback, and exits non-zero; the traceback goes to the log file.

Progress lines are stderr too, so the commands run with ``-q``: the rule is about the failure,
not the progress that came before it. Each command is tried twice: on a damaged catalogue, and
with a mistake of its own (the table :data:`MISTAKES`, which must name every command, so that a
new command needs a case here)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from musicorg import paths
from musicorg.cli import COMMANDS, main

#: The commands whose job is to report on a damaged catalogue rather than to refuse it.
REPORTERS = {"doctor"}


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].strip(), err
    return lines[0]


def _damage(db: Path) -> None:
    """Garbage over the file's header: no SQLite can read it."""
    with open(db, "r+b") as f:
        f.write(os.urandom(100))


@pytest.fixture
def scanned(music: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    db = tmp_path / "c.sqlite"
    assert main(["--db", str(db), "-q", "scan", str(music)]) == 0
    capsys.readouterr()
    return db


def _args_for(name: str, music: Path, tmp: Path) -> list[str]:
    """Arguments that make ``name`` valid on a healthy catalogue (their meaning aside)."""
    needs = {
        "relocate": [str(music), str(tmp)],
        "embeddings": [str(tmp / "e.npz")],
        "similar": ["x"],
        "path": ["a", "b"],
        "ask": ["calm"],
        "export": [str(tmp / "out")],
        "import": [str(tmp / "x.m3u")],
        "models": ["list"],
    }
    return needs.get(name, [])


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS if n not in REPORTERS])
def test_a_damaged_catalogue_is_one_line_for_every_command(
    name: str, scanned: Path, music: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _damage(scanned)
    status = main(["--db", str(scanned), "-q", name, *_args_for(name, music, tmp_path)])
    line = _one_line(capsys.readouterr().err)
    assert status != 0
    assert str(scanned) in line and "damaged" in line and "doctor" in line, line


def _file_in_the_way(music: Path, tmp: Path) -> Path:
    blocker = tmp / "a-file"
    blocker.write_text("not a folder")
    return blocker


#: name -> (arguments, given the music folder and a scratch folder; words the line must hold).
MISTAKES: dict[str, tuple[Callable[[Path, Path], list[str]], tuple[str, ...]]] = {
    "scan": (lambda m, t: ["scan", str(t / "no-such-folder")], ("no-such-folder",)),
    "problems": (lambda m, t: ["problems", "--db", str(t / "a-folder")], ("a-folder",)),
    "stats": (lambda m, t: ["stats", "--db", str(t / "a-folder")], ("a-folder",)),
    "tracks": (lambda m, t: ["tracks", "--db", str(t / "a-folder")], ("a-folder",)),
    "prune": (lambda m, t: ["prune", "--db", str(t / "a-folder")], ("a-folder",)),
    "relocate": (lambda m, t: ["relocate", str(m), str(t / "gone")], ("gone",)),
    "lyrics": (lambda m, t: ["lyrics", "--genius"], ("token",)),
    "analyse": (lambda m, t: ["analyse", "--device", "cuda"], ("cuda",)),
    "embeddings": (lambda m, t: ["embeddings", str(t / "e.npz")], ("analyse",)),
    "playlists": (lambda m, t: ["playlists", "--rename", "999", "x"], ("999",)),
    "similar": (lambda m, t: ["similar", "no such song"], ("no such song",)),
    "path": (lambda m, t: ["path", "nothing", "nowhere"], ("nothing",)),
    "ask": (lambda m, t: ["ask", "calm jazz"], ("analyse",)),
    "foryou": (lambda m, t: ["foryou"], ("play some music",)),
    "map": (lambda m, t: ["map"], ("analyse",)),
    "export": (
        lambda m, t: ["export", str(_file_in_the_way(m, t) / "out")],
        ("a-file",),
    ),
    "import": (lambda m, t: ["import", str(t / "missing.m3u8")], ("missing.m3u8",)),
    "retrain": (lambda m, t: ["retrain"], ("analyse",)),
    "models": (lambda m, t: ["models", "use", "no-such-model"], ("no-such-model",)),
    "doctor": (lambda m, t: ["doctor", "--db", str(t / "a-folder")], ("a-folder",)),
}


def test_every_command_has_a_mistake() -> None:
    assert set(MISTAKES) == {name for name, _ in COMMANDS}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_mistake_is_one_line(
    name: str, scanned: Path, music: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-folder").mkdir()
    make_args, words = MISTAKES[name]
    argv = make_args(music, tmp_path)
    if "--db" not in argv:
        argv = ["--db", str(scanned), *argv]
    argv = ["-q", *argv]
    status = main(argv)
    line = _one_line(capsys.readouterr().err)
    assert status != 0, line
    for word in words:
        assert word.lower() in line.lower(), line


def test_an_unexpected_error_is_one_line_and_its_traceback_is_logged(
    scanned: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from musicorg.cli import catalogue  # here: the handler this test breaks

    def broken(*_args: object) -> int:
        raise ZeroDivisionError("a bug of ours")

    monkeypatch.setattr(catalogue, "cmd_stats", broken)
    status = main(["--db", str(scanned), "stats"])
    line = _one_line(capsys.readouterr().err)
    assert status == 1
    log_file = paths.log_dir() / "musicorg.log"
    assert "ZeroDivisionError" in line and str(log_file) in line, line
    logged = log_file.read_text(encoding="utf-8")
    assert "Traceback" in logged and "a bug of ours" in logged


def test_an_os_error_names_the_file_and_what_to_do(
    scanned: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An export into a folder that cannot be made: the operating system's refusal, in words."""
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    status = main(["--db", str(scanned), "export", str(blocker / "sub" / "out")])
    line = _one_line(capsys.readouterr().err)
    assert status == 1 and "blocker" in line and "Errno" not in line, line


def test_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    """The rule holds in a real process too, where nothing but ``main`` catches."""
    db = tmp_path / "d.sqlite"
    db.write_bytes(os.urandom(8192))
    done = subprocess.run(
        [sys.executable, "-m", "musicorg.cli", "--db", str(db), "stats"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert done.returncode == 1
    _one_line(done.stderr)
