"""An audio output device that appears after the window started without one (a USB headset
plugged in, a sound server started late): the player finds it by itself, Play comes on, and
the window says so once (issue 18). The null device behind a plug, real files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.playcontrol import FOUND, NO_DEVICE
from musicorg.playback import player as player_mod
from tests.gui.test_playback_gui import FILES, make_library, open_window, said
from tests.playback.test_player import Socket


def test_a_device_plugged_in_later_turns_play_on(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    socket = Socket()  # the null device, unplugged at the start
    socket.plugged = False
    monkeypatch.setattr(player_mod, "open_output", socket)
    monkeypatch.setattr(player_mod, "PROBE_S", 0.1, raising=False)
    messages: list[str] = []
    flash = MainWindow.flash

    def said_once_more(self: MainWindow, text: str, ms: int = 5000) -> None:
        messages.append(text)
        flash(self, text, ms)

    monkeypatch.setattr(MainWindow, "flash", said_once_more)
    db, _ids = make_library(tmp_path)
    w = open_window(qtbot, db, "null")
    bar, control = w.playing.bar, w.playback
    assert not control.available and not bar.play_button.isEnabled()
    assert messages == [NO_DEVICE] and bar.title.full == NO_DEVICE
    qtbot.waitUntil(lambda: socket.tries >= 3, timeout=5000)  # it keeps looking, quietly
    assert not bar.play_button.isEnabled() and messages == [NO_DEVICE]
    socket.plugged = True
    qtbot.waitUntil(bar.play_button.isEnabled, timeout=5000)
    assert control.available and messages == [NO_DEVICE, FOUND]
    assert w.message_label.text() == FOUND and NO_DEVICE not in said(w)
    assert {a.text(): a for a in w.actions()}["Play/Pause"].isEnabled()
    assert w.about_info()["Audio output"] == "Null"
    first = int(w.data.snap.ids[0])
    control.play_tracks([first])  # and it plays
    qtbot.waitUntil(lambda: control.state == "playing" and control.position() >= 0.2, timeout=5000)
    assert control.current_id == first and len(w.data.snap) == len(FILES)
    w.close()
