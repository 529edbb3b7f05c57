"""Map coordinates in the catalogue: one (x, y) per content key, model version and method."""

from __future__ import annotations

import numpy as np
from sqlalchemy import delete, select

from musicorg.jobs import paused
from musicorg.store.db import Catalogue, MapCoord, Track, all_rows, drop_rows, upsert

_BATCH = 5000
#: Rows :func:`track_coords` makes into coordinates at a time: one ``np.array`` over a million
#: rows' pairs held the GIL, and stalled the window in another thread, for 150-400 ms.
_SLICE = 50_000


def stored(cat: Catalogue, version: str, method: str) -> dict[str, tuple[float, float]]:
    """Content key → (x, y) of every point of this map."""
    with cat.read() as conn:
        rows = conn.execute(
            select(MapCoord.content_key, MapCoord.x, MapCoord.y).where(
                MapCoord.model_version == version, MapCoord.method == method
            )
        ).all()
    return {str(k): (float(x), float(y)) for k, x, y in rows}


def store(
    cat: Catalogue, version: str, method: str, keys: list[str], xy: np.ndarray, *, replace: bool
) -> None:
    """Write the points ``keys`` → ``xy`` (N, 2); ``replace`` drops the map's others first."""
    rows = [
        {"model_version": version, "method": method, "content_key": k, "x": p[0], "y": p[1]}
        for k, p in zip(keys, xy.tolist(), strict=True)
    ]
    with cat.begin() as conn:
        if replace:
            conn.execute(
                delete(MapCoord).where(MapCoord.model_version == version, MapCoord.method == method)
            )
        for lo in range(0, len(rows), _BATCH):
            new = upsert(conn, MapCoord)
            replacing = new.on_conflict_do_update(
                index_elements=[MapCoord.model_version, MapCoord.method, MapCoord.content_key],
                set_={"x": new.excluded.x, "y": new.excluded.y},
            )
            conn.execute(replacing, rows[lo : lo + _BATCH])


def track_coords(
    cat: Catalogue, version: str, method: str, *, include_missing: bool = False
) -> tuple[list[int], np.ndarray]:
    """Track ids on the map, by id, and their coordinates (N, 2) float32: available tracks,
    plus the missing ones placed before they went missing when ``include_missing``."""
    query = (
        select(Track.id, MapCoord.x, MapCoord.y)
        .join(MapCoord, MapCoord.content_key == Track.content_key)
        .where(MapCoord.model_version == version, MapCoord.method == method)
        .order_by(Track.id)
    )
    if not include_missing:
        query = query.where(Track.missing.is_(False))
    with cat.read() as conn:
        rows = all_rows(conn, query)
    ids = [int(r[0]) for r in rows]
    xy = np.empty((len(rows), 2), dtype=np.float32)
    for lo in paused(range(0, len(rows), _SLICE)):
        part = rows[lo : lo + _SLICE]
        xy[lo : lo + len(part)] = np.array([(r[1], r[2]) for r in part], dtype=np.float32)
    drop_rows(rows)
    return ids, xy


def exists(cat: Catalogue, version: str, method: str) -> bool:
    """Whether this map has any point."""
    with cat.read() as conn:
        row = conn.execute(
            select(MapCoord.content_key)
            .where(MapCoord.model_version == version, MapCoord.method == method)
            .limit(1)
        ).first()
    return row is not None
