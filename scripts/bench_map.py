"""Benchmark of the 2-D map: PCA of 20,000 and 100,000 tracks, UMAP of 20,000 (target <= 30 s).

Each measurement runs in a fresh Python process on a catalogue of synthetic 32-d embeddings
(clustered Gaussians) and times ``compute_map`` end to end: reading μ, the projection (UMAP in
its own worker process, imports included), placing the tracks left out of the UMAP sample,
and writing the coordinates. UMAP is timed twice: first with an empty numba cache (what a
fresh installation pays once) and then warm, with the cache the first run left behind.

    .venv/bin/python scripts/bench_map.py [--sizes 20000,100000] [--umap-size 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 32
VERSION = "bench"


def make_catalogue(path: Path, n: int, seed: int = 0) -> None:
    from musicorg.keys import ACTIVE_MODEL_KEY
    from musicorg.store.db import Catalogue

    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(40, DIM))
    mu = (centres[rng.integers(0, 40, size=n)] + rng.normal(size=(n, DIM))).astype(np.float32)
    now = time.time()
    cat = Catalogue(path)
    with cat.begin() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.executemany(
            "INSERT INTO tracks (path, display, size, mtime_ns, content_key, fmt, missing, "
            "added_at, updated_at) VALUES (?, ?, 0, 0, ?, 'flac', 0, ?, ?)",
            [(f"/m/{i}.flac".encode(), f"/m/{i}.flac", f"k{i}", now, now) for i in range(n)],
        )
        raw.executemany(
            "INSERT INTO embeddings (content_key, model_version, mu, created_at) "
            "VALUES (?, ?, ?, ?)",
            [(f"k{i}", VERSION, mu[i].tobytes(), now) for i in range(n)],
        )
    cat.set_meta(ACTIVE_MODEL_KEY, VERSION)
    cat.close()


def measure(db: str, method: str) -> None:
    """Runs in the fresh process: one compute_map, its time as JSON on stdout."""
    started = time.perf_counter()
    from musicorg.organise.mapping import compute_map
    from musicorg.store.db import Catalogue

    imported = time.perf_counter()
    cat = Catalogue(db)
    report = compute_map(cat, method)
    done = time.perf_counter()
    cat.close()
    print(
        json.dumps(
            {
                "method": method,
                "points": report.points,
                "fitted": report.fitted,
                "placed": report.placed,
                "compute_map_s": round(done - imported, 2),
                "import_s": round(imported - started, 2),
            }
        )
    )


def run_child(db: Path, method: str, cache: Path) -> dict[str, float]:
    env = os.environ.copy()
    env["MUSICORG_CACHE_DIR"] = str(cache)
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(db), method],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="20000,100000", help="PCA sizes")
    parser.add_argument("--umap-size", type=int, default=20000)
    parser.add_argument("--measure", nargs=2, metavar=("DB", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(*args.measure)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-map-") as tmp:
        root = Path(tmp)
        cache = root / "cache"
        for n in [int(s) for s in args.sizes.split(",") if s]:
            db = root / f"pca{n}.sqlite"
            make_catalogue(db, n)
            r = run_child(db, "pca", cache)
            print(f"PCA  {n:>7} points: {r['compute_map_s']:6.2f} s (compute_map, fresh process)")
        if args.umap_size:
            n = args.umap_size
            db = root / f"umap{n}.sqlite"
            make_catalogue(db, n)
            cold = run_child(db, "umap", cache)
            warm = run_child(db, "umap", cache)
            for label, r in (("first run, empty numba cache", cold), ("warm numba cache", warm)):
                print(
                    f"UMAP {n:>7} points: {r['compute_map_s']:6.2f} s ({label}; fitted on "
                    f"{int(r['fitted'])}, {int(r['placed'])} placed)"
                )
            verdict = "meets" if warm["compute_map_s"] <= 30 else "misses"
            print(f"UMAP warm run {verdict} the 30 s target for {n} tracks.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
