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
    knn_neighbours,
    knn_precision,
    neighbour_share,
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
    from training.runs import load_run_model

    return load_run_model(run_dir, device)


def decode_audio(model: Any, mu: np.ndarray) -> np.ndarray:
    """The audio decoder's output for latent means ``mu``: (N, 39, 130), per-row standardised."""
    import torch

    with torch.inference_mode():
        z = torch.from_numpy(np.asarray(mu, dtype=np.float32)).to(model.device)
        return np.asarray(model.model.decode(z)["audio"].cpu().numpy())


def recon_mse(model: Any, x: np.ndarray, mu: np.ndarray) -> float:
    """Reconstruction MSE of the raw matrices ``x`` decoding ``mu``, on per-row standardised
    features (the model's own normalisation, fitted on training clips)."""
    return float(np.mean((decode_audio(model, mu) - model.norm.audio(x)) ** 2))


def has_lyrics_check(
    model: Any, clips: Any, lyrics_test: list[Any], seed: int = 0
) -> dict[str, Any]:
    """Has-lyrics separability over held-out clips, half of them given a held-out lyric.

    Each clip is one sample: a random half of ``clips`` (chosen with ``seed``) is embedded
    with a random held-out lyric (distinct lyrics while there are enough), the rest audio-only.
    A logistic regression telling the two apart from μ is scored by 5-fold cross-validated
    AUC, the folds split by track (a track's clips never straddle training and scoring).
    """
    rng = np.random.default_rng(seed)
    n = len(clips)
    with_idx = rng.permutation(n)[: n // 2]
    picks = rng.choice(
        len(lyrics_test), size=len(with_idx), replace=len(with_idx) > len(lyrics_test)
    )
    texts: list[str | None] = [None] * n
    for i, j in zip(with_idx, picks, strict=True):
        texts[int(i)] = lyrics_test[int(j)].text
    mu_mixed = model.embed(clips.X, clips.stats, texts, teacher=clips.teacher)
    has = np.array([t is not None for t in texts])
    groups = np.concatenate([clips.track[~has], clips.track[has]])
    return {
        "has_lyrics_auc": separability_auc(mu_mixed[~has], mu_mixed[has], seed, groups=groups),
        "has_lyrics_n_clips": n,
        "has_lyrics_n_with": int(has.sum()),
        # The audio neighbourhoods once lyrics are mixed in (all clips, own track left out).
        "knn5_with_random_lyrics": knn_precision(mu_mixed, clips.package, 5, groups=clips.track),
    }


def text_check(model: Any, lyrics_test: list[Any], *, per_lyric: bool = False) -> dict[str, Any]:
    """Text-only neighbourhoods: genre kNN@5 of μ and of the TF-IDF+PCA vector, held-out
    lyrics that carry a genre (musicmood). ``per_lyric`` adds each lyric's share of same-genre
    neighbours (arrays ``text_shares_mu`` and ``text_shares_tfidf_pca``, for a paired
    bootstrap; not JSON)."""
    gl = [it for it in lyrics_test if it.genre]
    if not gl:
        return {}
    g = np.array([it.genre for it in gl])
    texts = [it.text for it in gl]
    mu_t = model.embed(None, None, texts)
    tv = model.textpipe.transform(texts)
    share_mu = neighbour_share(knn_neighbours(mu_t, 5), g)
    share_tv = neighbour_share(knn_neighbours(tv, 5), g)
    out: dict[str, Any] = {
        "text_n": len(gl),
        "text_knn5_mu": float(np.nanmean(share_mu)),
        "text_knn5_tfidf_pca": float(np.nanmean(share_tv)),
        "text_knn5_chance": knn_chance(g),
        "text_active_dims": active_dims(mu_t),
    }
    if per_lyric:
        out["text_shares_mu"], out["text_shares_tfidf_pca"] = share_mu, share_tv
    return out


def evaluate_model(
    model: Any,
    corpus: Any,
    lyrics_test: list[Any],
    seeds: Sequence[int] = (0, 1, 2),
    full: bool = True,
) -> dict[str, Any]:
    """Held-out metrics of a LoadedModel-like object.

    Clusterings, kNN@5, active dims and reconstruction on the middle clip of each held-out
    track; with ``full`` also kNN@5 over all held-out clips (a clip's neighbours leave out its
    own track's clips; averaged per track), the has-lyrics check on all held-out clips and
    the text-only neighbourhoods. ``full=False`` (training's quick eval) stays cheap.
    """
    held = corpus.subset(corpus.split == "test")
    test = held.subset(held.middle)
    labels = test.package
    mu = model.embed(test.X, test.stats, None, teacher=test.teacher)
    res: dict[str, Any] = {"n_tracks": len(test), "n_labels": len(np.unique(labels))}
    res.update(embedding_report(mu, labels, seeds if full else seeds[:1]))
    res["active_dims"] = active_dims(mu)
    res["recon_mse"] = recon_mse(model, test.X, mu)
    if not full:
        return res
    mu_all = model.embed(held.X, held.stats, None, teacher=held.teacher)
    res["n_clips"] = len(held)
    res["knn5_all_clips"] = knn_precision(mu_all, held.package, 5, groups=held.track)
    if lyrics_test:
        res.update(has_lyrics_check(model, held, lyrics_test))
        res.update(text_check(model, lyrics_test))
    return res


def baseline_embeddings(corpus: Any) -> dict[str, np.ndarray]:
    """The baselines' embeddings of every held-out clip (rows as in the test split)."""
    train = corpus.subset(corpus.split == "train")
    held = corpus.subset(corpus.split == "test")
    return {
        "handcrafted_stats78": handcrafted(train.stats, held.stats),
        "pca32_paper_features": pca_paper(train.X, held.X),
    }


def baselines(corpus: Any, seeds: Sequence[int] = (0, 1, 2)) -> dict[str, dict[str, float]]:
    held = corpus.subset(corpus.split == "test")
    mid = held.middle
    labels = held.package[mid]
    out: dict[str, dict[str, float]] = {}
    for name, emb in baseline_embeddings(corpus).items():
        out[name] = embedding_report(emb[mid], labels, seeds)
        out[name]["knn5_all_clips"] = knn_precision(emb, held.package, 5, groups=held.track)
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
