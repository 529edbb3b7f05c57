"""Asking in words, mixing by example, "For you", the map that explains itself and the
playlists that say why, in the window, on the real held-out library of
tests/organise/heldout.py (165 tracks with their tags, descriptors and μ), its automatic
playlists and its PCA map."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton

from musicorg.app import actions, explain, pipeline
from musicorg.gui.colourby import scale
from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.maplabels import overlapping, place
from musicorg.gui.mix import MINUS, PLUS
from musicorg.gui.player import NullPlayer
from musicorg.store import plays
from musicorg.store.db import Catalogue, backup
from tests.organise import heldout

#: Set to a folder to keep the screenshots these tests take (they are always taken).
SHOTS = os.environ.get("MUSICORG_TEST_SHOTS")
DAY = 86400.0


@pytest.fixture(scope="module")
def heldout_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    """The held-out library with its playlists (lists of 8-20 tracks) and a PCA map."""
    path = tmp_path_factory.mktemp("discovery") / "heldout.sqlite"
    cat = Catalogue(path)
    lib = heldout.load()
    ids = heldout.add_to(cat, lib, np.arange(len(lib)))
    pipeline.update_playlists(cat, force=True, playlist_min=8, playlist_max=20)
    pipeline.update_map(cat, "pca")
    cat.close()
    return path, ids


@pytest.fixture
def window(qtbot: Any, heldout_db: tuple[Path, list[int]], tmp_path: Path) -> Iterator[MainWindow]:
    db = tmp_path / "lib.sqlite"
    backup(heldout_db[0], db)
    w = MainWindow(player=NullPlayer(), audio_backend="null", map_method="pca")
    qtbot.addWidget(w)
    w.resize(1400, 860)
    w.show()
    w.open_library(db, [], rescan=False)
    qtbot.waitUntil(lambda: len(w.data.snap) == len(heldout_db[1]) and w.idle(), timeout=30000)
    qtbot.waitUntil(lambda: bool(w.explanations.why), timeout=30000)
    yield w
    w.close()


def settle(qtbot: Any, w: MainWindow, ms: int = 250) -> None:
    """Let jobs land and the map's labels settle (they are placed once the view is still)."""
    qtbot.waitUntil(w.idle, timeout=30000)
    qtbot.wait(ms)


def shot(w: MainWindow, name: str) -> None:
    image = w.grab()
    assert not image.isNull()
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        image.save(str(Path(SHOTS) / f"discovery-{name}.png"))


def shown_ids(w: MainWindow) -> list[int]:
    return [w.model.track_id(r) for r in range(w.model.rowCount())]


# --- ask in words ---------------------------------------------------------------------------


