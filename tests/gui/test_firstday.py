"""A first day without surprises (#19, items 9 and 10): the retrain dialog's chart, progress and
advice; plain words in the settings; minimum sizes; the keyboard shortcuts page; no empty
analysis at each start; the problems count; the window title; pin or unpin; recent
libraries; unmatched import entries. Each test fails on the code before these fixes."""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialogButtonBox, QMenu, QWidget
from sqlalchemy import insert

from musicorg import paths
from musicorg import settings as settings_mod
from musicorg.app.retrain import RetrainProgress
from musicorg.gui import recent
from musicorg.gui.dialogs import CLUSTER_CHOICES, SettingsDialog
from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.pipeline_stages import analysis_due
from musicorg.gui.retrain_dialog import (
    CHART_MIN_HEIGHT,
    DEFAULT_EPOCHS,
    MAX_EPOCH_TICKS,
    RetrainDialog,
    recommendation,
)
from musicorg.gui.shortcuts import ShortcutsDialog, shortcut_groups
from musicorg.gui.unmatched import MAX_SHOWN, UnmatchedDialog
from musicorg.jobs import Cancelled
from musicorg.keys import FEATURES_VERSION
from musicorg.model.registry import bundled_version
from musicorg.store import problems
from musicorg.store.db import Analysis, Catalogue
from tests.gui.test_gui import open_synthetic, settled, synthetic_library

# --- the retrain dialog -----------------------------------------------------------------------


def _progress(epoch: int, epochs: int, scale: float = 1.0) -> RetrainProgress:
    return RetrainProgress(
        epoch=epoch,
        epochs=epochs,
        total=100.0 * scale / epoch,
        audio=90.0 * scale / epoch,
        text=0.5 + 5.0 / epoch,
        stats=1.0,
        kl=2.0 + epoch,
        beta=0.01 * epoch,
        seconds=1.0,
        eta_s=float(epochs - epoch),
    )


def _overlap(a: Any, b: Any) -> bool:
    return bool(a.intersects(b)) and a.intersected(b).height() > 1


