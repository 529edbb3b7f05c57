"""A training run's model, loaded from its folder (shared by training, evaluation and the
reports, so that none of them imports another)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from musicorg.model.bundle import LoadedModel, Normalizer, pick_device
from musicorg.model.textpipe import TextPipeline
from musicorg.model.trainer import CKPT
from musicorg.model.vae import HybridVAE, VAEConfig


def load_run_model(run_dir: Path, device: str = "cpu") -> LoadedModel:
    """A LoadedModel from a run directory's latest checkpoint (no manifest: a dev artefact)."""
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    mcfg = VAEConfig.from_dict(meta["model"])
    ckpt = torch.load(run_dir / CKPT, map_location="cpu", weights_only=True)
    model = HybridVAE(mcfg)
    model.load_state_dict(ckpt["model"])
    dev = pick_device(device)
    model.to(dev).eval()
    return LoadedModel(
        run_dir,
        f"{meta['name']}-seed{meta['seed']}@{int(ckpt['epoch'])}",
        mcfg,
        model,
        Normalizer.load(run_dir / "norm.npz"),
        TextPipeline.load(run_dir),
        dev,
        {"run": meta, "epoch": int(ckpt["epoch"])},
    )
