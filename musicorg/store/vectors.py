"""Typed reads of the latent means (μ) that the organise stage works from.

"Tracks with a μ of a model version" is stated once, in :func:`with_mu`: every read of μ per
track (the playlists, the map, similar tracks and song paths, the ``vectors`` command) starts
from it, and :func:`stack_mu` turns the stored blobs into one array.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute

from musicorg.keys import ACTIVE_MODEL_KEY
from musicorg.store.db import TRACK_ENTRY, Catalogue, Embedding, Track

Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")


def active_model_version(cat: Catalogue) -> str | None:
    """The model version whose embeddings the playlists and the map use (None: no analysis)."""
    return cat.get_meta(ACTIVE_MODEL_KEY)


def with_mu(query: Q, version: str, *, include_missing: bool = False) -> Q:
    """``query`` (over ``tracks``) narrowed to the tracks that have a μ of ``version``, the
    available ones only unless ``include_missing``; select ``Embedding.mu`` to read it."""
    query = query.join(Embedding, Embedding.content_key == Track.content_key).where(
        Embedding.model_version == version
    )
    return query if include_missing else query.where(Track.missing.is_(False))


def stack_mu(blobs: Sequence[bytes]) -> np.ndarray:
    """Stored μ blobs (float32) as one (N, d) array; (0, 0) for none."""
    if not blobs:
        return np.zeros((0, 0), np.float32)
    return np.stack([np.frombuffer(b, dtype=np.float32) for b in blobs])


def embeddings(cat: Catalogue, model_version: str) -> tuple[list[str], list[int], np.ndarray]:
    """Display paths, track ids and μ (N,d) of available tracks that have an embedding."""
    query = with_mu(select(Track.display, Track.id, Embedding.mu), model_version)
    with cat.read() as conn:
        rows = conn.execute(query.order_by(Track.id)).all()
    return [r[0] for r in rows], [int(r[1]) for r in rows], stack_mu([r[2] for r in rows])


def embedded_track_ids(cat: Catalogue, model_version: str) -> list[int]:
    """Ids of the available tracks that have an embedding of ``model_version``."""
    with cat.read() as conn:
        return [int(t) for (t,) in conn.execute(with_mu(select(Track.id), model_version))]


@dataclass
class TrackVectors:
    """Tracks with an embedding of one model version, by track id: what lists of tracks show
    of each (``TRACK_ENTRY``), whether it is missing, and μ (N, d)."""

    version: str
    ids: np.ndarray  # int64 (N,)
    paths: list[bytes]
    displays: list[str]
    keys: list[str]
    artists: list[str | None]
    titles: list[str | None]
    durations: list[float | None]
    missing: np.ndarray  # bool (N,)
    mu: np.ndarray  # float32 (N, d)


def track_vectors(cat: Catalogue, model_version: str) -> TrackVectors:
    """Every track (missing ones too, marked) with an embedding of ``model_version``."""
    query = with_mu(
        select(Track.id, *TRACK_ENTRY, Track.missing, Embedding.mu),
        model_version,
        include_missing=True,
    )
    with cat.read() as conn:
        rows = conn.execute(query.order_by(Track.id)).all()
    return TrackVectors(
        version=model_version,
        ids=np.array([int(r[0]) for r in rows], dtype=np.int64),
        paths=[bytes(r[1]) for r in rows],
        displays=[str(r[2]) for r in rows],
        keys=[str(r[3]) for r in rows],
        artists=[r[4] for r in rows],
        titles=[r[5] for r in rows],
        durations=[r[6] for r in rows],
        missing=np.array([bool(r[7]) for r in rows], dtype=bool),
        mu=stack_mu([r[8] for r in rows]),
    )


def content_vectors(cat: Catalogue, model_version: str) -> tuple[list[str], np.ndarray]:
    """Content keys that some track has (missing or not: the map keeps a place for a track
    that went missing) with a μ of ``model_version``, by key, and μ (N, d)."""
    query = with_mu(
        select(Embedding.content_key, Embedding.mu).select_from(Track),
        model_version,
        include_missing=True,
    )
    with cat.read() as conn:
        # One row per key (copies of a song share it); PostgreSQL wants every column grouped.
        group: list[InstrumentedAttribute[Any]] = [Embedding.content_key]
        if cat.server:
            group.append(Embedding.mu)
        rows = conn.execute(query.group_by(*group).order_by(Embedding.content_key)).all()
    return [str(r[0]) for r in rows], stack_mu([r[1] for r in rows])
