"""What counts as a play and as a skip, and the tracker that records them.

- A **play** counts once the track was heard for ``min(30 s, half its length)`` (30 s when
  the length is unknown); once per listen, however long the listen goes on.
- A **skip** is "next" pressed before 10 s of listening, when that listen did not count as a
  play.

"Heard" is the time the output device actually played (``Player.listened()``): pauses and
seeking do not count, and a seek forwards does not make a play.

:class:`PlayTracker` follows one listen at a time and writes plays and skips to the catalogue
(``musicorg.store.plays``) on a thread of its own, so that a caller (the window's thread, the
player's event thread) never waits for the catalogue. A catalogue that cannot be written
(read-only, busy for too long) loses the record, with a warning in the log; playback goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Final, Literal

from musicorg.store import plays as store_plays
from musicorg.store.db import Catalogue, CatalogueError

log = logging.getLogger(__name__)

#: A play counts after this much listening, or half the track when that is shorter.
PLAY_AFTER_S: Final = 30.0
#: "Next" before this much listening is a skip.
SKIP_BEFORE_S: Final = 10.0

Outcome = Literal["play", "skip"]


def play_threshold(duration: float | None) -> float:
    """Seconds of listening after which a track of ``duration`` seconds counts as played."""
    if duration is None or not duration > 0:
        return PLAY_AFTER_S
    return min(PLAY_AFTER_S, duration / 2.0)


class PlayTracker:
    """Decides, for the listen in progress, whether it is a play or a skip, and records it.

    Call :meth:`start` when a track starts, :meth:`progress` as it plays (any rate),
    :meth:`next_pressed` when the user moves on with "next", and :meth:`finish` when the
    listen ends otherwise (the track ended, stop, previous, another track chosen). Each takes
    the seconds heard so far. ``on_recorded(track_id, "play" | "skip")`` is called on the
    tracker's writer thread once the catalogue holds the record. ``now`` gives the time
    written (epoch seconds).
    """

    def __init__(
        self,
        cat: Catalogue | None,
        *,
        now: Callable[[], float] = time.time,
        on_recorded: Callable[[int, Outcome], None] | None = None,
    ) -> None:
        self._cat = cat
        self._now = now
        self._on_recorded = on_recorded
        self._track: int | None = None
        self._threshold = PLAY_AFTER_S
        self._counted = False
        self._lock = threading.Lock()
        self._jobs: queue.Queue[tuple[int, Outcome, float] | None] = queue.Queue()
        self._writer: threading.Thread | None = None

    @property
    def track_id(self) -> int | None:
        """The track whose listen is followed; None between listens."""
        return self._track

    def start(self, track_id: int, duration: float | None) -> None:
        """A new listen of ``track_id`` (the previous one ends without a record)."""
        with self._lock:
            self._track, self._counted = track_id, False
            self._threshold = play_threshold(duration)

    def set_duration(self, duration: float | None) -> None:
        """The track's length became known (from the decoder) after :meth:`start`."""
        with self._lock:
            self._threshold = play_threshold(duration)

    def progress(self, listened_s: float) -> Outcome | None:
        """The listen has lasted ``listened_s``; "play" when that made it count."""
        with self._lock:
            return self._check_play(listened_s)

    def next_pressed(self, listened_s: float) -> Outcome | None:
        """The user pressed "next" after ``listened_s`` of listening: a play, a skip, or
        neither. Ends the listen."""
        with self._lock:
            outcome = self._check_play(listened_s)
            track = self._track
            early = listened_s < SKIP_BEFORE_S
            if outcome is None and track is not None and early and not self._counted:
                outcome = "skip"
                self._submit(track, outcome)
            self._track = None
            return outcome

    def finish(self, listened_s: float) -> Outcome | None:
        """The listen ended after ``listened_s`` (not by "next"): "play" if it counts now."""
        with self._lock:
            outcome = self._check_play(listened_s)
            self._track = None
            return outcome

    def _check_play(self, listened_s: float) -> Outcome | None:
        if self._track is None or self._counted or listened_s < self._threshold:
            return None
        self._counted = True
        self._submit(self._track, "play")
        return "play"

    # --- the writer ----------------------------------------------------------------------

    def _submit(self, track_id: int, outcome: Outcome) -> None:
        if self._cat is None:
            return
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_loop, name="musicorg-plays", daemon=True
            )
            self._writer.start()
        self._jobs.put((track_id, outcome, self._now()))

    def _write_loop(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                self._write(*job)
            finally:
                self._jobs.task_done()

    def _write(self, track_id: int, outcome: Outcome, at: float) -> None:
        assert self._cat is not None
        record = store_plays.record_play if outcome == "play" else store_plays.record_skip
        try:
            done = record(self._cat, track_id, at)
        except CatalogueError as exc:
            log.warning("the %s of track %d was not recorded: %s", outcome, track_id, exc)
            return
        except Exception:  # a bug must not stop the writer: later records still go in
            log.exception("the %s of track %d was not recorded", outcome, track_id)
            return
        if done and self._on_recorded is not None:
            try:
                self._on_recorded(track_id, outcome)
            except Exception:
                log.exception("on_recorded failed")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every record so far is written; False when ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._jobs.all_tasks_done:
            while self._jobs.unfinished_tasks:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._jobs.all_tasks_done.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Write what is pending and stop the writer."""
        if self._writer is not None:
            self._jobs.put(None)
            self._writer.join(timeout)
            self._writer = None
