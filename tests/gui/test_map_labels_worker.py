"""The map's region labels of a big library are worked out in a worker thread, a slice of the
points at a time (at a million tracks in 24,808 playlists they held the UI thread for 1-3 s):
the same labels as worked out at once, the last request winning; and the pieces that replaced
whole-library numpy calls (the greedy placement, the group of each region) give what those
gave."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from musicorg.gui import maplabels
from musicorg.gui.maplabels import MARGIN, Region, group_of_regions, name_codes, place
from musicorg.gui.mapview import MapView
from musicorg.gui.snapshot import Snapshot
from musicorg.store.library import TrackColumns

# --- the pieces, against what they replaced ------------------------------------------------------


def greedy(boxes: np.ndarray, priority: np.ndarray, bounds: tuple[float, ...]) -> list[int]:
    """Each box in turn, by decreasing priority: kept when inside and apart from those kept."""
    x0, y0, x1, y1 = bounds
    kept: list[int] = []
    for i in np.argsort(-priority, kind="stable").tolist():
        bx0, by0, bx1, by1 = boxes[i].tolist()
        if not (bx0 >= x0 and by0 >= y0 and bx1 <= x1 and by1 <= y1):
            continue
        if all(
            not (
                kx0 < bx1 + MARGIN
                and bx0 < kx1 + MARGIN
                and ky0 < by1 + MARGIN
                and by0 < ky1 + MARGIN
            )
            for kx0, ky0, kx1, ky1 in (boxes[k].tolist() for k in kept)
        ):
            kept.append(i)
    return kept


@pytest.mark.parametrize("seed", range(12))
def test_placement_keeps_the_boxes_greedy_placement_keeps(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    monkeypatch.setattr(maplabels, "_BATCH", int(rng.integers(1, 80)))
    n = int(rng.integers(0, 700))
    w, h = rng.uniform(4, 160, n), (np.full(n, 22.0) if seed % 2 else rng.uniform(4, 40, n))
    cx, cy = rng.uniform(-40, 840, n), rng.uniform(-40, 640, n)
    if seed % 3 == 0:  # whole pixels: boxes that touch, and boxes exactly MARGIN apart
        cx, cy, w = np.round(cx), np.round(cy), np.round(w)
    boxes = np.column_stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    if n:
        boxes[rng.integers(0, n, n // 8)] = -1e9  # not on the map
    priority = rng.integers(1, 30, n).astype(np.float64)  # many ties
    bounds = (0.0, 0.0, 800.0, 600.0)
    kept = place(boxes, priority, bounds)
    assert kept.tolist() == greedy(boxes, priority, bounds)
    assert n < 50 or len(kept) > 5


def groups_by_sorting(which: np.ndarray, row_groups: np.ndarray, k: int) -> tuple[Any, Any]:
    """The group of each region as sorting every (region, group) pair found it."""
    out = np.full(k, -1, dtype=np.int64)
    names, codes = np.unique(row_groups, return_inverse=True)
    ok = row_groups != ""
    if not ok.any():
        return out, []
    pairs, counts = np.unique(
        np.column_stack([which[ok], codes.reshape(-1)[ok]]), axis=0, return_counts=True
    )
    pairs = pairs[np.lexsort((-counts, pairs[:, 0]))]
    first = np.r_[True, pairs[1:, 0] != pairs[:-1, 0]]
    out[pairs[first, 0]] = pairs[first, 1]
    used = np.unique(out[out >= 0])
    remap = np.full(len(names), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return np.where(out >= 0, remap[np.maximum(out, 0)], -1), [str(names[g]) for g in used]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("table", [True, False])
def test_each_region_is_in_the_group_most_of_its_tracks_are_in(
    seed: int, table: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ties go to the first group by name; regions of ungrouped tracks are in none."""
    monkeypatch.setattr(maplabels, "_SLICE", 5)
    if not table:
        monkeypatch.setattr(maplabels, "_TABLE_CELLS", 0)  # sorted, past the table's size
    rng = np.random.default_rng(seed)
    k, n = int(rng.integers(1, 40)), int(rng.integers(0, 400))
    names = np.array(["", "Zed", "Group 10", "Group 2", "Ambient", "ümlaut"])[: 2 + seed % 5]
    which = rng.integers(0, k, n)
    row_groups = names[rng.integers(0, len(names), n)]
    got = group_of_regions(which, row_groups, k)
    want = groups_by_sorting(which, row_groups, k)
    assert got[0].tolist() == want[0].tolist() and got[1] == want[1]
    found, codes = name_codes(row_groups)
    unique, inverse = np.unique(row_groups, return_inverse=True)
    assert found.tolist() == unique.tolist() and codes.tolist() == inverse.reshape(-1).tolist()


# --- the worker ----------------------------------------------------------------------------------


