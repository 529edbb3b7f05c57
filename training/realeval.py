"""Evaluation on held-out real songs (4Q and Emotify), and the MusiCNN patch-count study.

    python -m training.realeval --runs-dir ~/.cache/musicorg/runs --ours ours-v9 \
        --paper paper --seeds 1 2 3 --baseline-bundle resources/models/hvae-0.9.0 \
        --out training/report

Writes ``REALSONGS.md`` (and ``realsongs.json``) into ``--out``: for each held-out set
(4Q by genre, 4Q by quadrant, Emotify by genre; see training/realsongs.py for the splits)
kNN@5 label precision (leave-one-out), and AMI and NMI of K-Means with K = the number of
labels (K-Means seeds 0-2), for ours (the mean over its training seeds), MusiCNN's 200-d
vector over all patches and at the default patch count (the teacher), MusiCNN's 50 tags, the
previous bundled model, the paper configuration, the 78 handcrafted statistics, PCA-32 of the
39x130 matrix and of the MusiCNN vector, and chance; then the issue's checks with paired
bootstrap intervals (over songs; clusterings held fixed for AMI), and the patch-count study
(1, 2, 3, 5, 10 patches spread over the 30-s window).

Every standardisation and PCA is fitted on the real-song TRAINING split only.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.decomposition import PCA

from musicorg.model.metrics import knn_chance, knn_neighbours, neighbour_share
from training.data import load_realsongs, runs_dir, teacher_vectors
from training.report import bootstrap_ami, bootstrap_knn

PATCH_COUNTS = (1, 2, 3, 5, 10)
KMEANS_SEEDS = (0, 1, 2)


@dataclass
class EvalSet:
    name: str
    rows: np.ndarray  # indices into the held-out arrays
    labels: np.ndarray


@dataclass
class Scores:
    """One embedding (or several: training seeds) scored on one set."""

    shares: np.ndarray  # per-song kNN@5 share, mean over the embeddings
    preds: list[np.ndarray] = field(default_factory=list)  # K-Means labels, every seed
    knn5: float = 0.0
    ami: float = 0.0
    nmi: float = 0.0
    per_seed: list[dict[str, float]] = field(default_factory=list)
    largest: float = 0.0  # share of the largest K-Means cluster


def eval_sets(real: dict[str, np.ndarray], test: np.ndarray) -> list[EvalSet]:
    ds = np.asarray(real["dataset"]).astype(str)[test]
    genre = np.asarray(real["genre"]).astype(str)[test]
    quad = np.asarray(real["quadrant"]).astype(str)[test]
    idx = np.arange(int(test.sum()))
    q4 = ds == "4q"
    g4 = q4 & (genre != "")
    em = ds == "emotify"
    sets = [
        EvalSet("4Q by genre", idx[g4], genre[g4]),
        EvalSet("4Q by quadrant", idx[q4], quad[q4]),
        EvalSet("Emotify by genre", idx[em], genre[em]),
    ]
    return [s for s in sets if len(np.unique(s.labels)) >= 2]


def _score(embs: Sequence[np.ndarray], labels: np.ndarray) -> Scores:
    from sklearn import metrics as skm
    from sklearn.cluster import KMeans

    k = len(np.unique(labels))
    shares = []
    out = Scores(shares=np.zeros(0))
    for emb in embs:
        share = neighbour_share(knn_neighbours(emb, 5), labels)
        shares.append(share)
        amis, nmis = [], []
        for s in KMEANS_SEEDS:
            pred = KMeans(n_clusters=k, n_init=10, random_state=s).fit_predict(emb)
            out.preds.append(pred)
            amis.append(skm.adjusted_mutual_info_score(labels, pred))
            nmis.append(skm.normalized_mutual_info_score(labels, pred))
            out.largest = max(out.largest, float(np.bincount(pred).max() / len(pred)))
        out.per_seed.append(
            {"knn5": float(np.nanmean(share)), "ami": float(np.mean(amis)), "nmi": np.mean(nmis)}
        )
    out.shares = np.nanmean(np.stack(shares), axis=0)
    for key in ("knn5", "ami", "nmi"):
        setattr(out, key, float(np.mean([r[key] for r in out.per_seed])))
    return out


def _standardise(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    m, s = train.mean(0), train.std(0) + 1e-6
    return np.asarray((test - m) / s, dtype=np.float32)


def _pca(train: np.ndarray, test: np.ndarray, dim: int = 32) -> np.ndarray:
    a = train.reshape(len(train), -1)
    b = test.reshape(len(test), -1)
    m, s = a.mean(0), a.std(0) + 1e-8
    pca = PCA(n_components=dim, random_state=0).fit((a - m) / s)
    return np.asarray(pca.transform((b - m) / s), dtype=np.float32)


def _load(run: Path) -> Any:
    from training.runs import load_run_model

    return load_run_model(run, "cpu")


def embeddings(
    real: dict[str, np.ndarray],
    runs: dict[str, list[Path]],
    bundles: dict[str, Path],
) -> tuple[dict[str, list[np.ndarray]], list[str]]:
    """Every method's embeddings of the held-out songs (a list: one per training seed)."""
    split = np.asarray(real["split"]).astype(str)
    tr, te = split == "train", split == "test"
    per_patch, counts = np.asarray(real["musicnn"]), np.asarray(real["n_patches"])
    teacher_all = teacher_vectors(per_patch, counts, 0)
    teacher_def = teacher_vectors(per_patch, counts)
    tags_def = teacher_vectors(np.asarray(real["tags"]), counts)
    X, stats = np.asarray(real["X"], np.float32), np.asarray(real["stats"], np.float32)
    out: dict[str, list[np.ndarray]] = {}
    notes: list[str] = []
    for name, dirs in runs.items():
        embs = []
        for d in dirs:
            if not (d / "checkpoint.pt").exists():
                notes.append(f"{name}: run {d} is missing")
                continue
            model = _load(d)
            embs.append(model.embed(X[te], stats[te], None, teacher=teacher_def[te]))
        if embs:
            out[name] = embs
    for name, path in bundles.items():
        from musicorg.model.bundle import load_model

        model = load_model(path, device="cpu", num_threads=1)
        out[name] = [model.embed(X[te], stats[te], None, teacher=teacher_def[te])]
    out["MusiCNN 200-d, all patches"] = [_standardise(teacher_all[tr], teacher_all[te])]
    out["MusiCNN 200-d, default patches"] = [_standardise(teacher_def[tr], teacher_def[te])]
    out["MusiCNN 50 tags"] = [_standardise(tags_def[tr], tags_def[te])]
    out["handcrafted 78-d"] = [_standardise(stats[tr], stats[te])]
    out["PCA-32 of the 39x130 matrix"] = [_pca(X[tr], X[te])]
    out["PCA-32 of the MusiCNN vector"] = [_pca(teacher_def[tr], teacher_def[te])]
    return out, notes


