"""Duplicates: files of the library that hold the same audio under other names.

Two files are the same audio when they share a content key (the scanner's key of the audio
payload, which a rename, a move or a retag leaves alone). Tracks marked missing do not count:
a file that moved is one track, not two.
"""

from __future__ import annotations

from sqlalchemy import func, select

from musicorg.store.db import Catalogue, Track


def same_audio(cat: Catalogue) -> list[list[int]]:
    """The ids of the available tracks that share their audio with another one, one list per
    content key (ids ascending), the lists in the order of their first id."""
    shared = (
        select(Track.content_key)
        .where(Track.missing.is_(False))
        .group_by(Track.content_key)
        .having(func.count() > 1)
    )
    q = (
        select(Track.content_key, Track.id)
        .where(Track.missing.is_(False), Track.content_key.in_(shared))
        .order_by(Track.id)
    )
    groups: dict[str, list[int]] = {}
    with cat.read() as conn:
        for key, tid in conn.execute(q):
            groups.setdefault(str(key), []).append(int(tid))
    return list(groups.values())
