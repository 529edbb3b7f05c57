"""The window's side of playback: one :class:`~musicorg.app.playback.PlaySession` per open
catalogue, its callbacks brought to the UI thread as Qt signals, and what the window asks of
it (play these tracks, play next, next, pause, clear the play history).

The session decodes and plays on threads of its own and calls back from them; here every
callback only emits a signal, queued to the UI thread. Nothing here waits for audio, and the
catalogue reads (the counts of plays) run in the background too.

The volume starts as the settings last saved it, and is saved (through the window's
``save_settings``) a moment after it stops changing, and when the session closes. An output
device that goes away while playing is said once, Play is off until one is back (the player
looks for one by itself), and that is said too. So is a device that appears after the start
found none (plugged in, a sound server started late): the player looks for one every few
seconds on its own thread, and Play comes on when one opens.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from musicorg.gui import dialogs
from musicorg.gui.host import Host
from musicorg.store import plays
from musicorg.store.db import Catalogue

if TYPE_CHECKING:
    from musicorg.app.playback import PlaySession

log = logging.getLogger(__name__)

R = TypeVar("R")

#: What the window says, once, when there is nothing to play to.
NO_DEVICE = "No audio output device was found; playback is off."
#: What the window says, once, when the output device goes away while in use.
LOST = "The audio output device went away; playback stopped until one is back."
#: What it says when an output device is back after that.
BACK = "An audio output device is back: press Play to go on."
#: What it says when an output device appears after there was none at the start.
FOUND = "An audio output device was found: playback is on."
#: How long after a play or skip was recorded its counts are read again (several coming
#: close together are read once).
STATS_DELAY_MS = 250
#: How long after the volume last moved it is saved.
VOLUME_SAVE_MS = 700


def saved_volume(value: float) -> float:
    """The volume from the settings, kept within 0-1 (1 for nonsense)."""
    return min(1.0, max(0.0, value)) if value == value else 1.0


def off_message(reason: str | None) -> str:
    """Why playback is off, in one plain sentence."""
    if not reason or reason.startswith("no audio output device was found"):
        return NO_DEVICE
    return f"{reason[0].upper()}{reason[1:]}; playback is off."


@dataclass(frozen=True)
class TrackInfo:
    """What the now-playing bar, the queue and the media keys show of a track."""

    track_id: int
    title: str
    artist: str
    album: str
    path: str
    duration: float | None

    @property
    def label(self) -> str:
        return label(self.title, self.artist)


def label(title: str, artist: str) -> str:
    """How the bar and the queue name a track: "Title — Artist"."""
    return f"{title} — {artist}" if artist else title


class Background(QObject):
    """Runs a function on a thread of its own and hands its result to a callback on the UI
    thread (a failure is logged, and the callback not called)."""

    _done = Signal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._done.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def run(self, name: str, fn: Callable[[], R], on_done: Callable[[R], None]) -> None:
        def work() -> None:
            try:
                result = fn()
            except Exception:  # a failed read shows nothing new; the log says why
                log.exception("background %s failed", name)
                return
            with contextlib.suppress(RuntimeError):  # the window went away meanwhile
                self._done.emit(on_done, result)

        threading.Thread(target=work, name=f"musicorg-{name}", daemon=True).start()

    @staticmethod
    def _deliver(on_done: Callable[[Any], None], result: Any) -> None:
        on_done(result)


class PlayControl(QObject):
    """Playback for the window; see the module's docstring."""

    #: the track the player is on (0: none)
    track_changed = Signal(int)
    #: "playing", "paused" or "stopped"
    state_changed = Signal(str)
    #: the queue's items or its current position changed
    queue_changed = Signal()
    #: the counts of plays and skips, read again after one was recorded (dict)
    stats_changed = Signal(object)
    #: whether there is an output to play to
    available_changed = Signal(bool)
    #: the volume was set (0 to 1)
    volume_changed = Signal(float)
    #: the position was moved to (seconds)
    sought = Signal(float)

    # The session's callbacks, from its threads (queued to this object's thread): the
    # session's number first, so that a late call of a closed session is recognised.
    _track = Signal(int, object)
    _state = Signal(int, str)
    _failed = Signal(int, str)
    _queue = Signal(int)
    _plays = Signal(int, int)
    _output = Signal(int, bool, object)

    def __init__(
        self,
        host: Host,
        backend: str | None = None,
        parent: QObject | None = None,
        save_volume: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.host = host
        self.backend = backend
        self.session: PlaySession | None = None
        self.cat: Catalogue | None = None
        self.available = True  # until a session says otherwise
        self.unavailable_reason: str | None = None
        self.current_id = 0
        self.state = "stopped"
        self.volume = saved_volume(host.settings.volume)
        self._save_volume = save_volume
        self._volume_saved = self.volume
        self._volume_timer = QTimer(self)
        self._volume_timer.setSingleShot(True)
        self._volume_timer.setInterval(VOLUME_SAVE_MS)
        self._volume_timer.timeout.connect(self.save_volume)
        self._number = 0
        self._told = False
        self._lost = False  # the device went away while in use (not: there was none)
        self._stats_asked = 0
        self.background = Background(self)
        self._stats_timer = QTimer(self)
        self._stats_timer.setSingleShot(True)
        self._stats_timer.setInterval(STATS_DELAY_MS)
        self._stats_timer.timeout.connect(self.read_stats)
        queued = Qt.ConnectionType.QueuedConnection
        self._track.connect(self._on_track, queued)
        self._state.connect(self._on_state, queued)
        self._failed.connect(self._on_failed, queued)
        self._queue.connect(self._on_queue, queued)
        self._plays.connect(self._on_plays, queued)
        self._output.connect(self._on_output, queued)

    # -- the session -----------------------------------------------------------------------------

    def open(self, cat: Catalogue) -> None:
        """A session for this catalogue (the previous one is closed)."""
        self.close()
        self._number += 1
        n = self._number
        self.cat = cat
        # lazy: the audio stack (miniaudio, soundfile, soxr) would add 60 ms to the window's
        # start; it is needed once a library opens
        from musicorg.app.playback import PlaySession

        self.session = PlaySession(
            cat,
            backend=self.backend,
            on_track_changed=lambda t: self._track.emit(n, t),
            on_state_changed=lambda s: self._state.emit(n, str(s)),
            on_failed=lambda m: self._failed.emit(n, m),
            on_queue_changed=lambda: self._queue.emit(n),
            on_plays_changed=lambda t: self._plays.emit(n, t),
            on_output_changed=lambda a, r: self._output.emit(n, a, r),
        )
        self.session.set_volume(self.volume)
        self._set_available(self.session.available, self.session.unavailable_reason)

    def close(self) -> None:
        """Stop, and close the session (its pending plays are written first)."""
        self.save_volume()
        session, self.session, self.cat = self.session, None, None
        self._number += 1
        if session is not None:
            session.close()
        self._set_current(0)
        self._set_state("stopped")
        self.queue_changed.emit()

    def _set_available(self, available: bool, reason: str | None) -> None:
        self.available, self.unavailable_reason = available, reason
        self._lost = False
        self.available_changed.emit(available)
        if not available and not self._told:
            self._told = True  # said once, however often a library is opened
            log.warning("playback is off: %s", reason)
            self.host.flash(off_message(reason), 30000)

    def _on_output(self, number: int, available: bool, reason: str | None) -> None:
        """The output device went away, or one is back (or found, after there was none at
        the start): said once each time."""
        if number != self._number or available == self.available:
            return
        self.available, self.unavailable_reason = available, reason
        self.available_changed.emit(available)
        if available:
            self.host.flash(BACK if self._lost else FOUND, 8000)
        else:  # the player has logged it
            self.host.flash(LOST, 30000)
        self._lost = not available

    def off_message(self) -> str:
        return off_message(self.unavailable_reason)

    def output_name(self) -> str:
        """The audio output in use ("PulseAudio", "ALSA"...), or why there is none."""
        if not self.available:
            return self.off_message()
        name = self.session.player.backend_name if self.session is not None else None
        return name or "opens with a library"

    # -- what the session tells ------------------------------------------------------------------

    def _on_track(self, number: int, track_id: int | None) -> None:
        if number == self._number:
            self._set_current(track_id or 0)

    def _set_current(self, track_id: int) -> None:
        if track_id != self.current_id:
            self.current_id = track_id
            self.track_changed.emit(track_id)

    def _on_state(self, number: int, state: str) -> None:
        if number == self._number:
            self._set_state(state)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def _on_failed(self, number: int, message: str) -> None:
        if number == self._number:
            self.host.flash(f"Could not play: {message}", 8000)

    def _on_queue(self, number: int) -> None:
        if number == self._number:
            self.queue_changed.emit()

    def _on_plays(self, number: int, _track_id: int) -> None:
        if number == self._number:
            self._stats_timer.start()

    def read_stats(self) -> None:
        """Read the counts of plays and skips again (in the background); stats_changed
        follows."""
        cat = self.cat
        if cat is None:
            return
        self._stats_asked += 1
        asked = self._stats_asked

        def done(stats: dict[int, Any]) -> None:
            if cat is self.cat and asked == self._stats_asked:  # else a newer read follows
                self.stats_changed.emit(stats)

        self.background.run("play-stats", lambda: plays.stats(cat), done)

    # -- what is playing -------------------------------------------------------------------------

    def playing(self) -> bool:
        return self.state == "playing"

    def position(self) -> float:
        return self.session.position() if self.session is not None else 0.0

    def duration(self) -> float | None:
        """The current track's length: the player's once it opened the file, else the
        catalogue's."""
        found = self.session.duration() if self.session is not None else None
        if found is None and self.current_id:
            info = self.info(self.current_id)
            found = info.duration if info is not None else None
        return found

    def queue(self) -> tuple[tuple[int, ...], int | None]:
        """The queue's track ids (played, current, coming) and the current one's position."""
        if self.session is None:
            return (), None
        return self.session.queue_items, self.session.queue_index

    def info(self, track_id: int) -> TrackInfo | None:
        """A track as the library shows it; None when it is not (or no longer) there."""
        snap = self.host.library.snap
        row = snap.row_of(track_id)
        if row is None:
            return None
        duration = float(snap.cols["duration"][row])
        return TrackInfo(
            track_id=track_id,
            title=str(snap.cols["title"][row]),
            artist=str(snap.cols["artist"][row]),
            album=str(snap.cols["album"][row]),
            path=snap.file_path(row),
            duration=None if duration != duration else duration,
        )

    def labels(self, track_ids: Sequence[int]) -> list[str]:
        """The names of these tracks ("Track N" for one the library does not show), in one
        lookup of the snapshot."""
        snap = self.host.library.snap
        ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
        if not len(snap) or not len(ids):
            return [f"Track {t}" for t in ids]
        pos = np.clip(np.searchsorted(snap.ids, ids), 0, len(snap) - 1)
        known = snap.ids[pos] == ids
        titles, artists = snap.cols["title"], snap.cols["artist"]
        return [
            label(str(titles[p]), str(artists[p])) if k else f"Track {t}"
            for t, p, k in zip(ids, pos, known, strict=True)
        ]

    # -- what the window asks --------------------------------------------------------------------

    def _ready(self) -> PlaySession | None:
        """The session when something can play; else None, with a message."""
        if self.session is None:
            return None
        if not self.available:
            self.host.flash(self.off_message(), 8000)
            return None
        return self.session

    def _playable(self, track_ids: Sequence[int]) -> list[int]:
        """These tracks less those whose file is missing."""
        snap = self.host.library.snap
        rows = snap.rows_of(track_ids)
        kept: list[int] = snap.ids[rows[~snap.missing[rows]]].tolist()
        return kept

    def play_tracks(self, track_ids: Sequence[int], start: int = 0) -> None:
        """Play these tracks from the one at ``start`` (the queue becomes them); a missing
        file is left out."""
        session = self._ready()
        if session is None or not len(track_ids):
            return
        first = int(track_ids[start])
        ids = self._playable(track_ids)
        if first not in ids:
            self.host.flash("This track is missing: nothing to play.", 5000)
            return
        session.play_tracks(ids, ids.index(first))

    def play_view_row(self, view_row: int) -> None:
        """Play the track at this row of the table, then the rows after it (double-click)."""
        model = self.host.library.model
        ids = model.snap.ids[model.rows]
        if 0 <= view_row < len(ids):
            self.play_tracks(ids.tolist(), view_row)

    def play_selection(self) -> None:
        """Play the selected tracks; one selected track plays with the rows after it."""
        library = self.host.library
        rows = library.selected_view_rows()
        if len(rows) == 1:
            self.play_view_row(rows[0])
        elif rows:
            self.play_tracks(library.selected_track_ids())
        else:
            self.host.flash("Select a track to play.", 4000)

    def _queue_selection(self, add: Callable[[PlaySession, list[int]], None], where: str) -> None:
        session = self._ready()
        ids = self._playable(self.host.library.selected_track_ids())
        if session is None or not ids:
            return
        add(session, ids)
        n = len(ids)
        self.host.flash(f"{n} track{'s' if n != 1 else ''} {where}.", 4000)

    def play_next_selection(self) -> None:
        self._queue_selection(lambda session, ids: session.play_next(ids), "will play next")

    def queue_selection(self) -> None:
        self._queue_selection(lambda session, ids: session.add_to_queue(ids), "added to the queue")

    def toggle(self) -> None:
        """Pause or play; with nothing in the queue, play the selection."""
        session = self._ready()
        if session is None:
            return
        if session.state != "stopped" or session.current_track_id is not None:
            session.toggle()
        else:
            self.play_selection()

    def next(self) -> None:
        if self.session is not None:
            self.session.next()

    def previous(self) -> None:
        if self.session is not None:
            self.session.previous()

    def stop(self) -> None:
        if self.session is not None:
            self.session.stop()

    def play(self) -> None:
        if self.session is not None and self.state != "playing":
            self.toggle()

    def pause(self) -> None:
        if self.session is not None:
            self.session.pause()

    def seek(self, seconds: float) -> None:
        if self.session is not None and self.current_id:
            seconds = max(0.0, seconds)
            self.session.seek(seconds)
            self.sought.emit(seconds)

    def set_volume(self, volume: float) -> None:
        volume = min(1.0, max(0.0, volume))
        if volume == self.volume:
            return
        self.volume = volume
        if self.session is not None:
            self.session.set_volume(volume)
        self.volume_changed.emit(volume)
        if self._save_volume is not None:
            self._volume_timer.start()

    def save_volume(self) -> None:
        """Save the volume now if it changed since it was last saved."""
        self._volume_timer.stop()
        if self._save_volume is not None and self.volume != self._volume_saved:
            self._volume_saved = self.volume
            self._save_volume(self.volume)

    def jump_to(self, index: int) -> None:
        """Play the queue's item at ``index`` (the queue stays as it is)."""
        session = self._ready()
        items, _current = self.queue()
        if session is not None and 0 <= index < len(items):
            session.play_tracks(items, index)

    def remove_from_queue(self, index: int) -> None:
        if self.session is not None:
            self.session.remove_from_queue(index)

    def clear_queue(self) -> None:
        if self.session is not None:
            self.session.clear_queue()

    # -- the play history ------------------------------------------------------------------------

    def clear_history(self, *, everything: bool = False) -> int | None:
        """Forget the plays and skips of the selected tracks (of every track with
        ``everything``), once the user confirms; how many tracks had any."""
        cat = self.host.cat
        if cat is None:
            return None
        ids: list[int] | None = None
        if everything:
            question = "Forget every play and skip of every track?"
        else:
            ids = self.host.library.selected_track_ids()
            if not ids:
                self.host.flash("Select the tracks whose play history to clear.", 4000)
                return None
            n = len(ids)
            question = f"Forget the plays and skips of the {n} selected track{'s' * (n != 1)}?"
        if not dialogs.confirm(self.host.library, "Clear play history", question):
            return None
        cleared = self.host.edit("Clear play history", lambda: plays.clear(cat, ids))
        if cleared is not None:
            self.host.flash(f"Play history cleared ({cleared} tracks had some).", 5000)
        return cleared
