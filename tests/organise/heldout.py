"""A real library for the playlist tests: the 165 held-out tracks of the training corpus.

``data/heldout.npz`` holds, per track, what the app stores after an analysis: the latent
mean μ of the bundled model (hvae-1.1.0), the descriptors (tempo, brightness, energy), the
mean MusiCNN tag probabilities over the default patches, and the file tags of the manifest
(artist, title, genre; empty for most), with the Debian package it comes from. They are the
middle clips of the corpus's test split (``training/prepare.py``), never seen in training.
Debian game soundtracks under free licences (``~/.cache/musicorg/corpus/manifest.csv``).

    .venv/bin/python -m tests.organise.heldout      # rebuild it (needs the corpus)
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from musicorg.keys import ACTIVE_MODEL_KEY, FEATURES_VERSION
from musicorg.store.db import Analysis, Catalogue, Embedding
from tests.latent_fixtures import insert_track

DATA = Path(__file__).parent / "data" / "heldout.npz"
VERSION = "hvae-1.1.0"
PREVIOUS = "hvae-0.9.0"  # the bundled model before it: a real model switch
PREVIOUS_BUNDLE = Path.home() / ".cache/musicorg/baselines" / PREVIOUS
CORPUS = Path(os.environ.get("MUSICORG_CORPUS_DIR", Path.home() / ".cache/musicorg/corpus"))


@dataclass
class Heldout:
    mu: np.ndarray  # (N, d) float32
    mu_previous: np.ndarray  # (N, d') float32, μ of PREVIOUS
    tempo: np.ndarray
    brightness: np.ndarray
    energy: np.ndarray
    tags: np.ndarray  # (N, 50) float32
    duration: np.ndarray
    package: list[str]
    artist: list[str | None]
    title: list[str | None]
    genre: list[str | None]

    def __len__(self) -> int:
        return len(self.mu)


def load() -> Heldout:
    z = np.load(DATA, allow_pickle=False)

    def text(key: str) -> list[str | None]:
        return [str(s) or None for s in z[key]]

    return Heldout(
        mu=z["mu"].astype(np.float32),
        mu_previous=z["mu_previous"].astype(np.float32),
        tempo=z["tempo"].astype(np.float64),
        brightness=z["brightness"].astype(np.float64),
        energy=z["energy"].astype(np.float64),
        tags=z["tags"].astype(np.float32),
        duration=z["duration"].astype(np.float64),
        package=[str(s) for s in z["package"]],
        artist=text("artist"),
        title=text("title"),
        genre=text("genre"),
    )


def add_to(
    cat: Catalogue,
    lib: Heldout,
    rows: Sequence[int] | np.ndarray,
    *,
    version: str = VERSION,
    mu: np.ndarray | None = None,
) -> list[int]:
    """Tracks for ``rows`` of ``lib`` in ``cat``, analysed and embedded (with ``version``'s
    μ, or ``mu``: one row per track of ``rows``) as the app stores them; the track ids."""
    now = time.time()
    ids: list[int] = []
    with cat.begin() as conn:
        for k, r in enumerate(int(r) for r in rows):
            key = f"heldout-{r:03d}"
            path = f"/music/{lib.package[r]}/{r:03d}.ogg"
            ids.append(
                insert_track(
                    conn,
                    path.encode(),
                    path,
                    key,
                    now,
                    size=1000 + r,
                    duration=float(lib.duration[r]),
                    artist=lib.artist[r],
                    title=lib.title[r],
                    genre=lib.genre[r],
                    missing=False,
                )
            )
            conn.execute(
                insert(Analysis).prefix_with("OR IGNORE"),
                {
                    "content_key": key,
                    "features_version": FEATURES_VERSION,
                    "features": b"",
                    "shape": "0x0",
                    "tempo": float(lib.tempo[r]),
                    "brightness": float(lib.brightness[r]),
                    "energy": float(lib.energy[r]),
                    "weak": False,
                    "created_at": now,
                    "tags": lib.tags[r].astype(np.float32).tobytes(),
                },
            )
            vec = lib.mu[r] if mu is None else mu[k]
            conn.execute(
                insert(Embedding).values(
                    content_key=key,
                    model_version=version,
                    mu=np.asarray(vec, np.float32).tobytes(),
                    created_at=now,
                )
            )
    cat.set_meta(ACTIVE_MODEL_KEY, version)
    return ids


def build() -> None:
    from musicorg.model.bundle import load_model
    from training.data import teacher_vectors

    z = np.load(CORPUS / f"features-v{FEATURES_VERSION}.npz", allow_pickle=False)
    with (CORPUS / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        manifest = {int(r["track_id"]): r for r in csv.DictReader(fh)}
    rows = np.flatnonzero((z["split"] == "test") & z["middle"])
    teacher = teacher_vectors(z["musicnn"][rows], z["n_patches"][rows])
    tags = teacher_vectors(z["tags"][rows], z["n_patches"][rows])
    model = load_model(device="cpu")
    mu = np.asarray(model.embed(z["X"][rows], z["stats"][rows], None, teacher=teacher))
    before = load_model(PREVIOUS_BUNDLE, device="cpu")
    mu_before = np.asarray(before.embed(z["X"][rows], z["stats"][rows], None, teacher=teacher))
    tracks = [manifest[int(t)] for t in z["track"][rows]]
    np.savez_compressed(
        DATA,
        model=np.asarray(str(model.version)),
        mu=mu.astype(np.float32),
        previous_model=np.asarray(str(before.version)),
        mu_previous=mu_before.astype(np.float32),
        tempo=z["tempo"][rows].astype(np.float32),
        brightness=z["brightness"][rows].astype(np.float32),
        energy=z["energy"][rows].astype(np.float32),
        tags=tags.astype(np.float16),
        duration=np.asarray([float(t["duration"]) for t in tracks], np.float32),
        package=np.asarray([str(p) for p in z["package"][rows]]),
        artist=np.asarray([t.get("artist") or "" for t in tracks]),
        title=np.asarray([t.get("title") or "" for t in tracks]),
        genre=np.asarray([t.get("genre") or "" for t in tracks]),
    )
    print(f"{DATA}: {len(rows)} tracks, μ of {model.version} ({mu.shape[1]}-d)")


if __name__ == "__main__":
    build()
