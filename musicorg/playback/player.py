"""The player: one audio output, a decoder thread, and events. Thread-safe, no Qt.

Threads:

- **the caller** (any thread; the window's): :meth:`Player.load`, :meth:`~Player.play`,
  :meth:`~Player.pause`, :meth:`~Player.seek`, ... return at once. They never decode and never
  wait for the decoder.
- **the decoder** (``musicorg-decoder``): opens the file, reads its ReplayGain, and decodes
  it (:class:`musicorg.playback.decode.Stream`) into a bounded buffer of :data:`BUFFER_S`
  seconds of float32 stereo at 48 kHz; it sleeps while the buffer is full.
- **the output** (miniaudio's audio thread): the device callback copies frames from the
  buffer, applies volume and ReplayGain, and hands them over. It never decodes and never
  waits for anything but the buffer's lock, which others hold only to move a block in or
  out. An empty buffer plays silence (and does not move the position).
- **the events** (``musicorg-player-events``): delivers :data:`PlayerEvent` s to
  ``on_event``, in order, and a :class:`Progress` every :data:`PROGRESS_S` while playing.
  The window marshals them to its own thread; a handler may call the player back.

One output device is opened for the player's life, at 48 kHz stereo float32; every track is
resampled to it. It runs while playing and is stopped while paused or stopped. A seek or a new
track bumps a generation number: the buffer is emptied, blocks decoded for an older
generation are dropped, and the position restarts from the target.

Without an output device (no sound card, no sound server) the player is not
:attr:`~Player.available`, says why in :attr:`~Player.unavailable_reason`, and its methods do
nothing; its event thread looks for one every :data:`PROBE_S` (a USB headset plugged in, a
sound server started late) and sends :class:`OutputBack` once one opens. A device that goes
away while in use (unplugged, the sound server gone: miniaudio's stop callback, or a start that
fails) stops the track and sends :class:`OutputLost`; the player is then unavailable and tries
to open an output again every :data:`REOPEN_S`, sending :class:`OutputBack` once one opens.

``backend="null"`` (or ``MUSICORG_AUDIO_BACKEND=null``) plays to miniaudio's null device,
which consumes audio in real time and plays nothing: the tests use it, and
:meth:`Player.received` tells what the device was handed.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Final, Literal

import miniaudio
import numpy as np

from musicorg.playback import decode, replaygain

log = logging.getLogger(__name__)

RATE: Final = decode.RATE
CHANNELS: Final = decode.CHANNELS
#: Seconds of decoded audio the decoder keeps ahead of the device.
BUFFER_S: Final = 0.5
#: The device's period: how often the callback runs (the device buffers a few periods).
PERIOD_MS: Final = 50
#: How often a :class:`Progress` event comes while playing.
PROGRESS_S: Final = 0.25
#: Samples below this (about -80 dBFS) count as silence in :meth:`Player.received`.
SILENCE: Final = 1e-4
#: The environment variable that chooses the output backend ("null" for a silent device).
BACKEND_ENV: Final = "MUSICORG_AUDIO_BACKEND"
#: How often the player tries to open an output again after the device went away.
REOPEN_S: Final = 3.0
#: How often a player that found no output device at its start looks for one again.
PROBE_S: Final = 5.0
#: What :attr:`Player.unavailable_reason` says after the device went away.
LOST: Final = "the audio output device went away"

State = Literal["stopped", "playing", "paused"]
FloatArray = decode.FloatArray


# --- events -----------------------------------------------------------------------------------
# ``serial`` is the number :meth:`Player.load` returned: it tells apart two listens of the
# same track.


@dataclass(frozen=True)
class Started:
    """The track began to play (once per load)."""

    track_id: int | None
    path: str | bytes
    serial: int = 0


@dataclass(frozen=True)
class Ended:
    """The track played to its end; ``listened_s`` is how much of it was heard."""

    track_id: int | None
    listened_s: float
    serial: int = 0


@dataclass(frozen=True)
class Stopped:
    """The track was stopped before its end (:meth:`Player.stop`, another load, close)."""

    track_id: int | None
    listened_s: float
    serial: int = 0


@dataclass(frozen=True)
class Failed:
    """The track cannot be played; ``message`` says why in one line. Nothing plays now."""

    track_id: int | None
    message: str
    serial: int = 0


@dataclass(frozen=True)
class Paused:
    track_id: int | None
    position_s: float
    serial: int = 0


@dataclass(frozen=True)
class Resumed:
    track_id: int | None
    position_s: float
    serial: int = 0


@dataclass(frozen=True)
class Progress:
    """While playing, every :data:`PROGRESS_S`: where the track is and how much was heard."""

    track_id: int | None
    position_s: float
    listened_s: float
    serial: int = 0


@dataclass(frozen=True)
class OutputLost:
    """The output device went away (unplugged, the sound server gone): the track stopped
    after ``listened_s`` of it, and nothing plays until :class:`OutputBack`."""

    track_id: int | None
    listened_s: float
    message: str
    serial: int = 0


@dataclass(frozen=True)
class OutputBack:
    """An output device opened after :class:`OutputLost`, or after the player started without
    one; ``name`` is its backend."""

    name: str
    serial: int = 0


PlayerEvent = (
    Started | Ended | Stopped | Failed | Paused | Resumed | Progress | OutputLost | OutputBack
)


@dataclass(frozen=True)
class Received:
    """What the device callback handed to the device: all frames, those with a sample above
    :data:`SILENCE`, and the largest absolute sample."""

    frames: int
    audible_frames: int
    peak: float


# --- the output device ------------------------------------------------------------------------

_FD2_LOCK = threading.Lock()


@contextmanager
def _quiet_fd2() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: ALSA prints its probing to it, which people
    should not see. Restored afterwards, whatever happens."""
    with _FD2_LOCK:
        with suppress(OSError, ValueError):
            sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:
            yield  # no fd 2 at all: nothing to hide
            return
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, 2)
            finally:
                os.close(null)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _pump(fill: Callable[[int], FloatArray]) -> Generator[FloatArray | bytes, int, None]:
    """The generator miniaudio asks for audio: it is sent a frame count, it yields frames."""
    frames = yield b""
    while True:
        frames = yield fill(frames)


