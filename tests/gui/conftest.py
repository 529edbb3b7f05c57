"""The window most GUI tests drive: the real MainWindow, shown offscreen, with a silent player
and the null audio output. A test module that needs another window (a library opened
first, a real catalogue of its own) defines its own ``window`` fixture, which wins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.player import NullPlayer


@pytest.fixture
def window(qtbot) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    w = MainWindow(player=NullPlayer(), audio_backend="null")
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()
