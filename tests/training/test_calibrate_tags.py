"""training/calibrate_tags.py on synthetic real-song archives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musicorg.model import autotags
from training import calibrate_tags as ct

NAMES = list(autotags.tag_names())


def test_patch_indices_are_the_apps() -> None:
    assert ct.patch_indices(10) == [1, 5, 8]
    assert ct.patch_indices(3) == [0, 1, 2] and ct.patch_indices(1) == [0]
    assert ct.patch_indices(0) == [0]
    musicnn = pytest.importorskip("musicorg.model.musicnn")
    assert musicnn.DEFAULT_PATCHES == ct.PATCHES
    frames = musicnn.PATCH_FRAMES
    for p in (1, 2, 3, 4, 7, 10, 20):
        starts = musicnn.patch_starts(p * frames + 5, ct.PATCHES)
        assert [s // frames for s in starts] == ct.patch_indices(p)


def test_clip_probs_mean_the_default_patches() -> None:
    tags = np.full((3, 10, 50), np.nan, np.float32)
    tags[0] = np.arange(10, dtype=np.float32)[:, None]  # patch i says i
    tags[1, :2] = [[0.2], [0.4]]
    out = ct.clip_probs(tags, np.array([10, 2, 0]))
    assert out[0] == pytest.approx(np.full(50, (1 + 5 + 8) / 3))
    assert out[1] == pytest.approx(np.full(50, 0.3))
    assert np.isnan(out[2]).all()


def test_best_f1_threshold() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.1, np.nan])
    labels = np.array([1, 1, 1, 0, 1, 0, 0, 1], bool)
    fit = ct.best_f1(scores, labels)
    # Top 3: P 1, R 0.75, F1 0.857; top 5: P 0.8, R 1, F1 0.889 (the best).
    assert fit.f1 == pytest.approx(8 / 9)
    assert fit.threshold == pytest.approx((0.3 + 0.2) / 2)
    assert (fit.precision, fit.recall) == (pytest.approx(0.8), pytest.approx(1.0))
    # Ties are never split: the cut falls between distinct scores.
    tied = ct.best_f1(np.array([0.5, 0.5, 0.1]), np.array([1, 0, 0], bool))
    assert tied.threshold == pytest.approx(0.3) and tied.precision == pytest.approx(0.5)
    assert ct.best_f1(np.array([0.5]), np.array([False])).f1 == 0.0
    assert ct.top_share_threshold(np.arange(101) / 100) == pytest.approx(0.9)


def synthetic_clips(seed: int = 0) -> ct.Clips:
    """4Q and Emotify clips whose jazz and happy probabilities follow their labels, with a
    held-out split whose scores would move the thresholds if they were used."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, str, str, str]] = []
    for i in range(400):
        genre = ["Jazz", "Pop/Rock", "Country", "Rap"][i % 4]
        rows.append(("4q", "train", genre, f"Q{i % 4 + 1}", f"{genre}; Blues" if i % 8 else genre))
    for i in range(200):
        rows.append(("emotify", "train", ["rock", "pop", "classical", "electronic"][i % 4], "", ""))
    rows += [("4q", "test", "Jazz", "Q1", "Jazz")] * 100
    n = len(rows)
    tags = np.full((n, 10, 50), np.nan, np.float32)
    n_patches = np.full(n, 10)
    base = rng.uniform(0.0, 0.05, (n, 10, 50)).astype(np.float32)
    tags[:] = base
    col = {name: NAMES.index(name) for name in NAMES}
    for i, (dataset, split, genre, quadrant, _g) in enumerate(rows):
        if split == "test":
            tags[i, :, col["jazz"]] = 0.01  # would pull the jazz threshold down if used
            continue
        if genre == "Jazz":
            tags[i, :, col["jazz"]] = rng.uniform(0.4, 0.7)
        elif dataset == "4q":
            tags[i, :, col["jazz"]] = rng.uniform(0.05, 0.3)
        if quadrant == "Q1":
            tags[i, :, col["happy"]] = rng.uniform(0.2, 0.4)
    tags[:, :, col["sexy"]] = 0.0  # never said
    tags[::7, 5:] = np.nan  # some clips are shorter
    n_patches[::7] = 5
    fields = list(zip(*rows, strict=True))
    return ct.Clips(
        dataset=np.array(fields[0]),
        split=np.array(fields[1]),
        genre=np.array(fields[2]),
        quadrant=np.array(fields[3]),
        tags=tags,
        n_patches=n_patches.astype(np.int64),
        genres=np.array(fields[4]),
    )


