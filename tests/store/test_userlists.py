"""User playlists: create, rename, delete, add, remove, reorder, list."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import update

from musicorg.store import userlists as ul
from musicorg.store.db import Catalogue, Track
from tests.latent_fixtures import add_tracks

pytestmark = pytest.mark.both_catalogues


def test_crud(cat: Catalogue) -> None:
    t = add_tracks(cat, np.zeros((6, 4)))
    pid = ul.create(cat, "  Road   trip ", [t[0], t[1], t[2]])
    assert [i.track_id for i in ul.items(cat, pid)] == t[:3]
    assert ul.find(cat, "Road trip") is not None
    with pytest.raises(ul.UserListError, match="already exists"):
        ul.create(cat, "Road trip")
    with pytest.raises(ul.UserListError, match="unknown track"):
        ul.create(cat, "Other", [99999])
    assert ul.free_name(cat, "Road trip") == "Road trip (2)"

    ul.add_tracks(cat, pid, [t[3], t[3]])
    ul.add_tracks(cat, pid, [t[4]], position=0)
    assert [i.track_id for i in ul.items(cat, pid)] == [t[4], t[0], t[1], t[2], t[3], t[3]]
    assert [i.position for i in ul.items(cat, pid)] == list(range(6))
    assert ul.remove_positions(cat, pid, [0, 5]) == 2
    assert [i.track_id for i in ul.items(cat, pid)] == [t[0], t[1], t[2], t[3]]
    ul.move(cat, pid, 3, 0)
    assert [i.track_id for i in ul.items(cat, pid)] == [t[3], t[0], t[1], t[2]]
    ul.reorder(cat, pid, [3, 2, 1, 0])
    assert [i.track_id for i in ul.items(cat, pid)] == [t[2], t[1], t[0], t[3]]
    with pytest.raises(ul.UserListError):
        ul.reorder(cat, pid, [0, 0, 1, 2])
    assert ul.remove_tracks(cat, pid, [t[1]]) == 1

    other = ul.create(cat, "Other")
    with pytest.raises(ul.UserListError, match="already exists"):
        ul.rename(cat, other, "Road trip")
    ul.rename(cat, other, "Renamed")
    assert [p.name for p in ul.playlists(cat, "user")] == ["Road trip", "Renamed"]

    sid, replaced = ul.save(cat, "Renamed", [t[5]])
    assert sid == other and replaced
    assert [i.track_id for i in ul.items(cat, other)] == [t[5]]
    ul.delete_playlist(cat, other)
    assert ul.find(cat, "Renamed") is None


def test_missing_tracks_stay_and_auto_playlists_are_not_edited(cat: Catalogue) -> None:
    t = add_tracks(cat, np.zeros((3, 4)))
    pid = ul.create(cat, "Mine", t)
    with cat.begin() as conn:
        conn.execute(update(Track).where(Track.id == t[1]).values(missing=True))
        auto = ul.insert_playlist(conn, "Auto 1", "auto")
    items = ul.items(cat, pid)
    assert [i.available for i in items] == [True, False, True]
    info = ul.find(cat, "Mine")
    assert info is not None and info.tracks == 3 and info.unavailable == 1
    with pytest.raises(ul.UserListError, match="automatic"):
        ul.rename(cat, auto, "x")
    with pytest.raises(ul.UserListError, match="automatic"):
        ul.delete_playlist(cat, auto)
    assert {p.kind for p in ul.playlists(cat)} == {"auto", "user"}
