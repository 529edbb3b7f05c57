"""Old and new model side by side on the user's own library (the report after retraining).

The same checks as the offline evaluation (``training/evaluate.py``), on the library's tracks
instead of held-out clips:

- collapse: active latent dims (variance of μ over tracks > 0.01) and the audio reconstruction
  MSE decoding the audio-only μ (per-row standardised features, each model's own normaliser);
- shape: sizes of a KMeans clustering and its silhouette, K = √(N/2) clamped to [2, 50];
- agreement with the library's genre tags, on tracks that have one (and only when at least
  two genres have two tracks each): AMI, NMI, purity of KMeans(K = #genres) against the
  genre, and kNN@5 genre precision (chance given for reference).

Embeddings are the ones the app uses: audio with lyrics where a track has them. Libraries
over :data:`MAX_TRACKS` tracks are subsampled (seed 0) for the clustering checks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from musicorg.model import metrics

MAX_TRACKS = 5000
SEEDS = (0, 1, 2)


@dataclass
class LibraryData:
    """A library's cached analysis: raw (N, 39, 130) matrices, (N, 78) statistics, lyrics and
    genre tags per track (None where it has none)."""

    features: NDArray[np.float32]
    stats: NDArray[np.float32]
    lyrics: list[str | None]
    genres: list[str | None]
    teacher: NDArray[np.float32] | None = None  # (N, 200) MusiCNN vectors

    def __len__(self) -> int:
        return int(self.features.shape[0])


def normalise_genre(genre: str | None) -> str | None:
    """The first of several genres, case-folded: 'Rock; Pop' and 'rock' agree."""
    if not genre:
        return None
    for sep in (";", "/", ",", "\x00"):
        genre = genre.split(sep)[0]
    g = " ".join(genre.split()).casefold()
    return g or None


def genre_labels(genres: Sequence[str | None]) -> tuple[NDArray[np.int64], NDArray[Any]] | None:
    """(indices of tagged tracks, their labels) when at least two genres have two tracks."""
    norm = [normalise_genre(g) for g in genres]
    idx = np.array([i for i, g in enumerate(norm) if g], dtype=np.int64)
    if len(idx) < 4:
        return None
    labels = np.array([norm[i] for i in idx])
    _, counts = np.unique(labels, return_counts=True)
    if int(np.sum(counts >= 2)) < 2:
        return None
    return idx, labels


def report_k(n: int) -> int:
    return max(2, min(50, round(math.sqrt(n / 2))))


def reconstruction_mse(model: Any, features: NDArray[np.float32], mu: NDArray[np.float32]) -> float:
    """Mean squared error of the audio matrix decoded from μ, on the model's normalised scale."""
    xa = model.norm.audio(features)
    errs = []
    with torch.inference_mode():
        for lo in range(0, len(mu), 256):
            z = torch.from_numpy(np.ascontiguousarray(mu[lo : lo + 256])).to(model.device)
            rec = model.model.decode(z)["audio"].float().cpu().numpy()
            errs.append(((rec - xa[lo : lo + 256]) ** 2).reshape(len(rec), -1).mean(axis=1))
    return float(np.mean(np.concatenate(errs)))


