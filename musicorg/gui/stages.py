"""The core stages as the GUI calls them: thin bindings of (progress, cancel) onto the core
functions, plus the one read that fills the window (snapshot, playlists, map, problems).

Nothing here re-implements a stage. A stage whose module is not in this build (playlists, the
map, export) is reported as unavailable instead of failing at import time.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
from sqlalchemy import select

from musicorg import settings as settings_mod
from musicorg.gui.snapshot import Snapshot, load_snapshot
from musicorg.jobs import CancelFn, ProgressFn
from musicorg.store import library
from musicorg.store.db import Catalogue, Playlist, PlaylistItem

log = logging.getLogger(__name__)

#: Where each optional stage lives (first module found wins).
MODULES: dict[str, tuple[str, ...]] = {
    "playlists": ("musicorg.organise.playlists",),
    "map": ("musicorg.organise.mapping", "musicorg.projection", "musicorg.map", "musicorg.libmap"),
    "m3u": ("musicorg.io.m3u",),
    "userlists": ("musicorg.store.userlists",),
    "similar": ("musicorg.organise.similar",),
    "songpath": ("musicorg.organise.songpath",),
}


def core(name: str) -> ModuleType | None:
    for mod in MODULES.get(name, ()):
        try:
            return importlib.import_module(mod)
        except ImportError:
            continue
    return None


def call_stage(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a core function, passing only the keyword arguments it accepts."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn(*args, **kwargs)
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return fn(*args, **kwargs)


def limit_torch_threads(n: int = 1) -> None:
    """Keep the model's CPU threads few while the GUI is up. Torch is not imported for this:
    a torch imported later reads ``OMP_NUM_THREADS``; one already imported is told directly."""
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() > n:
        torch.set_num_threads(n)


# --- stages -----------------------------------------------------------------------------------


def scan(cat: Catalogue, folders: list[str]) -> Callable[[ProgressFn, CancelFn], Any]:
    from musicorg.ingest import scanner

    def run(progress: ProgressFn, cancel: CancelFn) -> Any:
        return scanner.scan(cat, folders, progress=progress, cancel=cancel)

    return run


def active_version(cat: Catalogue) -> str | None:
    from musicorg.store.vectors import active_model_version

    return active_model_version(cat)


def analyse(cat: Catalogue, device: str) -> Callable[[ProgressFn, CancelFn], Any]:
    """The analysis with one decoding worker, in a child process (its decoders and torch hold
    the GIL for long stretches; in this process they would make the window stutter)."""
    from musicorg.gui.procstage import in_process

    limit_torch_threads(1)  # the child inherits OMP_NUM_THREADS=1
    return in_process("musicorg.app.pipeline:analyse", cat.path, device=device, workers=1)


def build_playlists(
    cat: Catalogue, settings: settings_mod.Settings, *, force: bool = False
) -> Callable[[ProgressFn, CancelFn], Any] | None:
    """Automatic playlists: rebuilt when FORCE (the user asked, or the settings changed), else
    only when the core says they are due (``ensure_playlists``), so names stay put."""
    mod = core("playlists")
    if mod is None or not hasattr(mod, "build_playlists"):
        return None
    ensure = getattr(mod, "ensure_playlists", None)

    def run(progress: ProgressFn, cancel: CancelFn) -> Any:
        if active_version(cat) is None:
            return None  # nothing analysed yet: nothing to group
        if not force and ensure is not None:
            return call_stage(
                ensure, cat, method=settings.cluster_method, progress=progress, cancel=cancel
            )
        return call_stage(
            mod.build_playlists,
            cat,
            method=settings.cluster_method,
            playlist_min=settings.playlist_min,
            playlist_max=settings.playlist_max,
            progress=progress,
            cancel=cancel,
        )

    return run


def compute_map(
    cat: Catalogue, method: str = "pca", *, force: bool = False
) -> Callable[[ProgressFn, CancelFn], Any] | None:
    """The map of METHOD: fitted when there is none (or FORCE), else new tracks are placed
    among the stored points, which do not move."""
    mod = core("map")
    if mod is None or not hasattr(mod, "compute_map"):
        return None

    def run(progress: ProgressFn, cancel: CancelFn) -> Any:
        if active_version(cat) is None:
            return None
        has_map = getattr(mod, "has_map", None)
        place_new = getattr(mod, "place_new", None)
        if (
            not force
            and has_map is not None
            and place_new is not None
            and has_map(cat, None, method)
        ):
            return place_new(cat, method)
        return call_stage(mod.compute_map, cat, method=method, progress=progress, cancel=cancel)

    return run


# --- the window's data ------------------------------------------------------------------------


@dataclass
class PlaylistEntry:
    """A playlist as the sidebar shows it."""

    id: int
    name: str
    kind: str  # "auto" or "user"
    group_name: str | None
    pinned: bool
    track_ids: list[int]

    @property
    def size(self) -> int:
        return len(self.track_ids)


def load_playlists(cat: Catalogue) -> list[PlaylistEntry]:
    pm = core("playlists")
    if pm is not None and hasattr(pm, "list_playlists"):
        return [
            PlaylistEntry(
                int(p.id), str(p.name), str(p.kind), p.group_name, bool(p.pinned), list(p.track_ids)
            )
            for p in pm.list_playlists(cat, include_user=True)
        ]
    ul = core("userlists")
    if ul is None:
        return []
    return [
        PlaylistEntry(
            p.id, p.name, p.kind, p.group_name, False, [i.track_id for i in ul.items(cat, p.id)]
        )
        for p in ul.playlists(cat)
    ]


@dataclass
class LibraryData:
    snap: Snapshot
    model_version: str | None = None
    playlists: list[PlaylistEntry] = field(default_factory=list)
    groups: np.ndarray | None = None  # str per snapshot row ("" = none)
    xy: np.ndarray | None = None  # (N, 2) per snapshot row, NaN = not on the map
    problems: list[library.ProblemRow] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def _groups(cat: Catalogue, snap: Snapshot, version: str | None) -> np.ndarray | None:
    q = (
        select(PlaylistItem.track_id, Playlist.group_name, Playlist.name)
        .join(Playlist, Playlist.id == PlaylistItem.playlist_id)
        .where(Playlist.kind == "auto")
    )
    if version:
        q = q.where(Playlist.model_version == version)
    with cat.read() as conn:
        rows = conn.execute(q).all()
    if not rows:
        return None
    groups = np.full(len(snap), "", dtype=object)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    names = np.array([r[1] or r[2] or "" for r in rows], dtype=object)
    pos = snap.rows_of(ids)
    known = np.isin(ids, snap.ids)
    groups[pos] = names[known]
    return groups.astype(np.str_)


def map_xy(snap: Snapshot, coords: Any) -> np.ndarray | None:
    """Per-row coordinates from what the map module returns: a mapping content key → (x, y),
    or an object/tuple with keys and an (N, 2) array."""
    if coords is None:
        return None
    keys: list[str]
    xy: np.ndarray
    if (
        isinstance(coords, tuple)
        and len(coords) == 2
        and len(coords[0])
        and isinstance(coords[0][0], (int, np.integer))
    ):
        # (track ids, (N, 2)) as mapping.load_map gives them
        xy_ids = np.asarray(coords[0], dtype=np.int64)
        arr = np.asarray(coords[1], dtype=np.float64).reshape(-1, 2)
        out_ids = np.full((len(snap), 2), np.nan)
        known = np.isin(xy_ids, snap.ids)
        out_ids[snap.rows_of(xy_ids[known])] = arr[known]
        return out_ids
    if isinstance(coords, dict):
        if not coords:
            return None
        keys = list(coords)
        xy = np.asarray([coords[k] for k in keys], dtype=np.float64)
    else:
        k = getattr(coords, "keys", None) or getattr(coords, "content_keys", None)
        a = getattr(coords, "xy", None)
        if k is None and isinstance(coords, tuple) and len(coords) == 2:
            k, a = coords
        if k is None or a is None:
            return None
        keys = [str(x) for x in (k() if callable(k) else k)]
        xy = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    if not keys:
        return None
    order = np.argsort(np.asarray(keys, dtype=np.str_))
    sorted_keys = np.asarray(keys, dtype=np.str_)[order]
    pos = np.searchsorted(sorted_keys, snap.content_keys)
    pos = np.clip(pos, 0, len(sorted_keys) - 1)
    ok = sorted_keys[pos] == snap.content_keys
    out = np.full((len(snap), 2), np.nan)
    out[ok] = xy[order[pos[ok]]]
    return out


def _has_points(coords: Any) -> bool:
    if coords is None:
        return False
    if isinstance(coords, dict | tuple | list):
        return bool(coords) and (not isinstance(coords, tuple) or len(coords[0]) > 0)
    return True


def load_map_coords(cat: Catalogue, version: str | None, method: str) -> Any:
    mod = core("map")
    if mod is None or version is None or not hasattr(mod, "load_map"):
        return None
    try:
        return call_stage(mod.load_map, cat, version, method, include_missing=True)
    except Exception:  # no map of this version yet
        log.debug("no map for %s/%s", version, method, exc_info=True)
        return None


def load_library(cat: Catalogue, map_method: str = "umap") -> LibraryData:
    """Everything the window shows, read in one go (call off the UI thread). The map is the
    UMAP one when there is one, else the PCA one."""
    snap = load_snapshot(cat)
    version = active_version(cat)
    data = LibraryData(snap=snap, model_version=version)
    data.playlists = load_playlists(cat)
    data.groups = _groups(cat, snap, version)
    coords = load_map_coords(cat, version, map_method)
    if not _has_points(coords) and map_method != "pca":
        coords = load_map_coords(cat, version, "pca")
    data.xy = map_xy(snap, coords)
    data.problems = library.problems(cat)
    data.stats = library.stats(cat)
    return data
