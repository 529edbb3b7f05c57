"""GUI benchmark on a 100,000-track synthetic catalogue, or on a catalogue of yours (offscreen).

Measures, with the real main window:

- time to first window: a fresh ``python`` process from spawn to the window shown (twice: a
  cold and a warm file cache), and the time until the 100k library is on screen;
- the longest UI-thread stall while a scan and then an analysis run in the background (a
  10 ms QTimer heartbeat; a stall is the largest gap between two beats minus 10 ms). The scan
  adds real files (copies of tests/data made byte-distinct) to the 100k catalogue, so the
  periodic reloads of the 100k snapshot are part of what is measured;
- the longest UI-thread stall while music plays (to the null output device: decoding,
  resampling and the device callback run as they would on a sound card), first alone, then
  while a second scan adds more files; the now-playing bar polls the position, a track
  changes, plays are recorded and the Plays column is refreshed, all part of what is measured;
- sort latency per column, and filter latency for a few queries typed in the search box
  until the table shows what was found (a library of ``SEARCH_BACKGROUND_FROM`` tracks or
  more is searched in a worker), with the UI thread's CPU and its longest stall;
- recolouring time of the map (group, genre, year) until the new colours are drawn (a big
  map works them out in a worker), with the longest UI stall;
- frame time when panning the map: the map widget (1280x800) is rendered into a fixed-size
  QImage after each pan step.

Targets: first window <= 2 s, no stall > 100 ms, sort/filter <= 200 ms, panning >= 30 fps.

``--catalogue PATH`` opens an existing catalogue instead (a file, or a shared catalogue's
``postgresql://`` URL; e.g. the million tracks
``scripts/bench_scale.py --keep DIR`` leaves in ``DIR/bench.sqlite``; work on a copy: the
window opens it as the app does, and writes to it as the app does). It measures, with wall
and CPU time: the first window of a fresh process that opens the catalogue (the window shown,
then the library on screen, its longest UI stall and its peak RSS), then in this process the
library on screen and the longest UI stall while it loads and for ``--settle-s`` seconds
after (the background jobs the load starts go on: the default 180 s takes in the playlists'
words, 2-3 minutes at a million tracks, and their landing on the sidebar and the map),
the first showing of the map (how many points it draws: at most ``MAX_POINTS`` of
:mod:`musicorg.gui.mapframe`, a sample of a bigger library; then until it is drawn and its
regions' labels are placed, both worked out in workers, with the longest UI stall meanwhile;
``--trace-stalls`` traces it and the recolours too), sort and filter
(wall and UI CPU), recolouring and panning, and the peak RSS. The scan, play and analysis
phases are left out. Target at a million tracks: first window <= 5 s, no UI stall over
100 ms while loading.

``--playback-only`` leaves out the first window, sort/filter and the map (the scan and play
phases only); ``--trace-stalls`` lists each UI stall over 40 ms of the loading, the scans and
the analysis, and what the other threads were doing when a watcher thread woke late (it waited
for the GIL or a core): the thread that held the GIL is usually just past its long call. Each
stall is reported with the UI thread's CPU time in that gap (``ui_cpu_in_worst_*``: a long gap
with little CPU was spent waiting, for the GIL or for a core), and the longest garbage
collection with its generation and young count. ``--switch-interval-ms`` replaces the GIL's
switch interval that the window's policy sets (:data:`musicorg.gui.gcpolicy.SWITCH_INTERVAL_S`,
1 ms), for A/B runs.

Measured at 100,000 tracks (``--playback-only``, our two cores shared with other jobs, load
average 5-6, three back-to-back pairs): with a 1 ms switch interval against Python's 5 ms the
longest stall while playing during a scan was 88-133 ms against 143-454 ms, while playing
alone 107-133 against 104-152 ms, during the scan 63-177 against 88-177 ms, while loading
163-445 against 166-268 ms (most of those gaps held under 60 ms of UI-thread CPU: waiting
for a core); the scans took as long (4.0-6.8 s against 3.8-8.5 s) and the analysis got as
far in its 30 s (273 files in the three runs against 271). 0.5 ms did no better.

    QT_QPA_PLATFORM=offscreen python scripts/bench_gui.py [--tracks 100000] [--files 200]
        [--play-files 100] [--analyse-s 60 | --no-analysis] [--json out.json]
    QT_QPA_PLATFORM=offscreen python scripts/bench_gui.py --catalogue PATH [--settle-s 65]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

DATA = ROOT / "tests" / "data"
GENRES = ["Rock", "Jazz", "Folk", "Electronic", "Classical", "Metal", "Pop", "Ambient", "Soul"]
WORDS = ["night", "river", "blue", "fire", "dance", "road", "moon", "heart", "city", "rain"]


def make_catalogue(path: Path, n: int, version: str, seed: int = 0) -> None:
    """N tracks with tags, 32-d embeddings in 12 clusters, a PCA map and auto playlists."""
    from musicorg.analyse.features import FEATURES_VERSION
    from musicorg.store.db import Catalogue

    Catalogue(path).close()  # the schema
    rng = np.random.default_rng(seed)
    k = 12
    centres = rng.normal(0, 4, (k, 32)).astype(np.float32)
    cluster = rng.integers(0, k, n)
    mu = centres[cluster] + rng.normal(0, 1, (n, 32)).astype(np.float32)
    xy = mu[:, :2] + rng.normal(0, 0.2, (n, 2)).astype(np.float32)
    now = time.time()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    tracks = []
    for i in range(n):
        artist = f"Artist {i % 7919}"
        title = f"{WORDS[i % len(WORDS)].title()} {WORDS[(i * 7) % len(WORDS)]} {i}"
        p = f"/bench/music/{artist}/{i // 12:05d} Album/{i:06d} {title}.flac"
        tracks.append(
            (
                i + 1,
                p.encode(),
                p,
                1000 + i,
                0,
                f"key{i:07d}",
                "flac",
                "flac",
                120.0 + (i % 300),
                title,
                artist,
                f"Album {i // 12}",
                GENRES[(i * 31) % len(GENRES)],
                1960 + (i % 60),
                i % 12 + 1,
                int(i % 997 == 0),
                now,
                now,
            )
        )
    con.executemany(
        "INSERT INTO tracks (id, path, display, size, mtime_ns, content_key, fmt, codec, "
        "duration, title, artist, album, genre, year, tracknumber, missing, added_at, "
        "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        tracks,
    )
    con.executemany(
        "INSERT INTO embeddings (content_key, model_version, mu, created_at) VALUES (?,?,?,?)",
        ((f"key{i:07d}", version, mu[i].tobytes(), now) for i in range(n)),
    )
    # Analyses exist (tiny placeholders: only their presence matters), so that an analysis
    # run works on the real files the scan adds, not on these synthetic tracks.
    con.executemany(
        "INSERT INTO analyses (content_key, features_version, features, shape, weak, "
        "created_at) VALUES (?, ?, ?, '39x130', 0, ?)",
        ((f"key{i:07d}", FEATURES_VERSION, b"\0\0\0\0", now) for i in range(n)),
    )
    con.executemany(
        "INSERT INTO map_coords (model_version, method, content_key, x, y) VALUES (?,?,?,?,?)",
        ((version, "pca", f"key{i:07d}", float(xy[i, 0]), float(xy[i, 1])) for i in range(n)),
    )
    # Automatic playlists: one group per cluster, cut into playlists of <= 60 tracks.
    pid = 0
    items: list[tuple[int, int, int]] = []
    pls = []
    for c in range(k):
        members = np.flatnonzero(cluster == c) + 1
        for j in range(0, len(members), 60):
            pid += 1
            pls.append(
                (pid, f"Group {c + 1} · {j // 60 + 1}", "auto", version, f"Group {c + 1}", c)
            )
            items.extend((pid, pos, int(t)) for pos, t in enumerate(members[j : j + 60]))
    con.executemany(
        "INSERT INTO playlists (id, name, kind, model_version, group_name, group_index, pinned, "
        "renamed, created_at, updated_at) VALUES (?,?,?,?,?,?,0,0,0,0)",
        pls,
    )
    con.executemany(
        "INSERT INTO playlist_items (playlist_id, position, track_id) VALUES (?,?,?)", items
    )
    con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('active_model', ?)", (version,))
    con.commit()
    con.close()
    # Opened and closed once by the store, as the app leaves a catalogue (its health check
    # runs here, not in the measured start; after an unclean close it runs when opened).
    Catalogue(path).close()


def make_files(folder: Path, count: int, first: int = 0) -> None:
    """COUNT byte-distinct copies of the real test files (a few appended bytes each; copy
    number FIRST onwards, so that two folders never hold the same bytes)."""
    src = sorted(p for p in DATA.iterdir() if p.suffix in (".mp3", ".flac", ".ogg", ".opus"))
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(first, first + count):
        s = src[i % len(src)]
        dest = folder / f"{i:05d}-{s.name}"
        shutil.copyfile(s, dest)
        with dest.open("ab") as fh:
            fh.write(i.to_bytes(4, "little") * 8)


def first_window_s(env: dict[str, str]) -> float:
    code = (
        "import time, sys; t0 = time.perf_counter()\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication(sys.argv[:1])\n"
        "from musicorg.gui.mainwindow import MainWindow\n"
        "w = MainWindow(); w.show(); app.processEvents()\n"
        "print('shown', flush=True)\n"
    )
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - t
    proc.wait()
    if "shown" not in line:
        raise RuntimeError("the window did not show")
    return elapsed


#: The fresh process of --catalogue: the window shown, the catalogue opened, its library on
#: screen; one line per step ("step wall_s cpu_s"), then the stall, the RSS and the points.
OPEN_CODE = """
import os, resource, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from musicorg.gui.mainwindow import MainWindow
w = MainWindow(); w.show(); app.processEvents()
print('shown', time.perf_counter() - t0, time.process_time() - c0, flush=True)
sys.path.insert(0, 'scripts')
from bench_gui import Heartbeat, wait
from musicorg.gui import gcpolicy
gcpolicy.install(w, w.idle)
hb = Heartbeat(); hb.start()
w.open_library(sys.argv[1], None, rescan=False); app.processEvents()
print('opened', time.perf_counter() - t0, time.process_time() - c0, flush=True)
loaded = []
w.library_loaded.connect(lambda: loaded.append((time.perf_counter(), time.process_time())))
wait(app, lambda: bool(loaded), 1800)
if not loaded:
    raise SystemExit('the library did not load')
