"""Memory benchmark: peak RSS of ``scan`` + ``analyse`` and of the GUI at 100k tracks.

1. Pipeline. N byte-distinct tracks of realistic length (about three minutes each; FLAC,
   24 kHz mono, cut from the decoded demo excerpts with a per-file gain, window and a unique
   noise burst) are scanned and analysed by the real CLI, each command in a fresh wrapper
   process (``python -m musicorg.cli --db DB -q scan DIR``, then ``... analyse --device cpu
   --workers 1``; ``--workers K`` for a decoding pool of K processes, whose RSS the sampler
   adds in) with the user dirs isolated in a temp dir. Reported per command:

   - ``ru_maxrss``: ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` in the wrapper after the command,
     i.e. the largest single process of the command (decoding workers included);
   - the sampled RSS over time (``VmRSS`` of the whole process tree, every 0.2 s): its peak,
     the largest single process, and, for ``analyse``, the peak of the tree after 25 %, 50 %
     and 100 % of the tracks are analysed, to show it is flat in the number of tracks.

   Several sizes can be given (``--tracks 500 2000``): the figures are printed per size.

2. GUI. A synthetic catalogue with ``--gui-tracks`` tracks (``make_catalogue`` of
   scripts/bench_gui.py) is opened by the real main window offscreen in a wrapper process;
   once the library is loaded and the map drawn, its ``ru_maxrss`` and sampled RSS are printed.

Targets: analysis peak RSS < 1.5 GB and flat in N; GUI < 2 GB at 100,000 tracks.

    python scripts/bench_memory.py [--tracks 5000 ...] [--gui-tracks 100000] [--no-gui]
        [--no-pipeline] [--dir DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
SR = 24_000
TRACK_S = 180.0
SAMPLE_S = 0.2
MB = 1024 * 1024

# Runs one command and writes its peak RSS (RUSAGE_CHILDREN, KiB on Linux) to argv[1].
WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[2:])\n"
    "kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(f'{rc} {kb}')\n"
    "sys.exit(rc)\n"
)

# The real main window on a catalogue, offscreen, until the library and the map are shown.
GUI_CODE = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
db, n = Path(sys.argv[1]), int(sys.argv[2])
t0 = time.perf_counter()
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from bench_gui import wait
from musicorg.gui import gcpolicy
from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.player import NullPlayer
w = MainWindow(player=NullPlayer())
w.resize(1600, 1000)
w.show()
gcpolicy.install(w, w.idle)
w.open_library(db, [], rescan=False)
loaded = wait(app, lambda: len(w.data.snap) == n and w.idle(), 600)
t_loaded = time.perf_counter() - t0
w.tabs.setCurrentIndex(1)
app.processEvents()
m = w.map
m.resize(1280, 800)
app.processEvents()
image = QImage(1280, 800, QImage.Format.Format_ARGB32_Premultiplied)
image.fill(0)
painter = QPainter(image)
m.plot.render(painter)
painter.end()
wait(app, lambda: False, 2.0)  # settle: deferred work after the first paint
print(json.dumps({"loaded": loaded, "rows": len(w.data.snap), "points": m.point_count(),
                  "loaded_s": round(t_loaded, 2)}), flush=True)
w.close()
"""


# --- track generation -----------------------------------------------------------------------


def _base_audio() -> Any:
    """The demo excerpts (or the test files) decoded, mono, at SR, concatenated."""
    import numpy as np
    import soundfile as sf

    srcs = sorted((ROOT / "resources" / "demo").glob("*.opus"))[:12]
    if not srcs:
        srcs = sorted(p for p in (ROOT / "tests" / "data").iterdir() if p.suffix in (".flac",))
    parts = []
    for p in srcs:
        try:
            y, sr = sf.read(str(p), dtype="float32", always_2d=True)
        except Exception:  # a source libsndfile cannot read is skipped
            continue
        y = y.mean(axis=1)
        if sr != SR:  # linear resampling is plenty for a memory benchmark
            t = np.arange(int(len(y) * SR / sr)) * (sr / SR)
            y = np.interp(t, np.arange(len(y)), y).astype(np.float32)
        parts.append(y)
    if not parts:
        raise RuntimeError("no source audio found")
    base = np.concatenate(parts)
    while len(base) < int(TRACK_S * 1.2 * SR):
        base = np.concatenate([base, base[::-1]])
    return base


_BASE: Any = None


def _init_worker() -> None:
    global _BASE
    _BASE = _base_audio()


def _write_track(args: tuple[Path, int]) -> None:
    import numpy as np
    import soundfile as sf

    path, i = args
    rng = np.random.default_rng(i)
    n = int((TRACK_S + rng.uniform(-15, 15)) * SR)
    start = int(rng.integers(0, max(1, len(_BASE) - n)))
    y = _BASE[start : start + n] * np.float32(rng.uniform(0.5, 0.95))
    burst = rng.normal(0, 0.05, int(0.25 * SR)).astype(np.float32)  # unique per file
    y = np.concatenate([y, burst])
    sf.write(str(path), y, SR, format="FLAC", subtype="PCM_16")


