"""Train the hybrid VAE from the prepared corpus; checkpoints every epoch and resumes.

    python -m training.train --config training/configs/ours.toml [--epochs N] [--seed K]
        [--device auto|cpu|cuda] [--threads 1]

The run lives in ``~/.cache/musicorg/runs/<name>-seed<k>/`` (``MUSICORG_CACHE_DIR`` moves it):
``run.json`` (the resolved config), the text pipeline and normalisation statistics fitted on
the training split, ``checkpoint.pt`` (state dicts only, read back with weights_only=True),
and ``history.jsonl`` (one line of losses and quick held-out metrics per epoch). Running the
same command again continues from the last finished epoch; ``--epochs`` may raise the target.

Audio clips (training split of the feature cache) and lyrics (training split of the lyrics
corpora) are unpaired: each batch mixes both kinds, and a mask tells the model which branch
each sample has.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from musicorg.analyse.features import FEATURES_VERSION
from musicorg.model.bundle import Normalizer, pick_device, side_input
from musicorg.model.textpipe import TextPipeline
from musicorg.model.textpipe import fit as fit_textpipe
from musicorg.model.trainer import EpochReport, TrainArrays, TrainSettings
from musicorg.model.trainer import train as run_training
from musicorg.model.vae import VAEConfig
from training.data import load_audio, load_lyrics_split, runs_dir
from training.evaluate import evaluate_model
from training.runs import load_run_model

DEFAULT_TRAIN: dict[str, Any] = {
    "epochs": 100,
    "batch_size": 64,
    "lr": 5e-4,
    "grad_clip": 1.0,
    "device": "auto",
    "threads": 1,
    "text_samples_per_epoch": 0,  # 0: every training lyric once per epoch
    "eval_every": 5,
    "weight_decay": 0.0,
    # Crop/stretch augmentation: a random window of at least this share of the 130 frames,
    # stretched back to 130 (0 = off). The statistics are left as they are.
    "augment_min_crop": 0.0,
    # Shift augmentation: windows moved by up to this share of a clip into the next or
    # previous clip of the same track (clips lie end to end; 0 = off).
    "augment_shift": 0.0,
    # Audio decoder on audio rows only (see musicorg.model.trainer.TrainSettings).
    "decode_present_only": False,
}
DEFAULT_TEXT: dict[str, Any] = {"max_features": 500, "n_components": 64, "min_df": 2}


def load_config(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    cfg: dict[str, Any] = {
        "name": raw.get("name", path.stem),
        "seed": int(raw.get("seed", 0)),
        "train": {**DEFAULT_TRAIN, **raw.get("train", {})},
        "text": {**DEFAULT_TEXT, **raw.get("text", {})},
        "model": VAEConfig.from_dict(raw.get("model", {})).to_dict(),
        "data": raw.get("data", {}),
        "notes": raw.get("notes", ""),
    }
    return cfg


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def prepare_run(cfg: dict[str, Any], run_dir: Path) -> tuple[Any, Any, Any, Normalizer, Any]:
    """Load data; fit (or reload) the text pipeline and the normaliser on the training split."""
    data_cfg = cfg["data"]
    corpus = load_audio(
        Path(data_cfg["features"]) if data_cfg.get("features") else None,
        realsongs=bool(data_cfg.get("realsongs", False)),
    )
    mcfg = VAEConfig.from_dict(cfg["model"])
    lyr_train, lyr_test = load_lyrics_split(
        Path(data_cfg["lyrics_split"]) if data_cfg.get("lyrics_split") else None
    )
    if (run_dir / "textpipe.json").exists():
        pipe = TextPipeline.load(run_dir)
    else:
        t = cfg["text"]
        pipe, _, _ = fit_textpipe(
            [it.text for it in lyr_train],
            max_features=int(t["max_features"]),
            n_components=int(t["n_components"]),
            min_df=int(t["min_df"]),
            seed=cfg["seed"],
        )
        pipe.save(run_dir)
    train = corpus.subset(corpus.split == "train")
    text_train = pipe.transform([it.text for it in lyr_train]).astype(np.float32)
    if (run_dir / "norm.npz").exists():
        norm = Normalizer.load(run_dir / "norm.npz")
    else:
        norm = Normalizer.fit(train.X, side_input(mcfg, train.stats, train.teacher), text_train)
        norm.save(run_dir / "norm.npz")
    return corpus, lyr_train, lyr_test, norm, (pipe, text_train)


def _print_epoch(rep: EpochReport) -> None:
    row = rep.row
    ev = row.get("eval")
    evs = (
        f" | held-out kNN@5 {ev['knn5']:.3f} AMI {ev['ami']:.3f} active {ev['active_dims']}"
        f" mse {ev['recon_mse']:.3f}"
        if ev
        else ""
    )
    print(
        f"[train] epoch {rep.epoch}/{rep.epochs} {rep.seconds:.1f}s beta {row['beta']:.3f} "
        f"loss {row['total']:.3f} audio {row['audio']:.4f} stats {row['stats']:.4f} "
        f"text {row['text']:.4f} kl {row['kl']:.3f}"
        + (f" teacher {row['teacher']:.3f}" if "teacher" in row else "")
        + (f" dist {row['distance']:.4f}" if "distance" in row else "")
        + (f" con {row['contrastive']:.3f}" if "contrastive" in row else "")
        + evs,
        flush=True,
    )


def _check_resumable(run_json: Path, cfg: dict[str, Any], run_dir: Path) -> None:
    """Stop unless the run in ``run_dir`` (if any) has this config, seed and features version."""
    if not run_json.exists():
        return
    prev = json.loads(run_json.read_text(encoding="utf-8"))
    # Compare through VAEConfig so options added later (at their defaults) still match.
    prev_model = VAEConfig.from_dict(prev["model"]).to_dict()
    if prev_model != cfg["model"] or prev["seed"] != cfg["seed"]:
        raise SystemExit(
            f"{run_dir} holds a run with another model config or seed; "
            "use another --name or delete the directory"
        )
    # Runs from before features_version was recorded used version 1.
    if int(prev.get("features_version", 1)) != FEATURES_VERSION:
        raise SystemExit(
            f"{run_dir} holds a run on audio features of version "
            f"{prev.get('features_version', 1)}, not {FEATURES_VERSION}; "
            "move it aside or use another --run-dir"
        )


def train(cfg: dict[str, Any], run_dir: Path) -> Path:
    """The run's data and checks; the epoch loop is musicorg.model.trainer's (one loop)."""
    tcfg = cfg["train"]
    seed = int(cfg["seed"])
    torch.set_num_threads(max(1, int(tcfg["threads"])))
    device = pick_device(str(tcfg["device"]))
    run_dir.mkdir(parents=True, exist_ok=True)

    run_json = run_dir / "run.json"
    _check_resumable(run_json, cfg, run_dir)
    cfg["features_version"] = FEATURES_VERSION
    _write_json(run_json, cfg)

    corpus, _lyr_train, lyr_test, norm, (pipe, text_train) = prepare_run(cfg, run_dir)
    del pipe
    train_c = corpus.subset(corpus.split == "train")
    track_of = np.unique(train_c.track.astype(str), return_inverse=True)[1]
    data = TrainArrays(
        audio=norm.audio(train_c.X),
        stats=norm.stats(
            side_input(VAEConfig.from_dict(cfg["model"]), train_c.stats, train_c.teacher)
        ),
        text=norm.text(text_train),
        group=track_of.astype(np.int64),
        order=train_c.clip.astype(np.int64),
    )
    n_text_per_epoch = int(tcfg["text_samples_per_epoch"]) or data.text.shape[0]
    print(
        f"[train] {cfg['name']} seed {seed} on {device}: {data.audio.shape[0]} clips from "
        f"{len(np.unique(train_c.track))} tracks, {data.text.shape[0]} lyrics "
        f"({n_text_per_epoch}/epoch), threads {torch.get_num_threads()}",
        flush=True,
    )
    settings = TrainSettings(
        epochs=int(tcfg["epochs"]),
        batch_size=int(tcfg["batch_size"]),
        lr=float(tcfg["lr"]),
        grad_clip=float(tcfg["grad_clip"]),
        weight_decay=float(tcfg["weight_decay"]),
        text_samples_per_epoch=int(tcfg["text_samples_per_epoch"]),
        seed=seed,
        device=str(device),
        threads=max(1, int(tcfg["threads"])),
        augment_min_crop=float(tcfg["augment_min_crop"]),
        augment_shift=float(tcfg["augment_shift"]),
        decode_present_only=bool(tcfg["decode_present_only"]),
    )
    every = int(tcfg["eval_every"])

    def quick_eval(row: dict[str, Any], _model: Any) -> None:
        epoch = int(row["epoch"])
        if every > 0 and (epoch % every == 0 or epoch == settings.epochs):
            lm = load_run_model(run_dir, "cpu")
            q = evaluate_model(lm, corpus, lyr_test, seeds=(0,), full=False)
            row["eval"] = {k: q[k] for k in ("knn5", "ami", "nmi", "active_dims", "recon_mse")}

    run_training(
        VAEConfig.from_dict(cfg["model"]),
        data,
        settings,
        run_dir,
        progress=_print_epoch,
        on_epoch_end=quick_eval,
        log=lambda msg: print(f"[train] {msg}", flush=True),
    )
    return run_dir


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--eval-every", dest="eval_every", type=int, default=None)
    ap.add_argument("--name", default=None, help="run name (default: the config's)")
    ap.add_argument("--run-dir", type=Path, default=None)
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=JSON",
        help="override an option, e.g. --set model.distance_weight=2000 (name the run: --name)",
    )
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    for item in args.set:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        if section not in ("model", "train", "data") or not name:
            raise SystemExit(f"--set {item}: expected model.KEY=, train.KEY= or data.KEY=")
        cfg[section][name] = json.loads(value)
    cfg["model"] = VAEConfig.from_dict(cfg["model"]).to_dict()
    if args.seed is not None:
        cfg["seed"] = args.seed
    if args.name:
        cfg["name"] = args.name
    for key in ("epochs", "device", "threads", "eval_every"):
        v = getattr(args, key)
        if v is not None:
            cfg["train"][key] = v
    run_dir = args.run_dir or runs_dir() / f"{cfg['name']}-seed{cfg['seed']}"
    train(cfg, run_dir)


if __name__ == "__main__":
    main()
