"""Playlists people trust (#19 item 2): they stay put as tracks arrive, lengths change and
models switch; every track is in one; names say something, never contradict themselves and
never repeat a group's; each playlist says why.

On real libraries: the 165 held-out tracks of the training corpus (``heldout.py``: μ of the
bundled model and of the one before it, descriptors and tags, as the app stores them) and the
demo library, scanned and analysed once per module.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert, update

from musicorg import paths
from musicorg.keys import ACTIVE_MODEL_KEY
from musicorg.model import autotags
from musicorg.organise import cluster, cuts, naming, placement, tracksets
from musicorg.organise import playlists as pl
from musicorg.store.db import Catalogue, Embedding, Playlist, Track, backup
from tests.organise import heldout

GENERIC = re.compile(r"^(Mix|Group) \d+$")
#: Words a name never holds together: each descriptor's halves, the clashes of two
#: descriptors, and the tagger's opposites.
CONTRADICTIONS = {
    frozenset(pair)
    for pair in [
        ("calm", "energetic"),
        ("dark", "bright"),
        ("slow", "fast"),
        ("calm", "fast"),
        ("slow", "energetic"),
        *((a.casefold(), b.casefold()) for a, b in autotags.OPPOSITES),
    ]
}


def words(name: str) -> list[str]:
    return [w.strip().casefold() for w in name.split(naming.SEP.strip())]


def name_problems(lists: list[pl.PlaylistInfo]) -> list[str]:
    """What is wrong with the names of a build (nothing, we hope)."""
    out = []
    keys = [tuple(sorted(words(p.name))) for p in lists]
    if len(set(keys)) != len(keys):
        out.append(f"duplicate names: {[p.name for p in lists]}")
    for p in lists:
        for name in (p.name, p.group_name or ""):
            if GENERIC.match(name) or not name:
                out.append(f"generic: {name!r}")
            if re.search(r" \d+$", name):
                out.append(f"numbered: {name!r}")
            for a, b in itertools.combinations(words(name), 2):
                if frozenset((a, b)) in CONTRADICTIONS:
                    out.append(f"contradiction: {name!r}")
        if sorted(words(p.group_name or "")) == sorted(words(p.name)):
            out.append(f"group {p.group_name!r} holds {p.name!r}")
    return out


def membership(lists: list[pl.PlaylistInfo]) -> dict[int, int]:
    """Track → playlist id; fails when a track is in two playlists."""
    out: dict[int, int] = {}
    for p in lists:
        for t in p.track_ids:
            assert t not in out, f"track {t} in playlists {out[t]} and {p.id}"
            out[t] = p.id
    return out


def assert_every_track_in_one(cat: Catalogue) -> None:
    membership(pl.list_playlists(cat))
    assert pl.unplaced_tracks(cat) == []


# --- the real held-out library --------------------------------------------------------------


@pytest.fixture(scope="module")
def lib() -> heldout.Heldout:
    return heldout.load()


def library_of(cat: Catalogue, lib: heldout.Heldout, n_old: int, n_new: int, albums: bool):
    """``n_old`` tracks in the catalogue, and the rows of ``n_new`` more: random ones, or
    (``albums``) whole soundtracks, as a user adds albums."""
    order = np.random.default_rng(0).permutation(len(lib))[: n_old + n_new]
    if albums:
        package = np.asarray(lib.package)
        new: list[int] = []
        for name in dict.fromkeys(package[order]):
            rows = [int(r) for r in order if package[r] == name]
            if len(new) + len(rows) <= n_new:
                new += rows
        old = [int(r) for r in order if r not in set(new)]
        order = np.asarray(old[:n_old] + new[:n_new])
    heldout.add_to(cat, lib, order[:n_old])
    return order[n_old:]


@pytest.mark.parametrize("albums", [False, True], ids=["random tracks", "whole albums"])
def test_thirty_new_tracks_join_125_without_renaming(
    cat: Catalogue, lib: heldout.Heldout, albums: bool
) -> None:
    new_rows = library_of(cat, lib, 125, 30, albums)
    first = pl.build_playlists(cat)
    assert_every_track_in_one(cat)
    assert name_problems(first) == []
    pl.rename_playlist(cat, first[0].id, "Road trip")
    before = pl.list_playlists(cat)
    heldout.add_to(cat, lib, new_rows)
    assert not pl.needs_recluster(cat)  # 30 of 155 < 25 %
    after, rebuilt = pl.ensure_playlists(cat)
    assert not rebuilt
    old, now = membership(before), membership(after)
    kept = sum(now.get(t) == p for t, p in old.items()) / len(old)
    assert kept >= 0.95
    assert {p.id: p.name for p in after} == {p.id: p.name for p in before}
    assert_every_track_in_one(cat)
    assert sum(p.size for p in after) == 155
    # Within the maximum length (spilled to the next nearest where one was full).
    _lo, hi = cuts.size_limits(155)
    assert max(p.size for p in after) <= hi
    # Nothing to do the second time.
    assert pl.place_new(cat) == pl.Placed()


def test_a_quarter_new_clusters_again_and_matched_playlists_keep_their_names(
    cat: Catalogue, lib: heldout.Heldout
) -> None:
    new_rows = library_of(cat, lib, 110, 40, albums=False)
    first = pl.build_playlists(cat)
    pl.rename_playlist(cat, first[1].id, "Night drive")
    heldout.add_to(cat, lib, new_rows[:30])
    pl.ensure_playlists(cat)  # 30 of 140: they join
    assert not pl.needs_recluster(cat)
    heldout.add_to(cat, lib, new_rows[30:])  # 40 of 150: a quarter (and more)
    assert pl.needs_recluster(cat)
    before = {p.id: p for p in pl.list_playlists(cat)}
    after, rebuilt = pl.ensure_playlists(cat)
    assert rebuilt and not pl.needs_recluster(cat)
    matched = [p for p in after if p.id in before]
    assert matched, "a rebuild of a library that grew by a quarter matches some playlists"
    for p in matched:
        assert p.name == before[p.id].name
    assert {p.id: p.name for p in after}.get(first[1].id, "Night drive") == "Night drive"
    assert_every_track_in_one(cat)
    assert name_problems(after) == []


def test_a_model_switch_clusters_again_and_keeps_the_names_it_matches(
    cat: Catalogue, lib: heldout.Heldout
) -> None:
    """hvae-0.9.0 → hvae-1.1.0 and back, on real μ of both."""
    rows = np.random.default_rng(1).permutation(len(lib))[:155]
    heldout.add_to(cat, lib, rows, version=heldout.PREVIOUS, mu=lib.mu_previous[rows])
    first = pl.build_playlists(cat)
    pl.rename_playlist(cat, first[2].id, "Sunday")
    old = pl.list_playlists(cat)
    # The switch: the other model's μ of every track, and its first build.
    now = time.time()
    with cat.begin() as conn:
        for r in rows:
            conn.execute(
                insert(Embedding).values(
                    content_key=f"heldout-{int(r):03d}",
                    model_version=heldout.VERSION,
                    mu=lib.mu[int(r)].tobytes(),
                    created_at=now,
                )
            )
    cat.set_meta(ACTIVE_MODEL_KEY, heldout.VERSION)
    assert pl.needs_recluster(cat)  # no playlists of this model yet
    switched, rebuilt = pl.ensure_playlists(cat)
    assert rebuilt
    assert_every_track_in_one(cat)
    assert name_problems([p for p in switched if not p.renamed]) == []
    # Each playlist matched to one of the other model's takes its name (the user's always,
    # an automatic one when its words are still true of it); the rest are named afresh.
    found = tracksets.match(
        [set(o.track_ids) for o in old], [set(p.track_ids) for p in switched], pl.CARRY_MIN
    )
    assert found, "the two models agree on some playlists"
    carried = 0
    for j, i in found.items():
        if old[i].renamed:
            assert switched[j].name == old[i].name and switched[j].renamed
        carried += switched[j].name == old[i].name
    assert carried >= 1
    names = [p.name for p in switched]
    assert len(set(names)) == len(names)
    # The previous model's playlists are left as they were.
    assert [(p.id, p.name) for p in pl.list_playlists(cat, heldout.PREVIOUS)] == [
        (p.id, p.name) for p in old
    ]
    # Back again: that model's playlists are there, and new tracks join them.
    cat.set_meta(ACTIVE_MODEL_KEY, heldout.PREVIOUS)
    extra = [r for r in range(len(lib)) if r not in set(rows.tolist())]
    heldout.add_to(cat, lib, extra, version=heldout.PREVIOUS, mu=lib.mu_previous[extra])
    back, rebuilt = pl.ensure_playlists(cat)
    assert not rebuilt and {p.id: p.name for p in back} == {p.id: p.name for p in old}
    assert_every_track_in_one(cat)


def test_new_lengths_split_and_merge_without_renaming(cat: Catalogue, lib: heldout.Heldout) -> None:
    heldout.add_to(cat, lib, np.arange(len(lib)))
    first = pl.build_playlists(cat, playlist_min=20, playlist_max=60)
    pl.rename_playlist(cat, first[0].id, "Mine")
    before = pl.list_playlists(cat)
    old = membership(before)
    # Shorter playlists: the long ones are cut; each goes on (id, name) as its biggest piece.
    shorter = pl.resize_playlists(cat, playlist_min=5, playlist_max=15)
    lo, hi = cuts.size_limits(len(lib), 5, 15)
    assert all(lo <= p.size <= hi for p in shorter)
    now = membership(shorter)
    names = {p.id: p.name for p in shorter}
    for p in before:
        assert names[p.id] == p.name
        # Every track of the playlist is in it or in a piece cut from it.
        pieces = {now[t] for t in p.track_ids}
        assert p.id in pieces and all(q == p.id or q not in old.values() for q in pieces)
    assert_every_track_in_one(cat)
    assert name_problems(shorter) == []
    # Longer again: short ones merge into their neighbours, the rest keep every track (but
    # what the user's playlist takes to reach the new minimum: it is never dissolved).
    mine = next(p for p in shorter if p.name == "Mine")
    longer = pl.resize_playlists(cat, playlist_min=30, playlist_max=60)
    lo, hi = cuts.size_limits(len(lib), 30, 60)
    assert all(lo <= p.size <= hi for p in longer)
    need = max(0, lo - mine.size)
    survivors = {p.id: p for p in longer}
    was = {p.id: p for p in shorter}
    lost = sum(len(set(was[pid].track_ids) - set(p.track_ids)) for pid, p in survivors.items())
    assert lost <= need
    assert {p.id: p.name for p in longer}.items() <= {p.id: p.name for p in shorter}.items()
    moved = sum(membership(longer)[t] != q for t, q in membership(shorter).items())
    dissolved = sum(p.size for p in shorter if p.id not in survivors)
    assert moved <= dissolved + need  # only those tracks moved
    assert survivors[mine.id].name == "Mine"
    assert_every_track_in_one(cat)


def test_placement_spills_to_the_next_nearest_and_keeps_the_order() -> None:
    x = np.array([[0.0, 0], [1, 0], [2, 0], [10, 0], [11, 0], [12, 0]], dtype=np.float32)
    members = [[0, 1, 2], [3, 4, 5]]
    extra = np.vstack([x, [[1.2, 0], [1.4, 0], [1.9, 0], [0.5, 0]]]).astype(np.float32)
    gained = placement.place(extra, members, np.array([6, 7, 8]), max_size=5)
    # Two fit in the first playlist (the nearest two), the third spills to the second.
    assert sorted(gained[0]) == [6, 7] and gained[1] == [8]
    # Inserted where the path grows least: 0.5 between 0 and 1, not at an end.
    assert placement.insert_in_order(extra, [0, 1, 2], [9]) == [0, 9, 1, 2]
    # A pinned (closed) playlist takes nothing.
    gained = placement.place(extra, members, np.array([6, 7, 8]), 5, closed=[True, False])
    assert gained[0] == [] and sorted(gained[1]) == [6, 7, 8]


def test_missing_tracks_stay_where_they_were(cat: Catalogue, lib: heldout.Heldout) -> None:
    heldout.add_to(cat, lib, np.arange(100))
    first = pl.build_playlists(cat)
    gone = first[0].track_ids[1]
    with cat.begin() as conn:
        conn.execute(update(Track).where(Track.id == gone).values(missing=True))
    heldout.add_to(cat, lib, np.arange(100, 120))
    after, _ = pl.ensure_playlists(cat)
    mine = next(p for p in after if p.id == first[0].id)
    assert gone in mine.track_ids and mine.unavailable == 1
    assert mine.track_ids.index(gone) > mine.track_ids.index(first[0].track_ids[0])
    assert sum(p.size for p in after) == 120


def test_a_name_that_said_nothing_is_replaced_by_a_rebuild(
    cat: Catalogue, lib: heldout.Heldout
) -> None:
    heldout.add_to(cat, lib, np.arange(120))
    first = pl.build_playlists(cat)
    with cat.begin() as conn:  # as an earlier version named them
        conn.execute(update(Playlist).where(Playlist.id == first[0].id).values(name="Mix 1"))
        conn.execute(
            update(Playlist).where(Playlist.id == first[1].id).values(name="Group 2", renamed=True)
        )
    again = {p.id: p.name for p in pl.build_playlists(cat)}
    assert again[first[0].id] == first[0].name  # named again, as it is
    assert again[first[1].id] == "Group 2"  # the user chose that


# --- the demo library -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from musicorg.app import pipeline
    from musicorg.ingest import scanner
    from musicorg.model.bundle import ModelIntegrityError, load_model

    try:
        load_model(device="cpu")
    except ModelIntegrityError as exc:
        pytest.skip(f"no usable bundled model: {exc}")
    base = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        for name in ("DATA", "CONFIG", "CACHE", "LOG"):
            mp.setenv(f"MUSICORG_{name}_DIR", str(base / name.lower()))
        with Catalogue(base / "demo.sqlite") as c:
            scanner.scan(c, [paths.demo_dir()])
            pipeline.analyse(c, device="cpu", workers=1)
    return base / "demo.sqlite"


@pytest.fixture
def demo(demo_db: Path, tmp_path: Path) -> Iterator[Catalogue]:
    backup(demo_db, tmp_path / "demo.sqlite")
    with Catalogue(tmp_path / "demo.sqlite") as c:
        yield c


@pytest.mark.parametrize("method", cluster.METHODS)
def test_demo_names_say_something_and_never_contradict(demo: Catalogue, method: str) -> None:
    for lengths in ((20, 60), (5, 15), (3, 8)):
        lists = pl.build_playlists(
            demo, method=method, playlist_min=lengths[0], playlist_max=lengths[1]
        )
        assert name_problems(lists) == [], (
            method,
            lengths,
            [(p.group_name, p.name) for p in lists],
        )
        assert_every_track_in_one(demo)
        assert sum(p.size for p in lists) == 70


def test_demo_keeps_its_playlists(demo: Catalogue) -> None:
    first = pl.build_playlists(demo)
    assert_every_track_in_one(demo)
    # A rescan and an analysis with nothing new change nothing.
    lists, rebuilt = pl.ensure_playlists(demo)
    assert not rebuilt and [(p.id, p.name, p.track_ids) for p in lists] == [
        (p.id, p.name, p.track_ids) for p in first
    ]
    # New lengths: names kept, the bounds met.
    resized = pl.resize_playlists(demo, playlist_min=5, playlist_max=12)
    assert {p.id: p.name for p in first}.items() <= {p.id: p.name for p in resized}.items()
    assert all(5 <= p.size <= 12 for p in resized)
    assert name_problems(resized) == []
    assert_every_track_in_one(demo)
