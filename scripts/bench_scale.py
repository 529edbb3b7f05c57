"""Benchmark of a million-track library on SQLite and on PostgreSQL: playlists, similar,
path, map, memory.

    .venv/bin/python scripts/bench_scale.py [--n 1000000] [--queries 50] [--phases …]
        [--backend sqlite|postgresql|both] [--keep DIR]

For each backend, writes ``--n`` synthetic tracks into a fresh catalogue through the store's
own writes (``tracks.write_batch``, ``analyses.save``, ``analyses.save_embeddings``, in
batches of :data:`BATCH`): 32-d μ from a Gaussian mixture of :data:`STYLES` styles of uneven
sizes, with genres, artists, years, 50 MusiCNN tag probabilities and tempo, brightness and
energy that follow the style. That write (``generate``) and then each phase run in a fresh
Python process (so its peak RSS is its own) and print their figures:

- ``columns``: the window's read of every track (``store.library.track_columns``);
- ``playlists``: ``build_playlists`` from scratch (read, plan, name, write), and whether every
  track is in exactly one playlist;
- ``similar``: reading the space, building (first time) and loading (second time) the
  nearest-neighbour index, then ``similar`` latency per query (median and p95 over
  ``--queries`` seeds) and the share of the exact top 25 it finds;
- ``path``: ``path`` latency per query (12 tracks, A and B at random);
- ``map``: the PCA map of everything (``compute_map``), and the placement of every track on
  a fit of ``UMAP_SAMPLE`` tracks (the step ``compute_map(method="umap")`` runs after UMAP).

``--backend``: the default is both when PostgreSQL is installed (Debian's ``postgresql``
and psycopg), else SQLite alone (a line says PostgreSQL was skipped). For PostgreSQL the
script starts a server of its own with scripts/pg_server.py (initdb, an unprivileged user
when run as root, a Unix socket only, ``fsync=off``: figures of a server whose data may be
lost, plus :data:`PG_OPTIONS`), writes the library into its database, gives each phase
process the catalogue's URL, and stops the server at the end, also on Ctrl-C or a failure.

Figures of each phase: its wall time, the CPU time of the phase's own (client) process,
which other load on the machine skews less than wall time, and the client's peak RSS. On
PostgreSQL also the server's: its CPU time over the phase and its peak memory (the PSS of
the postmaster and its children summed, sampled every :data:`SAMPLE_S` s), which the
client's RSS does not show. A table at the end puts the backends side by side. Budgets
(issue 21): playlists 300 s, similar 50 ms per query, peak RSS of the client 4 GB per
phase; the script exits 1 when one is over.

``--keep DIR`` keeps the catalogues in DIR and reuses them next time when they hold ``--n``
tracks (else they are written again): SQLite's is ``DIR/bench.sqlite``; PostgreSQL's server
keeps its data folder in ``DIR/pg`` (started again from there, stopped cleanly at the end;
when run as root, DIR must be reachable by the user ``nobody``), and musicorg's folders for
that backend (its index cache) are ``DIR/pg-home``.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "scripts") not in sys.path:
    sys.path.append(str(ROOT / "scripts"))  # scripts/ is no package: pg_server.py is beside us
import pg_server  # noqa: E402

if TYPE_CHECKING:
    from musicorg.store.db import Catalogue

VERSION = "bench-scale-1"
#: The meta key that says how many tracks a finished synthetic library holds.
TRACKS_KEY = "bench_scale_tracks"
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


def generate(db: str, n: int, seed: int = 0) -> dict[str, Any]:
    """Write ``n`` synthetic tracks, their analyses and their μ through the store's writes
    into the catalogue ``db`` (a file or a PostgreSQL URL)."""
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
            done = f"{hi} tracks written, {time.perf_counter() - started:.0f} s"
            print(f"  {done}", file=sys.stderr, flush=True)
    cat.set_meta(ACTIVE_MODEL_KEY, VERSION)
    cat.set_meta(TRACKS_KEY, str(n))
    mb = db_mb(cat)
    cat.close()
    return {"tracks": n, "seconds": round(time.perf_counter() - started, 1), "mb": mb}


def db_mb(cat: Catalogue) -> float:
    """The catalogue's size: its files, or its database on the server."""
    if cat.server:
        with cat.read() as conn:
            size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
        return round(int(size or 0) / 2**20)
    db = Path(cat.path)
    return round(sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 2**20)


