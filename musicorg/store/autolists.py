"""Automatic playlists in the catalogue: what a build reads, the build's write, the lists
shown, and the user's two edits of them (rename, pin).

An automatic playlist is a ``playlists`` row of kind ``"auto"`` that belongs to one model
version, with its items in play order. Ids are never reused, not even those of playlists
deleted long ago (the GUI and exports may still hold one): the highest id ever given out is
kept in the meta key :data:`HIGH_ID_KEY`. On a PostgreSQL server, whoever chooses new ids
(a build, a new or restored user playlist) holds ``db.lock_ids`` until it commits, so two
desktops building at once never pick the same ids.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, bindparam, case, delete, func, insert, select, update

from musicorg.jobs import paused
from musicorg.keys import AUTO, BUILT_KEY, FEATURES_VERSION, USER
from musicorg.model import autotags
from musicorg.store.db import (
    Analysis,
    Catalogue,
    Embedding,
    Meta,
    Playlist,
    PlaylistItem,
    Track,
    all_rows,
    drop_rows,
    follow_ids,
    lock_ids,
    streamed,
    upsert,
)
from musicorg.store.events import announces_playlists_change
from musicorg.store.vectors import stack_mu, with_mu

HIGH_ID_KEY = "playlists_high_id"


class NameTaken(ValueError):
    """Another automatic playlist of the same model version has that name."""


# --- what a build reads -----------------------------------------------------------------------


@dataclass
class Library:
    """Available tracks with an embedding of one version, by track id, with their tags and
    analysis descriptors (NaN where a track has none)."""

    track_ids: list[int]
    displays: list[str]
    vectors: NDArray[np.float32]
    artists: list[str | None]
    titles: list[str | None]
    genres: list[str | None]
    years: list[int | None]
    content_keys: list[str]
    durations: list[float | None]
    tempo: NDArray[np.float64]
    brightness: NDArray[np.float64]
    energy: NDArray[np.float64]
    # MusiCNN's tag probabilities (N × 50; NaN rows for tracks not tagged yet).
    tag_probs: NDArray[np.float32]

    def subset(self, rows: NDArray[np.intp]) -> Library:
        idx = np.asarray(rows, dtype=np.intp).tolist()
        every = len(idx) == len(self.track_ids) and np.array_equal(rows, np.arange(len(idx)))

        def pick(seq: Sequence[Any]) -> list[Any]:
            return list(seq) if every else [seq[i] for i in idx]

        def take(array: NDArray[Any]) -> NDArray[Any]:
            # Every row: the same array, not a copy (a million tracks' tag probabilities
            # alone are 200 MB; nothing writes into a Library's arrays).
            return array if every else array[rows]

        return Library(
            pick(self.track_ids),
            pick(self.displays),
            take(self.vectors),
            pick(self.artists),
            pick(self.titles),
            pick(self.genres),
            pick(self.years),
            pick(self.content_keys),
            pick(self.durations),
            take(self.tempo),
            take(self.brightness),
            take(self.energy),
            take(self.tag_probs),
        )

    def let_go(self) -> None:
        """Empty the lists, a slice at a time (:func:`~musicorg.store.db.drop_rows`), once
        done with them: a million tracks' names and ids, freed at once as the last reference
        went, held the GIL for ~0.3 s (the window, in another thread, stalled as long)."""
        for column in (
            self.track_ids,
            self.displays,
            self.artists,
            self.titles,
            self.genres,
            self.years,
            self.content_keys,
            self.durations,
        ):
            drop_rows(column)


def library(cat: Catalogue, version: str) -> Library:
    """Available tracks with an embedding of ``version``, with tags and descriptors."""
    query = with_mu(
        select(
            Track.id,
            Track.display,
            Track.artist,
            Track.title,
            Track.genre,
            Track.year,
            Track.content_key,
            Embedding.mu,
            Analysis.tempo,
            Analysis.brightness,
            Analysis.energy,
            Analysis.tags,
            Track.duration,
        ),
        version,
    ).outerjoin(
        Analysis,
        (Analysis.content_key == Track.content_key)
        & (Analysis.features_version == FEATURES_VERSION),
    )
    cols: dict[str, list[Any]] = {k: [] for k in _LIBRARY_LISTS}
    arrays: dict[str, list[NDArray[Any]]] = {k: [] for k in _LIBRARY_ARRAYS}
    with cat.read() as conn:
        # In slices, each turned into columns at once: a million rows held whole (two blobs
        # each) took about a gigabyte more at the peak.
        read = conn.execute(streamed(query.order_by(Track.id)))
        for rows in paused(read.partitions(_LIBRARY_SLICE)):
            _library_slice(rows, cols, arrays)
    return Library(
        track_ids=cols["track_ids"],
        displays=cols["displays"],
        vectors=_joined(arrays["vectors"], np.zeros((0, 0), np.float32)),
        artists=cols["artists"],
        titles=cols["titles"],
        genres=cols["genres"],
        years=cols["years"],
        content_keys=cols["content_keys"],
        durations=cols["durations"],
        tempo=_joined(arrays["tempo"], np.zeros(0)),
        brightness=_joined(arrays["brightness"], np.zeros(0)),
        energy=_joined(arrays["energy"], np.zeros(0)),
        tag_probs=_joined(arrays["tag_probs"], np.zeros((0, autotags.N_TAGS), np.float32)),
    )


#: Rows of :func:`library` fetched and turned into columns at a time. Fetching one slice is one
#: C call that holds the GIL: 50,000 rows held it for 130-140 ms on PostgreSQL (40 ms on
#: SQLite), and the window, which reads the library in a worker for the playlists' words,
#: stalled as long every 0.7 s; 5,000 hold it under 20 ms, for 10 % more time in all.
_LIBRARY_SLICE = 5000
_LIBRARY_LISTS = (
    "track_ids",
    "displays",
    "artists",
    "titles",
    "genres",
    "years",
    "content_keys",
    "durations",
)
_LIBRARY_ARRAYS = ("vectors", "tempo", "brightness", "energy", "tag_probs")


def _library_slice(
    rows: Sequence[Any], cols: dict[str, list[Any]], arrays: dict[str, list[NDArray[Any]]]
) -> None:
    """Add one slice of :func:`library`'s rows to its columns."""

    def floats(col: int) -> NDArray[np.float64]:
        return np.array([np.nan if r[col] is None else float(r[col] or 0.0) for r in rows])

    cols["track_ids"].extend(int(r[0]) for r in rows)
    cols["displays"].extend(str(r[1]) for r in rows)
    cols["artists"].extend(r[2] for r in rows)
    cols["titles"].extend(r[3] for r in rows)
    cols["genres"].extend(r[4] for r in rows)
    cols["years"].extend(r[5] for r in rows)
    cols["content_keys"].extend(str(r[6]) for r in rows)
    cols["durations"].extend(None if r[12] is None else float(r[12]) for r in rows)
    arrays["vectors"].append(stack_mu([r[7] for r in rows]))
    arrays["tempo"].append(floats(8))
    arrays["brightness"].append(floats(9))
    arrays["energy"].append(floats(10))
    arrays["tag_probs"].append(_tag_probs([r[11] for r in rows]))


