"""The pipeline, once, for the command line and the window.

The stages run in the order of :data:`STAGES`; each is a plain function of the catalogue
that reports through ``progress`` and stops when ``cancel()`` says so. What follows an
analysis (the playlists when they are due, then the maps) is :data:`AFTER_ANALYSIS`, and the
rules for each step live here and nowhere else:

- playlists stay put: new tracks join their nearest playlists, and they are clustered again
  only when asked (``force``) or when ``needs_recluster`` says so (never built, or at least
  25 % of the tracks are new since the last clustering), matched ones keeping their names;
  new playlist lengths split and merge playlists (:func:`resize_playlists`), no clustering;
- a map is fitted when there is none (or ``refit``); otherwise new tracks are placed among
  the stored points, which do not move;
- a model is switched only through :func:`switch_model`, which checks the model first.

Every step that writes holds the catalogue's write lock (:mod:`musicorg.store.writelock`) for
its whole run, in the thread or process that runs it: a second musicorg process waits for it
(the step's progress says for whom), and cancelling stops the wait. The lock is re-entrant, so
the command line, which holds it for the whole command, takes nothing twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from musicorg.jobs import CancelFn, ProgressFn, never, no_progress
from musicorg.keys import ACTIVE_MODEL_KEY
from musicorg.store import writelock
from musicorg.store.db import Catalogue
from musicorg.store.vectors import active_model_version

if TYPE_CHECKING:
    from musicorg.analyse.analysis import AnalyseReport
    from musicorg.analyse.dask_backend import DaskOptions, DaskRunner
    from musicorg.app.models import UseReport
    from musicorg.ingest.scanner import ScanReport
    from musicorg.organise.mapping import MapReport
    from musicorg.organise.playlists import PlaylistInfo

# Each step imports its stage when it runs (the lazy imports below): both front ends import this
# module at start-up, and the stages bring librosa, scipy, scikit-learn and umap (~2 s).

#: The stages in the order they run; each needs the one before it.
STAGES: Final = ("scan", "analyse", "playlists", "map", "umap")
#: What runs after an analysis (or a model switch), in order.
AFTER_ANALYSIS: Final = STAGES[2:]
#: The map methods of the "map" and "umap" stages.
MAP_METHODS: Final = {"map": "pca", "umap": "umap"}


@contextmanager
def writing(cat: Catalogue, what: str, progress: ProgressFn, cancel: CancelFn) -> Iterator[None]:
    """Hold the catalogue's write lock while step ``what`` runs; while another process holds
    it, say so through ``progress`` and wait (``cancel`` stops the wait)."""

    waited: list[str] = []

    def waiting(holder: str) -> None:
        waited.append(holder)
        progress(0, 0, writelock.waiting_text(holder, cat.path))

    with writelock.hold(cat.path, f"musicorg {what}", on_wait=waiting, cancel=cancel):
        if waited:
            progress(0, 0, f"Done waiting for {waited[-1]}.")
        yield


def load_scan_stage() -> None:
    """Import the scanner and its tag readers now (call it off the UI thread, before the
    first scan). Imported by the first scan's job instead, their ~0.3 s of module code ran
    while the window painted, and every Qt call into Python on the UI thread waited for the
    GIL behind it (a UI stall of 100-300 ms at the start of each session's first scan)."""
    import musicorg.ingest.scanner  # noqa: F401  # lazy: the CLI's start-up stays light


def scan(
    cat: Catalogue,
    folders: Iterable[str | bytes | os.PathLike[str]],
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> ScanReport:
    # lazy: see the note at the top
    from musicorg.ingest import scanner

    with writing(cat, "scan", progress, cancel):
        return scanner.scan(cat, folders, progress=progress, cancel=cancel)


def analyse(
    cat: Catalogue,
    *,
    device: str = "auto",
    workers: int = 1,
    dask: DaskOptions | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> AnalyseReport:
    """Features of every track that lacks them (in ``workers`` local processes, or on the
    Dask cluster of ``dask``), then embeddings with the active model (bundled or retrained;
    the bundled one, with a warning, when the active one is refused), then the data of model
    versions that are gone is dropped."""
    # lazy: see the note at the top
    from musicorg.analyse import analysis
    from musicorg.analyse.analysis import AnalyseReport
    from musicorg.app import models

    started = time.monotonic()
    report = AnalyseReport()
    with writing(cat, "analyse", progress, cancel):
        with ExitStack() as cluster:
            runner: DaskRunner | None = None
            if dask is not None:
                # lazy: dask is optional (the cluster extra), loaded only for a cluster run
                from musicorg.analyse import dask_backend

                runner = cluster.enter_context(
                    dask_backend.connect(dask, device=device, progress=progress)
                )
            analysis.analyse_features(
                cat,
                device=device,
                workers=workers,
                progress=progress,
                cancel=cancel,
                report=report,
                runner=runner,
            )
        model, report.model_warning = models.load_active_model(cat, device)
        report.model_version = str(model.version)
        report.device = str(model.device)
        analysis.embed_pending(cat, model, progress=progress, cancel=cancel, report=report)
        cat.set_meta(ACTIVE_MODEL_KEY, report.model_version)
        # After an upgrade (a new bundled model) or a deleted retrained version: drop their data.
        stale = models.forget_stale_versions(cat)
    report.forgotten = stale.summary() if stale else None
    report.seconds = time.monotonic() - started
    return report


@dataclass
class PlaylistsResult:
    playlists: list[PlaylistInfo]
    rebuilt: bool
    resized: bool = False

    def summary(self) -> str:
        if self.rebuilt:
            return f"Automatic playlists rebuilt: {len(self.playlists)}."
        if self.resized:
            return f"Automatic playlists fitted to the new lengths: {len(self.playlists)}."
        return f"{len(self.playlists)} automatic playlists, kept as they were."


def update_playlists(
    cat: Catalogue,
    *,
    force: bool = False,
    method: str | None = None,
    playlist_min: int | None = None,
    playlist_max: int | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> PlaylistsResult | None:
    """The automatic playlists of the active model: clustered again when ``force`` (the user
    asked, or the method changed), else kept up to date (new tracks join their nearest
    playlists; clustered again only when due). None before any analysis. ``method``,
    ``playlist_min`` and ``playlist_max`` default to the settings."""
    # lazy: see the note at the top
    from musicorg.organise import playlists

    if active_model_version(cat) is None:
        return None  # nothing analysed yet: nothing to group
    with writing(cat, "playlists", progress, cancel):
        if not force:
            lists, rebuilt = playlists.ensure_playlists(
                cat, method=method, progress=progress, cancel=cancel
            )
            return PlaylistsResult(lists, rebuilt)
        lists = playlists.build_playlists(
            cat,
            method=method,
            playlist_min=playlist_min,
            playlist_max=playlist_max,
            progress=progress,
            cancel=cancel,
        )
    return PlaylistsResult(lists, True)


def resize_playlists(
    cat: Catalogue,
    *,
    playlist_min: int | None = None,
    playlist_max: int | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> PlaylistsResult | None:
    """New playlist lengths (default: the settings) applied to the automatic playlists of the
    active model without clustering again: too long ones are split, too short ones merged
    into their neighbours, the rest stay as they are, names included. None before any
    analysis."""
    # lazy: see the note at the top
    from musicorg.organise import playlists

    if active_model_version(cat) is None:
        return None
    with writing(cat, "playlists", progress, cancel):
        lists = playlists.resize_playlists(
            cat,
            playlist_min=playlist_min,
            playlist_max=playlist_max,
            progress=progress,
            cancel=cancel,
        )
    return PlaylistsResult(lists, False, resized=True)


def update_map(
    cat: Catalogue,
    method: str = "pca",
    *,
    refit: bool = False,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> MapReport:
    """The map of ``method``: fitted when there is none (or ``refit``), else the tracks that
    are not on it yet are placed among its points. Raises ``mapping.MapError`` when there is
    nothing to map."""
    # lazy: see the note at the top
    from musicorg.organise import mapping

    with writing(cat, "map", progress, cancel):
        if refit or not mapping.has_map(cat, None, method):
            return mapping.compute_map(cat, method, progress=progress, cancel=cancel)
        return mapping.place_new(cat, method)


def switch_model(
    cat: Catalogue,
    version: str,
    *,
    device: str = "auto",
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> UseReport:
    """Make ``version`` the active model, the checked way (``models.use_model``): a model
    that is refused raises and leaves the previous one active."""
    # lazy: see the note at the top
    from musicorg.app import models

    with writing(cat, "models use", progress, cancel):
        return models.use_model(cat, version, device=device, progress=progress, cancel=cancel)
