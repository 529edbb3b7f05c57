"""What every long stage shares: a progress callback and a cancel flag, and pauses that let the
window run beside it.

Stages are plain functions of the catalogue. They report through ``progress(done, total, text)``
and check ``cancel()`` between units of work; on cancel they raise :class:`Cancelled` after
leaving the catalogue consistent (everything committed so far stays, nothing half-written).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

ProgressFn = Callable[[int, int, str], None]
CancelFn = Callable[[], bool]


class Cancelled(Exception):
    """The user asked a stage to stop; the work done so far is kept."""


def no_progress(_done: int, _total: int, _text: str) -> None:
    return None


def never() -> bool:
    return False


class CancelToken:
    """A thread-safe cancel flag that can be passed where a CancelFn is expected."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set()


def check(cancel: CancelFn) -> None:
    if cancel():
        raise Cancelled()


def paused(parts: Iterable[T]) -> Iterator[T]:
    """``parts`` one by one, with a pause after each that lets the other threads run.

    For work on a whole big library in a worker thread while the window (another thread)
    must stay responsive. One C call over a million values (a fetch of every row, a list made
    an array, a million rows freed, a sort of strings) holds the GIL from start to end, and
    the window waits that long: 50-500 ms. Done a slice at a time, with ``time.sleep(0)``
    between slices, the window gets the GIL back after each one."""
    for part in parts:
        yield part
        time.sleep(0)
