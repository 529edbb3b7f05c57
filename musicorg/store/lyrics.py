"""Lyrics of tracks (from tags, sidecar files or Genius) and the cache of Genius' answers."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import Connection, func, select, text

from musicorg.store.db import Catalogue, GeniusCache, Lyrics, Track
from musicorg.store.db import upsert as dialect_upsert

# One track's lyrics, written or replaced (the scanner writes a batch with executemany).
_UPSERT = text(
    "INSERT INTO lyrics (track_id, text, source, updated_at) VALUES (:tid, :text, :source, :now) "
    "ON CONFLICT(track_id) DO UPDATE SET text=excluded.text, source=excluded.source, "
    "updated_at=excluded.updated_at"
)


class LyricsState(NamedTuple):
    """An available track and the lyrics it has (source and text are None when it has none)."""

    track_id: int
    path: bytes
    source: str | None
    text: str | None


def upsert(conn: Connection, lyrics: Iterable[tuple[int, str, str]]) -> None:
    """Give each (track id, text, source) these lyrics, in the transaction ``conn``."""
    now = time.time()
    rows = [{"tid": tid, "text": t, "source": src, "now": now} for tid, t, src in lyrics]
    if rows:
        conn.execute(_UPSERT, rows)


def save(cat: Catalogue, lyrics: Iterable[tuple[int, str, str]]) -> None:
    """Give each (track id, text, source) these lyrics, in one transaction."""
    with cat.begin() as conn:
        upsert(conn, lyrics)


def of_available_tracks(cat: Catalogue) -> list[LyricsState]:
    with cat.read() as conn:
        rows = conn.execute(
            select(Track.id, Track.path, Lyrics.source, Lyrics.text)
            .outerjoin(Lyrics, Lyrics.track_id == Track.id)
            .where(Track.missing.is_(False))
        ).all()
    return [LyricsState(int(tid), path, source, t) for tid, path, source, t in rows]


def by_content_key(cat: Catalogue) -> dict[str, str]:
    """Lyrics per content key (byte-equal copies may differ: the least text wins)."""
    with cat.read() as conn:
        rows = conn.execute(
            select(Track.content_key, func.min(Lyrics.text))
            .join(Lyrics, Lyrics.track_id == Track.id)
            .group_by(Track.content_key)
        ).all()
    return {k: t for k, t in rows}


# --- Genius -----------------------------------------------------------------------------------


def without_lyrics(cat: Catalogue) -> list[tuple[int, str, str]]:
    """(id, artist, title) of the available tracks with no lyrics but a title and an artist,
    by artist, title and id."""
    with cat.read() as conn:
        rows = conn.execute(
            select(Track.id, Track.artist, Track.title)
            .outerjoin(Lyrics, Lyrics.track_id == Track.id)
            .where(
                Track.missing.is_(False),
                Lyrics.track_id.is_(None),
                Track.title.is_not(None),
                Track.artist.is_not(None),
            )
            .order_by(Track.artist, Track.title, Track.id)
        ).all()
    return [(int(tid), artist or "", title or "") for tid, artist, title in rows]


def genius_cached(cat: Catalogue, query: str) -> tuple[str | None, float] | None:
    """(lyrics, fetched_at) cached for ``query`` (lyrics None: a miss), or None if not asked."""
    with cat.read() as conn:
        row = conn.execute(
            select(GeniusCache.lyrics, GeniusCache.fetched_at).where(GeniusCache.query == query)
        ).first()
    return None if row is None else (row[0], float(row[1]))


def save_genius(
    cat: Catalogue, track_id: int, query: str | None, lyrics: str | None, source: str
) -> bool:
    """Cache the answer to ``query`` (when given) and give the track ``lyrics`` from ``source``,
    in one commit; True when the track got them.

    Lyrics a track already has (its tags, a sidecar, an earlier run) are never replaced.
    """
    now = time.time()
    stored = False
    with cat.begin() as conn:
        if query is not None:
            conn.execute(
                dialect_upsert(conn, GeniusCache)
                .values(query=query, lyrics=lyrics, fetched_at=now)
                .on_conflict_do_update(
                    index_elements=[GeniusCache.query], set_={"lyrics": lyrics, "fetched_at": now}
                )
            )
        exists = conn.execute(select(Track.id).where(Track.id == track_id)).first()
        if lyrics and exists is not None:
            res = conn.execute(
                dialect_upsert(conn, Lyrics)
                .values(track_id=track_id, text=lyrics, source=source, updated_at=now)
                .on_conflict_do_nothing(index_elements=[Lyrics.track_id])
            )
            stored = bool(res.rowcount)
    return stored
