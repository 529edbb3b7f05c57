"""Benchmark: seconds per epoch of retraining (fine-tuning the bundled model) on N tracks.

    .venv/bin/python scripts/bench_retrain.py [--tracks 1000] [--lyrics 300] [--epochs 3]
        [--threads 1 2] [--device cpu]

Synthetic library: raw feature matrices and statistics drawn around the bundled model's
normalisation statistics (what the trainer sees has the same shapes and scale as a real
library's cached analysis), and lyrics vectors of the bundled text pipeline. It runs the
package's training loop exactly as ``musicorg retrain`` does (batch 64, fine-tune at the final
β, checkpoint every epoch) and prints wall and CPU seconds per epoch, best of the epochs
after the first (other work on a shared machine only ever slows an epoch down).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from musicorg.model.bundle import load_model
from musicorg.model.trainer import EpochReport, TrainArrays, TrainSettings, train


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Clock:
    """Wall and CPU seconds of each epoch, from the trainer's progress callback."""

    def __init__(self) -> None:
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self.mark = (time.perf_counter(), cpu_s())

    def __call__(self, _rep: EpochReport) -> None:
        now, c = time.perf_counter(), cpu_s()
        self.walls.append(now - self.mark[0])
        self.cpus.append(c - self.mark[1])
        self.mark = (now, c)


def run(
    base: Any, data: TrainArrays, epochs: int, device: str, threads: int
) -> tuple[list[float], list[float]]:
    cfg = base.config
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        train(
            cfg,
            data,
            TrainSettings(
                epochs=epochs, lr=2e-4, device=device, threads=threads, constant_beta=cfg.beta_max
            ),
            Path(tmp),
            init_state=base.model.state_dict(),
            progress=clock,
        )
    return clock.walls, clock.cpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tracks", type=int, default=1000)
    ap.add_argument("--lyrics", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    base = load_model(device="cpu")
    cfg, norm = base.config, base.norm
    rng = np.random.default_rng(0)
    n = args.tracks
    x = rng.normal(size=(n, cfg.n_features, cfg.n_frames)).astype(np.float32)
    x = x * norm.audio_std[None, :, None] + norm.audio_mean[None, :, None]
    s = (rng.normal(size=(n, cfg.stats_dim)) * norm.stats_std + norm.stats_mean).astype(np.float32)
    words = base.textpipe.vocabulary
    texts = [" ".join(rng.choice(words, 120)) for _ in range(args.lyrics)]
    t = base.textpipe.transform(texts) if texts else np.zeros((0, cfg.text_dim))
    data = TrainArrays(
        audio=norm.audio(x),
        stats=norm.stats(s),
        text=norm.text(t),
        group=np.arange(n, dtype=np.int64),
    )
    print(
        f"{n} tracks, {args.lyrics} lyrics, batch 64, fine-tune at beta {cfg.beta_max}, "
        f"device {args.device}"
    )
    for threads in args.threads:
        walls, cpus = run(base, data, args.epochs, args.device, threads)
        later = slice(1, None) if len(walls) > 1 else slice(None)
        print(
            f"threads {threads}: wall s/epoch {' '.join(f'{w:.1f}' for w in walls)} "
            f"(best after the first {min(walls[later]):.1f}); CPU s/epoch "
            f"{' '.join(f'{c:.1f}' for c in cpus)}"
        )


if __name__ == "__main__":
    main()