def _joined(parts: list[NDArray[Any]], empty: NDArray[Any]) -> NDArray[Any]:
    return np.concatenate(parts) if parts else empty


def _tag_probs(blobs: Sequence[bytes | None]) -> NDArray[np.float32]:
    """The stored tag probabilities as an N × 50 array, NaN where a track has none."""
    out = np.full((len(blobs), autotags.N_TAGS), np.nan, dtype=np.float32)
    for i, blob in enumerate(blobs):
        probs = autotags.decode(blob)
        if probs is not None:
            out[i] = probs
    return out


def built_info(cat: Catalogue, version: str) -> dict[str, Any] | None:
    """The note of the last build of ``version``'s playlists (see ``keys.BUILT_KEY``)."""
    raw = cat.get_meta(BUILT_KEY + version)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def new_since(cat: Catalogue, version: str, since: float) -> tuple[int, int]:
    """(available tracks with μ of ``version``, those of them whose μ was made after
    ``since``): how much of the library is new since a build at ``since``."""
    newer = case((Embedding.created_at > since, 1), else_=0)
    counted = select(func.count(), func.sum(newer)).select_from(Track)
    with cat.read() as conn:
        total, new = conn.execute(with_mu(counted, version)).one()
    return int(total or 0), int(new or 0)


def unplaced_count(cat: Catalogue, version: str) -> int:
    """Available tracks with μ of ``version`` in no automatic playlist of it (copies of a
    song included: a quick test of whether any new track has to find a playlist)."""
    placed = (
        select(PlaylistItem.track_id)
        .join(Playlist, Playlist.id == PlaylistItem.playlist_id)
        .where(Playlist.kind == AUTO, Playlist.model_version == version)
    )
    query = with_mu(select(func.count()).select_from(Track), version)
    with cat.read() as conn:
        return int(conn.execute(query.where(Track.id.not_in(placed))).scalar_one())


