"""Decode a whole file for playback, block by block, as float32 stereo at :data:`RATE` Hz.

The analysis decodes one window of a file in one go (``musicorg.analyse.audio``); the player
needs the whole file as a stream it can seek in, so it has its own small decoder. The format
dispatch is the analysis's: formats libsndfile reads (MP3, Ogg Vorbis and Opus, FLAC, WAV,
AIFF) go through :mod:`soundfile`, which seeks to the exact frame; M4A/AAC/ALAC, WMA and what
libsndfile refuses go through PyAV (FFmpeg), whose seek lands on a packet before the target
and is then trimmed to it by the frames' timestamps.

Every source gives ``(frames, 2)`` float32 blocks at its own rate (mono is doubled, more
channels are folded into two); :class:`Stream` resamples them to :data:`RATE` with a streaming
:class:`soxr.ResampleStream`. One :class:`Stream` is used by one thread (the player's
decoder). A file that gives no audio at all is a :class:`DecodeError` with one plain line.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

__all__ = ["CHANNELS", "RATE", "DecodeError", "Stream", "display_name"]

#: The rate and channels of everything the player outputs.
RATE: Final = 48000
CHANNELS: Final = 2
# Frames read from a source at a time: about 90 ms at 44.1 kHz.
_BLOCK: Final = 4096
# Containers libsndfile does not read: straight to PyAV.
_AV_FIRST: Final = frozenset(
    {".m4a", ".m4b", ".mp4", ".aac", ".alac", ".wma", ".asf", ".ape", ".wv", ".mka", ".webm"}
)
# Channels beyond the first two (centre, surround, LFE) join both sides at this weight.
_FOLD: Final = 0.5

FloatArray = npt.NDArray[np.float32]


class DecodeError(Exception):
    """A file that cannot be played; ``str(error)`` says why, in one line naming the file."""


def display_name(path: str | bytes) -> str:
    """The file's name for messages (never fails on names that are not valid UTF-8)."""
    name = os.path.basename(os.fsdecode(path))
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _stereo(block: FloatArray) -> FloatArray:
    """A (frames, channels) block as (frames, 2) float32."""
    channels = block.shape[1]
    if channels == 2:
        return np.ascontiguousarray(block, dtype=np.float32)
    if channels == 1:
        return np.repeat(block.astype(np.float32, copy=False), 2, axis=1)
    out = block[:, :2].astype(np.float32, copy=True)
    rest = block[:, 2:].mean(axis=1, dtype=np.float32) * np.float32(_FOLD)
    out += rest[:, None]
    out *= np.float32(1.0 / (1.0 + _FOLD))
    return out


_EMPTY: Final = np.zeros((0, CHANNELS), dtype=np.float32)


class _Source(Protocol):
    rate: int
    duration: float | None

    def read(self, frames: int) -> FloatArray: ...

    def seek(self, seconds: float) -> None: ...

    def close(self) -> None: ...


class _SoundfileSource:
    """libsndfile: exact seeks; a read error mid-file ends the stream there."""

    def __init__(self, raw: bytes) -> None:
        self._snd = sf.SoundFile(raw)
        self.rate = int(self._snd.samplerate)
        frames = int(self._snd.frames)
        self._frames = frames
        if self.rate <= 0 or self._snd.channels <= 0:
            self._snd.close()
            raise ValueError("no audio stream")
        self.duration: float | None = frames / self.rate if 0 < frames < 1 << 62 else None

    def read(self, frames: int) -> FloatArray:
        try:
            data = self._snd.read(frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError):
            return _EMPTY  # damaged from here on: what played is kept
        return _stereo(data) if len(data) else _EMPTY

    def seek(self, seconds: float) -> None:
        target = round(max(0.0, seconds) * self.rate)
        if self.duration is not None:
            target = min(target, self._frames)
        self._snd.seek(target)

    def close(self) -> None:
        self._snd.close()


def _frame_array(frame: Any) -> FloatArray:
    """An :class:`av.AudioFrame` of any sample format as (frames, 2) float32."""
    data = frame.to_ndarray()
    channels = int(frame.layout.nb_channels)
    data = data.reshape(channels, -1).T if frame.format.is_planar else data.reshape(-1, channels)
    if data.dtype == np.uint8:
        arr = (data.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(data.dtype, np.integer):
        arr = data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)
    else:
        arr = data.astype(np.float32, copy=False)
    return _stereo(arr)