def patch_study(real: dict[str, np.ndarray], sets: list[EvalSet]) -> dict[str, Any]:
    split = np.asarray(real["split"]).astype(str)
    tr, te = split == "train", split == "test"
    per_patch, counts = np.asarray(real["musicnn"]), np.asarray(real["n_patches"])
    rows: dict[str, Any] = {}
    for k in PATCH_COUNTS:
        vec = teacher_vectors(per_patch, counts, k)
        emb = _standardise(vec[tr], vec[te])
        rows[str(k)] = {s.name: _score([emb[s.rows]], s.labels).per_seed[0] for s in sets}
    return rows


def _ci(t: tuple[float, float, float]) -> str:
    return f"{t[0]:+.3f} [{t[1]:+.3f}, {t[2]:+.3f}]"


def build(args: argparse.Namespace) -> dict[str, Any]:
    real = load_realsongs(args.realsongs)
    te = np.asarray(real["split"]).astype(str) == "test"
    sets = eval_sets(real, te)
    rd = args.runs_dir or runs_dir()
    runs = {
        f"ours ({args.ours})": [rd / f"{args.ours}-seed{s}" for s in args.seeds],
        f"paper configuration ({args.paper})": [rd / f"{args.paper}-seed{s}" for s in args.seeds],
    }
    bundles = {f"{p.name} (previous bundled model)": p for p in args.baseline_bundle}
    embs, notes = embeddings(real, runs, bundles)
    result: dict[str, Any] = {"sets": {}, "notes": notes, "checks": {}, "n": {}}
    scores: dict[str, dict[str, Scores]] = {}
    for s in sets:
        result["n"][s.name] = {"songs": len(s.rows), "labels": len(np.unique(s.labels))}
        scores[s.name] = {m: _score([e[s.rows] for e in es], s.labels) for m, es in embs.items()}
        result["sets"][s.name] = {
            m: {"knn5": sc.knn5, "ami": sc.ami, "nmi": sc.nmi, "per_seed": sc.per_seed}
            for m, sc in scores[s.name].items()
        }
        result["sets"][s.name]["chance"] = {"knn5": knn_chance(s.labels), "ami": 0.0, "nmi": 0.0}
    ours = next((m for m in embs if m.startswith("ours")), None)
    if ours is not None:
        result["checks"] = checks(scores, sets, ours, args.bootstrap)
    result["patches"] = patch_study(real, sets)
    return result


