"""Automatic playlists in the catalogue: build, keep up to date, resize, explain, rename, pin.

:func:`build_playlists` runs four steps: **read** the active model's μ, tags and descriptors
and the previous playlists (:mod:`musicorg.store.autolists`), **plan** the playlists on arrays
(:mod:`musicorg.organise.cluster`, pure: the method, the guards and the order are described
there) and match them with the previous ones, **name** them (:mod:`musicorg.organise.naming`),
and **write** the result in one transaction. The settings (``cluster_method``,
``playlist_min``, ``playlist_max``) are read here, never by the algorithms.

Songs with the same artist and title (normalised, case-insensitive) and about the same length,
and byte-equal copies, collapse to one entry (the one with the lowest track id) before
clustering (:func:`musicorg.organise.tracksets.dedupe`); missing tracks take no part. Every
other available track with μ of the active model is in exactly one automatic playlist.

**Stability.** Playlists stay put (:mod:`musicorg.organise.placement`):

- New tracks (an analysis, a rescan) join their nearest playlist, by the centres of the
  playlists in the active model's latent space, within the maximum length (spilling to the
  next nearest), and nothing is renamed (:func:`place_new`, run by :func:`ensure_playlists`).
- Clustering again happens only when the user asks, or when :func:`needs_recluster` says so:
  no playlists of this model yet, or at least :data:`RECLUSTER_SHARE` of the library's
  tracks got their μ since the last clustering. A rebuild starts from the previous playlists
  (each track where it was, new tracks in the nearest playlist, then the guards and the
  local search), so a rebuild of the same library keeps its playlists.
- New length settings apply by splitting the playlists that are now too long and merging
  away those now too short, every other track staying where it is (:func:`resize_playlists`).
- Playlists of a rebuild are matched to the old ones of the same model version by the
  Hungarian method on Jaccard similarity (:mod:`musicorg.organise.tracksets`); a match of at
  least 0.5 keeps the playlist's id and name (and its ``renamed`` flag: a playlist the user
  renamed keeps that name while its members change). Unmatched old playlists are removed.
  The first build of a model version (a model switch) is matched the same way to the
  playlists of the version built last, and takes the names of those it matches (the user's
  names too), and its groups their colours.
- A *pinned* playlist keeps its tracks and its name: its tracks stay in it and are left out of
  the clustering, and new tracks never join it. Each rebuild also matches groups by Jaccard,
  so a group keeps its index (its colour) when it keeps at least half its tracks. Pinned
  playlists are put in the new group nearest to them. Automatic playlists belong to one model
  version; other versions' playlists are left alone, and user playlists never depend on the
  model.

**Why.** :func:`explain_playlists` says of each playlist what it holds
(:mod:`musicorg.organise.explain`): its top words with their shares, its tempo range, its
brightness and energy, its size and length, and a one-line summary.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musicorg import settings as settings_mod
from musicorg.jobs import CancelFn, ProgressFn, check, never, no_progress
from musicorg.keys import AUTO
from musicorg.organise import naming, placement
from musicorg.organise.cluster import (
    MAX_GROUPS,
    Plan,
    plan_playlists,
)
from musicorg.organise.cuts import IndexArray, size_limits
from musicorg.organise.explain import Describer, Explanation
from musicorg.organise.tracksets import dedupe, match
from musicorg.store import autolists, modeldata
from musicorg.store.autolists import Library, PlaylistInfo
from musicorg.store.db import Catalogue
from musicorg.store.vectors import active_model_version

__all__ = [
    "Explanation",
    "PlaylistError",
    "PlaylistInfo",
    "build_playlists",
    "ensure_playlists",
    "explain_playlists",
    "list_playlists",
    "needs_recluster",
    "pin_playlist",
    "place_new",
    "rename_playlist",
    "resize_playlists",
    "unplaced_tracks",
]

#: Cluster again, unasked, once this share of the library's tracks is new since the last
#: clustering; until then new tracks join their nearest playlists.
RECLUSTER_SHARE = 0.25
#: Names of an earlier build that say nothing ("Mix 3", "Group 2"): a rebuild replaces them
#: (unless the user chose them).
GENERIC_NAME = re.compile(r"^(Mix|Group) \d+$")
#: A first build after a model switch takes the name of the other version's playlist it
#: matches with at least this Jaccard similarity (half of the tracks of each, at equal
#: lengths), when the name's words are still true of it (the user's names always).
CARRY_MIN = 1 / 3


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


def _songs(lib: Library) -> Library:
    """One row per song: copies collapse to the lowest track id (see ``tracksets.dedupe``)."""
    return lib.subset(
        dedupe(lib.track_ids, lib.artists, lib.titles, lib.content_keys, lib.durations)
    )


def needs_recluster(cat: Catalogue) -> bool:
    """True when the active model's playlists should be clustered again without being asked:
    there are none yet (and there is something to build from), or at least
    :data:`RECLUSTER_SHARE` of the library's tracks got their μ after the last clustering. A
    rescan alone never makes this true, and neither do new tracks that join their nearest
    playlists (:func:`place_new`) until they are that many."""
    version = active_model_version(cat)
    if version is None:
        return False
    info = autolists.built_info(cat, version)
    since = float(info.get("built_at", 0.0)) if info else 0.0
    total, new = autolists.new_since(cat, version, since)
    if total == 0:
        return False
    if info is None or modeldata.auto_playlist_count(cat, version) == 0:
        return True
    return new >= max(1, math.ceil(RECLUSTER_SHARE * total))


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

    @functools.cached_property
    def pinned(self) -> list[PlaylistInfo]:
        return [o for o in self.old if o.pinned]

    @functools.cached_property
    def movable(self) -> list[PlaylistInfo]:
        return [o for o in self.old if not o.pinned]


def _read(cat: Catalogue, version: str) -> _Read:
    """Step 1: the library with μ of ``version``, tags and descriptors, and its playlists."""
    lib = autolists.library(cat, version)
    if not lib.track_ids:
        raise PlaylistError(f"no embeddings for model {version}: run `musicorg analyse` first")
    old = sorted(autolists.listed(cat, version), key=lambda p: p.id)
    pinned_ids = {t for o in old if o.pinned for t in o.track_ids}
    whole = _songs(lib)
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
    # new playlist -> the playlist of another model version whose name it takes (a first
    # build after a model switch)
    carried: dict[int, PlaylistInfo] = field(default_factory=dict)


def _plan(
    cat: Catalogue,
    read: _Read,
    opts: _Options,
    seed: int,
    progress: ProgressFn,
    cancel: CancelFn,
) -> _Planned:
    """Step 2: the playlists and groups (pure, :func:`plan_playlists`), matched with the old
    ones (or, on a first build, with those of the version built last)."""
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
    new_sets = [set(p) for p in playlists]
    kept = match([set(o.track_ids) for o in read.movable], new_sets)
    carried: dict[int, PlaylistInfo] = {}
    earlier = read.movable
    if not read.old:
        earlier = _other_version(cat, read)
        found = match([set(o.track_ids) for o in earlier], new_sets, CARRY_MIN)
        carried = {j: earlier[i] for j, i in found.items()}
    return _Planned(
        plan,
        playlists,
        groups,
        _group_index(earlier, groups),
        kept,
        _pinned_groups(read, plan),
        carried,
    )


def _other_version(cat: Catalogue, read: _Read) -> list[PlaylistInfo]:
    """The automatic playlists of the model version built last before this one (none when
    there is none), for a first build to take names and colours from."""
    version = active_model_version(cat)
    source = autolists.latest_other_build(cat, version) if version else None
    if source is None:
        return []
    return sorted(autolists.listed(cat, source, examples=0), key=lambda p: p.id)


def _group_index(earlier: list[PlaylistInfo], groups: list[set[int]]) -> dict[int, int]:
    """Keep the index (colour) of an old group that keeps at least half its tracks; the
    other new groups take the lowest free ones."""
    old_groups: dict[int, set[int]] = {}
    for o in earlier:
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


def _kept_names(
    read: _Read, planned: _Planned, vocab: naming.Vocabulary, rows: Any
) -> dict[int, str]:
    """New playlist -> the name it keeps: an old playlist's of this version, or a matched
    one's of the version built last when its words are still true of it. A name of an
    earlier build that says nothing ("Mix 3") is not kept. The user's names always are."""
    out: dict[int, str] = {}
    for j, i in planned.kept.items():
        old = read.movable[i]
        if old.renamed or not GENERIC_NAME.match(old.name):
            out[j] = old.name
    for j, other in planned.carried.items():
        true = naming.still_true(vocab, rows(planned.playlists[j]), other.name)
        if other.renamed or (true and not GENERIC_NAME.match(other.name)):
            out[j] = other.name
    return out


