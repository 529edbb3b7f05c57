"""Audio features (one row per content key and features version) and embeddings (one μ per
content key and model version): what the analysis stage writes and retraining reads."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np
from sqlalchemy import Connection, Executable, delete, select

from musicorg.store import problems
from musicorg.store.db import Analysis, Catalogue, Embedding, Track, upsert
from musicorg.store.problems import ProblemNote

#: The problems table's stage of the analysis. The stored value is user data and keeps the
#: spelling it has always had.
ANALYSE_STAGE: Final = "analyze"
_CHUNK = 500


def _replacing(conn: Connection, table: type[Analysis] | type[Embedding]) -> Executable:
    """An INSERT of whole rows of ``table`` (executemany, one dict of columns a row) that
    replaces the row of the same key, in the dialect of ``conn``."""
    stmt = upsert(conn, table)
    key = [c.name for c in table.__table__.primary_key]
    rest = [c.name for c in table.__table__.columns if c.name not in key]
    return stmt.on_conflict_do_update(index_elements=key, set_={c: stmt.excluded[c] for c in rest})


@dataclass(frozen=True)
class AudioFile:
    """An available file of a content key, as the analysis stage reads it."""

    content_key: str
    path: bytes
    display: str
    size: int
    mtime_ns: int


@dataclass
class AnalysisRow:
    """The features of one file's content key, and MusiCNN's outputs for the same window."""

    file: AudioFile
    matrix: np.ndarray  # (rows, bins) float32
    stats: np.ndarray  # float32
    tempo: float
    brightness: float
    energy: float
    weak: bool
    musicnn: np.ndarray  # float32 vector
    tags: np.ndarray  # float32 tag probabilities
    n_patches: int


class FeatureBlobs(NamedTuple):
    """The stored arrays of one analysis, float32 bytes (None: not stored)."""

    content_key: str
    features: bytes
    stats: bytes | None
    musicnn: bytes | None


def _blob(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array, dtype=np.float32).tobytes()


def unanalysed(cat: Catalogue, features_version: int) -> list[AudioFile]:
    """One available file per content key that has no analysis of ``features_version``, by
    track id; a file whose analysis failed is left out until it changes."""
    broken = problems.marks(cat, ANALYSE_STAGE)
    done = set(analysed_keys(cat, features_version))
    with cat.read() as conn:
        rows = conn.execute(
            select(Track.content_key, Track.path, Track.display, Track.size, Track.mtime_ns)
            .where(Track.missing.is_(False))
            .order_by(Track.id)
        ).all()
    todo: dict[str, AudioFile] = {}
    for key, path, display, size, mtime in rows:
        if key in done or key in todo or broken.get(path) == (size, mtime):
            continue
        todo[key] = AudioFile(key, path, display, size, mtime)
    return list(todo.values())


def save(
    cat: Catalogue,
    rows: Sequence[AnalysisRow],
    failed: Sequence[ProblemNote],
    features_version: int,
) -> None:
    """Store analyses (replacing those of other features versions, which are never read again)
    and the problems of files that failed, in one transaction."""
    now = time.time()
    with cat.begin() as conn:
        problems.note(conn, ANALYSE_STAGE, failed)
        if not rows:
            return
        conn.execute(
            _replacing(conn, Analysis),
            [
                {
                    "content_key": r.file.content_key,
                    "features_version": features_version,
                    "features": _blob(r.matrix),
                    "shape": "x".join(str(n) for n in r.matrix.shape),
                    "stats": _blob(r.stats),
                    "tempo": float(r.tempo),
                    "brightness": float(r.brightness),
                    "energy": float(r.energy),
                    "weak": bool(r.weak),
                    "created_at": now,
                    "musicnn": _blob(r.musicnn),
                    "tags": _blob(r.tags),
                    "n_patches": r.n_patches,
                }
                for r in rows
            ],
        )
        conn.execute(
            delete(Analysis).where(
                Analysis.content_key.in_([r.file.content_key for r in rows]),
                Analysis.features_version != features_version,
            )
        )
        problems.forget(conn, ANALYSE_STAGE, [r.file.path for r in rows])


def analysed_keys(cat: Catalogue, features_version: int) -> list[str]:
    """Content keys with an analysis of ``features_version``."""
    with cat.read() as conn:
        return [
            str(k)
            for (k,) in conn.execute(
                select(Analysis.content_key).where(Analysis.features_version == features_version)
            )
        ]


def feature_blobs(cat: Catalogue, keys: Sequence[str], features_version: int) -> list[FeatureBlobs]:
    """The stored arrays of the keys that have an analysis of ``features_version``."""
    out: list[FeatureBlobs] = []
    with cat.read() as conn:
        for i in range(0, len(keys), _CHUNK):
            rows = conn.execute(
                select(
                    Analysis.content_key, Analysis.features, Analysis.stats, Analysis.musicnn
                ).where(
                    Analysis.features_version == features_version,
                    Analysis.content_key.in_(keys[i : i + _CHUNK]),
                )
            )
            out.extend(FeatureBlobs(*row) for row in rows)
    return out


def analysed_tracks(cat: Catalogue, features_version: int) -> list[tuple[str, str | None]]:
    """(content key, genre) of every available track analysed with ``features_version``, by
    track id."""
    with cat.read() as conn:
        rows = conn.execute(
            select(Track.content_key, Track.genre)
            .join(
                Analysis,
                (Analysis.content_key == Track.content_key)
                & (Analysis.features_version == features_version),
            )
            .where(Track.missing.is_(False))
            .order_by(Track.id)
        ).all()
    return [(str(key), genre) for key, genre in rows]


def embedded_keys(cat: Catalogue, model_version: str) -> set[str]:
    """Content keys that have an embedding with ``model_version``."""
    with cat.read() as conn:
        return {
            str(k)
            for (k,) in conn.execute(
                select(Embedding.content_key).where(Embedding.model_version == model_version)
            )
        }


def save_embeddings(
    cat: Catalogue, model_version: str, keys: Sequence[str], mu: np.ndarray
) -> None:
    """Store μ (one row per key) of ``model_version``, in one transaction."""
    if not keys:
        return
    now = time.time()
    with cat.begin() as conn:
        conn.execute(
            _replacing(conn, Embedding),
            [
                {
                    "content_key": k,
                    "model_version": model_version,
                    "mu": mu[i].astype(np.float32).tobytes(),
                    "created_at": now,
                }
                for i, k in enumerate(keys)
            ],
        )
