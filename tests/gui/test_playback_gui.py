"""Playback in the window, on the null output device: the now-playing bar, the queue, the
current track marked in the table and on the map, the Plays/Last played/Skips columns, the
message when there is no output or it goes away, the volume kept between runs, and the MPRIS
adaptor (with the cover's URL). Real files, the real session."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

import soundfile as sf
from mutagen.flac import FLAC, Picture
from PySide6.QtCore import QBuffer, QIODevice, Qt, QUrl
from PySide6.QtDBus import QDBusConnection
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from musicorg import settings as settings_mod
from musicorg.app import actions
from musicorg.app.covers import cover_art, covers_dir
from musicorg.gui import dialogs
from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.menus import track_menu
from musicorg.gui.mpris import NO_TRACK, Mpris, track_path
from musicorg.gui.playcontrol import BACK, LOST, NO_DEVICE
from musicorg.gui.player import NullPlayer
from musicorg.gui.snapshot import COLUMNS
from musicorg.playback import player as player_mod
from musicorg.store import library
from musicorg.store.db import Catalogue
from tests.conftest import DATA
from tests.latent_fixtures import add_tracks
from tests.playback.test_player import Socket

#: Four real excerpts (8 s each) and a short tone (2 s: a play counts after 1 s).
FILES = [
    ("kevin_macleod_vibe_ace.flac", "Vibe Ace", "Kevin MacLeod"),
    ("muldjord_chaos_god.flac", "Chaos God", "Muldjord"),
    ("parapraxis_digital_pursuit.mp3", "Digital Pursuit", "Parapraxis"),
    ("westlund_legends_of_the_north.ogg", "Legends of the North", "Westlund"),
    ("short.wav", "Short Tone", "Test Signal"),
]
XY = np.array([(0.0, 0.0), (5.0, 1.0), (2.0, 6.0), (7.0, 7.0), (9.0, 3.0)])


def column(key: str) -> int:
    return [k for k, _h in COLUMNS].index(key)


def make_library(tmp_path: Path) -> tuple[Path, list[int]]:
    """A catalogue of the files above, copied into a music folder (one with a cover)."""
    music = tmp_path / "music"
    music.mkdir()
    paths, durations = [], []
    for name, _title, _artist in FILES:
        dest = music / name
        if name == "short.wav":
            t = np.arange(2 * 44100) / 44100
            sf.write(dest, 0.5 * np.sin(2 * np.pi * 440 * t), 44100)
            durations.append(2.0)
        else:
            shutil.copy2(DATA / name, dest)
            durations.append(8.0)
        paths.append(str(dest))
    embed_cover(music / FILES[1][0])
    cat = Catalogue(tmp_path / "play.sqlite")
    ids = add_tracks(
        cat,
        np.eye(len(FILES), 8, dtype=np.float32),
        titles=[t for _n, t, _a in FILES],
        artists=[a for _n, _t, a in FILES],
        paths=paths,
        columns={"duration": durations, "album": ["Excerpts"] * len(FILES)},
    )
    cat.close()
    return tmp_path / "play.sqlite", ids


def embed_cover(path: Path) -> None:
    image = QImage(64, 64, QImage.Format.Format_RGB32)
    image.fill(QColor("#2a7fd4"))
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    picture = Picture()
    picture.type, picture.mime, picture.data = 3, "image/png", bytes(buffer.data().data())
    audio = FLAC(path)
    audio.add_picture(picture)
    audio.save()


def open_window(qtbot: Any, db: Path, backend: str) -> MainWindow:
    w = MainWindow(player=NullPlayer(), audio_backend=backend)
    qtbot.addWidget(w)
    w.show()
    w.open_library(db, [], rescan=False)
    qtbot.waitUntil(lambda: len(w.data.snap) == len(FILES) and w.idle(), timeout=20000)
    return w


@pytest.fixture
def lib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[int]]:
    db, ids = make_library(tmp_path)
    monkeypatch.setattr(
        actions, "map_coordinates", lambda cat, *_a: (list(library.track_columns(cat).ids), XY)
    )
    return db, ids


@pytest.fixture
def window(qtbot: Any, lib: tuple[Path, list[int]]) -> Iterator[MainWindow]:
    w = open_window(qtbot, lib[0], "null")
    yield w
    w.close()


def cell(w: MainWindow, track_id: int, key: str, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
    rows = w.model.view_rows_of(w.data.snap.rows_of([track_id]))
    return w.model.data(w.model.index(int(rows[0]), column(key)), role)


def double_click(qtbot: Any, w: MainWindow, track_id: int) -> None:
    row = int(w.model.view_rows_of(w.data.snap.rows_of([track_id]))[0])
    rect = w.table.visualRect(w.model.index(row, 0))
    qtbot.mouseClick(w.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(w.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def said(w: MainWindow) -> str:
    """Everything the window says in its status bar and its bar."""
    bar = w.playing.bar
    return " | ".join(
        [w.status_label.text(), w.message_label.text(), bar.title.full, bar.album.full]
    )


def test_double_click_plays_pause_resume_and_marks_the_track(
    qtbot: Any, window: MainWindow
) -> None:
    w, bar, control = window, window.playing.bar, window.playback
    first = int(w.model.track_id(0))
    assert bar.title.full == "Nothing playing" and bar.play_button.isEnabled()
    double_click(qtbot, w, first)
    qtbot.waitUntil(lambda: bar.position_s >= 1.0, timeout=10000)
    assert control.state == "playing" and control.current_id == first
    info = control.info(first)
    assert info is not None and bar.title.full == f"{info.title} — {info.artist}"
    assert bar.elapsed.text() in ("0:01", "0:02") and bar.total.text() == "0:08"
    assert bar.seek.maximum() == 8000 and bar.seek.value() >= 1000
    # The output device was handed real, audible samples.
    session = control.session
    assert session is not None and session.player.received().audible_frames > 20000
    # The rest of the table follows it in the queue.
    items, index = control.queue()
    assert index == 0 and list(items) == [w.model.track_id(r) for r in range(len(FILES))]
    # The current row is bold with a play icon; the map rings its point.
    assert cell(w, first, "title", Qt.ItemDataRole.FontRole).bold()
    assert cell(w, first, "title", Qt.ItemDataRole.DecorationRole) is not None
    other = int(w.model.track_id(1))
    assert cell(w, other, "title", Qt.ItemDataRole.FontRole) is None
    w.tabs.setCurrentIndex(1)
    row = w.data.snap.row_of(first)
    assert w.map.playing_point() == tuple(XY[row])
    w.tabs.setCurrentIndex(0)
    # Space pauses (the position holds still), Space again resumes.
    w.table.setFocus()
    qtbot.keyClick(w.table, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: control.state == "paused", timeout=5000)
    held = control.position()
    qtbot.wait(300)
    assert control.position() == pytest.approx(held, abs=0.06)
    assert bar.play_button.toolTip() == "Play (Space)"
    qtbot.keyClick(w.table, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: control.state == "playing", timeout=5000)
    qtbot.waitUntil(lambda: control.position() > held + 0.2, timeout=5000)
    # Seek from the bar; volume from the bar.
    bar.seek.setValue(6000)
    bar._seek_released()
    qtbot.waitUntil(lambda: control.position() >= 6.0, timeout=5000)
    bar.volume.setValue(40)
    assert session.volume == pytest.approx(0.4)
    assert "Playing" not in said(w)


def test_queue_order_after_play_next_and_add_to_queue(qtbot: Any, window: MainWindow) -> None:
    w, control = window, window.playback
    a, b, c, d, _short = (int(t) for t in w.data.snap.ids)
    control.play_tracks([a, d])
    qtbot.waitUntil(lambda: control.current_id == a, timeout=5000)
    w.library.select_track_ids([c])
    menu = track_menu(w)
    entries = {act.text(): act for act in menu.actions()}
    assert entries["Play"].isEnabled() and entries["Add to queue"].isEnabled()
    entries["Add to queue"].trigger()
    w.library.select_track_ids([b])
    entries["Play next"].trigger()
    qtbot.waitUntil(lambda: list(control.queue()[0]) == [a, b, d, c], timeout=5000)
    queue = w.queue_dock.view
    assert not w.queue_dock.isVisible()
    w.playing.bar.queue_button.click()
    assert w.queue_dock.isVisible()
    qtbot.waitUntil(lambda: queue.list.count() == 4, timeout=5000)
    assert queue.list.item(0).text().startswith("▶ ")
    assert queue.summary.text() == "3 tracks to come"
    qtbot.waitUntil(lambda: w.playing.bar.queue_button.text() == "Queue (3)", timeout=5000)
    # Ctrl+Right and Ctrl+Left follow the queue's order.
    for want in (b, d, c):
        qtbot.keyClick(w, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda want=want: control.current_id == want, timeout=5000)
    qtbot.keyClick(w, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: control.current_id == d, timeout=5000)
    # The queue view: Del takes the selected coming track out; double-click plays one.
    qtbot.waitUntil(lambda: queue.list.count() == 2, timeout=5000)
    queue.list.setCurrentRow(1)
    qtbot.keyClick(queue.list, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: list(control.queue()[0]) == [a, b, d], timeout=5000)
    control.jump_to(0)
    qtbot.waitUntil(lambda: control.current_id == a, timeout=5000)
    assert w.model.current_view_row() == w.model.view_rows_of(w.data.snap.rows_of([a]))[0]
    queue.clear_button.click()
    qtbot.waitUntil(lambda: control.current_id == 0 and control.state == "stopped", timeout=5000)
    assert queue.summary.text() == "The queue is empty."
    assert cell(w, a, "title", Qt.ItemDataRole.FontRole) is None


def test_play_a_playlist_from_the_sidebar(qtbot: Any, window: MainWindow) -> None:
    w, control = window, window.playback
    ids = [int(t) for t in w.data.snap.ids]
    pid = w.sidebar.new_playlist("Mine", [ids[3], ids[0], ids[2]])
    assert pid is not None
    qtbot.waitUntil(w.idle, timeout=10000)
    w.sidebar.play_playlist(pid)
    qtbot.waitUntil(lambda: control.current_id == ids[3], timeout=5000)
    assert list(control.queue()[0]) == [ids[3], ids[0], ids[2]]


def test_plays_and_skips_show_in_their_columns(
    qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, control = window, window.playback
    a, b, _c, _d, short = (int(t) for t in w.data.snap.ids)
    assert cell(w, a, "skips") == "" and cell(w, short, "plays") == ""
    # "Next" before 10 s is a skip of the track left.
    control.play_tracks([a, b])
    qtbot.waitUntil(lambda: control.current_id == a and control.state == "playing", timeout=5000)
    control.next()
    qtbot.waitUntil(lambda: cell(w, a, "skips") == "1", timeout=10000)
    assert cell(w, a, "plays") == "" and cell(w, b, "skips") == ""
    # The 2-s tone counts as played after 1 s (half its length), then ends.
    control.play_tracks([short])
    qtbot.waitUntil(lambda: cell(w, short, "plays") == "1", timeout=10000)
    assert cell(w, short, "last_played") != ""
    qtbot.waitUntil(lambda: control.current_id == 0, timeout=10000)
    assert w.playing.bar.title.full == "Nothing playing"
    # The columns sort.
    w.table.sortByColumn(column("plays"), Qt.SortOrder.DescendingOrder)
    assert w.model.track_id(0) == short
    w.table.sortByColumn(column("skips"), Qt.SortOrder.DescendingOrder)
    assert w.model.track_id(0) == a
    # Clear the history of the selection (after a confirmation), then of everything.
    asked: list[str] = []
    monkeypatch.setattr(dialogs, "confirm", lambda _p, _t, q: asked.append(q) or True)
    w.library.select_track_ids([a])
    w.playback.clear_history()
    qtbot.waitUntil(lambda: w.idle() and cell(w, a, "skips") == "", timeout=10000)
    assert cell(w, short, "plays") == "1"
    w.playback.clear_history(everything=True)
    qtbot.waitUntil(lambda: w.idle() and cell(w, short, "plays") == "", timeout=10000)
    assert len(asked) == 2 and "every track" in asked[1]


def test_no_output_device_says_so_once_and_disables_play(
    qtbot: Any, lib: tuple[Path, list[int]]
) -> None:
    # WASAPI is Windows' audio system: on Linux it never opens, as on a machine without a
    # sound card.
    if not sys.platform.startswith("linux"):
        pytest.skip("needs an audio backend that cannot open here")
    messages: list[str] = []
    w = MainWindow(player=NullPlayer(), audio_backend="wasapi")
    qtbot.addWidget(w)
    w.show()
    original = w.flash
    w.flash = lambda text, ms=5000: (messages.append(text), original(text, ms))  # type: ignore[method-assign]
    for _ in range(2):  # a second opening says nothing new
        w.open_library(lib[0], [], rescan=False)
        qtbot.waitUntil(lambda: len(w.data.snap) == len(FILES) and w.idle(), timeout=20000)
    assert messages.count(NO_DEVICE) == 1 and w.message_label.text() == NO_DEVICE
    bar, control = w.playing.bar, w.playback
    assert not control.available and not bar.play_button.isEnabled()
    assert bar.title.full == NO_DEVICE and bar.play_button.toolTip() == NO_DEVICE
    actions_ = {a.text(): a for a in w.actions()}
    for name in ("Play/Pause", "Next", "Previous", "Play", "Play next", "Add to queue"):
        assert not actions_[name].isEnabled(), name
    assert not {a.text(): a for a in track_menu(w).actions()}["Play"].isEnabled()
    # Double-click and Space do nothing but say why; nothing ever says "Playing".
    first = int(w.model.track_id(0))
    double_click(qtbot, w, first)
    control.toggle()
    assert control.current_id == 0 and control.state == "stopped"
    assert "Playing" not in said(w)
    assert w.about_info()["Audio output"] == NO_DEVICE
    w.close()


def test_the_volume_is_kept_between_runs(qtbot: Any, lib: tuple[Path, list[int]]) -> None:
    w = open_window(qtbot, lib[0], "null")
    assert w.playback.volume == 1.0 and w.playing.bar.volume.value() == 100
    w.playing.bar.volume.setValue(35)
    assert w.playback.volume == 0.35
    qtbot.waitUntil(lambda: settings_mod.load().volume == 0.35, timeout=5000)  # a moment later
    w.close()
    w = open_window(qtbot, lib[0], "null")
    session = w.playback.session
    assert session is not None and session.volume == 0.35  # what the player plays at
    assert w.playback.volume == 0.35 and w.playing.bar.volume.value() == 35
    w.playing.bar.volume.setValue(80)
    w.close()  # at once: saved on the way out
    assert settings_mod.load().volume == 0.8


def test_an_output_device_that_goes_away_is_said_once_and_play_comes_back(
    qtbot: Any, lib: tuple[Path, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    socket = Socket()  # the null device, behind a plug
    monkeypatch.setattr(player_mod, "open_output", socket)
    monkeypatch.setattr(player_mod, "REOPEN_S", 0.1)
    w = open_window(qtbot, lib[0], "null")
    messages: list[str] = []
    original = w.flash
    w.flash = lambda text, ms=5000: (messages.append(text), original(text, ms))  # type: ignore[method-assign]
    bar, control = w.playing.bar, w.playback
    a = int(w.data.snap.ids[0])
    control.play_tracks([a])
    qtbot.waitUntil(lambda: control.state == "playing" and control.position() >= 0.3, timeout=5000)
    session = control.session
    assert session is not None
    socket.plugged = False
    session.player.halt_output_device()  # as unplugging it does
    qtbot.waitUntil(lambda: not control.available, timeout=5000)
    assert control.state == "stopped" and control.current_id == a
    assert messages == [LOST] and w.message_label.text() == LOST
    assert not bar.play_button.isEnabled() and "went away" in bar.play_button.toolTip()
    assert not {x.text(): x for x in w.actions()}["Play/Pause"].isEnabled()
    qtbot.waitUntil(lambda: socket.tries >= 4, timeout=5000)  # it keeps looking, quietly
    control.toggle()  # Space: plays nothing
    assert control.state == "stopped" and messages.count(LOST) == 1
    assert "Playing" not in said(w)
    socket.plugged = True
    qtbot.waitUntil(lambda: control.available, timeout=5000)
    assert bar.play_button.isEnabled() and messages[-1] == BACK and messages.count(LOST) == 1
    control.toggle()  # the track it was on, again
    qtbot.waitUntil(lambda: control.state == "playing" and control.position() >= 0.2, timeout=5000)
    assert control.current_id == a
    w.close()


def test_the_cover_shows_in_the_bar(qtbot: Any, window: MainWindow) -> None:
    w, bar, control = window, window.playing.bar, window.playback
    a, b = (int(t) for t in w.data.snap.ids[:2])
    control.play_tracks([b, a])  # b has an embedded cover, a has none
    qtbot.waitUntil(bar.has_cover, timeout=10000)
    pixmap = bar.cover.pixmap()
    assert max(pixmap.width(), pixmap.height()) >= 52
    control.next()
    qtbot.waitUntil(lambda: control.current_id == a, timeout=5000)
    assert not bar.has_cover() and bar.cover.text() == "♪"


def test_mpris_adaptor_drives_the_session(qtbot: Any, window: MainWindow) -> None:
    w, control = window, window.playback
    a, b = (int(t) for t in w.data.snap.ids[:2])
    player = w.playing.mpris.object.player
    root = w.playing.mpris.object.root
    assert root.Identity == "musicorg" and root.CanRaise
    assert player.PlaybackStatus == "Stopped"
    assert player.Metadata["mpris:trackid"].path() == NO_TRACK
    w.library.select_track_ids([a])
    player.PlayPause()  # with nothing queued: plays the selection
    qtbot.waitUntil(lambda: control.state == "playing" and control.current_id == a, timeout=5000)
    qtbot.waitUntil(lambda: player.PlaybackStatus == "Playing", timeout=5000)
    meta = player.Metadata
    assert meta["mpris:trackid"].path() == track_path(a)
    assert meta["xesam:title"] == "Vibe Ace" and meta["xesam:artist"] == ["Kevin MacLeod"]
    assert meta["mpris:length"] == 8_000_000 and meta["xesam:url"].startswith("file://")
    assert "mpris:artUrl" not in meta  # a has no cover
    player.SetPosition(type(meta["mpris:trackid"])(track_path(a)), 3_000_000)
    qtbot.waitUntil(lambda: player.Position >= 3_000_000, timeout=5000)
    player.Pause()
    qtbot.waitUntil(lambda: player.PlaybackStatus == "Paused", timeout=5000)
    player.Play()
    qtbot.waitUntil(lambda: player.PlaybackStatus == "Playing", timeout=5000)
    player.Volume = 0.5
    assert control.volume == 0.5 and w.playing.bar.volume.value() == 50
    player.Next()
    qtbot.waitUntil(lambda: control.current_id == b, timeout=5000)
    player.Stop()
    qtbot.waitUntil(lambda: player.PlaybackStatus == "Stopped", timeout=5000)
    # An offscreen window offers no media keys on the session bus (nor fails for want of one).
    assert w.playing.mpris.service is None and not w.playing.mpris.register()


def test_mpris_metadata_has_the_cover_as_a_file(qtbot: Any, window: MainWindow) -> None:
    w, control = window, window.playback
    player = w.playing.mpris.object.player
    a, b = (int(t) for t in w.data.snap.ids[:2])  # b has an embedded cover, a has none
    control.play_tracks([b, a])
    qtbot.waitUntil(lambda: "mpris:artUrl" in player.Metadata, timeout=10000)
    url = player.Metadata["mpris:artUrl"]
    assert url.startswith("file://")
    file = Path(QUrl(url).toLocalFile())
    assert file.parent == covers_dir() and file.suffix == ".png"
    info = control.info(b)
    assert info is not None and file.read_bytes() == cover_art(info.path)
    control.next()
    qtbot.waitUntil(lambda: control.current_id == a, timeout=5000)
    assert "mpris:artUrl" not in player.Metadata
    control.previous()  # the same cover again: the same file
    qtbot.waitUntil(lambda: player.Metadata.get("mpris:artUrl") == url, timeout=10000)
    assert len(list(covers_dir().iterdir())) == 1


@pytest.fixture
def private_bus() -> Iterator[str]:
    """A D-Bus session bus of its own (dbus-daemon), its address."""
    if not shutil.which("dbus-daemon") or not shutil.which("gdbus"):
        pytest.skip("dbus-daemon and gdbus are needed for a private session bus")
    out = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout.split()
    address, pid = out[0], int(out[1])
    try:
        yield address
    finally:
        os.kill(pid, signal.SIGTERM)


def test_mpris_on_a_session_bus(qtbot: Any, window: MainWindow, private_bus: str) -> None:
    w, control = window, window.playback
    conn = QDBusConnection.connectToBus(private_bus, "musicorg-test")
    assert conn.isConnected()
    mpris = Mpris(control, w, conn)
    try:
        assert mpris.register() and mpris.service == "org.mpris.MediaPlayer2.musicorg"
        env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": private_bus}

        def gdbus(*args: str) -> str:
            proc = subprocess.Popen(
                ["gdbus", "call", "--session", "-d", mpris.service or "", "-o",
                 "/org/mpris/MediaPlayer2", *args],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            qtbot.waitUntil(lambda: proc.poll() is not None, timeout=10000)
            out, err = proc.communicate()
            assert proc.returncode == 0, err
            return out

        w.library.select_track_ids([int(w.data.snap.ids[0])])
        gdbus("-m", "org.mpris.MediaPlayer2.Player.PlayPause")
        qtbot.waitUntil(lambda: control.state == "playing", timeout=5000)
        status = gdbus(
            "-m", "org.freedesktop.DBus.Properties.Get", "org.mpris.MediaPlayer2.Player",
            "PlaybackStatus",
        )  # fmt: skip
        assert "Playing" in status
        meta = gdbus(
            "-m", "org.freedesktop.DBus.Properties.Get", "org.mpris.MediaPlayer2.Player",
            "Metadata",
        )  # fmt: skip
        assert "Vibe Ace" in meta and track_path(control.current_id) in meta
        gdbus("-m", "org.mpris.MediaPlayer2.Player.Pause")
        qtbot.waitUntil(lambda: control.state == "paused", timeout=5000)
    finally:
        mpris.close()
        QDBusConnection.disconnectFromBus("musicorg-test")
        QApplication.processEvents()
