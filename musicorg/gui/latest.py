"""Work of which only the last request counts, done in a worker thread: the map's frame of the
data and colouring last asked for, the table's rows for the search last typed.

One worker thread at a time. A request made while it runs waits; when several wait, only the
last one runs. A result reaches the UI thread (its callback) only when no request was made
after it, so what is shown is always what was asked for last, never an older answer landing
late. The work must not touch Qt widgets: it gets its arguments and returns a value."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal


class Latest(QObject):
    """Runs ``fn(*args)`` of the last :meth:`submit` in a worker named ``name`` and hands its
    result to ``on_result`` on the UI thread; an error it raises is raised there instead."""

    _landed = Signal(int, object, bool)

    def __init__(self, parent: QObject, name: str, on_result: Callable[[Any], None]) -> None:
        super().__init__(parent)
        self.name = name
        self.on_result = on_result
        self._number = 0  # of the last request
        self._pending: tuple[int, Callable[..., Any], tuple[Any, ...]] | None = None
        self._working = False
        self._landed.connect(self._land)

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` next; whatever was asked before is dropped."""
        self._number += 1
        self._pending = (self._number, fn, args)
        if not self._working:
            self._start()

    def drop(self) -> None:
        """Forget what was asked: nothing asked so far will land (e.g. it was done at once)."""
        self._number += 1
        self._pending = None

    def busy(self) -> bool:
        """Whether a request is running or waiting."""
        return self._working or self._pending is not None

    def _start(self) -> None:
        request, self._pending = self._pending, None
        if request is None:
            return
        self._working = True
        threading.Thread(target=self._work, args=request, name=self.name, daemon=True).start()

    def _work(self, number: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            result, failed = fn(*args), False
        except Exception as error:  # raised on the UI thread, as an error there would be
            result, failed = error, True
        with contextlib.suppress(RuntimeError):  # the owner is gone
            self._landed.emit(number, result, failed)

    def _land(self, number: int, result: Any, failed: bool) -> None:
        self._working = False
        current = number == self._number
        self._start()  # the request made meanwhile, if any
        if not current:
            return
        if failed:
            raise result
        self.on_result(result)
