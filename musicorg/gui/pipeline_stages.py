"""The stages the window runs: the functions of :mod:`musicorg.app.pipeline`, bound to a job's
(progress, cancel) with the window's settings. Nothing here re-implements a stage.

The pipeline imports each stage only when it runs, so importing this module costs the window
nothing it has not loaded already.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from musicorg.app import pipeline
from musicorg.app.pipeline import AFTER_ANALYSIS, MAP_METHODS, STAGES
from musicorg.gui.procstage import in_process, limit_torch_threads
from musicorg.gui.tasks import StageFn
from musicorg.jobs import CancelFn, ProgressFn
from musicorg.keys import ACTIVE_MODEL_KEY, FEATURES_VERSION
from musicorg.model.registry import bundled_version, read_registry
from musicorg.settings import Settings
from musicorg.store import analyses
from musicorg.store.db import Catalogue
from musicorg.store.vectors import active_model_version

#: The window's stages that redo their stage from scratch: playlists rebuilt even when they are
#: not due, maps fitted again even when there is one.
FORCED = {"rebuild": "playlists", "remap": "map", "reumap": "umap"}


def _bind(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> StageFn:
    """``fn(*args, **kwargs, progress=, cancel=)`` as a job's function."""

    def run(progress: ProgressFn, cancel: CancelFn) -> Any:
        return fn(*args, progress=progress, cancel=cancel, **kwargs)

    return run


def _once_analysed(cat: Catalogue, stage: StageFn) -> StageFn:
    """``stage``, skipped while nothing is analysed (no model version is active yet)."""

    def run(progress: ProgressFn, cancel: CancelFn) -> Any:
        if active_model_version(cat) is None:
            return None  # nothing analysed yet: nothing to group or to map
        return stage(progress, cancel)

    return run


def analysis_due(cat: Catalogue) -> bool:
    """Whether the analysis has anything to do: a file to analyse, a track without an
    embedding of the active model, or an active model that is not set or not installed (the
    analysis then says so and falls back to the bundled one). Store reads only: it runs in
    the job's thread before any process is started."""
    version = cat.get_meta(ACTIVE_MODEL_KEY)
    if not version:
        return True
    if version != bundled_version() and version not in read_registry():
        return True
    if analyses.unanalysed(cat, FEATURES_VERSION):
        return True
    embedded = analyses.embedded_keys(cat, version)
    return any(k not in embedded for k in analyses.analysed_keys(cat, FEATURES_VERSION))


def _when_due(cat: Catalogue, stage: StageFn) -> StageFn:
    """``stage``, skipped (result None, no progress) when :func:`analysis_due` says there is
    nothing to do: no "Analysing 0 tracks…" and no busy bar while a process starts and loads
    the model for nothing, at every start."""

    def run(progress: ProgressFn, cancel: CancelFn) -> Any:
        if not analysis_due(cat):
            return None
        return stage(progress, cancel)

    return run


@dataclass(frozen=True)
class StageTable:
    """The window's stages: which run in which order, and how each is made."""

    #: What a rescan runs: each stage re-does only what changed. The PCA map shows at once;
    #: the UMAP one replaces it when it is ready.
    everything: tuple[str, ...] = STAGES
    #: What "Analyse" runs.
    analysis: tuple[str, ...] = ("analyse", *AFTER_ANALYSIS)
    #: What follows a switch of model (the switch embeds and clusters what it lacks): the maps.
    after_switch: tuple[str, ...] = tuple(s for s in AFTER_ANALYSIS if s in MAP_METHODS)

    def make(self, name: str, cat: Catalogue, settings: Settings, folders: list[str]) -> StageFn:
        """The job of stage ``name`` (one of ``everything``, of :data:`FORCED`, or "resize":
        the playlists fitted to new length settings)."""
        if name == "resize":  # new lengths: split and merge, no new clustering
            resize = _bind(
                pipeline.resize_playlists,
                cat,
                playlist_min=settings.playlist_min,
                playlist_max=settings.playlist_max,
            )
            return _once_analysed(cat, resize)
        stage, forced = FORCED.get(name, name), name in FORCED
        if stage == "scan":
            return _bind(pipeline.scan, cat, list(folders))
        if stage == "analyse":
            return self.analyse(cat, settings.device)
        if stage == "playlists":
            playlists = _bind(
                pipeline.update_playlists,
                cat,
                force=forced,
                method=settings.cluster_method,
                playlist_min=settings.playlist_min,
                playlist_max=settings.playlist_max,
            )
            return _once_analysed(cat, playlists)
        if stage in MAP_METHODS:
            fit = _bind(pipeline.update_map, cat, MAP_METHODS[stage], refit=forced)
            return _once_analysed(cat, fit)
        raise ValueError(f"no stage {name!r}")

    @staticmethod
    def analyse(cat: Catalogue, device: str) -> StageFn:
        """The analysis with one decoding worker, in a child process (its decoders and torch
        hold the GIL for long stretches; in this process they would make the window stutter)."""
        limit_torch_threads(1)  # the child inherits OMP_NUM_THREADS=1
        return _when_due(cat, in_process(pipeline.analyse, cat.path, device=device, workers=1))

    @staticmethod
    def switch_model(cat: Catalogue, version: str, device: str) -> StageFn:
        """The checked switch to model ``version`` (it loads and verifies the model, embeds
        what it lacks, clusters if it has no playlists), in a child process like the analysis.
        A refused model fails the job and leaves the previous one active."""
        limit_torch_threads(1)
        return in_process(pipeline.switch_model, cat.path, version=version, device=device)


TABLE = StageTable()
