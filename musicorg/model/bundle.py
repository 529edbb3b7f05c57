"""Loading a trained model bundle and embedding tracks with it.

A bundle is a directory ``<version>/`` holding:

- ``model.safetensors``: the network weights (never a pickle);
- ``config.json``: the :class:`~musicorg.model.vae.VAEConfig` plus version and feature version;
- ``norm.npz``: normalisation statistics (per-row mean/std of the 39x130 matrix, mean/std of
  the 78 statistics, the lyrics vectors' scale), read with ``allow_pickle=False``;
- ``textpipe.json`` + ``textpipe.npz``: the lyrics pipeline (see textpipe.py);
- ``MODEL_CARD.md``; and ``manifest.json``, the SHA-256 and size of every other file.

Loading checks every file against the manifest, and the bundled model's manifest against the
hash pinned below, and raises :class:`ModelIntegrityError` on any difference.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray
from safetensors.torch import load_file

from musicorg import paths
from musicorg.model.textpipe import TextPipeline
from musicorg.model.vae import HybridVAE, Masks, VAEConfig

# The bundled model and the SHA-256 of its manifest.json (printed by training/export.py).
BUNDLED_VERSION = "hvae-1.1.0"
BUNDLED_MANIFEST_SHA256 = "2eb83b7be6c5470a257f3bc876b5505dd64a75928ee44fe7cf93841737653248"

MANIFEST_NAME = "manifest.json"
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
NORM_NAME = "norm.npz"
REQUIRED_FILES = (WEIGHTS_NAME, CONFIG_NAME, NORM_NAME, "textpipe.json", "textpipe.npz")
DEFAULT_BATCH = 128

Device = Literal["auto", "cpu", "cuda"]


class ModelIntegrityError(RuntimeError):
    """The model files are missing, altered, truncated or not what the manifest promises."""


class ModelUnreadableError(ModelIntegrityError):
    """A model file matches the manifest but does not hold what it should (an object array or
    a pickle where plain arrays belong): refused, and never unpickled."""


# What reading a bundle's arrays (np.load with allow_pickle=False) raises on a bad file.
_UNREADABLE = (ValueError, KeyError, TypeError, IndexError, OSError, EOFError, zipfile.BadZipFile)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_bundle(directory: Path, expected_manifest_sha256: str | None) -> dict[str, Any]:
    """Check the manifest (against the pinned hash if given) and every file it lists."""
    mpath = directory / MANIFEST_NAME
    if not mpath.is_file():
        raise ModelIntegrityError(f"model bundle {directory} has no {MANIFEST_NAME}")
    raw = mpath.read_bytes()
    if expected_manifest_sha256 is not None:
        got = sha256_bytes(raw)
        if got != expected_manifest_sha256:
            raise ModelIntegrityError(
                f"model manifest {mpath} has SHA-256 {got}, expected {expected_manifest_sha256}: "
                "the bundled model was modified or replaced; reinstall musicorg"
            )
    try:
        manifest = json.loads(raw.decode("utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelIntegrityError(f"model manifest {mpath} is unreadable: {exc}") from exc
    for name in REQUIRED_FILES:
        if name not in files:
            raise ModelIntegrityError(f"model manifest {mpath} does not list {name}")
    for name, entry in files.items():
        if "/" in name or "\\" in name or name.startswith("."):
            raise ModelIntegrityError(f"model manifest lists an invalid file name {name!r}")
        fpath = directory / name
        if not fpath.is_file():
            raise ModelIntegrityError(f"model file {fpath} is missing")
        size = fpath.stat().st_size
        if size != int(entry["size"]):
            raise ModelIntegrityError(
                f"model file {fpath} has {size} bytes, expected {entry['size']} (truncated?)"
            )
        digest = sha256_file(fpath)
        if digest != entry["sha256"]:
            raise ModelIntegrityError(
                f"model file {fpath} has SHA-256 {digest}, expected {entry['sha256']}"
            )
    return dict(manifest)


def write_manifest(directory: Path, version: str) -> str:
    """Write manifest.json for every file in ``directory``; return the manifest's SHA-256."""
    files: dict[str, dict[str, Any]] = {}
    for f in sorted(directory.iterdir()):
        if f.name == MANIFEST_NAME or not f.is_file():
            continue
        files[f.name] = {"sha256": sha256_file(f), "size": f.stat().st_size}
    data = json.dumps({"format": 1, "version": version, "files": files}, indent=1, sort_keys=True)
    raw = (data + "\n").encode("utf-8")
    (directory / MANIFEST_NAME).write_bytes(raw)
    return sha256_bytes(raw)


