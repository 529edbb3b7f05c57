"""musicorg.model.metrics: neighbourhood precision with groups, cross-validated separability."""

from __future__ import annotations

import numpy as np

from musicorg.model.metrics import knn_neighbours, knn_precision, separability_auc


def _brute_knn(emb: np.ndarray, labels: np.ndarray, k: int) -> float:
    d = np.linalg.norm(emb[:, None] - emb[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    return float(
        np.mean([np.mean(labels[np.argsort(row)[:k]] == labels[i]) for i, row in enumerate(d)])
    )


def test_knn_precision_without_groups_is_plain_knn() -> None:
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(120, 6))
    labels = rng.integers(0, 4, size=120)
    assert knn_precision(emb, labels, 5) == _brute_knn(emb, labels, 5)


def test_knn_groups_leave_out_the_own_group_and_average_per_group() -> None:
    # Points on a line. Group g0 = {0, 1, 2} (label a) sits at 0.0, 0.1, 0.2; its nearest
    # outsiders are group g1 = {3} (label a) at 0.3 and group g2 = {4, 5} (label b) at 5, 5.1.
    emb = np.array([[0.0], [0.1], [0.2], [0.3], [5.0], [5.1]])
    labels = np.array(["a", "a", "a", "a", "b", "b"])
    groups = np.array(["g0", "g0", "g0", "g1", "g2", "g2"])
    nb = knn_neighbours(emb, 1, groups)
    assert nb[:, 0].tolist() == [3, 3, 3, 2, 3, 3]
    # k=1: g0's clips each find g1 (same label): 1; g1 finds g0: 1; g2 finds g1 (label a): 0.
    assert knn_precision(emb, labels, 1, groups=groups) == (1 + 1 + 0) / 3
    # Without groups clip 0's neighbour is clip 1, clip 4's is clip 5: all hits.
    assert knn_precision(emb, labels, 1) == 1.0


def test_knn_groups_never_return_a_point_of_the_same_group() -> None:
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(30), rng.integers(1, 8, size=30))
    emb = rng.normal(size=(len(groups), 4)) + groups[:, None] * 0.01
    nb = knn_neighbours(emb, 5, groups)
    assert (nb >= 0).all()
    assert not (groups[nb] == groups[:, None]).any()


def test_separability_auc_cross_validates_by_group() -> None:
    rng = np.random.default_rng(2)
    same_a, same_b = rng.normal(size=(200, 4)), rng.normal(size=(200, 4))
    groups = np.repeat(np.arange(80), 5)
    # Same distribution: cross-validated AUC near 0.5 (in-sample fitting would exceed it).
    assert abs(separability_auc(same_a, same_b, groups=groups) - 0.5) < 0.1
    shifted = rng.normal(size=(200, 4)) + 2.0
    assert separability_auc(same_a, shifted, groups=groups) > 0.95
    assert separability_auc(same_a, shifted) > 0.95
