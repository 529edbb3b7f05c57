"""Automatic playlists in the catalogue: build, list, rename, pin.

:func:`build_playlists` runs four steps: **read** the active model's μ, tags and descriptors
and the previous playlists (:mod:`musicorg.store.autolists`), **plan** the playlists on arrays
(:mod:`musicorg.organise.cluster`, pure: the method, the guards and the order are described
there) and match them with the previous ones, **name** them (:mod:`musicorg.organise.naming`),
and **write** the result in one transaction. The settings (``cluster_method``,
``playlist_min``, ``playlist_max``) are read here, never by the algorithms.

Songs with the same artist and title (normalised, case-insensitive), and byte-equal copies,
collapse to one entry (the one with the lowest track id) before clustering; missing tracks
take no part.

**Stability.** Rebuilding is explicit (the user asks, or :func:`needs_recluster` says that an
analysis added at least 10 % new tracks since the last build); never on a mere rescan. A rebuild
starts from the previous playlists (each track where it was, new tracks in the nearest
playlist, then the guards and the local search), so a rebuild of the same library keeps
its playlists and a few new tracks change little. New
playlists are matched to the old ones of the same model version by the Hungarian method on
Jaccard similarity (:mod:`musicorg.organise.tracksets`); a match of at least 0.5 keeps the
playlist's id and name (and its ``renamed`` flag: a playlist the user renamed keeps that name
while its members change). Unmatched old playlists are removed. A *pinned* playlist keeps its
tracks and its name: its tracks stay in it and are left out of the clustering; the rest of
the library is clustered. Each rebuild also matches groups by Jaccard, so a group keeps its
index (its colour) when it keeps at least half its tracks. Pinned playlists are put in the
new group nearest to them. Automatic playlists belong to one model version; other versions'
playlists are left alone, and user playlists never depend on the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from musicorg import settings as settings_mod
from musicorg.jobs import CancelFn, ProgressFn, check, never, no_progress
from musicorg.keys import AUTO
from musicorg.organise import naming
from musicorg.organise.cluster import (
    MAX_GROUPS,
    Plan,
    plan_playlists,
)
from musicorg.organise.cuts import IndexArray
from musicorg.organise.tracksets import dedupe, match
from musicorg.store import autolists
from musicorg.store.autolists import Library, PlaylistInfo
from musicorg.store.db import Catalogue
from musicorg.store.vectors import active_model_version, embedded_track_ids

__all__ = [
    "PlaylistError",
    "PlaylistInfo",
    "build_playlists",
    "ensure_playlists",
    "list_playlists",
    "needs_recluster",
    "pin_playlist",
    "rename_playlist",
]

RECLUSTER_SHARE = 0.10


class PlaylistError(RuntimeError):
    """Playlists cannot be built or changed, with a message for people."""


def track_tags(lib: Library) -> naming.TrackTags:
    """What naming knows of the library's tracks, row by row."""
    return naming.TrackTags(
        lib.genres,
        lib.artists,
        lib.years,
        lib.tempo,
        lib.brightness,
        lib.energy,
        tag_probs=lib.tag_probs,
    )


def needs_recluster(cat: Catalogue) -> bool:
    """True when the active model's playlists should be rebuilt without being asked: none was
    built yet (and there is something to build from), or analyses since the last build added
    at least 10 % new tracks. A rescan alone never makes this true."""
    version = active_model_version(cat)
    if version is None:
        return False
    ids = embedded_track_ids(cat, version)
    if not ids:
        return False
    info = autolists.built_info(cat, version)
    if info is None:
        return True
    built_n = int(info.get("n", 0))
    max_id = int(info.get("max_track_id", 0))
    new = sum(1 for t in ids if t > max_id)
    return new >= max(1, math.ceil(RECLUSTER_SHARE * max(built_n, 1)))


# --- build: read → plan → name → write ---------------------------------------------------------


@dataclass
class _Options:
    """How to cut: the method and the playlist length, from the arguments or the settings."""

    method: str
    playlist_min: int
    playlist_max: int

    @classmethod
    def of(cls, method: str | None, playlist_min: int | None, playlist_max: int | None) -> _Options:
        s = settings_mod.load()
        opts = cls(
            method or s.cluster_method,
            playlist_min if playlist_min is not None else s.playlist_min,
            playlist_max if playlist_max is not None else s.playlist_max,
        )
        if not 1 <= opts.playlist_min <= opts.playlist_max:
            raise PlaylistError("playlist length must satisfy 1 <= min <= max")
        return opts


@dataclass
class _Read:
    """What a build starts from."""

    n: int  # available tracks with an embedding, copies included
    max_track_id: int
    whole: Library  # one row per song: naming is relative to it, pinned tracks included
    free: Library  # the rows of ``whole`` in no pinned playlist: the ones clustered
    old: list[PlaylistInfo]  # the version's playlists as the last build left them

    @property
    def pinned(self) -> list[PlaylistInfo]:
        return [o for o in self.old if o.pinned]

    @property
    def movable(self) -> list[PlaylistInfo]:
        return [o for o in self.old if not o.pinned]