def test_labels_of_the_rules() -> None:
    clips = synthetic_clips()
    counts, positive = ct.labels(ct.RULES["jazz"], clips)
    assert counts.sum() == len(clips) and positive.sum() == 100 + 100  # train + test Jazz
    # "blues" counts a 4Q clip by any of its genres, not only the first.
    _, blues = ct.labels(ct.RULES["blues"], clips)
    assert clips.genres is not None
    assert blues.sum() == sum(1 for g in clips.genres if "Blues" in g) == 350
    # "rock": Emotify's rock folder; 4Q Pop/Rock clips are neither yes nor no.
    counts, positive = ct.labels(ct.RULES["rock"], clips)
    assert positive.sum() == 50 and not counts[(clips.genre == "Pop/Rock")].any()
    # Emotion rules count only 4Q clips.
    counts, positive = ct.labels(ct.RULES["happy"], clips)
    assert counts.sum() == 500 and positive.sum() == 200


def test_calibrate_uses_f1_where_labels_exist_and_the_top_share_elsewhere() -> None:
    clips = synthetic_clips()
    train = clips.subset(clips.split == "train")
    doc = ct.calibrate(ct.clip_probs(train.tags, train.n_patches), train, NAMES)
    th, src = doc["thresholds"], doc["source"]
    assert set(th) == set(NAMES) == set(src)
    # Jazz clips score 0.4-0.7, others at most 0.3: a perfect cut between them.
    assert 0.3 <= th["jazz"] <= 0.4 and src["jazz"].startswith("F0.5 1.00")
    assert 0.05 <= th["happy"] <= 0.2 and src["happy"].startswith("F0.5 1.00")
    # Rap has labels but the scores carry nothing: F1 no better than calling all positive.
    assert src["Hip-Hop"].startswith("top 10%") and "only" in src["Hip-Hop"]
    # No label at all: the top-10 % value (kept at the floor when it is under it).
    train_probs = ct.clip_probs(train.tags, train.n_patches)
    catchy = np.quantile(train_probs[:, NAMES.index("catchy")], 0.9)
    assert th["catchy"] == pytest.approx(catchy, abs=1e-4) and src["catchy"].startswith("top 10%")
    assert th["sexy"] == ct.FLOOR and "kept at" in src["sexy"]
    assert all(ct.FLOOR <= v <= ct.CEILING for v in th.values())


def test_main_writes_a_file_the_app_reads(tmp_path: Path) -> None:
    clips = synthetic_clips()
    archive = tmp_path / "realsongs-v3.npz"
    np.savez(
        archive,
        dataset=clips.dataset,
        split=clips.split,
        genre=clips.genre,
        quadrant=clips.quadrant,
        genres=clips.genres,
        tags=clips.tags,
        n_patches=clips.n_patches,
    )
    out = tmp_path / "models" / "tag_thresholds.json"
    assert ct.main(["--corpus", str(archive), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["provisional"] is False and doc["calibrated_on"]["split"] == "train"
    assert doc["calibrated_on"]["clips"] == {"4q": 400, "emotify": 200}
    # The held-out clips are only read for the record (their jazz scores are all 0.01).
    assert (
        doc["held_out"]["jazz"].startswith("F1 0.00")
        and "100 of 100 test clips" in (doc["held_out"]["jazz"])
    )
    (tmp_path / "models" / autotags.TAGS_NAME).write_text(json.dumps(NAMES))
    cut = autotags.thresholds(tmp_path / "models")
    assert cut == pytest.approx(doc["thresholds"]) and 0.3 <= cut["jazz"] <= 0.4
    assert ct.main(["--corpus", str(tmp_path / "none.npz"), "--out", str(out)]) == 1
