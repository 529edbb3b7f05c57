"""The analysis stage: features for every content key, then embeddings with the active model.

Features are keyed by (content key, FEATURES_VERSION), so byte-equal copies share one analysis
and a change of feature code never mixes old and new numbers. Embeddings are keyed by
(content key, model version). Both are committed in small batches: a killed run keeps what it
finished and the next run does only the rest. Files that fail to decode get a row in the
problems list (stage "analyze") and are retried when they change.

Where the per-track work runs is a seam (:data:`Runner`): by default a local pool of processes
decodes and featurises while MusiCNN runs here; :mod:`musicorg.analyse.dask_backend` runs the
whole track (decode, features, MusiCNN: :func:`analyse_here`) on Dask workers instead. Either
way the results come back here and are written by the same batched writer.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

import numpy as np

from musicorg.analyse import features as feat
from musicorg.analyse.audio import DecodeError
from musicorg.jobs import CancelFn, ProgressFn, check, never, no_progress
from musicorg.store import analyses
from musicorg.store import lyrics as stored_lyrics
from musicorg.store.analyses import AnalysisRow, AudioFile
from musicorg.store.db import Catalogue
from musicorg.store.problems import ProblemNote

log = logging.getLogger(__name__)

T = TypeVar("T")

COMMIT_EVERY_S = 2.0


@dataclass
class AnalyseReport:
    analysed: int = 0
    embedded: int = 0
    skipped: int = 0
    weak: list[str] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    model_version: str = ""
    device: str = ""
    seconds: float = 0.0
    # Why the active model was not used (it was refused: the bundled one was used instead).
    model_warning: str | None = None
    # What was removed of model versions no longer installed (modelstore.forget_stale_versions).
    forgotten: str | None = None

    def summary(self, *, forgotten: bool = True) -> str:
        """One line; with what was forgotten at its end unless FORGOTTEN is False."""
        text = (
            f"{self.analysed} tracks analysed, {self.embedded} embedded with model "
            f"{self.model_version} on {self.device}, {len(self.problems)} problems"
        )
        if self.weak:
            text += f", {len(self.weak)} with too little sound to analyse well"
        text += f" in {self.seconds:.1f} s"
        return f"{text}. {self.forgotten}" if forgotten and self.forgotten else text


def _pending_features(cat: Catalogue) -> list[AudioFile]:
    """One available file per content key that has no analysis of this features version."""
    return analyses.unanalysed(cat, feat.FEATURES_VERSION)


def _analyse_one(path: bytes) -> feat.TrackFeatures | DecodeError:
    """Runs in a worker process: features, or the DecodeError that explains why not."""
    try:
        return feat.analyse_file(path)
    except DecodeError as exc:
        return exc
    except MemoryError:
        return DecodeError("unreadable", f"{os.fsdecode(path)}: not enough memory to decode")
    except Exception as exc:  # a decoder crash on hostile input must not end the stage
        return DecodeError("unreadable", f"{os.fsdecode(path)}: {exc.__class__.__name__}: {exc}")


def _results(
    todo: list[AudioFile], workers: int, cancel: CancelFn
) -> Iterator[tuple[AudioFile, Any]]:
    if workers <= 1:
        for item in todo:
            check(cancel)
            yield item, _analyse_one(item.path)
        return
    # Processes, not threads: decoding and librosa hold the GIL much of the time. Each worker
    # is recycled after a while so that a leak in a decoder cannot grow without bound.
    with ProcessPoolExecutor(max_workers=workers, max_tasks_per_child=200) as pool:
        pending: dict[Future[Any], AudioFile] = {}
        queue = iter(todo)
        try:
            while True:
                while len(pending) < workers * 2:
                    nxt = next(queue, None)
                    if nxt is None:
                        break
                    pending[pool.submit(_analyse_one, nxt.path)] = nxt
                if not pending:
                    return
                done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                check(cancel)
                for fut in done:
                    yield pending.pop(fut), fut.result()
        finally:
            for fut in pending:
                fut.cancel()


# Tracks whose windows go through MusiCNN together (their patches form the batches).
TEACHER_TRACKS = 16

#: Where the per-track work runs: given the pending files and the cancel flag, it yields each
#: file with its result as it finishes, in any order: ``TrackFeatures`` (MusiCNN then runs
#: here), :class:`Taught` (MusiCNN ran there too) or the ``DecodeError`` that explains why not.
#: None is the local pool of :func:`_results`.
Runner = Callable[[list[AudioFile], CancelFn], Iterator[tuple[AudioFile, Any]]]


def analyse_features(
    cat: Catalogue,
    *,
    device: str = "auto",
    workers: int = 1,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
    report: AnalyseReport | None = None,
    runner: Runner | None = None,
) -> AnalyseReport:
    """Features of every pending content key: the matrix and descriptors in ``workers``
    processes, MusiCNN's vector and tags here, batched over ``TEACHER_TRACKS`` tracks on
    ``device`` (CUDA when present with "auto"). A ``runner`` runs the per-track work
    elsewhere instead (``workers`` is then unused); the results are written here all the
    same, as they arrive."""
    report = report or AnalyseReport()
    todo = _pending_features(cat)
    total = len(todo)
    progress(0, total, f"Analysing {total} tracks…")
    if not todo:
        return report
    # Locally MusiCNN is loaded before the pool starts; a runner's results come back taught
    # (the loader is there for a result that still needs it).
    teacher = _teacher_loader(device, now=runner is None)
    results = runner(todo, cancel) if runner is not None else _results(todo, workers, cancel)
    batch: list[tuple[AudioFile, Any]] = []
    last_commit = time.monotonic()
    done = 0
    try:
        for item, result in results:
            batch.append((item, result))
            done += 1
            due = time.monotonic() - last_commit >= COMMIT_EVERY_S
            if due or done == total or len(batch) >= TEACHER_TRACKS:
                _store_features(cat, _with_teacher(teacher, batch), report)
                batch.clear()
                last_commit = time.monotonic()
            progress(done, total, f"Analysing… {item.display}")
    finally:
        if batch:
            _store_features(cat, _with_teacher(teacher, batch), report)
    return report


def _load_teacher(device: str) -> Any:
    # torch (through musicorg.model): loaded only when there is something to analyse
    from musicorg.model.bundle import pick_device
    from musicorg.model.musicnn import Teacher

    return Teacher(pick_device(device))


def _teacher_loader(device: str, *, now: bool) -> Callable[[], Any]:
    """MusiCNN on ``device``, loaded now (``now``) or at its first use."""
    loaded: list[Any] = [_load_teacher(device)] if now else []

    def get() -> Any:
        if not loaded:
            loaded.append(_load_teacher(device))
        return loaded[0]

    return get


@cache
def _process_teacher(device: str) -> Any:
    """MusiCNN on ``device``, loaded once per process (a Dask worker runs many tracks)."""
    return _load_teacher(device)


@dataclass
class _Teacher:
    """MusiCNN's outputs for one track."""

    vector: np.ndarray
    tags: np.ndarray
    n_patches: int