def make_tracks(folder: Path, n: int) -> float:
    """N byte-distinct ~3-minute FLAC files in FOLDER (kept between runs); seconds taken."""
    folder.mkdir(parents=True, exist_ok=True)
    todo = [(folder / f"{i:06d}.flac", i) for i in range(n)]
    todo = [t for t in todo if not t[0].exists()]
    t = time.perf_counter()
    if todo:
        with ProcessPoolExecutor(max(1, os.cpu_count() or 1), initializer=_init_worker) as ex:
            list(ex.map(_write_track, todo, chunksize=8))
    return time.perf_counter() - t


def link_tracks(src: Path, dest: Path, n: int) -> None:
    """The first N tracks of SRC in DEST (hard links, else copies)."""
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        name = f"{i:06d}.flac"
        if (dest / name).exists():
            continue
        try:
            os.link(src / name, dest / name)
        except OSError:
            shutil.copyfile(src / name, dest / name)


# --- RSS sampling ---------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root: int) -> tuple[int, int, int]:
    """(sum of VmRSS over ROOT's descendants, the largest one, how many processes)."""
    kids = _children_map()
    todo, seen = list(kids.get(root, [])), []
    while todo:
        pid = todo.pop()
        seen.append(pid)
        todo.extend(kids.get(pid, []))
    rss = [_rss_kb(p) for p in seen]
    return sum(rss), max(rss, default=0), len(seen)


class Sampler(threading.Thread):
    """Samples the RSS of a process tree every SAMPLE_S; optionally a progress counter."""

    def __init__(self, root: int, progress: Any = None) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.progress = progress
        self.samples: list[tuple[float, int, int, int, int]] = []  # t, sum, max, procs, done
        self.stop_event = threading.Event()

    def run(self) -> None:
        t0 = time.monotonic()
        done, last_q = 0, 0.0
        while not self.stop_event.is_set():
            now = time.monotonic()
            if self.progress is not None and now - last_q >= 1.0:
                done, last_q = self.progress(), now
            total, biggest, procs = tree_rss_kb(self.root)
            if procs:
                self.samples.append((now - t0, total, biggest, procs, done))
            self.stop_event.wait(SAMPLE_S)

    def finish(self) -> None:
        self.stop_event.set()
        self.join()

    def peak_sum_mb(self, until_done: int | None = None) -> float:
        s = [x[1] for x in self.samples if until_done is None or x[4] < until_done]
        return max(s, default=0) / 1024

    def peak_single_mb(self) -> float:
        return max((x[2] for x in self.samples), default=0) / 1024

    def max_procs(self) -> int:
        return max((x[3] for x in self.samples), default=0)


def run_measured(
    cmd: list[str], env: dict[str, str], work: Path, progress: Any = None
) -> dict[str, Any]:
    """Run CMD in a fresh wrapper process; its ru_maxrss and the sampled tree RSS."""
    out = work / f"rusage-{time.monotonic_ns()}.txt"
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, str(out), *cmd],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    sampler = Sampler(proc.pid, progress)
    sampler.start()
    stdout, _ = proc.communicate()
    sampler.finish()
    elapsed = time.perf_counter() - t
    rc, kb = (int(x) for x in out.read_text().split())
    if rc != 0:
        raise RuntimeError(f"{cmd[3:6]} exited with {rc}")
    return {
        "stdout": stdout,
        "seconds": round(elapsed, 1),
        "ru_maxrss_mb": round(kb / 1024, 1),
        "sampled_tree_peak_mb": round(sampler.peak_sum_mb(), 1),
        "sampled_single_peak_mb": round(sampler.peak_single_mb(), 1),
        "max_processes": sampler.max_procs(),
        "samples": len(sampler.samples),
        "sampler": sampler,
    }


def isolated_env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("DATA", "CONFIG", "CACHE", "LOG"):
        env[f"MUSICORG_{name}_DIR"] = str(base / name.lower())
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


# --- the two benchmarks ---------------------------------------------------------------------