def model_metrics(model: Any, data: LibraryData, sample: NDArray[np.int64]) -> dict[str, Any]:
    """Every check of one model on the library (``sample``: rows used for clustering)."""
    mu = model.embed(data.features, data.stats, data.lyrics, teacher=data.teacher)
    mu_audio = model.embed(data.features, data.stats, None, teacher=data.teacher)
    out: dict[str, Any] = {
        "version": str(model.version),
        "latent_dim": int(model.latent_dim),
        "active_dims": metrics.active_dims(mu),
        "recon_mse": reconstruction_mse(model, data.features, mu_audio),
    }
    ms = mu[sample]
    k = min(report_k(len(ms)), len(ms) - 1)
    if k >= 2:
        sizes, sil = metrics.kmeans_clusters(ms, k)
        out.update(k=k, cluster_sizes=sizes, silhouette=sil)
        out["largest_cluster_share"] = sizes[0] / len(ms)
    tagged = genre_labels([data.genres[i] for i in sample])
    if tagged is not None:
        idx, labels = tagged
        n_genres = len(np.unique(labels))
        g = metrics.cluster_scores(ms[idx], labels, SEEDS, k=min(n_genres, len(idx) - 1))
        g["knn5"] = metrics.knn_precision(ms[idx], labels, min(5, len(idx) - 1))
        g["knn5_chance"] = metrics.knn_chance(labels)
        g["n_tracks"] = len(idx)
        g["n_genres"] = int(n_genres)
        out["genre"] = g
    return out


def compare(old: Any, new: Any, data: LibraryData) -> dict[str, Any]:
    """The old and the new model's checks on the same tracks, as plain data."""
    n = len(data)
    rng = np.random.default_rng(0)
    sample = (
        np.sort(rng.choice(n, MAX_TRACKS, replace=False)).astype(np.int64)
        if n > MAX_TRACKS
        else np.arange(n, dtype=np.int64)
    )
    return {
        "n_tracks": n,
        "n_sampled": len(sample),
        "n_with_lyrics": sum(1 for t in data.lyrics if t),
        "old": model_metrics(old, data, sample),
        "new": model_metrics(new, data, sample),
    }


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, list):
        shown = ", ".join(str(x) for x in v[:8])
        return shown + (f", … ({len(v)})" if len(v) > 8 else "")
    return str(v)


def format_report(report: dict[str, Any]) -> str:
    """The comparison as a two-column text table."""
    old, new = report["old"], report["new"]
    rows: list[tuple[str, Any, Any]] = [
        ("model", old["version"], new["version"]),
        ("active dims", f"{old['active_dims']}/{old['latent_dim']}", None),
        ("audio recon MSE", old["recon_mse"], new["recon_mse"]),
        ("clusters (K)", old.get("k"), new.get("k")),
        ("cluster sizes", old.get("cluster_sizes"), new.get("cluster_sizes")),
        ("largest cluster", old.get("largest_cluster_share"), new.get("largest_cluster_share")),
        ("silhouette", old.get("silhouette"), new.get("silhouette")),
    ]
    rows[1] = ("active dims", rows[1][1], f"{new['active_dims']}/{new['latent_dim']}")
    og, ng = old.get("genre"), new.get("genre")
    if og and ng:
        rows += [
            ("genre: AMI", og["ami"], ng["ami"]),
            ("genre: NMI", og["nmi"], ng["nmi"]),
            ("genre: purity", og["purity"], ng["purity"]),
            ("genre: kNN@5", og["knn5"], ng["knn5"]),
        ]
    width = max(len(r[0]) for r in rows) + 2
    col = max(len(_fmt(r[1])) for r in rows) + 2
    lines = [f"{'':{width}}{'old':{col}}new"]
    lines += [f"{name:{width}}{_fmt(a):{col}}{_fmt(b)}" for name, a, b in rows]
    sampled = report["n_sampled"] < report["n_tracks"]
    lines.append(
        f"{report['n_tracks']} tracks ({report['n_with_lyrics']} with lyrics)"
        + (f", clustering on a sample of {report['n_sampled']}" if sampled else "")
    )
    if og and ng:
        lines.append(
            f"genre checks on {og['n_tracks']} tagged tracks, {og['n_genres']} genres "
            f"(kNN@5 chance {og['knn5_chance']:.3f})"
        )
    else:
        lines.append("genre checks: not enough tracks with genre tags")
    return "\n".join(lines)


__all__ = [
    "LibraryData",
    "compare",
    "format_report",
    "genre_labels",
    "model_metrics",
    "normalise_genre",
    "reconstruction_mse",
]
