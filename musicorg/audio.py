"""Decode a window of an audio file into a mono float32 signal.

Only the requested window is decoded: a 3-hour file costs about what a 3-minute one does.

- Formats libsndfile reads (WAV, FLAC, OGG Vorbis, Opus, MP3, AIFF, ...) go through
  :mod:`soundfile`, which seeks to the window's first frame and reads just its frames.
- Everything else (M4A/AAC/ALAC, WMA, ...) and any file libsndfile refuses goes through
  PyAV (:mod:`av`, which bundles FFmpeg) with a container seek.

The channels are averaged into mono, then :func:`soxr.resample` brings the signal to the
requested rate. Files are opened through a Python file object, so paths may be ``bytes``
(names that are not valid UTF-8) as well as ``str`` or :class:`os.PathLike`.

Truncated files give whatever part of the window decodes. When nothing decodes a
:class:`DecodeError` says why, with a machine-readable :attr:`DecodeError.kind`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import IO, Any, Final, Literal

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

__all__ = [
    "DEFAULT_SECONDS",
    "DEFAULT_SR",
    "DecodeError",
    "DecodeErrorKind",
    "decode_window",
    "probe_duration",
]

DEFAULT_SR: Final = 22050
DEFAULT_SECONDS: Final = 30.0

DecodeErrorKind = Literal["empty", "not audio", "truncated", "permission denied", "unreadable"]

# Containers libsndfile does not read: go straight to PyAV instead of failing first.
_AV_FIRST: Final = frozenset(
    {".m4a", ".m4b", ".mp4", ".aac", ".alac", ".wma", ".asf", ".ape", ".wv", ".mka", ".webm"}
)
# Read size for soundfile, in frames: bounded memory for any window length.
_BLOCK: Final = 1 << 16

FloatArray = npt.NDArray[np.float32]
PathArg = str | bytes | os.PathLike[str] | os.PathLike[bytes]


class DecodeError(Exception):
    """A file could not be decoded.

    ``kind`` is one of ``"empty"``, ``"not audio"``, ``"truncated"``, ``"permission denied"``
    or ``"unreadable"``; ``str(error)`` is a human-readable message naming the file.
    """

    def __init__(self, kind: DecodeErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: DecodeErrorKind = kind
        self.message = message


def _display(path: PathArg) -> str:
    return os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")


def _open(path: PathArg) -> IO[bytes]:
    name = _display(path)
    try:
        handle = open(os.fsencode(path), "rb")  # noqa: SIM115 - closed by the caller
    except PermissionError as exc:
        raise DecodeError("permission denied", f"{name}: permission denied") from exc
    except FileNotFoundError as exc:
        raise DecodeError("unreadable", f"{name}: no such file") from exc
    except IsADirectoryError as exc:
        raise DecodeError("unreadable", f"{name}: is a directory") from exc
    except OSError as exc:
        raise DecodeError("unreadable", f"{name}: {exc.strerror or exc}") from exc
    try:
        size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        handle.close()
        raise DecodeError("unreadable", f"{name}: {exc.strerror or exc}") from exc
    if size == 0:
        handle.close()
        raise DecodeError("empty", f"{name}: the file is empty")
    return handle


def _window(duration: float, seconds: float, offset: float | None) -> tuple[float, float]:
    """Start and length in seconds of the window within a track of ``duration`` seconds."""
    if offset is None:
        start = max(0.0, (duration - seconds) / 2.0) if math.isfinite(duration) else 0.0
    else:
        start = max(0.0, float(offset))
    return start, seconds


def _channel_mean(block: FloatArray) -> FloatArray:
    """Mean over the channels of a (frames, channels) block.

    Column by column: ``block.mean(axis=1)`` reduces along the short, strided axis and is
    several times slower for the 2-6 channels of real files.
    """
    channels = block.shape[1]
    if channels == 1:
        return np.ascontiguousarray(block[:, 0], dtype=np.float32)
    out = block[:, 0].astype(np.float32, copy=True)
    for c in range(1, channels):
        out += block[:, c]
    out *= np.float32(1.0 / channels)
    return out


def _to_mono_resampled(chunks: list[FloatArray], native_sr: int, sr: int) -> FloatArray:
    """Concatenate (frames, channels) blocks, average the channels, resample to ``sr``."""
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    mono = np.concatenate([_channel_mean(c) for c in chunks])
    if mono.size == 0:
        return mono.astype(np.float32, copy=False)
    if native_sr != sr:
        mono = soxr.resample(mono, native_sr, sr, quality="HQ")
    out = np.ascontiguousarray(mono, dtype=np.float32)
    np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return out


# --------------------------------------------------------------------------------------------
# soundfile


class _Refused(Exception):
    """soundfile cannot open this file: try PyAV."""


def _decode_soundfile(
    handle: IO[bytes], seconds: float, sr: int, offset: float | None
) -> tuple[FloatArray, float]:
    try:
        snd = sf.SoundFile(handle)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise _Refused(str(exc)) from exc
    with snd:
        native_sr = int(snd.samplerate)
        total = int(snd.frames)
        if native_sr <= 0 or snd.channels <= 0:
            raise _Refused("no audio stream")
        duration = total / native_sr
        start_s, length_s = _window(duration, seconds, offset)
        start = min(round(start_s * native_sr), total)
        want = max(0, min(round(length_s * native_sr), total - start))
        chunks: list[FloatArray] = []
        if want == 0:
            return np.zeros(0, dtype=np.float32), duration
        seek_failed = False
        if start > 0:
            if snd.seekable():
                try:
                    snd.seek(start)
                except (sf.LibsndfileError, RuntimeError):
                    seek_failed = True
            else:
                seek_failed = True
            if seek_failed:
                # Seeking failed (often a truncated file): let PyAV try to do better.
                raise _Refused("seek failed")
        remaining = want
        while remaining > 0:
            try:
                block = snd.read(min(_BLOCK, remaining), dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError):
                break  # truncated or corrupt from here on: keep what decoded
            if block.shape[0] == 0:
                break
            chunks.append(block)
            remaining -= block.shape[0]
        if not chunks:
            raise _Refused("no frames decoded")
        return _to_mono_resampled(chunks, native_sr, sr), duration


# --------------------------------------------------------------------------------------------
# PyAV


def _frame_to_array(frame: Any) -> FloatArray:
    """An :class:`av.AudioFrame` as a float32 (samples, channels) array."""
    data = frame.to_ndarray()
    fmt = frame.format
    channels = len(frame.layout.channels)
    data = data.reshape(channels, -1) if fmt.is_planar else data.reshape(-1, channels).T
    kind = data.dtype
    if kind == np.uint8:
        arr = (data.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(kind, np.integer):
        arr = data.astype(np.float32) / float(np.iinfo(kind).max + 1)
    else:
        arr = data.astype(np.float32, copy=False)
    return np.ascontiguousarray(arr.T)


def _av_duration(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        value = float(stream.duration * stream.time_base)
        if value > 0:
            return value
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / 1_000_000.0
    # No duration in the headers (raw AAC, broken index): walk the packets without decoding.
    end = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None and packet.time_base is not None:
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    container.seek(0)
    return end if end > 0 else math.inf


def _av_frames(container: Any, stream: Any) -> Iterator[Any]:
    """Decoded frames; a decoding error ends the stream (keep what came before)."""
    import av

    try:
        for packet in container.demux(stream):
            try:
                yield from packet.decode()
            except av.error.InvalidDataError:
                continue  # one bad packet: skip it
    except (av.error.FFmpegError, OSError, EOFError):
        return


def _decode_av(
    handle: IO[bytes], seconds: float, sr: int, offset: float | None, name: str
) -> tuple[FloatArray, float]:
    import av

    handle.seek(0)
    try:
        container = av.open(handle, mode="r", metadata_errors="ignore")
    except PermissionError as exc:
        raise DecodeError("permission denied", f"{name}: permission denied") from exc
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise DecodeError("not audio", f"{name}: not an audio file") from exc
    with container:
        if not container.streams.audio:
            raise DecodeError("not audio", f"{name}: no audio stream")
        stream = container.streams.audio[0]
        stream.codec_context.thread_type = "AUTO"
        native_sr = int(stream.codec_context.sample_rate or stream.rate or 0)
        if native_sr <= 0:
            raise DecodeError("not audio", f"{name}: the audio stream has no sample rate")
        try:
            duration = _av_duration(container, stream)
        except (av.error.FFmpegError, OSError) as exc:
            raise DecodeError("unreadable", f"{name}: {exc}") from exc
        start_s, length_s = _window(duration, seconds, offset)
        if start_s > 0:
            try:
                container.seek(int(start_s * 1_000_000), backward=True, any_frame=False)
            except (av.error.FFmpegError, OSError):
                container.seek(0)
        want = round(length_s * native_sr)
        if math.isfinite(duration):
            want = max(0, min(want, round((duration - start_s) * native_sr)))
        if want == 0:
            return np.zeros(0, dtype=np.float32), duration
        chunks: list[FloatArray] = []
        got = 0
        decoded_any = False
        for frame in _av_frames(container, stream):
            decoded_any = True
            block = _frame_to_array(frame)
            rate = int(frame.sample_rate or native_sr)
            if rate != native_sr:  # sample-rate change mid-stream: rare, keep it simple
                block = soxr.resample(block, rate, native_sr)
            if frame.time is not None:
                skip = round((start_s - float(frame.time)) * native_sr)
                if skip >= block.shape[0]:
                    continue
                if skip > 0:
                    block = block[skip:]
            chunks.append(block[: want - got])
            got += chunks[-1].shape[0]
            if got >= want:
                break
        if not decoded_any:
            raise DecodeError("truncated", f"{name}: no audio could be decoded")
        return _to_mono_resampled(chunks, native_sr, sr), duration


# --------------------------------------------------------------------------------------------


def decode_window(
    path: PathArg,
    *,
    seconds: float = DEFAULT_SECONDS,
    sr: int = DEFAULT_SR,
    offset: float | None = None,
) -> tuple[FloatArray, float]:
    """Decode ``seconds`` of ``path`` as mono float32 at ``sr`` Hz.

    The window is centred in the track when ``offset`` is None, and starts ``offset``
    seconds in otherwise. A track shorter than the window gives all of itself; a window
    past the end gives an empty array. A truncated file gives what decodes of the window; when
    the centred window lies wholly in the missing part, the first ``seconds`` that decode.
    Returns ``(signal, duration of the whole source in seconds, as its headers say)``.

    Raises :class:`DecodeError` (``kind`` says why) when no audio can be decoded.
    """
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds!r}")
    if sr <= 0:
        raise ValueError(f"sr must be positive, got {sr!r}")
    name = _display(path)
    suffix = os.path.splitext(os.fsdecode(path))[1].lower()
    with _open(path) as handle:
        signal, duration = _decode(handle, suffix, seconds, sr, offset, name)
        if signal.size == 0 and offset is None and duration > seconds:
            # The headers promise a longer track than the data hold (a truncated file) and
            # the centred window fell past the end of what decodes: take the first window.
            signal, _ = _decode(handle, suffix, seconds, sr, 0.0, name)
            if signal.size == 0:
                raise DecodeError("truncated", f"{name}: no audio could be decoded")
        return signal, duration


def _decode(
    handle: IO[bytes], suffix: str, seconds: float, sr: int, offset: float | None, name: str
) -> tuple[FloatArray, float]:
    if suffix not in _AV_FIRST:
        handle.seek(0)
        try:
            return _decode_soundfile(handle, seconds, sr, offset)
        except _Refused:
            pass
    try:
        return _decode_av(handle, seconds, sr, offset, name)
    except DecodeError:
        raise
    except Exception as exc:  # anything else from FFmpeg's side
        raise DecodeError("unreadable", f"{name}: {exc}") from exc


def probe_duration(path: PathArg) -> float:
    """The duration of ``path`` in seconds, from its headers (nothing is decoded)."""
    name = _display(path)
    suffix = os.path.splitext(os.fsdecode(path))[1].lower()
    with _open(path) as handle:
        if suffix not in _AV_FIRST:
            try:
                info = sf.info(handle)
                if info.samplerate > 0 and info.frames > 0:
                    return float(info.frames) / float(info.samplerate)
            except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
                pass
        import av

        handle.seek(0)
        try:
            with av.open(handle, mode="r", metadata_errors="ignore") as container:
                if not container.streams.audio:
                    raise DecodeError("not audio", f"{name}: no audio stream")
                return _av_duration(container, container.streams.audio[0])
        except av.error.FFmpegError as exc:
            raise DecodeError("not audio", f"{name}: not an audio file") from exc
