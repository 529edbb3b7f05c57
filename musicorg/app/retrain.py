"""Retraining the model on the user's library: the core of ``musicorg retrain`` and of the
GUI's Retrain dialog.

It trains on the cached analysis (the Analysis rows: nothing is decoded again), with the
package's one training loop (:mod:`musicorg.model.trainer`):

- by default it fine-tunes the active model's weights, at the final β of that model's
  schedule (no annealing from 0 again); ``from_scratch`` starts from new weights and anneals;
- with at least :data:`MIN_LYRICS_FOR_REFIT` tracks with lyrics it refits the lyrics pipeline
  (TF-IDF + PCA(64)) on the library's own lyrics, whatever their language, and re-initialises
  the lyrics branch of the network (old weights mean nothing in a new basis); with fewer, the
  active model's pipeline stays;
- it checkpoints every epoch under ``paths.cache_dir()/retrain/<catalogue>/``; a cancelled or
  interrupted run resumes from its last finished epoch when started again with the same
  options on the same library. A checkpoint that cannot be loaded safely is moved to
  ``retrain/<catalogue>-set-aside/`` and the run resumes from the one before it, or else
  starts again from the active model's weights (new weights with ``from_scratch``); one line
  says so, as a stage and among the result's warnings;
- when training ends, the old and new model are compared on the library
  (:mod:`musicorg.model.libreport`), the new one is written as a new version (see
  :mod:`musicorg.app.models`) and its embeddings are stored. The active model never changes
  here: the user picks one afterwards (``musicorg models use``).

:func:`retrain` is safe to call from a worker thread; progress arrives through callbacks on
that thread, and a :class:`musicorg.jobs.CancelToken` stops it between batches.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicorg import paths
from musicorg.analyse.analysis import embed_pending, load_features
from musicorg.app import models as modelstore
from musicorg.jobs import CancelFn, never
from musicorg.keys import FEATURES_VERSION
from musicorg.model import registry as model_registry
from musicorg.model.textpipe import TextPipeline
from musicorg.model.textpipe import fit as fit_textpipe
from musicorg.store import analyses, writelock
from musicorg.store import lyrics as stored_lyrics
from musicorg.store.db import Catalogue

log = logging.getLogger(__name__)

MIN_LYRICS_FOR_REFIT = 200
MIN_TRACKS = 10
DEFAULT_EPOCHS_FINETUNE = 10
DEFAULT_EPOCHS_SCRATCH = 40
LR_FINETUNE = 2e-4
LR_SCRATCH = 5e-4
_running = threading.Lock()


class RetrainError(RuntimeError):
    """Retraining cannot start (too few tracks, another retraining running, ...)."""


@dataclass
class RetrainOptions:
    epochs: int | None = None  # default: 10 for a fine-tune, 40 from scratch
    from_scratch: bool = False
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch CPU threads; 0: default_threads()
    seed: int = 0
    batch_size: int = 64
    lr: float | None = None  # default: 2e-4 for a fine-tune, 5e-4 from scratch
    min_lyrics_for_refit: int = MIN_LYRICS_FOR_REFIT

    def resolved_epochs(self) -> int:
        if self.epochs is not None:
            if self.epochs < 1:
                raise ValueError("epochs must be at least 1")
            return int(self.epochs)
        return DEFAULT_EPOCHS_SCRATCH if self.from_scratch else DEFAULT_EPOCHS_FINETUNE

    def resolved_lr(self) -> float:
        if self.lr is not None:
            return float(self.lr)
        return LR_SCRATCH if self.from_scratch else LR_FINETUNE


@dataclass
class RetrainProgress:
    """One finished epoch, for a progress display."""

    epoch: int
    epochs: int
    total: float
    audio: float
    text: float
    stats: float
    kl: float
    beta: float
    seconds: float
    eta_s: float

    def line(self) -> str:
        return (
            f"epoch {self.epoch}/{self.epochs}: loss {self.total:.2f} (audio {self.audio:.2f}, "
            f"text {self.text:.2f}, KL {self.kl:.2f}), β {self.beta:.3f}, {self.seconds:.1f} s, "
            f"about {_fmt_eta(self.eta_s)} left"
        )


def _fmt_eta(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


@dataclass
class RetrainResult:
    version: str
    directory: str
    base_version: str
    from_scratch: bool
    text_refit: bool
    epochs: int
    resumed_from: int
    n_tracks: int
    n_lyrics: int
    device: str
    seconds: float
    seconds_per_epoch: float
    report: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_threads() -> int:
    """Torch CPU threads for training: half the cores, at most 4, and 1 on 2 cores or fewer.

    Measured (scripts/bench_retrain.py, 1,000 tracks, a 2-core machine shared with other
    work): 4.7 s per epoch with 1 thread, 32 s with 2 (threads spinning against each other).
    """
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(4, cores // 2)


# -- the library's data -----------------------------------------------------------------------


@dataclass
class _Library:
    keys: list[str]
    features: Any  # (N, 39, 130) float32
    stats: Any  # (N, 78) float32
    teacher: Any  # (N, 200) float32
    lyrics: list[str | None]
    genres: list[str | None]

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for k, t in zip(self.keys, self.lyrics, strict=True):
            h.update(k.encode())
            h.update(b"\x01" + hashlib.sha256((t or "").encode()).digest())
        return h.hexdigest()


def library_data(cat: Catalogue) -> _Library:
    """Cached features of every available, analysed track (one row per content key), with
    its lyrics and genre tag where it has them."""
    rows = analyses.analysed_tracks(cat, FEATURES_VERSION)
    lyrics_by_key = stored_lyrics.by_content_key(cat)
    genre_of: dict[str, str | None] = {}
    for key, genre in rows:
        if key not in genre_of or (not genre_of[key] and genre):
            genre_of[key] = genre
    keys = list(genre_of)
    found = load_features(cat, keys)
    keys = [k for k in keys if k in found.index]
    order = [found.index[k] for k in keys]
    lyrics_of = {k: t for k, t in lyrics_by_key.items() if t and t.strip()}
    return _Library(
        keys=keys,
        features=found.matrices[order],
        stats=found.stats[order],
        teacher=found.teacher[order],
        lyrics=[lyrics_of.get(k) for k in keys],
        genres=[genre_of[k] for k in keys],
    )


def _run_dir(cat: Catalogue) -> Path:
    digest = hashlib.sha256(str(cat.path.resolve()).encode()).hexdigest()[:16]
    return paths.cache_dir() / "retrain" / digest


def _set_aside_dir(run_dir: Path) -> Path:
    """Where checkpoints that cannot be loaded go: beside the run folder (which is removed
    once the new version is saved), one folder per library."""
    return run_dir.parent / f"{run_dir.name}-set-aside"


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _fit_textpipe(texts: list[str], dim: int, seed: int) -> Any:
    """TF-IDF + PCA(dim) on the library's lyrics; components padded with zeros to ``dim``
    when the vocabulary is smaller (the network's input size is fixed)."""
    pipe, _vec, _pca = fit_textpipe(texts, n_components=dim, seed=seed)
    comps = pipe.components
    if comps.shape[0] < dim:
        pad = np.zeros((dim - comps.shape[0], comps.shape[1]), dtype=comps.dtype)
        pipe = TextPipeline(pipe.vocabulary, pipe.idf, pipe.mean, np.concatenate([comps, pad]))
    return pipe


# -- the whole job ----------------------------------------------------------------------------


def retrain(
    cat: Catalogue,
    options: RetrainOptions | None = None,
    *,
    progress: Callable[[RetrainProgress], None] | None = None,
    batch_progress: Callable[[int, int, int], None] | None = None,
    stage: Callable[[str], None] | None = None,
    cancel: CancelFn = never,
) -> RetrainResult:
    """Retrain on the library of ``cat`` and save the result as a new model version.

    ``progress`` hears every finished epoch, ``batch_progress(epoch, batch, n_batches)``
    every batch, ``stage(text)`` each step (preparing, training, comparing, saving,
    embedding). ``cancel`` (e.g. a CancelToken) raises :class:`musicorg.jobs.Cancelled`
    between batches; nothing is registered then and the active model is untouched.
    Raises :class:`RetrainError` when it cannot start, RuntimeError for an unavailable
    device ('cuda' without CUDA).
    """
    if not _running.acquire(blocking=False):
        raise RetrainError("a retraining is already running in this process")
    try:
        with _library_lock(cat):
            return _retrain(
                cat, options or RetrainOptions(), progress, batch_progress, stage, cancel
            )
    finally:
        _running.release()


@contextmanager
def _library_lock(cat: Catalogue) -> Iterator[None]:
    """One retraining per library across processes (the app and the command line)."""
    path = _run_dir(cat).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as fh:
        try:
            import fcntl  # POSIX only, so imported where it may be missing
        except ImportError:  # Windows: the in-process lock only
            yield
            return
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise RetrainError("another musicorg process is retraining this library") from exc
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _retrain(
    cat: Catalogue,
    opts: RetrainOptions,
    progress: Callable[[RetrainProgress], None] | None,
    batch_progress: Callable[[int, int, int], None] | None,
    stage: Callable[[str], None] | None,
    cancel: CancelFn,
) -> RetrainResult:
    # torch (through musicorg.model): loaded on the thread that trains, not by the GUI or the
    # command line when they import this module
    from musicorg.model.bundle import pick_device
    from musicorg.model.trainer import read_history

    say = stage or (lambda _t: None)
    started = time.monotonic()
    epochs = opts.resolved_epochs()
    device = pick_device(opts.device)  # a clear error before any work
    run = _start(cat, opts, epochs, say)
    pipe, norm, data = _inputs(run, opts, say)
    mode = "from scratch" if opts.from_scratch else f"from {run.base.version}"
    say(f"Training {mode} on {len(run.lib.keys)} tracks and {len(run.texts)} lyrics ({device})…")
    t_train = time.monotonic()
    settings, outcome = _train(run, opts, data, str(device), progress, batch_progress, cancel, say)
    train_s = time.monotonic() - t_train
    if outcome.note:
        run.warnings.append(outcome.note)

    say("Comparing the old and the new model…")
    version = model_registry.new_version_name()
    new = _Trained(
        version,
        {k: v.detach().cpu() for k, v in outcome.model.state_dict().items()},
        _meta(cat, run, opts, version, outcome.epochs, settings),
        norm,
        pipe,
    )
    report = _compare(run, new)
    say(f"Saving model {version}…")
    out, saved = _save(run, new, report)
    say(f"Embedding the library with {version}…")
    # Training wrote nothing to the catalogue; its one write waits for any other writer.
    waiting = _waiting_for(cat, say)
    with writelock.hold(cat.path, "musicorg retrain", on_wait=waiting, cancel=cancel):
        embed_pending(cat, saved)
    history = read_history(run.run_dir)
    shutil.rmtree(run.run_dir, ignore_errors=True)
    return RetrainResult(
        version=version,
        directory=str(out),
        base_version=str(run.base.version),
        from_scratch=opts.from_scratch,
        text_refit=run.refit,
        epochs=outcome.epochs,
        resumed_from=outcome.resumed_from,
        n_tracks=len(run.lib.keys),
        n_lyrics=len(run.texts),
        device=str(outcome.device),
        seconds=time.monotonic() - started,
        seconds_per_epoch=train_s / max(1, outcome.epochs - outcome.resumed_from),
        report=report,
        history=history,
        warnings=run.warnings,
    )


def _waiting_for(cat: Catalogue, say: Callable[[str], None]) -> Callable[[str], None]:
    return lambda holder: say(writelock.waiting_text(holder, cat.path))


@dataclass
class _Run:
    """What one retraining starts from: the library, the base model and the run directory."""

    lib: _Library
    base: Any  # musicorg.model.bundle.LoadedModel
    warnings: list[str]
    texts: list[str]  # the library's lyrics
    refit: bool  # the lyrics pipeline is fitted again on them
    run_dir: Path
    epochs: int


def _start(cat: Catalogue, opts: RetrainOptions, epochs: int, say: Callable[[str], None]) -> _Run:
    """The library and the base model; the run directory of an earlier run with the same plan
    is kept (to resume from), any other is emptied."""
    say("Reading the library's analysis…")
    lib = library_data(cat)
    if len(lib.keys) < MIN_TRACKS:
        raise RetrainError(
            f"retraining needs at least {MIN_TRACKS} analysed tracks, this library has "
            f"{len(lib.keys)}: run `musicorg analyse` first"
        )
    base, warning = modelstore.load_active_model(cat, "cpu")
    base_entry = model_registry.read_registry().get(str(base.version), {})
    texts = [t for t in lib.lyrics if t]
    refit = len(texts) >= opts.min_lyrics_for_refit
    run_dir = _run_dir(cat)
    plan = {
        "base_version": str(base.version),
        "base_manifest": base_entry.get("manifest_sha256", "bundled"),
        "from_scratch": opts.from_scratch,
        "seed": opts.seed,
        "batch_size": opts.batch_size,
        "lr": opts.resolved_lr(),
        "text_refit": refit,
        "model": base.config.to_dict(),
        "data": lib.fingerprint(),
        "features_version": FEATURES_VERSION,
    }
    run_json = run_dir / "run.json"
    if run_json.exists():
        try:
            same = json.loads(run_json.read_text(encoding="utf-8")).get("plan") == plan
        except ValueError:
            same = False
        if not same:
            shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(run_json, {"plan": plan, "catalogue": str(cat.path), "epochs": epochs})
    return _Run(lib, base, [warning] if warning else [], texts, refit, run_dir, epochs)


def _inputs(run: _Run, opts: RetrainOptions, say: Callable[[str], None]) -> tuple[Any, Any, Any]:
    """The lyrics pipeline, the normalisation (both kept in the run dir for a resume) and the
    normalised training arrays."""
    # torch (through musicorg.model): as in _retrain
    from musicorg.model.bundle import Normalizer, side_input
    from musicorg.model.trainer import TrainArrays

    lib, base, cfg, texts = run.lib, run.base, run.base.config, run.texts
    if run.refit:
        say(f"Fitting the lyrics pipeline on {len(texts)} lyrics…")
        if (run.run_dir / "textpipe.json").exists():
            pipe = TextPipeline.load(run.run_dir)
        else:
            pipe = _fit_textpipe(texts, cfg.text_dim, opts.seed)
            pipe.save(run.run_dir)
    else:
        pipe = base.textpipe
    text_raw = (
        pipe.transform(texts).astype(np.float32)
        if texts
        else np.zeros((0, cfg.text_dim), np.float32)
    )
    side = side_input(cfg, lib.stats, lib.teacher)
    if (run.run_dir / "norm.npz").exists():
        norm = Normalizer.load(run.run_dir / "norm.npz")
    else:
        fitted = Normalizer.fit(lib.features, side, text_raw if len(texts) > 1 else None)
        norm = fitted if opts.from_scratch else base.norm
        norm = Normalizer(
            audio_mean=norm.audio_mean,
            audio_std=norm.audio_std,
            stats_mean=norm.stats_mean,
            stats_std=norm.stats_std,
            text_scale=fitted.text_scale if run.refit else base.norm.text_scale,
        )
        norm.save(run.run_dir / "norm.npz")
    data = TrainArrays(
        audio=norm.audio(lib.features),
        stats=norm.stats(side),
        text=norm.text(text_raw),
        group=np.arange(len(lib.keys), dtype=np.int64),  # one clip per track
    )
    return pipe, norm, data


def _train(
    run: _Run,
    opts: RetrainOptions,
    data: Any,
    device: str,
    progress: Callable[[RetrainProgress], None] | None,
    batch_progress: Callable[[int, int, int], None] | None,
    cancel: CancelFn,
    say: Callable[[str], None],
) -> tuple[Any, Any]:
    """The training settings and outcome (musicorg.model.trainer's loop). A fresh run
    starts from the active model's weights (new ones from scratch); so does a run whose
    checkpoints cannot be loaded. What the trainer says (resuming, a checkpoint set aside)
    goes to ``say``."""
    # torch (through musicorg.model): as in _retrain
    from musicorg.model.trainer import (
        TEXT_BRANCH_PREFIXES,
        EpochReport,
        TrainSettings,
        keep_torch_threads,
        train,
    )

    settings = TrainSettings(
        epochs=run.epochs,
        batch_size=opts.batch_size,
        lr=opts.resolved_lr(),
        seed=opts.seed,
        device=device,
        threads=opts.threads or default_threads(),
        constant_beta=None if opts.from_scratch else float(run.base.config.beta_max),
    )

    def on_epoch(rep: EpochReport) -> None:
        if progress is not None:
            r = rep.row
            progress(
                RetrainProgress(
                    epoch=rep.epoch,
                    epochs=rep.epochs,
                    total=float(r["total"]),
                    audio=float(r["audio"]),
                    text=float(r["text"]),
                    stats=float(r.get("stats", 0.0)),
                    kl=float(r["kl"]),
                    beta=float(r["beta"]),
                    seconds=rep.seconds,
                    eta_s=rep.eta_s,
                )
            )

    with keep_torch_threads():
        outcome = train(
            run.base.config,
            data,
            settings,
            run.run_dir,
            init_state=None if opts.from_scratch else run.base.model.state_dict(),
            skip_init_prefixes=TEXT_BRANCH_PREFIXES if run.refit else (),
            init_label=_init_label(run, opts),
            set_aside_dir=_set_aside_dir(run.run_dir),
            progress=on_epoch,
            batch_progress=batch_progress,
            cancel=cancel,
            log=say,
        )
    return settings, outcome


def _init_label(run: _Run, opts: RetrainOptions) -> str:
    """What a fresh run starts from, in words."""
    if opts.from_scratch:
        return "new weights (--from-scratch)"
    lyrics = "; the lyrics branch new" if run.refit else ""
    return f"the active model's weights ({run.base.version}{lyrics})"


def _meta(
    cat: Catalogue, run: _Run, opts: RetrainOptions, version: str, epochs: int, settings: Any
) -> dict[str, Any]:
    """The new version's meta.json."""
    return {
        "version": version,
        "model": run.base.config.to_dict(),
        "features_version": FEATURES_VERSION,
        "trained_epochs": epochs,
        "base_version": str(run.base.version),
        "from_scratch": opts.from_scratch,
        "text_refit": run.refit,
        "library": {
            "catalogue": str(cat.path),
            "tracks": len(run.lib.keys),
            "with_lyrics": len(run.texts),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
        "train": asdict(settings),
    }


@dataclass
class _Trained:
    """The new model version, before it is written."""

    version: str
    state: dict[str, Any]  # the weights, on the CPU
    meta: dict[str, Any]
    norm: Any  # musicorg.model.bundle.Normalizer
    pipe: TextPipeline


def _compare(run: _Run, new: _Trained) -> dict[str, Any]:
    """The old and the new model compared on the library (musicorg.model.libreport)."""
    # torch (through musicorg.model): as in _retrain
    from musicorg.model.bundle import LoadedModel, pick_device
    from musicorg.model.libreport import LibraryData, compare

    base, cfg, lib = run.base, run.base.config, run.lib
    new_model = type(base.model)(cfg)
    new_model.load_state_dict(new.state)
    new_model.eval()
    candidate = LoadedModel(
        run.run_dir, new.version, cfg, new_model, new.norm, new.pipe, pick_device("cpu"), new.meta
    )
    libdata = LibraryData(lib.features, lib.stats, lib.lyrics, lib.genres, lib.teacher)
    report: dict[str, Any] = compare(base, candidate, libdata)
    return report


def _save(run: _Run, new: _Trained, report: dict[str, Any]) -> tuple[Path, Any]:
    """Write and register the new version; its directory and the model loaded back from it."""
    # torch (through musicorg.model): as in _retrain
    from musicorg.model.bundle import load_model
    from musicorg.model.write import metrics_table, write_bundle

    version, meta = new.version, new.meta
    out = model_registry.user_model_dir(version)
    card = _model_card(version, meta, report, metrics_table)
    digest = write_bundle(
        out,
        version,
        new.state,
        meta,
        new.norm,
        new.pipe,
        card,
        extra_files={
            "metrics.json": (json.dumps(report, indent=1, sort_keys=True) + "\n").encode(),
        },
    )
    try:
        saved = load_model(out, device="cpu", expected_manifest_sha256=digest)
    except Exception:
        shutil.rmtree(out, ignore_errors=True)
        raise
    model_registry.register(
        version,
        {
            "manifest_sha256": digest,
            "created": time.time(),
            "base_version": meta["base_version"],
            "from_scratch": meta["from_scratch"],
            "text_refit": meta["text_refit"],
            "epochs": meta["trained_epochs"],
            "library": meta["library"],
            "metrics": {"old": _summary(report["old"]), "new": _summary(report["new"])},
        },
    )
    return out, saved


def _summary(m: dict[str, Any]) -> dict[str, Any]:
    out = {k: m.get(k) for k in ("version", "active_dims", "recon_mse", "silhouette")}
    if m.get("genre"):
        out["genre_ami"] = m["genre"]["ami"]
        out["genre_purity"] = m["genre"]["purity"]
    return out


def _model_card(
    version: str,
    meta: dict[str, Any],
    report: dict[str, Any],
    table: Callable[[dict[str, Any]], list[str]],
) -> str:
    lib = meta["library"]
    how = "from scratch" if meta["from_scratch"] else f"fine-tuned from {meta['base_version']}"
    genre = {
        f"{side} ({report[side]['version']})": report[side]["genre"]
        for side in ("old", "new")
        if report[side].get("genre")
    }
    lines = [
        f"# musicorg model {version}",
        "",
        f"Retrained on a user's library ({how}), {meta['trained_epochs']} epochs.",
        "",
        f"- Library: `{lib['catalogue']}`, {lib['tracks']} tracks, {lib['with_lyrics']} with "
        f"lyrics, {lib['date']}.",
        "- Lyrics pipeline: "
        + (
            "refitted on the library's lyrics (lyrics branch re-initialised)."
            if meta["text_refit"]
            else "kept from the base model."
        ),
        "",
        "## Checks on the library (old vs new)",
        "",
        "Agreement of KMeans(K = #genres) with the genre tags:",
        "",
        *table(genre),
        "",
        "```json",
        json.dumps(report, indent=1, sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(lines)


__all__ = [
    "MIN_LYRICS_FOR_REFIT",
    "RetrainError",
    "RetrainOptions",
    "RetrainProgress",
    "RetrainResult",
    "library_data",
    "retrain",
]
