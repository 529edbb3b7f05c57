"""The window's writing stages wait for another musicorg process that holds the catalogue's
write lock (issue 17, item 5): in the worker (or the stage's own process), never the UI thread,
saying for whom in the status bar, and the job's cancel stops the wait."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.player import NullPlayer
from musicorg.store import library
from tests.store.test_writelock import held_elsewhere


@pytest.fixture
def window(qtbot, tmp_path: Path, music: Path):  # type: ignore[no-untyped-def]
    w = MainWindow(player=NullPlayer())
    qtbot.addWidget(w)
    w.show()
    w.open_library(tmp_path / "cat.sqlite", [str(music)], rescan=False)
    qtbot.waitUntil(w.idle, timeout=20000)
    yield w
    w.close()


def _waiting_line(db: Path, pid: int) -> str:
    return f"Waiting for musicorg scan (pid {pid}) to finish writing {db}…"


def test_a_scan_waits_for_the_other_process_then_runs(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "cat.sqlite"
    with held_elsewhere(db) as child:
        window.pipeline.run(["scan"])
        line = _waiting_line(db, child.pid)
        qtbot.waitUntil(lambda: window.message_label.text() == line, timeout=10000)
        qtbot.wait(600)  # several polls: still waiting, the window still answers
        assert window.runner.running("scan") and window.message_label.text() == line
        assert window.cat is not None and library.tracks(window.cat) == []
    with qtbot.waitSignal(window.pipeline_finished, timeout=60000) as done:
        pass
    assert done.args == ["ok"]
    assert window.cat is not None and len(library.tracks(window.cat)) > 0


@pytest.mark.parametrize("stage", ["scan", "analyse"])
def test_cancel_stops_the_wait(qtbot, window, tmp_path, stage) -> None:  # type: ignore[no-untyped-def]
    """The scan waits in a worker thread, the analysis in its own process: cancel reaches
    both."""
    db = tmp_path / "cat.sqlite"
    with held_elsewhere(db) as child:
        window.pipeline.run([stage])
        line = _waiting_line(db, child.pid)
        qtbot.waitUntil(lambda: window.message_label.text() == line, timeout=60000)
        with qtbot.waitSignal(window.pipeline_finished, timeout=20000) as done:
            window.pipeline.cancel_jobs()
        assert done.args == ["cancelled"]
        assert child.poll() is None  # the other process still holds it, untouched
