"""Featurising clips for the training corpora: the app's features of each 30-s clip, and
MusiCNN's outputs per 3-s patch (used by training/prepare.py and training/realsongs.py)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from musicorg.analyse.audio import decode_window
from musicorg.analyse.features import FEATURES_VERSION, features_from_signal, teacher_audio

N_TEACHER_PATCHES = 10  # every non-overlapping 3-s patch of a 30-s clip


def default_patches() -> int:
    from musicorg.model.musicnn import DEFAULT_PATCHES

    return DEFAULT_PATCHES


def make_teacher(device: str = "auto") -> Any:
    """MusiCNN (frozen) on ``device``, for the per-patch vectors of the corpus."""
    from musicorg.model.bundle import pick_device
    from musicorg.model.musicnn import Teacher

    return Teacher(pick_device(device))


def featurise_clips(
    path: Path,
    starts: list[float],
    clip_seconds: float,
    sr: int,
    teacher: Any,
    patches: int | None = None,
) -> dict[str, np.ndarray]:
    """Features of the clips of one file starting at ``starts`` (laid end to end): one decode
    of the whole span, then per clip the 39x130 matrix, statistics and descriptors, and
    MusiCNN's penultimate vectors and tag probabilities per 3-s patch (``musicnn``
    (n, 10, 200), ``tags`` (n, 10, 50)): of every patch with ``patches`` None, so that any
    patch count can be studied without decoding again, else of the ``patches`` that the app
    uses (:func:`musicorg.model.musicnn.patch_starts`), the others left NaN. ``n_patches``
    is the number of patches the clip holds (10 for 30 s)."""
    from training.data import patch_subset

    # A file shorter than the span gives all of itself (one clip: see clip_starts).
    signal, _ = decode_window(path, seconds=clip_seconds * len(starts), sr=sr, offset=starts[0])
    clip_len = round(clip_seconds * sr)
    feats, audios = [], []
    for k in range(len(starts)):
        piece = signal[k * clip_len : (k + 1) * clip_len]
        feats.append(features_from_signal(piece, sr))
        audios.append(teacher_audio(piece, sr))
    outs = teacher.patch_outputs(audios, patches)
    n = len(starts)
    musicnn = np.full((n, N_TEACHER_PATCHES, 200), np.nan, np.float32)
    tags = np.full((n, N_TEACHER_PATCHES, 50), np.nan, np.float32)
    counts = np.zeros(n, np.int64)
    for k, (pen, prob) in enumerate(outs):
        frames = 1 + len(audios[k]) // 256  # MusiCNN's centred frames (hop 256)
        total = min(N_TEACHER_PATCHES, max(1, frames // 187))
        idx = patch_subset(total, patches)[: len(pen)]
        musicnn[k, idx], tags[k, idx], counts[k] = pen[: len(idx)], prob[: len(idx)], total
    return {
        "X": np.stack([f.matrix for f in feats]).astype(np.float32),
        "stats": np.stack([f.stats for f in feats]).astype(np.float32),
        "tempo": np.asarray([f.tempo for f in feats], dtype=np.float32),
        "brightness": np.asarray([f.brightness for f in feats], dtype=np.float32),
        "energy": np.asarray([f.energy for f in feats], dtype=np.float32),
        "weak": np.asarray([f.weak for f in feats], dtype=bool),
        "n_frames": np.asarray([f.n_frames for f in feats], dtype=np.int64),
        "start": np.asarray(starts, dtype=np.float32),
        "musicnn": musicnn,
        "tags": tags,
        "n_patches": counts,
        "features_version": np.asarray(FEATURES_VERSION),
    }


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically (a temporary file, then a rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


def read_partial(path: Path) -> dict[str, np.ndarray] | None:
    """A partial result file's arrays, or None when it is missing, truncated or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None