print('loaded', loaded[0][0] - t0, loaded[0][1] - c0, flush=True)
print('stall', hb.stop(), hb.worst_cpu, flush=True)
print('rss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, flush=True)
w.close(); app.processEvents()
print('closed', time.perf_counter() - t0, time.process_time() - c0, flush=True)
os._exit(0)
"""


def open_fresh(env: dict[str, str], db: Path | str) -> dict[str, Any]:
    """A fresh process opens the catalogue as a user would (the real window): seconds from
    spawn to the window shown, to the catalogue opened and to its library on screen, each
    with the process's CPU seconds; its longest UI stall until then and its peak RSS."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", OPEN_CODE, str(db)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    out: dict[str, Any] = {}
    for line in proc.stdout:
        step, *values = line.split()
        if step in ("shown", "opened", "loaded", "closed"):
            # wall from spawn (the interpreter's start included), CPU of the process
            out[f"{step}_s"] = round(time.perf_counter() - t, 2)
            out[f"{step}_cpu_s"] = round(float(values[1]), 2)
        elif step == "stall":
            out["stall_while_loading_ms"] = round(float(values[0]) * 1000, 1)
            out["ui_cpu_while_loading_ms"] = round(float(values[1]) * 1000, 1)
        elif step == "rss":
            out["peak_rss_mb"] = round(int(values[0]) / 2**20)
    if proc.wait() or "loaded_s" not in out:
        raise RuntimeError(f"the fresh process failed ({proc.returncode}): {out}")
    return out


def peak_rss_mb() -> int:
    """This process's peak resident memory so far (MB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


class Heartbeat:
    def __init__(self, interval_ms: int = 10) -> None:
        from PySide6.QtCore import QTimer

        self.interval = interval_ms / 1000
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._beat)
        self.last = 0.0
        self.worst = 0.0
        self.beats = 0
        self.gaps: list[tuple[float, float, float]] = []  # (when, gap, UI CPU) over 40 ms

    def start(self) -> None:
        self.last = time.perf_counter()
        self.last_cpu = time.thread_time()
        self.worst = 0.0
        self.worst_cpu = 0.0
        self.worst_gap_cpu = 0.0  # the UI thread's CPU in the longest gap
        self.beats = 0
        self.gaps = []
        self.timer.start()

    def _beat(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if now - self.last - self.interval > self.worst:
            self.worst = now - self.last - self.interval
            self.worst_gap_cpu = cpu - self.last_cpu
        # CPU time the UI thread itself spent between two beats: a long gap with little CPU
        # is time spent waiting (for a core on a busy machine, or for the GIL).
        self.worst_cpu = max(self.worst_cpu, cpu - self.last_cpu)
        if now - self.last - self.interval > 0.04:
            self.gaps.append((self.last, now - self.last - self.interval, cpu - self.last_cpu))
        self.last, self.last_cpu = now, cpu
        self.beats += 1

    def stop(self) -> float:
        self.timer.stop()
        return self.worst


class StallTracer:
    """Where the time went when a thread had to wait long (``--trace-stalls``): a thread that
    wakes every 5 ms and, when it wakes late (it waited for the GIL or for a core), notes the
    stacks of the other threads; the one that held the GIL is usually just past its long
    call."""

    def __init__(self, late_ms: float = 40.0) -> None:
        import threading

        self.late = late_ms / 1000
        self.events: list[tuple[float, float, dict[str, list[str]]]] = []
        self._threading = threading
        self._stop = threading.Event()
        self._thread: Any = None
        self.t0 = time.perf_counter()

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self._stop.clear()
        self._thread = self._threading.Thread(target=self._run, name="stall-tracer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        me = self._threading.get_ident()
        while not self._stop.is_set():
            t = time.perf_counter()
            time.sleep(0.005)
            late = time.perf_counter() - t - 0.005
            if late < self.late:
                continue
            frames = sys._current_frames()
            names = {th.ident: th.name for th in self._threading.enumerate()}
            stacks = {
                names.get(ident, str(ident)): innermost(frame)
                for ident, frame in frames.items()
                if ident != me
            }
            self.events.append((t - self.t0, late, stacks))

    def report(self, gaps: list[tuple[float, float, float]], top: int = 6) -> None:
        for at, gap, cpu in gaps:
            print(
                f"UI stall from {at - self.t0:.2f} s: {gap * 1000:.0f} ms "
                f"({cpu * 1000:.0f} ms of UI-thread CPU)"
            )
        worst = sorted(self.events, key=lambda e: -e[1])[:top]
        for at, late, stacks in sorted(worst):
            print(f"--- at {at:.2f} s: the tracer woke {late * 1000:.0f} ms late")
            for name, stack in stacks.items():
                if stack and " wait" not in stack[-1] and "get" not in stack[-1]:
                    print(f"  [{name}] " + " < ".join(reversed(stack)))


def innermost(frame: Any, depth: int = 9) -> list[str]:
    """The innermost ``depth`` frames of a stack, outermost first, from the frames alone:
    ``traceback.extract_stack`` reads the source lines (linecache), and the tracer's own
    reading and freeing of them held the GIL long enough to stall the window it measures."""
    out: list[str] = []
    while frame is not None and len(out) < depth:
        out.append(f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}")
        frame = frame.f_back
    return out[::-1]


class GcWatch:
    """The longest garbage collection, and whether it ran on the UI thread."""

    def __init__(self) -> None:
        import gc
        import threading

        self.main = threading.main_thread()
        self.started = 0.0
        self.worst = {"ui": 0.0, "worker": 0.0}
        self.what: dict[str, str] = {}
        self.young = 0
        self._threading = threading
        self._gc = gc  # kept: a collection during interpreter shutdown may not import it
        gc.callbacks.append(self._cb)

    def _cb(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            self.young = self._gc.get_count()[0]
            return
        where = "ui" if self._threading.current_thread() is self.main else "worker"
        took = time.perf_counter() - self.started
        if took > self.worst[where]:
            self.worst[where] = took
            # which generation, and how many objects the young one held when it began
            self.what[where] = f"gen {info['generation']}, young {self.young:,}"

    def take(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: round(v * 1000, 1) for k, v in self.worst.items()}
        out.update({f"{k}_what": v for k, v in self.what.items()})
        self.worst = {"ui": 0.0, "worker": 0.0}
        self.what = {}
        return out


@contextmanager
def traced(on: bool, hb: Heartbeat) -> Iterator[None]:
    """With --trace-stalls (``on``): print what the other threads did during each UI stall
    of the block (the heartbeat ``hb`` measures the stalls)."""
    tracer = StallTracer() if on else None
    if tracer is not None:
        tracer.start()
    try:
        yield
    finally:
        if tracer is not None:
            tracer.stop()
            tracer.report(hb.gaps)


def wait(app: Any, cond: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if cond():
            return True
        time.sleep(0.002)
    return False


def timed(app: Any, fn: Any, cpu: list[float] | None = None) -> float:
    """Seconds ``fn`` and the events it posted took; the UI thread's CPU seconds go to
    ``cpu`` (on a shared machine the wall time includes waiting for a core)."""
    t, c = time.perf_counter(), time.thread_time()
    fn()
    app.processEvents()
    if cpu is not None:
        cpu.append(time.thread_time() - c)
    return time.perf_counter() - t


def ms(times: dict[str, float]) -> dict[str, float]:
    """Durations in seconds as milliseconds, rounded for the report."""
    return {k: round(v * 1000, 1) for k, v in times.items()}


def record_stalls(results: dict[str, Any], hb: Heartbeat, gcw: GcWatch, when: str) -> None:
    """Stop the heartbeat; the longest stall, GC and UI-thread CPU of a phase into results."""
    results[f"stall_{when}_ms"] = round(hb.stop() * 1000, 1)
    results[f"longest_gc_{when}_ms"] = gcw.take()
    results[f"ui_cpu_{when}_ms"] = round(hb.worst_cpu * 1000, 1)
    results[f"ui_cpu_in_worst_{when}_ms"] = round(hb.worst_gap_cpu * 1000, 1)


def pan_frames(m: Any, image: Any, step: float, count: int) -> np.ndarray:
    """Frame times (s) of COUNT pan steps, half one way and half back, the first 5 left out."""
    from PySide6.QtGui import QPainter

    frames = []
    for i in range(count):
        t = time.perf_counter()
        m.view_box.translateBy(x=step if i < count // 2 else -step, y=0)
        image.fill(0)
        painter = QPainter(image)
        m.plot.render(painter)
        painter.end()
        frames.append(time.perf_counter() - t)
    return np.array(frames[5:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=100_000)
    ap.add_argument("--files", type=int, default=200, help="real files the scan adds")
    ap.add_argument("--play-files", type=int, default=100, help="files scanned while playing")
    ap.add_argument("--analyse-s", type=float, default=60.0, help="analysis run, then cancel")
    ap.add_argument("--no-analysis", action="store_true", help="leave the analysis phase out")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--default-gc", action="store_true", help="without the app's GC policy")
    ap.add_argument(
        "--switch-interval-ms",
        type=float,
        default=None,
        help="the GIL's switch interval instead of the app's (gcpolicy.SWITCH_INTERVAL_S)",
    )
    ap.add_argument(
        "--trace-stalls", action="store_true", help="show what ran when a thread waited long"
    )
    ap.add_argument("--catalogue", default=None, help="open this catalogue (work on a copy)")
    ap.add_argument(
        "--settle-s", type=float, default=180.0, help="--catalogue: stalls measured after loading"
    )
    ap.add_argument(
        "--fresh-runs", type=int, default=2, help="--catalogue: fresh processes that open it"
    )
    ap.add_argument(
        "--playback-only",
        action="store_true",
        help="only the scan and play phases (no first window, sort, filter or map)",
    )
    args = ap.parse_args()

    work = Path(args.dir or tempfile.mkdtemp(prefix="musicorg-bench-gui-"))
    for name in ("DATA", "CONFIG", "CACHE", "LOG"):
        os.environ[f"MUSICORG_{name}_DIR"] = str(work / name.lower())
    env = dict(os.environ)
    results: dict[str, Any] = {"tracks": args.tracks, "cpus": os.cpu_count()}
    if args.catalogue:
        shared = args.catalogue.startswith("postgresql")  # a shared catalogue's URL
        db = args.catalogue if shared else Path(args.catalogue).resolve()
        return bench_catalogue(db, args, env, results, work)

    from musicorg.model.bundle import BUNDLED_VERSION

    db = work / "bench.sqlite"
    if not db.exists():
        t = time.perf_counter()
        make_catalogue(db, args.tracks, BUNDLED_VERSION)
        print(f"catalogue of {args.tracks} tracks written in {time.perf_counter() - t:.1f} s")
    music = work / "music"
    if not music.exists():
        make_files(music, args.files)
    more = work / "music-more"
    if not more.exists():
        make_files(more, args.play_files, first=args.files)

    if not args.playback_only:
        results["first_window_s"] = [round(first_window_s(env), 3) for _ in range(2)]
        print(f"first window (fresh process): {results['first_window_s']} s")

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from musicorg.gui.mainwindow import MainWindow
    from musicorg.gui.player import NullPlayer

    w = MainWindow(player=NullPlayer(), audio_backend="null")
    w.resize(1600, 1000)
    w.show()
    if not args.default_gc:
        from musicorg.gui import gcpolicy

        gcpolicy.install(w, w.idle)  # as the app does (musicorg.gui.app.run_gui)
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    results["switch_interval_ms"] = round(sys.getswitchinterval() * 1000, 3)
    hb = Heartbeat()
    gcw = GcWatch()
    with traced(args.trace_stalls, hb):
        t = time.perf_counter()
        hb.start()
        w.open_library(db, [], rescan=False)
        wait(app, lambda: len(w.data.snap) == args.tracks and w.idle(), 300)
        results["library_on_screen_s"] = round(time.perf_counter() - t, 3)
        record_stalls(results, hb, gcw, "while_loading")
    print(
        f"{args.tracks} tracks on screen after {results['library_on_screen_s']} s "
        f"(longest UI stall meanwhile {results['stall_while_loading_ms']} ms)"
    )
    w.tabs.setCurrentIndex(1)  # the map is built and shown
    app.processEvents()
    w.tabs.setCurrentIndex(0)
    app.processEvents()

    if not args.playback_only:
        sort_and_filter(app, w, results)
        map_phase(app, w, results, work, args.trace_stalls)

    # --- stalls while a scan, then an analysis run -------------------------------------------
    w.folders = [str(music)]
    gcw.take()
    hb.start()
    with traced(args.trace_stalls, hb):
        t = time.perf_counter()
        w.pipeline.run(["scan"])
        wait(app, lambda: w.idle(), 600)
        results["scan_s"] = round(time.perf_counter() - t, 2)
        record_stalls(results, hb, gcw, "during_scan")
    print(
        f"scan of {args.files} files into the {args.tracks}-track catalogue: "
        f"{results['scan_s']} s, longest UI stall {results['stall_during_scan_ms']} ms"
    )
    tracer = StallTracer() if args.trace_stalls else None
    play_while_scanning(app, w, hb, gcw, results, [music, more], tracer)
    if args.no_analysis:
        finish(w, results, args.json)
        return 0
    hb.start()
    with traced(args.trace_stalls, hb):
        t = time.perf_counter()
        w.pipeline.run(["analyse"])
        jobs = w.runner.running("analyse")
        wait(app, lambda: w.idle(), args.analyse_s)
        done = max((j.done for j in jobs), default=0)
        for job in w.runner.running("analyse"):
            job.cancel()
        wait(app, lambda: w.idle(), 120)
        results["analyse_s"] = round(time.perf_counter() - t, 2)
        results["analysed_before_cancel"] = done
        record_stalls(results, hb, gcw, "during_analysis")
    print(
        f"analysis for {results['analyse_s']} s ({done} files, then cancelled): longest UI "
        f"stall {results['stall_during_analysis_ms']} ms"
    )
    finish(w, results, args.json)
    return 0


def bench_catalogue(
    db: Path | str,
    args: argparse.Namespace,
    env: dict[str, str],
    results: dict[str, Any],
    work: Path,
) -> int:
    """--catalogue: open an existing catalogue in fresh processes, then here; measure the
    loading, the map, sort and filter (see the module's docstring)."""
    from musicorg.store.db import Catalogue
    from musicorg.store.library import track_count

    if isinstance(db, Path) and not db.exists():
        raise SystemExit(f"no catalogue at {db}")
    cat = Catalogue(db)
    results.update(catalogue=str(db), tracks=track_count(cat))
    cat.close()
    print(f"{results['tracks']} tracks in {db}")
    results["fresh"] = []
    for _ in range(args.fresh_runs):
        fresh = open_fresh(env, db)
        results["fresh"].append(fresh)
        print(
            f"fresh process: window shown {fresh['shown_s']} s (CPU {fresh['shown_cpu_s']} s), "
            f"library on screen {fresh['loaded_s']} s (CPU {fresh['loaded_cpu_s']} s), longest "
            f"UI stall {fresh['stall_while_loading_ms']} ms, peak RSS {fresh['peak_rss_mb']} MB"
        )

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from musicorg.gui import gcpolicy
    from musicorg.gui.mainwindow import MainWindow
    from musicorg.gui.player import NullPlayer

    w = MainWindow(player=NullPlayer(), audio_backend="null")
    w.resize(1600, 1000)
    w.show()
    gcpolicy.install(w, w.idle)  # as the app does (musicorg.gui.app.run_gui)
    loaded: list[float] = []
    w.library_loaded.connect(lambda: loaded.append(time.perf_counter()))
    hb, gcw = Heartbeat(), GcWatch()
    with traced(args.trace_stalls, hb):
        t, cpu = time.perf_counter(), time.process_time()
        hb.start()
        w.open_library(db, None, rescan=False)
        wait(app, lambda: bool(loaded), 1800)
        results["library_on_screen_s"] = round(time.perf_counter() - t, 2)
        results["library_on_screen_cpu_s"] = round(time.process_time() - cpu, 2)
        record_stalls(results, hb, gcw, "while_loading")
    with traced(args.trace_stalls, hb):
        hb.start()
        wait(app, lambda: time.perf_counter() - loaded[0] > args.settle_s, args.settle_s + 1)
        results["jobs_after_settling"] = sorted({j.name for j in w.runner.jobs})
        record_stalls(results, hb, gcw, "after_loading")
    print(
        f"library on screen after {results['library_on_screen_s']} s (CPU "
        f"{results['library_on_screen_cpu_s']} s), longest UI stall "
        f"{results['stall_while_loading_ms']} ms; in the {args.settle_s:.0f} s after, "
        f"{results['stall_after_loading_ms']} ms (jobs still running: "
        f"{', '.join(results['jobs_after_settling']) or 'none'})"
    )
    with traced(args.trace_stalls, hb):
        hb.start()
        ui_cpu = time.thread_time()
        t = time.perf_counter()
        results["map_shown_ms"] = round(timed(app, lambda: w.tabs.setCurrentIndex(1)) * 1000, 1)
        results["map_shown_ui_cpu_ms"] = round((time.thread_time() - ui_cpu) * 1000, 1)
        # The regions' labels are worked out in a worker (maplabels.BACKGROUND_FROM): until they
        # are placed, with the heartbeat on.
        wait(app, lambda: not w.map.busy(), 120)
        results["map_drawn_ms"] = round((time.perf_counter() - t) * 1000, 1)
        wait(app, lambda: not w.map.labels.busy(), 120)
        results["map_labels_ms"] = round((time.perf_counter() - t) * 1000, 1)
        results["map_labels_ui_cpu_ms"] = round((time.thread_time() - ui_cpu) * 1000, 1)
        results["stall_map_shown_ms"] = round(hb.stop() * 1000, 1)
    results["map_text"] = w.map.info.text()
    w.tabs.setCurrentIndex(0)
    app.processEvents()
    print(
        f"map shown in {results['map_shown_ms']} ms ({results['map_shown_ui_cpu_ms']} ms of "
        f"UI CPU), drawn after {results['map_drawn_ms']} ms: {w.map.point_count()} points, "
        f"“{results['map_text']}”; "
        f"{len(w.map.labels.regions):,} regions labelled after {results['map_labels_ms']} ms "
        f"({results['map_labels_ui_cpu_ms']} ms of UI CPU), longest UI stall "
        f"{results['stall_map_shown_ms']} ms"
    )
    sort_and_filter(app, w, results)
    map_phase(app, w, results, work, args.trace_stalls)
    results["peak_rss_mb"] = peak_rss_mb()
    finish(w, results, args.json)
    return 0


def sort_and_filter(app: Any, w: Any, results: dict[str, Any]) -> None:
    """Sort latency per column and filter latency for a few queries."""
    from PySide6.QtCore import Qt

    from musicorg.gui.snapshot import COLUMNS

    sorts = {}
    sort_cpu: list[float] = []
    for col, (key, _h) in enumerate(COLUMNS):
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            d = timed(app, lambda c=col, o=order: w.table.sortByColumn(c, o), sort_cpu)
            sorts[f"{key}{'+' if order == Qt.SortOrder.AscendingOrder else '-'}"] = d
    results["sort_ms"] = ms(sorts)
    filters, filter_stall = {}, {}
    filter_cpu: list[float] = []
    hb = Heartbeat()
    for q in ("a", "night", "river 12", "artist 79", "zzz-not-there", ""):
        # Typed in the search box, until the table shows what was found (a big library is
        # searched in a worker): the time, the UI thread's CPU and its longest stall.
        hb.start()
        t, cpu = time.perf_counter(), time.thread_time()
        w.library.search_for(q)
        wait(app, lambda: not w.library.searching(), 60)
        app.processEvents()
        filter_cpu.append(time.thread_time() - cpu)
        filters[q or "(clear)"] = time.perf_counter() - t
        filter_stall[q or "(clear)"] = hb.stop()
    results["filter_ms"] = ms(filters)
    results["filter_stall_ms"] = ms(filter_stall)
    results["sort_ui_cpu_max_ms"] = round(max(sort_cpu) * 1000, 1)
    results["filter_ui_cpu_max_ms"] = round(max(filter_cpu) * 1000, 1)
    print(
        f"sort: max {max(sorts.values()) * 1000:.0f} ms (UI CPU max "
        f"{results['sort_ui_cpu_max_ms']:.0f} ms); filter: max "
        f"{max(filters.values()) * 1000:.0f} ms (UI CPU max "
        f"{results['filter_ui_cpu_max_ms']:.0f} ms, longest stall "
        f"{max(filter_stall.values()) * 1000:.0f} ms)"
    )


def map_phase(app: Any, w: Any, results: dict[str, Any], work: Path, trace: bool = False) -> None:
    """Recolouring the map, and panning it (frame times)."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QImage

    m = w.map
    results["map_points"] = m.point_count()
    recolour, recolour_stall = {}, {}
    hb = Heartbeat()
    for mode in ("genre", "year", "group", "genre"):
        # Until the new colours are drawn (a big map works them out in its worker).
        with traced(trace, hb):
            hb.start()
            recolour[mode] = timed(app, lambda mode=mode: m.set_colour_mode(mode))
            t = time.perf_counter()
            wait(app, lambda: not m.busy(), 60)
            recolour[mode] += time.perf_counter() - t
            recolour_stall[mode] = hb.stop()
    results["recolour_ms"] = ms(recolour)
    results["recolour_stall_ms"] = ms(recolour_stall)
    print(f"recolour: {results['recolour_ms']} ms; longest UI stall {results['recolour_stall_ms']}")
    w.tabs.setCurrentIndex(1)
    m.resize(1280, 800)
    app.processEvents()
    image = QImage(1280, 800, QImage.Format.Format_ARGB32_Premultiplied)
    vb = m.view_box
    (x0, x1), (y0, y1) = vb.viewRange()
    step = (x1 - x0) / 60
    frames_a = pan_frames(m, image, step, 90)
    results["pan_frame_ms"] = {
        "median": round(float(np.median(frames_a)) * 1000, 1),
        "p95": round(float(np.percentile(frames_a, 95)) * 1000, 1),
        "fps_median": round(1 / float(np.median(frames_a)), 1),
    }
    print(f"pan: {results['pan_frame_ms']}")
    # zoomed in (a more typical view)
    vb.scaleBy((0.2, 0.2), center=QPointF((x0 + x1) / 2, (y0 + y1) / 2))
    frames_a = pan_frames(m, image, step / 5, 60)
    results["pan_zoomed_frame_ms"] = {
        "median": round(float(np.median(frames_a)) * 1000, 1),
        "fps_median": round(1 / float(np.median(frames_a)), 1),
    }
    print(f"pan (zoomed 5x): {results['pan_zoomed_frame_ms']}")
    image.save(str(work / "pan.png"))
    w.tabs.setCurrentIndex(0)
    app.processEvents()


def play_while_scanning(
    app: Any,
    w: Any,
    hb: Heartbeat,
    gcw: GcWatch,
    results: dict[str, Any],
    folders: list[Path],
    tracer: StallTracer | None = None,
) -> None:
    """Play the real files already scanned (null output), first alone, then while a scan adds
    the next folder; the longest UI stall of each."""
    snap = w.data.snap
    real = np.strings.startswith(snap.cols["path"], str(folders[0]))
    ids = [int(t) for t in snap.ids[real]]
    if not ids:
        raise RuntimeError("no scanned files to play")
    gcw.take()
    hb.start()
    t = time.perf_counter()
    w.playback.play_tracks(ids)
    wait(app, lambda: time.perf_counter() - t > 10, 10)  # a track change and a play recorded
    record_stalls(results, hb, gcw, "while_playing")
    print(f"playing (null output), 10 s: longest UI stall {results['stall_while_playing_ms']} ms")
    w.folders = [str(f) for f in folders]
    if tracer is not None:
        tracer.start()
    hb.start()
    t = time.perf_counter()
    w.pipeline.run(["scan"])
    wait(app, lambda: w.idle(), 600)
    # Play on for a few seconds after the scan (the reloads it started have landed).
    wait(app, lambda: time.perf_counter() - t > 15, 15)
    results["play_scan_s"] = round(time.perf_counter() - t, 2)
    session = w.playback.session
    results["audio_out_s"] = round(session.player.received().frames / 48000, 1) if session else 0
    results["playing_at_end"] = w.playback.state
    record_stalls(results, hb, gcw, "while_playing_and_scanning")
    if tracer is not None:
        tracer.stop()
        tracer.report(hb.gaps)
    w.playback.stop()
    app.processEvents()
    print(
        f"playing while a scan adds {len(list(folders[1].iterdir()))} files: "
        f"{results['audio_out_s']} s of audio out in all, longest UI stall "
        f"{results['stall_while_playing_and_scanning_ms']} ms"
    )


def finish(w: Any, results: dict[str, Any], json_out: str | None) -> None:
    w.close()
    results["load_average"] = [round(x, 2) for x in os.getloadavg()]
    if json_out:
        Path(json_out).write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
