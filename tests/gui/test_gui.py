"""The desktop app, driven through its real widgets (offscreen), over real catalogues."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtWidgets import QDialog, QFileDialog

from musicorg import paths
from musicorg import settings as settings_mod
from musicorg.app import actions
from musicorg.gui import dialogs
from musicorg.gui.librarydata import xy_per_row
from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.player import CommandPlayer, NullPlayer
from musicorg.gui.snapshot import Snapshot
from musicorg.gui.tablemodel import TRACK_IDS_MIME, encode_ids
from musicorg.keys import ACTIVE_MODEL_KEY, FEATURES_VERSION
from musicorg.model import registry as model_registry
from musicorg.store import library
from musicorg.store.db import Catalogue, Track
from tests.conftest import audio_files
from tests.latent_fixtures import add_tracks
from tests.tag_fixtures import probs, store_tags

VERSION = "gui-test-v1"


BUNDLED_MODEL = paths.models_dir() / model_registry.bundled_version()
needs_model = pytest.mark.skipif(
    not BUNDLED_MODEL.is_dir(), reason="the bundled model is not built"
)


@contextmanager
def settled(qtbot, window: MainWindow) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Do something, then wait until every job and reload it started has landed."""
    yield
    qtbot.waitUntil(window.idle, timeout=60000)


def load_snapshot(cat: Catalogue) -> Snapshot:
    return Snapshot.build(library.track_columns(cat))


def synthetic_library(
    path: Path, n: int = 60, seed: int = 0, version: str = VERSION
) -> tuple[Catalogue, list[int]]:
    """Tracks in three clear clusters, with embeddings of a fake active model version."""
    rng = np.random.default_rng(seed)
    centres = np.eye(3, 8, dtype=np.float32) * 6
    genres = ["Rock", "Jazz", "Folk"]
    vectors = np.array(
        [centres[i % 3] + rng.normal(0, 0.3, 8).astype(np.float32) for i in range(n)]
    )
    cat = Catalogue(path)
    ids = add_tracks(
        cat,
        vectors,
        artists=[f"Artist {i % 7}" for i in range(n)],
        titles=[f"Song {i:03d}" for i in range(n)],
        keys=[f"key{i:05d}" for i in range(n)],
        missing=[i == n - 1 for i in range(n)],
        version=version,
        paths=[f"/nowhere/music/track{i:05d}.flac" for i in range(n)],
        columns={
            "duration": [120.0 + i for i in range(n)],
            "album": [f"Album {i % 3}" for i in range(n)],
            "genre": [genres[i % 3] for i in range(n)],
            "year": [1970 + (i % 5) * 10 for i in range(n)],
        },
    )
    return cat, ids


def open_synthetic(qtbot, window: MainWindow, tmp_path: Path, n: int = 60) -> list[int]:  # type: ignore[no-untyped-def]
    cat, ids = synthetic_library(tmp_path / "syn.sqlite", n)
    cat.close()
    with settled(qtbot, window):
        window.open_library(tmp_path / "syn.sqlite", [], rescan=False)
    return ids


# --- the snapshot (no widgets) ----------------------------------------------------------------


def test_snapshot_sort_filter_scope(tmp_path: Path) -> None:
    cat, ids = synthetic_library(tmp_path / "c.sqlite", 30)
    snap = load_snapshot(cat)
    assert len(snap) == 30
    assert list(snap.ids) == sorted(ids)
    rows = snap.view("jazz")
    assert len(rows) == 10 and all(snap.cols["genre"][r] == "Jazz" for r in rows)
    rows = snap.view("song 01 jazz")  # every word must match
    assert {snap.cols["title"][r] for r in rows} == {
        "Song 001",
        "Song 010",
        "Song 013",
        "Song 016",
        "Song 019",
    }
    rows = snap.view(sort_key="year", descending=True)
    years = snap.cols["year"][rows]
    assert list(years) == sorted(years, reverse=True)
    scope = snap.rows_of([ids[5], ids[2], ids[9]])
    assert list(snap.ids[snap.view(scope=scope)]) == [ids[5], ids[2], ids[9]]
    assert snap.rows_of([10**9]).size == 0
    assert len(Snapshot.empty().view("x")) == 0
    cat.close()


