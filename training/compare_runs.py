"""Two configurations side by side: paired bootstrap intervals of new − old, seed for seed.

    python -m training.compare_runs --old training/configs/ablations/ours-v8.toml \\
        --new training/configs/ours.toml --seeds 1 2 3 --json /tmp/compare.json

Reads the runs ``<runs dir>/<config name>-seed<k>`` of both configurations and scores them as
``training.report`` (Debian held-out tracks, held-out lyrics) and ``training.realeval``
(held-out real songs) do, then gives each difference new − old with a paired bootstrap 95 %
interval: over lyrics for lyrics-only kNN@5 of μ, over tracks for kNN@5 and reconstruction,
over songs for the real songs' kNN@5 and AMI (clusterings held fixed). Per seed it also gives
lyrics-only kNN@5 of μ against TF-IDF+PCA. Prints Markdown; ``--json`` also writes the figures
(and the Markdown beside them, ``.md``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training import realeval
from training.data import load_realsongs, runs_dir
from training.report import (
    Run,
    bootstrap_ami,
    bootstrap_knn,
    evaluate_run,
    find_runs,
    load_configs,
    load_held_out,
)

Interval = tuple[float, float, float]
# Per-item arrays of training.report's evaluation, compared paired over their items.
DEBIAN_KEYS = (
    ("text_shares_mu", "lyrics-only kNN@5 of μ (per held-out lyric with a genre)"),
    ("knn5_tracks", "Debian kNN@5, middle clips (per track)"),
    ("knn5_all_tracks", "Debian kNN@5, all clips (per track)"),
    ("recon_tracks", "Debian held-out reconstruction MSE (per track)"),
)


def ci(t: Interval) -> str:
    return f"{t[0]:+.3f} [{t[1]:+.3f}, {t[2]:+.3f}]"


def debian(old: list[dict[str, Any]], new: list[dict[str, Any]], n_boot: int) -> dict[str, Any]:
    """New − old on the Debian held-out tracks and the held-out lyrics (means over the seeds)."""
    out: dict[str, Any] = {}
    for key, _ in DEBIAN_KEYS:
        a = np.mean([r[key] for r in new], axis=0)
        b = np.mean([r[key] for r in old], axis=0)
        out[key] = {
            "new": float(np.nanmean(a)),
            "old": float(np.nanmean(b)),
            "diff": bootstrap_knn(a, b, n_boot),
        }
    return out


def text_per_seed(res: list[dict[str, Any]], n_boot: int) -> list[dict[str, Any]]:
    """Each run's lyrics-only kNN@5 of μ, and its difference to TF-IDF+PCA's."""
    return [
        {
            "knn5": float(r["text_knn5_mu"]),
            "vs_tfidf": bootstrap_knn(r["text_shares_mu"], r["text_shares_tfidf_pca"], n_boot),
        }
        for r in res
    ]


def real_songs(names: dict[str, str], seeds: Sequence[int], n_boot: int) -> dict[str, Any]:
    """New − old on the held-out real songs, per set: kNN@5 and AMI (K-Means seeds 0-2)."""
    real = load_realsongs(None)
    te = np.asarray(real["split"]).astype(str) == "test"
    rd = runs_dir()
    dirs = {k: [rd / f"{n}-seed{s}" for s in seeds] for k, n in names.items()}
    embs, _ = realeval.embeddings(real, dirs, {})
    out: dict[str, Any] = {}
    for s in realeval.eval_sets(real, te):
        new = realeval._score([e[s.rows] for e in embs["new"]], s.labels)
        old = realeval._score([e[s.rows] for e in embs["old"]], s.labels)
        out[s.name] = {
            "new": {"knn5": new.knn5, "ami": new.ami},
            "old": {"knn5": old.knn5, "ami": old.ami},
            "knn5": bootstrap_knn(new.shares, old.shares, n_boot),
            "ami": bootstrap_ami(s.labels, new.preds, old.preds, n_boot // 4),
        }
    return out


def markdown(result: dict[str, Any], old: str, new: str, seeds: Sequence[int]) -> str:
    lines = [f"## {new} − {old}, seeds {' '.join(map(str, seeds))}", ""]
    for key, what in DEBIAN_KEYS:
        d = result["debian"][key]
        lines.append(f"- {what}: {new} {d['new']:.3f}, {old} {d['old']:.3f}, {ci(d['diff'])}")
    for name, d in result["real"].items():
        lines.append(
            f"- {name}: kNN@5 {d['new']['knn5']:.3f} vs {d['old']['knn5']:.3f}, "
            f"{ci(d['knn5'])}; AMI {d['new']['ami']:.3f} vs {d['old']['ami']:.3f}, {ci(d['ami'])}"
        )
    lines += ["", "Lyrics-only kNN@5 of μ − TF-IDF+PCA's, per seed:", ""]
    for label in (old, new):
        for seed, t in zip(seeds, result["text_per_seed"][label], strict=True):
            lines.append(f"- {label} seed {seed}: {t['knn5']:.3f}, {ci(t['vs_tfidf'])}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    import torch  # heavy: only when the command runs

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--old", type=Path, required=True)
    ap.add_argument("--new", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--bootstrap", type=int, default=2000)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    configs = load_configs([args.old, args.new])
    runs = find_runs(configs, args.seeds, runs_dir(), {})
    missing = [str(r.run_dir) for r in runs if not r.present]
    if missing:
        raise SystemExit(f"runs missing: {', '.join(missing)}")
    held = load_held_out(None, None)
    for r in runs:
        evaluate_run(r, held)
    by: dict[str, list[Run]] = {c.name: [r for r in runs if r.config is c] for c in configs}
    old, new = configs[0].name, configs[1].name
    res_old, res_new = [r.res for r in by[old]], [r.res for r in by[new]]
    result: dict[str, Any] = {
        "debian": debian(res_old, res_new, args.bootstrap),
        "text_per_seed": {
            old: text_per_seed(res_old, args.bootstrap),
            new: text_per_seed(res_new, args.bootstrap),
        },
        "other_per_seed": {
            name: [
                {
                    "active_dims": int(r["active_dims"]),
                    "has_lyrics_auc": float(r["has_lyrics_auc"]),
                    "largest_cluster": float(r["scores"]["kmeans"][0]["largest"]),
                    "recon_mse": float(r["recon_mse"]),
                }
                for r in res
            ]
            for name, res in ((old, res_old), (new, res_new))
        },
        "real": real_songs({"old": old, "new": new}, args.seeds, args.bootstrap),
    }
    text = markdown(result, old, new, args.seeds)
    print(text, end="")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
        args.json.with_suffix(".md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