def latest_other_build(cat: Catalogue, version: str) -> str | None:
    """The model version other than ``version`` whose automatic playlists were built last
    (and still exist): where a first build of ``version`` takes its names from."""
    with cat.read() as conn:
        notes = conn.execute(select(Meta.key, Meta.value).where(Meta.key.like(BUILT_KEY + "%")))
        with_lists = {
            str(v)
            for (v,) in conn.execute(
                select(Playlist.model_version)
                .where(Playlist.kind == AUTO, Playlist.model_version.is_not(None))
                .distinct()
            )
        }
        built: list[tuple[float, str]] = []
        for key, raw in notes:
            other = str(key)[len(BUILT_KEY) :]
            if other == version or other not in with_lists:
                continue
            try:
                when = float(json.loads(raw).get("built_at", 0.0))
            except (ValueError, AttributeError, TypeError):
                when = 0.0
            built.append((when, other))
    return max(built)[1] if built else None


# --- the build's write ------------------------------------------------------------------------


@dataclass
class Grouped:
    """Where a playlist sits: its group's index (its colour) and name."""

    group_index: int
    group_name: str


@dataclass
class BuiltPlaylist:
    """A playlist of a new build: an old one that goes on (``keep_id``: it keeps its id, and
    its name unless ``name`` gives another) or a new one called ``name`` (``renamed``: a
    name the user gave a playlist of another model version that this one goes on from)."""

    track_ids: list[int]
    group: Grouped
    keep_id: int | None = None
    name: str = ""
    renamed: bool = False
    # An old one whose tracks, in their order, are the same: its items stay as they are.
    same_tracks: bool = False


@dataclass
class Build:
    """What a build writes for one model version."""

    version: str
    playlists: list[BuiltPlaylist]
    removed: list[int] = field(default_factory=list)  # old playlists that did not go on
    pinned: dict[int, Grouped] = field(default_factory=dict)  # pinned ones, in their new group
    # For BUILT_KEY; ``built_at`` (now, unless the note keeps an earlier one: a resize is no
    # new clustering) added.
    note: dict[str, Any] = field(default_factory=dict)


#: Rows per statement when a build writes its playlists (a million items at once would hold
#: hundreds of MB of parameters).
_WRITE_ROWS = 50_000


