"""The training loop of the hybrid VAE: the one used offline (``training/train.py``) and by
the app when it retrains on a user's library (``musicorg/app/retrain.py``).

Arrays in (already normalised), a run directory out::

    run_dir/checkpoint.pt       state dicts {"model", "opt", "epoch"} after every finished
                                epoch, written atomically (a temporary file, fsync, rename)
                                and read back with ``weights_only=True`` only
    run_dir/checkpoint.prev.pt  the one before it, kept when a new one is written
    run_dir/history.jsonl       one line per epoch: mean loss terms, beta, seconds (and
                                whatever the ``on_epoch_end`` hook adds)

Running again with the same run directory resumes after the last finished epoch. A checkpoint
that cannot be loaded safely (not a state dict ``weights_only`` accepts, truncated, or of
another model's shape) is never loaded any other way: it is moved aside as
``checkpoint.pt.bad-<time>`` (into ``set_aside_dir``, the run directory unless told), and the
run resumes from the previous checkpoint; when that one is bad too (moved aside the same way)
or missing, the run starts again from its initial weights (``init_state``: for a retraining,
the active model's), its history moved aside with the checkpoints. One line
(:attr:`TrainOutcome.note`, also logged and given to ``log``) says what happened. Every
epoch's randomness derives from (seed, epoch), so a resumed run repeats what an uninterrupted
one would have done. Audio clips and lyrics are unpaired samples: each batch mixes both kinds
and a mask tells the model which branch each sample has. With a contrastive weight in the
model config, each clip brings a partner clip of the same group (track) into its batch.

``cancel`` is checked between batches; a cancelled run raises :class:`musicorg.jobs.Cancelled`
and keeps the checkpoint of its last finished epoch, from which the next run resumes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from musicorg.jobs import Cancelled
from musicorg.model.bundle import pick_device
from musicorg.model.vae import (
    HybridVAE,
    Masks,
    VAEConfig,
    distance_preservation,
    track_contrastive,
)

CKPT = "checkpoint.pt"
PREV_CKPT = "checkpoint.prev.pt"  # the checkpoint before the last: where a bad one falls back to
_log = logging.getLogger(__name__)
# What loading a bad checkpoint raises: a pickle that weights_only refuses, a truncated or
# damaged file, or state dicts that do not fit the model.
_BAD_CHECKPOINT = (
    pickle.UnpicklingError,
    RuntimeError,
    EOFError,
    OSError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    zipfile.BadZipFile,
)
HISTORY = "history.jsonl"
# Parameters of the lyrics branch: re-initialised when the lyrics pipeline is refitted (the
# old weights mean nothing in a new TF-IDF/PCA basis).
TEXT_BRANCH_PREFIXES = ("text_enc.", "text_mu.", "text_logvar.", "text_skip.", "text_dec.")


@dataclass
class TrainArrays:
    """Normalised training data. ``group`` gives each audio row its track (contrastive)."""

    audio: NDArray[np.float32]  # (N, n_features, n_frames)
    stats: NDArray[np.float32]  # (N, stats_dim); zeros when the model uses no statistics
    text: NDArray[np.float32]  # (M, text_dim) lyrics vectors, unpaired with the audio
    group: NDArray[np.int64]  # (N,)
    # Position of each clip in its track (clips of a track lie end to end); None when the
    # clips are not contiguous pieces of one recording (no shift augmentation then).
    order: NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        n = self.audio.shape[0]
        if self.stats.shape[0] != n or self.group.shape[0] != n:
            raise ValueError("audio, stats and group must have one row per clip")
        if self.order is not None and self.order.shape[0] != n:
            raise ValueError("order must have one entry per clip")
        if n == 0:
            raise ValueError("nothing to train on: no analysed audio")


@dataclass
class TrainSettings:
    epochs: int = 100
    batch_size: int = 64
    lr: float = 5e-4
    grad_clip: float = 1.0
    weight_decay: float = 0.0
    text_samples_per_epoch: int = 0  # 0: every lyric once per epoch
    seed: int = 0
    device: str = "auto"
    threads: int = 1  # torch CPU threads; 0 leaves torch's setting alone
    # None: β follows the config's annealing schedule; a number: β stays at it (a fine-tune
    # continues at the final β and does not anneal from 0 again).
    constant_beta: float | None = None
    # Crop/stretch augmentation: each clip's matrix becomes a random window of at least this
    # share of its frames, stretched back to full length (0 = off; statistics untouched).
    augment_min_crop: float = 0.0
    # Shift augmentation: each clip's window moves by a random share of a clip (up to this
    # share, either way) into the neighbouring clip of the same track, so the model sees
    # windows at any offset rather than a fixed grid; its statistics are interpolated.
    augment_shift: float = 0.0
    # Run the audio decoder only on the rows that carry audio (about 2x faster with mixed
    # batches; the decoder's batch norm then sees audio rows only). Off reproduces runs made
    # before it existed (the paper configuration's).
    decode_present_only: bool = False


@dataclass
class EpochReport:
    """What a progress callback hears after each finished epoch."""

    epoch: int  # 1-based, finished
    epochs: int
    seconds: float
    eta_s: float  # estimated seconds left
    row: dict[str, Any]  # the history line: total, audio, text, stats, kl, beta, ...

    @property
    def total(self) -> float:
        return float(self.row["total"])

    @property
    def audio(self) -> float:
        return float(self.row["audio"])

    @property
    def text(self) -> float:
        return float(self.row["text"])

    @property
    def kl(self) -> float:
        return float(self.row["kl"])

    @property
    def beta(self) -> float:
        return float(self.row["beta"])

    def as_dict(self) -> dict[str, Any]:
        keys = (
            "total",
            "audio",
            "text",
            "stats",
            "teacher",
            "distance",
            "kl",
            "beta",
            "contrastive",
        )
        out: dict[str, Any] = {k: float(self.row[k]) for k in keys if k in self.row}
        out.update(epoch=self.epoch, epochs=self.epochs, seconds=self.seconds, eta_s=self.eta_s)
        return out


@dataclass
class TrainOutcome:
    model: HybridVAE  # in eval mode, on the training device
    device: torch.device
    epochs: int  # finished epochs in the checkpoint
    resumed_from: int  # 0 for a fresh run
    history: list[dict[str, Any]] = field(default_factory=list)  # rows of this call
    # Where the unloadable checkpoints went, the latest's first (empty when none was bad).
    set_aside_all: list[Path] = field(default_factory=list)
    # What the run started from after a bad checkpoint: "previous" (the checkpoint before
    # it) or "initial" (init_state, or new weights); None when no checkpoint was bad.
    fallback: str | None = None
    note: str | None = None  # the one line that says so

    @property
    def set_aside(self) -> Path | None:
        """Where the first unloadable checkpoint was moved, if one was."""
        return self.set_aside_all[0] if self.set_aside_all else None


def _batches(
    n_audio: int, n_text: int, batch_size: int, rng: np.random.Generator
) -> list[NDArray[np.int64]]:
    """Mixed batches of sample ids: 0..n_audio-1 are clips, n_audio.. are lyrics."""
    ids = rng.permutation(n_audio + n_text)
    return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]


def crop_stretch(a: Tensor, min_crop: float, rng: np.random.Generator) -> Tensor:
    """Each row (F, T): a random contiguous window of >= min_crop * T frames, resampled to T."""
    n_frames = a.shape[-1]
    out = torch.empty_like(a)
    for i in range(a.shape[0]):
        length = int(rng.integers(max(2, round(min_crop * n_frames)), n_frames + 1))
        start = int(rng.integers(0, n_frames - length + 1))
        win = a[i : i + 1, :, start : start + length]
        out[i] = torch.nn.functional.interpolate(
            win, size=n_frames, mode="linear", align_corners=True
        )[0]
    return out


def neighbours(
    group: NDArray[np.int64], order: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Row of the previous and of the next clip of the same track (-1 where none)."""
    where = {(int(g), int(o)): i for i, (g, o) in enumerate(zip(group, order, strict=True))}
    prev = np.array(
        [where.get((int(g), int(o) - 1), -1) for g, o in zip(group, order, strict=True)]
    )
    nxt = np.array([where.get((int(g), int(o) + 1), -1) for g, o in zip(group, order, strict=True)])
    return prev.astype(np.int64), nxt.astype(np.int64)