def generated(db: str, n: int) -> bool:
    """Whether the catalogue ``db`` holds a whole synthetic library of ``n`` tracks."""
    from musicorg.store.db import Catalogue

    with Catalogue(db) as cat:
        return cat.get_meta(TRACKS_KEY) == str(n)


# --- the phases, each in its own process -------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def phase_columns(db: str, args: argparse.Namespace) -> dict[str, Any]:
    from musicorg.store.db import Catalogue
    from musicorg.store.library import track_columns

    with Catalogue(db) as cat:
        cols, s = timed(lambda: track_columns(cat))
    return {"tracks": len(cols.ids), "read_s": round(s, 2)}


def phase_playlists(db: str, args: argparse.Namespace) -> dict[str, Any]:
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


def phase_similar(db: str, args: argparse.Namespace) -> dict[str, Any]:
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


def phase_path(db: str, args: argparse.Namespace) -> dict[str, Any]:
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


def phase_map(db: str, args: argparse.Namespace) -> dict[str, Any]:
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


def phase_generate(db: str, args: argparse.Namespace) -> dict[str, Any]:
    return generate(db, args.n)


PHASE_FNS: dict[str, Callable[[str, argparse.Namespace], dict[str, Any]]] = {
    "generate": phase_generate,
    "columns": phase_columns,
    "playlists": phase_playlists,
    "similar": phase_similar,
    "path": phase_path,
    "map": phase_map,
}

# --- the backends: a SQLite file, or a database on a PostgreSQL server of our own ---------------

BACKENDS = ("sqlite", "postgresql")
#: Added to scripts/pg_server.py's settings (fsync off, socket only): PostgreSQL's own default
#: shared buffers (pg_server's are smaller, for the tests), and room for the bulk write's WAL.
PG_OPTIONS = "-c shared_buffers=128MB -c max_wal_size=2GB"
#: How often the server's memory is sampled while a phase runs.
SAMPLE_S = 0.5


