"""Opening a catalogue that was not closed cleanly (the app was killed): its ``quick_check``
reads the whole file, so it runs in a worker while the window says it is checking, and nothing
can write to the catalogue before it is done (issue 19: the UI thread never waits on I/O). A
check that finds damage leads to the same recovery as before. A real catalogue, its clean
mark removed; a real damaged copy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from musicorg.gui import dialogs, opening
from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.opening import CHECKING
from musicorg.gui.player import NullPlayer
from musicorg.jobs import Cancelled
from musicorg.store import safety
from musicorg.store.db import Catalogue, clean_mark, closed_cleanly
from tests.latent_fixtures import add_tracks

N = 300


class Checks:
    """Which thread each opening check of a catalogue ran on (the real check runs too)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.threads: list[threading.Thread] = []
        check = Catalogue._check

        def recorded(cat: Catalogue, *args: Any, **kwargs: Any) -> None:
            if cat._mark_seen is None:  # not closed cleanly: the check reads the file
                self.threads.append(threading.current_thread())
            check(cat, *args, **kwargs)

        monkeypatch.setattr(Catalogue, "_check", recorded)

    def off_the_ui_thread(self) -> bool:
        return bool(self.threads) and threading.main_thread() not in self.threads


def killed_library(tmp_path: Path) -> Path:
    """A catalogue of N tracks, left as a killed app leaves it: without its clean mark."""
    db = tmp_path / "lib.sqlite"
    cat = Catalogue(db)
    add_tracks(cat, np.random.default_rng(0).normal(size=(N, 8)).astype(np.float32))
    cat.close()
    clean_mark(db).unlink()
    assert not closed_cleanly(db)
    return db


@pytest.fixture
def window(qtbot: Any) -> Iterator[MainWindow]:
    w = MainWindow(player=NullPlayer(), audio_backend="null")
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def test_the_check_after_an_unclean_shutdown_runs_in_a_worker(
    qtbot: Any, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = killed_library(tmp_path)
    checks = Checks(monkeypatch)
    window.open_library(db, [], rescan=True)
    # The window says what it is doing; the catalogue is not there to write to yet.
    assert window.status_label.text() == CHECKING
    assert window.cat is None and not window.idle()
    assert not window.toolbar.isEnabled()
    qtbot.waitUntil(lambda: len(window.data.snap) == N and window.idle(), timeout=60000)
    assert checks.off_the_ui_thread() and len(checks.threads) == 1
    assert window.cat is not None and window.cat.checked and window.toolbar.isEnabled()
    assert window.model.rowCount() == N and CHECKING not in window.status_label.text()
    window.close()
    assert closed_cleanly(db)  # checked, healthy, closed: the next start checks nothing


def test_a_damaged_catalogue_found_by_the_worker_is_recovered_as_before(
    qtbot: Any, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = killed_library(tmp_path)
    safety.rotate_backups(db, every_s=0)
    raw = bytearray(db.read_bytes())
    size = int.from_bytes(raw[16:18], "big")  # the page size, from the file's header
    middle = len(raw) // size // 2
    raw[middle * size : (middle + 3) * size] = b"\xa5" * (3 * size)  # pages past the header
    db.write_bytes(bytes(raw))
    asked: list[str] = []

    def ask_damaged(_parent: object, _db: Path, message: str, _good: object) -> str:
        asked.append(message)
        return "restore"

    monkeypatch.setattr(dialogs, "ask_damaged", ask_damaged)
    checks = Checks(monkeypatch)
    window.open_library(db, [], rescan=False)
    assert window.status_label.text() == CHECKING and window.cat is None and not asked
    qtbot.waitUntil(lambda: len(window.data.snap) == N and window.idle(), timeout=60000)
    assert len(asked) == 1 and "damaged" in asked[0] and "malformed" in asked[0]
    assert checks.off_the_ui_thread()
    assert window.cat is not None and window.cat.integrity_ok()


def test_a_check_cut_short_leaves_the_catalogue_as_it_was(
    qtbot: Any, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = killed_library(tmp_path)
    before = db.read_bytes()
    with pytest.raises(Cancelled):
        opening.open_catalogue(db, cancel=lambda: True)
    assert db.read_bytes() == before and not closed_cleanly(db)  # checked again next time
    # Cancelled from the jobs panel while it checks: the window goes back to its start.
    go = threading.Event()
    check = Catalogue._check

    def held(cat: Catalogue, *args: Any, **kwargs: Any) -> None:
        go.wait(30)
        check(cat, *args, **kwargs)

    monkeypatch.setattr(Catalogue, "_check", held)
    window.open_library(db, [], rescan=False)
    (job,) = window.runner.running("open")
    job.cancel()
    go.set()
    qtbot.waitUntil(window.idle, timeout=60000)
    assert job.state == "cancelled" and window.cat is None
    assert window.stack.currentWidget() is window.welcome
    assert window.message_label.text() == "The library was not opened."
    assert db.read_bytes() == before and not closed_cleanly(db)
    monkeypatch.setattr(Catalogue, "_check", check)
    # Another library opened while the check runs: the window shows that one.
    (tmp_path / "other").mkdir()
    other = killed_library(tmp_path / "other")
    window.open_library(db, [], rescan=False)
    window.open_library(other, [], rescan=False)  # before the first check is done
    qtbot.waitUntil(lambda: len(window.data.snap) == N and window.idle(), timeout=60000)
    assert window.cat is not None and window.cat.path == other