def _read(cat: Catalogue, version: str) -> _Read:
    """Step 1: the library with μ of ``version``, tags and descriptors, and its playlists."""
    lib = autolists.library(cat, version)
    if not lib.track_ids:
        raise PlaylistError(f"no embeddings for model {version}: run `musicorg analyse` first")
    old = sorted(autolists.listed(cat, version), key=lambda p: p.id)
    pinned_ids = {t for o in old if o.pinned for t in o.track_ids}
    whole = lib.subset(dedupe(lib.track_ids, lib.artists, lib.titles, lib.content_keys))
    free_rows = np.asarray(
        [i for i, t in enumerate(whole.track_ids) if t not in pinned_ids], dtype=np.intp
    )
    return _Read(len(lib.track_ids), max(lib.track_ids), whole, whole.subset(free_rows), old)


@dataclass
class _Planned:
    """The new playlists and groups, and what they keep of the old ones."""

    plan: Plan
    playlists: list[list[int]]  # track ids of each new playlist, in play order
    groups: list[set[int]]  # track ids of each new group
    group_index: dict[int, int]  # new group -> its index (colour), an old group's if it matched
    kept: dict[int, int]  # new playlist -> the old movable one it goes on from (id and name)
    pinned_group: dict[int, int]  # pinned playlist id -> the new group nearest to it


def _plan(
    read: _Read, opts: _Options, seed: int, progress: ProgressFn, cancel: CancelFn
) -> _Planned:
    """Step 2: the playlists and groups (pure, :func:`plan_playlists`), matched with the old
    ones."""
    free = read.free
    # The previous run's playlists, as rows of this run, steer the cuts (see plan_playlists).
    free_row = {t: i for i, t in enumerate(free.track_ids)}
    previous = [
        np.asarray([free_row[t] for t in o.track_ids if t in free_row], dtype=np.intp)
        for o in read.movable
    ]
    plan = plan_playlists(
        free.vectors,
        method=opts.method,
        previous=[p for p in previous if len(p)],
        playlist_min=opts.playlist_min,
        playlist_max=opts.playlist_max,
        seed=seed,
        progress=progress,
        cancel=cancel,
    )
    check(cancel)
    playlists = [[free.track_ids[int(r)] for r in p] for p in plan.playlists]
    groups = [{free.track_ids[int(r)] for r in plan.group_members(g)} for g in range(plan.n_groups)]
    kept = match([set(o.track_ids) for o in read.movable], [set(p) for p in playlists])
    return _Planned(
        plan, playlists, groups, _group_index(read, groups), kept, _pinned_groups(read, plan)
    )


def _group_index(read: _Read, groups: list[set[int]]) -> dict[int, int]:
    """Keep the index (colour) of an old group that keeps at least half its tracks; the
    other new groups take the lowest free ones."""
    old_groups: dict[int, set[int]] = {}
    for o in read.movable:
        if o.group_index is not None:
            old_groups.setdefault(int(o.group_index), set()).update(o.track_ids)
    old_gids = sorted(old_groups)
    gmatch = match([old_groups[g] for g in old_gids], groups)
    group_index: dict[int, int] = {g: old_gids[i] for g, i in gmatch.items()}
    free_idx = (i for i in range(10 * MAX_GROUPS) if i not in group_index.values())
    for g in range(len(groups)):
        if g not in group_index:
            group_index[g] = next(free_idx)
    return group_index


def _pinned_groups(read: _Read, plan: Plan) -> dict[int, int]:
    """Pinned playlists go to the new group nearest to their tracks."""
    if not plan.n_groups:
        return {}
    gcent = np.stack(
        [read.free.vectors[plan.group_members(g)].mean(0) for g in range(plan.n_groups)]
    )
    vec_of = {t: read.whole.vectors[i] for i, t in enumerate(read.whole.track_ids)}
    out: dict[int, int] = {}
    for o in read.pinned:
        vecs = [vec_of[t] for t in o.track_ids if t in vec_of]
        if vecs:
            c = np.mean(vecs, axis=0)
            out[o.id] = int(np.argmin(((gcent - c) ** 2).sum(1)))
    return out


def _name(read: _Read, planned: _Planned) -> tuple[dict[int, str], dict[int, str]]:
    """Step 3: names of the new groups (by group), and of the new playlists that go on from no
    old one (by playlist; the others keep their names)."""
    vocab = naming.Vocabulary.build(track_tags(read.whole))
    plan, kept, movable = planned.plan, planned.kept, read.movable
    row_of = {t: i for i, t in enumerate(read.whole.track_ids)}

    def rows(tids: set[int] | list[int]) -> IndexArray:
        return np.asarray(sorted(row_of[t] for t in tids if t in row_of), dtype=np.intp)

    # Group names from the group's tracks, in the group-index order. A group's name does not
    # contradict one of its playlists ("energetic" over a "calm" one).
    gorder = sorted(range(plan.n_groups), key=lambda g: planned.group_index[g])
    in_group = {g: [j for j, pg in enumerate(plan.group_of) if pg == g] for g in gorder}
    avoid = [
        naming.contradicted(
            vocab,
            [rows(planned.playlists[j]) for j in in_group[g]],
            [movable[kept[j]].name for j in in_group[g] if j in kept],
        )
        for g in gorder
    ]
    gnames = naming.name_sets(
        [rows(planned.groups[g]) for g in gorder],
        vocab,
        fallback="Group",
        max_tokens=2,
        avoid=avoid,
    )
    group_name = {g: gnames[k] for k, g in enumerate(gorder)}
    fresh = [j for j in range(len(planned.playlists)) if j not in kept]
    fresh_names = naming.name_sets(
        [rows(planned.playlists[j]) for j in fresh],
        vocab,
        reserved=[o.name for o in read.pinned] + [movable[i].name for i in kept.values()],
        wordings=gnames,
        parents=[group_name[plan.group_of[j]] for j in fresh],
    )
    return group_name, {j: fresh_names[k] for k, j in enumerate(fresh)}