@dataclass
class Backend:
    """Where one backend's catalogue is, and its own musicorg folders (``home``: the index
    cache, the connection file), so the two backends never share an index file."""

    name: str
    db: str
    home: Path
    server: pg_server.Server | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("DATA", "CACHE", "CONFIG", "LOG"):
            env[f"MUSICORG_{name}_DIR"] = str(self.home / name.lower())
        return env

    def _server_procs(self) -> tuple[int, list[Path]]:
        """The postmaster's pid and the /proc folders of it and its children."""
        assert self.server is not None
        master = int((self.server.data / "postmaster.pid").read_text().split()[0])
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and (
                    int(proc.name) == master
                    or int((proc / "stat").read_text().rpartition(")")[2].split()[1]) == master
                ):
                    found.append(proc)
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
        return master, found

    def server_cpu(self) -> float | None:
        """The CPU time the server has used so far (its processes, live and ended), s."""
        if self.server is None:
            return None
        total = 0
        try:
            master, procs = self._server_procs()
        except (OSError, ValueError, IndexError):
            return None
        for proc in procs:
            try:
                fields = (proc / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            # utime, stime; for the postmaster also cutime, cstime: its children that ended
            total += sum(int(f) for f in fields[11 : 15 if int(proc.name) == master else 13])
        return total / os.sysconf("SC_CLK_TCK")

    def server_mb(self) -> float | None:
        """The server's memory now: the PSS (shared pages split between the processes that
        map them) of the postmaster and its children, summed; None for SQLite."""
        if self.server is None:
            return None
        try:
            _master, procs = self._server_procs()
        except (OSError, ValueError, IndexError):
            return None
        total = 0
        for proc in procs:
            try:
                for line in (proc / "smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
        return round(total / 1024)


def pg_available() -> str | None:
    """Why PostgreSQL cannot be benchmarked here, or None when it can."""
    if pg_server.bin_dir() is None:
        return "its binaries are not installed (Debian's postgresql package)"
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    return None


def start_server(work: Path, keep: bool) -> pg_server.Server:
    """A running server: in ``work/pg`` when kept (made there the first time, reused after),
    else in a new temporary folder; its database :data:`pg_server.DATABASE` exists."""
    folder = work / "pg" if keep else None
    if folder is not None and len(str(folder / ".s.PGSQL.5432")) > 100:
        raise pg_server.ServerError(f"{folder} is too long a path for the server's socket")
    server = pg_server.Server.make(folder=folder)
    try:
        server.start(PG_OPTIONS)
        try:
            server.create_database()
        except pg_server.ServerError as exc:
            if "already exists" not in str(exc):
                raise
    except BaseException:
        server.stop(keep=keep)
        raise
    return server


def prepare(backend: Backend, args: argparse.Namespace) -> dict[str, Any] | None:
    """Make sure the backend's catalogue holds the whole synthetic library: reuse a kept one
    that does, else (re)write it in a process of its own; that phase's figures, or None."""
    os.environ.update(backend.env())  # the connection file of a URL goes to the data folder
    if backend.server is not None:
        if generated(backend.db, args.n):
            return None
        backend.server.drop_database(pg_server.DATABASE)
        backend.server.create_database()
    else:
        db = Path(backend.db)
        if db.exists() and generated(backend.db, args.n):
            return None
        for old in db.parent.glob(db.name + "*"):
            old.unlink()
    return run_phase("generate", backend, args)


def run_phase(name: str, backend: Backend, args: argparse.Namespace) -> dict[str, Any] | None:
    """Run one phase in a fresh process; its figures, with its wall time and the server's
    peak memory (sampled every :data:`SAMPLE_S` s), or None when it failed."""
    cmd = [sys.executable, __file__, "--phase", name, "--db", backend.db]
    cmd += ["--n", str(args.n), "--queries", str(args.queries)]
    started = time.perf_counter()
    server_peak, server_cpu = backend.server_mb(), backend.server_cpu()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, text=True, env=backend.env())
        try:
            while True:
                try:
                    proc.wait(SAMPLE_S)
                    break
                except subprocess.TimeoutExpired:
                    now = backend.server_mb()
                    if now is not None and server_peak is not None:
                        server_peak = max(server_peak, now)
        finally:
            if proc.poll() is None:  # interrupted: the phase goes too
                proc.kill()
                proc.wait()
        wall = round(time.perf_counter() - started, 1)
        out.seek(0)
        lines = out.read().strip().splitlines()
    label = f"{backend.name} {name}"
    if proc.returncode != 0 or not lines:
        print(f"{label}: failed ({wall:.0f} s, exit {proc.returncode}; its error is above)")
        return None
    result: dict[str, Any] = json.loads(lines[-1])
    result["wall_s"] = wall
    if server_peak is not None:
        result["server_peak_mb"] = server_peak
    cpu_now = backend.server_cpu()
    if server_cpu is not None and cpu_now is not None:
        result["server_cpu_s"] = round(cpu_now - server_cpu, 1)
    print(f"{label:20} {json.dumps(result)}", flush=True)
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


# --- the table ------------------------------------------------------------------------------

#: The figures of each phase in the final table: label, key (``a.b``: nested), unit.
FIGURES: dict[str, list[tuple[str, str, str]]] = {
    "generate": [("catalogue size", "mb", "MB")],
    "columns": [("read every track", "read_s", "s")],
    "playlists": [
        ("build", "build_s", "s"),
        ("playlists", "playlists", ""),
        ("every track in one", "one_each", ""),
    ],
    "similar": [
        ("read the space", "load_space_s", "s"),
        ("index", "index", ""),
        ("index: build", "index_first_s", "s"),
        ("index: load", "index_load_s", "s"),
        ("similar, median", "similar.median_ms", "ms"),
        ("similar, p95", "similar.p95_ms", "ms"),
        ("exact, median", "exact.median_ms", "ms"),
        ("same as exact", "same_as_exact", ""),
    ],
    "path": [("path, median", "path.median_ms", "ms"), ("path, p95", "path.p95_ms", "ms")],
    "map": [
        ("PCA map of all", "pca_map_s", "s"),
        ("read μ", "read_s", "s"),
        ("place the rest", "place_s", "s"),
    ],
}
#: The figures every phase has.
COMMON = [
    ("wall time", "wall_s", "s"),
    ("CPU time (client)", "cpu_s", "s"),
    ("CPU time (server)", "server_cpu_s", "s"),
    ("peak RSS (client)", "peak_rss_mb", "MB"),
    ("peak PSS (server)", "server_peak_mb", "MB"),
]


def _figure(result: dict[str, Any] | None, key: str, unit: str) -> str:
    if result is None:
        return "failed"
    value: Any = result
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, str):
        return value.split(",")[0]  # the index's kind; the JSON lines above say the rest
    return f"{value:,}" + (f" {unit}" if unit else "")


