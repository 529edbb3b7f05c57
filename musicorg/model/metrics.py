"""Metrics of an embedding: neighbourhoods, clusterings against labels, collapse checks.

Shared by the offline evaluation (``training/evaluate.py``) and the report the app prints
after retraining on a library. numpy and scikit-learn only: no torch here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]


def knn_precision(emb: Array, labels: Array, k: int = 5) -> float:
    """Mean share of each point's k nearest neighbours (Euclidean, no self) sharing its label."""
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k + 1).fit(emb)
    idx = nn.kneighbors(emb, return_distance=False)
    # Drop self; with duplicates the first neighbour may not be self, so remove by index.
    hits = []
    for i, row in enumerate(idx):
        row = [j for j in row if j != i][:k]
        hits.append(np.mean(labels[row] == labels[i]))
    return float(np.mean(hits))


def knn_chance(labels: Array) -> float:
    """Expected kNN precision for a random embedding."""
    _, counts = np.unique(labels, return_counts=True)
    n = len(labels)
    return float(np.sum(counts * (counts - 1)) / (n * (n - 1)))


def purity(labels: Array, pred: Array) -> float:
    from sklearn import metrics as skm

    c = skm.cluster.contingency_matrix(labels, pred)
    return float(c.max(axis=0).sum() / c.sum())


def cluster_scores(
    emb: Array, labels: Array, seeds: Sequence[int] = (0, 1, 2), k: int | None = None
) -> dict[str, float]:
    """KMeans(K = number of labels) scored against the labels, mean over seeds."""
    from sklearn import metrics as skm
    from sklearn.cluster import KMeans

    k = k or len(np.unique(labels))
    rows: list[dict[str, float]] = []
    for s in seeds:
        pred = KMeans(n_clusters=k, n_init=10, random_state=s).fit_predict(emb)
        row = {
            "ari": skm.adjusted_rand_score(labels, pred),
            "nmi": skm.normalized_mutual_info_score(labels, pred),
            "ami": skm.adjusted_mutual_info_score(labels, pred),
            "purity": purity(labels, pred),
        }
        if len(np.unique(pred)) > 1:
            row["silhouette"] = skm.silhouette_score(emb, pred)
            row["ch"] = skm.calinski_harabasz_score(emb, pred)
            row["db"] = skm.davies_bouldin_score(emb, pred)
        rows.append({key: float(v) for key, v in row.items()})
    return {key: float(np.mean([r[key] for r in rows if key in r])) for key in rows[0]}


def active_dims(mu: Array, threshold: float = 0.01) -> int:
    """Latent dims whose Cov_x E[z|x] (the variance of μ over inputs) exceeds the threshold."""
    return int(np.sum(np.var(mu, axis=0) > threshold))


def separability_auc(a: Array, b: Array, seed: int = 0) -> float:
    """Cross-validated logistic-regression AUC telling rows of ``a`` from rows of ``b``."""
    from sklearn import metrics as skm
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.concatenate([a, b])
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    p = cross_val_predict(LogisticRegression(max_iter=2000), x, y, cv=cv, method="predict_proba")
    return float(skm.roc_auc_score(y, p[:, 1]))


def embedding_report(emb: Array, labels: Array, seeds: Sequence[int]) -> dict[str, float]:
    out = {"knn5": knn_precision(emb, labels, 5)}
    out.update(cluster_scores(emb, labels, seeds))
    return out


def kmeans_clusters(emb: Array, k: int, seed: int = 0) -> tuple[list[int], float | None]:
    """Sizes of KMeans(k) clusters, largest first, and the silhouette of that clustering."""
    from sklearn import metrics as skm
    from sklearn.cluster import KMeans

    pred = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(emb)
    sizes = sorted((int(c) for c in np.bincount(pred, minlength=k)), reverse=True)
    sil = float(skm.silhouette_score(emb, pred)) if len(np.unique(pred)) > 1 else None
    return sizes, sil


__all__ = [
    "active_dims",
    "cluster_scores",
    "embedding_report",
    "kmeans_clusters",
    "knn_chance",
    "knn_precision",
    "purity",
    "separability_auc",
]