def load_state_file(path: Path) -> dict[str, torch.Tensor]:
    """Read tensors without ever running pickled code.

    ``.safetensors`` files go through safetensors; anything else through
    ``torch.load(weights_only=True)``, whose restricted unpickler refuses arbitrary objects.
    """
    if path.suffix == ".safetensors":
        try:
            return dict(load_file(str(path), device="cpu"))
        except Exception as exc:
            raise ModelIntegrityError(f"cannot read weights {path}: {exc}") from exc
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelIntegrityError(f"refusing to load {path}: {exc}") from exc
    if not isinstance(obj, dict):
        raise ModelIntegrityError(f"{path} does not hold a state dict")
    return obj


@dataclass
class Normalizer:
    """Per-row standardisation of the 39x130 matrix, per-dimension standardisation of the
    side input (the 78 statistics, then MusiCNN's 200-d vector for a model that reads it),
    and the text scale."""

    audio_mean: NDArray[np.float32]  # (39,)
    audio_std: NDArray[np.float32]  # (39,)
    stats_mean: NDArray[np.float32]  # (78,) or (278,)
    stats_std: NDArray[np.float32]  # (78,) or (278,)
    text_scale: float

    def audio(self, x: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
        out = (np.asarray(x, dtype=np.float32) - self.audio_mean[:, None]) / self.audio_std[:, None]
        return out.astype(np.float32, copy=False)

    def stats(self, s: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
        out = (np.asarray(s, dtype=np.float32) - self.stats_mean) / self.stats_std
        return out.astype(np.float32, copy=False)

    def text(self, t: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
        return (np.asarray(t, dtype=np.float32) / np.float32(self.text_scale)).astype(np.float32)

    def save(self, path: Path) -> None:
        with path.open("wb") as fh:
            np.savez(
                fh,
                audio_mean=self.audio_mean,
                audio_std=self.audio_std,
                stats_mean=self.stats_mean,
                stats_std=self.stats_std,
                text_scale=np.array(self.text_scale, dtype=np.float64),
            )

    @classmethod
    def load(cls, path: Path) -> Normalizer:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                audio_mean=np.asarray(z["audio_mean"], dtype=np.float32),
                audio_std=np.asarray(z["audio_std"], dtype=np.float32),
                stats_mean=np.asarray(z["stats_mean"], dtype=np.float32),
                stats_std=np.asarray(z["stats_std"], dtype=np.float32),
                text_scale=float(z["text_scale"]),
            )

    @staticmethod
    def text_scale_of(text: NDArray[np.floating[Any]]) -> float:
        """The one global scale of the lyrics vectors: the RMS of their per-dimension std."""
        return max(float(np.sqrt(np.mean(np.var(text, axis=0)))), 1e-6)

    @classmethod
    def fit(
        cls,
        x: NDArray[np.floating[Any]],
        stats: NDArray[np.floating[Any]],
        text: NDArray[np.floating[Any]] | None,
    ) -> Normalizer:
        x64 = np.asarray(x, dtype=np.float64)
        am = x64.mean(axis=(0, 2))
        asd = x64.std(axis=(0, 2))
        s64 = np.asarray(stats, dtype=np.float64)
        sm, ssd = s64.mean(axis=0), s64.std(axis=0)
        return cls(
            audio_mean=am.astype(np.float32),
            audio_std=np.maximum(asd, 1e-6).astype(np.float32),
            stats_mean=sm.astype(np.float32),
            stats_std=np.maximum(ssd, 1e-6).astype(np.float32),
            text_scale=cls.text_scale_of(text) if text is not None else 1.0,
        )


def side_input(
    config: VAEConfig, stats: NDArray[np.floating[Any]], teacher: NDArray[np.floating[Any]] | None
) -> NDArray[np.float32]:
    """The model's side input: the statistics, followed by the teacher vectors when the model
    reads them (``config.teacher_dim``)."""
    s = np.asarray(stats, dtype=np.float32)
    if not config.teacher_dim:
        return s
    if teacher is None:
        raise ValueError("this model reads MusiCNN vectors: pass teacher")
    return np.concatenate([s, np.asarray(teacher, dtype=np.float32)], axis=1)


def stats_from_matrix(x: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
    """Fallback statistics from the pooled (N, 39, 130) matrix: per-row mean then std.

    The model was trained on statistics over full-resolution frames; these are a rougher
    stand-in for callers that only have the matrix.
    """
    a = np.asarray(x, dtype=np.float32)
    return np.concatenate([a.mean(axis=2), a.std(axis=2)], axis=1).astype(np.float32)


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but CUDA is not available")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda'")
    return torch.device(device)


class LoadedModel:
    """A verified model bundle, ready to embed tracks."""

    def __init__(
        self,
        directory: Path,
        version: str,
        config: VAEConfig,
        model: HybridVAE,
        norm: Normalizer,
        textpipe: TextPipeline,
        device: torch.device,
        meta: dict[str, Any],
    ) -> None:
        self.directory = directory
        self.version = version
        self.config = config
        self.model = model
        self.norm = norm
        self.textpipe = textpipe
        self.device = device
        self.meta = meta

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def features_version(self) -> str | None:
        v = self.meta.get("features_version")
        return None if v is None else str(v)

    def text_vectors(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Normalised 64-d lyrics vectors, as the model sees them."""
        return self.norm.text(self.textpipe.transform(texts))

    def embed(
        self,
        features: NDArray[np.floating[Any]] | None,
        stats: NDArray[np.floating[Any]] | None = None,
        lyrics: Sequence[str | None] | None = None,
        batch_size: int = DEFAULT_BATCH,
        teacher: NDArray[np.floating[Any]] | None = None,
    ) -> NDArray[np.float32]:
        """μ for each track, (N, latent_dim) float32.

        ``features``: (N, 39, 130) raw feature matrices (None for lyrics-only embedding);
        ``stats``: (N, 78) per-feature mean+std over full-resolution frames, or None to
        approximate them from the matrix; ``lyrics``: N texts or None per track;
        ``teacher``: (N, 200) MusiCNN vectors, required by a model with ``teacher_dim``.
        """
        n = self._count(features, lyrics)
        xa: NDArray[np.float32] | None = None
        xs: NDArray[np.float32] | None = None
        if features is not None:
            f = np.asarray(features, dtype=np.float32)
            if f.ndim != 3 or f.shape[1:] != (self.config.n_features, self.config.n_frames):
                raise ValueError(
                    f"features must be (N, {self.config.n_features}, {self.config.n_frames}), "
                    f"got {f.shape}"
                )
            xa = self.norm.audio(f)
            if self.config.use_stats:
                s = stats_from_matrix(f) if stats is None else np.asarray(stats, np.float32)
                if s.shape != (n, self.config.stats_dim):
                    raise ValueError(f"stats must be ({n}, {self.config.stats_dim}), got {s.shape}")
                if self.config.teacher_dim:
                    if teacher is None:
                        raise ValueError(f"model {self.version} needs MusiCNN vectors (teacher)")
                    t = np.asarray(teacher, np.float32)
                    if t.shape != (n, self.config.teacher_dim):
                        raise ValueError(
                            f"teacher must be ({n}, {self.config.teacher_dim}), got {t.shape}"
                        )
                    s = np.concatenate([s, t], axis=1)
                xs = self.norm.stats(s)
        has_text = np.zeros(n, dtype=bool)
        xt: NDArray[np.float32] | None = None
        if lyrics is not None:
            idx = [i for i, t in enumerate(lyrics) if t is not None and t.strip()]
            if idx:
                xt = np.zeros((n, self.config.text_dim), dtype=np.float32)
                xt[idx] = self.text_vectors([str(lyrics[i]) for i in idx])
                has_text[idx] = True
        if xa is None and not has_text.all():
            raise ValueError("lyrics-only embedding needs a text for every track")
        out = np.zeros((n, self.config.latent_dim), dtype=np.float32)
        self.model.eval()
        with torch.inference_mode():
            for lo in range(0, n, batch_size):
                hi = min(n, lo + batch_size)
                ta = self._tensor(xa, lo, hi)
                ts = self._tensor(xs, lo, hi)
                tt = self._tensor(xt, lo, hi)
                masks = Masks(
                    audio=torch.full((hi - lo,), xa is not None, device=self.device),
                    text=torch.from_numpy(has_text[lo:hi]).to(self.device),
                )
                mu, _ = self.model.encode(ta, ts, tt, masks)
                out[lo:hi] = mu.float().cpu().numpy()
        return out

    def _tensor(self, a: NDArray[np.float32] | None, lo: int, hi: int) -> torch.Tensor | None:
        if a is None:
            return None
        return torch.from_numpy(np.ascontiguousarray(a[lo:hi])).to(self.device)

    @staticmethod
    def _count(features: Any, lyrics: Sequence[str | None] | None) -> int:
        if features is not None:
            n = int(np.shape(features)[0])
            if lyrics is not None and len(lyrics) != n:
                raise ValueError(f"{len(lyrics)} lyrics for {n} tracks")
            return n
        if lyrics is None:
            raise ValueError("embed needs features, lyrics or both")
        return len(lyrics)


def bundled_model_dir() -> Path:
    return paths.models_dir() / BUNDLED_VERSION


def load_model(
    path: Path | str | None = None,
    device: Device | str = "auto",
    num_threads: int | None = None,
    expected_manifest_sha256: str | None = None,
) -> LoadedModel:
    """Load and verify a model bundle (the bundled one when ``path`` is None).

    The bundled model is checked against :data:`BUNDLED_MANIFEST_SHA256`; another bundle
    against ``expected_manifest_sha256`` when given, and always file by file against its own
    manifest. ``num_threads`` caps torch's CPU threads (default: at most 4).
    """
    if path is None:
        directory = bundled_model_dir()
        expected: str | None = BUNDLED_MANIFEST_SHA256
    else:
        directory = Path(path)
        expected = expected_manifest_sha256
        if expected is None and directory.resolve() == bundled_model_dir().resolve():
            expected = BUNDLED_MANIFEST_SHA256
    if not directory.is_dir():
        raise ModelIntegrityError(f"model bundle {directory} does not exist")
    manifest = verify_bundle(directory, expected)

    threads = num_threads if num_threads is not None else min(4, os.cpu_count() or 1)
    if torch.get_num_threads() > threads:
        torch.set_num_threads(max(1, threads))
    dev = pick_device(str(device))

    try:
        meta = json.loads((directory / CONFIG_NAME).read_text(encoding="utf-8"))
        cfg = VAEConfig.from_dict(meta["model"])
        version = str(meta.get("version", manifest.get("version", directory.name)))
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelIntegrityError(f"model config in {directory} is unreadable: {exc}") from exc
    state = load_state_file(directory / WEIGHTS_NAME)
    model = HybridVAE(cfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelIntegrityError(f"weights in {directory} do not fit the config: {exc}") from exc
    model.to(dev).eval()
    norm_path = directory / NORM_NAME
    try:
        norm = Normalizer.load(norm_path)
        _check_norm(norm)
    except _UNREADABLE as exc:
        raise ModelUnreadableError(
            f"model file {norm_path} is not plain normalisation arrays ({type(exc).__name__}: "
            f"{exc})"
        ) from exc
    try:
        textpipe = TextPipeline.load(directory)
    except _UNREADABLE as exc:
        raise ModelUnreadableError(
            f"the lyrics pipeline in {directory} is unreadable ({type(exc).__name__}: {exc})"
        ) from exc
    return LoadedModel(directory, version, cfg, model, norm, textpipe, dev, meta)


def _check_norm(norm: Normalizer) -> None:
    """Raise ValueError for normalisation arrays of the wrong shape."""
    for mean, std in ((norm.audio_mean, norm.audio_std), (norm.stats_mean, norm.stats_std)):
        if mean.ndim != 1 or mean.shape != std.shape:
            raise ValueError(f"arrays of shapes {mean.shape} and {std.shape}")
    if not np.isfinite(norm.text_scale) or norm.text_scale <= 0:
        raise ValueError(f"text scale {norm.text_scale}")