@dataclass
class Taught:
    """A track's features with MusiCNN's outputs, both computed where its audio was read."""

    features: feat.TrackFeatures
    teacher: _Teacher


def analyse_here(path: bytes, device: str = "auto") -> Taught | DecodeError:
    """One track start to end in this process (what a Dask worker runs): decode and features
    as a pool worker does (:func:`_analyse_one`), then MusiCNN on ``device``; the 16-kHz
    window is dropped, so only the small outputs travel back."""
    result = _analyse_one(path)
    if isinstance(result, DecodeError):
        return result
    [(_, features, taught)] = _with_teacher(lambda: _process_teacher(device), [(None, result)])
    assert taught is not None  # an analysed window always goes through MusiCNN
    return Taught(features, taught)


def _with_teacher(
    teacher: Callable[[], Any], batch: list[tuple[T, Any]]
) -> list[tuple[T, Any, _Teacher | None]]:
    """The batch with MusiCNN's vector and tags of each analysed window (one pass for all);
    a :class:`Taught` result brings its own, and MusiCNN is asked only when one is missing."""
    analysed = [r for _, r in batch if isinstance(r, feat.TrackFeatures)]
    audios = [
        r.teacher_audio if r.teacher_audio is not None else np.zeros(0, np.float32)
        for r in analysed
    ]
    if analysed:
        vectors, tags, counts = teacher().track_outputs(audios)
    taught = iter(range(len(analysed)))
    out: list[tuple[T, Any, _Teacher | None]] = []
    for item, result in batch:
        if isinstance(result, feat.TrackFeatures):
            i = next(taught)
            result.teacher_audio = None  # done with it: free the memory early
            out.append((item, result, _Teacher(vectors[i], tags[i], int(counts[i]))))
        elif isinstance(result, Taught):
            out.append((item, result.features, result.teacher))
        else:
            out.append((item, result, None))
    return out