def write_build(cat: Catalogue, build: Build) -> None:
    """Replace the automatic playlists of ``build.version`` with the build, in one
    transaction; new playlists get fresh ids in the order given."""
    now = time.time()
    with cat.begin() as conn:
        lock_ids(conn, Playlist)  # on a server, another build may be choosing ids right now
        top = conn.execute(select(func.max(Playlist.id))).scalar_one_or_none() or 0
        mark = conn.execute(select(Meta.value).where(Meta.key == HIGH_ID_KEY)).scalar()
        next_id = max(int(top), int(mark or 0)) + 1
        if build.removed:
            conn.execute(delete(PlaylistItem).where(PlaylistItem.playlist_id.in_(build.removed)))
            conn.execute(delete(Playlist).where(Playlist.id.in_(build.removed)))
        regroup = list(build.pinned.items())
        renamed: list[dict[str, Any]] = []
        created: list[dict[str, Any]] = []
        ids: list[int] = []
        for p in build.playlists:
            if p.keep_id is not None:
                ids.append(p.keep_id)
                regroup.append((p.keep_id, p.group))
                if p.name:  # a new name for a name that said nothing ("Mix 3")
                    renamed.append({"pid": p.keep_id, "new_name": p.name})
            else:
                ids.append(next_id)
                created.append(_auto_row(next_id, p, build.version, now))
                next_id += 1
        _regroup_all(conn, regroup, now)
        if renamed:
            conn.execute(
                update(Playlist)
                .where(Playlist.id == bindparam("pid"))
                .values(name=bindparam("new_name")),
                renamed,
            )
        kept = [p.keep_id for p in build.playlists if p.keep_id is not None and not p.same_tracks]
        for lo in range(0, len(kept), _ID_SLICE):
            part = kept[lo : lo + _ID_SLICE]
            conn.execute(delete(PlaylistItem).where(PlaylistItem.playlist_id.in_(part)))
        if created:
            conn.execute(insert(Playlist), created)
        rows: list[dict[str, int]] = []
        for pid, p in zip(ids, build.playlists, strict=True):
            if p.keep_id is not None and p.same_tracks:
                continue
            rows.extend(
                {"playlist_id": pid, "position": pos, "track_id": t}
                for pos, t in enumerate(p.track_ids)
            )
            if len(rows) >= _WRITE_ROWS:
                conn.execute(insert(PlaylistItem), rows)
                rows = []
        if rows:
            conn.execute(insert(PlaylistItem), rows)
        _put_meta(conn, HIGH_ID_KEY, str(next_id - 1))
        follow_ids(conn, Playlist)
    cat.set_meta(BUILT_KEY + build.version, json.dumps({"built_at": now, **build.note}))


def set_members(cat: Catalogue, members: dict[int, list[int]]) -> None:
    """Give each automatic playlist of ``members`` these tracks, in this order (new tracks
    that joined it), in one transaction; names and groups stay."""
    if not members:
        return
    now = time.time()
    with cat.begin() as conn:
        for pid, tracks in members.items():
            conn.execute(delete(PlaylistItem).where(PlaylistItem.playlist_id == pid))
            conn.execute(
                insert(PlaylistItem),
                [{"playlist_id": pid, "position": i, "track_id": t} for i, t in enumerate(tracks)],
            )
            conn.execute(update(Playlist).where(Playlist.id == pid).values(updated_at=now))


def _regroup_all(conn: Connection, moves: Sequence[tuple[int, Grouped]], now: float) -> None:
    """Put each playlist of ``moves`` in its group, in one statement."""
    if not moves:
        return
    conn.execute(
        update(Playlist)
        .where(Playlist.id == bindparam("pid"))
        .values(
            group_index=bindparam("new_index"),
            group_name=bindparam("new_group"),
            updated_at=now,
        ),
        [{"pid": pid, "new_index": g.group_index, "new_group": g.group_name} for pid, g in moves],
    )


def _auto_row(pid: int, p: BuiltPlaylist, version: str, now: float) -> dict[str, Any]:
    return {
        "id": pid,
        "name": p.name,
        "kind": AUTO,
        "model_version": version,
        "pinned": False,
        "renamed": p.renamed,
        "created_at": now,
        "group_index": p.group.group_index,
        "group_name": p.group.group_name,
        "updated_at": now,
    }


def _put_meta(conn: Connection, key: str, value: str) -> None:
    stmt = upsert(conn, Meta).values(key=key, value=value)
    conn.execute(stmt.on_conflict_do_update(index_elements=[Meta.key], set_={"value": value}))


# --- the lists shown --------------------------------------------------------------------------


@dataclass
class PlaylistInfo:
    """A playlist as lists show it: ``examples`` are a few of its available tracks, as
    "Artist – Title"; ``duration`` is that of its available tracks."""

    id: int
    name: str
    kind: str
    model_version: str | None
    group_name: str | None
    group_index: int | None
    pinned: bool
    renamed: bool
    size: int
    duration: float
    unavailable: int
    track_ids: list[int]
    examples: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


