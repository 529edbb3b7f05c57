"""The catalogue's write lock (issue 17, item 5): one writing process at a time, the others wait
for it and say for whom, or refuse in one line. The lock is held here by a child process (flock
is per process), never raced."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from musicorg.jobs import Cancelled, CancelToken
from musicorg.store import writelock
from musicorg.store.db import CatalogueError

_HOLDER = """
import sys
from musicorg.store import writelock
with writelock.hold(sys.argv[1], "musicorg scan"):
    print("held", flush=True)
    sys.stdin.readline()
"""


@contextmanager
def held_elsewhere(db: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the write lock of ``db`` until the block ends."""
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        yield child
    finally:
        if child.poll() is None:
            assert child.stdin is not None
            child.stdin.write("\n")
            child.stdin.flush()
        child.wait(30)


def test_no_wait_refuses_in_one_line_naming_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "cat.sqlite"
    refused = pytest.raises(writelock.CatalogueLockedError)
    mine = writelock.hold(db, "musicorg analyse", wait=False)
    with held_elsewhere(db) as child, refused as caught, mine:
        pytest.fail("took a lock another process holds")
    message = str(caught.value)
    assert isinstance(caught.value, CatalogueError)
    assert "\n" not in message
    assert message.startswith(f"another musicorg process (musicorg scan, pid {child.pid}, since ")
    assert f"is writing to {db}; try again when it is done, or leave out --no-wait" in message
    assert caught.value.holder is not None and caught.value.holder.pid == child.pid


def test_a_waiting_holder_says_for_whom_once_and_proceeds_when_released(tmp_path: Path) -> None:
    db = tmp_path / "cat.sqlite"
    told: list[str] = []
    entered = threading.Event()

    def second() -> None:
        with writelock.hold(db, "musicorg analyse", on_wait=told.append):
            entered.set()

    with held_elsewhere(db) as child:
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(1.0)
        assert not entered.is_set()  # still waiting, after several polls
        assert told == [f"musicorg scan (pid {child.pid})"]
    waiter.join(10)
    assert entered.is_set() and told == [f"musicorg scan (pid {child.pid})"]
    assert writelock.waiting_text(told[0], db) == (
        f"Waiting for musicorg scan (pid {child.pid}) to finish writing {db}…"
    )


def test_cancel_stops_the_wait(tmp_path: Path) -> None:
    db = tmp_path / "cat.sqlite"
    token = CancelToken()
    with held_elsewhere(db):
        threading.Timer(0.5, token.cancel).start()
        started = time.monotonic()
        with pytest.raises(Cancelled), writelock.hold(db, "musicorg scan", cancel=token):
            pytest.fail("took a lock another process holds")
        assert time.monotonic() - started < 5


def test_the_kernel_releases_the_lock_of_a_killed_process(tmp_path: Path) -> None:
    db = tmp_path / "cat.sqlite"
    with held_elsewhere(db) as child:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        with writelock.hold(db, "musicorg scan", wait=False):
            found = writelock.holder(db)
            assert found is not None and found.pid == os.getpid()  # the dead one's name is gone


def test_reentrant_within_a_process_and_released_by_the_outermost(tmp_path: Path) -> None:
    db = tmp_path / "cat.sqlite"
    shared: list[bool] = []

    def another_thread() -> None:
        with writelock.hold(db, "musicorg map", wait=False):
            shared.append(writelock.held_here(db))

    with writelock.hold(db, "musicorg scan"):
        with writelock.hold(db, "musicorg scan", wait=False):  # the pipeline inside a command
            pass
        assert writelock.held_here(db)  # the inner one did not release it
        thread = threading.Thread(target=another_thread)  # the window's worker threads
        thread.start()
        thread.join(5)
        assert shared == [True]
        found = writelock.holder(db)
        assert found is not None and found.command == "musicorg scan"  # the first one's name
    assert not writelock.held_here(db)
    assert writelock.holder(db) is None  # released: nobody named


def test_the_lock_file_is_private_and_beside_the_catalogue(tmp_path: Path) -> None:
    db = tmp_path / "data" / "cat.sqlite"
    old = os.umask(0)
    try:
        with writelock.hold(db, "musicorg scan"):
            pass
    finally:
        os.umask(old)
    lock = tmp_path / "data" / "cat.sqlite.lock"
    assert writelock.lock_path(db) == lock
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert stat.S_IMODE(lock.parent.stat().st_mode) == 0o700


def test_an_unknown_holder_is_still_a_clear_line(tmp_path: Path) -> None:
    db = tmp_path / "cat.sqlite"
    with held_elsewhere(db):
        writelock.lock_path(db).write_text("not json")  # an old musicorg, or a garbled file
        locked = pytest.raises(
            writelock.CatalogueLockedError, match=r"^another musicorg process is"
        )
        with locked, writelock.hold(db, "musicorg scan", wait=False):
            pass
