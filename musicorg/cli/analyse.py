"""The analysis commands (analyse, alias analyze; embeddings): the pipeline's analyse step and
what it leaves behind, the latent means of every track."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Final

from musicorg import settings as settings_mod
from musicorg.cli.common import (
    Stderr,
    Subparsers,
    add_command,
    device_option,
    model_errors,
)
from musicorg.store.db import Catalogue

HELP: Final = {
    "analyse": "audio features and embeddings with the active model",
    "embeddings": "write the latent means to an .npz file",
}


def register(sub: Subparsers) -> None:
    # "analyze" is how the command was first spelled: it stays as an alias.
    p = add_command(sub, HELP, "analyse", cmd_analyse, aliases=["analyze"])
    device_option(p)
    p.add_argument(
        "--workers",
        type=int,
        default=max(1, min(4, (os.cpu_count() or 2) - 1)),
        help="decoding processes (default: one less than the cores, at most 4)",
    )

    p = add_command(sub, HELP, "embeddings", cmd_embeddings, read_only=True)
    p.add_argument("out", metavar="OUT.npz")


def cmd_analyse(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the pipeline loads the analysis stage (numpy, scipy, librosa); start-up stays light
    from musicorg.app import pipeline
    from musicorg.model.bundle import ModelIntegrityError
    from musicorg.store import library

    if library.track_count(cat) == 0:
        scan = "musicorg --demo scan" if args.demo else "musicorg scan DIR"
        print(f"The catalogue has no tracks yet: run `{scan}` first.", file=sys.stderr)
        return 1
    device = args.device or settings_mod.load().device
    progress = Stderr(args.quiet)
    with model_errors("analyse", (ModelIntegrityError,), progress):
        report = pipeline.analyse(cat, device=device, workers=args.workers, progress=progress)
    if report.model_warning:
        print(f"warning: {report.model_warning}", file=sys.stderr)
    print(report.summary(forgotten=False))
    if report.forgotten:
        print(report.forgotten)
    for path, kind, msg in report.problems[:20]:
        print(f"  problem ({kind}): {path}: {msg}")
    if report.embedded:
        # Re-cluster only when this analysis added enough new tracks (or none were built).
        result = pipeline.update_playlists(cat, progress=progress)
        progress.end()
        if result is not None and result.rebuilt:
            print(
                f"Automatic playlists rebuilt: {len(result.playlists)} (see `musicorg playlists`)."
            )
    return 0


def cmd_embeddings(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: numpy, and app.models loads the analysis stage; start-up stays light
    import numpy as np

    # (lazy, as above)
    from musicorg.app import models as modelstore
    from musicorg.store.vectors import embeddings

    names, _ids, vectors = embeddings(cat, modelstore.active_version(cat))
    if not names:
        print("No embeddings yet: run `musicorg analyse` first.", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, paths=np.array(names, dtype=str), vectors=vectors.astype(np.float32))
    print(f"Wrote {len(names)} vectors of {vectors.shape[1]} dimensions to {out}.")
    return 0
