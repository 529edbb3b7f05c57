"""How coherent are the automatic playlists? A library of held-out tracks, scored by AMI/purity.

    .venv/bin/python scripts/eval_playlists.py [--no-demo] [--stand-in] [--seeds 5]
        [--draws 10] [--share 0.85] [--json OUT.json] [--bundle DIR]
        [--compare-bundle DIR] [--no-debian] [--no-realsongs] [--realsongs NPZ] [--boot 1000]

The library: the middle clip of every *test-split* track of the training corpus
(``~/.cache/musicorg/corpus``: ``manifest.csv`` + ``features-v<N>.npz``, written by
training/prepare.py), embedded with the bundled model; plus the demo library
(``resources/demo``), scanned and analysed by the app itself in a temporary catalogue, when it
is there. Demo tracks are excerpts of tracks from the same Debian packages (some of them of
training-split tracks: those are counted and reported, and the held-out-only figures leave
the demo out).

For every clustering method the playlists are made exactly as the app makes them (groups,
size guards, dedupe of same artist+title) and scored against

- the source package (a game's soundtrack: one composer or a small team, one style), and
- the genre tag (tracks without a usable genre tag are left out of that score),

with adjusted mutual information (AMI) and purity (share of tracks in their playlist's
majority class). Next to them: plain K-Means (scikit-learn, the best of 10 k-means++ starts)
with as many clusters as we made playlists and no guards, and a random partition with our
sizes. The default playlist length (20-60) makes few playlists in a library this small, so
a second setting (5-15) is scored too.

A library of a couple of hundred tracks makes every figure noisy: one seed moves AMI by
0.02. So every method runs on ``--draws`` versions of the library (the whole of it, then
random subsamples of ``--share`` of its tracks) with ``--seeds`` seeds each, and the table
gives mean ± standard deviation over those runs. The same seed serves our pipeline, plain
K-Means and the random partition of a run, so "ours - plain K-Means" is a paired difference;
its verdict ("more coherent", "as coherent (within noise)", "LESS coherent") compares the
mean with two standard errors of the per-draw means (optimistic: subsamples share most
tracks).

Real songs (``--no-realsongs`` leaves them out): the held-out split of the real-song sets
(``realsongs-v<N>.npz`` beside the corpus, written by ``python -m training.realsongs``; see
``training.data.load_realsongs``), one library per set as ``training.realeval.eval_sets``
labels them: 4Q by genre (its first AllMusic genre other than "International"; songs without
one left out) and Emotify by genre (its folder). Each is embedded with the model
(``embed(X, stats, None, teacher=<MusiCNN vector at the default patch count>)``), deduplicated
by artist and title as the app does, and split into playlists by every method with
``--seeds`` seeds (no subsamples: the uncertainty comes from a paired bootstrap over songs
instead). Scored against the genre: AMI and purity of our playlists, of plain K-Means on the
same μ with as many clusters, of a random partition with our sizes and, with
``--compare-bundle DIR``, of the playlists the same code makes from another model's μ (e.g. the
previous bundled model, ``resources/models/hvae-0.9.0``, or wherever it is kept). For the
app's default method (``settings.cluster_method``) the differences come with a paired
bootstrap 95 % interval over songs (``training.report.bootstrap_ami``: songs resampled, each
clustering held fixed, mean AMI over the seeds; ``--boot`` resamples): against plain K-Means
the issue asks that the interval include or exceed 0, against the compared model that it lie
above 0 ("clearly above").

``--bundle DIR`` evaluates another model bundle than the bundled one (a candidate).
``--stand-in`` (or no model in resources/models) uses the standardised 78-d feature
statistics instead of the model's latent means; the output says so on every line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from musicorg.analyse.features import FEATURES_VERSION  # noqa: E402
from musicorg.organise import (  # noqa: E402
    cluster,
    naming,
    tracksets,
    vocabulary,
)
from musicorg.settings import Settings  # noqa: E402
from musicorg.store import vectors as store_vectors  # noqa: E402

CORPUS = Path(os.environ.get("MUSICORG_CORPUS_DIR", Path.home() / ".cache/musicorg/corpus"))


def purity(labels: np.ndarray, truth: np.ndarray) -> float:
    total = 0
    for c in np.unique(labels):
        _vals, counts = np.unique(truth[labels == c], return_counts=True)
        total += int(counts.max())
    return total / len(labels)


def ami(labels: np.ndarray, truth: np.ndarray) -> float:
    from sklearn.metrics import adjusted_mutual_info_score

    return float(adjusted_mutual_info_score(truth, labels))


def genre_label(tag: str | None) -> str | None:
    keys = vocabulary.genre_keys(tag)
    return keys[0][0] if keys else None


def load_heldout(stand_in: bool) -> tuple[dict[str, Any], str]:
    """Test-split middle clips: vectors, package, genre, artist, title, source path."""
    z = np.load(CORPUS / f"features-v{FEATURES_VERSION}.npz", allow_pickle=False)
    with (CORPUS / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        manifest = {int(r["track_id"]): r for r in csv.DictReader(fh)}
    rows = np.flatnonzero((z["split"] == "test") & z["middle"])
    X, stats = z["X"][rows], z["stats"][rows]
    teacher = None
    if "musicnn" in z.files:
        from training.data import teacher_vectors

        teacher = teacher_vectors(z["musicnn"][rows], z["n_patches"][rows])
    vectors, what = embed(X, stats, stand_in, teacher)
    tracks = [manifest[int(t)] for t in z["track"][rows]]
    train_paths = {(r["package"], r["path"]) for r in manifest.values() if r["split"] == "train"}
    return (
        {
            "vectors": vectors,
            "package": [str(p) for p in z["package"][rows]],
            "genre": [t.get("genre") or None for t in tracks],
            "artist": [t.get("artist") or None for t in tracks],
            "title": [t.get("title") or None for t in tracks],
            "source": [(t["package"], t["path"]) for t in tracks],
            "origin": ["held-out"] * len(rows),
            "year": [None] * len(rows),
            "tempo": z["tempo"][rows].astype(np.float64),
            "brightness": z["brightness"][rows].astype(np.float64),
            "energy": z["energy"][rows].astype(np.float64),
            "train_paths": train_paths,
        },
        what,
    )


_MODEL: Any = None
_BUNDLE: Path | None = None  # --bundle: evaluate this bundle instead of the bundled one


def _usable_model() -> bool:
    global _MODEL
    if _MODEL is None:
        try:
            from musicorg.model.bundle import load_model

            _MODEL = load_model(_BUNDLE, device="cpu")
        except Exception as exc:  # no model yet, or an integrity error
            print(f"note: no usable model ({exc}); using the stand-in", file=sys.stderr)
            return False
    return True


def embed(
    X: np.ndarray, stats: np.ndarray, stand_in: bool, teacher: np.ndarray | None = None
) -> tuple[np.ndarray, str]:
    """Latent means of the model (no lyrics: the corpora have none), or the stand-in.
    ``teacher``: MusiCNN's vectors, for a model that takes them."""
    if not stand_in and _usable_model():
        mu = _MODEL.embed(X, stats, None, teacher=teacher)
        return np.asarray(mu, dtype=np.float32), f"model {_MODEL.version}"
    s = np.asarray(stats, dtype=np.float64)
    s = (s - s.mean(0)) / (s.std(0) + 1e-6)
    return s.astype(np.float32), "STAND-IN (standardised feature statistics, no model)"


