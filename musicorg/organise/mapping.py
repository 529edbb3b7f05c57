"""The 2-D map of the library: coordinates per content key, per model version and method.

Two methods, stored side by side in ``map_coords``:

- ``"pca"``: the first two principal axes of μ. Available at once (well under a second for
  100,000 tracks), so the map can be shown while UMAP is still running.
- ``"umap"``: UMAP fitted in a separate process (:mod:`musicorg.organise.umap_worker`; numba's
  compile
  holds the GIL, so not a thread), with ``NUMBA_CACHE_DIR`` in the user cache folder. It is
  fitted on a seeded sample of at most :data:`UMAP_SAMPLE` tracks; every other track is
  *placed*.

Placing a track means a distance-weighted average (weights ``1/d``) of the stored coordinates
of its :data:`PLACE_K` nearest neighbours in μ (Euclidean) among the tracks already on the
map. New tracks are added this way by :func:`place_new` without refitting, so existing points
never move; :func:`compute_map` refits from scratch. Nothing is pickled: the map is its stored
coordinates.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musicorg import paths
from musicorg.jobs import CancelFn, Cancelled, ProgressFn, never, no_progress
from musicorg.store import maps
from musicorg.store.db import Catalogue
from musicorg.store.vectors import active_model_version, content_vectors

log = logging.getLogger(__name__)

METHODS = ("pca", "umap")
UMAP_SAMPLE = 5000
UMAP_NEIGHBORS = 15
UMAP_EPOCHS = 300
PLACE_K = 10
MIN_UMAP_POINTS = 8


class MapError(RuntimeError):
    """The map could not be computed, with a message for people."""


@dataclass
class MapReport:
    model_version: str
    method: str
    points: int = 0
    fitted: int = 0  # points the projection was fitted on; the others were placed
    placed: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        if not self.points:
            return f"No tracks to map with model {self.model_version}."
        text = f"{self.method.upper()} map of {self.points} tracks (model {self.model_version})"
        if self.placed:
            text += f": fitted on {self.fitted}, {self.placed} placed by their neighbours"
        return text + f" in {self.seconds:.1f} s"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def numba_cache_dir() -> Path:
    return paths.cache_dir() / "numba"


def _version(cat: Catalogue, version: str | None) -> str:
    version = version or active_model_version(cat)
    if not version:
        raise MapError("no embeddings yet: run `musicorg analyse` first")
    return version


def pca_2d(x: np.ndarray) -> np.ndarray:
    """(N, 2) projection on the first two principal axes, with a fixed sign per axis."""
    data = np.asarray(x, dtype=np.float64)
    if len(data) == 0:
        return np.zeros((0, 2), np.float32)
    centred = data - data.mean(axis=0)
    # The principal axes are the top eigenvectors of the d x d scatter matrix: much cheaper
    # than an SVD of the N x d data when N is large.
    _values, vectors = np.linalg.eigh(centred.T @ centred)
    axes = np.zeros((2, data.shape[1]))
    top = vectors[:, ::-1].T[:2]
    axes[: len(top)] = top
    # SVD's signs are arbitrary: make the largest loading of each axis positive.
    for row in axes:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    out: np.ndarray = (centred @ axes.T).astype(np.float32)
    return out


def place(ref_mu: np.ndarray, ref_xy: np.ndarray, mu: np.ndarray, k: int = PLACE_K) -> np.ndarray:
    """Coordinates for ``mu``: the 1/d-weighted mean of its k nearest references' coordinates."""
    # Lazy (start-up time): scikit-learn takes seconds to import.
    from sklearn.neighbors import NearestNeighbors

    if len(mu) == 0:
        return np.zeros((0, 2), np.float32)
    if len(ref_mu) == 0:
        raise MapError("there is no map yet to place new tracks on")
    k = min(k, len(ref_mu))
    nn = NearestNeighbors(n_neighbors=k).fit(np.asarray(ref_mu, dtype=np.float32))
    out = np.empty((len(mu), 2), np.float32)
    for lo in range(0, len(mu), 4096):
        dist, idx = nn.kneighbors(np.asarray(mu[lo : lo + 4096], dtype=np.float32))
        exact = dist[:, 0] <= 1e-9
        w = 1.0 / np.maximum(dist, 1e-9)
        w[exact] = 0.0
        w[exact, 0] = 1.0  # an identical μ sits exactly on its twin
        w /= w.sum(axis=1, keepdims=True)
        out[lo : lo + 4096] = np.einsum("nk,nkc->nc", w, ref_xy[idx])
    return out