def test_map_coordinates_join_by_track_id(tmp_path: Path) -> None:
    cat, ids = synthetic_library(tmp_path / "c.sqlite", 6)
    snap = load_snapshot(cat)
    placed = [ids[4], ids[0], ids[2], 10**9]  # in any order; an unknown track is left out
    xy = xy_per_row(snap, placed, np.array([(4.0, -4.0), (0.0, 0.0), (2.0, -2.0), (9.0, 9.0)]))
    assert xy is not None
    assert np.isfinite(xy).all(axis=1).sum() == 3
    assert tuple(xy[2]) == (2.0, -2.0) and tuple(xy[4]) == (4.0, -4.0)
    assert xy_per_row(snap, [], np.zeros((0, 2))) is None
    cat.close()


def scan_then_stop(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """Let the scan of the pipeline about to start run, and cancel the analysis that follows
    it as soon as it starts (the analysis is tested on its own)."""

    def added(job) -> None:  # type: ignore[no-untyped-def]
        if job.name == "analyse":
            job.cancel()
            window.runner.job_added.disconnect(added)

    window.runner.job_added.connect(added)


# --- first run, scan, problems, settings ------------------------------------------------------


def test_first_run_choose_folder_scans_and_lists_problems(qtbot, window, music, monkeypatch):  # type: ignore[no-untyped-def]
    assert window.stack.currentWidget() is window.welcome
    (music / "broken.mp3").write_bytes(b"this is not audio at all" * 40)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(music))
    window.settings.device = "cpu"
    scan_then_stop(qtbot, window)
    with qtbot.waitSignal(window.pipeline_finished, timeout=240000) as blocker:
        qtbot.mouseClick(window.welcome.folder_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["cancelled"]
    qtbot.waitUntil(lambda: len(window.data.snap) == len(audio_files()), timeout=20000)
    assert window.stack.currentWidget() is window.tabs
    assert window.model.rowCount() == len(audio_files())
    # The broken file is a row in the problems panel, not a dialog.
    rows = window.problems.rows()
    assert any(r[0] == "scan" and r[2].endswith("broken.mp3") for r in rows)
    # The folder is remembered for the next start, and nothing was written into it.
    saved = settings_mod.load()
    assert saved.music_folders == [str(music)]
    assert not any(p.suffix in (".m3u8", ".sqlite") for p in music.rglob("*"))

    # Search (Ctrl+F focuses the box), then the filter applies to the table.
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(window.library.search, "chaos")
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    window.library.search.clear()
    qtbot.waitUntil(lambda: window.model.rowCount() == len(audio_files()), timeout=5000)

    # A second window (next start) reopens the same library without the welcome page.
    again = MainWindow(player=NullPlayer())
    qtbot.addWidget(again)
    scan_then_stop(qtbot, again)
    with qtbot.waitSignal(again.pipeline_finished, timeout=240000):
        assert again.restore_last()
    assert again.stack.currentWidget() is again.tabs
    qtbot.waitUntil(lambda: len(again.data.snap) == len(audio_files()), timeout=20000)
    again.close()


def test_cancel_mid_analysis(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    music = tmp_path / "many"
    music.mkdir()
    src = audio_files()
    for i in range(24):
        shutil.copy(src[i % len(src)], music / f"{i:02d}-{src[i % len(src)].name}")
        # distinct content for each copy so that every file needs its own analysis
        with open(music / f"{i:02d}-{src[i % len(src)].name}", "ab") as fh:
            fh.write(bytes([i]) * (i + 1))
    with qtbot.waitSignal(window.pipeline_finished, timeout=120000):
        window.open_library(tmp_path / "c.sqlite", [str(music)], rescan=False)
        window.pipeline.run(["scan"])
    with qtbot.waitSignal(window.runner.job_added, timeout=5000):
        window.pipeline.run(["analyse", "playlists", "map"])
    job = window.runner.running("analyse")[0]
    qtbot.waitUntil(lambda: job.done >= 1, timeout=120000)
    widget = window.jobs_panel.widget_for("analyse")
    assert widget is not None
    with qtbot.waitSignal(window.pipeline_finished, timeout=60000) as blocker:
        qtbot.mouseClick(widget.cancel_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["cancelled"]
    assert job.state == "cancelled"
    assert not window.runner.running("analyse")
    # What was analysed before the cancel is kept.
    from musicorg.analyse.analysis import _pending_features

    assert 0 < len(_pending_features(window.cat)) < 24


def test_settings_round_trip(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    dialog = window.open_settings()
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.pl_min.setValue(5)
    dialog.pl_max.setValue(15)
    dialog.method.setCurrentIndex(dialog.method.findData("agglomerative"))
    dialog.token.setText("secret-token")
    dialog.export_dir.setText(str(tmp_path / "out"))
    dialog.export_absolute.setChecked(True)
    dialog.folders.add_folder(str(tmp_path))
    dialog.accept()
    saved = settings_mod.load()
    assert (saved.device, saved.playlist_min, saved.playlist_max) == ("cpu", 5, 15)
    assert saved.cluster_method == "agglomerative"
    assert saved.genius_token == "secret-token"
    assert saved.export_dir == str(tmp_path / "out") and saved.export_absolute
    assert saved.music_folders == [str(tmp_path)]
    assert oct(paths.settings_path().stat().st_mode & 0o777) == "0o600"
    # Shown again as saved; an invalid length is refused in the dialog.
    dialog = window.open_settings()
    assert dialog.pl_min.value() == 5 and dialog.token.text() == "secret-token"
    dialog.pl_min.setValue(50)
    dialog.accept()
    assert dialog.isVisible() and "min" in dialog.error.text()
    dialog.reject()
    assert settings_mod.load().playlist_min == 5
    window.close_library()


# --- playlists, map, details, external player (synthetic embeddings) ---------------------


def test_user_playlist_create_edit_drop_reorder(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    ids = open_synthetic(qtbot, window, tmp_path)
    window.library.select_track_ids(ids[:3])
    with settled(qtbot, window):
        pid = window.sidebar.new_playlist("Evening", None)
    assert pid is not None
    assert window.tree.select_key(("user", pid))
    assert [window.model.track_id(r) for r in range(window.model.rowCount())] == ids[:3]
    # Drag tracks in: the tree takes our mime type onto a user playlist.
    mime = QMimeData()
    mime.setData(TRACK_IDS_MIME, encode_ids([ids[10], ids[11]]))
    with settled(qtbot, window):
        window.tree.drop_mime(pid, mime)
    assert window.model.rowCount() == 5
    # Reorder: move the first down; remove the (new) first.
    window.library.select_track_ids([ids[0]])
    with settled(qtbot, window):
        window.sidebar.move_selected(1)
    order = [window.model.track_id(r) for r in range(window.model.rowCount())]
    assert order == [ids[1], ids[0], ids[2], ids[10], ids[11]]
    window.library.select_track_ids([ids[1]])
    with settled(qtbot, window):
        window.sidebar.remove_selected()
    order = [window.model.track_id(r) for r in range(window.model.rowCount())]
    assert order == [ids[0], ids[2], ids[10], ids[11]]
    # Rows dragged within the table (a user playlist in its own order) reorder it.
    assert window.table.reorderable
    with settled(qtbot, window):
        window.table.rows_moved.emit([0, 1], 4)
    order = [window.model.track_id(r) for r in range(window.model.rowCount())]
    assert order == [ids[10], ids[11], ids[0], ids[2]]
    assert window.library.selected_track_ids() == [ids[0], ids[2]]
    with settled(qtbot, window):
        window.sidebar.rename_playlist(pid, "user", "Late evening")
    assert any(p.name == "Late evening" for p in window.data.playlists)
    # Dragging out gives file URLs that other apps accept.
    mime = window.model.mimeData([window.model.index(0, 0)])
    assert mime.urls()[0].toLocalFile().endswith(".flac")
    with settled(qtbot, window):
        window.sidebar.delete_playlist(pid)
    assert not [p for p in window.data.playlists if p.kind == "user"]


def test_map_points_lasso_rect_to_playlist(qtbot, window, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    # Coordinates as the map stage gives them: track ids and (N, 2), three clusters.
    xy = np.array([(float(i % 3 * 10 + i % 5), float(i % 7 - i % 3 * 5)) for i in range(60)])
    monkeypatch.setattr(
        actions, "map_coordinates", lambda cat, *_a: (list(library.track_columns(cat).ids), xy)
    )
    ids = open_synthetic(qtbot, window, tmp_path, 60)
    snap = window.data.snap
    assert window.map.point_count() == len(ids)
    window.map.set_colour_mode("genre")
    assert set(window.map.legend_names) == {"Rock", "Jazz", "Folk"}
    window.map.set_colour_mode("year")
    assert window.map.legend_names[0] == "1970s"
    # Rectangle around cluster 0.
    with qtbot.waitSignal(window.library.results_shown, timeout=5000):
        rows = window.map.select_rect(-1, -1, 5, 7)
    assert len(rows) == 20 and window.model.rowCount() == 20
    assert len(window.library.selected_track_ids()) == 20
    assert len(window.map.selected_rows) == 20
    # Lasso around cluster 1.
    poly = [(9, -6), (15, -6), (15, 2), (9, 2)]
    with qtbot.waitSignal(window.library.results_shown, timeout=5000):
        rows = window.map.select_polygon(poly)
    assert len(rows) == 20
    with settled(qtbot, window):
        pid = window.sidebar.save_results("Picked")
    assert pid is not None
    saved = next(p for p in window.data.playlists if p.id == pid)
    assert sorted(saved.track_ids) == sorted(int(snap.ids[r]) for r in rows)
    # A click on a point selects its track in the table.
    window.sidebar.show_library()
    window.map._clicked(type("P", (), {"x": lambda s: 0.0, "y": lambda s: 0.0})())
    assert window.library.selected_track_ids() == [int(snap.ids[0])]
    # Hover names the track; the missing track is greyed on the map (its own legend entry).
    assert window.map.hover_text(0) == snap.label(0)
    assert "(missing)" in window.map.hover_text(len(snap) - 1)


def test_more_like_this_from_details_pane(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    ids = open_synthetic(qtbot, window, tmp_path, 60)
    window.library.select_track_ids([ids[0]])
    qtbot.waitUntil(lambda: window.details.near.count() > 0, timeout=10000)
    with qtbot.waitSignal(window.library.results_shown, timeout=10000):
        qtbot.mouseClick(window.details.more_button, Qt.MouseButton.LeftButton)
    shown = [window.model.track_id(r) for r in range(window.model.rowCount())]
    assert shown[0] == ids[0] and len(shown) > 5
    # Its neighbours come from the same cluster (ids with the same index mod 3).
    assert all(ids.index(t) % 3 == 0 for t in shown[1:10])
    with settled(qtbot, window):
        pid = window.sidebar.save_results("Like song 0")
    assert any(p.id == pid and p.size == len(shown) for p in window.data.playlists)
    # Path from one cluster to another.
    with qtbot.waitSignal(window.library.results_shown, timeout=10000):
        window.details_dock.path_to(ids[0], ids[1])
    path = [window.model.track_id(r) for r in range(window.model.rowCount())]
    assert path[0] == ids[0] and path[-1] == ids[1]


def test_open_in_external_player(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    player = CommandPlayer([sys.executable, "-c", "import time; time.sleep(60)"], "sleeper")
    w = MainWindow(player=player, audio_backend="null")
    qtbot.addWidget(w)
    w.show()
    ids = open_synthetic(qtbot, w, tmp_path, 6)
    action = next(a for a in w.actions() if a.text() == "Open in external player")
    assert action.isEnabled() and "sleeper" in action.toolTip()
    w.library.select_track_ids([ids[0]])
    action.trigger()
    assert player.playing()
    assert player.current is not None and player.current.endswith("track00000.flac")
    assert w.message_label.text() == "Opened Artist 0 – Song 000 in sleeper."
    proc = player.proc
    # The missing track is not opened (and the one before is left alone).
    w.library.select_track_ids([ids[-1]])
    action.trigger()
    assert "missing" in w.message_label.text() and player.proc is proc
    w.close()
    assert proc is not None and proc.poll() is not None


def test_without_an_external_player_the_option_is_off(window):  # type: ignore[no-untyped-def]
    action = next(a for a in window.actions() if a.text() == "Open in external player")
    assert not action.isEnabled() and "install mpv" in action.toolTip()
    window.details_dock.open_external()  # nothing selected, nothing said
    assert "Playing" not in window.message_label.text()


def test_about_and_log_folder(qtbot, window, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    open_synthetic(qtbot, window, tmp_path, 6)
    dialog = window.show_about()
    text = dialog.label.text()
    assert VERSION in text and "Tracks" in text
    assert "MusiCNN" in text and "Pons" in text and "ISC" in text
    dialog.close()
    opened = []
    monkeypatch.setattr("PySide6.QtGui.QDesktopServices.openUrl", lambda url: opened.append(url))
    window.open_log_folder()
    assert opened and opened[0].toLocalFile() == str(paths.log_dir())


# --- the whole pipeline on real audio (needs the bundled model) -------------------------------


@needs_model
@pytest.mark.slow
def test_full_pipeline_playlists_map_export(qtbot, window, music, tmp_path):  # type: ignore[no-untyped-def]
    window.settings.device = "cpu"
    with qtbot.waitSignal(window.pipeline_finished, timeout=600000) as blocker:
        window.choose_music_folder(str(music))
    assert blocker.args == ["ok"]
    n = len(audio_files())
    assert len(window.data.snap) == n
    autos = [p for p in window.data.playlists if p.kind == "auto"]
    assert autos, "automatic playlists appear in the tree"
    assert window.tree.items("auto")
    assert window.map.point_count() == n


# --- the real playlist and map stages on synthetic embeddings ---------------------------------


def test_playlists_map_selection_edit_export_import(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    ids = open_synthetic(qtbot, window, tmp_path, 60)
    with qtbot.waitSignal(window.pipeline_finished, timeout=120000) as blocker:
        window.pipeline.run(["rebuild", "remap"])
    assert blocker.args == ["ok"]
    qtbot.waitUntil(window.idle, timeout=60000)
    qtbot.waitUntil(
        lambda: bool([p for p in window.data.playlists if p.kind == "auto"]), timeout=20000
    )
    autos = [p for p in window.data.playlists if p.kind == "auto"]
    # The tree shows group -> playlists, apart from "My playlists".
    auto_items = window.tree.items("auto")
    assert len(auto_items) == len(autos)
    assert all(it.parent().parent() is window.tree.auto_root for it in auto_items)
    # One point per track; the missing one is drawn too, greyed.
    assert window.map.point_count() == len(ids)
    window.map.set_colour_mode("group")
    assert 1 <= len(window.map.legend_names) <= 20
    # Select everything left of the middle of the map with a rectangle -> a new playlist.
    xy = window.map.xy[window.map.rows]
    mid = float(np.median(xy[:, 0]))
    lo_y, hi_y = float(xy[:, 1].min()) - 1, float(xy[:, 1].max()) + 1
    with qtbot.waitSignal(window.library.results_shown, timeout=5000):
        rows = window.map.select_rect(float(xy[:, 0].min()) - 1, lo_y, mid, hi_y)
    assert 0 < len(rows) < len(ids)
    with settled(qtbot, window):
        pid = window.sidebar.save_results("Left half")
    assert pid is not None
    # Edit it: add one track, then open it and export it.
    with settled(qtbot, window):
        window.sidebar.add_to_playlist(pid, [ids[0]])
    window.tree.select_key(("user", pid))
    n = window.model.rowCount()
    assert n == len(rows) + 1
    out = tmp_path / "export"
    with settled(qtbot, window):
        window.sidebar.export(folder=str(out))
    files = list(out.glob("*.m3u8"))
    assert [f.name for f in files] == ["Left half.m3u8"]
    text = files[0].read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    # A missing track the selection caught stays in the playlist but is not exported.
    from musicorg.store import userlists

    available = sum(i.available for i in userlists.items(window.cat, pid))
    assert sum(line.startswith("#EXTINF:") for line in lines) == available
    assert lines[-1].endswith(".flac") and "\\" not in text
    # And back in as a new user playlist.
    with settled(qtbot, window):
        window.sidebar.import_m3u(str(files[0]))
    imported = [p for p in window.data.playlists if p.kind == "user" and p.id != pid]
    assert len(imported) == 1 and imported[0].size == available


def test_rename_and_pin_survive_recluster(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    open_synthetic(qtbot, window, tmp_path, 90)
    with qtbot.waitSignal(window.pipeline_finished, timeout=120000):
        window.pipeline.run(["rebuild"])
    qtbot.waitUntil(
        lambda: bool([p for p in window.data.playlists if p.kind == "auto"]), timeout=20000
    )
    first = next(p for p in window.data.playlists if p.kind == "auto")
    with settled(qtbot, window):
        window.sidebar.rename_playlist(first.id, "auto", "My favourite corner")
    with settled(qtbot, window):
        window.sidebar.pin_playlist(first.id)
    members = sorted(first.track_ids)
    dialog = window.open_settings()
    dialog.method.setCurrentIndex(dialog.method.findData("agglomerative"))
    with qtbot.waitSignal(window.pipeline_finished, timeout=120000) as blocker:
        dialog.accept()
    assert blocker.args == ["ok"]
    qtbot.waitUntil(
        lambda: any(p.name == "My favourite corner" for p in window.data.playlists), timeout=20000
    )
    kept = next(p for p in window.data.playlists if p.name == "My favourite corner")
    assert kept.pinned and sorted(kept.track_ids) == members
    assert any("📌" in it.text(0) for it in window.tree.items("auto"))


def test_menu_shortcuts(window):  # type: ignore[no-untyped-def]
    shortcuts = {a.text(): a.shortcut().toString() for a in window.actions()}
    assert shortcuts["Export playlist as M3U8…"] == "Ctrl+E"
    assert shortcuts["Rescan"] == "F5"
    assert shortcuts["Play/Pause"] == "Space"
    assert shortcuts["Next"] == "Ctrl+Right"
    assert shortcuts["Previous"] == "Ctrl+Left"
    # Each shortcut belongs to one action.
    keys = [a.shortcut().toString() for a in window.actions() if not a.shortcut().isEmpty()]
    assert len(keys) == len(set(keys))
    assert shortcuts["Search"] == "Ctrl+F"


def test_demo_library_from_the_welcome_page(qtbot, window):  # type: ignore[no-untyped-def]
    demo = sorted(p for p in paths.demo_dir().iterdir() if p.suffix in (".opus", ".ogg", ".mp3"))
    if not demo:
        pytest.skip("the demo library is not built")
    scan_then_stop(qtbot, window)
    with qtbot.waitSignal(window.pipeline_finished, timeout=240000):
        qtbot.mouseClick(window.welcome.demo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(window.idle, timeout=60000)
    assert len(window.data.snap) == len(demo)
    assert window.cat is not None and window.cat.path == paths.demo_db_path()
    assert settings_mod.load().last_library == "demo"
    # The demo's own lyrics show with their source in the details pane.
    snap = window.data.snap
    with_lyrics = [int(snap.ids[r]) for r in range(len(snap)) if snap.has_lyrics[r]]
    assert with_lyrics
    window.library.select_track_ids(with_lyrics[:1])
    assert "source:" in window.details.text.toHtml()


@needs_model
@pytest.mark.slow
def test_smoke_mode_on_the_demo(tmp_path):  # type: ignore[no-untyped-def]
    import subprocess

    shot = tmp_path / "smoke.png"
    proc = subprocess.run(
        [sys.executable, "-m", "musicorg.cli", "--smoke", "--demo", "--screenshot", str(shot)],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "smoke:" in proc.stdout and shot.stat().st_size > 10000


def test_relocate_a_moved_folder_from_the_settings(qtbot, window, music, tmp_path):  # type: ignore[no-untyped-def]
    scan_then_stop(qtbot, window)
    with qtbot.waitSignal(window.pipeline_finished, timeout=240000):
        window.choose_music_folder(str(music))
    qtbot.waitUntil(window.idle, timeout=60000)
    ids = sorted(int(t) for t in window.data.snap.ids)
    moved = tmp_path / "moved-music"
    music.rename(moved)
    dialog = window.open_settings()
    dialog.folders.list.setCurrentRow(0)
    dialog.folders.relocate_selected(str(moved))
    scan_then_stop(qtbot, window)
    with qtbot.waitSignal(window.pipeline_finished, timeout=240000):
        dialog.accept()
    qtbot.waitUntil(window.idle, timeout=60000)
    snap = window.data.snap
    # Same tracks (same ids: their analyses stay), now under the new folder, none missing.
    assert sorted(int(t) for t in snap.ids) == ids
    assert all(str(p).startswith(str(moved)) for p in snap.cols["path"])
    assert not snap.missing.any()
    assert settings_mod.load().music_folders == [str(moved)]


def test_retrain_dialog_opens_from_the_library_menu(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    pytest.importorskip("musicorg.gui.retrain_dialog")
    open_synthetic(qtbot, window, tmp_path, 6)
    action = next(a for a in window.actions() if a.text().startswith("Retrain"))
    action.trigger()
    dialogs = [d for d in window.findChildren(QDialog) if d.isVisible()]
    assert any(type(d).__name__ == "RetrainDialog" for d in dialogs)
    for d in dialogs:
        d.reject()
    qtbot.waitUntil(window.idle, timeout=60000)


@needs_model
def test_revert_to_the_bundled_model_is_one_click(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    open_synthetic(qtbot, window, tmp_path, 6)
    window.cat.set_meta(ACTIVE_MODEL_KEY, "user-20260101-000000")
    action = next(a for a in window.actions() if a.text() == "Revert to the bundled model")
    with qtbot.waitSignal(window.pipeline_finished, timeout=120000):
        action.trigger()
    qtbot.waitUntil(window.idle, timeout=120000)
    assert window.cat.get_meta(ACTIVE_MODEL_KEY) == model_registry.bundled_version()
    assert window.data.model_version == model_registry.bundled_version()


def register_copy(version: str, damage: str | None = None) -> None:
    """The bundled model, copied and registered as the retrained ``version``; then, with
    ``damage``, its weights altered ("tampered") or made a model of older features."""
    # lazy: musicorg.model.bundle imports torch (2 s), for the tests that need a model only
    from musicorg.model.bundle import write_manifest

    folder = paths.user_models_dir() / version
    shutil.copytree(BUNDLED_MODEL, folder)
    config = folder / "config.json"
    meta = json.loads(config.read_text("utf-8"))
    meta["version"] = version
    if damage == "other features":
        meta["features_version"] = FEATURES_VERSION - 1
    config.write_text(json.dumps(meta), "utf-8")
    manifest = write_manifest(folder, version)
    model_registry.register(version, {"manifest_sha256": manifest, "created": time.time()})
    if damage == "tampered":
        weights = bytearray((folder / "model.safetensors").read_bytes())
        weights[len(weights) // 2] ^= 0xFF
        (folder / "model.safetensors").write_bytes(bytes(weights))


@needs_model
@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("tampered", "does not match its manifest and is refused"),
        ("other features", "was trained on audio features of version"),
    ],
)
def test_a_refused_model_leaves_the_previous_one_active(  # type: ignore[no-untyped-def]
    qtbot, window, tmp_path, damage, reason
):
    previous, refused = "user-20250101-000001", "user-20250101-000002"
    register_copy(previous)
    register_copy(refused, damage)
    cat, _ids = synthetic_library(tmp_path / "syn.sqlite", 30, version=previous)
    cat.close()
    with settled(qtbot, window):
        window.open_library(tmp_path / "syn.sqlite", [], rescan=False)
    assert window.data.model_version == previous
    with qtbot.waitSignal(window.pipeline_finished, timeout=120000) as blocker:
        window.pipeline.switch_model(refused)
    qtbot.waitUntil(window.idle, timeout=60000)
    assert blocker.args[0].startswith("model failed") and reason in blocker.args[0]
    # The previous model stays active, in the catalogue and in the window...
    assert window.cat.get_meta(ACTIVE_MODEL_KEY) == previous
    assert window.data.model_version == previous
    assert f"model {previous}" in window.status_label.text()
    # ...and the reason is shown: in the status bar, and as a row of the problems panel.
    assert reason in window.message_label.toolTip()
    assert any(r[0] == "model" and reason in r[3] for r in window.problems.rows())


def test_model_versions_dialog_opens_from_the_library_menu(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    open_synthetic(qtbot, window, tmp_path, 6)
    window.cat.set_meta("active_model", model_registry.bundled_version())
    action = next(a for a in window.actions() if a.text() == "Model versions…")
    action.trigger()
    (dialog,) = [d for d in window.findChildren(QDialog) if type(d).__name__ == "ModelsDialog"]
    qtbot.waitUntil(lambda: len(dialog.models) == 1, timeout=60000)
    assert dialog.table.item(0, 0).text() == model_registry.bundled_version()
    assert dialog.table.item(0, 4).text() == "active"
    assert "bundled model only" in dialog.status.text()
    dialog.table.selectRow(0)
    assert not dialog.use_button.isEnabled() and not dialog.delete_button.isEnabled()
    dialog.reject()
    qtbot.waitUntil(window.idle, timeout=60000)


def test_analysis_says_when_the_active_model_is_no_longer_installed(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    open_synthetic(qtbot, window, tmp_path, 6)
    window.cat.set_meta("active_model", "user-20250101-000000")
    with qtbot.waitSignal(window.pipeline_finished, timeout=120000):
        window.pipeline.run(["analyse"])
    assert window.message_label.text().startswith(
        "The model user-20250101-000000 that this catalogue used is no longer installed; "
        "using the bundled model"
    )


def _damaged_library(music: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """A scanned catalogue with a user playlist (mirrored) and a backup, then clobbered."""
    from musicorg.ingest import scanner
    from musicorg.store import safety, userlists

    db = tmp_path / "lib.sqlite"
    with Catalogue(db) as cat:
        scanner.scan(cat, [music])
        ids = [r.id for r in library.tracks(cat)]
        userlists.create(cat, "Keep me", ids[:3])
        titles = [i.title for i in userlists.items(cat, userlists.find(cat, "Keep me").id)]
    safety.rotate_backups(db, every_s=0)
    raw = bytearray(db.read_bytes())
    raw[0:16] = b"definitely junk!"
    db.write_bytes(bytes(raw))
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return db, [t or "" for t in titles]


@pytest.mark.parametrize("choice", ["restore", "rebuild"])
def test_damaged_catalogue_restore_or_rebuild_keeps_playlists(  # type: ignore[no-untyped-def]
    qtbot, window, music, tmp_path, monkeypatch, choice
):
    from musicorg.store import userlists

    db, titles = _damaged_library(music, tmp_path)
    asked = []
    monkeypatch.setattr(
        dialogs, "ask_damaged", lambda _w, d, m, b: asked.append((d, m, b)) or choice
    )
    if choice == "rebuild":
        scan_then_stop(qtbot, window)
        with qtbot.waitSignal(window.pipeline_finished, timeout=240000):
            window.open_library(db, [str(music)])
    else:
        window.open_library(db, [str(music)], rescan=False)
    qtbot.waitUntil(window.idle, timeout=120000)
    assert asked and "damaged" in asked[0][1] and asked[0][2] is not None
    assert window.cat is not None and window.cat.integrity_ok()
    found = userlists.find(window.cat, "Keep me")
    assert found is not None
    assert [i.title or "" for i in userlists.items(window.cat, found.id)] == titles
    assert list(tmp_path.glob("lib.damaged-*.sqlite"))  # set aside, not deleted


def test_damaged_catalogue_quit_changes_nothing(qtbot, window, music, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    db, _titles = _damaged_library(music, tmp_path)
    before = db.read_bytes()
    monkeypatch.setattr(dialogs, "ask_damaged", lambda _w, d, m, b: "quit")
    window.open_library(db, [str(music)], rescan=False)
    assert window.cat is None and db.read_bytes() == before
    assert not list(tmp_path.glob("lib.damaged-*.sqlite"))


def test_a_track_that_goes_missing_stays_on_the_map_greyed(qtbot, window, tmp_path):  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    ids = open_synthetic(qtbot, window, tmp_path, 40)
    with qtbot.waitSignal(window.pipeline_finished, timeout=120000):
        window.pipeline.run(["remap"])
    qtbot.waitUntil(window.idle, timeout=60000)
    placed = window.map.point_count()
    assert placed == len(ids)
    gone = ids[0]
    with window.cat.begin() as conn:
        conn.execute(update(Track).where(Track.id == gone).values(missing=True))
    with settled(qtbot, window):
        window.reload()
    assert window.map.point_count() == placed  # still drawn...
    snap = window.map.snap
    row = int(np.flatnonzero(snap.ids == gone)[0])
    assert row in set(int(r) for r in window.map.rows)
    assert snap.missing[row]  # ...and drawn as missing (grey)
    assert "(missing)" in window.map.hover_text(row)


# --- the tags MusiCNN hears ----------------------------------------------------------------


def test_details_show_the_top_tags(qtbot, window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "tags.sqlite"
    cat = Catalogue(path)
    rng = np.random.default_rng(0)
    ids = add_tracks(
        cat,
        rng.normal(0, 1, (6, 8)).astype(np.float32),
        keys=[f"k{i}" for i in range(6)],
        paths=[f"/nowhere/music/track{i}.flac" for i in range(6)],
        columns={"genre": ["Jazz"] * 6},
    )
    store_tags(
        cat,
        {
            "k0": probs(jazz=0.62, instrumental=0.41, Mellow=0.33),
            "k1": probs(),  # tagged, but nothing reaches its threshold
            "k2": None,  # analysed before the tagger
        },
    )
    cat.close()
    window.open_library(path, [], rescan=False)
    qtbot.waitUntil(window.idle, timeout=60000)

    def details(track_id: int) -> str:
        window.library.select_track_ids([track_id])
        qtbot.waitUntil(lambda: window.details.title.text() != "No track selected", timeout=5000)
        return str(window.details.text.toPlainText()).replace("\u00a0", " ")

    text = details(ids[0])
    assert "Sounds like" in text
    assert "Jazz 0.62 · instrumental 0.41 · mellow 0.33" in text
    for other in ids[1:4]:
        assert "Sounds like" not in details(other)