def checks(
    scores: dict[str, dict[str, Scores]], sets: list[EvalSet], ours: str, n_boot: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in sets:
        sc = scores[s.name]
        o = sc[ours]
        row: dict[str, Any] = {"largest_cluster": o.largest}
        for ref, need in (
            ("MusiCNN 200-d, default patches", 0.95),
            ("MusiCNN 200-d, all patches", 0.90),
        ):
            r = sc[ref]
            row[f"ratio to {ref}"] = {
                "knn5": o.knn5 / r.knn5 if r.knn5 else float("nan"),
                "ami": o.ami / r.ami if r.ami else float("nan"),
                "need": need,
            }
        for base in sc:
            if base == ours or base.startswith("MusiCNN"):
                continue
            row[f"vs {base}"] = {
                "knn5": bootstrap_knn(o.shares, sc[base].shares, n_boot),
                "ami": bootstrap_ami(s.labels, o.preds, sc[base].preds, n_boot // 4),
            }
        out[s.name] = row
    return out


def write_markdown(result: dict[str, Any], path: Path) -> None:
    lines = [
        "# Held-out real songs (4Q, Emotify)",
        "",
        "Written by `python -m training.realeval` (`make report`). kNN@5: share of a song's five",
        "nearest neighbours with its label (leave-one-out); AMI / NMI: K-Means with K = the",
        "number of labels, mean over K-Means seeds 0-2 (and over training seeds for trained",
        "models, whose per-seed values follow in brackets). Standardisation and PCA are fitted",
        "on the real-song training split.",
        "",
    ]
    for note in result["notes"]:
        lines.append(f"- note: {note}")
    for name, rows in result["sets"].items():
        n = result["n"][name]
        lines += [
            f"## {name} ({n['songs']} songs, {n['labels']} labels)",
            "",
            "| embedding | kNN@5 | AMI | NMI |",
            "|---|---|---|---|",
        ]
        for m, r in rows.items():
            seeds = r.get("per_seed", [])
            extra = ""
            if len(seeds) > 1:
                extra = " (" + " ".join(f"{x['knn5']:.3f}" for x in seeds) + ")"
            amis = ""
            if len(seeds) > 1:
                amis = " (" + " ".join(f"{x['ami']:.3f}" for x in seeds) + ")"
            lines.append(
                f"| {m} | {r['knn5']:.3f}{extra} | {r['ami']:.3f}{amis} | {r['nmi']:.3f} |"
            )
        lines.append("")
    if result["checks"]:
        lines += ["## Checks (ours against the others; paired bootstrap 95 % intervals)", ""]
        for name, row in result["checks"].items():
            lines.append(f"### {name}")
            lines.append("")
            lines.append(f"- largest K-Means cluster: {row['largest_cluster']:.0%}")
            for key, v in row.items():
                if key.startswith("ratio"):
                    ok = v["knn5"] >= v["need"] and v["ami"] >= v["need"]
                    lines.append(
                        f"- {key}: kNN@5 {v['knn5']:.0%}, AMI {v['ami']:.0%} "
                        f"(need ≥ {v['need']:.0%}): {'met' if ok else 'NOT met'}"
                    )
                elif key.startswith("vs"):
                    above = v["knn5"][1] > 0 and v["ami"][1] > 0
                    lines.append(
                        f"- {key}: kNN@5 {_ci(v['knn5'])}, AMI {_ci(v['ami'])}"
                        + (" (clearly above)" if above else "")
                    )
            lines.append("")
    lines += [
        "## MusiCNN patch count (3-s patches spread over the 30-s window)",
        "",
        "| patches | " + " | ".join(f"{s} kNN@5 / AMI" for s in result["sets"]) + " |",
        "|---|" + "---|" * len(result["sets"]),
    ]
    for k, per in result["patches"].items():
        cells = [f"{per[s]['knn5']:.3f} / {per[s]['ami']:.3f}" for s in result["sets"]]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--realsongs", type=Path, default=None)
    ap.add_argument("--runs-dir", type=Path, default=None)
    ap.add_argument("--ours", default="ours-v9")
    ap.add_argument("--paper", default="paper")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--baseline-bundle", type=Path, action="append", default=[])
    ap.add_argument("--bootstrap", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=Path("training/report"))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    result = build(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "realsongs.json").write_text(json.dumps(_jsonable(result), indent=1) + "\n")
    write_markdown(result, args.out / "REALSONGS.md")
    print((args.out / "REALSONGS.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
