"""Typed reads of the latent means (μ) that the organise stage works from."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from musicorg.keys import ACTIVE_MODEL_KEY
from musicorg.store.db import Catalogue, Embedding, Track


def active_model_version(cat: Catalogue) -> str | None:
    """The model version whose embeddings the playlists and the map use (None: no analysis)."""
    return cat.get_meta(ACTIVE_MODEL_KEY)


def embeddings(cat: Catalogue, model_version: str) -> tuple[list[str], list[int], np.ndarray]:
    """Display paths, track ids and μ (N,d) of available tracks that have an embedding."""
    with cat.read() as conn:
        rows = conn.execute(
            select(Track.display, Track.id, Embedding.mu)
            .join(Embedding, Embedding.content_key == Track.content_key)
            .where(Embedding.model_version == model_version, Track.missing.is_(False))
            .order_by(Track.id)
        ).all()
    if not rows:
        return [], [], np.zeros((0, 0), np.float32)
    vectors = np.stack([np.frombuffer(r[2], dtype=np.float32) for r in rows])
    return [r[0] for r in rows], [int(r[1]) for r in rows], vectors
