"""The musicorg command line, run as a real process and in-process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from musicorg import __version__
from musicorg.cli import COMMANDS, build_parser, main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "musicorg.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )


def test_version_and_help() -> None:
    assert run("--version").stdout.strip() == f"musicorg {__version__}"
    out = run("--help").stdout
    for name, _help in COMMANDS:
        assert name in out


def test_scan_stats_tracks_with_db_before_or_after(music: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "x.sqlite")
    first = run("--db", db, "scan", str(music), "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert len(report["added"]) == len([p for p in music.rglob("*") if p.is_file()])
    again = run("scan", str(music), "--db", db)
    assert "Nothing changed" in again.stdout
    stats = json.loads(run("stats", "--json", "--db", db).stdout)
    assert stats["tracks"] == len(report["added"]) and stats["missing"] == 0
    assert stats["by_format"]["mp4"] == 1 and stats["by_format"]["asf"] == 1
    assert stats["total_duration_s"] > 60
    tracks = json.loads(run("--db", db, "tracks", "--json").stdout)
    assert {t["title"] for t in tracks} >= {"Vibe Ace", "Chaos God", "Legends of the North"}


def test_problems_prune_relocate(
    music: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "x.sqlite")
    (music / "bad.flac").write_bytes(b"\0" * 100)
    assert main(["--db", db, "-q", "scan", str(music)]) == 0
    capsys.readouterr()
    assert main(["--db", db, "problems", "--json"]) == 0
    problems = json.loads(capsys.readouterr().out)
    assert [(Path(p["path"]).name, p["kind"]) for p in problems] == [("bad.flac", "not audio")]

    # Relocate the whole library: same ids, nothing missing.
    assert main(["--db", db, "tracks", "--json"]) == 0
    before = {t["id"]: Path(t["path"]).name for t in json.loads(capsys.readouterr().out)}
    moved = tmp_path / "moved-music"
    shutil.move(music, moved)
    assert main(["--db", db, "relocate", str(music), str(moved)]) == 0
    capsys.readouterr()
    assert main(["--db", db, "tracks", "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert {t["id"]: Path(t["path"]).name for t in after} == before
    assert all(t["path"].startswith(str(moved)) and not t["missing"] for t in after)
    assert main(["--db", db, "-q", "scan", str(moved)]) == 0
    assert "Nothing changed" in capsys.readouterr().out

    # Prune only after confirming; missing tracks go, the others stay.
    shutil.rmtree(moved / "a")
    main(["--db", db, "-q", "scan", str(moved)])
    capsys.readouterr()
    assert main(["--db", db, "prune"]) == 1  # no terminal to confirm on: refuses
    assert main(["--db", db, "prune", "--yes"]) == 0
    assert "Forgot" in capsys.readouterr().out
    main(["--db", db, "stats", "--json"])
    stats = json.loads(capsys.readouterr().out)
    assert stats["missing"] == 0 and stats["tracks"] == len(list((moved / "b").iterdir()))


def test_scan_remembers_folders_and_demo_has_its_own_catalogue(
    music: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from musicorg import paths
    from musicorg import settings as settings_mod

    assert main(["-q", "scan", str(music)]) == 0
    assert settings_mod.load().music_folders == [str(music)]
    assert main(["-q", "scan"]) == 0  # the saved folders
    assert "Nothing changed" in capsys.readouterr().out
    assert paths.default_db_path().exists()
    assert not paths.demo_db_path().exists()


def test_damaged_catalogue_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"garbage" * 1000)
    result = run("--db", str(bad), "stats")
    assert result.returncode == 1
    assert "damaged" in result.stderr and "Traceback" not in result.stderr


def test_analyse_is_the_command_and_analyze_its_alias() -> None:
    parser = build_parser()
    assert "analyse" in dict(COMMANDS) and "analyze" not in dict(COMMANDS)
    spelled = [parser.parse_args([name, "--device", "cpu"]) for name in ("analyse", "analyze")]
    assert spelled[0].handler is spelled[1].handler
    assert spelled[0].device == spelled[1].device == "cpu"
    assert "analyse (analyze)" in parser.format_help()


def test_read_only_commands_make_no_backup() -> None:
    parser = build_parser()
    read_only = {name for name, _ in COMMANDS if parser.parse_args(_minimal(name)).read_only}
    assert read_only == {"problems", "stats", "tracks", "embeddings", "doctor"}


def _minimal(name: str) -> list[str]:
    """The fewest arguments that command ``name`` accepts."""
    extra = {
        "relocate": ["a", "b"],
        "embeddings": ["x.npz"],
        "similar": ["f"],
        "ask": ["words"],
        "path": ["a", "b"],
        "export": ["d"],
        "import": ["f"],
        "models": ["list"],
    }
    return [name, *extra.get(name, [])]


def test_models_use_goes_through_the_checked_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from musicorg.app import pipeline
    from musicorg.model.registry import ModelVersionError

    asked = []

    def refuse(cat: object, version: str, **_kw: object) -> None:
        asked.append(version)
        raise ModelVersionError(f"model {version} is refused")

    monkeypatch.setattr(pipeline, "switch_model", refuse)
    db = str(tmp_path / "x.sqlite")
    assert main(["--db", db, "-q", "models", "use", "v-bad", "--device", "cpu"]) == 1
    assert asked == ["v-bad"]
    err = capsys.readouterr().err
    assert "model v-bad is refused; the active model is unchanged" in err