def bench_pipeline(work: Path, n: int, music: Path, workers: int = 1) -> dict[str, Any]:
    run_dir = work / f"run-{n}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    folder = run_dir / "music"
    link_tracks(music, folder, n)
    env = isolated_env(run_dir)
    db = run_dir / "catalogue.sqlite"
    cli = [sys.executable, "-m", "musicorg.cli", "--db", str(db), "-q"]

    scan = run_measured([*cli, "scan", str(folder)], env, run_dir)
    print(
        f"  scan    {n:6d} tracks: {scan['seconds']:7.1f} s; ru_maxrss {scan['ru_maxrss_mb']} MB; "
        f"sampled: tree peak {scan['sampled_tree_peak_mb']} MB, largest process "
        f"{scan['sampled_single_peak_mb']} MB",
        flush=True,
    )

    def analysed() -> int:
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)
            try:
                return int(con.execute("SELECT count(*) FROM analyses").fetchone()[0])
            finally:
                con.close()
        except sqlite3.Error:
            return 0

    ana = run_measured(
        [*cli, "analyse", "--device", "cpu", "--workers", str(workers)], env, run_dir, analysed
    )
    sampler: Sampler = ana.pop("sampler")
    scan.pop("sampler")
    milestones = {}
    for pct in (25, 50, 100):
        need = max(1, n * pct // 100)
        reached = [x for x in sampler.samples if x[4] >= need]
        # peak of the tree RSS up to the first sample that saw the milestone (the whole run
        # for 100 %, which also covers the embedding/playlist stages after the features)
        upto = reached[0][0] if reached and pct < 100 else float("inf")
        peak = max((x[1] for x in sampler.samples if x[0] <= upto), default=0)
        milestones[f"{pct}%"] = round(peak / 1024, 1)
    ana["tree_peak_by_progress_mb"] = milestones
    ana["analysed"] = analysed()
    print(
        f"  analyse {n:6d} tracks: {ana['seconds']:7.1f} s; ru_maxrss {ana['ru_maxrss_mb']} MB; "
        f"sampled: tree peak {ana['sampled_tree_peak_mb']} MB, largest process "
        f"{ana['sampled_single_peak_mb']} MB, up to {ana['max_processes']} processes; "
        f"tree peak after 25/50/100 % of tracks: "
        + " / ".join(f"{v} MB" for v in milestones.values()),
        flush=True,
    )
    scan.pop("stdout")
    ana.pop("stdout")
    return {"tracks": n, "scan": scan, "analyse": ana}


def bench_gui(work: Path, n: int) -> dict[str, Any]:
    sys.path.insert(0, str(SCRIPTS))
    sys.path.insert(0, str(ROOT))
    from bench_gui import make_catalogue

    from musicorg.model.bundle import BUNDLED_VERSION

    gui_dir = work / f"gui-{n}"
    db = gui_dir / "catalogue.sqlite"
    if not db.exists():
        gui_dir.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        make_catalogue(db, n, BUNDLED_VERSION)
        print(f"  synthetic catalogue of {n} tracks written in {time.perf_counter() - t:.1f} s")
    env = isolated_env(gui_dir)
    env["QT_QPA_PLATFORM"] = "offscreen"
    res = run_measured(
        [sys.executable, "-c", GUI_CODE, str(db), str(n), str(SCRIPTS)], env, gui_dir
    )
    res.pop("sampler")
    info = json.loads(res.pop("stdout").strip().splitlines()[-1])
    res.update(info)
    print(
        f"  GUI {n} tracks: library loaded={info['loaded']} ({info['rows']} rows) after "
        f"{info['loaded_s']} s, map points {info['points']}; ru_maxrss {res['ru_maxrss_mb']} MB; "
        f"sampled tree peak {res['sampled_tree_peak_mb']} MB",
        flush=True,
    )
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, nargs="+", default=[5000], help="one or more sizes")
    ap.add_argument("--gui-tracks", type=int, default=100_000)
    ap.add_argument(
        "--workers", type=int, default=1, help="analyse --workers (1: decoding in-process)"
    )
    ap.add_argument("--no-gui", action="store_true")
    ap.add_argument("--no-pipeline", action="store_true")
    ap.add_argument("--dir", default=None, help="work dir (generated tracks are kept there)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    work = Path(args.dir or tempfile.mkdtemp(prefix="musicorg-bench-mem-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work dir {work}; {os.cpu_count()} CPUs", flush=True)
    results: dict[str, Any] = {"pipeline": [], "gui": None}

    if not args.no_pipeline:
        music = work / "tracks"
        n_max = max(args.tracks)
        took = make_tracks(music, n_max)
        size = sum(p.stat().st_size for p in music.glob("*.flac")) / MB
        print(
            f"{n_max} byte-distinct ~{TRACK_S / 60:.0f}-min FLAC tracks ready "
            f"({size:.0f} MB; generated in {took:.1f} s)",
            flush=True,
        )
        for n in sorted(args.tracks):
            print(f"pipeline, {n} tracks:", flush=True)
            results["pipeline"].append(bench_pipeline(work, n, music, args.workers))

    if not args.no_gui:
        print(f"GUI, {args.gui_tracks} tracks:", flush=True)
        results["gui"] = bench_gui(work, args.gui_tracks)

    print("\nsummary (targets: analysis < 1500 MB and flat in N; GUI < 2048 MB at 100k):")
    for r in results["pipeline"]:
        a, s = r["analyse"], r["scan"]
        print(
            f"  N={r['tracks']:6d}: scan ru_maxrss {s['ru_maxrss_mb']} MB; analyse ru_maxrss "
            f"{a['ru_maxrss_mb']} MB, sampled tree peak {a['sampled_tree_peak_mb']} MB"
        )
    if results["gui"]:
        g = results["gui"]
        print(
            f"  GUI at {args.gui_tracks}: ru_maxrss {g['ru_maxrss_mb']} MB, "
            f"sampled tree peak {g['sampled_tree_peak_mb']} MB"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