def shift_windows(
    xa: Tensor,
    xs: Tensor,
    rows: NDArray[np.int64],
    prev: NDArray[np.int64],
    nxt: NDArray[np.int64],
    max_share: float,
    rng: np.random.Generator,
) -> tuple[Tensor, Tensor]:
    """Matrices (and statistics) of windows shifted from clip ``rows`` into a neighbour.

    A shift of d frames to the right takes the last T-d frames of the clip and the first d of
    the next one; to the left, the last d of the previous clip and the first T-d of this one.
    A clip without the needed neighbour stays where it is. The 78 statistics of the window are
    the frame-weighted mix of the two clips' (exact for the means, close for the spreads).
    """
    n_frames = xa.shape[-1]
    limit = max(0, min(n_frames - 1, round(max_share * n_frames)))
    a = xa[torch.from_numpy(rows)].clone()
    s = xs[torch.from_numpy(rows)].clone()
    if limit == 0:
        return a, s
    shifts = rng.integers(-limit, limit + 1, size=len(rows))
    for k, (i, d) in enumerate(zip(rows, shifts, strict=True)):
        d = int(d)
        if d > 0 and nxt[i] >= 0:
            j = int(nxt[i])
            a[k] = torch.cat([xa[i, :, d:], xa[j, :, :d]], dim=-1)
        elif d < 0 and prev[i] >= 0:
            j = int(prev[i])
            d = -d
            a[k] = torch.cat([xa[j, :, n_frames - d :], xa[i, :, : n_frames - d]], dim=-1)
        else:
            continue
        w = d / n_frames
        s[k] = (1.0 - w) * xs[i] + w * xs[j]
    return a, s


