"""Garbage collection that does not freeze the window.

A collection walks the container objects it covers; with a 100,000-track library loaded, and
while a background read holds 100,000 fresh row objects, even a young-generation pass can take
a few hundred milliseconds, during which no thread (the UI thread included) runs Python. The
app therefore freezes what start-up created (never scanned again), turns automatic collection
off, and collects from a timer on the UI thread when no background work is running (nothing
transient is alive then, so a young pass takes milliseconds), with a full collection at most
every few minutes. While jobs run, only a rare young pass (every ten minutes) keeps cyclic
garbage bounded, and it waits while the young generation is huge (see :data:`BUSY_EVERY_S`
and :data:`BUSY_YOUNG_MAX`).

The policy also shortens the GIL's switch interval (:data:`SWITCH_INTERVAL_S`), so that the
UI thread, which needs the GIL for every call from Qt into Python, waits less behind a worker.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

YOUNG_EVERY_MS = 1000
#: How long a thread that holds the GIL runs on before it offers the GIL to a thread waiting
#: for it (Python's default: 5 ms). Each call from Qt into Python on the UI thread (a slot, a
#: paint, an overridden method) waits for the GIL, and behind a busy worker it waited up to
#: the whole interval, many times in one event. At 100,000 tracks (scripts/bench_gui.py, three
#: A/B pairs) 1 ms cut the longest stall while playing during a scan from 143-454 ms to
#: 88-133 ms, and scans ran as fast; 0.5 ms did no better.
SWITCH_INTERVAL_S = 0.001
_installed = False  # whether install() runs this process's collections
_switch_before: float | None = None  # the switch interval install() replaced
FULL_EVERY_S = 300.0
#: While jobs run, a young pass at most this often. A young pass walks every reference of the
#: fresh containers a job holds, not only the objects: at a million tracks the playlists'
#: words job's dictionary of a million songs made one pass over 157,674 young objects take
#: 0.49 s of the UI thread (0.33 s of CPU). Every ten minutes keeps the cycles a long job
#: makes (an analysis runs for hours) bounded; a load or the words job at a million tracks
#: (1-3 minutes) ends first, and the idle passes after it are short.
BUSY_EVERY_S = 600.0
#: While jobs run, the young pass also waits while the young generation holds more objects
#: than this (a pass over 200,000 small ones takes 10-30 ms; at a million tracks a load holds
#: millions, and a pass over them froze the window for 0.3 to 2.4 s). A job's objects are
#: freed by their reference counts as it ends, or adopted with what it read (:func:`adopt`),
#: and the idle passes take over.
BUSY_YOUNG_MAX = 200_000
#: The longest the young pass waits for a huge young generation while jobs run: past it, the
#: pass runs anyway (one long pause in half an hour of such work), so that cyclic garbage
#: stays bounded however long a job holds its objects.
BUSY_DEFER_MAX_S = 1800.0


def install(parent: QObject, idle: Callable[[], bool]) -> QTimer:
    """Apply the policy for the life of PARENT; IDLE says when a full collection may run."""
    global _installed, _switch_before
    gc.collect()
    gc.freeze()
    gc.disable()
    _installed = True
    if _switch_before is None:
        _switch_before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
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
        elif now - last_any[0] >= BUSY_EVERY_S and (
            gc.get_count()[0] <= BUSY_YOUNG_MAX or now - last_any[0] >= BUSY_DEFER_MAX_S
        ):
            gc.collect(0)
            last_any[0] = now

    timer = QTimer(parent)
    timer.setInterval(YOUNG_EVERY_MS)
    timer.timeout.connect(collect)
    timer.start()
    parent.destroyed.connect(lambda *_a: uninstall())
    return timer


def uninstall() -> None:
    """Back to Python's own policy (the window is gone): automatic collection, and the
    switch interval there was before."""
    global _installed, _switch_before
    gc.enable()
    _installed = False
    if _switch_before is not None:
        sys.setswitchinterval(_switch_before)
        _switch_before = None


def adopt() -> None:
    """What is alive now is the library just shown (100,000 rows of arrays and lists): move it
    out of the collector's sight, as start-up's objects are, so that the next young or full
    pass does not walk it on the UI thread (a pass over a fresh 100,000-track read took 90 to
    310 ms). Cheap: no collection runs. A frozen object is still freed when its last
    reference goes; only a cycle among frozen objects would wait (the reads make none).
    Nothing happens where the policy is not installed (tests, scripts)."""
    if _installed:
        gc.freeze()
