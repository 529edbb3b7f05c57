"""Garbage collection that does not freeze the window.

A collection walks the container objects it covers; with a 100,000-track library loaded, and
while a background read holds 100,000 fresh row objects, even a young-generation pass can take
a few hundred milliseconds, during which no thread (the UI thread included) runs Python. The
app therefore freezes what start-up created (never scanned again), turns automatic collection
off, and collects from a timer on the UI thread when no background work is running (nothing
transient is alive then, so a young pass takes milliseconds), with a full collection at most
every few minutes. While jobs run, only a rare young pass keeps cyclic garbage bounded.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

YOUNG_EVERY_MS = 1000
_installed = False  # whether install() runs this process's collections
FULL_EVERY_S = 300.0
BUSY_EVERY_S = 60.0


def install(parent: QObject, idle: Callable[[], bool]) -> QTimer:
    """Apply the policy for the life of PARENT; IDLE says when a full collection may run."""
    global _installed
    gc.collect()
    gc.freeze()
    gc.disable()
    _installed = True
    last_full = [time.monotonic()]
    last_any = [time.monotonic()]

    def collect() -> None:
        now = time.monotonic()
        if idle():
            if now - last_full[0] >= FULL_EVERY_S:
                gc.collect()
                last_full[0] = now
            else:
                gc.collect(1)
            last_any[0] = now
        elif now - last_any[0] >= BUSY_EVERY_S:
            gc.collect(0)
            last_any[0] = now

    timer = QTimer(parent)
    timer.setInterval(YOUNG_EVERY_MS)
    timer.timeout.connect(collect)
    timer.start()
    parent.destroyed.connect(lambda *_a: gc.enable())
    return timer


def adopt() -> None:
    """What is alive now is the library just shown (100,000 rows of arrays and lists): move it
    out of the collector's sight, as start-up's objects are, so that the next young or full
    pass does not walk it on the UI thread (a pass over a fresh 100,000-track read took 90 to
    310 ms). Cheap: no collection runs. A frozen object is still freed when its last
    reference goes; only a cycle among frozen objects would wait (the reads make none).
    Nothing happens where the policy is not installed (tests, scripts)."""
    if _installed:
        gc.freeze()