def _rows_of(whole: Library) -> Any:
    row_of = {t: i for i, t in enumerate(whole.track_ids)}

    def rows(tids: set[int] | list[int]) -> IndexArray:
        return np.asarray(sorted(row_of[t] for t in tids if t in row_of), dtype=np.intp)

    return rows


def _name(read: _Read, planned: _Planned) -> tuple[dict[int, str], dict[int, str]]:
    """Step 3: names of the new groups (by group), and of the new playlists that keep no
    name (by playlist). A group's name is none of its playlists', nor a permutation of one."""
    vocab = naming.Vocabulary.build(track_tags(read.whole))
    plan = planned.plan
    rows = _rows_of(read.whole)
    kept = _kept_names(read, planned, vocab, rows)
    pinned = [o.name for o in read.pinned]

    # Group names from the group's tracks, in the group-index order. A group's name does not
    # contradict one of its playlists ("energetic" over a "calm" one).
    gorder = sorted(range(plan.n_groups), key=lambda g: planned.group_index[g])
    in_group = {g: [j for j, pg in enumerate(plan.group_of) if pg == g] for g in gorder}
    avoid = [
        naming.contradicted(
            vocab,
            [rows(planned.playlists[j]) for j in in_group[g]],
            [kept[j] for j in in_group[g] if j in kept],
        )
        for g in gorder
    ]
    gnames = naming.name_sets(
        [rows(planned.groups[g]) for g in gorder],
        vocab,
        reserved=[*pinned, *kept.values()],
        fallback="Group",
        max_tokens=2,
        avoid=avoid,
    )
    group_name = {g: gnames[k] for k, g in enumerate(gorder)}
    fresh = [j for j in range(len(planned.playlists)) if j not in kept]
    fresh_names = naming.name_sets(
        [rows(planned.playlists[j]) for j in fresh],
        vocab,
        reserved=[*pinned, *kept.values(), *gnames],
        parents=[group_name[plan.group_of[j]] for j in fresh],
    )
    return group_name, {j: fresh_names[k] for k, j in enumerate(fresh)}


