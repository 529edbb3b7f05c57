"""``gui.latest.Latest``: work of which only the last request counts, in a worker thread. One
runs at a time; of those asked meanwhile only the last runs next; a result lands on the UI
thread only when nothing was asked after it; an error is raised there; ``drop`` forgets all."""

from __future__ import annotations

import threading
from typing import Any

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QObject

from musicorg.gui.latest import Latest


def test_only_the_last_request_lands_and_the_ones_between_never_run(qtbot: Any) -> None:
    owner = QObject()
    landed: list[Any] = []
    ran: list[int] = []
    gate = threading.Event()
    worker = Latest(owner, "test-latest", landed.append)

    def job(n: int) -> tuple[int, str]:
        if n == 1:
            gate.wait(5)  # the first one works until told to finish
        ran.append(n)
        return n, threading.current_thread().name

    worker.submit(job, 1)
    assert worker.busy()
    for n in (2, 3, 4):  # asked while the first works: only 4 runs next
        worker.submit(job, n)
    gate.set()
    qtbot.waitUntil(lambda: not worker.busy(), timeout=5000)
    assert ran == [1, 4]
    assert landed == [(4, "test-latest")]  # the first one's result was stale: dropped


def test_drop_forgets_what_was_asked(qtbot: Any) -> None:
    owner = QObject()
    landed: list[Any] = []
    gate = threading.Event()
    worker = Latest(owner, "test-latest", landed.append)
    worker.submit(lambda: gate.wait(5) and "late")
    worker.drop()  # e.g. the answer was worked out at once meanwhile
    gate.set()
    qtbot.waitUntil(lambda: not worker.busy(), timeout=5000)
    qtbot.wait(50)
    assert landed == []


def test_an_error_in_the_worker_is_raised_on_the_ui_thread(qtbot: Any) -> None:
    owner = QObject()
    worker = Latest(owner, "test-latest", lambda _r: None)

    def fails() -> None:
        raise ValueError("bad frame")

    with qtbot.captureExceptions() as errors:
        worker.submit(fails)
        qtbot.waitUntil(lambda: not worker.busy(), timeout=5000)
        qtbot.wait(50)
    assert [type(e[1]) for e in errors] == [ValueError]
    assert "bad frame" in str(errors[0][1])
    # It goes on working afterwards.
    landed: list[Any] = []
    worker.on_result = landed.append
    worker.submit(lambda: 7)
    qtbot.waitUntil(lambda: landed == [7], timeout=5000)
