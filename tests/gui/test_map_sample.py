"""The map of a library bigger than it draws: a sample of ``MAX_POINTS`` points (lowered here to
500 over a real 2,000-track catalogue with a stored map), the same one at each reload, said in
the bar; a lasso picks real tracks among the points drawn; colouring, the selection, the
highlight and the track playing work on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from musicorg.gui import mapframe, mapview
from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.player import NullPlayer
from musicorg.store import library, maps
from tests.gui.test_gui import VERSION, synthetic_library
from tests.gui.test_map import HOW, around, cluster_xy, drag, frames, shot

N = 2000
CAP = 500


@pytest.fixture(params=HOW)
def window(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[MainWindow]:
    """The window on 2,000 tracks in three clusters, with their map stored in the catalogue,
    the map drawing at most 500 points (worked out at once or in the worker); the Map tab in
    front."""
    frames(request.param, monkeypatch)
    monkeypatch.setattr(mapframe, "MAX_POINTS", CAP)
    cat, _ids = synthetic_library(tmp_path / "big.sqlite", N)
    keys = list(library.track_columns(cat).content_keys)
    maps.store(cat, VERSION, "pca", keys, cluster_xy(N), replace=True)
    cat.close()
    w = MainWindow(player=NullPlayer(), audio_backend="null", map_method="pca")
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    w.open_library(tmp_path / "big.sqlite", [], rescan=False)
    qtbot.waitUntil(lambda: len(w.data.snap) == N and w.idle(), timeout=60000)
    w.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: w.map.point_count() > 0 and not w.map.busy(), timeout=10000)
    w.map.fit_all()
    w.map.view_box.scaleBy((1.6, 1.6))
    yield w
    w.close()


def drawn_points(m: mapview.MapView) -> int:
    """The points the colour layers hold (what is painted, overlays aside)."""
    return sum(len(layer.getData()[0]) for layer in m.layers)


def test_a_big_library_draws_a_steady_sample_and_says_so(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w, m = window, window.map
    assert m.point_count() == CAP
    assert drawn_points(m) == CAP
    assert m.info.text() == "Showing 500 of 2,000 tracks"
    assert "sample" in m.info.toolTip()
    every = set(library.track_columns(w.cat).ids) if w.cat else set()
    drawn = {int(t) for t in w.data.snap.ids[m.rows]}
    assert len(drawn) == CAP and drawn <= every
    shot(w, "sample")
    # A reload draws the same tracks.
    with qtbot.waitSignal(w.library_loaded, timeout=30000):
        w.reload()
    assert {int(t) for t in w.data.snap.ids[w.map.rows]} == drawn
    # One more track changes the sample by at most one of the others.
    ids = w.data.snap.ids
    rows = np.arange(len(ids))
    more = np.append(ids, ids.max() + 1)
    before = set(ids[mapframe.sample_rows(ids, rows, CAP)].tolist())
    after = set(more[mapframe.sample_rows(more, np.arange(len(more)), CAP)].tolist())
    assert len(before - after) <= 1


def test_a_lasso_on_the_sample_picks_real_tracks(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w, m = window, window.map
    m.set_mode("lasso")
    drag(qtbot, m, around(0.0, 0.0))
    picked = {int(w.data.snap.ids[r]) for r in m.selected_rows}
    # Cluster 0 holds a third of the library; its points drawn are about a third of 500.
    drawn_rows = set(m.rows.tolist())
    assert 100 < len(picked) < CAP
    assert {int(r) for r in m.selected_rows} <= drawn_rows
    assert picked <= set(library.track_columns(w.cat).ids) if w.cat else False
    assert set(w.library.selected_track_ids()) == picked
    # Each is a track of cluster 0 (track i lies near centre i % 3).
    order = {int(t): i for i, t in enumerate(sorted(int(t) for t in w.data.snap.ids))}
    assert all(order[t] % 3 == 0 for t in picked)
    assert w.tabs.currentIndex() == 1


def test_colours_selection_highlight_and_playing_work_on_the_sample(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w, m = window, window.map
    m.set_colour_mode("genre")
    qtbot.waitUntil(lambda: not m.busy(), timeout=5000)
    assert m.legend_names == ["Folk", "Jazz", "Rock"]
    assert drawn_points(m) == CAP
    # A track the sample leaves out is still marked where it lies when selected or playing.
    assert m.drawn is not None
    left_out = int(np.flatnonzero(~m.drawn)[0])
    track = int(w.data.snap.ids[left_out])
    w.library.select_track_ids([track])
    qtbot.waitUntil(lambda: len(m.sel_scatter.getData()[0]) == 1, timeout=5000)
    x, y = m.xy[left_out]
    assert (m.sel_scatter.getData()[0][0], m.sel_scatter.getData()[1][0]) == (x, y)
    w.map_panel.set_playing(track)
    assert m.playing_point() == (x, y)
    # A highlight of every track draws no more marks than points: those drawn.
    m.set_highlight(np.arange(N))
    assert len(m.high_scatter.getData()[0]) == CAP
    shot(w, "sample-genre")