def test_ask_in_words_lists_tracks_with_why_and_names_unknown_words(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    w.library.search.setText("")
    qtbot.keyClicks(w.ask.field, "calm jazz, not metal piano")
    with qtbot.waitSignal(w.library.results_shown, timeout=30000):
        qtbot.keyClick(w.ask.field, Qt.Key.Key_Return)
    ids = shown_ids(w)
    assert 10 <= len(ids) <= 30
    assert w.library.results is not None and w.library.results[0].startswith("Ask")
    # Each row says why: the Why column (and the row's tooltip).
    col = w.model.why_column()
    assert col is not None and w.model.headerData(col, Qt.Orientation.Horizontal) == "Why"
    why = [w.model.data(w.model.index(r, col)) for r in range(len(ids))]
    assert all("calm" in t and "jazz" in t and "not metal" in t for t in why)
    assert w.model.data(w.model.index(0, 0), Qt.ItemDataRole.ToolTipRole) == why[0]
    # The Why column is shown next to the title.
    assert w.table.horizontalHeader().visualIndex(col) == 1
    # The word it does not know is said plainly.
    assert w.library.results_note.text() == "not understood: piano"
    assert w.library.results_note.isVisible()
    # The same as the app's answer.
    assert w.cat is not None
    index = w.words.for_cat(w.cat)
    assert index is not None
    expected = actions.ask_in_words(w.cat, "calm jazz, not metal piano", 30, index)
    assert ids == [m.track_id for m in expected.tracks]
    shot(w, "ask")
    # Saved as a playlist, in its order.
    with qtbot.waitSignal(w.library_loaded, timeout=30000):
        pid = w.sidebar.save_results("Calm jazz")
    saved = next(p for p in w.data.playlists if p.id == pid)
    assert saved.track_ids == ids
    # Closing the list drops the Why column; the filter field still filters by substring.
    w.library.close_results()
    assert w.model.why_column() is None and w.model.columnCount() == col
    qtbot.keyClicks(w.library.search, "Maxstack")
    qtbot.waitUntil(lambda: 0 < w.model.rowCount() < 20, timeout=5000)
    w.library.search.clear()


def test_nothing_understood_is_said(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.ask.answered, timeout=30000):
        window.ask.ask("banjo kazoo")
    assert window.model.rowCount() == 0
    assert "banjo kazoo" in window.library.results_note.text()


# --- alchemy ---------------------------------------------------------------------------------


def test_mix_adds_and_subtracts_and_the_map_previews_it(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    cat = w.cat
    assert cat is not None
    space = actions.similar_space(cat)
    a = int(w.data.snap.ids[0])
    plain = actions.more_like_this(cat, [a], 25, space)
    b = plain.tracks[3].track_id  # a near neighbour of A, to move away from
    # From the details pane: select A, "+ Mix"; select B, "− Mix".
    w.library.select_track_ids([a])
    qtbot.mouseClick(w.details.plus_button, Qt.MouseButton.LeftButton)
    w.library.select_track_ids([b])
    qtbot.mouseClick(w.details.minus_button, Qt.MouseButton.LeftButton)
    panel = w.mix.panel
    assert w.mix.plus == [a] and w.mix.minus == [b]
    assert panel.isVisible() and panel.seeds_shown()[0].startswith(PLUS)
    assert panel.seeds_shown()[1].startswith(MINUS) and panel.weight.isEnabled()
    with qtbot.waitSignal(w.mix.shown, timeout=30000) as blocker:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    mixed = [s.track_id for s in blocker.args[0].tracks]
    shown = shown_ids(w)
    assert shown == [a, *mixed]
    assert b not in shown
    assert mixed != [s.track_id for s in plain.tracks]  # the − seed changed the list
    assert w.library.results is not None and "−" in w.library.results[0]
    # The map previews it: + seed, − seed and picks ringed, each with its own mark.
    w.tabs.setCurrentIndex(1)
    settle(qtbot, w)
    m = w.map
    snap = w.data.snap
    plus_xy = m.xy[snap.row_of(a)]
    minus_xy = m.xy[snap.row_of(b)]
    assert np.allclose(m.preview_points("plus"), [plus_xy])
    assert np.allclose(m.preview_points("minus"), [minus_xy])
    picks = m.preview_points("picks")
    assert len(picks) == len(mixed)
    assert {m.preview[k].opts["symbol"] for k in ("plus", "minus")} == {"o", "s"}
    assert "− seeds" in m.preview_label.text()
    # With the preview's key in the bar, no tool is squeezed below its size ("R…e").
    settle(qtbot, w)
    for button in m.tools.findChildren(QAbstractButton):
        assert button.width() >= button.sizeHint().width(), button.text()
    shot(w, "alchemy")
    # A heavier − weight makes the list again; removing B gives plain "more like this".
    with qtbot.waitSignal(w.mix.shown, timeout=30000):
        w.mix.set_weight(0.9)
    assert w.library.results is not None
    w.mix.remove(b)
    with qtbot.waitSignal(w.mix.shown, timeout=30000) as blocker:
        w.mix.run()
    assert [s.track_id for s in blocker.args[0].tracks] == [s.track_id for s in plain.tracks]
    # Closing the list takes the rings off.
    w.library.close_results()
    assert not len(m.preview_points("plus")) and not len(m.preview_points("picks"))
    assert m.preview_label.text() == ""


def test_mix_from_the_context_menu(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from musicorg.gui.menus import track_menu

    w = window
    ids = [int(t) for t in w.data.snap.ids[:3]]
    w.library.select_track_ids(ids[:2])
    menu = track_menu(w)
    actions_by_text = {a.text(): a for a in menu.actions()}
    actions_by_text["Add to mix (+)"].trigger()
    w.library.select_track_ids(ids[2:])
    actions_by_text["Subtract from mix (−)"].trigger()
    assert w.mix.plus == ids[:2] and w.mix.minus == ids[2:]
    w.mix.add([ids[2]], PLUS)  # moves from − to +
    assert w.mix.plus == ids and w.mix.minus == []
    assert not w.mix.panel.weight.isEnabled()
    w.mix.clear()
    assert not w.mix.panel.isVisible()


# --- for you --------------------------------------------------------------------------------


def test_for_you_from_plays_leaves_out_a_skipped_track(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    cat = w.cat
    assert cat is not None
    # With no plays yet: a plain message.
    item = w.tree.foryou_item
    with qtbot.waitSignal(w.for_you.shown, timeout=30000):
        w.tree.setCurrentItem(item)
    assert w.model.rowCount() == 0
    assert "play some music" in w.library.results_note.text()
    assert w.library.results_refresh.isVisible()
    # Plays: a favourite, two others; its nearest neighbour was skipped (never played).
    ids = [int(t) for t in w.data.snap.ids]
    fav = ids[10]
    near = [
        s.track_id for s in actions.more_like_this(cat, [fav], 5, actions.similar_space(cat)).tracks
    ]
    skipped = near[0]
    now = time.time()
    for _ in range(5):
        plays.record_play(cat, fav, at=now - 3 * DAY)
    plays.record_play(cat, ids[60], at=now - 10 * DAY)
    plays.record_play(cat, ids[120], at=now - 2 * DAY)
    plays.record_skip(cat, skipped, at=now - DAY)
    with qtbot.waitSignal(w.for_you.shown, timeout=30000) as blocker:
        qtbot.mouseClick(w.library.results_refresh, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    listed = shown_ids(w)
    assert listed and listed == [p.track_id for p in result.tracks]
    assert skipped not in listed
    assert not {fav, ids[60], ids[120]} & set(listed)  # the seeds themselves are left out
    assert set(near[1:]) & set(listed)  # the favourite's other neighbours are in
    # Which plays it used: the bar names them, its tooltip lists them with their plays.
    note = w.library.results_note.text()
    assert note.startswith("from your plays of")
    assert "5 plays" in w.library.results_note.toolTip()
    col = w.model.why_column()
    assert col is not None
    assert all(str(w.model.data(w.model.index(r, col))).startswith("like ") for r in range(3))
    # Closing it goes back to the library.
    w.library.close_results()
    assert w.tree.currentItem() is w.tree.library_item
    assert w.model.rowCount() == len(ids)


# --- the map that explains itself --------------------------------------------------------------


def label_rects_do_not_overlap(w: MainWindow) -> int:
    rects = w.map.labels.scene_rects()
    assert overlapping(rects) == []
    view = w.map.view_box.sceneBoundingRect()
    assert all(view.contains(r) for r in rects)
    return len(rects)


def test_map_labels_regions_with_words_and_thin_out(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    w.tabs.setCurrentIndex(1)
    settle(qtbot, w)
    m = w.map
    autos = [p for p in w.data.playlists if p.kind == "auto"]
    assert len(m.regions) == len(autos)
    # Each label is a playlist's top words, at the mean of its tracks' coordinates.
    region = max(m.regions, key=lambda r: len(r.track_ids))
    why = w.explanations.why[region.key]
    assert region.text == " · ".join(str(x["word"]) for x in why["words"][:2])
    rows = w.data.snap.rows_of(region.track_ids)
    k = m.regions.index(region)
    assert np.allclose(m.labels.centres[k], m.xy[rows].mean(axis=0))
    near = label_rects_do_not_overlap(w)
    assert near >= 3 and region.text in m.labels.texts()  # the biggest always fits
    shot(w, "map-labels")
    # Zoomed out, the regions crowd together: fewer labels, still none over another.
    m.view_box.scaleBy((8, 8))
    settle(qtbot, w)
    far = label_rects_do_not_overlap(w)
    assert 1 <= far < near
    # Zoomed in on the biggest region: its label stays, none overlap.
    m.plot.getPlotItem().autoRange()
    cx, cy = m.labels.centres[k]
    m.view_box.setRange(xRange=(cx - 1, cx + 1), yRange=(cy - 1, cy + 1), padding=0)
    settle(qtbot, w)
    label_rects_do_not_overlap(w)
    assert region.text in m.labels.texts()
    m.plot.getPlotItem().autoRange()
    settle(qtbot, w)
    # Hover: a point names its track and its region's words; a label, its summary.
    row = int(rows[0])
    assert why["summary"] in m.hover_text(row) and w.data.snap.label(row) in m.hover_text(row)
    item = next(
        i for i, t in zip(m.labels.items(), m.labels.texts(), strict=True) if t == region.text
    )
    centre = item.sceneBoundingRect().center()
    assert m.labels.at(centre.x(), centre.y()) is region
    assert why["summary"] in region.summary and item.toolTip() == region.summary
    # "Words" off: no labels.
    m.words_check.setChecked(False)
    assert m.labels.items() == []
    m.words_check.setChecked(True)
    settle(qtbot, w)
    assert m.labels.items()


def test_label_placement_is_greedy_by_priority() -> None:
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 0, 30, 10], [-5, 0, 2, 2]], float)
    kept = place(boxes, np.array([1.0, 5.0, 2.0, 9.0]), (0, 0, 100, 100))
    # 3 leaves the view; 1 beats 0 (they overlap); 2 stands alone.
    assert list(kept) == [1, 2]


def test_colour_by_a_word_and_by_tempo(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    w.tabs.setCurrentIndex(1)
    settle(qtbot, w)
    m = w.map
    assert not m.colour_bar.isVisible() and m.legend.isVisible()
    # "A word…": the library's words are offered; one is chosen.
    m.colour_box.setCurrentIndex(m.colour_box.findData("word"))
    qtbot.waitUntil(lambda: m.word_box.count() > 20, timeout=30000)
    assert m.word_box.isVisible()
    labels = [m.word_box.itemText(i) for i in range(m.word_box.count())]
    assert "Electronic" in labels and "calm" in labels and "mellow" in labels
    m.word_box.setCurrentIndex(m.word_box.findData("heard:electronic"))
    m.word_box.activated.emit(m.word_box.currentIndex())
    qtbot.waitUntil(lambda: m.scale is not None, timeout=30000)
    assert m.colour_bar.isVisible() and not m.legend.isVisible()
    title, top, bottom = m.colour_bar.labels()
    assert title.startswith("Electronic") and float(top) > float(bottom)
    # The colours follow the probabilities: the high step has the high ones.
    assert w.cat is not None
    index = w.words.for_cat(w.cat)
    assert index is not None
    values = actions.word_scores(index, "heard:electronic")
    assert m.scale is not None
    steps = m.scale.steps[w.data.snap.rows_of(values.track_ids)]
    assert np.corrcoef(steps, values.values)[0, 1] > 0.9
    shot(w, "map-word")
    # Tempo, in BPM.
    m.set_colour_mode("tempo")
    qtbot.waitUntil(lambda: m.scale is not None, timeout=30000)
    title, top, bottom = m.colour_bar.labels()
    assert title == "Tempo" and top.endswith("BPM") and bottom.endswith("BPM")
    assert m.colour_bar.isVisible()
    shot(w, "map-tempo")
    for mode in ("brightness", "energy"):
        m.set_colour_mode(mode)
        qtbot.waitUntil(lambda: m.scale is not None, timeout=30000)
    assert m.colour_bar.labels()[1].endswith("dBFS")
    # Back to the groups: the legend again.
    m.set_colour_mode("group")
    assert m.legend.isVisible() and not m.colour_bar.isVisible() and m.legend_names


def test_scale_steps() -> None:
    values = np.array([np.nan, 0.0, 0.5, 1.0, 2.0])
    s = scale(values, "x", "")
    assert s.steps[0] == -1 and list(s.steps[1:]) == sorted(s.steps[1:])
    assert s.steps[-1] == 15 and s.steps[1] == 0


# --- playlists say why ------------------------------------------------------------------------


def test_playlist_tooltip_and_details_say_why(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    assert w.cat is not None
    told = explain.explain_playlists(w.cat)
    items = w.tree.items("auto")
    assert items
    for item in items:
        pid = int(item.data(0, w.tree.ROLE)[1])
        assert item.toolTip(0) == told[pid].summary
    # An automatic playlist selected, no track selected: its explanation in the details.
    pid = int(items[0].data(0, w.tree.ROLE)[1])
    w.tree.setCurrentItem(items[0])
    qtbot.waitUntil(lambda: "Its words" in w.details.text.toPlainText(), timeout=5000)
    text = w.details.text.toPlainText()
    e = told[pid]
    assert e.words[0].word in text and f"{round(100 * e.words[0].share)} %" in text
    assert "BPM" in text and "Brightness" in text and "Energy" in text
    assert f"{e.size} tracks" in text
    name = next(p.name for p in w.data.playlists if p.id == pid)
    assert w.details.title.text() == name
    shot(w, "playlist-why")
    # A track selected: the track, as before.
    w.library.select_track_ids([w.model.track_id(0)])
    qtbot.waitUntil(lambda: "Its words" not in w.details.text.toPlainText(), timeout=5000)
    # The library selected: nothing to explain.
    w.sidebar.show_library()
    assert w.details.title.text() == "No track selected"
