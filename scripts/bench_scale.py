"""Benchmark of a million-track library on SQLite: playlists, similar, path, map, memory.

    .venv/bin/python scripts/bench_scale.py [--n 1000000] [--queries 50] [--keep DIR]

Writes ``--n`` synthetic tracks into a fresh catalogue in a temporary folder through the
store's own writes (``tracks.write_batch``, ``analyses.save``, ``analyses.save_embeddings``,
in batches of :data:`BATCH`): 32-d μ from a Gaussian mixture of :data:`STYLES` styles of
uneven sizes, with genres, artists, years, 50 MusiCNN tag probabilities and tempo,
brightness and energy that follow the style. Then each phase runs in a fresh Python process
(so its peak RSS is its own) and prints its figures:

- ``columns``: the window's read of every track (``store.library.track_columns``);
- ``playlists``: ``build_playlists`` from scratch (read, plan, name, write), and whether every
  track is in exactly one playlist;
- ``similar``: reading the space, building (first time) and loading (second time) the
  nearest-neighbour index, then ``similar`` latency per query (median and p95 over
  ``--queries`` seeds) and the share of the exact top 25 it finds;
- ``path``: ``path`` latency per query (12 tracks, A and B at random);
- ``map``: the PCA map of everything (``compute_map``), and the placement of every track on
  a fit of ``UMAP_SAMPLE`` tracks (the step ``compute_map(method="umap")`` runs after UMAP).

Each phase also prints the CPU time it used (``cpu_s``), which other load on the machine
skews less than wall time. Budgets (issue 21): playlists 300 s, similar 50 ms per query,
peak RSS 4 GB per phase; the script exits 1 when one is over. ``--keep DIR`` keeps (or
reuses) the catalogue there.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VERSION = "bench-scale-1"
DIM = 32
STYLES = 60
BATCH = 20_000
PHASES = ("columns", "playlists", "similar", "path", "map")
BUDGET_PLAYLISTS_S = 300.0
BUDGET_SIMILAR_MS = 50.0
BUDGET_RSS_MB = 4096.0
GENRES = ("Rock", "Jazz", "Folk", "Techno", "Classical", "Metal", "Pop", "Ambient", "Soul", "Blues")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the synthetic library --------------------------------------------------------------------


def _style_arrays(n: int, rng: np.random.Generator) -> dict[str, Any]:
    """μ, the style of each track, and per-style tags and descriptors."""
    weights = rng.dirichlet(np.full(STYLES, 0.8))
    centres = rng.normal(0.0, 2.5, (STYLES, DIM)).astype(np.float32)
    scales = rng.uniform(0.4, 1.2, STYLES).astype(np.float32)
    style = rng.choice(STYLES, size=n, p=weights)
    mu = centres[style] + rng.normal(0.0, 1.0, (n, DIM)).astype(np.float32) * scales[style, None]
    return {
        "style": style,
        "mu": mu.astype(np.float32),
        "logits": rng.normal(-2.0, 1.5, (STYLES, 50)).astype(np.float32),
        "genre": rng.integers(0, len(GENRES), STYLES),
        "tempo": rng.uniform(70, 170, STYLES),
    }


def _track_values(i: int, s: int, arrays: dict[str, Any], now: float) -> dict[str, object]:
    artist = f"Artist {s}-{i % 997}"
    title = f"Song {i}"
    path = f"/bench/music/{artist}/Album {i // 12}/{i:07d} {title}.flac"
    return {
        "path": path.encode(),
        "display": path,
        "root_id": arrays["root_id"],
        "size": 4_000_000 + i,
        "mtime_ns": 1_700_000_000_000_000_000 + i,
        "content_key": f"k{i:08d}",
        "fmt": "flac",
        "codec": "flac",
        "duration": 120.0 + (i % 240),
        "sample_rate": 44100,
        "channels": 2,
        "bitrate": 900_000,
        "title": title,
        "artist": artist,
        "album": f"Album {i // 12}",
        "albumartist": artist,
        "genre": GENRES[int(arrays["genre"][s])] if i % 10 else None,
        "year": 1960 + (s * 7 + i % 9) % 64,
        "tracknumber": i % 12 + 1,
        "missing": False,
        "updated_at": now,
        "added_at": now,
    }


def generate(db: Path, n: int, seed: int = 0) -> dict[str, Any]:
    """Write ``n`` synthetic tracks, their analyses and their μ through the store's writes."""
    from musicorg.keys import ACTIVE_MODEL_KEY, FEATURES_VERSION
    from musicorg.store import analyses, tracks
    from musicorg.store.analyses import AnalysisRow, AudioFile
    from musicorg.store.db import Catalogue

    rng = np.random.default_rng(seed)
    arrays = _style_arrays(n, rng)
    started = time.perf_counter()
    cat = Catalogue(db)
    arrays["root_id"] = tracks.ensure_roots(cat, [b"/bench/music"])[b"/bench/music"]
    now = time.time()
    tiny = np.zeros((1, 1), np.float32)
    for lo in range(0, n, BATCH):
        hi = min(n, lo + BATCH)
        style = arrays["style"][lo:hi]
        values = [
            _track_values(i, int(s), arrays, now) for i, s in zip(range(lo, hi), style, strict=True)
        ]
        tracks.write_batch(cat, tracks.TrackBatch(inserts=values))
        probs = 1 / (1 + np.exp(-(arrays["logits"][style] + rng.normal(0, 1, (hi - lo, 50)))))
        mu = arrays["mu"][lo:hi]
        rows = [
            AnalysisRow(
                file=AudioFile(
                    str(v["content_key"]),
                    bytes(v["path"]),  # type: ignore[call-overload]
                    str(v["display"]),
                    0,
                    0,
                ),
                matrix=tiny,
                stats=tiny[0],
                tempo=float(arrays["tempo"][s] + 8 * mu[j, 0]),
                brightness=float(mu[j, 1]),
                energy=float(mu[j, 2]),
                weak=False,
                musicnn=tiny[0],
                tags=probs[j].astype(np.float32),
                n_patches=1,
            )
            for j, (v, s) in enumerate(zip(values, style, strict=True))
        ]
        analyses.save(cat, rows, [], FEATURES_VERSION)
        analyses.save_embeddings(cat, VERSION, [str(v["content_key"]) for v in values], mu)
        if (hi // BATCH) % 10 == 0 or hi == n:
            print(f"  {hi} tracks written, {time.perf_counter() - started:.0f} s", flush=True)
    cat.set_meta(ACTIVE_MODEL_KEY, VERSION)
    cat.close()
    return {"tracks": n, "seconds": round(time.perf_counter() - started, 1), "mb": db_mb(db)}


def db_mb(db: Path) -> float:
    return round(sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 2**20)


# --- the phases, each in its own process -------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def phase_columns(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    from musicorg.store.db import Catalogue
    from musicorg.store.library import track_columns

    with Catalogue(db) as cat:
        cols, s = timed(lambda: track_columns(cat))
    return {"tracks": len(cols.ids), "read_s": round(s, 2)}


def phase_playlists(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    from musicorg.organise import playlists
    from musicorg.store.db import Catalogue

    with Catalogue(db) as cat:
        built, s = timed(lambda: playlists.build_playlists(cat))
        left = playlists.unplaced_tracks(cat)
    members = [t for p in built for t in p.track_ids]
    sizes = [p.size for p in built]
    return {
        "build_s": round(s, 1),
        "playlists": len(built),
        "sizes": [min(sizes), max(sizes)],
        "groups": len({p.group_index for p in built}),
        "one_each": len(members) == len(set(members)) and not left,
    }


def _latencies(times: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(1000 * float(np.median(times)), 2),
        "p95_ms": round(1000 * float(np.percentile(times, 95)), 2),
    }


def phase_similar(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    from musicorg.organise import similar
    from musicorg.store.db import Catalogue

    out: dict[str, Any] = {}
    with Catalogue(db) as cat:
        space, out["load_space_s"] = timed(lambda: similar.load_space(cat))
        index, s = timed(space.near_index)
        out["index"] = index.describe() if index else "none (exact search)"
        out["index_first_s"] = round(s, 2)
        again = similar.load_space(cat)  # a second reader: loads the saved index
    _again, out["index_load_s"] = timed(again.near_index)
    rng = np.random.default_rng(1)
    seeds = [int(space.ids[r]) for r in rng.choice(len(space), args.queries, replace=False)]
    times, found = [], []
    for seed in seeds:
        res, s = timed(functools.partial(similar.nearest, space, [seed], 25))
        times.append(s)
        found.append({t.track_id for t in res.tracks})
    out["similar"] = _latencies(times)
    exact_times, recall = [], []
    for seed, got in zip(seeds[:10], found[:10], strict=True):
        res, s = timed(functools.partial(similar.nearest, space, [seed], 25, exact=True))
        exact_times.append(s)
        recall.append(len(got & {t.track_id for t in res.tracks}) / max(1, len(res.tracks)))
    out["exact"] = _latencies(exact_times)
    out["same_as_exact"] = round(float(np.mean(recall)), 3)
    for key in ("load_space_s", "index_load_s"):
        out[key] = round(out[key], 2)
    return out


def phase_path(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    from musicorg.organise import similar, songpath
    from musicorg.store.db import Catalogue

    with Catalogue(db) as cat:
        space = similar.load_space(cat)
        _index, index_s = timed(space.near_index)
        rng = np.random.default_rng(2)
        times, lengths = [], []
        for _ in range(args.queries):
            a, b = (int(space.ids[r]) for r in rng.choice(len(space), 2, replace=False))
            res, s = timed(functools.partial(songpath.song_path, cat, a, b, 12, space=space))
            times.append(s)
            lengths.append(len(res.tracks))
    return {
        "index_load_s": round(index_s, 2),
        "path": _latencies(times),
        "mean_tracks": round(float(np.mean(lengths)), 1),
    }


def phase_map(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    from musicorg.organise import mapping
    from musicorg.store.db import Catalogue
    from musicorg.store.vectors import content_vectors

    with Catalogue(db) as cat:
        report, pca_s = timed(lambda: mapping.compute_map(cat, "pca"))
        (keys, mu), read_s = timed(lambda: content_vectors(cat, VERSION))
    rng = np.random.default_rng(0)
    fit = np.sort(rng.choice(len(keys), size=min(len(keys), mapping.UMAP_SAMPLE), replace=False))
    rest = np.setdiff1d(np.arange(len(keys)), fit)
    xy_fit = mapping.pca_2d(mu[fit])  # stands in for UMAP's coordinates of the sample
    _xy, place_s = timed(lambda: mapping.place(mu[fit], xy_fit, mu[rest]))
    return {
        "pca_map_s": round(pca_s, 1),
        "points": report.points,
        "read_s": round(read_s, 1),
        "placed": len(rest),
        "place_s": round(place_s, 1),
    }


PHASE_FNS: dict[str, Callable[[Path, argparse.Namespace], dict[str, Any]]] = {
    "columns": phase_columns,
    "playlists": phase_playlists,
    "similar": phase_similar,
    "path": phase_path,
    "map": phase_map,
}


# --- the driver ---------------------------------------------------------------------------------


def run_phase(name: str, db: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    cmd = [sys.executable, __file__, "--phase", name, "--db", str(db)]
    cmd += ["--n", str(args.n), "--queries", str(args.queries)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    if proc.returncode != 0:
        print(f"{name}: failed ({time.perf_counter() - started:.0f} s)\n{proc.stderr[-3000:]}")
        return None
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{name:10} {json.dumps(result)}", flush=True)
    return result


def over_budget(results: dict[str, dict[str, Any] | None]) -> list[str]:
    over = [name for name, r in results.items() if r is None]
    over += [f"{k} RSS" for k, r in results.items() if r and r["peak_rss_mb"] > BUDGET_RSS_MB]
    pl, sim = results.get("playlists"), results.get("similar")
    if pl and (pl["build_s"] > BUDGET_PLAYLISTS_S or not pl["one_each"]):
        over.append("playlists")
    if sim and sim["similar"]["median_ms"] > BUDGET_SIMILAR_MS:
        over.append("similar")
    return over


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--phases", default=",".join(PHASES))
    ap.add_argument("--keep", help="keep (or reuse) the catalogue in this folder")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        result = PHASE_FNS[args.phase](Path(args.db), args)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = round(usage.ru_utime + usage.ru_stime, 1)
        print(json.dumps({**result, "cpu_s": cpu, "peak_rss_mb": round(peak_mb())}))
        return 0
    with tempfile.TemporaryDirectory(prefix="musicorg-scale-") as tmp:
        work = Path(args.keep or tmp)
        for name in ("DATA", "CACHE", "CONFIG", "LOG"):
            os.environ[f"MUSICORG_{name}_DIR"] = str(work / name.lower())
        db = work / "bench.sqlite"
        print(f"{args.n} synthetic tracks in {db}")
        if not db.exists():
            print(f"generate   {json.dumps(generate(db, args.n))}", flush=True)
        results = {p: run_phase(p, db, args) for p in args.phases.split(",")}
    over = over_budget(results)
    print(
        f"budgets: playlists {BUDGET_PLAYLISTS_S:.0f} s, similar {BUDGET_SIMILAR_MS:.0f} ms, "
        f"peak RSS {BUDGET_RSS_MB:.0f} MB per phase: "
        + ("all met" if not over else "over: " + ", ".join(over))
    )
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
