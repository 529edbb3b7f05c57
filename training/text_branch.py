"""The lyrics branch of a configuration, trained alone: a fast check of text-only neighbourhoods.

    .venv/bin/python -m training.text_branch --config training/configs/ours.toml \
        [--seeds 1 2 3 4 5] [--set dropout=0.0 --set text_hidden=128 ...] [--epochs N]

With product-of-experts fusion and no paired data, the lyrics encoder, its posterior heads and
the lyrics decoder get gradients from lyrics rows only, so the text-only latent means depend on
the lyrics rows alone (up to the shared gradient clipping and batch composition). This trains
just those rows, in batches of the size they have in a full run (their share of each batch of
64) with the loss scaled by that share, as many per epoch as ``text_samples_per_epoch``, and
prints the genre kNN@5 precision of μ on the held-out lyrics against the TF-IDF+PCA vectors,
per seed and on average: five seeds take about a minute on one core, against about half an
hour for one full run. It is a screening tool: the full run decides (training.report). Its
last line is the report's check on these runs: the paired bootstrap over the held-out lyrics
of μ's same-genre share (averaged over the seeds) minus the TF-IDF+PCA vector's.

``--set text_skip=true`` screens the lyrics expert's linear path (VAEConfig.text_skip;
training/TEXT_SKIP.md has the variants tried).

``--views-weight W`` adds a two-view contrastive term that the full trainer does not have (an
experiment of this tool only): each lyric is also encoded from two random subsets of its lines
(each line kept with probability ``--views-keep``; ``--views`` such subsets are drawn per lyric
once), and InfoNCE on μ (``track_contrastive``, the configuration's ``contrastive_tau``) pulls
the two views of a lyric together against the other lyrics of the batch.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from musicorg.model.bundle import Normalizer
from musicorg.model.metrics import knn_neighbours, knn_precision, neighbour_share
from musicorg.model.textpipe import fit as fit_textpipe
from musicorg.model.vae import HybridVAE, Masks, VAEConfig, track_contrastive
from training.data import load_audio, load_lyrics_split
from training.report import bootstrap_knn


def _text_masks(n: int) -> Masks:
    return Masks(audio=torch.zeros(n, dtype=torch.bool), text=torch.ones(n, dtype=torch.bool))


def line_views(texts: Sequence[str], n_views: int, keep: float, seed: int = 0) -> list[list[str]]:
    """``n_views`` lists of texts: each text reduced to a random subset of its non-empty lines
    (each kept with probability ``keep``, at least one)."""
    rng = np.random.default_rng(seed)
    views: list[list[str]] = []
    for _ in range(n_views):
        view = []
        for text in texts:
            lines = [line for line in text.splitlines() if line.strip()]
            kept = rng.random(len(lines)) < keep
            if lines and not kept.any():
                kept[rng.integers(len(lines))] = True
            view.append("\n".join(line for line, k in zip(lines, kept, strict=True) if k))
        views.append(view)
    return views


def train_text_branch(
    cfg: VAEConfig,
    x_train: np.ndarray,
    *,
    seed: int,
    epochs: int,
    per_epoch: int,
    text_batch: int,
    share: float,
    lr: float,
    views: np.ndarray | None = None,
    views_weight: float = 0.0,
) -> HybridVAE:
    """The model after ``epochs`` epochs of its lyrics rows only (see the module docstring).

    ``views`` (n_views, N, text_dim), normalised like ``x_train``, feed the two-view
    contrastive term when ``views_weight`` > 0.
    """
    torch.manual_seed(seed)
    net = HybridVAE(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    xt = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    vt = None if views is None else torch.from_numpy(np.ascontiguousarray(views, np.float32))
    for epoch in range(epochs):
        rng = np.random.default_rng([seed, epoch])
        ids = rng.choice(xt.shape[0], per_epoch, replace=per_epoch > xt.shape[0])
        net.train()
        for start in range(0, per_epoch, text_batch):
            batch = torch.from_numpy(ids[start : start + text_batch])
            rows = xt[batch]
            masks = _text_masks(rows.shape[0])
            out = net(None, None, rows, masks, decode_present_only=True)
            beta = net.beta_at(epoch + start / per_epoch)
            loss = net.loss_function(out, None, None, rows, masks, beta)["total"]
            if vt is not None and views_weight > 0:
                pick = torch.from_numpy(rng.integers(0, vt.shape[0], size=(2, len(batch))))
                mu_a, _ = net.encode(None, None, vt[pick[0], batch], masks)
                mu_b, _ = net.encode(None, None, vt[pick[1], batch], masks)
                group = torch.cat([batch, batch])
                con = track_contrastive(torch.cat([mu_a, mu_b]), group, cfg.contrastive_tau)
                loss = loss + views_weight * con
            loss = loss * share
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
    net.eval()
    return net


def paired_line(shares: Sequence[np.ndarray], base: np.ndarray, genres: np.ndarray) -> str:
    """The report's check on these runs: the paired bootstrap over the lyrics of μ's
    same-genre share (averaged over the runs) minus that of the vectors ``base``."""
    diff = bootstrap_knn(
        np.mean(shares, axis=0), neighbour_share(knn_neighbours(base, 5), genres), 10000
    )
    verdict = "not significantly below" if diff[2] >= 0 else "significantly below"
    return (
        f"μ − TF-IDF+PCA {diff[0]:+.3f}, paired 95 % interval "
        f"[{diff[1]:+.3f}, {diff[2]:+.3f}]: {verdict}"
    )


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--views-weight", type=float, default=0.0, help="two-view contrastive weight")
    ap.add_argument("--views-keep", type=float, default=0.5)
    ap.add_argument("--views", type=int, default=8)
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=JSON", help="override a model option"
    )
    return ap


def main(argv: Sequence[str] | None = None) -> None:
    ap = _parser()
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    raw: dict[str, Any] = tomllib.loads(args.config.read_text(encoding="utf-8"))
    model = dict(raw.get("model", {}))
    for item in args.set:
        key, _, value = item.partition("=")
        model[key] = json.loads(value)
    cfg = VAEConfig.from_dict(model)
    train_cfg = raw.get("train", {})
    text_cfg = raw.get("text", {})
    epochs = int(args.epochs or train_cfg.get("epochs", 30))

    lyr_train, lyr_test = load_lyrics_split()
    pipe, _, _ = fit_textpipe(
        [it.text for it in lyr_train],
        max_features=int(text_cfg.get("max_features", 500)),
        n_components=int(text_cfg.get("n_components", 64)),
        min_df=int(text_cfg.get("min_df", 2)),
        seed=int(raw.get("seed", 1)),
    )
    x_train = pipe.transform([it.text for it in lyr_train]).astype(np.float32)
    scale = Normalizer.text_scale_of(x_train)
    views = None
    if args.views_weight > 0:
        texts = [it.text for it in lyr_train]
        views = (
            np.stack(
                [pipe.transform(v) for v in line_views(texts, args.views, args.views_keep)]
            ).astype(np.float32)
            / scale
        )
    held = [it for it in lyr_test if it.genre]
    genres = np.array([it.genre for it in held])
    x_held = pipe.transform([it.text for it in held]).astype(np.float32)

    corpus = load_audio()
    n_audio = int((corpus.split == "train").sum())
    per_epoch = int(train_cfg.get("text_samples_per_epoch", 0)) or x_train.shape[0]
    share = per_epoch / (per_epoch + n_audio)
    batch = int(train_cfg.get("batch_size", 64))
    text_batch = max(1, round(batch * share))

    results = []
    shares = []
    for seed in args.seeds:
        net = train_text_branch(
            cfg,
            x_train / scale,
            seed=seed,
            epochs=epochs,
            per_epoch=per_epoch,
            text_batch=text_batch,
            share=share,
            lr=float(train_cfg.get("lr", 5e-4)),
            views=views,
            views_weight=args.views_weight,
        )
        with torch.no_grad():
            x = torch.from_numpy(x_held / scale)
            mu, _ = net.encode(None, None, x, _text_masks(x.shape[0]))
        results.append(knn_precision(mu.numpy(), genres, 5))
        shares.append(neighbour_share(knn_neighbours(mu.numpy(), 5), genres))
        print(f"seed {seed}: text kNN@5 of μ {results[-1]:.3f}", flush=True)
    base = knn_precision(x_held, genres, 5)
    changes = list(args.set)
    if args.views_weight > 0:
        changes.append(f"views={args.views_weight:g}/{args.views_keep:g}/{args.views}")
    print(
        f"{args.config.name} {' '.join(changes) or '(as configured)'}: text kNN@5 of μ "
        f"{np.mean(results):.3f} ± {np.std(results, ddof=1) if len(results) > 1 else 0.0:.3f} "
        f"over seeds {args.seeds}; TF-IDF+PCA {base:.3f} ({len(held)} held-out lyrics)"
    )
    print(paired_line(shares, x_held, genres))


if __name__ == "__main__":
    main()
