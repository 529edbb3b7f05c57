"""The reads of μ (store.vectors) and the automatic playlists' write (store.autolists)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert

from musicorg.keys import AUTO
from musicorg.store import autolists, vectors
from musicorg.store.db import Catalogue, Embedding, Track, follow_ids
from tests.pg import new_catalogue

pytestmark = pytest.mark.both_catalogues


@pytest.fixture
def cat(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalogue]:
    """Six tracks: 0-4 with a μ of "a" (2 missing; 3 and 4 copies of one content key), 5 with
    none; a μ of "b" for track 0, and one of "a" for a content key no track has."""
    now = time.time()
    c = new_catalogue(backend, request, tmp_path)
    keys = ["k0", "k1", "k2", "k3", "k3", "k5"]
    with c.begin() as conn:
        for i, key in enumerate(keys):
            conn.execute(
                insert(Track).values(
                    id=i + 1,
                    path=f"/m/{i}.flac".encode(),
                    display=f"/m/{i}.flac",
                    size=1,
                    mtime_ns=1,
                    content_key=key,
                    fmt="flac",
                    missing=i == 2,
                    added_at=now,
                    updated_at=now,
                )
            )
        for key, version, value in [
            *((k, "a", float(i)) for i, k in enumerate(["k0", "k1", "k2", "k3"])),
            ("k0", "b", 9.0),
            ("gone", "a", 7.0),
        ]:
            mu = np.full(3, value, np.float32).tobytes()
            conn.execute(
                insert(Embedding).values(
                    content_key=key, model_version=version, mu=mu, created_at=now
                )
            )
        follow_ids(conn, Track)
    yield c
    c.close()


def test_available_tracks_with_a_mu(cat: Catalogue) -> None:
    names, ids, mu = vectors.embeddings(cat, "a")
    assert ids == [1, 2, 4, 5] and names[0] == "/m/0.flac"
    assert mu.shape == (4, 3) and mu[:, 0].tolist() == [0.0, 1.0, 3.0, 3.0]
    assert vectors.embedded_track_ids(cat, "a") == [1, 2, 4, 5]
    assert vectors.embedded_track_ids(cat, "b") == [1]
    assert vectors.embeddings(cat, "none")[2].shape == (0, 0)


def test_track_vectors_mark_the_missing(cat: Catalogue) -> None:
    found = vectors.track_vectors(cat, "a")
    assert found.version == "a" and found.ids.tolist() == [1, 2, 3, 4, 5]
    assert found.missing.tolist() == [False, False, True, False, False]
    assert found.keys == ["k0", "k1", "k2", "k3", "k3"]


def test_content_vectors_keep_missing_tracks_keys_once(cat: Catalogue) -> None:
    keys, mu = vectors.content_vectors(cat, "a")
    assert keys == ["k0", "k1", "k2", "k3"]  # not "gone": no track has it
    assert mu[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0]


def _one(track_ids: list[int], name: str = "") -> autolists.BuiltPlaylist:
    return autolists.BuiltPlaylist(track_ids, autolists.Grouped(0, "G"), name=name)


def test_build_write_never_reuses_an_id(cat: Catalogue) -> None:
    autolists.write_build(cat, autolists.Build("a", [_one([1, 2], "x"), _one([4], "y")]))
    first = autolists.listed(cat, "a")
    assert sorted((p.name, p.track_ids) for p in first) == [("x", [1, 2]), ("y", [4])]
    assert all(p.kind == AUTO for p in first)
    top = max(p.id for p in first)
    autolists.write_build(cat, autolists.Build("a", [], removed=[p.id for p in first]))
    assert autolists.listed(cat, "a") == []
    autolists.write_build(cat, autolists.Build("a", [_one([5], "z")], note={"n": 1}))
    (again,) = autolists.listed(cat, "a")
    assert again.id == top + 1 and again.track_ids == [5]
    note = autolists.built_info(cat, "a")
    assert note is not None and note["n"] == 1 and "built_at" in note


def test_rename_refuses_a_name_taken_in_any_case(cat: Catalogue) -> None:
    autolists.write_build(cat, autolists.Build("a", [_one([1], "Night"), _one([2], "Day")]))
    ids = {p.name: p.id for p in autolists.listed(cat, "a")}
    with pytest.raises(autolists.NameTaken):
        autolists.rename_auto(cat, ids["Day"], "night", "a")
    autolists.rename_auto(cat, ids["Day"], "Dawn", "a")
    renamed = {p.name: p.renamed for p in autolists.listed(cat, "a")}
    assert renamed == {"Night": False, "Dawn": True}
    assert autolists.kind_of(cat, ids["Night"]) == (AUTO, "a")
    assert autolists.kind_of(cat, 999) is None