def _note(opts: _Options, read: _Read, **extra: Any) -> dict[str, Any]:
    return {
        "n": read.n,
        "max_track_id": read.max_track_id,
        "method": opts.method,
        "playlist_min": opts.playlist_min,
        "playlist_max": opts.playlist_max,
        **extra,
    }


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
    movable, kept, carried = read.movable, planned.kept, planned.carried

    def group(g: int) -> autolists.Grouped:
        return autolists.Grouped(planned.group_index[g], group_name[g])

    def built(j: int, tracks: list[int]) -> autolists.BuiltPlaylist:
        where = group(planned.plan.group_of[j])
        if j in kept:
            old = movable[kept[j]]
            return autolists.BuiltPlaylist(
                tracks,
                where,
                keep_id=old.id,
                name=fresh_names.get(j, ""),
                same_tracks=old.track_ids == tracks,
            )
        if j in carried and j not in fresh_names:
            other = carried[j]
            return autolists.BuiltPlaylist(tracks, where, name=other.name, renamed=other.renamed)
        return autolists.BuiltPlaylist(tracks, where, name=fresh_names[j])

    keep_ids = {movable[i].id for i in kept.values()}
    return autolists.Build(
        version=version,
        playlists=[built(j, tracks) for j, tracks in enumerate(planned.playlists)],
        removed=[o.id for o in movable if o.id not in keep_ids],
        pinned={pid: group(g) for pid, g in planned.pinned_group.items()},
        note=_note(opts, read),
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
    """Cluster the automatic playlists of the active model version again; return the list.
    Matched playlists keep their ids and names (see the module's docstring)."""
    version = active_model_version(cat)
    if version is None:
        raise PlaylistError("no analysis yet: run `musicorg analyse` first")
    opts = _Options.of(method, playlist_min, playlist_max)
    progress(0, 0, "Reading embeddings…")
    read = _read(cat, version)
    check(cancel)
    planned = _plan(cat, read, opts, seed, progress, cancel)
    names = _name(read, planned)
    autolists.write_build(cat, _build(version, opts, read, planned, names))
    progress(4, 4, f"{len(planned.playlists)} playlists in {planned.plan.n_groups} groups")
    return list_playlists(cat, version)


# --- keeping them: new tracks join, new lengths split and merge ---------------------------------


@dataclass
class _Current:
    """The movable playlists as they are, as rows of ``read.free``: each one's rows in play
    order (its tracks that are in the library), and the rows in no playlist."""

    rows: list[list[int]]
    unplaced: IndexArray


def _current(read: _Read) -> _Current:
    free_row = {t: i for i, t in enumerate(read.free.track_ids)}
    rows = [[free_row[t] for t in o.track_ids if t in free_row] for o in read.movable]
    placed = np.zeros(len(read.free.track_ids), dtype=bool)
    for r in rows:
        placed[r] = True
    return _Current(rows, np.flatnonzero(~placed).astype(np.intp))


def _full_order(old: list[int], present: list[int], absent: set[int]) -> list[int]:
    """A playlist's new play order: ``present`` (its tracks in the library, in their new
    order) with its ``absent`` tracks of ``old`` (missing ones, shown as unavailable) each
    after the track it followed before, or at the end when that track left."""
    attach: dict[int | None, list[int]] = {}
    before: int | None = None
    for t in old:
        if t in absent:
            attach.setdefault(before, []).append(t)
        else:
            before = t
    out = list(attach.pop(None, []))
    for t in present:
        out.append(t)
        out.extend(attach.pop(t, []))
    return out + [t for rest in attach.values() for t in rest]


def _grouped(o: PlaylistInfo) -> autolists.Grouped:
    return autolists.Grouped(int(o.group_index or 0), o.group_name or "")


def _write_resized(
    cat: Catalogue,
    version: str,
    read: _Read,
    resized: placement.Resized,
    note: dict[str, Any],
) -> None:
    """Write playlists after :func:`placement.resize`: the ones that go on keep their ids,
    names and groups; the new pieces take names of their own in their source's group; the
    dissolved ones go."""
    free = read.free
    here = set(free.track_ids)
    absent_of = [{t for t in o.track_ids if t not in here} for o in read.movable]
    tracks = [[free.track_ids[r] for r in part] for part in resized.parts]
    pieces = [k for k, on in enumerate(resized.goes_on) if not on]
    rows = _rows_of(read.whole)
    vocab = naming.Vocabulary.build(track_tags(read.whole))
    groups = {o.group_name for o in read.old if o.group_name}
    names = naming.name_sets(
        [rows(tracks[k]) for k in pieces],
        vocab,
        reserved=[*(o.name for o in read.old), *groups],
        parents=[read.movable[resized.source[k]].group_name for k in pieces],
    )
    fresh = dict(zip(pieces, names, strict=True))
    built: list[autolists.BuiltPlaylist] = []
    for k, part in enumerate(tracks):
        old = read.movable[resized.source[k]]
        if resized.goes_on[k]:
            order = _full_order(old.track_ids, part, absent_of[resized.source[k]])
            built.append(autolists.BuiltPlaylist(order, _grouped(old), keep_id=old.id))
        else:
            built.append(autolists.BuiltPlaylist(part, _grouped(old), name=fresh[k]))
    going_on = {read.movable[resized.source[k]].id for k, on in enumerate(resized.goes_on) if on}
    removed = [o.id for o in read.movable if o.id not in going_on]
    autolists.write_build(cat, autolists.Build(version, built, removed, {}, note))


@dataclass
class Placed:
    """What :func:`place_new` did: tracks that joined a playlist, and playlists cut because
    no playlist had room left. ``homeless``: tracks with no playlist to join (there is none
    that is not pinned), for a build to place."""

    placed: int = 0
    split: int = 0
    homeless: int = 0


def place_new(cat: Catalogue) -> Placed:
    """New tracks (in no automatic playlist of the active model yet) join their nearest
    playlist that has room, without clustering again and without renaming anything; a
    playlist that no longer fits the maximum length (no other had room) is cut, its biggest
    piece keeping its id and name."""
    version = active_model_version(cat)
    if version is None or autolists.unplaced_count(cat, version) == 0:
        return Placed()
    try:
        read = _read(cat, version)
    except PlaylistError:  # nothing embedded with this model
        return Placed()
    cur = _current(read)
    if len(cur.unplaced) == 0:
        return Placed()
    if not any(cur.rows):
        return Placed(homeless=len(cur.unplaced))
    opts = _Options.of(None, None, None)
    _min, max_size = size_limits(len(read.free.track_ids), opts.playlist_min, opts.playlist_max)
    x = read.free.vectors
    gained = placement.place(x, cur.rows, cur.unplaced, max_size)
    rows = [
        placement.insert_in_order(x, r, g) if g else r
        for r, g in zip(cur.rows, gained, strict=True)
    ]
    if max(len(r) for r in rows) > max_size:
        resized = placement.resize(x, rows, 1, max_size)
        info = autolists.built_info(cat, version) or {}
        _write_resized(cat, version, read, resized, {**info, "n": read.n})
        return Placed(len(cur.unplaced), len(resized.parts) - len(rows))
    free = read.free
    here = set(free.track_ids)
    members: dict[int, list[int]] = {}
    for o, r, g in zip(read.movable, rows, gained, strict=True):
        if g:
            present = [free.track_ids[i] for i in r]
            absent = {t for t in o.track_ids if t not in here}
            members[o.id] = _full_order(o.track_ids, present, absent)
    autolists.set_members(cat, members)
    return Placed(len(cur.unplaced))


def resize_playlists(
    cat: Catalogue,
    *,
    playlist_min: int | None = None,
    playlist_max: int | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> list[PlaylistInfo]:
    """Apply new playlist lengths (default: the settings) to the automatic playlists of the
    active model without clustering again: new tracks join their nearest playlists, the
    playlists now too long are cut in even pieces of themselves and those now too short are
    merged into their neighbours, every other track staying where it is. The playlists that
    go on keep their ids and names (a piece cut off, or a first build, gets a new name)."""
    version = active_model_version(cat)
    if version is None:
        raise PlaylistError("no analysis yet: run `musicorg analyse` first")
    opts = _Options.of(None, playlist_min, playlist_max)
    read = _read(cat, version)
    cur = _current(read)
    if not any(cur.rows):
        return build_playlists(
            cat,
            playlist_min=playlist_min,
            playlist_max=playlist_max,
            progress=progress,
            cancel=cancel,
        )
    progress(0, 2, "Fitting the playlists to the new lengths…")
    x = read.free.vectors
    min_size, max_size = size_limits(len(read.free.track_ids), opts.playlist_min, opts.playlist_max)
    gained = placement.place(x, cur.rows, cur.unplaced, max_size)
    rows = [
        placement.insert_in_order(x, r, g) if g else r
        for r, g in zip(cur.rows, gained, strict=True)
    ]
    check(cancel)
    resized = placement.resize(
        x, rows, min_size, max_size, dissolve_last=[o.renamed for o in read.movable]
    )
    info = autolists.built_info(cat, version) or {}
    note = {**info, **_note(opts, read), "method": info.get("method", opts.method)}
    _write_resized(cat, version, read, resized, note)
    progress(2, 2, f"{len(resized.parts)} playlists")
    return list_playlists(cat, version)


def unplaced_tracks(cat: Catalogue, model_version: str | None = None) -> list[int]:
    """Available tracks with μ of the model version (default: the active one) that are in no
    automatic playlist of it, copies of a song that is left out (see ``tracksets.dedupe``)."""
    version = model_version or active_model_version(cat)
    if version is None:
        return []
    lib = autolists.library(cat, version)
    if not lib.track_ids:
        return []
    placed = {t for o in autolists.listed(cat, version, examples=0) for t in o.track_ids}
    return [t for t in _songs(lib).track_ids if t not in placed]


def explain_playlists(
    cat: Catalogue, model_version: str | None = None, *, include_user: bool = False
) -> dict[int, Explanation]:
    """Why each automatic playlist of the model version (default: the active one) holds what
    it holds, by playlist id (user playlists too when ``include_user``): see
    :mod:`musicorg.organise.explain`. Words are relative to the library of that version."""
    version = model_version or active_model_version(cat)
    lists = autolists.listed(cat, version, include_user=include_user, examples=0)
    if version is None or not lists:
        return {}
    every = autolists.library(cat, version)
    whole = _songs(every)
    # The libraries, used up, freed a slice at a time (the window's explaining job runs this;
    # a million tracks' columns let go at once held the GIL for 60-300 ms).
    every.let_go()
    describer = Describer(track_tags(whole))
    rows = _rows_of(whole)
    out = {p.id: describer.explain(rows(p.track_ids), p.size, p.duration, p.name) for p in lists}
    whole.let_go()
    return out


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
    """The playlists kept up to date: clustered again when :func:`needs_recluster` says so
    (or when new tracks have no playlist to join), else new tracks join their nearest
    playlists (:func:`place_new`); and whether they were clustered again."""
    if not needs_recluster(cat):
        placed = place_new(cat)
        if not placed.homeless:
            if placed.placed:
                progress(1, 1, f"{placed.placed} new tracks joined their nearest playlists")
            return list_playlists(cat), False
    return build_playlists(cat, method=method, progress=progress, cancel=cancel), True