class _AvSource:
    """PyAV (FFmpeg): a container seek to the packet before the target, then the decoded
    frames are trimmed to it by their timestamps."""

    def __init__(self, raw: bytes, name: str) -> None:
        # PyAV loads FFmpeg's libraries: only when a file needs it
        import av

        self._av = av
        self._handle = open(raw, "rb")  # noqa: SIM115 - closed by close()
        try:
            self._container = av.open(self._handle, mode="r", metadata_errors="ignore")
        except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
            self._handle.close()
            raise DecodeError(f"{name}: not an audio file musicorg can play") from exc
        if not self._container.streams.audio:
            self.close()
            raise DecodeError(f"{name}: the file has no audio")
        self._stream = self._container.streams.audio[0]
        self.rate = int(self._stream.codec_context.sample_rate or self._stream.rate or 0)
        if self.rate <= 0:
            self.close()
            raise DecodeError(f"{name}: the audio has no sample rate")
        self.duration = self._duration()
        self._frames: Iterator[Any] = self._decoded()
        self._skip_to: float | None = None
        self._pending: list[FloatArray] = []

    def _duration(self) -> float | None:
        stream = self._stream
        if stream.duration is not None and stream.time_base is not None:
            value = float(stream.duration * stream.time_base)
            if value > 0:
                return value
        if self._container.duration is not None and self._container.duration > 0:
            return float(self._container.duration) / 1_000_000.0
        return None

    def _decoded(self) -> Iterator[Any]:
        av = self._av
        try:
            for packet in self._container.demux(self._stream):
                try:
                    yield from packet.decode()
                except av.error.InvalidDataError:
                    continue  # one bad packet: skip it
        except (av.error.FFmpegError, OSError, EOFError):
            return  # damaged from here on: what played is kept

    def _trimmed(self, frame: Any) -> FloatArray | None:
        """The frame's samples from the seek target on (None when it ends before it)."""
        arr = _frame_array(frame)
        if self._skip_to is None:
            return arr
        if frame.time is None:
            self._skip_to = None
            return arr
        skip = round((self._skip_to - float(frame.time)) * self.rate)
        if skip >= len(arr):
            return None
        self._skip_to = None
        return arr[max(0, skip) :]

    def read(self, frames: int) -> FloatArray:
        parts, have = self._pending, sum(len(p) for p in self._pending)
        self._pending = []
        while have < frames:
            frame = next(self._frames, None)
            if frame is None:
                break
            arr = self._trimmed(frame)
            if arr is not None and len(arr):
                parts.append(arr)
                have += len(arr)
        if not parts:
            return _EMPTY
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def seek(self, seconds: float) -> None:
        target = max(0.0, seconds)
        self._container.seek(int(target * 1_000_000), backward=True, any_frame=False)
        self._stream.codec_context.flush_buffers()
        self._frames = self._decoded()
        self._pending = []
        self._skip_to = target if target > 0 else None

    def close(self) -> None:
        try:
            self._container.close()
        finally:
            self._handle.close()


def _check_file(raw: bytes, name: str) -> None:
    try:
        st = os.stat(raw)
    except FileNotFoundError as exc:
        raise DecodeError(f"{name}: the file is not there any more") from exc
    except OSError as exc:
        raise DecodeError(f"{name}: {exc.strerror or exc}") from exc
    if not os.access(raw, os.R_OK):
        raise DecodeError(f"{name}: permission denied")
    if os.path.isdir(raw):
        raise DecodeError(f"{name}: is a folder, not a file")
    if st.st_size == 0:
        raise DecodeError(f"{name}: the file is empty")


def _open_source(raw: bytes, name: str) -> _Source:
    suffix = os.path.splitext(os.fsdecode(raw))[1].lower()
    if suffix not in _AV_FIRST:
        try:
            return _SoundfileSource(raw)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
            pass  # libsndfile refuses it: FFmpeg may know it
    try:
        return _AvSource(raw, name)
    except DecodeError:
        raise
    except Exception as exc:  # anything else from FFmpeg's side
        raise DecodeError(f"{name}: not an audio file musicorg can play") from exc


class Stream:
    """A file decoded as float32 stereo at :data:`RATE`: :meth:`read` gives the next block,
    :meth:`seek` moves. Raises :class:`DecodeError` when the file gives no audio at all."""

    def __init__(self, path: str | bytes) -> None:
        raw = os.fsencode(path)
        self.name = display_name(raw)
        _check_file(raw, self.name)
        self._source = _open_source(raw, self.name)
        #: The length in seconds as the file's headers say, None when they do not.
        self.duration: float | None = self._source.duration
        self._resampler = self._new_resampler()
        self._done = False
        self._first: FloatArray | None = None
        try:
            first = self.read()
        except Exception as exc:
            self.close()
            raise DecodeError(f"{self.name}: no audio could be decoded") from exc
        if first is None:
            self.close()
            raise DecodeError(f"{self.name}: no audio could be decoded")
        self._first = first  # given by the first read()

    def _new_resampler(self) -> soxr.ResampleStream | None:
        if self._source.rate == RATE:
            return None
        return soxr.ResampleStream(self._source.rate, RATE, CHANNELS, dtype="float32", quality="HQ")

    def read(self) -> FloatArray | None:
        """The next block, (frames, 2) float32 at :data:`RATE`; None at the end."""
        if self._first is not None:
            first, self._first = self._first, None
            return first
        while not self._done:
            block = self._source.read(_BLOCK)
            last = len(block) == 0
            self._done = last
            out = block if self._resampler is None else self._resampler.resample_chunk(block, last)
            if len(out):
                out = np.ascontiguousarray(out, dtype=np.float32)
                if not math.isfinite(float(out.sum())):  # one cheap pass when all is finite
                    np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
                return out
        return None

    def seek(self, seconds: float) -> None:
        """Go to ``seconds`` from the start; the next :meth:`read` starts there."""
        self._first = None
        self._source.seek(seconds)
        self._resampler = self._new_resampler()
        self._done = False

    def close(self) -> None:
        self._source.close()
