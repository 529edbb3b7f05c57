"""Run a stage in a child process, seen from the GUI as an ordinary stage function.

The analysis and a model switch decode audio and run the model: C code that holds the GIL for
long stretches (and importing torch alone does). In a worker thread that would freeze the
window for a moment now and then; in a child process it cannot. The child opens the catalogue
itself, calls the stage with a progress callback that writes to a pipe and a cancel flag
backed by a shared event, and sends back the stage's result, its ``Cancelled`` or its error.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from musicorg.jobs import CancelFn, Cancelled, ProgressFn
from musicorg.store.db import Catalogue

PROGRESS_EVERY_S = 0.05


class StageProcessError(RuntimeError):
    """The stage failed in its process (the message is the child's error, with its class)."""


def limit_torch_threads(n: int = 1) -> None:
    """Keep the model's CPU threads few while the GUI is up. Torch is not imported for this:
    a torch imported later (in a child too) reads ``OMP_NUM_THREADS``; one already imported is
    told directly."""
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() > n:
        torch.set_num_threads(n)


def _child(
    fn: Callable[..., Any], db: str, kwargs: dict[str, Any], conn: Connection, stop: Any
) -> None:
    last = [0.0]

    def progress(done: int, total: int, text: str) -> None:
        now = time.monotonic()
        if (total and done >= total) or now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            conn.send(("progress", done, total, text))

    cat = None
    try:
        cat = Catalogue(Path(db))
        result = fn(cat, progress=progress, cancel=stop.is_set, **kwargs)
        conn.send(("result", result))
    except Cancelled:
        conn.send(("cancelled",))
    except BaseException as exc:
        conn.send(("error", f"{exc.__class__.__name__}: {exc}", traceback.format_exc()))
    finally:
        if cat is not None:
            cat.close()
        conn.close()


def in_process(
    fn: Callable[..., Any], db: Path, **kwargs: Any
) -> Callable[[ProgressFn, CancelFn], Any]:
    """A stage function that runs ``fn(cat, progress=, cancel=, **kwargs)`` in a fresh
    (spawned) process on the catalogue file DB. ``fn`` is a module-level function: the child
    imports its module (and the arguments and the result are pickled)."""

    def run(progress: ProgressFn, cancel: CancelFn) -> Any:
        ctx = mp.get_context("spawn")
        receiver, sender = ctx.Pipe(duplex=False)
        stop = ctx.Event()
        proc = ctx.Process(target=_child, args=(fn, str(db), kwargs, sender, stop), daemon=True)
        proc.start()
        sender.close()
        try:
            while True:
                if cancel():
                    stop.set()
                if receiver.poll(0.1):
                    try:
                        msg = receiver.recv()
                    except EOFError:
                        msg = ("error", "the stage's process ended without an answer", "")
                    if msg[0] == "progress":
                        progress(msg[1], msg[2], msg[3])
                    elif msg[0] == "result":
                        return msg[1]
                    elif msg[0] == "cancelled":
                        raise Cancelled()
                    else:
                        raise StageProcessError(msg[1])
                elif not proc.is_alive() and not receiver.poll(0):
                    raise StageProcessError(
                        f"the stage's process ended unexpectedly (exit code {proc.exitcode})"
                    )
        finally:
            stop.set()
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
            receiver.close()

    return run
