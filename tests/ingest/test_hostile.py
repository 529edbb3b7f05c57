"""The hostile-input corpus through scan and analyse: clear problems, never a crash."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from musicorg.app import pipeline
from musicorg.ingest import scanner
from musicorg.store import library
from musicorg.store.db import Analysis, Catalogue, Lyrics, Track
from tests import hostile


def test_hostile_corpus(cat: Catalogue, tmp_path: Path, music: Path) -> None:
    """Every kind of bad input in the corpus gets the outcome it must: a problem row with a
    reason (at the scan, or at the analysis), or a normal track with finite features."""
    folder = hostile.make(music / "hostile")
    assert len(hostile.EXPECTED) >= 25
    scanner.scan(cat, [music])
    result = pipeline.analyse(cat, device="cpu", workers=1)

    def rel(path: str) -> str:
        return os.path.relpath(path, folder)

    problems = {(rel(p.path), p.stage): p for p in library.problems(cat)}
    with cat.read() as conn:
        rows = conn.execute(
            select(
                Track.display,
                Track.fmt,
                Track.title,
                Track.artist,
                Analysis.weak,
                Analysis.stats,
                Track.duration,
            ).outerjoin(Analysis, Analysis.content_key == Track.content_key)
        ).all()
    by_name = {rel(r[0]): r for r in rows}
    for name, (outcome, detail) in hostile.EXPECTED.items():
        scan_problem = problems.get((name, "scan"))
        analysis_problem = problems.get((name, "analyze"))
        if outcome == "problem":
            assert scan_problem is not None and scan_problem.kind in detail, (name, scan_problem)
            assert scan_problem.message, name
            assert name not in by_name  # no track, so no features
        elif outcome == "analysis problem":
            assert name in by_name and by_name[name][4] is None, name
            assert analysis_problem is not None and analysis_problem.kind in detail, name
        elif outcome == "analysed":
            row = by_name[name]
            assert row[4] is not None, f"{name} was not analysed: {analysis_problem}"
            assert bool(row[4]) is detail, name
            assert np.isfinite(np.frombuffer(row[5], np.float32)).all()
        else:  # analysed from what decodes, or a clear "truncated" problem
            assert name in by_name or getattr(scan_problem, "kind", None) == "truncated", name
            if name in by_name and by_name[name][4] is None:
                assert getattr(analysis_problem, "kind", None) == "truncated", analysis_problem
    assert by_name["really-flac.mp3"][1] == "flac"
    bad = by_name["bad-utf8-id3.mp3"]
    assert bad[3] == "Kevin MacLeod" and "Bad" in (bad[2] or "")
    weird = next(r for r in rows if "latin1" in r[0])
    assert weird[4] is not None and weird[2] == "Legends of the North"
    long = by_name[hostile.LONG_NAME]
    assert long[4] is not None
    # Lengths are what the files hold, never what an impossible header claims, never negative.
    assert all(r[6] is None or 0 <= r[6] < 60 for r in rows), [(r[0], r[6]) for r in rows]
    # The tags are kept as they are; printing them is the front ends' business.
    assert by_name["escapes.ogg"][2] == "\x1b]0;pwned\x07\x1b[2J Escapes"
    # The secret behind the lyrics link stayed out of the catalogue.
    with cat.read() as conn:
        texts = conn.execute(select(Lyrics.text)).scalars().all()
    assert not any(hostile.SECRET in t for t in texts)
    # The symlink loop did not duplicate anything; everything else was analysed.
    legends = [r[0] for r in rows if "Legends" in (r[2] or "")]
    assert len(legends) == 3, legends  # the fixture, its latin1 copy, the one in album.mp3/
    assert sum(1 for p in result.problems if "loop" in p[0]) == 0
    assert str(folder) in " ".join(r[0] for r in rows)


def _nobody() -> tuple[int, int] | None:
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return pw.pw_uid, pw.pw_gid


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to an unprivileged user")
def test_unreadable_file_is_a_permission_problem() -> None:
    ids = _nobody()
    if ids is None or shutil.which("setpriv") is None:
        pytest.skip("no 'nobody' user or no setpriv")
    base = Path(tempfile.mkdtemp(prefix="musicorg-perm-"))
    try:
        os.chmod(base, 0o777)
        music = base / "music"
        music.mkdir()
        for name in ("kevin_macleod_vibe_ace.ogg", "muldjord_chaos_god.flac"):
            shutil.copy(hostile.DATA / name, music / name)
        locked = music / "muldjord_chaos_god.flac"
        os.chmod(locked, 0o000)
        os.chmod(music, 0o755)
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
        cmd = [
            "setpriv",
            f"--reuid={ids[0]}",
            f"--regid={ids[1]}",
            "--clear-groups",
            sys.executable,
            "-m",
            "musicorg.cli",
            "--db",
            str(db),
            "scan",
            str(music),
            "--json",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        with Catalogue(db) as cat:
            problems = {os.path.basename(p.path): p.kind for p in library.problems(cat)}
            titles = {r.title for r in library.tracks(cat)}
        assert problems == {"muldjord_chaos_god.flac": "permission denied"}
        assert titles == {"Vibe Ace"}
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_three_hour_flac_costs_like_a_short_track(tmp_path: Path) -> None:
    long = hostile.make_three_hour_flac(tmp_path / "three-hours.flac")
    assert long.stat().st_size > 10 << 20
    code = (
        "import resource, sys, time; from musicorg.analyse import features; "
        "t = time.perf_counter(); f = features.analyse_file(sys.argv[1]); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "f.duration)"
    )
    short = tmp_path / "three-minutes.flac"
    import soundfile as sf

    sf.write(short, hostile._tone(8000, 180)[:, 0], 8000, format="FLAC")
    figures = {}
    for path in (long, short):
        out = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
        ).stdout.split()
        figures[path.name] = (float(out[0]), int(out[1]), float(out[2]))
    t_long, rss_long, dur = figures[long.name]
    t_short, rss_short, _ = figures[short.name]
    print(
        f"3-hour: {t_long:.2f} s, {rss_long / 1024:.0f} MB; 3-min: {t_short:.2f} s, "
        f"{rss_short / 1024:.0f} MB"
    )
    assert dur == pytest.approx(30.0, abs=0.5)  # the middle 30-s window only
    assert rss_long < rss_short + 100 * 1024  # within 100 MB of the short track's peak


def test_vanished_drive_loses_nothing(cat: Catalogue, music: Path, tmp_path: Path) -> None:
    from musicorg.io import m3u
    from musicorg.store import userlists

    scanner.scan(cat, [music])
    on_a = sorted(r.id for r in library.tracks(cat) if "/a/" in r.path)
    pid = userlists.create(cat, "From drive A", on_a[:3])
    userlists.rename(cat, pid, "Drive A favourites")
    # The drive is unplugged: its tracks become missing, nothing is deleted.
    unplugged = tmp_path / "unplugged"
    (music / "a").rename(unplugged)
    report = scanner.scan(cat, [music])
    assert len(report.missing) == len(on_a)
    items = userlists.items(cat, pid)
    assert [i.track_id for i in items] == on_a[:3] and not any(i.available for i in items)
    out = m3u.export_playlists(cat, tmp_path / "export", names=["Drive A favourites"])
    assert len(out.skipped) == 3  # skipped with a warning, not written
    text = (tmp_path / "export" / "Drive A favourites.m3u8").read_text(encoding="utf-8")
    assert "#EXTINF" not in text
    # It comes back: everything is as before.
    unplugged.rename(music / "a")
    report = scanner.scan(cat, [music])
    assert len(report.restored) == len(on_a)
    items = userlists.items(cat, pid)
    assert [i.track_id for i in items] == on_a[:3] and all(i.available for i in items)
    out = m3u.export_playlists(cat, tmp_path / "export", names=["Drive A favourites"])
    text = (tmp_path / "export" / "Drive A favourites.m3u8").read_text(encoding="utf-8")
    assert text.count("#EXTINF") == 3 and not out.skipped


def test_long_and_non_utf8_names_are_shown_and_exported(cat: Catalogue, tmp_path: Path) -> None:
    from musicorg.io import m3u
    from musicorg.store import userlists

    folder = hostile.make(tmp_path / "music")
    scanner.scan(cat, [folder])
    rows = {r.path: r for r in library.tracks(cat)}
    long = next(r for p, r in rows.items() if p.endswith(hostile.LONG_NAME))
    weird = next(r for p, r in rows.items() if "latin1" in p)
    assert long.title == "Chaos God" and weird.title == "Legends of the North"
    weird.path.encode("utf-8")  # shown: the display string is printable
    userlists.create(cat, "Odd names", [long.id, weird.id])
    m3u.export_playlists(cat, tmp_path / "export", names=["Odd names"])
    text = (tmp_path / "export" / "Odd names.m3u8").read_text(encoding="utf-8")
    assert hostile.LONG_NAME in text
    assert "file://" in text and "%E9" in text.upper()  # the non-UTF-8 name as a file URI


@pytest.mark.slow
def test_memory_run_analyses_every_track(tmp_path: Path) -> None:
    """The memory benchmark end to end (its figures are read by people, not asserted here):
    a real scan and analysis of byte-distinct 3-minute tracks, each in its own process."""
    import json

    out = tmp_path / "memory.json"
    script = Path(__file__).resolve().parents[2] / "scripts" / "bench_memory.py"
    subprocess.run(
        [
            sys.executable,
            str(script),
            "--tracks",
            "60",
            "--no-gui",
            "--dir",
            str(tmp_path / "w"),
            "--json",
            str(out),
        ],
        check=True,
        timeout=1800,
    )
    (run,) = json.loads(out.read_text())["pipeline"]
    assert run["tracks"] == 60 and run["analyse"]["analysed"] == 60
    assert run["scan"]["ru_maxrss_mb"] > 0 and run["analyse"]["ru_maxrss_mb"] > 0
    print(json.dumps(run, indent=1))
