"""The jobs strip in the status bar: a job starting must not change the window's layout."""

from __future__ import annotations

import threading

from musicorg.gui.mainwindow import MainWindow


def test_a_starting_job_does_not_grow_the_status_bar(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """The status bar is as tall before the first job as with one: when it grew, the middle
    of the window shrank and the whole window (a 100k-track table with it) was laid out and
    painted again as a scan began (a ~90 ms stall)."""
    window.resize(1280, 800)
    qtbot.wait(50)
    bar = window.statusBar()
    before = bar.height()
    central = window.centralWidget()
    assert central is not None
    middle = central.height()
    release = threading.Event()

    def job(_progress, _cancel) -> None:  # type: ignore[no-untyped-def]
        release.wait(10)

    window.runner.submit("scan", job)
    qtbot.waitUntil(lambda: window.jobs_panel.widget_for("scan") is not None)
    qtbot.wait(50)
    try:
        shown = window.jobs_panel.widget_for("scan")
        assert shown is not None and shown.isVisible()
        assert bar.height() == before
        assert central.height() == middle
    finally:
        release.set()
    qtbot.waitUntil(lambda: window.jobs_panel.widget_for("scan") is None)
