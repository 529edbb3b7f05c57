"""Finding catalogued tracks from outside references: a file's path bytes, a content key."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from musicorg.store.db import Catalogue, Track


def first_by_path(cat: Catalogue, candidates: Sequence[Sequence[bytes]]) -> list[int | None]:
    """Per entry, the id of the track at the first of its candidate paths that one has, or
    None."""
    out: list[int | None] = []
    with cat.read() as conn:
        for paths in candidates:
            found = None
            for path in paths:
                found = conn.execute(select(Track.id).where(Track.path == path)).first()
                if found is not None:
                    break
            out.append(None if found is None else int(found[0]))
    return out


def paths(cat: Catalogue) -> list[tuple[bytes, int]]:
    """(path bytes, id) of every track, missing ones included."""
    with cat.read() as conn:
        return [(bytes(p), int(t)) for p, t in conn.execute(select(Track.path, Track.id))]


def by_path_and_key(cat: Catalogue) -> tuple[dict[bytes, int], dict[str, int]]:
    """Track ids by path bytes, and by content key (the lowest id of the tracks that share one)."""
    with cat.read() as conn:
        by_path = {bytes(p): int(i) for i, p in conn.execute(select(Track.id, Track.path))}
        by_key: dict[str, int] = {}
        for i, k in conn.execute(select(Track.id, Track.content_key).order_by(Track.id)):
            by_key.setdefault(str(k), int(i))
    return by_path, by_key