def _store_features(
    cat: Catalogue, batch: list[tuple[AudioFile, Any, _Teacher | None]], report: AnalyseReport
) -> None:
    rows: list[AnalysisRow] = []
    failed: list[ProblemNote] = []
    for item, result, taught in batch:
        if isinstance(result, DecodeError):
            failed.append(
                ProblemNote(item.path, result.kind, str(result), item.size, item.mtime_ns)
            )
            report.problems.append((item.display, result.kind, str(result)))
            continue
        f: feat.TrackFeatures = result
        assert taught is not None  # every analysed window went through MusiCNN
        rows.append(
            AnalysisRow(
                item,
                f.matrix,
                f.stats,
                f.tempo,
                f.brightness,
                f.energy,
                f.weak,
                taught.vector,
                taught.tags,
                taught.n_patches,
            )
        )
        report.analysed += 1
        if f.weak:
            report.weak.append(item.display)
    analyses.save(cat, rows, failed, feat.FEATURES_VERSION)


@dataclass
class Features:
    """Cached analysis of some content keys, one row each (see :func:`load_features`)."""

    matrices: np.ndarray  # (N, 39, 130) float32
    stats: np.ndarray  # (N, 78) float32
    teacher: np.ndarray  # (N, 200) float32: MusiCNN's vector
    index: dict[str, int]  # content key → row


def load_features(cat: Catalogue, keys: list[str]) -> Features:
    """Matrices, statistics and MusiCNN vectors for the keys that have an analysis of this
    features version."""
    mats: list[np.ndarray] = []
    stats: list[np.ndarray] = []
    teacher: list[np.ndarray] = []
    index: dict[str, int] = {}
    for key, blob, sblob, tblob in analyses.feature_blobs(cat, keys, feat.FEATURES_VERSION):
        index[key] = len(mats)
        mats.append(np.frombuffer(blob, dtype=np.float32).reshape(feat.N_ROWS, feat.N_BINS))
        stats.append(
            np.frombuffer(sblob, dtype=np.float32) if sblob else np.zeros(feat.N_STATS, np.float32)
        )
        teacher.append(
            np.frombuffer(tblob, dtype=np.float32)
            if tblob
            else np.zeros(feat.N_TEACHER, np.float32)
        )
    if not mats:
        return Features(
            np.zeros((0, feat.N_ROWS, feat.N_BINS), np.float32),
            np.zeros((0, feat.N_STATS), np.float32),
            np.zeros((0, feat.N_TEACHER), np.float32),
            index,
        )
    return Features(np.stack(mats), np.stack(stats), np.stack(teacher), index)


def embed_pending(
    cat: Catalogue,
    model: Any,
    *,
    batch: int = 512,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
    report: AnalyseReport | None = None,
) -> AnalyseReport:
    """μ for every analysed content key that has none for this model version."""
    report = report or AnalyseReport()
    version = model.version
    have = analyses.embedded_keys(cat, version)
    analysed = analyses.analysed_keys(cat, feat.FEATURES_VERSION)
    lyrics_by_key = stored_lyrics.by_content_key(cat)
    todo = [k for k in analysed if k not in have]
    total = len(todo)
    for lo in range(0, total, batch):
        check(cancel)
        keys = todo[lo : lo + batch]
        found = load_features(cat, keys)
        keys = [k for k in keys if k in found.index]
        mu = model.embed(
            found.matrices,
            found.stats,
            [lyrics_by_key.get(k) for k in keys],
            teacher=found.teacher,
        )
        analyses.save_embeddings(cat, version, keys, mu)
        report.embedded += len(keys)
        progress(min(lo + batch, total), total, "Embedding…")
    return report
