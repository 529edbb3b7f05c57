"""The map as people use it: fit all and reset (buttons and keys), its context menu, grey for
unknown values and a legend in natural order, Shift and Ctrl to add to and take from a
selection with real mouse drags and clicks, no jump to the Library tab, and region labels by
group when zoomed out and by playlist when zoomed in, none over another."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from musicorg.app import actions
from musicorg.gui import mapview
from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.mapframe import PALETTE, UNKNOWN_COLOUR, categories, natural_key
from musicorg.gui.maplabels import GROUP, SETTLE_MS, Region, overlapping
from musicorg.gui.mappanel import PICKED
from musicorg.gui.mapview import MapView
from musicorg.gui.player import NullPlayer
from musicorg.gui.snapshot import Snapshot
from musicorg.store import library
from musicorg.store.db import Catalogue
from tests.gui.test_gui import synthetic_library
from tests.latent_fixtures import add_tracks

SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier
LEFT = Qt.MouseButton.LeftButton
#: Set to a folder to keep the screenshots these tests take (they are always taken).
SHOTS = os.environ.get("MUSICORG_TEST_SHOTS")
#: The three clusters of the synthetic library on the map (track i is in cluster i % 3).
CENTRES = [(0.0, 0.0), (20.0, 0.0), (10.0, 15.0)]


def cluster_xy(n: int) -> np.ndarray:
    """Coordinates of ``n`` tracks: track i near the centre of cluster i % 3."""
    rng = np.random.default_rng(1)
    return np.array([CENTRES[i % 3] for i in range(n)]) + rng.uniform(-2, 2, (n, 2))


def shot(widget: Any, name: str) -> None:
    image = widget.grab()
    assert not image.isNull()
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        image.save(str(Path(SHOTS) / f"map-{name}.png"))


# --- driving the plot with the mouse --------------------------------------------------------


def at(m: MapView, x: float, y: float) -> QPoint:
    """Where the data point (x, y) lies in the plot's viewport."""
    point: QPoint = m.plot.mapFromScene(m.view_box.mapViewToScene(QPointF(x, y)))
    return point


def drag(
    qtbot: Any,
    m: MapView,
    points: list[tuple[float, float]],
    keys: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
) -> None:
    """Press at the first point, move through the others, release at the last: a real drag
    on the viewport. The plot reads at most 100 moves a second, so each waits its turn."""
    viewport = m.plot.viewport()
    QTest.mousePress(viewport, LEFT, keys, at(m, *points[0]))
    for p in points[1:]:
        qtbot.wait(15)
        QTest.mouseMove(viewport, at(m, *p))
    qtbot.wait(15)
    QTest.mouseRelease(viewport, LEFT, keys, at(m, *points[-1]))


def around(x: float, y: float, r: float = 3.5) -> list[tuple[float, float]]:
    """A lasso drawn around (x, y): 12 points on a circle, back to the start."""
    angles = np.linspace(0, 2 * np.pi, 13)
    return [(x + r * float(np.cos(a)), y + r * float(np.sin(a))) for a in angles]


def box(x: float, y: float, r: float = 3.5) -> list[tuple[float, float]]:
    """A rectangle dragged from one corner round (x, y) to the other."""
    return [(x - r, y - r), (x, y), (x + r, y + r)]


# --- the window over a synthetic library with a map -----------------------------------------


#: How the map's frames are worked out: at once (a small library), or in its worker thread
#: (a big one; here by lowering the size it starts at).
HOW = ["at once", "in a worker"]


