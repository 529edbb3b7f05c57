"""Metrics of an embedding: neighbourhoods, clusterings against labels, collapse checks.

Shared by the offline evaluation (``training/evaluate.py``) and the report the app prints
after retraining on a library. numpy and scikit-learn only: no torch here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn import metrics as skm
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
from sklearn.neighbors import NearestNeighbors

Array = NDArray[Any]


def knn_neighbours(emb: Array, k: int = 5, groups: Array | None = None) -> NDArray[np.intp]:
    """Each point's k nearest neighbours (Euclidean), (N, k) indices, -1 where there are fewer.

    Without ``groups`` a point's neighbours leave out only the point itself; with ``groups``
    (one id per point, e.g. the track of each clip) they leave out every point of its group.
    """
    n = len(emb)
    out = np.full((n, k), -1, dtype=np.intp)
    if n < 2 or k < 1:
        return out
    if groups is None:
        m = k + 1
    else:
        _, counts = np.unique(groups, return_counts=True)
        m = k + int(counts.max())
    idx = NearestNeighbors(n_neighbors=min(n, m)).fit(emb).kneighbors(emb, return_distance=False)
    for i, row in enumerate(idx):
        # Drop self by index (with duplicates the first neighbour may not be self).
        keep = row[row != i] if groups is None else row[groups[row] != groups[i]]
        keep = keep[:k]
        out[i, : len(keep)] = keep
    return out


def neighbour_share(neighbours: NDArray[np.intp], labels: Array) -> Array:
    """Per point, the share of its neighbours (from :func:`knn_neighbours`) sharing its label.

    NaN for a point without neighbours.
    """
    valid = neighbours >= 0
    same = (labels[np.maximum(neighbours, 0)] == labels[:, None]) & valid
    count = valid.sum(axis=1)
    share = np.full(len(neighbours), np.nan)
    np.divide(same.sum(axis=1), count, out=share, where=count > 0)
    return share


def group_means(values: Array, groups: Array) -> tuple[Array, Array]:
    """(group ids, mean of ``values`` per group), NaNs left out; ids sorted."""
    ids, inv = np.unique(groups, return_inverse=True)
    ok = ~np.isnan(values)
    sums = np.bincount(inv[ok], weights=values[ok], minlength=len(ids))
    counts = np.bincount(inv[ok], minlength=len(ids))
    means = np.full(len(ids), np.nan)
    np.divide(sums, counts, out=means, where=counts > 0)
    return ids, means


def knn_precision(emb: Array, labels: Array, k: int = 5, groups: Array | None = None) -> float:
    """Mean share of each point's k nearest neighbours (Euclidean, no self) sharing its label.

    With ``groups`` (e.g. the track of each clip), a point's neighbours leave out every point
    of its own group, and the shares are averaged per group first: each group counts once.
    """
    share = neighbour_share(knn_neighbours(emb, k, groups), labels)
    if groups is not None:
        share = group_means(share, groups)[1]
    return float(np.nanmean(share))


def knn_chance(labels: Array) -> float:
    """Expected kNN precision for a random embedding."""
    _, counts = np.unique(labels, return_counts=True)
    n = len(labels)
    return float(np.sum(counts * (counts - 1)) / (n * (n - 1)))


def purity(labels: Array, pred: Array) -> float:

    c = skm.cluster.contingency_matrix(labels, pred)
    return float(c.max(axis=0).sum() / c.sum())


def cluster_scores(
    emb: Array, labels: Array, seeds: Sequence[int] = (0, 1, 2), k: int | None = None
) -> dict[str, float]:
    """KMeans(K = number of labels) scored against the labels, mean over seeds."""

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


def separability_auc(a: Array, b: Array, seed: int = 0, groups: Array | None = None) -> float:
    """Cross-validated (5-fold) logistic-regression AUC telling rows of ``a`` from rows of ``b``.

    ``groups`` (one id per row of ``a`` then ``b``, e.g. the track of each clip) keeps each
    group's rows in one fold, so the classifier is scored on groups it never saw.
    """

    x = np.concatenate([a, b])
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    model = LogisticRegression(max_iter=2000)
    if groups is None:
        cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
        p = cross_val_predict(model, x, y, cv=cv, method="predict_proba")
    else:
        if len(groups) != len(x):
            raise ValueError(f"groups must have {len(x)} entries, got {len(groups)}")
        gcv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)
        p = cross_val_predict(model, x, y, cv=gcv, groups=groups, method="predict_proba")
    return float(skm.roc_auc_score(y, p[:, 1]))


def embedding_report(emb: Array, labels: Array, seeds: Sequence[int]) -> dict[str, float]:
    out = {"knn5": knn_precision(emb, labels, 5)}
    out.update(cluster_scores(emb, labels, seeds))
    return out


def kmeans_clusters(emb: Array, k: int, seed: int = 0) -> tuple[list[int], float | None]:
    """Sizes of KMeans(k) clusters, largest first, and the silhouette of that clustering."""

    pred = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(emb)
    sizes = sorted((int(c) for c in np.bincount(pred, minlength=k)), reverse=True)
    sil = float(skm.silhouette_score(emb, pred)) if len(np.unique(pred)) > 1 else None
    return sizes, sil


__all__ = [
    "active_dims",
    "cluster_scores",
    "embedding_report",
    "group_means",
    "kmeans_clusters",
    "knn_chance",
    "knn_neighbours",
    "knn_precision",
    "neighbour_share",
    "purity",
    "separability_auc",
]
