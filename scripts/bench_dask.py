"""Benchmark: the analysis stage on a local Dask cluster against the local process pool.

    .venv/bin/python scripts/bench_dask.py [--copies 24] [--workers 2] [--rounds 1]

Makes ``--copies`` distinct 40-s tracks from the test fixtures (the four pieces of
``tests/data``, each looped to 40 s and shifted by a few samples per copy so that no two
files share a content key; FLAC and OGG Vorbis in turn), scans them into a fresh catalogue
per run and times ``musicorg.app.pipeline.analyse(cat, device=...)`` end to end (decode,
features, MusiCNN, the embedding) two ways on the same files:

- the local pool: ``workers=--workers`` (what ``musicorg analyse --workers N`` runs);
- Dask: ``--dask local:N`` with N = ``--workers`` (a ``LocalCluster`` of N worker processes,
  started and stopped inside the timed call, as the command does).

Per way it prints tracks/s end to end (start-up included: spawning the processes, their
imports, loading MusiCNN), the start-up alone (the call's start to the first track done) and
the steady rate (from the first track done to the last). Each way runs ``--rounds`` times
(alternating which goes first); the best round counts, since other work on a shared machine
only ever slows a round down. The data, config and cache folders point at a temporary
folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PIECES = (
    "kevin_macleod_vibe_ace.flac",
    "muldjord_chaos_god.flac",
    "parapraxis_digital_pursuit.mp3",
    "westlund_legends_of_the_north.ogg",
)
SECONDS = 40.0


def make_tracks(folder: Path, copies: int) -> list[Path]:
    """``copies`` distinct tracks of ``SECONDS`` seconds from the fixture pieces."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = [sf.read(ROOT / "tests" / "data" / name, dtype="float32") for name in PIECES]
    out: list[Path] = []
    for i in range(copies):
        data, sr = sources[i % len(sources)]
        reps = int(np.ceil(SECONDS * sr / len(data)))
        looped = np.concatenate([data] * reps)[: int(SECONDS * sr)]
        shifted = np.roll(looped, 97 * (i + 1), axis=0)
        suffix, fmt, sub = (".flac", "FLAC", "PCM_16") if i % 2 == 0 else (".ogg", "OGG", "VORBIS")
        path = folder / f"track{i:03d}{suffix}"
        sf.write(path, shifted, sr, format=fmt, subtype=sub)
        out.append(path)
    return out


@dataclass
class Timer:
    """A progress callback that notes when tracks are done."""

    started: float = field(default_factory=time.perf_counter)
    done_at: list[tuple[int, float]] = field(default_factory=list)

    def __call__(self, done: int, _total: int, text: str) -> None:
        if done and text.startswith("Analysing…"):
            self.done_at.append((done, time.perf_counter()))

    def figures(self, ended: float) -> tuple[float, float]:
        """Start-up seconds (to the first track done) and the steady tracks/s after it."""
        (first, t_first), (last, t_last) = self.done_at[0], self.done_at[-1]
        steady = (last - first) / (t_last - t_first) if t_last > t_first else float("nan")
        return t_first - self.started, steady


def run_once(way: str, music: Path, workers: int, device: str, db: Path) -> dict[str, Any]:
    from musicorg.analyse.dask_backend import DaskOptions
    from musicorg.app import pipeline
    from musicorg.ingest import scanner
    from musicorg.store.db import Catalogue

    cat = Catalogue(db)
    try:
        scanner.scan(cat, [music])
        dask = DaskOptions(f"local:{workers}") if way == "dask" else None
        timer = Timer()
        report = pipeline.analyse(cat, device=device, workers=workers, dask=dask, progress=timer)
        ended = time.perf_counter()
    finally:
        cat.close()
    startup, steady = timer.figures(ended)
    seconds = ended - timer.started
    return {
        "tracks": report.analysed,
        "problems": len(report.problems),
        "seconds": seconds,
        "rate": report.analysed / seconds,
        "startup": startup,
        "steady": steady,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=24)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="musicorg-bench-dask-") as tmp:
        home = Path(tmp)
        for var in ("DATA", "CONFIG", "CACHE", "LOG"):
            os.environ[f"MUSICORG_{var}_DIR"] = str(home / var.lower())
        tracks = make_tracks(home / "music", args.copies)
        for p in tracks:
            p.read_bytes()  # into the page cache before anything is timed
        best: dict[str, dict[str, Any]] = {}
        for r in range(args.rounds):
            ways = ("local", "dask") if r % 2 == 0 else ("dask", "local")
            for way in ways:
                got = run_once(
                    way, home / "music", args.workers, args.device, home / f"{way}{r}.db"
                )
                if way not in best or got["rate"] > best[way]["rate"]:
                    best[way] = got
        print(
            f"{len(tracks)} tracks of {SECONDS:.0f} s (30-s windows), {args.workers} processes, "
            f"device {args.device}, {os.cpu_count()} cores, best of {args.rounds} round(s):"
        )
        names = {
            "local": f"local pool (--workers {args.workers})",
            "dask": f"--dask local:{args.workers}",
        }
        for way in ("local", "dask"):
            b = best[way]
            print(
                f"  {names[way]:<26} {b['rate']:5.2f} tracks/s end to end ({b['seconds']:.1f} s, "
                f"{b['problems']} problems); start-up {b['startup']:.1f} s; "
                f"steady {b['steady']:.2f} tracks/s"
            )
        ratio = best["dask"]["steady"] / best["local"]["steady"]
        print(f"  steady rate of Dask / local pool: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