def _run_umap(x: np.ndarray, progress: ProgressFn, cancel: CancelFn, seed: int) -> np.ndarray:
    cache = numba_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    env = os.environ.copy()
    env["NUMBA_CACHE_DIR"] = str(cache)
    with tempfile.TemporaryDirectory(prefix="musicorg-umap-") as tmp:
        src, dest = os.path.join(tmp, "in.npy"), os.path.join(tmp, "out.npy")
        np.save(src, np.ascontiguousarray(x, dtype=np.float32), allow_pickle=False)
        cmd = [sys.executable, "-m", "musicorg.organise.umap_worker", src, dest]
        cmd += ["--neighbors", str(UMAP_NEIGHBORS), "--epochs", str(UMAP_EPOCHS)]
        cmd += ["--seed", str(seed)]
        progress(0, 0, f"Fitting UMAP on {len(x)} tracks…")
        with open(os.path.join(tmp, "log"), "w+b") as errors:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors, env=env
            )
            try:
                while proc.poll() is None:
                    if cancel():
                        proc.kill()
                        proc.wait()
                        raise Cancelled()
                    time.sleep(0.1)
            except BaseException:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                raise
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace").strip()
        if proc.returncode != 0 or not os.path.exists(dest):
            tail = message.splitlines()[-1] if message else f"exit status {proc.returncode}"
            raise MapError(f"UMAP failed: {tail}")
        log.info("%s", message.splitlines()[-1] if message else "umap done")
        xy = np.load(dest, allow_pickle=False)
    if xy.shape != (len(x), 2) or not np.isfinite(xy).all():
        raise MapError("UMAP returned unusable coordinates")
    return np.asarray(xy, dtype=np.float32)


def compute_map(
    cat: Catalogue,
    method: str = "pca",
    *,
    version: str | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
    sample: int = UMAP_SAMPLE,
    seed: int = 0,
) -> MapReport:
    """Fit the map from scratch and store it, replacing the one of this version and method."""
    if method not in METHODS:
        raise MapError(f"unknown map method {method!r} (one of: {', '.join(METHODS)})")
    started = time.monotonic()
    version = _version(cat, version)
    report = MapReport(model_version=version, method=method)
    keys, mu = content_vectors(cat, version)
    report.points = len(keys)
    if not keys:
        return report
    progress(0, 0, f"Computing the {method.upper()} map of {len(keys)} tracks…")
    if method == "pca" or len(keys) < MIN_UMAP_POINTS:
        # Too few points for UMAP's neighbour graph: the principal axes stand in for it.
        xy = pca_2d(mu)
        report.fitted = len(keys)
    else:
        rng = np.random.default_rng(seed)
        if len(keys) > sample:
            fit_rows = np.sort(rng.choice(len(keys), size=sample, replace=False))
        else:
            fit_rows = np.arange(len(keys))
        fitted = _run_umap(mu[fit_rows], progress, cancel, seed)
        xy = np.empty((len(keys), 2), np.float32)
        xy[fit_rows] = fitted
        rest = np.setdiff1d(np.arange(len(keys)), fit_rows)
        if len(rest):
            progress(0, 0, f"Placing {len(rest)} more tracks…")
            xy[rest] = place(mu[fit_rows], fitted, mu[rest])
        report.fitted, report.placed = len(fit_rows), len(rest)
    if cancel():
        raise Cancelled()
    maps.store(cat, version, method, keys, xy, replace=True)
    report.seconds = time.monotonic() - started
    progress(1, 1, report.summary())
    return report


def place_new(cat: Catalogue, method: str = "pca", *, version: str | None = None) -> MapReport:
    """Place tracks that have no coordinates yet among the stored ones, without refitting.

    With no stored map at all, this computes one (:func:`compute_map`).
    """
    started = time.monotonic()
    version = _version(cat, version)
    stored = maps.stored(cat, version, method)
    if not stored:
        return compute_map(cat, method, version=version)
    keys, mu = content_vectors(cat, version)
    have = np.array([k in stored for k in keys], dtype=bool)
    new_keys = [k for k, h in zip(keys, have, strict=True) if not h]
    ref_xy = np.array([stored[k] for k, h in zip(keys, have, strict=True) if h], np.float32)
    xy = place(mu[have], ref_xy, mu[~have]) if new_keys else np.zeros((0, 2), np.float32)
    if new_keys:
        maps.store(cat, version, method, new_keys, xy, replace=False)
    return MapReport(
        model_version=version,
        method=method,
        points=len(keys),
        fitted=0,
        placed=len(new_keys),
        seconds=time.monotonic() - started,
    )


def load_map(
    cat: Catalogue,
    version: str | None = None,
    method: str = "pca",
    *,
    include_missing: bool = False,
) -> tuple[list[int], np.ndarray]:
    """Track ids on the map and their coordinates (N, 2) float32: available tracks, plus the
    missing ones that were placed before they went missing when ``include_missing`` (the GUI
    draws those greyed out)."""
    return maps.track_coords(cat, _version(cat, version), method, include_missing=include_missing)


def has_map(cat: Catalogue, version: str | None = None, method: str = "pca") -> bool:
    return maps.exists(cat, _version(cat, version), method)
