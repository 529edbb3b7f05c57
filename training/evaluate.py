"""Evaluation of embeddings on held-out tracks, and the baselines to compare with.

Labels are the source package of each held-out track; one clip per track (the middle one).
Metric functions in musicorg.model.metrics; baselines, then a command::

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
from sklearn.decomposition import PCA

# The metric functions live in the package (the app's retraining report uses them too).
from musicorg.model.metrics import (  # noqa: F401 (re-exported)
    active_dims,
    cluster_scores,
    embedding_report,
    knn_chance,
    knn_precision,
    purity,
    separability_auc,
)

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
