"""One helper for background work: a stage function runs in a worker thread, and its progress,
result or error come back to the main thread through Qt signals.

A stage is any callable ``fn(progress, cancel) -> result`` built from a core stage (scan,
analyse, playlists, map, export). The worker never touches widgets. Progress calls are
throttled in the worker (a scan may report thousands of times a second) so the event queue of
the UI thread never floods.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from musicorg.gui.procstage import StageProcessError
from musicorg.jobs import CancelFn, Cancelled, CancelToken, ProgressFn

log = logging.getLogger(__name__)

StageFn = Callable[[ProgressFn, CancelFn], Any]

PROGRESS_EVERY_S = 0.05

#: How jobs are named for people.
LABELS = {
    "scan": "Scan",
    "analyse": "Analysis",
    "playlists": "Playlists",
    "rebuild": "Playlists",
    "resize": "Playlists",
    "map": "Map",
    "remap": "Map",
    "umap": "UMAP map",
    "reumap": "UMAP map",
    "load": "Loading",
    "open": "Opening",
    "export": "Export",
    "import": "Import",
    "neighbours": "Nearest tracks",
    "model": "Model switch",
    "ask": "Ask",
    "mix": "Mix",
    "foryou": "For you",
    "explain": "Playlist words",
    "colour": "Map colours",
    "preview": "Export preview",
}


def label(name: str) -> str:
    return LABELS.get(name, name.capitalize())


def describe(exc: BaseException) -> str:
    """A failed job's error: its class and message (an error from a stage's own process
    already names the child's error)."""
    if isinstance(exc, StageProcessError) or not str(exc):
        return str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {exc}"


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min left"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s left"
    return f"{s} s left"


class Job(QObject):
    """One run of one stage. Signals arrive in the main thread (queued connections)."""

    progressed = Signal(int, int, str)  # done, total, text
    succeeded = Signal(object)  # the stage's result
    failed = Signal(str, str)  # message, traceback
    cancelled = Signal()
    ended = Signal()  # after any of the three above

    def __init__(self, name: str, fn: StageFn, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.fn = fn
        self.token = CancelToken()
        self.started_at = 0.0
        self.done = 0
        self.total = 0
        self.text = ""
        self.state = "waiting"  # running, done, failed, cancelled
        self.result: Any = None
        self.error = ""
        self._thread: threading.Thread | None = None
        self._last_emit = 0.0
        self._rate_start: tuple[float, int] | None = None
        self.progressed.connect(self._remember)

    # --- worker side ----------------------------------------------------------------------

    def _progress(self, done: int, total: int, text: str) -> None:
        now = time.monotonic()
        if (total and done >= total) or now - self._last_emit >= PROGRESS_EVERY_S:
            self._last_emit = now
            self.progressed.emit(int(done), int(total), str(text))

    def _run(self) -> None:
        try:
            result = self.fn(self._progress, self.token)
        except Cancelled:
            log.info("job %s cancelled", self.name)
            self.state = "cancelled"
            self.cancelled.emit()
        except BaseException as exc:
            log.exception("job %s failed", self.name)
            self.state = "failed"
            self.error = describe(exc)
            self.failed.emit(self.error, traceback.format_exc())
        else:
            self.state = "done"
            self.result = result
            self.succeeded.emit(result)
        finally:
            self.ended.emit()

    # --- main-thread side -----------------------------------------------------------------

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.state = "running"
        self._thread = threading.Thread(target=self._run, name=f"job-{self.name}", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self.token.cancel()

    def running(self) -> bool:
        return self.state == "running"

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _remember(self, done: int, total: int, text: str) -> None:
        if total and (self._rate_start is None or self.total != total or done < self.done):
            self._rate_start = (time.monotonic(), done)
        self.done, self.total, self.text = done, total, text

    def eta(self) -> float | None:
        """Seconds left, from the rate since the total became known (None: cannot tell)."""
        if not self.total or self._rate_start is None:
            return None
        t0, d0 = self._rate_start
        elapsed = time.monotonic() - t0
        did = self.done - d0
        if did <= 0 or elapsed < 0.5:
            return None
        return (self.total - self.done) * elapsed / did


class TaskRunner(QObject):
    """Starts jobs, keeps the running ones, and tells the UI when the set changes."""

    job_added = Signal(object)
    job_ended = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs: list[Job] = []

    def submit(
        self,
        name: str,
        fn: StageFn,
        *,
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[str, str], None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
    ) -> Job:
        """Start FN in a worker thread. Every callback is connected before it starts (a job
        can end before this returns)."""
        job = Job(name, fn)
        if on_cancel is not None:
            job.cancelled.connect(on_cancel)
        if on_result is not None:
            job.succeeded.connect(on_result)
        if on_error is not None:
            job.failed.connect(on_error)
        if on_progress is not None:
            job.progressed.connect(on_progress)
        job.ended.connect(lambda j=job: self._ended(j))
        self.jobs.append(job)
        self.job_added.emit(job)
        job.start()
        return job

    def _ended(self, job: Job) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        self.job_ended.emit(job)

    def running(self, name: str | None = None) -> list[Job]:
        return [j for j in self.jobs if j.running() and (name is None or j.name == name)]

    def cancel_all(self, wait_s: float = 10.0) -> None:
        jobs = list(self.jobs)
        for job in jobs:
            job.cancel()
        deadline = time.monotonic() + wait_s
        for job in jobs:
            job.wait(max(0.0, deadline - time.monotonic()))
