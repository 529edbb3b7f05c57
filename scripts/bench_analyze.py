"""Benchmark: tracks/s of musicorg's analysis against the seed paper's code path.

    .venv/bin/python scripts/bench_analyze.py [--n 12] [--workers 2]

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

When ``musicorg.model`` and a model bundle are present, the embedding of the features is timed
too (see ``embedding_hook``), and the last lines give the whole analysis of a track (decode +
features + batched embedding) against the paper's path; otherwise that line says it was
skipped.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys
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


# ------------------------------------------------------------------------------- the paths


def ours(path: str) -> Any:
    from musicorg.features import analyze_file

    return analyze_file(path)


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


def embedding_hook(files: list[Path]) -> tuple[str, float | None]:
    """OPTIONAL hook: time the embedding of the features, when a model is available.

    Uses ``musicorg.model.bundle.load_model()`` (the bundled model) and ``LoadedModel.embed``
    on (N, 39, 130) matrices and (N, 78) stats. Any failure (no torch, no module, no bundle
    yet) skips the line: the benchmark never depends on the model. Returns the line and the
    batched seconds per track (None when skipped).
    """
    try:
        from musicorg.features import analyze_file
        from musicorg.model.bundle import load_model

        model = load_model(num_threads=1)
    except Exception as exc:
        return f"embedding: skipped ({exc.__class__.__name__}: {exc})", None
    feats = [analyze_file(str(p)) for p in files]
    mats = np.stack([f.matrix for f in feats])
    stats = np.stack([f.stats for f in feats])
    model.embed(mats[:1], stats[:1])  # warm-up
    t0 = time.perf_counter()
    for i in range(len(feats)):  # one at a time, the worst case
        model.embed(mats[i : i + 1], stats[i : i + 1])
    one = (time.perf_counter() - t0) / len(feats)
    t0 = time.perf_counter()
    model.embed(mats, stats)
    batched = (time.perf_counter() - t0) / len(feats)
    return (
        f"embedding: {one * 1000:.1f} ms/track one at a time, {batched * 1000:.2f} ms/track "
        f"batched ({len(feats)} tracks, 1 torch thread; the app embeds in batches)"
    ), batched


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=12, help="tracks per format (default 12)")
    ap.add_argument("--workers", type=int, default=2, help="processes for the parallel run")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best one counts")
    args = ap.parse_args()

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

    print(f"bench_analyze: {len(oggs)} OGG + {len(mp3s)} MP3 tracks of 150-210 s")
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
    line, embed_s = embedding_hook(oggs[:8])
    print(line)
    if embed_s is not None:
        # The whole analysis of a track: decode + features (timed above) + its batched embedding.
        for fmt, _ in sets:
            o, pp = res[(fmt, "musicorg")], res[(fmt, "paper")]
            rate = 1.0 / (1.0 / o["seq"] + embed_s)
            cpu = o["cpu_ms"] + 1000 * embed_s
            print(
                f"{fmt}: decode + features + embedding {rate:.2f} tr/s in 1 process, "
                f"{rate / pp['seq']:.2f}x the paper's path (wall), "
                f"{pp['cpu_ms'] / cpu:.2f}x (CPU time)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
