"""Evaluation of embeddings on held-out tracks, and the baselines to compare with.

Labels are the source package of each held-out track; one clip per track (the middle one).
Reusable metric functions first, then a command::

    python -m training.evaluate --run ~/.cache/musicorg/runs/ours-seed1 [--run ...] [--json out]
    python -m training.evaluate --bundle resources/models/<version>
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import NearestNeighbors

# -- metrics ------------------------------------------------------------------------------


def knn_precision(emb: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Mean share of each point's k nearest neighbours (Euclidean, no self) sharing its label."""
    nn = NearestNeighbors(n_neighbors=k + 1).fit(emb)
    idx = nn.kneighbors(emb, return_distance=False)
    # Drop self; with duplicates the first neighbour may not be self, so remove by index.
    hits = []
    for i, row in enumerate(idx):
        row = [j for j in row if j != i][:k]
        hits.append(np.mean(labels[row] == labels[i]))
    return float(np.mean(hits))


def knn_chance(labels: np.ndarray) -> float:
    """Expected kNN precision for a random embedding."""
    _, counts = np.unique(labels, return_counts=True)
    n = len(labels)
    return float(np.sum(counts * (counts - 1)) / (n * (n - 1)))


def purity(labels: np.ndarray, pred: np.ndarray) -> float:
    c = skm.cluster.contingency_matrix(labels, pred)
    return float(c.max(axis=0).sum() / c.sum())


def cluster_scores(
    emb: np.ndarray, labels: np.ndarray, seeds: Sequence[int] = (0, 1, 2), k: int | None = None
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


def active_dims(mu: np.ndarray, threshold: float = 0.01) -> int:
    """Latent dims whose Cov_x E[z|x] (the variance of μ over inputs) exceeds the threshold."""
    return int(np.sum(np.var(mu, axis=0) > threshold))


def separability_auc(a: np.ndarray, b: np.ndarray, seed: int = 0) -> float:
    """Cross-validated logistic-regression AUC telling rows of ``a`` from rows of ``b``."""
    x = np.concatenate([a, b])
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    p = cross_val_predict(LogisticRegression(max_iter=2000), x, y, cv=cv, method="predict_proba")
    return float(skm.roc_auc_score(y, p[:, 1]))


def embedding_report(emb: np.ndarray, labels: np.ndarray, seeds: Sequence[int]) -> dict[str, float]:
    out = {"knn5": knn_precision(emb, labels, 5)}
    out.update(cluster_scores(emb, labels, seeds))
    return out


# -- baselines ----------------------------------------------------------------------------


def handcrafted(train_stats: np.ndarray, test_stats: np.ndarray) -> np.ndarray:
    """Per-feature mean+std over time (78-d), standardised with the training split."""
    m, s = train_stats.mean(0), train_stats.std(0) + 1e-8
    return np.asarray((test_stats - m) / s)


def pca_paper(train_x: np.ndarray, test_x: np.ndarray, dim: int = 32, seed: int = 0) -> np.ndarray:
    """PCA of the standardised (per cell) flattened 39x130 matrices, fitted on training clips."""
    a = train_x.reshape(len(train_x), -1)
    b = test_x.reshape(len(test_x), -1)
    m, s = a.mean(0), a.std(0) + 1e-8
    pca = PCA(n_components=dim, random_state=seed).fit((a - m) / s)
    return np.asarray(pca.transform((b - m) / s))


# -- the command --------------------------------------------------------------------------


def _load_run_model(run_dir: Path, device: str = "cpu") -> Any:
    from training.train import load_run_model

    return load_run_model(run_dir, device)


def evaluate_model(
    model: Any,
    corpus: Any,
    lyrics_test: list[Any],
    seeds: Sequence[int] = (0, 1, 2),
    full: bool = True,
) -> dict[str, Any]:
    """Held-out metrics of a LoadedModel-like object on the test split's middle clips."""
    import torch

    test = corpus.subset((corpus.split == "test") & corpus.middle)
    labels = test.package
    mu = model.embed(test.X, test.stats, None)
    res: dict[str, Any] = {"n_tracks": len(test), "n_labels": len(np.unique(labels))}
    res.update(embedding_report(mu, labels, seeds if full else seeds[:1]))
    res["active_dims"] = active_dims(mu)
    # Reconstruction MSE of the audio matrix, decoding μ, on per-row standardised features.
    xa = model.norm.audio(test.X)
    with torch.inference_mode():
        z = torch.from_numpy(mu).to(model.device)
        rec = model.model.decode(z)["audio"].cpu().numpy()
    res["recon_mse"] = float(np.mean((rec - xa) ** 2))
    if not full or not lyrics_test:
        return res
    rng = np.random.default_rng(0)
    # Has-lyrics separability: the same held-out clips, half given a random held-out lyric.
    n = len(test)
    with_idx = rng.permutation(n)[: n // 2]
    texts: list[str | None] = [None] * n
    for i in with_idx:
        texts[i] = lyrics_test[int(rng.integers(len(lyrics_test)))].text
    mu_mixed = model.embed(test.X, test.stats, texts)
    has = np.array([t is not None for t in texts])
    res["has_lyrics_auc"] = separability_auc(mu_mixed[~has], mu_mixed[has])
    res["knn5_with_random_lyrics"] = knn_precision(mu_mixed, labels, 5)
    # Text-only neighbourhoods: genre precision among held-out lyrics that carry a genre.
    gl = [it for it in lyrics_test if it.genre]
    if gl:
        g = np.array([it.genre for it in gl])
        mu_t = model.embed(None, None, [it.text for it in gl])
        tv = model.textpipe.transform([it.text for it in gl])
        res["text_knn5_mu"] = knn_precision(mu_t, g, 5)
        res["text_knn5_tfidf_pca"] = knn_precision(tv, g, 5)
        res["text_knn5_chance"] = knn_chance(g)
        res["text_active_dims"] = active_dims(mu_t)
    return res


def baselines(corpus: Any, seeds: Sequence[int] = (0, 1, 2)) -> dict[str, dict[str, float]]:
    train = corpus.subset(corpus.split == "train")
    test = corpus.subset((corpus.split == "test") & corpus.middle)
    labels = test.package
    out = {
        "handcrafted_stats78": embedding_report(
            handcrafted(train.stats, test.stats), labels, seeds
        ),
        "pca32_paper_features": embedding_report(pca_paper(train.X, test.X), labels, seeds),
    }
    out["chance"] = {"knn5": knn_chance(labels)}
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run", action="append", default=[], type=Path)
    ap.add_argument("--bundle", action="append", default=[], type=Path)
    ap.add_argument("--features", type=Path, default=None)
    ap.add_argument("--lyrics-split", type=Path, default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from training.data import load_audio, load_lyrics_split

    corpus = load_audio(args.features)
    _, lyrics_test = load_lyrics_split(args.lyrics_split)
    results: dict[str, Any] = {}
    if not args.no_baselines:
        results["baselines"] = baselines(corpus, args.seeds)
    for run in args.run:
        results[f"run:{run.name}"] = evaluate_model(
            _load_run_model(run), corpus, lyrics_test, args.seeds
        )
    for b in args.bundle:
        from musicorg.model.bundle import load_model

        results[f"bundle:{b.name}"] = evaluate_model(
            load_model(b, device="cpu", num_threads=1), corpus, lyrics_test, args.seeds
        )
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