class _Output:
    """The output device: started with a fill function, stopped, closed. ``on_lost`` is
    called (on miniaudio's thread) when the device stops without being asked to."""

    def __init__(self, device: Any) -> None:
        self._device = device
        self.name = str(device.backend)
        self.running = False
        self.on_lost: Callable[[], None] | None = None
        self._halting = threading.Lock()  # held while halt() stops the device
        device.stop_callback = self._device_stopped

    def _device_stopped(self) -> None:
        """miniaudio's stop callback: after :meth:`stop` (``running`` is already False then),
        or when the device stopped by itself. Only hands the news on: no locks here."""
        if self.running:
            self.running = False
            if self.on_lost is not None:
                self.on_lost()

    def halt(self) -> None:
        """Stop the device underneath, as an unplugged device does: what the tests use to
        simulate a device going away (the null device cannot be unplugged)."""
        with self._halting:
            if self._device is not None:
                miniaudio.lib.ma_device_stop(self._device._device)

    def start(self, fill: Callable[[int], FloatArray]) -> None:
        if not self.running:
            generator = _pump(fill)
            next(generator)
            self._device.start(generator)
            self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            try:
                self._device.stop()
            except miniaudio.MiniaudioError as exc:
                log.warning("the audio device did not stop cleanly: %s", exc)

    def close(self) -> None:
        with self._halting:  # not while a halt is stopping it: miniaudio would wait forever
            self.stop()
            self._device.close()


def _detail(exc: BaseException) -> str:
    words = [str(a) for a in exc.args] if exc.args else [type(exc).__name__]
    if len(words) == 2 and words[1].lstrip("-").isdigit():
        return f"{words[0]}, error {words[1]}"
    return ", ".join(words)