def frames(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if how == "in a worker":
        monkeypatch.setattr(mapview, "BACKGROUND_FROM", 0)


@pytest.fixture(params=HOW)
def window(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[MainWindow]:
    """The window on 60 tracks in three clusters, the Map tab in front; its map's frames
    worked out at once or in the worker."""
    frames(request.param, monkeypatch)
    xy = cluster_xy(60)
    monkeypatch.setattr(
        actions, "map_coordinates", lambda cat, *_a: (list(library.track_columns(cat).ids), xy)
    )
    cat, _ids = synthetic_library(tmp_path / "syn.sqlite", 60)
    cat.close()
    w = MainWindow(player=NullPlayer(), audio_backend="null")
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    w.open_library(tmp_path / "syn.sqlite", [], rescan=False)
    qtbot.waitUntil(lambda: len(w.data.snap) == 60 and w.idle(), timeout=30000)
    w.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: w.map.point_count() == 60 and not w.map.busy(), timeout=10000)
    w.map.fit_all()
    w.map.view_box.scaleBy((1.6, 1.6))  # room round the clusters to draw in
    yield w
    w.close()


def cluster_rows(w: MainWindow, c: int) -> set[int]:
    """The snapshot rows of the tracks of cluster ``c``."""
    ids = sorted(int(t) for t in w.data.snap.ids)
    return {int(w.data.snap.row_of(t) or 0) for i, t in enumerate(ids) if i % 3 == c}


def selected(w: MainWindow) -> set[int]:
    return {int(r) for r in w.map.selected_rows}


def test_shift_and_ctrl_drags_add_to_and_take_from_the_selection(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w, m = window, window.map
    m.set_mode("rect")
    # A rectangle round cluster 0: its 20 tracks, picked and selected; the map stays in front.
    drag(qtbot, m, box(*CENTRES[0]))
    assert selected(w) == cluster_rows(w, 0)
    assert w.library.results is not None and w.library.results[0] == PICKED
    assert len(w.library.selected_track_ids()) == 20
    assert w.tabs.currentIndex() == 1 and w.focusWidget() is m.plot
    assert w.details.title.text() == "20 tracks selected"
    # Shift + rectangle round cluster 1: added.
    drag(qtbot, m, box(*CENTRES[1]), SHIFT)
    assert selected(w) == cluster_rows(w, 0) | cluster_rows(w, 1)
    assert len(w.library.selected_track_ids()) == 40 and w.tabs.currentIndex() == 1
    # Shift + lasso round cluster 2: added too.
    m.set_mode("lasso")
    drag(qtbot, m, around(*CENTRES[2]), SHIFT)
    assert selected(w) == cluster_rows(w, 0) | cluster_rows(w, 1) | cluster_rows(w, 2)
    shot(w, "shift-lasso")
    # Ctrl + lasso round cluster 0: taken away.
    drag(qtbot, m, around(*CENTRES[0]), CTRL)
    assert selected(w) == cluster_rows(w, 1) | cluster_rows(w, 2)
    assert len(w.library.selected_track_ids()) == 40
    # A plain lasso replaces the selection.
    drag(qtbot, m, around(*CENTRES[1]))
    assert selected(w) == cluster_rows(w, 1)
    assert w.tabs.currentIndex() == 1 and w.focusWidget() is m.plot


def test_shift_and_ctrl_clicks_add_and_toggle_one_point(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w, m = window, window.map
    snap = w.data.snap
    a, b = sorted(cluster_rows(w, 0))[:2]
    viewport = m.plot.viewport()
    # A click picks one track, in the table too.
    QTest.mouseClick(viewport, LEFT, Qt.KeyboardModifier.NoModifier, at(m, *m.xy[a]))
    assert selected(w) == {a} and w.library.selected_track_ids() == [int(snap.ids[a])]
    # Shift+click adds one; Ctrl+click takes a selected one away, and adds one that is not.
    QTest.mouseClick(viewport, LEFT, SHIFT, at(m, *m.xy[b]))
    assert selected(w) == {a, b}
    qtbot.wait(500)  # not a double click
    QTest.mouseClick(viewport, LEFT, CTRL, at(m, *m.xy[a]))
    assert selected(w) == {b}
    qtbot.wait(500)
    QTest.mouseClick(viewport, LEFT, CTRL, at(m, *m.xy[a]))
    assert selected(w) == {a, b}
    assert sorted(w.library.selected_track_ids()) == sorted(int(snap.ids[r]) for r in (a, b))
    assert w.tabs.currentIndex() == 1


def test_fit_all_and_reset_by_button_and_key(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    m = window.map
    xy = m.xy[m.rows]

    def all_in_view() -> bool:
        (x0, x1), (y0, y1) = m.view_box.viewRange()
        return bool(
            (xy[:, 0] >= x0).all()
            and (xy[:, 0] <= x1).all()
            and (xy[:, 1] >= y0).all()
            and (xy[:, 1] <= y1).all()
        )

    assert all_in_view()
    zoom_in = (xy[0, 0] - 1, xy[0, 0] + 1)
    # The button.
    m.view_box.setRange(xRange=zoom_in, yRange=zoom_in, padding=0)
    assert not all_in_view()
    qtbot.mouseClick(m.view_buttons["fit"], LEFT)
    assert all_in_view()
    # The keys, with the focus on the plot: F, Home; 0 also goes back to panning.
    m.plot.setFocus()
    for key in (Qt.Key.Key_F, Qt.Key.Key_Home):
        m.view_box.setRange(xRange=zoom_in, yRange=zoom_in, padding=0)
        qtbot.keyClick(m.plot, key)
        assert all_in_view()
    m.set_mode("lasso")
    m.words_check.setChecked(False)
    m.view_box.setRange(xRange=zoom_in, yRange=zoom_in, padding=0)
    qtbot.keyClick(m.plot, Qt.Key.Key_0)
    assert all_in_view() and m.mode == "pan" and m.mode_buttons["pan"].isChecked()
    assert m.words_check.isChecked()
    # Typing in the word box types: the keys are the map's only where they mean nothing else.
    m.set_colour_mode("word")
    m.view_box.setRange(xRange=zoom_in, yRange=zoom_in, padding=0)
    qtbot.keyClicks(m.word_box, "f0")
    assert m.word_box.currentText() == "f0" and not all_in_view()


def test_context_menu_fits_resets_selects_and_offers_the_track(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w, m = window, window.map
    row = sorted(cluster_rows(w, 0))[0]
    # A right click on a point opens the menu for it.
    QTest.mouseClick(
        m.plot.viewport(),
        Qt.MouseButton.RightButton,
        Qt.KeyboardModifier.NoModifier,
        at(m, *m.xy[row]),
    )
    qtbot.waitUntil(lambda: m.menu is not None and m.menu.isVisible(), timeout=5000)
    assert m.menu is not None
    texts = [a.text() for a in m.menu.actions()]
    label = w.data.snap.label(row)
    assert texts[:2] == ["Fit all", "Reset"]
    assert f"More like “{label}”" in texts and f"Play “{label}”" in texts
    assert "Show words" in texts and "Colour by" in texts
    m.menu.close()
    # The menu key opens it too.
    key = QContextMenuEvent(QContextMenuEvent.Reason.Keyboard, QPoint(), QPoint())
    QApplication.sendEvent(m.plot, key)
    qtbot.waitUntil(lambda: m.menu is not None and m.menu.isVisible(), timeout=5000)
    m.menu.close()
    # On empty ground: no track to offer.
    menu = m.context_menu(m.view_box.mapViewToScene(QPointF(40.0, 40.0)))
    assert not [a for a in menu.actions() if a.text().startswith(("More like", "Play"))]
    # Each does what it says.
    menu = m.context_menu(m.view_box.mapViewToScene(QPointF(*m.xy[row])))
    actions_by_text = {a.text(): a for a in menu.actions()}
    with qtbot.waitSignal(w.map_panel.play_requested) as blocker:
        actions_by_text[f"Play “{label}”"].trigger()
    assert blocker.args == [row]
    colour = next(a for a in menu.actions() if a.text() == "Colour by").menu()
    assert colour is not None
    next(a for a in colour.actions() if a.text() == "Genre tag").trigger()
    assert m.colour_mode == "genre" and m.colour_box.currentData() == "genre"
    m.view_box.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
    actions_by_text["Fit all"].trigger()
    assert m.view_box.viewRange()[0][1] > 20
    with qtbot.waitSignal(w.library.results_shown, timeout=30000):
        actions_by_text[f"More like “{label}”"].trigger()
    assert w.library.results is not None and w.library.results[0].startswith("More like")
    assert w.model.track_id(0) == int(w.data.snap.ids[row])


# --- colours and the legend (the map on its own) --------------------------------------------


@pytest.fixture
def snap(tmp_path: Path) -> Snapshot:
    """12 tracks: genres with blank and placeholder ones, years with an unknown one."""
    genres = ["Rock", "", "jazz", "Folk", "(None)", "Rock", "jazz", "Folk", "Unknown", "Rock"]
    genres += ["Folk", "Rock"]
    years = [1995, 0, 1975, 2003, 1988, 1995, 0, 2011, 1975, 1968, 2003, 1995]
    cat = Catalogue(tmp_path / "c.sqlite")
    add_tracks(
        cat,
        np.zeros((12, 4), dtype=np.float32),
        columns={"genre": genres, "year": years},
    )
    out = Snapshot.build(library.track_columns(cat))
    cat.close()
    return out


def test_natural_key_orders_numbers_as_numbers() -> None:
    names = ["Group 10", "group 2", "Group 1", "track30", "track3", "Ambient"]
    assert sorted(names, key=natural_key) == [
        "Ambient",
        "Group 1",
        "group 2",
        "Group 10",
        "track3",
        "track30",
    ]


def test_unknown_values_are_grey_and_the_legend_is_in_natural_order(qtbot, snap) -> None:  # type: ignore[no-untyped-def]
    m = MapView()
    qtbot.addWidget(m)
    m.resize(900, 600)
    m.show()
    groups = np.array(
        ["Group 2", "Group 10", "", "Group 1", "Group 2", "Group 10"] * 2, dtype=np.str_
    )
    xy = np.column_stack([np.arange(12.0), np.arange(12.0) % 4])
    m.set_data(snap, xy, groups)
    # The groups: Group 1, 2, 10, then the tracks in none, grey.
    m.set_colour_mode("group")
    assert m.legend_names == ["Group 1", "Group 2", "Group 10", "No group"]
    assert m.legend_colours == [*PALETTE[:3], UNKNOWN_COLOUR]
    # Genres: "No genre" (blank, "(None)", "Unknown") is grey, never a palette colour, and
    # last; it used to be blue, and "(None)" and "Unknown" were genres of their own.
    m.set_colour_mode("genre")
    assert m.legend_names == ["Folk", "jazz", "Rock", "No genre"]
    assert m.legend_colours[-1] == UNKNOWN_COLOUR
    assert UNKNOWN_COLOUR not in m.legend_colours[:-1] and UNKNOWN_COLOUR not in PALETTE
    blank = np.array([1, 4, 8])
    cats, names = categories(snap, "genre", None)
    assert {names[int(c)] for c in cats[blank]} == {"No genre"}
    # The points of the blank genre are drawn grey.
    grey = next(layer for layer in m.layers if layer.opts["brush"].color().name() == UNKNOWN_COLOUR)
    assert len(grey.getData()[0]) == len(blank)
    # Years: by decade, the unknown year last and grey.
    m.set_colour_mode("year")
    assert m.legend_names == ["1960s", "1970s", "1980s", "1990s", "2000s", "2010s", "Unknown year"]
    assert m.legend_colours[-1] == UNKNOWN_COLOUR
    shot(m, "legend")


def test_a_map_worked_out_in_the_worker_waits_for_its_points(
    qtbot: Any, snap: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the worker works out new points, the old ones stay drawn but nothing is picked
    on them (their rows are of the old data), the marks given meanwhile wait and are drawn
    with the new points, and of two sets of data given quickly only the last is drawn."""
    frames("in a worker", monkeypatch)
    m = MapView()
    qtbot.addWidget(m)
    m.resize(900, 600)
    m.show()
    line = np.column_stack([np.arange(12.0), np.zeros(12)])
    m.set_data(snap, line, None)
    qtbot.waitUntil(lambda: not m.busy(), timeout=5000)
    assert m.nearest(3.0, 0.0, 0.5) == 3
    diagonal = np.column_stack([np.arange(12.0), np.arange(12.0)])
    m.set_data(snap, line * 5, None)
    m.set_data(snap, diagonal, None)  # given before the first landed
    m.set_selected(np.array([4]))
    assert m.busy() and m.nearest(3.0, 0.0, 0.5) is None  # nothing picked meanwhile
    assert len(m.sel_scatter.getData()[0]) == 0  # the mark waits for its points
    qtbot.waitUntil(lambda: not m.busy(), timeout=5000)
    assert m.xy is not None and np.array_equal(m.xy, diagonal)  # the last data given
    assert m.nearest(6.0, 6.0, 0.5) == 6 and m.nearest(30.0, 0.0, 0.5) is None
    assert (m.sel_scatter.getData()[0][0], m.sel_scatter.getData()[1][0]) == (4.0, 4.0)
    assert sum(len(layer) for layer in m.layers) == 12


# --- region labels: groups zoomed out, playlists zoomed in ----------------------------------

#: Two groups of three playlists each; "Loud" is the bigger.
PLAYLISTS = {
    "Calm": [
        ("mellow · piano", (-1.5, 0.0)),
        ("slow · acoustic", (0.0, 1.2)),
        ("quiet · strings", (1.5, 0.0)),
    ],
    "Loud": [
        ("fast · metal", (38.5, 30.0)),
        ("energetic · rock", (40.0, 31.2)),
        ("bright · punk", (41.5, 30.0)),
    ],
}


@pytest.fixture
def regions_map(qtbot: Any, tmp_path: Path) -> tuple[MapView, list[Region]]:
    """A map of six playlists in two groups, 20 tracks each (24 for Loud's)."""
    sizes = [20, 20, 20, 24, 24, 24]
    n = sum(sizes)
    cat = Catalogue(tmp_path / "r.sqlite")
    add_tracks(cat, np.zeros((n, 4), dtype=np.float32))
    snap = Snapshot.build(library.track_columns(cat))
    cat.close()
    rng = np.random.default_rng(3)
    xy = np.zeros((n, 2))
    groups = np.full(n, "", dtype=object)
    regions, start = [], 0
    for k, (group, (text, centre)) in enumerate(
        (g, p) for g, members in PLAYLISTS.items() for p in members
    ):
        rows = np.arange(start, start + sizes[k])
        xy[rows] = np.array(centre) + rng.normal(0, 0.4, (len(rows), 2))
        groups[rows] = group
        regions.append(Region(100 + k, text, f"Playlist {k}\n{text}", snap.ids[rows].copy()))
        start += sizes[k]
    m = MapView()
    qtbot.addWidget(m)
    m.resize(900, 600)
    m.show()
    m.set_data(snap, xy, groups.astype(np.str_))
    m.set_regions(regions)
    m.fit_all()
    settle(qtbot)
    return m, regions


def settle(qtbot: Any) -> None:
    """Let the view redraw and the labels be placed again (once the view is still)."""
    qtbot.wait(SETTLE_MS + 150)


def labels_apart(m: MapView) -> list[str]:
    """The labels drawn: none over another, all inside the plot."""
    rects = m.labels.scene_rects()
    assert overlapping(rects) == []
    view = m.view_box.sceneBoundingRect()
    assert all(view.contains(r) for r in rects)
    return m.labels.texts()


def test_zoomed_out_the_groups_are_labelled_zoomed_in_their_playlists(qtbot, regions_map) -> None:  # type: ignore[no-untyped-def]
    m, regions = regions_map
    # The whole map: each group's playlists crowd together, so each group is named once.
    assert sorted(labels_apart(m)) == ["Calm", "Loud"]
    calm = next(r for r in m.labels.shown if r.text == "Calm")
    assert calm.kind == GROUP
    # At the group's centre, with its playlists' words in its tooltip.
    rows = m.snap.rows_of(calm.track_ids)
    item = m.labels.items()[m.labels.shown.index(calm)]
    assert np.allclose([item.pos().x(), item.pos().y()], m.xy[rows].mean(axis=0))
    assert item.toolTip() == calm.summary
    for text, _centre in PLAYLISTS["Calm"]:
        assert f"• {text}" in calm.summary
    assert "a group of 3 playlists, 60 tracks" in calm.summary
    # Hovering the group's label shows its words.
    centre = item.sceneBoundingRect().center()
    assert m.labels.at(centre.x(), centre.y()) is calm
    QTest.mouseMove(m.plot.viewport(), m.plot.mapFromScene(centre))
    qtbot.waitUntil(lambda: m.hover_label.isVisible(), timeout=5000)
    assert m.hover_label.textItem.toPlainText() == calm.summary
    shot(m, "labels-groups")
    # Zoomed in on Calm: its three playlists by their words, none over another.
    m.view_box.setRange(xRange=(-3.5, 3.5), yRange=(-2.5, 3.5), padding=0)
    settle(qtbot)
    assert sorted(labels_apart(m)) == sorted(t for t, _c in PLAYLISTS["Calm"])
    assert all(r.kind != GROUP for r in m.labels.shown)
    # A point of a playlist names it on hover.
    row = int(m.snap.rows_of(regions[0].track_ids)[0])
    assert "mellow · piano" in m.hover_text(row)
    shot(m, "labels-playlists")
    # Far out, the two group labels would meet: the bigger group keeps its name.
    m.fit_all()
    m.view_box.scaleBy((25, 25))
    settle(qtbot)
    assert labels_apart(m) == ["Loud"]
    # The context menu on a label selects its tracks.
    m.fit_all()
    settle(qtbot)
    loud = next(r for r in m.labels.shown if r.text == "Loud")
    centre = m.labels.items()[m.labels.shown.index(loud)].sceneBoundingRect().center()
    menu = m.context_menu(centre)
    pick = next(a for a in menu.actions() if a.text() == "Select all in the group “Loud”")
    with qtbot.waitSignal(m.area_selected) as blocker:
        pick.trigger()
    assert sorted(blocker.args[0]) == sorted(m.snap.rows_of(loud.track_ids))
    # Without groups (a flat clustering), each playlist is labelled by its words.
    m.set_data(m.snap, m.xy, None)
    m.set_regions(regions)
    m.view_box.setRange(xRange=(-3.5, 3.5), yRange=(-2.5, 3.5), padding=0)
    settle(qtbot)
    assert sorted(labels_apart(m)) == sorted(t for t, _c in PLAYLISTS["Calm"])
    assert not m.labels.groups
