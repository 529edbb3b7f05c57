"""What the catalogue holds per model version: embeddings, map coordinates, automatic
playlists and the note of when they were built; counted, and removed for versions that are
gone."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, func, select, update

from musicorg.keys import ACTIVE_MODEL_KEY, AUTO, BUILT_KEY, USER
from musicorg.store import events
from musicorg.store.db import Catalogue, Embedding, MapCoord, Meta, Playlist, PlaylistItem
from musicorg.store.userlists import free_name_in


def counts(cat: Catalogue) -> tuple[dict[str, int], dict[str, int]]:
    """Per model version: tracks with an embedding, and automatic playlists."""
    with cat.read() as conn:
        emb = {
            str(v): int(n)
            for v, n in conn.execute(
                select(Embedding.model_version, func.count()).group_by(Embedding.model_version)
            )
        }
        pls = {
            str(v): int(n)
            for v, n in conn.execute(
                select(Playlist.model_version, func.count())
                .where(Playlist.kind == AUTO)
                .group_by(Playlist.model_version)
            )
            if v is not None
        }
    return emb, pls


def auto_playlist_count(cat: Catalogue, version: str) -> int:
    with cat.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(Playlist)
                .where(Playlist.kind == AUTO, Playlist.model_version == version)
            ).scalar_one()
        )


def _versions_with_data(conn: Connection) -> set[str]:
    """The model versions the catalogue holds anything of: embeddings, map coordinates,
    automatic playlists, or the note of when their playlists were built."""
    seen = {str(v) for (v,) in conn.execute(select(Embedding.model_version).distinct())}
    seen |= {str(v) for (v,) in conn.execute(select(MapCoord.model_version).distinct())}
    seen |= {
        str(v)
        for (v,) in conn.execute(
            select(Playlist.model_version)
            .where(Playlist.kind == AUTO, Playlist.model_version.is_not(None))
            .distinct()
        )
    }
    built = conn.execute(select(Meta.key).where(Meta.key.startswith(BUILT_KEY, autoescape=True)))
    seen |= {str(k)[len(BUILT_KEY) :] for (k,) in built}
    return seen


def _stale(conn: Connection, keep: set[str]) -> list[str]:
    """Versions with data that are neither kept nor the catalogue's active one (even if that
    one is not installed)."""
    active = conn.execute(select(Meta.value).where(Meta.key == ACTIVE_MODEL_KEY)).scalar()
    return sorted(_versions_with_data(conn) - keep - ({str(active)} if active else set()))


@dataclass
class Removed:
    """What :func:`remove_versions` removed."""

    versions: list[str] = field(default_factory=list)
    embeddings: int = 0
    map_coords: int = 0
    auto_playlists: int = 0
    kept_as_user: list[str] = field(default_factory=list)  # their names as user playlists


def remove_versions(cat: Catalogue, installed: Callable[[], set[str] | None]) -> Removed:
    """Remove the data of every version that ``installed()`` does not name (nor the active one).

    ``installed`` returns None when it cannot tell (nothing is removed then). It is called
    again inside the write transaction, so a version installed by another process before its
    embeddings were written is always seen. Automatic playlists the user pinned or renamed
    become user playlists (same tracks and order; same name, or "name (2)" if a user playlist
    has it). When nothing is stale nothing is written and no write lock is taken.
    """
    removed = Removed()
    keep = installed()
    if keep is None:
        return removed
    with cat.read() as conn:
        if not _stale(conn, keep):
            return removed  # the usual case: no write at all
    with cat.begin() as conn:
        keep = installed()
        if keep is None:
            return removed
        removed.versions = _stale(conn, keep)
        for version in removed.versions:
            _remove_version(conn, version, removed)
    if removed.kept_as_user:
        events.playlists_changed(cat)
    return removed


def _remove_version(conn: Connection, version: str, removed: Removed) -> None:
    rows = conn.execute(
        select(Playlist.id, Playlist.name, Playlist.pinned, Playlist.renamed)
        .where(Playlist.kind == AUTO, Playlist.model_version == version)
        .order_by(Playlist.group_index, Playlist.id)
    ).all()
    for pid, name, pinned, renamed in rows:
        if pinned or renamed:
            # The user's work: an ordinary user playlist from now on.
            new_name = free_name_in(conn, str(name))
            conn.execute(
                update(Playlist)
                .where(Playlist.id == pid)
                .values(
                    kind=USER,
                    name=new_name,
                    model_version=None,
                    group_name=None,
                    group_index=None,
                    pinned=False,
                    renamed=False,
                    updated_at=time.time(),
                )
            )
            removed.kept_as_user.append(new_name)
        else:
            conn.execute(delete(PlaylistItem).where(PlaylistItem.playlist_id == pid))
            conn.execute(delete(Playlist).where(Playlist.id == pid))
            removed.auto_playlists += 1
    removed.embeddings += conn.execute(
        delete(Embedding).where(Embedding.model_version == version)
    ).rowcount
    removed.map_coords += conn.execute(
        delete(MapCoord).where(MapCoord.model_version == version)
    ).rowcount
    conn.execute(delete(Meta).where(Meta.key == BUILT_KEY + version))