def test_retrain_chart_is_tall_with_whole_epochs_and_no_overprinted_labels(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Before: the loss chart was about 40 px high, its titles and axis labels overprinted
    each other and the epoch axis read 1.0, 1.5, 2.0."""
    dialog = RetrainDialog(Path("unused.sqlite"))
    qtbot.addWidget(dialog)
    dialog.show()
    for e in range(1, 8):
        dialog._bridge.epoch.emit(_progress(e, 7))
    qtbot.waitUntil(lambda: len(dialog.history) == 7)
    dialog.resize(dialog.minimumSizeHint())  # the smallest the dialog can be
    qtbot.wait(50)
    assert dialog.loss_plot.vb.sceneBoundingRect().height() >= 180
    assert CHART_MIN_HEIGHT >= 180
    # Whole epochs on the shared axis, few enough to read.
    for plot in (dialog.loss_plot, dialog.beta_plot):
        axis = plot.getAxis("bottom")
        lo, hi = axis.range
        ticks = [v for _spacing, values in axis.tickValues(lo, hi, axis.width()) for v in values]
        assert ticks and all(float(v).is_integer() for v in ticks)
        assert len(ticks) <= MAX_EPOCH_TICKS + 1
    # Titles, tick labels and the axis label each have their own room.
    items = [
        dialog.loss_plot.titleLabel,
        dialog.loss_plot.getAxis("bottom"),
        dialog.beta_plot.titleLabel,
        dialog.beta_plot.getAxis("bottom"),
    ]
    rects = [i.sceneBoundingRect() for i in items]
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            assert not _overlap(a, b)
    # The log axis labels only what fits: no two labels closer than a line of text.
    left = dialog.loss_plot.getAxis("left")
    lo, hi = left.range
    size = left.geometry().height()
    values = [v for _s, vs in left.tickValues(lo, hi, size) for v in vs]
    labelled = sorted(v for v, s in zip(values, left.tickStrings(values, 1, 1), strict=True) if s)
    assert labelled
    px = [(v - lo) / (hi - lo) * size for v in labelled]
    assert all(b - a >= 12 for a, b in itertools.pairwise(px))


def _fake_retrain(batches: int = 4, pause: float = 0.05, report: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    """A stand-in for ``musicorg.app.retrain.retrain`` that reports like it, without torch."""
    proceed = threading.Event()

    def retrain(cat, options, progress=None, batch_progress=None, stage=None, cancel=None):  # type: ignore[no-untyped-def]
        for epoch in range(1, options.epochs + 1):
            for b in range(1, batches + 1):
                if cancel is not None and cancel():
                    raise Cancelled()
                batch_progress(epoch, b, batches)
                time.sleep(pause)
                if epoch == 2 and b == 1:
                    proceed.wait(30)  # the test looks at the bar here
            progress(_progress(epoch, options.epochs))
        return type(
            "Result",
            (),
            {
                "version": "user-test",
                "epochs": options.epochs,
                "n_tracks": 70,
                "seconds": 1.0,
                "report": report,
            },
        )()

    retrain.proceed = proceed  # type: ignore[attr-defined]
    return retrain


def test_retrain_progress_is_overall_with_time_left_and_cancel_is_never_full(  # type: ignore[no-untyped-def]
    qtbot, tmp_path, monkeypatch
) -> None:
    """Before: the bar showed the batches of one epoch (full at every epoch's end, and at
    100 % after Cancel), with no time left."""
    from musicorg.app import retrain as retrain_mod

    fake = _fake_retrain(pause=0.2)
    monkeypatch.setattr(retrain_mod, "retrain", fake)
    Catalogue(tmp_path / "c.sqlite").close()
    dialog = RetrainDialog(tmp_path / "c.sqlite")
    qtbot.addWidget(dialog)
    dialog.epochs.setValue(3)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.bar.value() == 5, timeout=10000)  # epoch 2, batch 1
    assert dialog.bar.maximum() == 12  # 3 epochs of 4 batches
    assert dialog.bar.text().startswith("4") and "% · " in dialog.bar.text()
    assert dialog.bar.text().endswith(" s left")
    dialog.cancel_button.click()
    fake.proceed.set()
    qtbot.waitUntil(lambda: dialog.start_button.isEnabled(), timeout=10000)
    assert dialog.bar.text() == "Cancelled after epoch 1"
    assert dialog.bar.value() < dialog.bar.maximum()
    assert dialog.status.text().startswith("Cancelled after epoch 1")
    assert dialog.result is None


def test_retrain_recommends_one_model_in_plain_words(qtbot, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Before: raw MSE and silhouette side by side, and no word on which model to keep."""
    base = {"version": "hvae-1", "latent_dim": 32, "active_dims": 12, "k": 6}
    old = {**base, "recon_mse": 0.84, "silhouette": 0.21}
    better = {**base, "version": "user-1", "recon_mse": 0.61, "silhouette": 0.26}
    text, keep_new = recommendation({"old": old, "new": better})
    assert keep_new
    assert text == (
        "Keep the new model: it makes tighter playlists (silhouette 0.21 → 0.26) and fits "
        "your music better (error 0.84 → 0.61)."
    )
    worse = {**better, "silhouette": 0.15}
    text, keep_new = recommendation({"old": old, "new": worse})
    assert not keep_new and text.startswith("Keep the current model: the new one makes looser")
    assert "although it fits your music better" in text
    collapsed = {**better, "active_dims": 2}
    text, keep_new = recommendation({"old": old, "new": collapsed})
    assert not keep_new and "only 2 of its 32 dimensions" in text
    same = {**old, "version": "user-2"}
    assert recommendation({"old": old, "new": same})[0].startswith("Keep the current model")

    # In the dialog: the sentence above the table, and the recommended button is the default.
    from musicorg.app import retrain as retrain_mod

    report = {"n_tracks": 70, "n_sampled": 70, "n_with_lyrics": 0, "old": old, "new": better}
    fake = _fake_retrain(batches=1, pause=0.0, report=report)
    fake.proceed.set()
    monkeypatch.setattr(retrain_mod, "retrain", fake)
    Catalogue(tmp_path / "c.sqlite").close()
    dialog = RetrainDialog(tmp_path / "c.sqlite")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.epochs.setValue(2)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=60000)
    assert dialog.advice.isVisible()
    assert dialog.advice.text().startswith("Keep the new model: it makes tighter playlists")
    assert dialog.use_button.isDefault() and not dialog.keep_button.isDefault()
    assert dialog.bar.text() == "Done: 2 epochs"


