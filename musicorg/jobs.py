"""What every long stage shares: a progress callback and a cancel flag.

Stages are plain functions of the catalogue. They report through ``progress(done, total, text)``
and check ``cancel()`` between units of work; on cancel they raise :class:`Cancelled` after
leaving the catalogue consistent (everything committed so far stays, nothing half-written).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

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