def open_output(backend: str | None = None) -> tuple[_Output | None, str | None]:
    """The output device of ``backend`` (None: :data:`BACKEND_ENV`, else the platform's own),
    or None and the reason in plain words."""
    name = (backend if backend is not None else os.environ.get(BACKEND_ENV, "")).strip().lower()
    backends = None
    if name:
        try:
            backends = [miniaudio.Backend[name.upper()]]
        except KeyError:
            return None, f"no audio output: {name!r} is not an audio backend miniaudio knows"
    with _quiet_fd2():
        try:
            device = miniaudio.PlaybackDevice(
                output_format=miniaudio.SampleFormat.FLOAT32,
                nchannels=CHANNELS,
                sample_rate=RATE,
                buffersize_msec=PERIOD_MS,
                backends=backends,
                app_name="musicorg",
            )
        except miniaudio.MiniaudioError as exc:
            where = f"{name}: " if name else ""
            return None, f"no audio output device was found ({where}{_detail(exc)})"
    if str(device.backend).lower() == "null" and name != "null":
        # The platform default falls back to the null device, which plays nothing.
        device.close()
        return None, "no audio output device was found (only a silent null output is available)"
    return _Output(device), None


def _may_appear(reason: str | None) -> bool:
    """Whether an output may open later for this reason of :func:`open_output`'s: a device
    that is not there yet, not a backend name that will never mean one."""
    return reason is None or reason.startswith("no audio output device was found")


# --- the player -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    """What the decoder is asked to do: open ``path`` (a new load) or seek in it."""

    gen: int
    serial: int
    path: str | bytes
    offset_s: float
    gain_db: float | None


_CLOSE: Final = object()

#: What opens the output: a backend name (None: the platform's) → the output, or None and
#: why not (:func:`open_output`).
Opener = Callable[[str | None], tuple[_Output | None, str | None]]