def _partner(clips: NDArray[np.int64], i: int, rng: np.random.Generator) -> int:
    others = clips[clips != i]
    return int(rng.choice(others)) if len(others) else i


def load_init_state(
    model: HybridVAE, state: Mapping[str, Tensor], skip_prefixes: tuple[str, ...] = ()
) -> list[str]:
    """Copy ``state`` into ``model`` except the keys under ``skip_prefixes`` (left as freshly
    initialised); return the skipped keys. Any other difference is an error."""
    kept = {k: v for k, v in state.items() if not k.startswith(skip_prefixes)}
    result = model.load_state_dict(kept, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith(skip_prefixes)]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"initial weights do not fit the model: missing {missing}, "
            f"unexpected {list(result.unexpected_keys)}"
        )
    return sorted(k for k in state if k.startswith(skip_prefixes))


@contextmanager
def keep_torch_threads() -> Iterator[None]:
    """Restore torch's CPU thread count afterwards (training sets it for the process)."""
    n = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(n)


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / HISTORY
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def train(
    model_cfg: VAEConfig,
    data: TrainArrays,
    settings: TrainSettings,
    run_dir: Path,
    *,
    init_state: Mapping[str, Tensor] | None = None,
    skip_init_prefixes: tuple[str, ...] = (),
    init_label: str | None = None,
    set_aside_dir: Path | None = None,
    progress: Callable[[EpochReport], None] | None = None,
    batch_progress: Callable[[int, int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    on_epoch_end: Callable[[dict[str, Any], HybridVAE], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainOutcome:
    """Train (or resume training) ``model_cfg`` on ``data`` up to ``settings.epochs`` epochs.

    ``init_state``: starting weights for a fresh run (a fine-tune), minus the keys under
    ``skip_init_prefixes``; ignored when resuming from a checkpoint. ``init_label`` names
    those weights in the note of a run that falls back to them ("the active model's
    weights"); ``set_aside_dir`` is where unloadable checkpoints go (default: ``run_dir``).
    ``progress`` hears each
    finished epoch, ``batch_progress(epoch, batch, n_batches)`` each finished batch;
    ``on_epoch_end(row, model)`` may add entries to the history row after the checkpoint
    is written.
    """
    say = log or (lambda _msg: None)
    if settings.threads > 0:
        torch.set_num_threads(max(1, int(settings.threads)))
    device = pick_device(str(settings.device))
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors = _Tensors.of(data, settings)
    ckpt_path = run_dir / CKPT
    init = _Init(model_cfg, settings, device, init_state, skip_init_prefixes, init_label)
    got = _model_and_optimiser(init, run_dir, set_aside_dir or run_dir, say)
    model, opt, start = got.model, got.opt, got.epoch
    epochs = int(settings.epochs)
    outcome = TrainOutcome(
        model=model,
        device=device,
        epochs=start,
        resumed_from=start,
        set_aside_all=got.set_aside,
        fallback=got.fallback,
        note=got.note,
    )
    if start >= epochs:
        say(f"already trained for {start} >= {epochs} epochs")
        model.eval()
        return outcome

    durations: list[float] = []
    for epoch in range(start, epochs):
        t0 = time.time()
        row = _epoch(model, opt, tensors, settings, epoch, device, batch_progress, cancel)
        secs = time.time() - t0
        row.update(epoch=epoch + 1, seconds=round(secs, 2))
        state = {"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch + 1}
        save_checkpoint(ckpt_path, state)
        outcome.epochs = epoch + 1
        if on_epoch_end is not None:
            on_epoch_end(row, model)
        with (run_dir / HISTORY).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        outcome.history.append(row)
        durations.append(secs)
        if progress is not None:
            eta = float(np.mean(durations)) * (epochs - epoch - 1)
            progress(EpochReport(epoch + 1, epochs, secs, eta, row))
    model.eval()
    return outcome


@dataclass
class _Tensors:
    """The training arrays as tensors, and what the batches need to know of them."""

    audio: Tensor
    stats: Tensor
    text: Tensor
    track_of: NDArray[np.int64]  # each clip's track
    clips_of: dict[int, NDArray[np.int64]]  # each track's clips
    shift: float  # the shift augmentation's largest share (0: off)
    prev_row: NDArray[np.int64]  # each clip's neighbours in its track (-1: none)
    next_row: NDArray[np.int64]
    text_per_epoch: int

    @property
    def n_audio(self) -> int:
        return int(self.audio.shape[0])

    @property
    def n_lyrics(self) -> int:
        return int(self.text.shape[0])

    @classmethod
    def of(cls, data: TrainArrays, settings: TrainSettings) -> _Tensors:
        xa = torch.from_numpy(np.ascontiguousarray(data.audio, dtype=np.float32))
        xs = torch.from_numpy(np.ascontiguousarray(data.stats, dtype=np.float32))
        xt = torch.from_numpy(np.ascontiguousarray(data.text, dtype=np.float32))
        track_of = np.asarray(data.group, dtype=np.int64)
        clips_of = {int(t): np.nonzero(track_of == t)[0] for t in np.unique(track_of)}
        shift = float(settings.augment_shift) if data.order is not None else 0.0
        if shift > 0 and data.order is not None:
            prev_row, next_row = neighbours(track_of, np.asarray(data.order, dtype=np.int64))
        else:
            prev_row = next_row = np.full(xa.shape[0], -1, dtype=np.int64)
        n_lyrics = xt.shape[0]
        text_per_epoch = (int(settings.text_samples_per_epoch) or n_lyrics) if n_lyrics else 0
        return cls(xa, xs, xt, track_of, clips_of, shift, prev_row, next_row, text_per_epoch)


@dataclass
class _Init:
    """How a run's model and optimiser are made before any checkpoint is loaded into them."""

    cfg: VAEConfig
    settings: TrainSettings
    device: torch.device
    state: Mapping[str, Tensor] | None  # starting weights, or None for new ones
    skip_prefixes: tuple[str, ...]
    label: str | None  # what the starting weights are, for the note

    def fresh(self) -> tuple[HybridVAE, torch.optim.Optimizer]:
        torch.manual_seed(int(self.settings.seed))
        model = HybridVAE(self.cfg)
        if self.state is not None:
            load_init_state(model, self.state, self.skip_prefixes)
        model.to(self.device)
        opt = torch.optim.Adam(
            model.parameters(),
            lr=float(self.settings.lr),
            weight_decay=float(self.settings.weight_decay),
        )
        return model, opt

    def name(self) -> str:
        if self.label:
            return self.label
        return "its initial weights" if self.state is not None else "new weights"


@dataclass
class _Started:
    """What a run starts from: the model and optimiser, the epochs done, and what became of
    checkpoints that could not be loaded."""

    model: HybridVAE
    opt: torch.optim.Optimizer
    epoch: int
    set_aside: list[Path] = field(default_factory=list)
    fallback: str | None = None  # "previous" or "initial", after a bad checkpoint
    note: str | None = None


def _model_and_optimiser(
    init: _Init, run_dir: Path, aside_dir: Path, say: Callable[[str], None]
) -> _Started:
    """The model and its optimiser from the newest checkpoint that loads safely: the last
    one, else the one before it (``checkpoint.prev.pt``), else the initial weights. Each
    checkpoint that cannot be loaded is moved to ``aside_dir``; one line says what happened."""
    model, opt = init.fresh()
    failures: list[str] = []
    started = _Started(model, opt, 0)
    for path in (run_dir / CKPT, run_dir / PREV_CKPT):
        if not path.exists():
            continue
        try:
            started.epoch = _resume(started.model, started.opt, path)
        except _BAD_CHECKPOINT as exc:
            aside = set_aside_checkpoint(path, aside_dir)
            started.set_aside.append(aside)
            which = "checkpoint" if path.name == CKPT else "the previous checkpoint"
            either = " either" if failures else ""
            failures.append(
                f"{which} {path} could not be loaded safely{either} ({type(exc).__name__}); "
                f"set aside as {aside}"
            )
            # The failed load may have changed some weights: build both again.
            started.model, started.opt = init.fresh()
            continue
        _trim_history(run_dir, started.epoch)
        if failures:
            started.fallback = "previous"
            _tell(
                started,
                [*failures, f"resumed from the previous checkpoint (epoch {started.epoch})"],
                say,
            )
        else:
            before = " (the previous checkpoint)" if path.name == PREV_CKPT else ""
            say(f"resuming after epoch {started.epoch}{before}")
        return started
    if failures:
        _set_aside_history(run_dir, started.set_aside[-1])
        started.fallback = "initial"
        _tell(started, [*failures, f"started again from {init.name()}"], say)
    return started


def _tell(started: _Started, parts: list[str], say: Callable[[str], None]) -> None:
    started.note = "; ".join(parts)
    _log.warning(started.note)
    say(started.note)


def _resume(model: HybridVAE, opt: torch.optim.Optimizer, ckpt_path: Path) -> int:
    """Load the checkpoint into ``model`` and ``opt``; its finished epochs. Raises one of
    ``_BAD_CHECKPOINT`` for a file that is not a checkpoint of this model. Only ever
    ``weights_only=True``: whatever else the file holds is refused, never run."""
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or not all(k in ckpt for k in ("model", "opt", "epoch")):
        raise ValueError("not a checkpoint")
    epoch = ckpt["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"bad epoch {epoch!r}")
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["opt"])
    # Adam checks the groups but not the shapes of its moments: a mismatch would only fail
    # in the middle of the first step.
    for group in opt.param_groups:
        for p in group["params"]:
            for v in opt.state.get(p, {}).values():
                if isinstance(v, Tensor) and v.dim() > 0 and v.shape != p.shape:
                    raise ValueError("optimiser state does not fit the model")
    return epoch


def save_checkpoint(ckpt_path: Path, state: Mapping[str, Any]) -> None:
    """Write ``state`` as the checkpoint at ``ckpt_path``, keeping the one it replaces as
    ``checkpoint.prev.pt`` beside it. The new file is written under a temporary name and
    synced to disk before it takes the checkpoint's name, so a crash at any moment leaves the
    last checkpoint, or (between the two renames) the previous one, whole."""
    tmp = ckpt_path.with_name(ckpt_path.name + ".tmp")
    try:
        with tmp.open("wb") as fh:
            torch.save(dict(state), fh)
            fh.flush()
            os.fsync(fh.fileno())
        if ckpt_path.exists():
            os.replace(ckpt_path, ckpt_path.with_name(PREV_CKPT))
        os.replace(tmp, ckpt_path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_folder(ckpt_path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (where a folder can be opened: not on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def set_aside_checkpoint(ckpt_path: Path, aside_dir: Path | None = None) -> Path:
    """Move a bad checkpoint to ``<aside_dir>/<its name>.bad-<time>`` (default: its own
    folder); the new path."""
    folder = aside_dir or ckpt_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = folder / f"{ckpt_path.name}.bad-{stamp}"
    n = 1
    while aside.exists():
        n += 1
        aside = folder / f"{ckpt_path.name}.bad-{stamp}-{n}"
    os.replace(ckpt_path, aside)
    return aside


def _set_aside_history(run_dir: Path, aside: Path) -> None:
    """Move the run's history beside the checkpoint set aside at ``aside`` (same suffix), so
    that the run starting again has an empty one."""
    history = run_dir / HISTORY
    if history.exists():
        suffix = aside.name[aside.name.index(".bad-") :]
        os.replace(history, aside.with_name(HISTORY + suffix))


def _trim_history(run_dir: Path, epoch: int) -> None:
    """Drop the history rows of epochs after ``epoch`` (a run resumed from an earlier
    checkpoint repeats them)."""
    rows = read_history(run_dir)
    kept = [r for r in rows if int(r.get("epoch", 0)) <= epoch]
    if len(kept) == len(rows):
        return
    path = run_dir / HISTORY
    tmp = path.with_name(HISTORY + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    os.replace(tmp, path)


def _epoch(
    model: HybridVAE,
    opt: torch.optim.Optimizer,
    d: _Tensors,
    settings: TrainSettings,
    epoch: int,
    device: torch.device,
    batch_progress: Callable[[int, int, int], None] | None,
    cancel: Callable[[], bool] | None,
) -> dict[str, Any]:
    """One epoch (0-based); the mean of each loss term over its batches."""
    seed = int(settings.seed)
    # Every epoch's randomness derives from (seed, epoch): a resumed run repeats it.
    rng = np.random.default_rng([seed, epoch])
    torch.manual_seed(seed * 100003 + epoch)
    if d.n_lyrics:
        text_ids = rng.choice(d.n_lyrics, d.text_per_epoch, replace=d.text_per_epoch > d.n_lyrics)
    else:
        text_ids = np.zeros(0, dtype=np.int64)
    batches = _batches(d.n_audio, len(text_ids), int(settings.batch_size), rng)
    model.train()
    sums: dict[str, float] = {}
    nb = len(batches)
    for bi, ids in enumerate(batches):
        if cancel is not None and cancel():
            raise Cancelled()
        if settings.constant_beta is None:
            beta = model.beta_at(epoch + bi / nb)
        else:
            beta = float(settings.constant_beta)
        batch = _Batch.of(d, model.cfg, settings, ids, text_ids, rng)
        terms = _losses(model, d, settings, batch, beta, device)
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()  # type: ignore[no-untyped-call]
        if float(settings.grad_clip) > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(settings.grad_clip))
        opt.step()
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
        if batch_progress is not None:
            batch_progress(epoch + 1, bi + 1, nb)
    return {k: v / nb for k, v in sums.items()}


@dataclass
class _Batch:
    """One mixed batch on the CPU: audio rows (with their statistics) and lyrics rows."""

    ids: NDArray[np.int64]  # sample ids: clips below n_audio, lyrics from n_audio on
    is_audio: NDArray[np.bool_]
    audio_rows: Tensor  # the rows of the batch that carry audio
    audio: Tensor
    stats: Tensor
    text: Tensor

    @classmethod
    def of(
        cls,
        d: _Tensors,
        mcfg: VAEConfig,
        settings: TrainSettings,
        ids: NDArray[np.int64],
        text_ids: NDArray[np.int64],
        rng: np.random.Generator,
    ) -> _Batch:
        n_audio = d.n_audio
        if float(mcfg.contrastive_weight) > 0:
            # Each clip brings a partner clip of the same track (itself if it is alone).
            aud = ids[ids < n_audio]
            partners = np.array(
                [_partner(d.clips_of[int(d.track_of[i])], int(i), rng) for i in aud],
                dtype=ids.dtype,
            )
            ids = np.concatenate([ids, partners])
        is_audio = ids < n_audio
        b = len(ids)
        a = torch.zeros(b, mcfg.n_features, mcfg.n_frames)
        s = torch.zeros(b, mcfg.side_dim)
        t = torch.zeros(b, mcfg.text_dim)
        ai = torch.from_numpy(np.nonzero(is_audio)[0])
        ti = torch.from_numpy(np.nonzero(~is_audio)[0])
        aid = torch.from_numpy(ids[is_audio])
        tid = torch.from_numpy(text_ids[ids[~is_audio] - n_audio])
        if d.shift > 0 and len(aid):
            a[ai], s[ai] = shift_windows(
                d.audio, d.stats, ids[is_audio], d.prev_row, d.next_row, d.shift, rng
            )
        else:
            a[ai] = d.audio[aid]
            s[ai] = d.stats[aid]
        if settings.augment_min_crop > 0 and len(aid):
            a[ai] = crop_stretch(a[ai], float(settings.augment_min_crop), rng)
        t[ti] = d.text[tid]
        return cls(ids, is_audio, ai, a, s, t)


def _losses(
    model: HybridVAE,
    d: _Tensors,
    settings: TrainSettings,
    batch: _Batch,
    beta: float,
    device: torch.device,
) -> dict[str, Tensor]:
    """The loss terms of one batch on ``device``; "total" is the one to minimise."""
    mcfg = model.cfg
    is_audio = batch.is_audio
    masks = Masks(
        audio=torch.from_numpy(is_audio).to(device),
        text=torch.from_numpy(~is_audio).to(device),
    )
    a, s, t = batch.audio.to(device), batch.stats.to(device), batch.text.to(device)
    out = model(
        a,
        s if mcfg.use_stats else None,
        t,
        masks,
        decode_present_only=bool(settings.decode_present_only),
    )
    terms: dict[str, Tensor] = model.loss_function(
        out, a, s if mcfg.use_stats else None, t, masks, beta
    )
    ai = batch.audio_rows
    cw = float(mcfg.contrastive_weight)
    if cw > 0:
        group = torch.from_numpy(d.track_of[batch.ids[is_audio]]).to(device)
        con = track_contrastive(out["mu"][ai.to(device)], group, mcfg.contrastive_tau)
        terms["total"] = terms["total"] + cw * con
        terms["contrastive"] = con.detach()
    dw = float(mcfg.distance_weight)
    if dw > 0 and mcfg.teacher_dim and len(ai) > 2:
        rows = ai.to(device)
        dist = distance_preservation(out["mu"][rows], s[rows][:, mcfg.stats_dim :])
        terms["total"] = terms["total"] + dw * dist
        terms["distance"] = dist.detach()
    return terms


__all__ = [
    "CKPT",
    "HISTORY",
    "PREV_CKPT",
    "TEXT_BRANCH_PREFIXES",
    "EpochReport",
    "TrainArrays",
    "TrainOutcome",
    "TrainSettings",
    "keep_torch_threads",
    "load_init_state",
    "neighbours",
    "read_history",
    "save_checkpoint",
    "set_aside_checkpoint",
    "shift_windows",
    "train",
]
