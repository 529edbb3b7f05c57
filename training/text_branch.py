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
hour for one full run. It is a screening tool: the full run decides (training.report).
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
from musicorg.model.metrics import knn_precision
from musicorg.model.textpipe import fit as fit_textpipe
from musicorg.model.vae import HybridVAE, Masks, VAEConfig
from training.data import load_audio, load_lyrics_split


def _text_masks(n: int) -> Masks:
    return Masks(audio=torch.zeros(n, dtype=torch.bool), text=torch.ones(n, dtype=torch.bool))


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
) -> HybridVAE:
    """The model after ``epochs`` epochs of its lyrics rows only (see the module docstring)."""
    torch.manual_seed(seed)
    net = HybridVAE(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    xt = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    for epoch in range(epochs):
        rng = np.random.default_rng([seed, epoch])
        ids = rng.choice(xt.shape[0], per_epoch, replace=per_epoch > xt.shape[0])
        net.train()
        for start in range(0, per_epoch, text_batch):
            rows = xt[torch.from_numpy(ids[start : start + text_batch])]
            masks = _text_masks(rows.shape[0])
            out = net(None, None, rows, masks, decode_present_only=True)
            beta = net.beta_at(epoch + start / per_epoch)
            loss = net.loss_function(out, None, None, rows, masks, beta)["total"] * share
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
    net.eval()
    return net


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=JSON", help="override a model option"
    )
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
        )
        with torch.no_grad():
            x = torch.from_numpy(x_held / scale)
            mu, _ = net.encode(None, None, x, _text_masks(x.shape[0]))
        results.append(knn_precision(mu.numpy(), genres, 5))
        print(f"seed {seed}: text kNN@5 of μ {results[-1]:.3f}", flush=True)
    base = knn_precision(x_held, genres, 5)
    print(
        f"{args.config.name} {' '.join(args.set) or '(as configured)'}: text kNN@5 of μ "
        f"{np.mean(results):.3f} ± {np.std(results, ddof=1) if len(results) > 1 else 0.0:.3f} "
        f"over seeds {args.seeds}; TF-IDF+PCA {base:.3f} ({len(held)} held-out lyrics)"
    )


if __name__ == "__main__":
    main()