class Player:
    """Plays one track at a time to the audio output. See the module's docstring.

    ``on_event`` receives :data:`PlayerEvent` s on the player's event thread. A handler may
    call the player back, but must not call :meth:`close`. ``open_device`` opens the output
    (None: :func:`open_output`; tests pass one that fails for a while, as a machine whose
    device is unplugged).
    """

    def __init__(
        self,
        backend: str | None = None,
        *,
        on_event: Callable[[PlayerEvent], None] | None = None,
        open_device: Opener | None = None,
    ) -> None:
        self._on_event = on_event
        self._backend = backend
        self._open_device: Opener = open_device or open_output
        self._reopen_at: float | None = None  # when to try to open an output again
        self._lost: list[_Output] = []  # outputs whose device went away, to close
        self._api = threading.RLock()  # one public call at a time; never taken by the output
        self._cond = threading.Condition(threading.Lock())  # the buffer and what it plays
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._capacity = round(BUFFER_S * RATE)
        self._closed = False
        # What is loaded (changed under _api).
        self._serial = 0
        self._track_id: int | None = None
        self._path: str | bytes | None = None
        self._gain_db: float | None = None
        self._opened = False
        self._started_sent = False
        # The buffer and playback (changed under _cond).
        self._state: State = "stopped"
        self._gen = 0
        self._request: _Request | None = None
        self._blocks: deque[FloatArray] = deque()
        self._head = 0
        self._buffered = 0
        self._eof = False
        self._end_sent = False
        self._origin = 0  # frame of the track where the current generation starts
        self._consumed = 0  # frames played since then
        self._listened = 0  # frames played since the load
        self._duration: float | None = None
        self._gain = 1.0
        self._volume = 1.0
        # What the output was handed (written by the output thread only).
        self._frames_out = 0
        self._audible = 0
        self._peak = 0.0
        self._output, self.unavailable_reason = self._open_device(backend)
        self._attach(self._output)
        #: False when there is no output device; then nothing plays and the methods do nothing.
        self.available: bool = self._output is not None
        self._retry_s = PROBE_S  # REOPEN_S once a device went away
        if not self.available and _may_appear(self.unavailable_reason):
            self._reopen_at = time.monotonic() + PROBE_S  # the event thread looks again
        self._decoder = threading.Thread(
            target=self._decode_loop, name="musicorg-decoder", daemon=True
        )
        self._events = threading.Thread(
            target=self._event_loop, name="musicorg-player-events", daemon=True
        )
        self._decoder.start()
        self._events.start()

    # --- what callers read --------------------------------------------------------------------

    @property
    def backend_name(self) -> str | None:
        """The output's backend as miniaudio names it ("PulseAudio", "ALSA", "Null"...)."""
        return None if self._output is None else self._output.name

    @property
    def state(self) -> State:
        return self._state

    @property
    def current_track_id(self) -> int | None:
        """The loaded track's id (as given to :meth:`load`); it stays after the end."""
        return self._track_id

    @property
    def volume(self) -> float:
        return self._volume

    def position(self) -> float:
        """Seconds into the track that the device has been handed."""
        with self._cond:
            return (self._origin + self._consumed) / RATE

    def listened(self) -> float:
        """Seconds of the loaded track played so far (pauses and seeks do not count)."""
        return self._listened / RATE

    def duration(self) -> float | None:
        """The loaded track's length from its headers; None until the decoder has opened it."""
        return self._duration

    def received(self) -> Received:
        """What the device callback handed to the device since the start (or the last
        :meth:`reset_received`)."""
        return Received(self._frames_out, self._audible, self._peak)

    def reset_received(self) -> None:
        with self._cond:
            self._frames_out = self._audible = 0
            self._peak = 0.0

    def halt_output_device(self) -> None:
        """Stop the output device underneath the player, as unplugging it does (tests):
        miniaudio's stop callback follows, and :class:`OutputLost`."""
        output = self._output
        if output is not None:
            output.halt()

    # --- what callers do ----------------------------------------------------------------------

    def load(
        self,
        path: str | bytes,
        *,
        track_id: int | None = None,
        gain_db: float | None = None,
        start: bool = True,
    ) -> int:
        """Load ``path`` (the track playing now is stopped) and play it from the start, or
        hold it paused at the start with ``start=False``. ``gain_db`` is the gain to play it
        at; None reads the file's ReplayGain (none: 0 dB). Returns the load's serial, which the
        events of this track carry. A file that cannot be played gives :class:`Failed`."""
        with self._api:
            if self._closed or not self.available:
                return self._serial
            self._end_listen()
            self._serial += 1
            self._track_id, self._path, self._gain_db = track_id, path, gain_db
            self._opened = self._started_sent = False
            with self._cond:
                self._restart(0.0, load=True)
                self._state = "playing" if start else "paused"
            if start:
                self._start_output()
            else:
                self._stop_output()
            return self._serial

    def play(self) -> None:
        """Play: resume when paused, start the loaded track again when it stopped or ended."""
        with self._api:
            if self._closed or self._output is None or self._path is None:
                return
            if self._state == "stopped":
                self.load(self._path, track_id=self._track_id, gain_db=self._gain_db)
                return
            if self._state == "paused":
                with self._cond:
                    self._state = "playing"
                self._post(Resumed(self._track_id, self.position(), self._serial))
                self._start_output()
                if self._opened and not self._started_sent:
                    self._started_sent = True
                    self._post(Started(self._track_id, self._path, self._serial))

    def pause(self) -> None:
        with self._api:
            if self._state != "playing":
                return
            with self._cond:
                self._state = "paused"
            self._stop_output()
            self._post(Paused(self._track_id, self.position(), self._serial))

    def toggle(self) -> None:
        """Pause when playing, play otherwise."""
        with self._api:
            if self._state == "playing":
                self.pause()
            else:
                self.play()

    def stop(self) -> None:
        """Stop; :meth:`play` then starts the track again from the start."""
        with self._api:
            if self._state == "stopped":
                return
            self._end_listen()
            with self._cond:
                self._state = "stopped"
                self._gen += 1
                self._request = None
                self._flush()
                self._origin = self._consumed = 0
            self._stop_output()

    def seek(self, seconds: float) -> None:
        """Go to ``seconds`` into the loaded track (while playing or paused)."""
        with self._api:
            if self._state == "stopped" or self._path is None:
                return
            target = max(0.0, float(seconds))
            if self._duration is not None:
                target = min(target, self._duration)
            with self._cond:
                self._restart(target, load=False)

    def set_volume(self, volume: float) -> None:
        """The volume, 0 (silent) to 1 (as decoded, after ReplayGain)."""
        self._volume = min(1.0, max(0.0, float(volume)))

    def close(self) -> None:
        """Stop, close the device and end the threads (not from an event handler)."""
        with self._api:
            if self._closed:
                return
            self._end_listen()
            self._closed = True
            with self._cond:
                self._state = "stopped"
                self._gen += 1
                self._flush()
                self._cond.notify_all()
            if self._output is not None:
                self._output.close()
            self._close_lost()
            self._inbox.put(_CLOSE)
        for thread in (self._decoder, self._events):
            if thread is not threading.current_thread():
                thread.join(timeout=5.0)

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- helpers (called with _api held) ------------------------------------------------------

    def _post(self, event: PlayerEvent) -> None:
        self._inbox.put(event)

    def _end_listen(self) -> None:
        """Report the end of the listen in progress, if any: :class:`Ended` when the output
        already played it to the end, else :class:`Stopped`."""
        if self._state == "stopped" or self._path is None:
            return
        with self._cond:
            ended, listened = self._end_sent, self._listened / RATE
            self._end_sent = True  # a late "ended" of this generation is not reported again
        event = Ended if ended else Stopped
        self._post(event(self._track_id, listened, self._serial))

    def _start_output(self) -> None:
        if self._output is None:
            return
        try:
            self._output.start(self._fill)
        except miniaudio.MiniaudioError as exc:  # gone since it was last used
            log.warning("the audio device did not start: %s", _detail(exc))
            lost = self._drop_output(self._output)
            if lost is not None:
                self._post(lost)

    def _attach(self, output: _Output | None) -> None:
        """Have ``output`` report when its device goes away (to the event thread)."""
        if output is not None:
            output.on_lost = lambda: self._inbox.put(("lost", output))

    def _drop_output(self, output: _Output) -> OutputLost | None:
        """The device of ``output`` went away: stop, close it, and try again later; the event
        to send (None when ``output`` is not the player's any more)."""
        if output is not self._output or self._closed:
            return None
        with self._cond:
            listened = self._listened / RATE if self._state != "stopped" else 0.0
            self._end_sent = True  # the listen ends here, not with "ended" or "stopped"
            self._state = "stopped"
            self._gen += 1
            self._request = None
            self._flush()
            self._origin = self._consumed = 0
        # Closed later (before the next try to open one), not now: the stop that reported the
        # loss may still be under way on miniaudio's side.
        self._lost.append(output)
        self._output = None
        self.available, self.unavailable_reason = False, LOST
        self._retry_s = REOPEN_S
        self._reopen_at = time.monotonic() + REOPEN_S
        log.warning("playback stopped: %s", LOST)
        return OutputLost(self._track_id, listened, LOST, self._serial)

    def _stop_output(self) -> None:
        if self._output is not None:
            self._output.stop()

    # --- helpers (called with _cond held) -----------------------------------------------------

    def _flush(self) -> None:
        self._blocks.clear()
        self._head = self._buffered = 0

    def _restart(self, offset_s: float, *, load: bool) -> None:
        """A new generation: empty buffer, position ``offset_s``, the decoder asked to go there
        (to open the file first when ``load``)."""
        assert self._path is not None
        self._gen += 1
        self._flush()
        self._eof = self._end_sent = False
        self._origin, self._consumed = round(offset_s * RATE), 0
        if load:
            self._listened = 0
            self._duration = None
            self._gain = 1.0
        self._request = _Request(self._gen, self._serial, self._path, offset_s, self._gain_db)
        self._cond.notify_all()

    # --- the output thread --------------------------------------------------------------------

    def _fill(self, frames: int) -> FloatArray:
        """The device callback: ``frames`` frames from the buffer (silence where it has none)."""
        out = np.zeros((frames, CHANNELS), dtype=np.float32)
        try:
            got, scale, ended = self._take(out)
            if got:
                played = out[:got]
                played *= np.float32(scale)
                np.clip(played, -1.0, 1.0, out=played)
                loudest = np.abs(played).max(axis=1)
                self._audible += int(np.count_nonzero(loudest > SILENCE))
                self._peak = max(self._peak, float(loudest.max()))
            self._frames_out += frames
            if ended is not None:
                self._inbox.put(("ended", ended))
        except Exception:  # the output thread must go on: silence instead
            log.exception("the audio callback failed")
            out[:] = 0.0
        return out

    def _take(self, out: FloatArray) -> tuple[int, float, int | None]:
        """Move buffered frames into ``out``: (frames moved, gain to apply, the generation
        that just reached its end or None)."""
        frames, got, ended = len(out), 0, None
        with self._cond:
            if self._state != "playing":
                return 0, 1.0, None
            while got < frames and self._blocks:
                block = self._blocks[0]
                take = min(frames - got, len(block) - self._head)
                out[got : got + take] = block[self._head : self._head + take]
                got += take
                self._head += take
                if self._head >= len(block):
                    self._blocks.popleft()
                    self._head = 0
            if got:
                self._buffered -= got
                self._consumed += got
                self._listened += got
                self._cond.notify_all()
            if not self._blocks and self._eof and not self._end_sent:
                self._end_sent = True
                ended = self._gen
            return got, self._volume * self._gain, ended

    # --- the decoder thread -------------------------------------------------------------------

    def _next_job(self, gen: int, stream: decode.Stream | None) -> tuple[bool, _Request | None]:
        """Wait until there is something to do: (closed, a request or None to decode on)."""
        with self._cond:
            while True:
                if self._closed:
                    return True, None
                if self._request is not None:
                    request, self._request = self._request, None
                    return False, request
                if (
                    stream is not None
                    and gen == self._gen
                    and not self._eof
                    and self._buffered < self._capacity
                ):
                    return False, None
                self._cond.wait()

    def _decode_loop(self) -> None:
        stream: decode.Stream | None = None
        serial, gen = -1, -1
        try:
            while True:
                closed, request = self._next_job(gen, stream)
                if closed:
                    return
                if request is not None:
                    gen = request.gen
                    if request.serial != serial or stream is None:
                        if stream is not None:
                            stream.close()
                        serial, stream = request.serial, self._open(request)
                    elif stream is not None:
                        self._seek(stream, request)
                    continue
                assert stream is not None
                self._push(gen, self._read(stream))
        finally:
            if stream is not None:
                stream.close()

    def _open(self, request: _Request) -> decode.Stream | None:
        try:
            stream = decode.Stream(request.path)
        except decode.DecodeError as exc:
            self._inbox.put(("failed", request.serial, f"cannot play {exc}"))
            return None
        except Exception as exc:  # a bug in decoding: one line to the user, the trace to the log
            log.exception("opening %r failed", request.path)
            name = decode.display_name(request.path)
            self._inbox.put(("failed", request.serial, f"cannot play {name}: {exc}"))
            return None
        if request.gain_db is not None:
            gain = replaygain.factor(request.gain_db)
        else:
            tags = replaygain.read(request.path)
            gain = 1.0 if tags is None else tags.factor()
        with self._cond:
            if request.gen == self._gen:
                self._duration, self._gain = stream.duration, gain
        self._inbox.put(("opened", request.serial))
        if request.offset_s > 0:
            self._seek(stream, request)
        return stream

    def _seek(self, stream: decode.Stream, request: _Request) -> None:
        try:
            stream.seek(request.offset_s)
        except Exception as exc:  # an unseekable file ends where it is
            log.warning("seeking in %r failed: %s", request.path, exc)
            self._push(request.gen, None)

    def _read(self, stream: decode.Stream) -> FloatArray | None:
        try:
            return stream.read()
        except Exception:  # damaged data past what the decoder forgives: the track ends here
            log.exception("decoding %r failed", stream.name)
            return None

    def _push(self, gen: int, block: FloatArray | None) -> None:
        with self._cond:
            if gen != self._gen:
                return  # decoded for a position or a track that is gone
            if block is None:
                self._eof = True
            else:
                self._blocks.append(block)
                self._buffered += len(block)

    # --- the event thread ---------------------------------------------------------------------

    def _event_loop(self) -> None:
        tick = time.monotonic() + PROGRESS_S
        while True:
            wake = tick if self._reopen_at is None else min(tick, self._reopen_at)
            try:
                item = self._inbox.get(timeout=max(0.0, wake - time.monotonic()))
            except queue.Empty:
                item = None
            if item is _CLOSE:
                return
            events = self._handle(item) if item is not None else []
            if self._reopen_at is not None and time.monotonic() >= self._reopen_at:
                events.extend(self._reopen())
            now = time.monotonic()
            if now >= tick:
                tick = now + PROGRESS_S
                if self._state == "playing":
                    with self._cond:
                        position = (self._origin + self._consumed) / RATE
                        listened = self._listened / RATE
                    events.append(Progress(self._track_id, position, listened, self._serial))
            for event in events:
                self._deliver(event)

    def _close_lost(self) -> None:
        """Close the outputs whose device went away."""
        while self._lost:
            try:
                self._lost.pop().close()
            except miniaudio.MiniaudioError as exc:
                log.warning("the lost audio device did not close cleanly: %s", _detail(exc))

    def _reopen(self) -> list[PlayerEvent]:
        """Try to open an output again after the device went away, or when there was none at
        the start (the event thread)."""
        with self._api:
            self._close_lost()
        output, _why = self._open_device(self._backend)  # not under _api: it may take a while
        with self._api:
            if self._closed or self._output is not None:
                if output is not None:
                    output.close()
                return []
            if output is None:
                self._reopen_at = time.monotonic() + self._retry_s
                return []
            self._attach(output)
            self._output, self._reopen_at = output, None
            self.available, self.unavailable_reason = True, None
            log.info("an audio output is back: %s", output.name)
            return [OutputBack(output.name, self._serial)]

    def _handle(self, item: Any) -> list[PlayerEvent]:
        """What an item of the inbox means: an event to pass on, or a note from the decoder
        or the output that changes the state first."""
        if not isinstance(item, tuple):
            return [item]
        kind, number = item[0], item[1]
        with self._api:
            if self._closed:
                return []
            if kind == "lost":
                lost = self._drop_output(number)  # here "number" is the output that was lost
                return [] if lost is None else [lost]
            if kind == "ended":
                with self._cond:
                    current = number == self._gen and self._state == "playing"
                    if current:
                        self._state = "stopped"
                if not current:
                    return []
                self._stop_output()
                return [Ended(self._track_id, self._listened / RATE, self._serial)]
            if number != self._serial or self._path is None:
                return []  # about a load that is gone
            if kind == "opened":
                self._opened = True
                if self._state == "playing" and not self._started_sent:
                    self._started_sent = True
                    return [Started(self._track_id, self._path, self._serial)]
                return []
            # "failed"
            with self._cond:
                self._state = "stopped"
                self._end_sent = True
            self._stop_output()
            return [Failed(self._track_id, str(item[2]), self._serial)]

    def _deliver(self, event: PlayerEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("a player event handler failed on %r", event)
