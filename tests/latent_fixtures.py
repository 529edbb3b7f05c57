"""Catalogues with synthetic tracks and embeddings, for the latent-space tests."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, insert

from musicorg.keys import ACTIVE_MODEL_KEY
from musicorg.store.db import Catalogue, Embedding, Track, upsert

VERSION = "test-v1"


def insert_track(
    conn: Connection, path: bytes, display: str, key: str, now: float, **columns: object
) -> int:
    """One FLAC row in ``tracks`` (added and updated at ``now``); returns its id."""
    row = conn.execute(
        insert(Track)
        .values(
            path=path,
            display=display,
            mtime_ns=0,
            content_key=key,
            fmt="flac",
            added_at=now,
            updated_at=now,
            **columns,
        )
        .returning(Track.id)
    ).first()
    assert row is not None
    return int(row[0])


def add_tracks(
    cat: Catalogue,
    vectors: np.ndarray,
    *,
    artists: Sequence[str | None] | None = None,
    titles: Sequence[str | None] | None = None,
    keys: Sequence[str] | None = None,
    missing: Sequence[bool] | None = None,
    folder: str = "/music",
    version: str = VERSION,
    embed: Sequence[bool] | None = None,
    paths: Sequence[str] | None = None,
    columns: Mapping[str, Sequence[object]] | None = None,
) -> list[int]:
    """One track per vector (and its embedding); returns the track ids in order.

    ``paths`` replaces the default ``<folder>/trackNNNNNN.flac`` names; ``columns`` gives
    further (or other) values of ``tracks`` columns, one per track (``{"genre": [...]}``)."""
    n = len(vectors)
    now = time.time()
    ids: list[int] = []
    with cat.begin() as conn:
        for i in range(n):
            key = keys[i] if keys is not None else f"key{i:06d}-{folder}"
            path = os.fsencode(paths[i] if paths is not None else f"{folder}/track{i:06d}.flac")
            values = {
                "size": 1000 + i,
                "duration": 100.0 + i,
                "artist": artists[i] if artists is not None else f"Artist {i}",
                "title": titles[i] if titles is not None else f"Title {i}",
                "missing": bool(missing[i]) if missing is not None else False,
            }
            values.update({name: column[i] for name, column in (columns or {}).items()})
            ids.append(insert_track(conn, path, os.fsdecode(path), key, now, **values))
        rows: dict[str, dict[str, object]] = {}
        for i in range(n):
            if (embed is not None and not embed[i]) or (keys is not None and keys[i] in rows):
                continue
            key = keys[i] if keys is not None else f"key{i:06d}-{folder}"
            rows[key] = {
                "content_key": key,
                "model_version": version,
                "mu": np.asarray(vectors[i], dtype=np.float32).tobytes(),
                "created_at": now,
            }
        if rows:
            conn.execute(upsert(conn, Embedding).on_conflict_do_nothing(), list(rows.values()))
    cat.set_meta(ACTIVE_MODEL_KEY, version)
    return ids


def new_catalogue(tmp_path: Path) -> Catalogue:
    return Catalogue(tmp_path / "cat.sqlite")