def load_demo(stand_in: bool) -> dict[str, Any] | None:
    """The demo library, scanned and analysed by the app in a temporary catalogue."""
    from musicorg import paths
    from musicorg.analyse import analysis
    from musicorg.ingest import scanner
    from musicorg.store.db import Catalogue, Track

    demo = paths.demo_dir()
    if not demo.is_dir() or not any(demo.glob("*.opus")):
        return None
    sources: dict[str, tuple[str, str]] = {}
    credits = (demo / "CREDITS").read_text(encoding="utf-8") if (demo / "CREDITS").exists() else ""
    for block in credits.split("\n\n"):
        name = block.strip().splitlines()[0] if block.strip() else ""
        m = re.search(r"Source:\s+Debian package (\S+) \S+, (\S+)", block)
        if m and name.endswith(".opus"):
            sources[name] = (m.group(1), m.group(2))
    with tempfile.TemporaryDirectory() as tmp:
        for var in ("DATA", "CONFIG", "CACHE", "LOG"):
            os.environ[f"MUSICORG_{var}_DIR"] = str(Path(tmp) / var.lower())
        with Catalogue(Path(tmp) / "demo.sqlite") as cat:
            scanner.scan(cat, [str(demo)])
            analysis.analyse_features(cat, workers=1)
            with cat.read() as conn:
                rows = (
                    conn.execute(
                        Track.__table__.select().where(Track.missing.is_(False)).order_by(Track.id)
                    )
                    .mappings()
                    .all()
                )
            keys = [r["content_key"] for r in rows]
            found = analysis.load_features(cat, keys)
            mats, stats, index = found.matrices, found.stats, found.index
            from sqlalchemy import select

            from musicorg.store.db import Analysis

            with cat.read() as conn:
                desc = {
                    k: (t, b, e)
                    for k, t, b, e in conn.execute(
                        select(
                            Analysis.content_key,
                            Analysis.tempo,
                            Analysis.brightness,
                            Analysis.energy,
                        ).where(Analysis.features_version == FEATURES_VERSION)
                    )
                }
            vecs: dict[int, np.ndarray] = {}
            if not stand_in and _usable_model():
                # The app's own path: embeddings with lyrics where the track has them.
                analysis.embed_pending(cat, _MODEL)
                _paths, ids, mu = store_vectors.embeddings(cat, str(_MODEL.version))
                vecs = {t: mu[i] for i, t in enumerate(ids)}
    rows = [r for r in rows if r["content_key"] in index]
    if vecs:
        rows = [r for r in rows if r["id"] in vecs]
        vectors = np.stack([vecs[r["id"]] for r in rows]).astype(np.float32)
    else:
        order = [index[r["content_key"]] for r in rows]
        vectors, _what = embed(mats[order], stats[order], True)
    names = [Path(r["display"]).name for r in rows]
    return {
        "vectors": vectors,
        "package": [sources.get(n, ("demo?", ""))[0] for n in names],
        "genre": [r["genre"] for r in rows],
        "artist": [r["artist"] for r in rows],
        "title": [r["title"] for r in rows],
        "source": [sources.get(n, ("demo?", n)) for n in names],
        "origin": ["demo"] * len(rows),
        "year": [r["year"] for r in rows],
        "tempo": np.array([desc[r["content_key"]][0] or np.nan for r in rows], dtype=np.float64),
        "brightness": np.array(
            [desc[r["content_key"]][1] or np.nan for r in rows], dtype=np.float64
        ),
        "energy": np.array([desc[r["content_key"]][2] or np.nan for r in rows], dtype=np.float64),
    }


