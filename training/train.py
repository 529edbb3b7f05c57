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
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from musicorg.model.bundle import LoadedModel, Normalizer, pick_device
from musicorg.model.textpipe import TextPipeline
from musicorg.model.textpipe import fit as fit_textpipe
from musicorg.model.vae import HybridVAE, Masks, VAEConfig, track_contrastive
from training.data import load_audio, load_lyrics_split, runs_dir

CKPT = "checkpoint.pt"
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
    corpus = load_audio(Path(data_cfg["features"]) if data_cfg.get("features") else None)
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
        norm = Normalizer.fit(train.X, train.stats, text_train)
        norm.save(run_dir / "norm.npz")
    return corpus, lyr_train, lyr_test, norm, (pipe, text_train)


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


def _batches(
    n_audio: int, n_text: int, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Mixed batches of sample ids: 0..n_audio-1 are clips, n_audio.. are lyrics."""
    ids = rng.permutation(n_audio + n_text)
    return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]


def _partner(clips: np.ndarray, i: int, rng: np.random.Generator) -> int:
    others = clips[clips != i]
    return int(rng.choice(others)) if len(others) else i


def train(cfg: dict[str, Any], run_dir: Path) -> Path:
    tcfg = cfg["train"]
    seed = int(cfg["seed"])
    torch.set_num_threads(max(1, int(tcfg["threads"])))
    device = pick_device(str(tcfg["device"]))
    run_dir.mkdir(parents=True, exist_ok=True)

    run_json = run_dir / "run.json"
    if run_json.exists():
        prev = json.loads(run_json.read_text(encoding="utf-8"))
        if prev["model"] != cfg["model"] or prev["seed"] != cfg["seed"]:
            raise SystemExit(
                f"{run_dir} holds a run with another model config or seed; "
                "use another --name or delete the directory"
            )
    _write_json(run_json, cfg)

    corpus, _lyr_train, lyr_test, norm, (pipe, text_train) = prepare_run(cfg, run_dir)
    del pipe
    train_c = corpus.subset(corpus.split == "train")
    xa = torch.from_numpy(norm.audio(train_c.X))
    xs = torch.from_numpy(norm.stats(train_c.stats))
    xt_all = torch.from_numpy(norm.text(text_train))
    n_audio = xa.shape[0]
    track_of = np.unique(train_c.track.astype(str), return_inverse=True)[1]
    clips_of: dict[int, np.ndarray] = {
        int(t): np.nonzero(track_of == t)[0] for t in np.unique(track_of)
    }
    n_text_per_epoch = int(tcfg["text_samples_per_epoch"]) or xt_all.shape[0]
    print(
        f"[train] {cfg['name']} seed {seed} on {device}: {n_audio} clips from "
        f"{len(np.unique(train_c.track))} tracks, {xt_all.shape[0]} lyrics "
        f"({n_text_per_epoch}/epoch), threads {torch.get_num_threads()}",
        flush=True,
    )

    torch.manual_seed(seed)
    mcfg = VAEConfig.from_dict(cfg["model"])
    model = HybridVAE(mcfg).to(device)
    opt = torch.optim.Adam(
        model.parameters(), lr=float(tcfg["lr"]), weight_decay=float(tcfg["weight_decay"])
    )
    start = 0
    ckpt_path = run_dir / CKPT
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        start = int(ckpt["epoch"])
        print(f"[train] resuming after epoch {start}", flush=True)
    epochs = int(tcfg["epochs"])
    if start >= epochs:
        print(f"[train] already trained for {start} >= {epochs} epochs", flush=True)
        return run_dir

    for epoch in range(start, epochs):
        t0 = time.time()
        # Every epoch's randomness derives from (seed, epoch): a resumed run repeats it.
        rng = np.random.default_rng([seed, epoch])
        torch.manual_seed(seed * 100003 + epoch)
        text_ids = rng.choice(
            xt_all.shape[0], n_text_per_epoch, replace=n_text_per_epoch > xt_all.shape[0]
        )
        batches = _batches(n_audio, len(text_ids), int(tcfg["batch_size"]), rng)
        model.train()
        sums: dict[str, float] = {}
        nb = len(batches)
        cw = float(mcfg.contrastive_weight)
        for bi, ids in enumerate(batches):
            if cw > 0:
                # Each clip brings a partner clip of the same track (itself if it is alone).
                aud = ids[ids < n_audio]
                partners = np.array(
                    [_partner(clips_of[int(track_of[i])], int(i), rng) for i in aud],
                    dtype=ids.dtype,
                )
                ids = np.concatenate([ids, partners])
            is_audio = ids < n_audio
            b = len(ids)
            a = torch.zeros(b, mcfg.n_features, mcfg.n_frames)
            s = torch.zeros(b, mcfg.stats_dim)
            t = torch.zeros(b, mcfg.text_dim)
            ai = torch.from_numpy(np.nonzero(is_audio)[0])
            ti = torch.from_numpy(np.nonzero(~is_audio)[0])
            aid = torch.from_numpy(ids[is_audio])
            tid = torch.from_numpy(text_ids[ids[~is_audio] - n_audio])
            a[ai] = xa[aid]
            s[ai] = xs[aid]
            t[ti] = xt_all[tid]
            masks = Masks(
                audio=torch.from_numpy(is_audio).to(device),
                text=torch.from_numpy(~is_audio).to(device),
            )
            a, s, t = a.to(device), s.to(device), t.to(device)
            beta = model.beta_at(epoch + bi / nb)
            out = model(a, s if mcfg.use_stats else None, t, masks)
            terms = model.loss_function(out, a, s if mcfg.use_stats else None, t, masks, beta)
            if cw > 0:
                group = torch.from_numpy(track_of[ids[is_audio]]).to(device)
                con = track_contrastive(out["mu"][ai.to(device)], group, mcfg.contrastive_tau)
                terms["total"] = terms["total"] + cw * con
                terms["contrastive"] = con.detach()
            opt.zero_grad(set_to_none=True)
            terms["total"].backward()
            if float(tcfg["grad_clip"]) > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), float(tcfg["grad_clip"]))
            opt.step()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
        secs = time.time() - t0
        row: dict[str, Any] = {k: v / nb for k, v in sums.items()}
        row.update(epoch=epoch + 1, seconds=round(secs, 2))
        tmp = ckpt_path.with_suffix(".pt.tmp")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch + 1}, tmp)
        os.replace(tmp, ckpt_path)
        every = int(tcfg["eval_every"])
        if every > 0 and ((epoch + 1) % every == 0 or epoch + 1 == epochs):
            from training.evaluate import evaluate_model

            lm = load_run_model(run_dir, "cpu")
            q = evaluate_model(lm, corpus, lyr_test, seeds=(0,), full=False)
            row["eval"] = {k: q[k] for k in ("knn5", "ami", "nmi", "active_dims", "recon_mse")}
        with (run_dir / "history.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        ev = row.get("eval")
        evs = (
            f" | held-out kNN@5 {ev['knn5']:.3f} AMI {ev['ami']:.3f} active {ev['active_dims']}"
            f" mse {ev['recon_mse']:.3f}"
            if ev
            else ""
        )
        print(
            f"[train] epoch {epoch + 1}/{epochs} {secs:.1f}s beta {row['beta']:.3f} "
            f"loss {row['total']:.3f} audio {row['audio']:.4f} stats {row['stats']:.4f} "
            f"text {row['text']:.4f} kl {row['kl']:.3f}"
            + (f" con {row['contrastive']:.3f}" if "contrastive" in row else "")
            + evs,
            flush=True,
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
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
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
