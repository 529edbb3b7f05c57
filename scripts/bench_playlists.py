"""Benchmark of the automatic-playlist pipeline on synthetic latent means.

    .venv/bin/python scripts/bench_playlists.py [--n 100000] [--dim 32] [--methods kmeans,...]

Each measurement runs in a fresh Python process (so imports, caches and memory are not shared
between them) on a Gaussian mixture of ``--n`` points in ``--dim`` dimensions (40 components of
uneven sizes, plus 2 % of wide outliers; shape ``collapsed``: 97.7 % of the points moved into
one tight blob, the paper's failure), with synthetic tags (genre, artist, year) and
descriptors (tempo, brightness, energy) for naming. The timed pipeline is the one the app
runs on arrays: groups, cutting into playlists, guards, ordering (``plan_playlists``) and
naming (``Vocabulary.build`` + ``name_sets``); not the catalogue reads and writes.
The budget is 30 s for 100,000 tracks; the script prints the figures and exits 1 when a run is
over budget or breaks a guard.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BUDGET_S = 30.0


def synthetic(n: int, dim: int, seed: int = 0, shape: str = "mixture") -> tuple[object, object]:
    import numpy as np

    from musicorg.organise.naming import TrackTags

    rng = np.random.default_rng(seed)
    k = 40
    weights = rng.dirichlet(np.full(k, 0.7))
    centres = rng.normal(0.0, 2.5, (k, dim))
    scales = rng.uniform(0.4, 1.2, k)
    comp = rng.choice(k, size=n, p=weights)
    x = centres[comp] + rng.normal(0.0, 1.0, (n, dim)) * scales[comp, None]
    outliers = rng.random(n) < 0.02
    x[outliers] = rng.normal(0.0, 8.0, (int(outliers.sum()), dim))
    if shape == "collapsed":  # the paper's failure: 97.7 % in one tight blob
        blob = rng.random(n) < 0.977
        x[blob] = rng.normal(0.0, 0.05, (int(blob.sum()), dim))
    genres_pool = [
        "Rock",
        "Death Metal",
        "Jazz",
        "Ambient",
        "Romantic Classical",
        "Techno",
        "Folk",
        "Hip-Hop",
        "Soundtrack",
        "Blues",
    ]
    comp_genre = rng.integers(0, len(genres_pool), k)
    noisy = rng.random(n) < 0.2
    genre_idx = np.where(noisy, rng.integers(0, len(genres_pool), n), comp_genre[comp])
    genres = [genres_pool[i] for i in genre_idx]
    n_artists = max(1, n // 12)
    comp_artist0 = rng.integers(0, n_artists, k)
    artist_idx = (comp_artist0[comp] + rng.integers(0, 30, n)) % n_artists
    artists = [f"Artist {i}" for i in artist_idx]
    years = (1960 + (comp * 7) % 60 + rng.integers(0, 10, n)).tolist()
    tempo = 60 + 120 * (x[:, 0] - x[:, 0].min()) / (np.ptp(x[:, 0]) or 1)
    tags = TrackTags(genres, artists, years, tempo, x[:, 1].copy(), x[:, 2].copy())
    return x.astype(np.float32), tags


def worker(method: str, n: int, dim: int, shape: str) -> dict[str, object]:
    import numpy as np

    from musicorg.organise import cluster, naming

    x, tags = synthetic(n, dim, shape=shape)
    assert isinstance(x, np.ndarray) and isinstance(tags, naming.TrackTags)
    t0 = time.perf_counter()
    plan = cluster.plan_playlists(x, method=method)
    t1 = time.perf_counter()
    vocab = naming.Vocabulary.build(tags)
    names = naming.name_sets(plan.playlists, vocab)
    t2 = time.perf_counter()
    sizes = [len(p) for p in plan.playlists]
    rows = np.concatenate(plan.playlists)
    return {
        "method": method,
        "shape": shape,
        "n": n,
        "dim": dim,
        "playlists": len(sizes),
        "groups": plan.n_groups,
        "min_size": min(sizes),
        "max_size": max(sizes),
        "max_share": max(sizes) / n,
        "covered": len(np.unique(rows)) == n and len(rows) == n,
        "unique_names": len(set(names)) == len(names),
        "mixes": sum(1 for s in names if s.startswith("Mix ")),
        "plan_s": t1 - t0,
        "naming_s": t2 - t1,
        "total_s": t2 - t0,
        "stages_s": {k: round(v, 2) for k, v in plan.seconds.items()},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "example_names": names[:5],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--methods", default="kmeans,agglomerative,dbscan")
    ap.add_argument("--shapes", default="mixture,collapsed", help="mixture and/or collapsed")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--shape", default="mixture", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.dim, args.shape)))
        return 0
    failed = False
    print(f"playlists for {args.n} synthetic tracks in {args.dim} dimensions (budget {BUDGET_S} s)")
    runs = [(s, m) for s in args.shapes.split(",") for m in args.methods.split(",")]
    for shape, method in runs:
        cmd = [sys.executable, __file__, "--worker", method, "--n", str(args.n)]
        cmd += ["--dim", str(args.dim), "--shape", shape]
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            print(f"{shape}/{method}: failed\n{proc.stderr}")
            failed = True
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        ok = (
            r["total_s"] <= BUDGET_S
            and r["covered"]
            and r["unique_names"]
            and (args.n < 500 or r["max_share"] <= 0.15)
        )
        failed |= not ok
        print(
            f"{shape + '/' + method:24} {r['total_s']:6.1f} s (plan {r['plan_s']:.1f}, naming "
            f"{r['naming_s']:.1f}; {r['stages_s']}) process {wall:.1f} s, "
            f"peak {r['peak_rss_mb']:.0f} MB | {r['playlists']} playlists in {r['groups']} "
            f"groups, sizes {r['min_size']}-{r['max_size']} "
            f"(max share {100 * r['max_share']:.2f} %), {r['mixes']} 'Mix' names "
            f"{'OK' if ok else 'FAIL'}"
        )
        print(f"{'':24} e.g. {' | '.join(r['example_names'])}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
