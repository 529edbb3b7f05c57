"""Benchmark: tracks/s of musicorg's analysis against the seed paper's code path.

    .venv/bin/python scripts/bench_analyse.py [--n 12] [--workers 2] [--repeat 3]
        [--stage-n N] [--no-stage]

On the same ~3-minute tracks of the Debian soundtrack corpus (as prepared by
training/prepare.py), as OGG Vorbis and as MP3, in the same run:

- musicorg: ``decode_window`` (a centred 30-s window, decoded alone: PyAV for OGG, soundfile
  seek for MP3, channel mean, soxr) then ``features_from_signal`` (one shared STFT for MFCC,
  chroma with a fixed tuning and spectral contrast, plus tempo, brightness and energy);
- paper: ``librosa.load(path, sr=22050, duration=30)`` then three separate calls
  ``librosa.feature.mfcc`` / ``chroma_stft`` / ``spectral_contrast`` (each its own STFT,
  chroma estimating the tuning).

Each path runs in this process (1 core) and over ``--workers`` processes (one BLAS thread
each), ``--repeat`` rounds. In this process the two paths take turns track by track (the one
that leads alternates between rounds), so load from elsewhere on the machine falls on both
alike; the best round counts (other work on a shared machine only ever slows a round down),
and the range of the round-by-round ratios is printed too. CPU time per track is printed as
well: unlike wall time it hardly depends on what else runs.

The corpus MP3s are too few and too long (asc-music: three 6-min tracks), so the MP3 set is
the OGG set transcoded once with libsndfile's LAME encoder, cached in
``~/.cache/musicorg/bench``. Files are read once before timing so that both paths find them
in the page cache.

When ``musicorg.model`` and a model bundle are present, MusiCNN's teacher step (log-mel +
``DEFAULT_PATCHES`` patches + network, batched over the tracks, 1 torch thread) and the
embedding are timed too (see ``model_hook``), and a line per format estimates the whole
analysis of a track in 1 process (decode + features + MusiCNN + embedding) against the
paper's path; otherwise that line says it was skipped.

The last lines are the app's own analysis stage, measured end to end:
``musicorg.app.pipeline.analyse(cat, device="cpu", workers=--workers)`` on a fresh temporary
catalogue (``MUSICORG_*_DIR`` pointed at a temporary folder, ``scanner.scan`` over symlinks to
the same tracks, one catalogue per format), run in a fresh child process per round so that
its memory figures are its own. Per format: tracks/s end to end (the stage's start-up
included: spawning the worker processes, loading MusiCNN and the model; Python imports
excluded) and steady (between the first and the last track done), beside the paper's path
over the same number of processes measured earlier in the same run, and the ratio; the
process tree's peak memory: the sum of the RSS (and of the PSS, which counts shared pages
once) of the stage process and its descendants, sampled every 0.1 s, and getrusage's peak
RSS of the stage process and of its largest worker. ``--stage-n`` sets how many tracks the
stage gets (more tracks weigh the start-up less); ``--no-stage`` skips it.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CORPUS = Path(os.environ.get("MUSICORG_CORPUS_DIR", Path.home() / ".cache/musicorg/corpus"))
BENCH_CACHE = Path.home() / ".cache" / "musicorg" / "bench"
SR = 22050
RSS_TARGET_MB = 1536  # the issue: analysis RSS < 1.5 GB
STAGE_TARGET = 3.0  # the issue: >= 3 tracks/s on 2 cores at the default patch count


# ------------------------------------------------------------------------------- the paths


def ours(path: str) -> Any:
    from musicorg.analyse.features import analyse_file

    return analyse_file(path)


def paper(path: str) -> Any:
    import librosa

    y, sr = librosa.load(path, sr=SR, duration=30)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr)
    contrast = librosa.feature.spectral_contrast(y=y, sr=sr)
    return np.vstack([mfcc, chroma, contrast])[:, :130]


PATHS: dict[str, Callable[[str], Any]] = {"musicorg": ours, "paper": paper}


def _run_one(name_and_path: tuple[str, str]) -> float:
    name, path = name_and_path
    t = time.perf_counter()
    PATHS[name](path)
    return time.perf_counter() - t


def _init_worker() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    # Import and warm up librosa's lazy modules and caches outside the timed region.
    ours(os.environ["MUSICORG_BENCH_WARMUP"])
    paper(os.environ["MUSICORG_BENCH_WARMUP"])


# --------------------------------------------------------------------------------- the files


def pick_tracks(n: int) -> list[Path]:
    """n OGG tracks of 150-210 s from the corpus manifest, spread over the packages."""
    manifest = CORPUS / "manifest.csv"
    if not manifest.exists():
        raise SystemExit(f"{manifest} is missing: run training/prepare.py first")
    by_pkg: dict[str, list[Path]] = {}
    with open(manifest, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            p = CORPUS / "unpacked" / row["package"] / row["path"]
            if p.suffix == ".ogg" and 150 <= float(row["duration"]) <= 210 and p.exists():
                by_pkg.setdefault(row["package"], []).append(p)
    picked: list[Path] = []
    rounds = 0
    while len(picked) < n and any(len(v) > rounds for v in by_pkg.values()):
        for pkg in sorted(by_pkg):
            if rounds < len(by_pkg[pkg]) and len(picked) < n:
                picked.append(sorted(by_pkg[pkg])[rounds])
        rounds += 1
    return picked


def to_mp3(src: Path) -> Path:
    import soundfile as sf

    dest = BENCH_CACHE / "mp3" / (src.parent.name + "__" + src.stem + ".mp3")
    if dest.exists() and dest.stat().st_size > 0:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part.mp3")
    with (
        sf.SoundFile(str(src)) as inp,
        sf.SoundFile(
            str(tmp), "w", inp.samplerate, inp.channels, format="MP3", subtype="MPEG_LAYER_III"
        ) as out,
    ):
        while True:
            block = inp.read(inp.samplerate * 4, dtype="float32", always_2d=True)
            if not len(block):
                break
            out.write(block)
    os.replace(tmp, dest)
    return dest


# ------------------------------------------------------------------------------ the timings


def interleaved(files: list[Path], first: int) -> dict[str, tuple[float, float, float]]:
    """Per path: (tracks/s wall, median wall ms per track, CPU ms per track) in this process.

    The paths take turns track by track (``first`` says which path leads, so that neither
    always finds the other's data in the caches): a burst of load elsewhere on the machine
    lands on both paths alike.
    """
    names = list(PATHS)
    names = names[first % len(names) :] + names[: first % len(names)]
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu = dict.fromkeys(names, 0.0)
    for p in files:
        for name in names:
            c0 = time.process_time()
            wall[name].append(_run_one((name, str(p))))
            cpu[name] += time.process_time() - c0
    return {
        n: (
            len(files) / sum(wall[n]),
            1000 * statistics.median(wall[n]),
            1000 * cpu[n] / len(files),
        )
        for n in names
    }


def parallel(pool: ProcessPoolExecutor, name: str, files: list[Path]) -> float:
    t0 = time.perf_counter()
    list(pool.map(_run_one, [(name, str(p)) for p in files]))
    return len(files) / (time.perf_counter() - t0)


def model_hook(files: list[Path]) -> tuple[list[str], float | None]:
    """OPTIONAL hook: time MusiCNN's teacher step and the embedding, when they are available.

    MusiCNN: ``Teacher("cpu").track_outputs`` on the tracks' 16-kHz windows, all in one call
    (the app batches ``TEACHER_TRACKS`` tracks). Embedding: ``load_model().embed`` on
    (N, 39, 130) matrices, (N, 78) stats and, for a model with ``teacher_dim``, the MusiCNN
    vectors. Both with 1 torch thread (1 core, as in the 1-process column). Any failure (no
    torch, no weights, no bundle) skips the lines: the benchmark never depends on the model.
    Returns the lines and the seconds per track of the two together (None when skipped).
    """
    try:
        import torch

        from musicorg.analyse.features import analyse_file
        from musicorg.model.bundle import load_model
        from musicorg.model.musicnn import DEFAULT_PATCHES, Teacher

        torch.set_num_threads(1)
        teacher = Teacher(torch.device("cpu"))
        model = load_model(device="cpu", num_threads=1)
    except Exception as exc:
        return [f"MusiCNN + embedding: skipped ({exc.__class__.__name__}: {exc})"], None
    feats = [analyse_file(str(p)) for p in files]
    audios = [f.teacher_audio for f in feats if f.teacher_audio is not None]
    teacher.track_outputs(audios[:1])  # warm-up
    t0 = time.perf_counter()
    vectors, _tags, _counts = teacher.track_outputs(audios)
    teach = (time.perf_counter() - t0) / len(audios)
    mats = np.stack([f.matrix for f in feats])
    stats = np.stack([f.stats for f in feats])
    model.embed(mats[:1], stats[:1], teacher=vectors[:1])  # warm-up
    t0 = time.perf_counter()
    for i in range(len(feats)):  # one at a time, the worst case
        model.embed(mats[i : i + 1], stats[i : i + 1], teacher=vectors[i : i + 1])
    one = (time.perf_counter() - t0) / len(feats)
    t0 = time.perf_counter()
    model.embed(mats, stats, teacher=vectors)
    batched = (time.perf_counter() - t0) / len(feats)
    uses = "with" if getattr(model.config, "teacher_dim", 0) else "without"
    return [
        f"MusiCNN: {teach * 1000:.0f} ms/track ({DEFAULT_PATCHES} patches a track, "
        f"{len(audios)} tracks in one call, 1 torch thread)",
        f"embedding ({model.version}, {uses} the MusiCNN vector): {one * 1000:.1f} ms/track "
        f"one at a time, {batched * 1000:.2f} ms/track batched ({len(feats)} tracks, 1 torch "
        "thread; the app embeds in batches)",
    ], teach + batched


# ------------------------------------------------------------------- the app's analysis stage


class TreeMemory:
    """Peak summed RSS and PSS of this process and its descendants, sampled from /proc."""

    def __init__(self, every: float = 0.1) -> None:
        self.every = every
        self.peak_rss = 0
        self.peak_pss = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    @staticmethod
    def _tree() -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
        out, todo = [], [os.getpid()]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    @staticmethod
    def _kb(path: str, key: str) -> int:
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def sample(self) -> None:
        pids = self._tree()
        rss = sum(self._kb(f"/proc/{p}/status", "VmRSS:") for p in pids)
        pss = sum(self._kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.samples += 1


def stage_child(folder: str, workers: int) -> None:
    """In a fresh process: scan ``folder`` into a new catalogue and run the analysis stage.

    Prints one JSON line. The MUSICORG_*_DIR variables are set by the parent."""
    import torch

    from musicorg.app import pipeline
    from musicorg.ingest import scanner
    from musicorg.store.db import Catalogue

    done_at: list[tuple[float, int]] = []

    def progress(done: int, total: int, message: str) -> None:
        if message.startswith("Analysing…") and done > 0:
            done_at.append((time.perf_counter(), done))

    db = Path(os.environ["MUSICORG_DATA_DIR"]) / "bench.sqlite"
    with TreeMemory() as mem, Catalogue(db) as cat:
        t0 = time.perf_counter()
        scanned = scanner.scan(cat, [folder])
        t1 = time.perf_counter()
        rep = pipeline.analyse(cat, device="cpu", workers=workers, progress=progress)
        t2 = time.perf_counter()
    steady = None
    if len(done_at) >= 2 and done_at[-1][0] > done_at[0][0]:
        steady = (done_at[-1][1] - done_at[0][1]) / (done_at[-1][0] - done_at[0][0])
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "scan_s": t1 - t0,
                "scanned": len(scanned.added),
                "stage_s": t2 - t1,
                "analysed": rep.analysed,
                "embedded": rep.embedded,
                "problems": [list(p) for p in rep.problems],
                "model": rep.model_version,
                "device": rep.device,
                "steady": steady,
                "first_done_s": done_at[0][0] - t1 if done_at else None,
                "after_last_s": t2 - done_at[-1][0] if done_at else None,
                "torch_threads": torch.get_num_threads(),
                "rss_self_kb": own,
                "rss_worker_kb": kids,
                "tree_rss_kb": mem.peak_rss,
                "tree_pss_kb": mem.peak_pss,
                "samples": mem.samples,
            }
        )
    )


def app_stage(files: list[Path], workers: int, fmt: str, root: Path) -> dict[str, Any]:
    """One round of the app's stage over ``files`` in a fresh child process."""
    run = Path(tempfile.mkdtemp(prefix=f"{fmt.lower()}-", dir=root))
    music = run / "music"
    music.mkdir()
    for i, p in enumerate(files):
        (music / f"{i:03d}-{p.name}").symlink_to(p.resolve())
    env = dict(os.environ)
    for var in ("DATA", "CONFIG", "CACHE", "LOG"):
        env[f"MUSICORG_{var}_DIR"] = str(run / var.lower())
    env.pop("MUSICORG_DEVICE", None)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--stage-child", str(music)]
    cmd += ["--workers", str(workers)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the stage failed ({done.returncode}): {done.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(lines[-1])
    out["tracks"] = len(files)
    return out


def stage_report(
    sets: tuple[tuple[str, list[Path]], ...],
    workers: int,
    repeat: int,
    paper_par: dict[str, float],
) -> None:
    """Best of ``repeat`` rounds per format; memory: the highest of every round."""
    print(
        f"\napp stage: musicorg.app.pipeline.analyse(device='cpu', workers={workers}) on a fresh "
        f"catalogue, best of {repeat} rounds (load average {os.getloadavg()[0]:.2f})"
    )
    worst: dict[str, int] = {"tree_rss_kb": 0, "tree_pss_kb": 0, "rss_self_kb": 0}
    worst["rss_worker_kb"] = 0
    with tempfile.TemporaryDirectory(prefix="musicorg-bench-") as tmp:
        for fmt, files in sets:
            rounds = [app_stage(files, workers, fmt, Path(tmp)) for _ in range(repeat)]
            for r in rounds:
                for k in worst:
                    worst[k] = max(worst[k], int(r[k]))
            ok = [r for r in rounds if r["analysed"] == r["tracks"]]
            if not ok:
                print(f"{fmt}: the stage analysed {rounds[0]['analysed']} of {len(files)} tracks:")
                for p in rounds[0]["problems"][:5]:
                    print(f"    {p}")
                continue
            end = max(r["tracks"] / r["stage_s"] for r in ok)
            steadies = [r["steady"] for r in ok if r["steady"]]
            steady = max(steadies) if steadies else float("nan")
            pp = paper_par[fmt]
            r0 = ok[0]
            met = ("met" if x >= STAGE_TARGET else "NOT met" for x in (end, steady))
            print(
                f"{fmt}: {r0['tracks']} tracks, decode + features + MusiCNN + embedding "
                f"({r0['model']}, {r0['device']}, {r0['torch_threads']} torch threads): "
                f"{end:.2f} tracks/s end to end, {steady:.2f} tracks/s steady; "
                f"paper's path {pp:.2f} tracks/s ({workers} processes, decode + features only) "
                f"-> {end / pp:.2f}x end to end, {steady / pp:.2f}x steady "
                f"(target >= {STAGE_TARGET:g} tracks/s: {next(met)} end to end, "
                f"{next(met)} steady)"
            )
            best = max(ok, key=lambda r: r["tracks"] / r["stage_s"])
            if best["first_done_s"] is not None:
                print(
                    f"    fastest round: {best['stage_s']:.1f} s in all: the first track done "
                    f"after {best['first_done_s']:.1f} s (worker start-up, MusiCNN and the "
                    f"first decodes), {best['after_last_s']:.1f} s after the last one "
                    f"(embedding, bookkeeping); the scan before it {best['scan_s']:.1f} s"
                )
    mb = {k: v / 1024 for k, v in worst.items()}
    verdict = "met" if mb["tree_rss_kb"] < RSS_TARGET_MB else "NOT met"
    print(
        f"analysis memory, peak over every round: process tree RSS {mb['tree_rss_kb']:.0f} MB "
        f"(sum over the stage process and its workers, sampled every 0.1 s; PSS "
        f"{mb['tree_pss_kb']:.0f} MB), stage process {mb['rss_self_kb']:.0f} MB and largest "
        f"worker {mb['rss_worker_kb']:.0f} MB (getrusage) - target < {RSS_TARGET_MB / 1024:g} GB "
        f"(tree RSS): {verdict}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=12, help="tracks per format (default 12)")
    ap.add_argument("--workers", type=int, default=2, help="processes for the parallel run")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best one counts")
    ap.add_argument(
        "--stage-n", type=int, default=None, help="tracks per format for the app stage (--n)"
    )
    ap.add_argument("--no-stage", action="store_true", help="skip the app's analysis stage")
    ap.add_argument("--stage-child", metavar="FOLDER", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage_child:
        stage_child(args.stage_child, args.workers)
        return 0

    oggs = pick_tracks(args.n)
    if len(oggs) < 2:
        raise SystemExit("not enough 3-minute OGG tracks in the corpus")
    warmup, oggs = oggs[0], oggs[1:]
    mp3s = [to_mp3(p) for p in oggs]
    for p in [warmup, *oggs, *mp3s]:
        p.read_bytes()  # page cache
    os.environ["MUSICORG_BENCH_WARMUP"] = str(warmup)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one core per process, as in the analysis workers
    ours(str(warmup))
    paper(str(warmup))

    print(f"bench_analyse: {len(oggs)} OGG + {len(mp3s)} MP3 tracks of 150-210 s")
    print(f"cpu: {os.cpu_count()} cores (load average {os.getloadavg()[0]:.2f} at start)")
    sets = (("OGG", oggs), ("MP3", mp3s))
    # Best of --repeat rounds, the two paths interleaved within each round: other work on a
    # shared machine slows rounds down, never speeds them up.
    res: dict[tuple[str, str], dict[str, float]] = {
        (f, n): {"seq": 0.0, "median_ms": math.inf, "cpu_ms": math.inf, "par": 0.0}
        for f, _ in sets
        for n in PATHS
    }
    rounds: dict[str, list[tuple[float, float]]] = {f: [] for f, _ in sets}
    for i in range(args.repeat):
        for fmt, files in sets:
            got = interleaved(files, i)
            for name, (rate, median, cpu) in got.items():
                r = res[(fmt, name)]
                r["seq"] = max(r["seq"], rate)
                r["median_ms"] = min(r["median_ms"], median)
                r["cpu_ms"] = min(r["cpu_ms"], cpu)
            ours_r, paper_r = got["musicorg"], got["paper"]
            rounds[fmt].append((ours_r[0] / paper_r[0], paper_r[2] / ours_r[2]))
    with ProcessPoolExecutor(args.workers, initializer=_init_worker) as pool:
        list(pool.map(_run_one, [("musicorg", str(warmup))] * args.workers))
        for _ in range(args.repeat):
            for fmt, files in sets:
                for name in PATHS:
                    r = res[(fmt, name)]
                    r["par"] = max(r["par"], parallel(pool, name, files))

    w = args.workers
    print()
    print(
        f"{'format':6} {'path':9} {'1 process':>14} {'median':>9} {'CPU/track':>10} "
        f"{f'{w} processes':>15}"
    )
    for (fmt, name), r in res.items():
        print(
            f"{fmt:6} {name:9} {r['seq']:9.2f} tr/s {r['median_ms']:6.0f} ms "
            f"{r['cpu_ms']:7.0f} ms {r['par']:10.2f} tr/s"
        )
    print()
    for fmt, _ in sets:
        o, pp = res[(fmt, "musicorg")], res[(fmt, "paper")]
        walls = [r[0] for r in rounds[fmt]]
        cpus = [r[1] for r in rounds[fmt]]
        print(
            f"{fmt}: musicorg / paper = {o['seq'] / pp['seq']:.2f}x (1 process, wall), "
            f"{pp['cpu_ms'] / o['cpu_ms']:.2f}x (CPU time), "
            f"{o['par'] / pp['par']:.2f}x ({w} processes, wall); round by round "
            f"{min(walls):.2f}-{max(walls):.2f}x wall, {min(cpus):.2f}-{max(cpus):.2f}x CPU"
        )
    mean_par = sum(res[(f, "musicorg")]["par"] for f, _ in sets) / len(sets)
    mean_cpu = sum(res[(f, "musicorg")]["cpu_ms"] for f, _ in sets) / len(sets)
    print(
        f"musicorg with {w} processes: {mean_par:.1f} tracks/s measured (target >= 12); "
        f"{w * 1000 / mean_cpu:.1f} tracks/s from CPU time alone ({w} free cores)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    lines, model_s = model_hook(oggs[:8])
    print("\n".join(lines))
    if model_s is not None:
        # Estimated: decode + features (timed above) + MusiCNN + the batched embedding.
        for fmt, _ in sets:
            o, pp = res[(fmt, "musicorg")], res[(fmt, "paper")]
            rate = 1.0 / (1.0 / o["seq"] + model_s)
            cpu = o["cpu_ms"] + 1000 * model_s
            print(
                f"{fmt}: decode + features + MusiCNN + embedding {rate:.2f} tr/s in 1 process "
                f"(estimated from the parts), {rate / pp['seq']:.2f}x the paper's path (wall), "
                f"{pp['cpu_ms'] / cpu:.2f}x (CPU time)"
            )
    if not args.no_stage:
        stage_sets = sets
        if args.stage_n and args.stage_n != len(oggs):
            more = [p for p in pick_tracks(args.stage_n + 1) if p != warmup][: args.stage_n]
            stage_sets = (("OGG", more), ("MP3", [to_mp3(p) for p in more]))
            for _, files in stage_sets:
                for p in files:
                    p.read_bytes()  # page cache
        paper_par = {fmt: res[(fmt, "paper")]["par"] for fmt, _ in sets}
        stage_report(stage_sets, args.workers, args.repeat, paper_par)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