def combine(a: dict[str, Any], b: dict[str, Any] | None) -> dict[str, Any]:
    if b is None:
        return a
    out: dict[str, Any] = {}
    for k, v in a.items():
        if k == "train_paths":
            out[k] = v
        elif isinstance(v, np.ndarray):
            out[k] = np.concatenate([v, b[k]])
        else:
            out[k] = list(v) + list(b[k])
    return out


def score(labels: np.ndarray, lib: dict[str, Any]) -> dict[str, float]:
    pkg = np.asarray(lib["package"])
    genres = [genre_label(g) for g in lib["genre"]]
    has = np.array([g is not None for g in genres])
    gen = np.asarray([g or "" for g in genres])
    out = {"ami_package": ami(labels, pkg), "purity_package": purity(labels, pkg)}
    if has.sum() >= 5:
        out["ami_genre"] = ami(labels[has], gen[has])
        out["purity_genre"] = purity(labels[has], gen[has])
    return out


def subset(lib: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    return {
        k: (v[rows] if isinstance(v, np.ndarray) else [v[int(i)] for i in rows])
        for k, v in lib.items()
        if k != "train_paths"
    }


def summary(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation of every score over the runs."""
    out: dict[str, dict[str, float]] = {}
    for key in runs[0]:
        vals = np.array([r[key] for r in runs if key in r], dtype=np.float64)
        out[key] = {
            "mean": float(vals.mean()),
            "sd": float(vals.std(ddof=1) if len(vals) > 1 else 0),
        }
    return out


def verdict(diffs: np.ndarray, draw_of: np.ndarray) -> dict[str, Any]:
    """Ours minus plain K-Means, paired run by run. The standard error comes from the mean
    difference of each library draw (the seeds of one draw are averaged first); it is
    optimistic, as the subsamples share most of their tracks. "as coherent" means within
    two standard errors of zero."""
    per_draw = np.array([diffs[draw_of == d].mean() for d in np.unique(draw_of)])
    spread = per_draw if len(per_draw) > 1 else diffs
    se = float(spread.std(ddof=1) / np.sqrt(len(spread))) if len(spread) > 1 else float("nan")
    mean = float(diffs.mean())
    if not np.isfinite(se):
        word = "n/a"
    elif mean - 2 * se > 0:
        word = "more coherent"
    elif mean + 2 * se < 0:
        word = "LESS coherent"
    else:
        word = "as coherent (within noise)"
    return {
        "mean": mean,
        "sd": float(diffs.std(ddof=1)) if len(diffs) > 1 else 0.0,
        "se": se,
        "ours_at_least_as_good": float(np.mean(diffs >= 0)),
        "verdict": word,
    }


def evaluate(
    lib: dict[str, Any], pmin: int, pmax: int, what: str, seeds: int, draws: int, share: float
) -> list[dict[str, Any]]:
    """Every method on ``draws`` versions of the library (the whole of it, then random
    subsamples of ``share`` of its tracks) with ``seeds`` seeds each. The same seed serves
    our pipeline, plain K-Means (with as many clusters as we made playlists) and a random
    partition with our sizes."""
    ids = list(range(len(lib["package"])))
    whole = subset(lib, tracksets.dedupe(ids, lib["artist"], lib["title"]))
    n = len(whole["package"])
    versions: list[np.ndarray] = [np.arange(n)]
    for d in range(1, draws):
        rng = np.random.default_rng(1000 + d)
        versions.append(np.sort(rng.choice(n, size=round(share * n), replace=False)))
    results: list[dict[str, Any]] = []
    for method in cluster.METHODS:
        ours: list[dict[str, float]] = []
        groups: list[dict[str, float]] = []
        plain: list[dict[str, float]] = []
        random: list[dict[str, float]] = []
        counts: list[int] = []
        draw_of: list[int] = []
        first: dict[str, Any] = {}
        for d, rows in enumerate(versions):
            sub = subset(whole, rows)
            m = len(rows)
            for seed in range(seeds):
                plan = cluster.plan_playlists(
                    sub["vectors"],
                    method=method,
                    playlist_min=pmin,
                    playlist_max=pmax,
                    seed=seed,
                    order=False,
                )
                labels = plan.labels(m)
                k = len(plan.playlists)
                sizes = [len(p) for p in plan.playlists]
                group_labels = np.zeros(m, dtype=np.intp)
                for p, g in zip(plan.playlists, plan.group_of, strict=True):
                    group_labels[p] = g
                perm = np.random.default_rng(seed + 7919 * d).permutation(m)
                rand = np.empty(m, dtype=np.intp)
                rand[perm] = np.repeat(np.arange(k), sizes)
                ours.append(score(labels, sub))
                groups.append(score(group_labels, sub))
                plain.append(
                    score(cluster.plain_kmeans(sub["vectors"], k, seed), sub) if k > 1 else ours[-1]
                )
                random.append(score(rand, sub))
                counts.append(k)
                draw_of.append(d)
                if d == 0 and seed == 0:
                    vocab = naming.Vocabulary.build(
                        naming.TrackTags(
                            sub["genre"],
                            sub["artist"],
                            sub["year"],
                            sub["tempo"],
                            sub["brightness"],
                            sub["energy"],
                        )
                    )
                    first = {
                        "playlists": k,
                        "groups": plan.n_groups,
                        "sizes": sizes,
                        "names": naming.name_sets(plan.playlists, vocab),
                        "ours": ours[-1],
                        "plain_kmeans": plain[-1],
                    }
        diffs = {
            key: verdict(
                np.array([o[key] - p[key] for o, p in zip(ours, plain, strict=True)]),
                np.asarray(draw_of),
            )
            for key in ours[0]
        }
        results.append(
            {
                "embedding": what,
                "method": method,
                "playlist_min": pmin,
                "playlist_max": pmax,
                "tracks": n,
                "draws": len(versions),
                "share": share,
                "seeds": seeds,
                "runs": len(ours),
                "playlists_mean": float(np.mean(counts)),
                "whole_library_seed0": first,
                "ours": summary(ours),
                "our_groups": summary(groups),
                "plain_kmeans": summary(plain),
                "random": summary(random),
                "ours_minus_plain_kmeans": diffs,
            }
        )
    return results


KEYS = ("ami_package", "purity_package", "ami_genre", "purity_genre")


def table(title: str, results: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    r0 = results[0]
    subs = f", then random {round(100 * r0['share'])} % subsamples" if r0["draws"] > 1 else ""
    print(
        f"  {r0['tracks']} tracks (after dedupe), playlists of {r0['playlist_min']}-"
        f"{r0['playlist_max']}; embedding: {r0['embedding']}\n"
        f"  mean ± sd over {r0['runs']} runs: {r0['draws']} library draws (the whole library"
        f"{subs}) x {r0['seeds']} seeds"
    )
    head = f"  {'':34}" + "".join(f"{k.replace('_', ' '):>17}" for k in KEYS)
    print(head)

    def cell(s: dict[str, dict[str, float]], key: str, sign: bool = False) -> str:
        if key not in s:
            return f"{'-':>17}"
        v = s[key]
        return f"{v['mean']:+8.3f} ± {v['sd']:.3f}" if sign else f"{v['mean']:8.3f} ± {v['sd']:.3f}"

    def line(label: str, s: dict[str, dict[str, float]], sign: bool = False) -> None:
        print(f"  {label:34}" + "".join(f"{cell(s, k, sign):>17}" for k in KEYS))

    for r in results:
        first = r["whole_library_seed0"]
        sizes = first["sizes"]
        line(f"{r['method']} ({r['playlists_mean']:.1f} pl; {min(sizes)}-{max(sizes)})", r["ours"])
        line("  its groups", r["our_groups"])
        line("  plain K-Means, same k", r["plain_kmeans"])
        line("  random, same sizes", r["random"])
        d = r["ours_minus_plain_kmeans"]
        line("  ours - plain K-Means", d, sign=True)
        print(
            f"  {'    ours >= plain, share of runs':34}"
            + "".join(
                f"{100 * d[k]['ours_at_least_as_good']:16.0f}%" if k in d else f"{'-':>17}"
                for k in KEYS
            )
        )
        print(
            f"    vs plain K-Means (±2 se of the per-draw mean): AMI pkg "
            f"{d['ami_package']['verdict']}, purity pkg {d['purity_package']['verdict']}"
            + (f", AMI genre {d['ami_genre']['verdict']}" if "ami_genre" in d else "")
        )
        print(f"    names (whole library, seed 0): {' | '.join(first['names'][:6])}")


# ------------------------------------------------------------------------------ real songs


def load_real(
    path: Path, stand_in: bool, compare: Path | None
) -> tuple[list[dict[str, Any]], str, str | None]:
    """The held-out real songs, one library per genre set: rows, labels and the vectors of
    the evaluated model (and of the compared one), plus what the vectors are."""
    from training.data import load_realsongs, teacher_vectors
    from training.realeval import eval_sets

    real = load_realsongs(path)
    te = np.asarray(real["split"]).astype(str) == "test"
    X = np.asarray(real["X"][te], np.float32)
    stats = np.asarray(real["stats"][te], np.float32)
    teacher = teacher_vectors(np.asarray(real["musicnn"][te]), np.asarray(real["n_patches"][te]))
    vectors, what = embed(X, stats, stand_in, teacher)
    other: np.ndarray | None = None
    other_what: str | None = None
    if compare is not None:
        from musicorg.model.bundle import load_model

        model = load_model(compare, device="cpu")
        other = np.asarray(model.embed(X, stats, None, teacher=teacher), np.float32)
        other_what = str(model.version)
    artist = np.asarray(real["artist"]).astype(str)[te]
    title = np.asarray(real["title"]).astype(str)[te]
    libs = []
    for es in eval_sets(real, te):
        if "genre" not in es.name:
            continue
        keep = tracksets.dedupe(list(range(len(es.rows))), artist[es.rows], title[es.rows])
        rows = es.rows[keep]
        libs.append(
            {
                "name": es.name,
                "labels": np.asarray(es.labels)[keep],
                "vectors": vectors[rows],
                "other": None if other is None else other[rows],
                "dropped": int(len(es.rows) - len(rows)),
            }
        )
    return libs, what, other_what


def _random_partition(sizes: list[int], m: int, seed: int) -> np.ndarray:
    perm = np.random.default_rng(seed + 7919).permutation(m)
    out = np.empty(m, dtype=np.intp)
    out[perm] = np.repeat(np.arange(len(sizes)), sizes)
    return out


def evaluate_real(
    lib: dict[str, Any],
    pmin: int,
    pmax: int,
    seeds: int,
    n_boot: int,
    default_method: str,
) -> list[dict[str, Any]]:
    """Every method with ``seeds`` seeds on one real-song library, scored against the genre;
    for the default method, paired bootstrap intervals of the AMI differences."""
    from training.report import bootstrap_ami

    labels = np.asarray(lib["labels"])
    m = len(labels)
    out: list[dict[str, Any]] = []
    for method in cluster.METHODS:
        preds: dict[str, list[np.ndarray]] = {"ours": [], "plain": [], "random": [], "other": []}
        counts: list[int] = []
        for seed in range(seeds):

            def plan_of(
                vectors: np.ndarray, seed: int = seed, method: str = method
            ) -> cluster.Plan:
                return cluster.plan_playlists(
                    vectors,
                    method=method,
                    playlist_min=pmin,
                    playlist_max=pmax,
                    seed=seed,
                    order=False,
                )

            plan = plan_of(lib["vectors"])
            ours = plan.labels(m)
            k = len(plan.playlists)
            preds["ours"].append(ours)
            preds["plain"].append(cluster.plain_kmeans(lib["vectors"], k, seed) if k > 1 else ours)
            preds["random"].append(_random_partition([len(p) for p in plan.playlists], m, seed))
            if lib["other"] is not None:
                preds["other"].append(plan_of(lib["other"]).labels(m))
            counts.append(k)
        row: dict[str, Any] = {
            "set": lib["name"],
            "method": method,
            "default_method": method == default_method,
            "playlist_min": pmin,
            "playlist_max": pmax,
            "songs": m,
            "labels": len(np.unique(labels)),
            "seeds": seeds,
            "playlists_mean": float(np.mean(counts)),
        }
        for name, ps in preds.items():
            if ps:
                amis = [ami(p, labels) for p in ps]
                row[name] = {
                    "ami": float(np.mean(amis)),
                    "ami_sd": float(np.std(amis, ddof=1)) if len(amis) > 1 else 0.0,
                    "purity": float(np.mean([purity(p, labels) for p in ps])),
                }
        if method == default_method and n_boot > 0:
            row["ours_minus_plain"] = bootstrap_ami(labels, preds["ours"], preds["plain"], n_boot)
            if preds["other"]:
                row["ours_minus_other"] = bootstrap_ami(
                    labels, preds["ours"], preds["other"], n_boot
                )
        out.append(row)
    return out


def _interval(t: tuple[float, float, float]) -> str:
    return f"{t[0]:+.3f} [{t[1]:+.3f}, {t[2]:+.3f}]"


def table_real(rows: list[dict[str, Any]], what: str, other: str | None, dropped: int) -> None:
    r0 = rows[0]
    print(
        f"\nREAL SONGS (held-out), {r0['set']}: {r0['songs']} songs ({dropped} duplicates by "
        f"artist and title left out), {r0['labels']} genres; playlists {r0['playlist_min']}-"
        f"{r0['playlist_max']}; embedding: {what}; mean ± sd over {r0['seeds']} seeds"
    )
    print(f"  {'':40}{'AMI genre':>16}{'purity genre':>14}")

    def line(label: str, s: dict[str, float] | None) -> None:
        if s is not None:
            print(f"  {label:40}{s['ami']:8.3f} ± {s['ami_sd']:.3f}{s['purity']:14.3f}")

    for r in rows:
        mark = " [app default]" if r["default_method"] else ""
        line(f"{r['method']} ({r['playlists_mean']:.1f} playlists){mark}", r["ours"])
        line("  plain K-Means, same k, same μ", r["plain"])
        line("  random, same sizes", r["random"])
        if other is not None:
            line(f"  {other}'s playlists (same method)", r.get("other"))
        if "ours_minus_plain" in r:
            d = r["ours_minus_plain"]
            ok = "met" if d[2] >= 0 else "NOT met"
            print(
                f"    ours - plain K-Means, AMI (paired bootstrap 95 %): {_interval(d)}: "
                f"interval includes or exceeds 0: {ok}"
            )
        if "ours_minus_other" in r:
            d = r["ours_minus_other"]
            if d[1] > 0:
                word = "clearly above"
            elif d[2] < 0:
                word = "clearly BELOW"
            else:
                word = "not clearly different (the interval includes 0)"
            print(f"    ours - {other}'s playlists, AMI: {_interval(d)}: {word}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--no-demo", action="store_true", help="leave the demo library out")
    ap.add_argument("--stand-in", action="store_true", help="feature statistics, not the model")
    ap.add_argument("--seeds", type=int, default=5, help="seeds per library draw (default 5)")
    ap.add_argument(
        "--draws", type=int, default=10, help="library draws: the whole + subsamples (default 10)"
    )
    ap.add_argument(
        "--share", type=float, default=0.85, help="share of tracks in a subsample (default 0.85)"
    )
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    ap.add_argument("--bundle", type=Path, help="evaluate this model bundle (default: bundled)")
    ap.add_argument(
        "--compare-bundle",
        type=Path,
        metavar="DIR",
        help="real songs: also the playlists of this model bundle (e.g. the previous one)",
    )
    ap.add_argument("--no-debian", action="store_true", help="leave the Debian corpus out")
    ap.add_argument("--no-realsongs", action="store_true", help="leave the real songs out")
    ap.add_argument(
        "--realsongs",
        type=Path,
        default=CORPUS / f"realsongs-v{FEATURES_VERSION}.npz",
        help="the real-song features (default: beside the corpus)",
    )
    ap.add_argument(
        "--boot", type=int, default=1000, help="bootstrap resamples for the real songs (1000)"
    )
    args = ap.parse_args()
    global _BUNDLE
    _BUNDLE = args.bundle
    report: dict[str, Any] = {}
    ran = False
    if not args.no_realsongs:
        # Before the demo: load_demo points the MUSICORG_*_DIR variables at a temporary folder.
        if args.realsongs.exists():
            realsongs(args, report)
            ran = True
        else:
            print(
                f"no real songs at {args.realsongs}: run python -m training.realsongs featurise",
                file=sys.stderr,
            )
    if not args.no_debian:
        if (CORPUS / f"features-v{FEATURES_VERSION}.npz").exists():
            debian(args, report)
            ran = True
        else:
            print(f"no corpus at {CORPUS}: run training/prepare.py first", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return 0 if ran else 1


def realsongs(args: argparse.Namespace, report: dict[str, Any]) -> None:
    default_method = Settings().cluster_method
    libs, what, other = load_real(args.realsongs, args.stand_in, args.compare_bundle)
    report["realsongs_embedding"] = what
    report["realsongs_compared"] = other
    for lib in libs:
        if len(lib["labels"]) < 10 or len(np.unique(lib["labels"])) < 2:
            print(f"\nREAL SONGS, {lib['name']}: {len(lib['labels'])} songs, too few to score")
            continue
        for pmin, pmax in ((20, 60), (5, 15)):
            rows = evaluate_real(lib, pmin, pmax, args.seeds, args.boot, default_method)
            table_real(rows, what, other, lib["dropped"])
            key = lib["name"].lower().replace(" ", "_")
            report[f"realsongs_{key}_{pmin}_{pmax}"] = rows


def debian(args: argparse.Namespace, report: dict[str, Any]) -> None:
    held, what = load_heldout(args.stand_in)
    report["embedding"] = what
    demo = None if args.no_demo else load_demo(args.stand_in)
    print(f"held-out tracks: {len(held['package'])} from {len(set(held['package']))} packages")
    genres = sum(1 for g in held["genre"] if genre_label(g))
    print(f"  with a genre tag: {genres}")
    opts = (args.seeds, args.draws, args.share)
    for pmin, pmax in ((20, 60), (5, 15)):
        res = evaluate(held, pmin, pmax, what, *opts)
        table(f"HELD-OUT ONLY, playlists {pmin}-{pmax}", res)
        report[f"heldout_{pmin}_{pmax}"] = res
    if demo is not None:
        seen = sum(1 for s in demo["source"] if s in held["train_paths"])
        print(
            f"\ndemo tracks: {len(demo['package'])} ({seen} are excerpts of training-split "
            "tracks: the model saw other clips of them)"
        )
        lib = combine(held, demo)
        for pmin, pmax in ((20, 60), (5, 15)):
            res = evaluate(lib, pmin, pmax, what, *opts)
            table(f"HELD-OUT + DEMO, playlists {pmin}-{pmax}", res)
            report[f"with_demo_{pmin}_{pmax}"] = res
        report["demo_seen_in_training"] = seen


if __name__ == "__main__":
    sys.exit(main())