#: From this many tracks in the playlists listed, :func:`listed` reads the length and state of
#: every track of the library in one scan instead of looking each one up (at a million
#: tracks, a join of the items with the tracks takes 10 s; the two plain reads take 4).
SCAN_TRACKS_FROM = 20_000
#: Track ids per query when :func:`listed` looks tracks up by id.
_ID_SLICE = 5_000
#: Values one numpy call of :func:`listed` takes at a time. It runs in the window's loading
#: job: at a million playlist items, ``np.unique`` of their track ids (a hash table) and
#: ``np.searchsorted`` of them held the GIL, and stalled the window, for 60-170 ms each.
_SLICE = 50_000


def listed(
    cat: Catalogue, version: str | None, *, include_user: bool = False, examples: int = 3
) -> list[PlaylistInfo]:
    """The automatic playlists of ``version`` by group then name; user playlists after them
    when ``include_user``."""
    cond = (Playlist.kind == AUTO) & (Playlist.model_version == version)
    if include_user:
        cond = cond | (Playlist.kind == USER)
    with cat.read() as conn:
        pls = all_rows(
            conn,
            select(
                Playlist.id,
                Playlist.name,
                Playlist.kind,
                Playlist.model_version,
                Playlist.group_name,
                Playlist.group_index,
                Playlist.pinned,
                Playlist.renamed,
            ).where(cond),
        )
        items = all_rows(
            conn,
            select(PlaylistItem.playlist_id, PlaylistItem.track_id)
            .join(Playlist, Playlist.id == PlaylistItem.playlist_id)
            .where(cond)
            .order_by(PlaylistItem.playlist_id, PlaylistItem.position),
        )
        pl_of = np.fromiter((it[0] for it in items), dtype=np.int64, count=len(items))
        tids = np.fromiter((it[1] for it in items), dtype=np.int64, count=len(items))
        drop_rows(items)
        facts = _TrackFacts.read(conn, _distinct(tids))
        at = facts.rows(tids)
        known = facts.ids[np.minimum(at, len(facts.ids) - 1)] == tids if len(facts.ids) else at < 0
        if not known.all():  # as an inner join would: items of tracks that are not there
            pl_of, tids, at = pl_of[known], tids[known], at[known]
        gone = facts.missing[at]
        lengths = facts.duration[at]
        starts = np.searchsorted(pl_of, [int(p[0]) for p in pls], side="left")
        ends = np.searchsorted(pl_of, [int(p[0]) for p in pls], side="right")
        shown_ids = [tids[a:b][~gone[a:b]][:examples] for a, b in zip(starts, ends, strict=True)]
        labels = _labels(conn, np.concatenate(shown_ids) if shown_ids else tids[:0])
    out: list[PlaylistInfo] = []
    for p, a, b, shown in zip(pls, starts, ends, shown_ids, strict=True):
        present = ~gone[a:b]
        out.append(
            PlaylistInfo(
                id=int(p[0]),
                name=str(p[1]),
                kind=str(p[2]),
                model_version=p[3],
                group_name=p[4],
                group_index=p[5],
                pinned=bool(p[6]),
                renamed=bool(p[7]),
                size=int(b - a),
                duration=float(lengths[a:b][present].sum()),
                unavailable=int(b - a - present.sum()),
                track_ids=tids[a:b].tolist(),
                examples=[labels[int(t)] for t in shown],
            )
        )
    out.sort(
        key=lambda i: (
            i.kind != AUTO,
            i.group_index if i.group_index is not None else 1 << 30,
            i.name.casefold(),
            i.id,
        )
    )
    return out


