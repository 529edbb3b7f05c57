"""What leaves the catalogue as files: the playlists that M3U export writes, and those that the
playlist mirror keeps (user playlists, and automatic ones the user pinned or renamed)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from musicorg.keys import AUTO, USER
from musicorg.store.db import TRACK_ENTRY, Catalogue, Playlist, PlaylistItem, Track
from musicorg.store.vectors import active_model_version


def exportable(cat: Catalogue) -> list[tuple[int, str, str]]:
    """(id, name, kind) of the user playlists and the active model's automatic ones, by id."""
    version = active_model_version(cat)
    with cat.read() as conn:
        rows = conn.execute(
            select(Playlist.id, Playlist.name, Playlist.kind, Playlist.model_version).order_by(
                Playlist.id
            )
        ).all()
    return [
        (int(pid), str(name), str(kind))
        for pid, name, kind, mv in rows
        if kind != AUTO or version is None or mv in (None, version)
    ]


@dataclass
class KeptTrack:
    path: bytes
    display: str
    content_key: str
    artist: str | None
    title: str | None
    duration: float | None


@dataclass
class KeptPlaylist:
    id: int
    name: str
    kind: str
    pinned: bool
    renamed: bool
    tracks: list[KeptTrack]


def kept_playlists(cat: Catalogue) -> list[KeptPlaylist]:
    """The playlists the mirror keeps, by id, with their tracks in order (one consistent read)."""
    with cat.read() as conn:
        rows = conn.execute(
            select(Playlist.id, Playlist.name, Playlist.kind, Playlist.pinned, Playlist.renamed)
            .where((Playlist.kind == USER) | Playlist.pinned.is_(True) | Playlist.renamed.is_(True))
            .order_by(Playlist.id)
        ).all()
        out = []
        for pid, name, kind, pinned, renamed in rows:
            items = conn.execute(
                select(*TRACK_ENTRY)
                .join(PlaylistItem, PlaylistItem.track_id == Track.id)
                .where(PlaylistItem.playlist_id == pid)
                .order_by(PlaylistItem.position)
            ).all()
            tracks = [KeptTrack(bytes(p), d, k, a, t, dur) for p, d, k, a, t, dur in items]
            out.append(
                KeptPlaylist(int(pid), str(name), str(kind), bool(pinned), bool(renamed), tracks)
            )
    return out
