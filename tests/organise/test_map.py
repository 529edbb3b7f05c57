"""The 2-D map: PCA at once, UMAP in a subprocess, new tracks placed without a refit."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from musicorg import paths
from musicorg.jobs import Cancelled
from musicorg.organise import mapping
from musicorg.organise.mapping import compute_map, has_map, load_map, pca_2d, place, place_new
from tests.latent_fixtures import VERSION, add_tracks, new_catalogue


def blobs(n: int, d: int = 32, centres: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % centres
    means = rng.normal(scale=10.0, size=(centres, d))
    return (means[labels] + rng.normal(size=(n, d))).astype(np.float32), labels


def test_pca_one_point_per_track(tmp_path: Path) -> None:
    cat = new_catalogue(tmp_path)
    x, _ = blobs(120)
    keys = [f"k{i}" for i in range(120)]
    keys[7] = keys[3]  # a byte copy shares its point
    missing = [i == 11 for i in range(120)]
    ids = add_tracks(cat, x, keys=keys, missing=missing)
    report = compute_map(cat, "pca")
    assert report.points == 119 and report.fitted == 119 and report.placed == 0
    assert has_map(cat, VERSION, "pca") and not has_map(cat, VERSION, "umap")
    got_ids, xy = load_map(cat, VERSION, "pca")
    assert got_ids == [t for i, t in enumerate(ids) if not missing[i]]
    assert xy.shape == (119, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    by_id = dict(zip(got_ids, xy.tolist(), strict=True))
    assert by_id[ids[7]] == by_id[ids[3]]
    # The map is the principal plane: its spread is the top two singular values' share.
    ref = pca_2d(x[[i for i in range(120) if i != 7]])
    assert np.allclose(np.sort(np.abs(ref).sum(axis=0)), np.sort(np.abs(xy).sum(axis=0)), rtol=0.2)
    # Recomputing gives the same coordinates (fixed signs).
    compute_map(cat, "pca")
    assert np.array_equal(load_map(cat, VERSION, "pca")[1], xy)


def test_new_tracks_are_placed_without_refit(tmp_path: Path) -> None:
    cat = new_catalogue(tmp_path)
    x, labels = blobs(150)
    add_tracks(cat, x)
    compute_map(cat, "pca")
    before_ids, before = load_map(cat, VERSION, "pca")
    # New tracks: one identical to track 5, others close to tracks of cluster 1.
    rng = np.random.default_rng(1)
    near = [i for i in range(150) if labels[i] == 1][:9]
    new = np.stack([x[5]] + [x[i] + rng.normal(scale=0.01, size=32) for i in near])
    new_ids = add_tracks(cat, new.astype(np.float32), folder="/new")
    report = place_new(cat, "pca")
    assert report.placed == 10 and report.fitted == 0 and report.points == 160
    ids, xy = load_map(cat, VERSION, "pca")
    pos = dict(zip(ids, xy.tolist(), strict=True))
    # Nothing moved.
    assert all(pos[t] == p for t, p in zip(before_ids, before.tolist(), strict=True))
    assert np.allclose(pos[new_ids[0]], pos[before_ids[5]])
    cluster1 = np.array([pos[before_ids[i]] for i in range(150) if labels[i] == 1])
    others = np.array([pos[before_ids[i]] for i in range(150) if labels[i] != 1])
    for t in new_ids[1:]:
        p = np.array(pos[t])
        assert np.linalg.norm(cluster1 - p, axis=1).min() < np.linalg.norm(others - p, axis=1).min()
    assert place_new(cat, "pca").placed == 0


def test_place_weights_by_distance() -> None:
    ref_mu = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]], np.float32)
    ref_xy = np.array([[0.0, 0.0], [4.0, 0.0], [100.0, 100.0]], np.float32)
    xy = place(ref_mu, ref_xy, np.array([[0.25, 0.0], [1.0, 0.0]], np.float32), k=2)
    # Distances 0.25 and 0.75: weights 3:1 towards (0, 0).
    assert np.allclose(xy[0], [1.0, 0.0]) and np.allclose(xy[1], [4.0, 0.0])


@pytest.mark.slow  # a fresh numba cache: UMAP's first compile takes 20-60 s
def test_umap_in_a_subprocess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cat = new_catalogue(tmp_path)
    x, labels = blobs(400)
    add_tracks(cat, x)
    commands: list[list[str]] = []
    real = subprocess.Popen

    def spy(cmd: list[str], *args: Any, **kwargs: Any) -> Any:
        commands.append(cmd)
        assert kwargs["env"]["NUMBA_CACHE_DIR"] == str(paths.cache_dir() / "numba")
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(mapping.subprocess, "Popen", spy)
    report = compute_map(cat, "umap", sample=300)
    assert report.fitted == 300 and report.placed == 100 and report.points == 400
    assert commands and commands[0][1:3] == ["-m", "musicorg.organise.umap_worker"]
    assert any((paths.cache_dir() / "numba").iterdir())
    ids, xy = load_map(cat, VERSION, "umap")
    assert len(ids) == 400 and np.isfinite(xy).all()
    # The three blobs stay apart: every point's nearest other point is of its own blob.
    d = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=2)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(axis=1)] == labels).mean() > 0.95


def test_umap_cancel_kills_the_worker(tmp_path: Path) -> None:
    cat = new_catalogue(tmp_path)
    add_tracks(cat, blobs(60)[0])
    with pytest.raises(Cancelled):
        compute_map(cat, "umap", cancel=lambda: True)
    assert not has_map(cat, VERSION, "umap")
