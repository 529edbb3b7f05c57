"""The analysis commands (analyse, alias analyze; embeddings): the pipeline's analyse step and
what it leaves behind, the latent means of every track."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

from musicorg import settings as settings_mod
from musicorg.cli.common import (
    CommandError,
    Stderr,
    Subparsers,
    add_command,
    device_option,
    model_errors,
)
from musicorg.store.db import Catalogue

if TYPE_CHECKING:
    from musicorg.analyse.dask_backend import DaskOptions

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
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="decode, featurise and run MusiCNN on a Dask cluster instead: a scheduler's "
        "address (tcp://host:8786), or local:N for N worker processes here; the results are "
        "written here as they arrive (needs the cluster extra)",
    )
    p.add_argument(
        "--path-map",
        metavar="FROM=TO",
        action="append",
        default=[],
        help="with --dask: the workers find files under the folder FROM in the folder TO "
        "(repeatable)",
    )

    p = add_command(sub, HELP, "embeddings", cmd_embeddings, read_only=True)
    p.add_argument("out", metavar="OUT.npz")


def cmd_analyse(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the pipeline loads the analysis stage (numpy, scipy, librosa); start-up stays light
    from musicorg.analyse.dask_backend import ClusterError
    from musicorg.app import pipeline
    from musicorg.model.bundle import ModelIntegrityError
    from musicorg.store import library

    if library.track_count(cat) == 0:
        scan = "musicorg --demo scan" if args.demo else "musicorg scan DIR"
        print(f"The catalogue has no tracks yet: run `{scan}` first.", file=sys.stderr)
        return 1
    device = args.device or settings_mod.load().device
    dask = _dask_options(args)
    progress = Stderr(args.quiet)
    with model_errors("analyse", (ModelIntegrityError, ClusterError), progress):
        report = pipeline.analyse(
            cat, device=device, workers=args.workers, dask=dask, progress=progress
        )
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


def _dask_options(args: argparse.Namespace) -> DaskOptions | None:
    """``--dask`` and ``--path-map`` checked (None without ``--dask``)."""
    # lazy: the analysis stage (numpy, librosa) loads only for this command; dask is not loaded
    from musicorg.analyse import dask_backend

    if args.dask is None:
        if args.path_map:
            raise CommandError("analyse", "--path-map maps folders for --dask workers: add --dask")
        return None
    try:
        dask_backend.local_workers(args.dask)
        path_map = dask_backend.parse_path_map(args.path_map)
    except ValueError as exc:
        raise CommandError("analyse", exc) from exc
    return dask_backend.DaskOptions(args.dask, path_map)


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
