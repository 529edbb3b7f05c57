"""The PyTorch MusiCNN against the reference TensorFlow graph, and its use as a teacher.

``tests/data/musicnn/`` holds 6 s of four test clips at 16 kHz (16-bit FLAC) and the outputs of
the original musicnn 0.1.0 graph on them (scripts/convert_musicnn.py --reference: the package's
own model restored from its checkpoint, fed float32 log-mels).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from musicorg.model.musicnn import (
    EMBED_DIM,
    N_TAGS,
    PATCH_FRAMES,
    Teacher,
    TeacherIntegrityError,
    default_dir,
    load_musicnn,
    patch_starts,
)

DATA = Path(__file__).parents[1] / "data" / "musicnn"
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(DATA / "reference.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def teacher() -> Teacher:
    return Teacher(CPU)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(
        (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)), np.float64
    )


@pytest.mark.parametrize("fuse", [True, False])
def test_port_matches_the_reference_graph(reference: dict[str, np.ndarray], fuse: bool) -> None:
    model, tags = load_musicnn(fuse=fuse)
    assert tags[0] == "rock" and len(tags) == N_TAGS
    t = Teacher(CPU)
    t.model = model
    clips = [str(c) for c in reference["clips"]]
    waves = [sf.read(DATA / c, dtype="float32")[0] for c in clips]
    outs = t.patch_outputs(waves, None)
    for i, (pen, prob) in enumerate(outs):
        ref_pen, ref_tags = reference[f"penultimate{i}"], reference[f"tags{i}"]
        assert pen.shape == ref_pen.shape == (2, EMBED_DIM)
        assert _cosine(pen, ref_pen).min() >= 0.999, clips[i]
        assert float(np.abs(prob - ref_tags).max()) <= 0.01, clips[i]


def test_the_port_hears_what_the_clips_are(teacher: Teacher) -> None:
    """Not a fixed answer: the clips' own genres, as a listener would name them."""
    expect = {
        "kevin_macleod_vibe_ace.16k.flac": "jazz",
        "muldjord_chaos_god.16k.flac": "metal",
        "parapraxis_digital_pursuit.16k.flac": "electronic",
    }
    waves = [sf.read(DATA / name, dtype="float32")[0] for name in expect]
    _, tags, counts = teacher.track_outputs(waves, None)
    assert list(counts) == [2, 2, 2]
    for row, want in zip(tags, expect.values(), strict=True):
        top3 = [teacher.tags[j] for j in np.argsort(row)[::-1][:3]]
        assert want in top3


def test_patches_are_spread_over_the_window() -> None:
    frames = 10 * PATCH_FRAMES + 6  # a 30-s window at 16 kHz
    assert patch_starts(frames, 1) == [5 * PATCH_FRAMES]
    assert patch_starts(frames, 3) == [PATCH_FRAMES * i for i in (1, 5, 8)]
    assert patch_starts(frames, None) == [PATCH_FRAMES * i for i in range(10)]
    assert patch_starts(frames, 20) == patch_starts(frames, None)
    assert patch_starts(100, 3) == [0]  # shorter than a patch: one (repeated) patch


def test_short_silent_and_empty_windows(teacher: Teacher) -> None:
    rng = np.random.default_rng(0)
    short = (0.1 * rng.standard_normal(8000)).astype(np.float32)  # 0.5 s
    vectors, tags, counts = teacher.track_outputs(
        [short, np.zeros(16000 * 4, np.float32), np.zeros(0, np.float32)]
    )
    assert vectors.shape == (3, EMBED_DIM) and tags.shape == (3, N_TAGS)
    assert list(counts) == [1, 1, 1]
    assert np.isfinite(vectors).all() and np.isfinite(tags).all()
    assert ((tags >= 0) & (tags <= 1)).all()


def test_batches_do_not_change_results(teacher: Teacher) -> None:
    rng = np.random.default_rng(1)
    waves = [(0.1 * rng.standard_normal(16000 * 30)).astype(np.float32) for _ in range(4)]
    together, _, _ = teacher.track_outputs(waves)
    alone = np.concatenate([teacher.track_outputs([w])[0] for w in waves])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_altered_weights_are_refused(tmp_path: Path) -> None:
    for f in default_dir().iterdir():
        shutil.copy(f, tmp_path / f.name)
    weights = tmp_path / "musicnn.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-10] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(TeacherIntegrityError):
        load_musicnn(tmp_path)
    weights.unlink()
    with pytest.raises(TeacherIntegrityError):
        load_musicnn(tmp_path)