def _build(
    version: str,
    opts: _Options,
    read: _Read,
    planned: _Planned,
    names: tuple[dict[int, str], dict[int, str]],
) -> autolists.Build:
    """Step 4, what ``autolists.write_build`` stores: the new playlists, the old ones removed,
    the pinned ones regrouped, and the note of this build."""
    group_name, fresh_names = names
    movable, kept = read.movable, planned.kept

    def group(g: int) -> autolists.Grouped:
        return autolists.Grouped(planned.group_index[g], group_name[g])

    keep_ids = {movable[i].id for i in kept.values()}
    return autolists.Build(
        version=version,
        playlists=[
            autolists.BuiltPlaylist(
                tracks,
                group(planned.plan.group_of[j]),
                keep_id=movable[kept[j]].id if j in kept else None,
                name=fresh_names.get(j, ""),
            )
            for j, tracks in enumerate(planned.playlists)
        ],
        removed=[o.id for o in movable if o.id not in keep_ids],
        pinned={pid: group(g) for pid, g in planned.pinned_group.items()},
        note={
            "n": read.n,
            "max_track_id": read.max_track_id,
            "method": opts.method,
            "playlist_min": opts.playlist_min,
            "playlist_max": opts.playlist_max,
        },
    )


def build_playlists(
    cat: Catalogue,
    *,
    method: str | None = None,
    playlist_min: int | None = None,
    playlist_max: int | None = None,
    seed: int = 0,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> list[PlaylistInfo]:
    """(Re)build the automatic playlists of the active model version; return the list."""
    version = active_model_version(cat)
    if version is None:
        raise PlaylistError("no analysis yet: run `musicorg analyse` first")
    opts = _Options.of(method, playlist_min, playlist_max)
    progress(0, 0, "Reading embeddings…")
    read = _read(cat, version)
    check(cancel)
    planned = _plan(read, opts, seed, progress, cancel)
    names = _name(read, planned)
    autolists.write_build(cat, _build(version, opts, read, planned, names))
    progress(4, 4, f"{len(planned.playlists)} playlists in {planned.plan.n_groups} groups")
    return list_playlists(cat, version)


# --- lists and the user's edits ----------------------------------------------------------------


def list_playlists(
    cat: Catalogue,
    model_version: str | None = None,
    *,
    include_user: bool = False,
    examples: int = 3,
) -> list[PlaylistInfo]:
    """Automatic playlists of a model version (default: the active one), by group then name;
    user playlists after them when ``include_user``."""
    version = model_version or active_model_version(cat)
    return autolists.listed(cat, version, include_user=include_user, examples=examples)


def _auto_row(cat: Catalogue, playlist_id: int) -> tuple[str, str | None]:
    row = autolists.kind_of(cat, playlist_id)
    if row is None:
        raise PlaylistError(f"no playlist with id {playlist_id}")
    if row[0] != AUTO:
        raise PlaylistError("that is a user playlist; rename it with the user-playlist tools")
    return row


def rename_playlist(cat: Catalogue, playlist_id: int, name: str) -> None:
    """Give an automatic playlist a name of the user's; it survives rebuilds that match it."""
    clean = " ".join(name.split())
    if not clean:
        raise PlaylistError("a playlist needs a name")
    _kind, version = _auto_row(cat, playlist_id)
    try:
        autolists.rename_auto(cat, playlist_id, clean, version)
    except autolists.NameTaken:
        raise PlaylistError(f"another playlist is already called {clean!r}") from None


def pin_playlist(cat: Catalogue, playlist_id: int, pinned: bool = True) -> None:
    """Pin (freeze) or unpin an automatic playlist. A pinned playlist keeps its tracks and
    name through rebuilds, and its tracks are left out of the clustering."""
    _auto_row(cat, playlist_id)
    autolists.set_pinned(cat, playlist_id, pinned)


def ensure_playlists(
    cat: Catalogue,
    *,
    method: str | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> tuple[list[PlaylistInfo], bool]:
    """The playlists, rebuilt first only when :func:`needs_recluster` says so; and whether
    they were rebuilt."""
    if needs_recluster(cat):
        return build_playlists(cat, method=method, progress=progress, cancel=cancel), True
    return list_playlists(cat), False