def table(results: dict[str, dict[str, dict[str, Any] | None]]) -> str:
    """The figures side by side: a row per phase and figure, a column per backend."""
    names = list(results)
    phases = [p for p in FIGURES if any(p in r for r in results.values())]
    rows = [("phase", "figure", *names)]
    for phase in phases:
        for label, key, unit in FIGURES[phase] + COMMON:
            cells = [
                _figure(results[b][phase], key, unit) if phase in results[b] else "" for b in names
            ]
            if any(c not in ("", "-") for c in cells):
                rows.append((phase, label, *cells))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- the driver -----------------------------------------------------------------------------


def bench(backend: Backend, args: argparse.Namespace) -> dict[str, dict[str, Any] | None]:
    """Write the library if needed, then run each phase on it: the figures by phase."""
    print(f"{backend.name}: {args.n} synthetic tracks in {backend.db}", flush=True)
    results: dict[str, dict[str, Any] | None] = {}
    made = prepare(backend, args)
    if made is not None:
        results["generate"] = made
    for phase in args.phases.split(","):
        results[phase] = run_phase(phase, backend, args)
    return results


def backends_wanted(choice: str | None) -> list[str]:
    """The backends to run: ``choice``, or both when PostgreSQL is here, else SQLite."""
    why = pg_available()
    if choice in (None, "both"):
        if why is None:
            return list(BACKENDS)
        if choice == "both":
            raise SystemExit(f"cannot benchmark PostgreSQL: {why}")
        print(f"PostgreSQL skipped: {why}")
        return ["sqlite"]
    if choice == "postgresql" and why is not None:
        raise SystemExit(f"cannot benchmark PostgreSQL: {why}")
    return [choice]


def _stop_on_term(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so the server is stopped on the way out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--phases", default=",".join(PHASES))
    ap.add_argument(
        "--backend",
        choices=(*BACKENDS, "both"),
        help="default: both when PostgreSQL is installed, else sqlite",
    )
    ap.add_argument("--keep", help="keep (or reuse) the catalogues in this folder")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        result = PHASE_FNS[args.phase](args.db, args)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = round(usage.ru_utime + usage.ru_stime, 1)
        print(json.dumps({**result, "cpu_s": cpu, "peak_rss_mb": round(peak_mb())}))
        return 0
    wanted = backends_wanted(args.backend)
    signal.signal(signal.SIGTERM, _stop_on_term)
    results: dict[str, dict[str, dict[str, Any] | None]] = {}
    with tempfile.TemporaryDirectory(prefix="musicorg-scale-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        if "sqlite" in wanted:
            results["sqlite"] = bench(Backend("sqlite", str(work / "bench.sqlite"), work), args)
        if "postgresql" in wanted:
            server = start_server(work, keep=bool(args.keep))
            try:
                home = work / "pg-home"
                backend = Backend("postgresql", server.url(), home, server)
                results["postgresql"] = bench(backend, args)
            finally:
                try:
                    server.stop(keep=bool(args.keep))
                except pg_server.ServerError as exc:
                    print(f"stopping the PostgreSQL server: {exc}")
    print()
    print(table(results))
    print()
    over = [f"{b}: {o}" for b, r in results.items() for o in over_budget(r)]
    print(
        f"budgets: playlists {BUDGET_PLAYLISTS_S:.0f} s, similar {BUDGET_SIMILAR_MS:.0f} ms, "
        f"peak RSS of the client {BUDGET_RSS_MB:.0f} MB per phase: "
        + ("all met" if not over else "over: " + "; ".join(over))
    )
    return 1 if over else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except pg_server.ServerError as exc:
        sys.exit(f"the PostgreSQL server: {exc}")
    except KeyboardInterrupt:
        print("interrupted: the PostgreSQL server (if any) was stopped", file=sys.stderr)
        sys.exit(130)