def test_train_from_scratch_keeps_an_epoch_count_the_user_typed(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Before: ticking "Train from scratch" always set 40 epochs (and unticking 10)."""
    from musicorg.app import retrain as retrain_mod

    assert DEFAULT_EPOCHS == {
        False: retrain_mod.DEFAULT_EPOCHS_FINETUNE,
        True: retrain_mod.DEFAULT_EPOCHS_SCRATCH,
    }
    dialog = RetrainDialog(Path("unused.sqlite"))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.epochs.value() == 10
    dialog.scratch.setChecked(True)
    assert dialog.epochs.value() == 40  # the default follows while untouched
    dialog.scratch.setChecked(False)
    assert dialog.epochs.value() == 10
    dialog.epochs.lineEdit().selectAll()
    qtbot.keyClicks(dialog.epochs, "25")
    assert dialog.epochs.value() == 25
    dialog.scratch.setChecked(True)
    assert dialog.epochs.value() == 25
    dialog.scratch.setChecked(False)
    assert dialog.epochs.value() == 25


# --- plain words in the settings --------------------------------------------------------------


def test_settings_speak_plainly_and_check_lengths_as_typed(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Before: "kmeans", "agglomerative", "dbscan" as they are stored, and "playlist length
    must satisfy 1 <= min <= max" only after OK."""
    dialog = SettingsDialog(settings_mod.Settings(cluster_method="agglomerative"))
    qtbot.addWidget(dialog)
    dialog.show()
    shown = {dialog.method.itemData(i): dialog.method.itemText(i) for i in range(3)}
    assert shown == {
        "kmeans": "Even playlists (K-Means)",
        "agglomerative": "Nested groups (agglomerative)",
        "dbscan": "Dense areas only (DBSCAN)",
    }
    assert set(CLUSTER_CHOICES) == set(settings_mod.CLUSTER_METHODS)
    for i in range(3):  # a line on what each does, on the item and under the box
        assert len(str(dialog.method.itemData(i, Qt.ItemDataRole.ToolTipRole))) > 30
    assert dialog.method_note.text() == CLUSTER_CHOICES["agglomerative"][1]
    dialog.method.setCurrentIndex(dialog.method.findData("dbscan"))
    assert dialog.method_note.text() == CLUSTER_CHOICES["dbscan"][1]
    assert dialog.result_settings().cluster_method == "dbscan"  # the stored value is the same

    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isEnabled()
    dialog.pl_min.setValue(50)
    dialog.pl_max.setValue(15)
    note = dialog.length_note.text()
    assert note.startswith("The minimum length (50 tracks) cannot be more than the maximum")
    assert "<" not in note and "=" not in note
    assert not ok.isEnabled()
    dialog.pl_max.setValue(60)
    assert ok.isEnabled() and "cannot" not in dialog.length_note.text()
    words = " ".join(w.text() for w in dialog.findChildren(type(dialog.length_note)))
    assert "<=" not in words and "kmeans" not in words and "dbscan" not in words


# --- minimum sizes ------------------------------------------------------------------------------


def test_at_800_by_560_the_sidebar_keeps_its_width(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Before: at 800×560 the playlists sidebar shrank to about 60 px, and the window could
    not be narrower than the welcome page's text."""
    open_synthetic(qtbot, window, tmp_path, 30)
    window.resize(800, 560)
    qtbot.waitUntil(lambda: window.width() == 800 and window.height() == 560, timeout=5000)
    qtbot.wait(50)
    assert window.sidebar.width() >= 180
    assert window.tabs.width() >= 250  # the table keeps room too
    low = window.minimumSize()
    assert 0 < low.width() <= 800 and 0 < low.height() <= 560
    squeezed = [
        f"{type(w).__name__} {w.objectName()}"
        for w in window.findChildren(QWidget)
        if w.isVisible() and w.sizeHint().width() > 0 and (w.width() == 0 or w.height() == 0)
    ]
    assert squeezed == []


# --- the keyboard shortcuts page --------------------------------------------------------------


def test_keyboard_shortcuts_page_lists_every_shortcut_by_menu(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Before: no page listed the keyboard shortcuts."""
    (action,) = [a for a in window.actions() if a.text() == "Keyboard shortcuts"]
    assert [k.toString() for k in action.shortcuts()] == ["F1", "Ctrl+/"]
    every = [k.toString() for a in window.actions() for k in a.shortcuts() if not k.isEmpty()]
    assert len(every) == len(set(every))  # no key is taken twice
    qtbot.keyClick(window, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: bool(window.findChildren(ShortcutsDialog)), timeout=5000)
    (dialog,) = window.findChildren(ShortcutsDialog)
    rows = dialog.rows()
    assert ("File", "Choose music folder…", "Ctrl+O") in rows
    assert ("Library", "Rescan", "F5") in rows
    assert ("Help", "Keyboard shortcuts", "F1 or Ctrl+/") in rows
    listed = {text for _group, text, _keys in rows}
    with_keys = {a.text() for a in window.actions() if not a.shortcut().isEmpty()}
    assert with_keys <= listed
    groups = [g for g, _rows in dialog.groups]
    assert groups[0] == "File" and groups[-2:] == ["Help", "Map"]
    # The map's own keys and its mouse keys, under "Map".
    assert ("Map", "Fit all", "F or Home") in rows and ("Map", "Reset", "0") in rows
    assert ("Map", "Add to the selection (lasso, rectangle, click)", "Shift") in rows
    assert dialog.tree.topLevelItemCount() == len(groups)
    dialog.close()
    # Read from the actions each time: a new one shows the next time the page opens.
    extra = window.menuBar().actions()[0].menu().addAction("Something new")
    extra.setShortcut(QKeySequence("Ctrl+Shift+Y"))
    assert any(("Something new", "Ctrl+Shift+Y") in rows for _g, rows in shortcut_groups(window))


# --- item 10: the smaller things --------------------------------------------------------------


def _analysed(db: Path) -> Catalogue:
    """A synthetic catalogue that looks fully analysed with the bundled model."""
    cat, _ids = synthetic_library(db, 12, version=bundled_version())
    keys = [f"key{i:05d}" for i in range(12)]
    with cat.begin() as conn:
        for key in keys:
            conn.execute(
                insert(Analysis).values(
                    content_key=key,
                    features_version=FEATURES_VERSION,
                    features=b"",
                    shape="39x130",
                    created_at=time.time(),
                )
            )
    return cat


def test_no_empty_analysis_at_each_start(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Before: every start ran the analysis in a new process, which said "Analysing 0
    tracks…" under a busy bar while it loaded the model for nothing."""
    cat = _analysed(tmp_path / "done.sqlite")
    assert not analysis_due(cat)
    cat.close()
    texts: list[str] = []
    jobs: list[Any] = []

    def added(job: Any) -> None:
        jobs.append(job)
        job.progressed.connect(lambda _d, _t, text: texts.append(text))

    window.runner.job_added.connect(added)
    with settled(qtbot, window):
        window.open_library(tmp_path / "done.sqlite", [], rescan=False)
    started = time.monotonic()
    with qtbot.waitSignal(window.pipeline_finished, timeout=60000) as blocker:
        window.pipeline.run(["analyse"])
    assert blocker.args == ["ok"]
    (analysis,) = [j for j in jobs if j.name == "analyse"]
    assert analysis.state == "done" and analysis.result is None
    assert not any(t.startswith("Analysing") for t in texts)
    assert "Analysing" not in window.message_label.text()
    assert time.monotonic() - started < 5  # no process, no model loaded
    # Something to do again: the analysis is due.
    assert analysis_due(window.cat) is False
    window.cat.set_meta("active_model", "user-20990101-000000")  # not installed
    assert analysis_due(window.cat)


def test_problems_title_follows_the_table_down_to_none(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Before: "Problems (1)" stayed over an empty table once the problem was gone."""
    open_synthetic(qtbot, window, tmp_path, 6)
    bad = os.fsencode("/nowhere/music/broken.mp3")
    with window.cat.begin() as conn:
        problems.note(conn, "scan", [problems.ProblemNote(bad, "not audio", "junk", 10, 1)])
    with settled(qtbot, window):
        window.reload()
    assert window.problems.table.rowCount() == 1
    assert window.problems_dock.windowTitle() == "Problems (1)"
    with window.cat.begin() as conn:
        problems.forget(conn, "scan", [bad])
    with settled(qtbot, window):
        window.reload()
    assert window.problems.table.rowCount() == 0
    assert window.problems_dock.windowTitle() == "Problems"


def test_window_title_names_the_library_not_the_catalogue(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Before: "musicorg — /home/…/library.sqlite"."""
    cat, _ids = synthetic_library(tmp_path / "lib.sqlite", 6)
    cat.close()
    music = tmp_path / "My Music"
    music.mkdir()
    with settled(qtbot, window):
        window.open_library(tmp_path / "lib.sqlite", [str(music)], rescan=False)
    assert window.windowTitle() == "My Music — musicorg"
    assert window.about_info()["Library"] == str(tmp_path / "lib.sqlite")  # the path is here
    with settled(qtbot, window):
        window.open_library(paths.demo_db_path(), [str(paths.demo_dir())], demo=True, rescan=False)
    assert window.windowTitle() == "Demo library — musicorg"
    assert recent.library_name(["/a/Music", "/b/Jazz", "/c/Folk"]) == "Music and 2 more folders"


def _menu_texts(qtbot, monkeypatch, window, item) -> list[str]:  # type: ignore[no-untyped-def]
    from musicorg.gui import sidebar

    shown: list[list[str]] = []

    class Recording(QMenu):  # shows nothing: says what it would have offered
        def exec(self, *_args: Any) -> None:  # type: ignore[override]
            shown.append([a.text() for a in self.actions()])

    monkeypatch.setattr(sidebar, "QMenu", Recording)
    rect = window.tree.visualItemRect(item)
    window.tree.customContextMenuRequested.emit(QPoint(rect.center()))
    assert shown
    return shown[-1]


def _item_of(window: MainWindow, playlist_id: int) -> Any:
    items = window.tree.items("auto")
    return next(it for it in items if it.data(0, window.tree.ROLE)[1] == playlist_id)


def test_a_playlist_offers_pin_or_unpin_not_both(qtbot, window, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Before: the context menu of an automatic playlist offered Pin and Unpin together."""
    open_synthetic(qtbot, window, tmp_path, 60)
    with qtbot.waitSignal(window.pipeline_finished, timeout=120000):
        window.pipeline.run(["rebuild"])
    qtbot.waitUntil(window.idle, timeout=60000)
    first = next(p for p in window.data.playlists if p.kind == "auto")
    item = _item_of(window, first.id)
    texts = _menu_texts(qtbot, monkeypatch, window, item)
    assert "Pin (keep through re-clustering)" in texts and "Unpin" not in texts
    with settled(qtbot, window):
        window.sidebar.pin_playlist(first.id)
    item = _item_of(window, first.id)
    texts = _menu_texts(qtbot, monkeypatch, window, item)
    assert "Unpin" in texts and "Pin (keep through re-clustering)" not in texts


def test_recent_libraries_bring_back_a_library_after_the_demo(  # type: ignore[no-untyped-def]
    qtbot, window, tmp_path, monkeypatch
) -> None:
    """Before: the only way back from the demo was to choose the music folder again."""
    assert recent.remembered([str(i) for i in range(8)], "new") == ["new", *map(str, range(7))]
    assert recent.remembered(["a", "b", "c"], "b") == ["b", "a", "c"]
    for name in ("one", "two"):
        cat, _ids = synthetic_library(tmp_path / f"{name}.sqlite", 6)
        cat.close()
    one, two = (str((tmp_path / f"{n}.sqlite").absolute()) for n in ("one", "two"))
    with settled(qtbot, window):
        window.open_library(Path(one), None, rescan=False)
    with settled(qtbot, window):
        window.open_library(paths.demo_db_path(), [str(paths.demo_dir())], demo=True, rescan=False)
    assert settings_mod.load().recent_libraries == [recent.DEMO, one]
    # File → Recent libraries lists them, newest first; the open one is greyed.
    file_menu = window.menuBar().actions()[0].menu()
    (sub,) = [a.menu() for a in file_menu.actions() if a.menu() is not None]
    assert sub.title() == "Recent libraries"
    sub.aboutToShow.emit()
    entries = [a for a in sub.actions() if a.text().startswith("&")]
    assert [a.text() for a in entries] == ["&1 Demo library", "&2 one"]
    assert not entries[0].isEnabled() and entries[1].isEnabled()
    assert entries[1].toolTip() == one
    monkeypatch.setattr(window.pipeline, "rescan", lambda: None)  # no stages: not the point
    with settled(qtbot, window):
        entries[1].trigger()  # back from the demo, on its own folders
    assert window.cat is not None and str(window.cat.path.absolute()) == one
    assert not window.demo and window.windowTitle() == "one — musicorg"
    assert settings_mod.load().recent_libraries == [one, recent.DEMO]
    # The demo entry opens the demo the usual way; a vanished catalogue leaves the list.
    opened: list[bool] = []
    monkeypatch.setattr(window, "open_demo", lambda: opened.append(True))
    window.recent.open(recent.DEMO)
    assert opened == [True]
    with settled(qtbot, window):
        window.open_library(Path(two), None, rescan=False)
    with settled(qtbot, window):
        window.open_library(Path(one), None, rescan=False)
    assert settings_mod.load().recent_libraries == [one, two, recent.DEMO]
    Path(two).unlink()
    window.recent.open(two)
    assert two not in settings_mod.load().recent_libraries
    assert "no longer there" in window.message_label.text()


def test_unmatched_import_entries_are_listed(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Before: "250 entries matched no catalogued track" flashed in the status bar, and which
    ones was only in the log."""
    open_synthetic(qtbot, window, tmp_path, 6)
    lines = ["#EXTM3U", "/nowhere/music/track00000.flac", "/nowhere/music/track00001.flac"]
    for i in range(250):
        lines += [f"#EXTINF:100,Someone - Song {i}", f"/elsewhere/song{i:03d}.mp3"]
    playlist = tmp_path / "mixed.m3u8"
    playlist.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with settled(qtbot, window):
        window.sidebar.import_m3u(str(playlist))
    qtbot.waitUntil(lambda: bool(window.findChildren(UnmatchedDialog)), timeout=10000)
    (dialog,) = window.findChildren(UnmatchedDialog)
    shown = dialog.lines()
    assert len(shown) == MAX_SHOWN == 200
    assert shown[0] == "line 5: /elsewhere/song000.mp3  (Someone - Song 0)"
    assert dialog.label.text().startswith("250 of the 252 entries of the playlist matched no")
    assert "The first 200 are listed" in dialog.label.text()