@dataclass
class _TrackFacts:
    """Length (0 where unknown) and missing flag of some tracks, by id (sorted)."""

    ids: NDArray[np.int64]
    duration: NDArray[np.float64]
    missing: NDArray[np.bool_]

    @classmethod
    def read(cls, conn: Connection, wanted: NDArray[np.int64]) -> _TrackFacts:
        query = select(Track.id, Track.duration, Track.missing)
        if len(wanted) >= SCAN_TRACKS_FROM:
            rows = all_rows(conn, query)
        else:
            rows = []
            for lo in range(0, len(wanted), _ID_SLICE):
                part = [int(t) for t in wanted[lo : lo + _ID_SLICE]]
                rows.extend(conn.execute(query.where(Track.id.in_(part))).all())
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        duration = np.fromiter((r[1] or 0.0 for r in rows), dtype=np.float64, count=len(rows))
        missing = np.fromiter((bool(r[2]) for r in rows), dtype=np.bool_, count=len(rows))
        drop_rows(rows)
        if len(ids) > 1 and bool((ids[1:] > ids[:-1]).all()):
            return cls(ids, duration, missing)  # read in id order (a scan): sorted already
        order = np.argsort(ids)
        return cls(ids[order], duration[order], missing[order])

    def rows(self, tids: NDArray[np.int64]) -> NDArray[np.intp]:
        """Positions of ``tids`` (each of them read) in the arrays (:data:`_SLICE` at a
        time)."""
        out = np.empty(len(tids), dtype=np.intp)
        for lo in paused(range(0, len(tids), _SLICE)):
            out[lo : lo + _SLICE] = np.searchsorted(self.ids, tids[lo : lo + _SLICE])
        return out


def _distinct(ids: NDArray[np.int64]) -> NDArray[np.int64]:
    """The distinct values of ``ids`` (track ids: none negative), ascending, as ``np.unique``
    gives them; marked in a table of flags a slice at a time (:data:`_SLICE`) when the ids are
    many and not spread far apart, so that no one call holds the GIL for long."""
    if len(ids) <= _SLICE or int(ids.min()) < 0 or int(ids.max()) > 8 * len(ids):
        return np.unique(ids)
    seen = np.zeros(int(ids.max()) + 1, dtype=bool)
    for lo in paused(range(0, len(ids), _SLICE)):
        seen[ids[lo : lo + _SLICE]] = True
    return np.flatnonzero(seen).astype(np.int64, copy=False)


def _labels(conn: Connection, tids: NDArray[np.int64]) -> dict[int, str]:
    """ "Artist – Title" (or what there is) of each track of ``tids``."""
    out: dict[int, str] = {}
    wanted = np.unique(tids)
    for lo in range(0, len(wanted), _ID_SLICE):
        part = [int(t) for t in wanted[lo : lo + _ID_SLICE]]
        query = select(Track.id, Track.artist, Track.title, Track.display).where(Track.id.in_(part))
        for r in conn.execute(query):
            out[int(r[0])] = _label(r[1], r[2], r[3])
    return out


def _label(artist: str | None, title: str | None, display: str) -> str:
    if artist and title:
        return f"{artist} – {title}"
    if title:
        return title
    return display.rsplit("/", 1)[-1]


# --- the user's edits -------------------------------------------------------------------------


def kind_of(cat: Catalogue, playlist_id: int) -> tuple[str, str | None] | None:
    """(kind, model version) of a playlist, or None when there is none with that id."""
    with cat.read() as conn:
        row = conn.execute(
            select(Playlist.kind, Playlist.model_version).where(Playlist.id == playlist_id)
        ).first()
    return None if row is None else (str(row[0]), row[1])


@announces_playlists_change
def rename_auto(cat: Catalogue, playlist_id: int, name: str, version: str | None) -> None:
    """Give the automatic playlist ``playlist_id`` of ``version`` the name ``name`` (marked as
    the user's); :class:`NameTaken` when another one of that version has it (any case)."""
    with cat.begin() as conn:
        others = conn.execute(
            select(Playlist.name).where(
                Playlist.kind == AUTO,
                Playlist.model_version == version,
                Playlist.id != playlist_id,
            )
        ).all()
        if any(str(n[0]).casefold() == name.casefold() for n in others):
            raise NameTaken(name)
        conn.execute(
            update(Playlist)
            .where(Playlist.id == playlist_id)
            .values(name=name, renamed=True, updated_at=time.time())
        )


@announces_playlists_change
def set_pinned(cat: Catalogue, playlist_id: int, pinned: bool) -> None:
    with cat.begin() as conn:
        conn.execute(
            update(Playlist)
            .where(Playlist.id == playlist_id)
            .values(pinned=bool(pinned), updated_at=time.time())
        )
