"""Playback for the window: a queue of tracks, the player, and the record of plays and skips.

:class:`PlaySession` is the whole API the window uses to play music::

    session = PlaySession(cat, on_track_changed=..., on_state_changed=..., on_failed=...,
                          on_queue_changed=..., on_plays_changed=...,
                          on_output_changed=...)
    if not session.available:
        ...  # say session.unavailable_reason once, disable Play
    session.play_tracks([12, 7, 40], start=1)   # a playlist, from its second track
    session.play_next([5])                      # right after the current track
    session.add_to_queue([8, 9])                # at the end
    session.next(); session.previous(); session.toggle(); session.seek(30.0)
    session.set_volume(0.5)
    session.position(), session.duration(), session.state, session.current_track_id
    session.queue_items, session.queue_index
    session.close()

Rules:

- When a track ends, the next one in the queue starts; after the last one playback stops and
  there is no current track.
- A track whose file is missing, or that cannot be decoded, is reported through
  ``on_failed`` (one plain line) and the next one starts.
- A play is counted once a track was heard for min(30 s, half its length); "next" before
  10 s is a skip (``musicorg.playback.plays``). They are written to the catalogue on a thread
  of their own; ``on_plays_changed(track_id)`` follows each.
- :meth:`~PlaySession.play_next` and :meth:`~PlaySession.add_to_queue` never start playback
  by themselves; :meth:`~PlaySession.toggle` (or :meth:`~PlaySession.play`) plays the
  current track of the queue when nothing plays.
- Without an output device, :attr:`~PlaySession.available` is False with the reason in
  :attr:`~PlaySession.unavailable_reason`; the queue still works, nothing plays.
- A device that goes away while playing stops the track (what was heard of it counts) and
  calls ``on_output_changed(False, reason)``; the player looks for one again by itself, and
  ``on_output_changed(True, None)`` follows once one opens. The track stays current: Play
  starts it again.

Threads: every method may be called from any thread and returns at once (a store read of
the track's file at most; decoding runs on the player's own threads). The callbacks come on
the caller's thread or on the player's event thread, in order, while the session's lock is
held: they must not block (emit a Qt signal and return), and may read the session.
``on_plays_changed`` comes on the tracker's writer thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Final

from musicorg.playback.player import (
    Ended,
    Failed,
    OutputBack,
    OutputLost,
    Player,
    PlayerEvent,
    Progress,
    Started,
    State,
)
from musicorg.playback.plays import Outcome, PlayTracker
from musicorg.playback.queue import PlayQueue
from musicorg.store import plays as store_plays
from musicorg.store.db import Catalogue
from musicorg.store.plays import PlayStats

__all__ = ["PlaySession", "PlayStats", "State", "clear_plays", "play_stats"]

#: The session's callbacks: track changed (None: nothing current), state changed, a track
#: failed (the message), the queue changed, a track's plays or skips changed.
TrackChanged = Callable[[int | None], None]
StateChanged = Callable[[State], None]
FailedMessage = Callable[[str], None]
QueueChanged = Callable[[], None]
PlaysChanged = Callable[[int], None]
#: The output went away (False, why) or is back (True, None).
OutputChanged = Callable[[bool, str | None], None]

_MISSING: Final = "the file is missing (rescan the library, or relocate its folder)"


def play_stats(cat: Catalogue) -> dict[int, PlayStats]:
    """Track id → plays and skips, for the tracks played or skipped at least once."""
    return store_plays.stats(cat)


def clear_plays(cat: Catalogue, track_ids: Iterable[int] | None = None) -> int:
    """Forget the plays and skips of ``track_ids`` (all tracks when None); how many had any."""
    return store_plays.clear(cat, track_ids)


def _nothing(*_args: object) -> None:
    pass


class PlaySession:
    """Plays the tracks of an open catalogue through a queue; see the module's docstring.

    ``backend`` chooses the output (None: the platform's; "null": a silent device that
    consumes audio in real time, for tests and ``MUSICORG_AUDIO_BACKEND=null``).
    """

    def __init__(
        self,
        cat: Catalogue,
        *,
        backend: str | None = None,
        on_track_changed: TrackChanged | None = None,
        on_state_changed: StateChanged | None = None,
        on_failed: FailedMessage | None = None,
        on_queue_changed: QueueChanged | None = None,
        on_plays_changed: PlaysChanged | None = None,
        on_output_changed: OutputChanged | None = None,
    ) -> None:
        self._cat = cat
        self._lock = threading.RLock()
        self._on_track: TrackChanged = on_track_changed or _nothing
        self._on_state: StateChanged = on_state_changed or _nothing
        self._on_failed: FailedMessage = on_failed or _nothing
        self._on_queue: QueueChanged = on_queue_changed or _nothing
        self._on_plays: PlaysChanged = on_plays_changed or _nothing
        self._on_output: OutputChanged = on_output_changed or _nothing
        self._queue = PlayQueue()
        self._tracker = PlayTracker(cat, on_recorded=self._recorded)
        self._serial = 0
        self._track: int | None = None
        self._state: State = "stopped"
        self._closed = False
        self._player = Player(backend, on_event=self._on_event)

    # --- what the window reads ----------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Whether there is an audio output to play to."""
        return self._player.available

    @property
    def unavailable_reason(self) -> str | None:
        """Why nothing can play, in plain words ("no audio output device was found (...)")."""
        return self._player.unavailable_reason

    @property
    def player(self) -> Player:
        """The player underneath (tests read :meth:`Player.received`)."""
        return self._player

    @property
    def state(self) -> State:
        """One of "playing", "paused" or "stopped"."""
        return self._player.state

    @property
    def current_track_id(self) -> int | None:
        """The track playing, paused or last loaded; None when the queue ran out."""
        return self._track

    @property
    def queue_items(self) -> tuple[int, ...]:
        """The queue's track ids in order (played, current and coming)."""
        with self._lock:
            return self._queue.items

    @property
    def queue_index(self) -> int | None:
        """The current track's position in :attr:`queue_items`; None when there is none."""
        with self._lock:
            return self._queue.index

    @property
    def volume(self) -> float:
        return self._player.volume

    def position(self) -> float:
        """Seconds into the current track."""
        return self._player.position()

    def duration(self) -> float | None:
        """The current track's length; None until its file has been opened."""
        return self._player.duration()

    # --- what the window does -----------------------------------------------------------------

    def play_tracks(self, ids: Iterable[int], start: int = 0) -> None:
        """Replace the queue with ``ids`` and play from ``ids[start]`` (double-click, play a
        playlist)."""
        with self._lock:
            if self._closed:
                return
            self._end_listen()
            self._queue.replace(ids, start)
            self._on_queue()
            self._start_current()

    def play_next(self, ids: Iterable[int]) -> None:
        """Queue ``ids`` right after the current track."""
        with self._lock:
            self._queue.play_next(ids)
            self._on_queue()

    def add_to_queue(self, ids: Iterable[int]) -> None:
        """Queue ``ids`` at the end."""
        with self._lock:
            self._queue.add(ids)
            self._on_queue()

    def remove_from_queue(self, index: int) -> None:
        """Take the item at ``index`` out of the queue; removing the current track plays the
        one after it (when something was playing)."""
        with self._lock:
            was_playing = self._player.state == "playing"
            if not self._queue.remove(index):
                self._on_queue()
                return
            self._end_listen()
            self._player.stop()
            self._on_queue()
            if was_playing:
                self._start_current()
            else:
                self._set_track(None)
                self._sync_state()

    def clear_queue(self) -> None:
        """Stop and empty the queue."""
        with self._lock:
            self._end_listen()
            self._player.stop()
            self._queue.clear()
            self._serial = 0
            self._on_queue()
            self._set_track(None)
            self._sync_state()

    def next(self) -> None:
        """Play the next track of the queue (before 10 s of listening, a skip)."""
        with self._lock:
            if self._closed:
                return
            if self._tracker.track_id is not None:
                self._tracker.next_pressed(self._player.listened())
            self._queue.next()
            self._on_queue()
            self._start_current()

    def previous(self) -> None:
        """Play the track played before this one."""
        with self._lock:
            if self._closed:
                return
            self._end_listen()
            self._queue.previous()
            self._on_queue()
            self._start_current()

    def toggle(self) -> None:
        """Pause when playing; otherwise play (the queue's current track when stopped)."""
        with self._lock:
            if self._player.state == "playing":
                self._player.pause()
                self._sync_state()
            else:
                self.play()

    def play(self) -> None:
        """Resume, or play the queue's current track when stopped."""
        with self._lock:
            if self._closed:
                return
            if self._player.state == "paused":
                self._player.play()
                self._sync_state()
            elif self._player.state == "stopped":
                self._start_current()

    def pause(self) -> None:
        with self._lock:
            self._player.pause()
            self._sync_state()

    def stop(self) -> None:
        """Stop; the current track stays current and :meth:`play` starts it again."""
        with self._lock:
            self._end_listen()
            self._player.stop()
            self._sync_state()

    def seek(self, seconds: float) -> None:
        """Go to ``seconds`` into the current track."""
        self._player.seek(seconds)

    def set_volume(self, volume: float) -> None:
        """0 (silent) to 1."""
        self._player.set_volume(volume)

    def close(self) -> None:
        """Stop playing, write the plays still pending, and let the threads go."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._end_listen()
        self._player.close()  # not under the lock: its event thread may be waiting for it
        self._tracker.close()

    def wait_recorded(self, timeout: float | None = None) -> bool:
        """Wait until the plays and skips so far are written (tests); False on timeout."""
        return self._tracker.wait(timeout)

    # --- inside (with the lock held) ----------------------------------------------------------

    def _end_listen(self) -> None:
        if self._tracker.track_id is not None:
            self._tracker.finish(self._player.listened())

    def _set_track(self, track_id: int | None) -> None:
        if track_id is None and self._track is None:
            return
        self._track = track_id
        self._on_track(track_id)

    def _sync_state(self) -> None:
        state = self._player.state
        if state != self._state:
            self._state = state
            self._on_state(state)

    def _start_current(self) -> None:
        """Play the queue's current track; a missing file is reported and the next tried."""
        while True:
            track_id = self._queue.current
            if track_id is None:
                self._serial = 0
                self._player.stop()
                self._set_track(None)
                break
            problem = self._load(track_id)
            if problem is None:
                break
            self._on_failed(problem)
            self._queue.next()
            self._on_queue()
        self._sync_state()

    def _load(self, track_id: int) -> str | None:
        """Load ``track_id`` into the player; what is wrong with it otherwise."""
        found = store_plays.track_files(self._cat, [track_id]).get(track_id)
        if found is None:
            self._player.stop()
            return f"cannot play track {track_id}: it is no longer in the catalogue"
        if found.missing or not os.path.exists(found.path):
            self._player.stop()
            return f"cannot play {os.path.basename(found.display)}: {_MISSING}"
        if self._player.available:
            self._tracker.start(track_id, found.duration)
            self._serial = self._player.load(found.path, track_id=track_id)
        self._set_track(track_id)
        return None

    def _on_event(self, event: PlayerEvent) -> None:
        """The player's events (its event thread)."""
        with self._lock:
            if self._closed:
                return
            if isinstance(event, OutputLost | OutputBack):
                self._output_changed(event)
                return
            if event.serial != self._serial:
                return  # about a track this session has moved on from
            if isinstance(event, Progress):
                self._tracker.progress(event.listened_s)
            elif isinstance(event, Started):
                duration = self._player.duration()
                if duration is not None and self._tracker.track_id == event.track_id:
                    self._tracker.set_duration(duration)
            elif isinstance(event, Ended):
                self._tracker.finish(event.listened_s)
                self._queue.next()
                self._on_queue()
                self._start_current()
            elif isinstance(event, Failed):
                self._tracker.finish(0.0)
                self._on_failed(event.message)
                self._queue.next()
                self._on_queue()
                self._start_current()
            self._sync_state()

    def _output_changed(self, event: OutputLost | OutputBack) -> None:
        """The device went away (what was heard counts; the track stays current) or is
        back."""
        if isinstance(event, OutputLost):
            if event.serial == self._serial and self._tracker.track_id is not None:
                self._tracker.finish(event.listened_s)
            self._sync_state()
            self._on_output(False, event.message)
        else:
            self._on_output(True, None)

    def _recorded(self, track_id: int, _outcome: Outcome) -> None:
        self._on_plays(track_id)