def snapshot(n: int) -> Snapshot:
    return Snapshot.build(
        TrackColumns(
            ids=list(range(1, n + 1)),
            content_keys=[f"k{i}" for i in range(n)],
            paths=[f"/m/{i}.flac".encode() for i in range(n)],
            missing=[False] * n,
            displays=[f"/m/{i}.flac" for i in range(n)],
            has_lyrics=[False] * n,
            titles=[f"Song {i}" for i in range(n)],
            artists=["Someone"] * n,
            albums=["Album"] * n,
            genres=["Rock"] * n,
            years=[2000] * n,
            durations=[100.0] * n,
            formats=["flac"] * n,
        )
    )


#: 24 playlists of 25 tracks in four groups, around four centres; the last tracks in none.
N, SIZE = 640, 25


def regions_and_points() -> tuple[Snapshot, np.ndarray, np.ndarray, list[Region]]:
    snap = snapshot(N)
    rng = np.random.default_rng(5)
    xy = rng.normal(0, 0.3, (N, 2))
    groups = np.full(N, "", dtype=object)
    regions = []
    for k in range(24):
        rows = np.arange(k * SIZE, (k + 1) * SIZE)
        group = k % 4
        xy[rows] += np.array([group * 10.0, (k // 4) * 2.0])
        groups[rows] = f"Group {group + 1}"
        words = ["calm", "loud", "bright", "dark", "fast", "slow"][k % 6]
        regions.append(Region(100 + k, f"{words} · {k}", f"Playlist {k}", snap.ids[rows].copy()))
    xy[N - 3] = np.nan  # not on the map
    return snap, xy, groups.astype(np.str_), regions


def state(m: MapView) -> dict[str, Any]:
    labels = m.labels
    return {
        "regions": [r.key for r in labels.regions],
        "groups": [(g.key, g.text, g.summary, g.track_ids.tolist()) for g in labels.groups],
        "centres": labels.centres.tolist(),
        "group_centres": labels.group_centres.tolist(),
        "group_of": labels.group_of.tolist(),
        "row_region": labels.row_region.tolist(),
        "sizes": labels.sizes.tolist(),
        "priority": labels.priority.tolist(),
        "shown": labels.texts(),
    }


def new_map(qtbot: Any) -> MapView:
    m = MapView()
    qtbot.addWidget(m)
    m.resize(900, 600)
    m.show()
    return m


def test_a_big_librarys_labels_come_from_a_worker(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    snap, xy, groups, regions = regions_and_points()
    at_once = new_map(qtbot)
    at_once.set_data(snap, xy, groups, regions)
    assert not at_once.labels.busy()
    want = state(at_once)
    assert len(want["groups"]) == 4 and want["shown"]

    threads: list[str] = []
    geometry = maplabels.geometry

    def spied(*args: Any) -> maplabels.Geometry:
        threads.append(threading.current_thread().name)
        return geometry(*args)

    monkeypatch.setattr(maplabels, "geometry", spied)
    monkeypatch.setattr(maplabels, "BACKGROUND_FROM", 100)  # 600 tracks in the regions
    monkeypatch.setattr(maplabels, "_SLICE", 7)
    m = new_map(qtbot)
    m.set_data(snap, xy, groups)  # no regions yet: at once
    with qtbot.waitSignal(m.labels.ready, timeout=10000):
        m.set_regions(regions)
        assert m.labels.busy() and m.labels.regions == []  # not yet
    assert not m.labels.busy()
    assert threads == ["MainThread", "map-labels"]
    assert state(m) == want
    # Hovering a point names its region.
    assert "Playlist 3" in m.hover_text(3 * SIZE + 1)


def test_the_last_request_wins(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Asked three times while the worker works: the first is worked out (and dropped), the
    second never, the last one shown. New points: no point's region is known until then."""
    snap, xy, groups, regions = regions_and_points()
    monkeypatch.setattr(maplabels, "BACKGROUND_FROM", 100)
    asked: list[int] = []
    geometry = maplabels.geometry
    go = threading.Event()
    go.set()

    def slow(*args: Any) -> maplabels.Geometry:
        asked.append(len(args[0]))
        assert go.wait(10)
        return geometry(*args)

    monkeypatch.setattr(maplabels, "geometry", slow)
    m = new_map(qtbot)
    with qtbot.waitSignal(m.labels.ready, timeout=10000):
        m.set_data(snap, xy, groups, regions)
    assert m.labels.region_of_row(1) is regions[0]
    go.clear()
    m.set_regions(regions[:20])
    m.set_regions(regions[:10])
    assert m.labels.region_of_row(1) is regions[0]  # the same points: known meanwhile
    other = snapshot(N)  # the same tracks read again: other arrays
    with qtbot.waitSignal(m.labels.ready, timeout=10000):
        m.set_data(other, xy, groups, regions)  # the last request: over the new points
        assert m.labels.busy() and m.labels.region_of_row(1) is None
        go.set()
    qtbot.waitUntil(lambda: not m.labels.busy(), timeout=10000)
    assert asked == [24, 20, 24]
    assert [r.key for r in m.labels.regions] == [r.key for r in regions]
    assert m.labels.region_of_row(1) is regions[0]
