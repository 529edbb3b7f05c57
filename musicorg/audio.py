"""Decode a window of an audio file into a mono float32 signal.

Only the requested window is decoded: a 3-hour file costs about what a 3-minute one does.

- MP3, WAV, AIFF and the other formats libsndfile reads go through :mod:`soundfile`, which
  seeks to the window's first frame and reads just its frames.
- M4A/AAC/ALAC, WMA and anything libsndfile refuses go through PyAV (:mod:`av`, which bundles
  FFmpeg) with a container seek.
- OGG (Vorbis, Opus) and FLAC, which both can read, go through PyAV first because FFmpeg's
  decoders are faster there (30-s window of a 44.1-kHz stereo track, measured on the corpus:
  Vorbis 27 ms against libsndfile's 47-67 ms, Opus 42 against 127, FLAC 18 against 27; MP3
  31 against 27 and WAV 27 against 6 stay with libsndfile). Either decoder falls back to the
  other when it cannot open a file.

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
# Formats both read, where FFmpeg's decoder is the faster one: PyAV first, soundfile second.
_AV_PREFERRED: Final = frozenset({".ogg", ".oga", ".opus", ".flac"})
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

    def __reduce__(self) -> tuple[type[DecodeError], tuple[DecodeErrorKind, str]]:
        # Rebuilt with both arguments when it crosses a process boundary (analysis workers).
        return (type(self), (self.kind, self.message))


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
    return _resample(np.concatenate([_channel_mean(c) for c in chunks]), native_sr, sr)


def _resample(mono: FloatArray, native_sr: int, sr: int) -> FloatArray:
    """Mono float32 from ``native_sr`` to ``sr`` (soxr, high quality); NaN/inf become 0."""
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
    source: bytes, seconds: float, sr: int, offset: float | None
) -> tuple[FloatArray, float]:
    # libsndfile opens the (bytes) path itself: through a Python file object its MP3 reader
    # runs ~10% slower. Permissions and emptiness were checked when the caller opened it.
    try:
        snd = sf.SoundFile(source)
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


def _frame_to_mono(frame: Any) -> FloatArray:
    """An :class:`av.AudioFrame` (any sample format) as float32 mono: the channel mean."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    data = data.reshape(channels, -1) if frame.format.is_planar else data.reshape(-1, channels).T
    kind = data.dtype
    if kind == np.uint8:
        arr = (data.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(kind, np.integer):
        arr = data.astype(np.float32) / float(np.iinfo(kind).max + 1)
    else:
        arr = data.astype(np.float32, copy=False)
    mono = arr[0].copy() if channels == 1 else arr.mean(axis=0, dtype=np.float32)
    return np.asarray(mono, dtype=np.float32)


# Samples dropped from the front of the FIFO in one go while skipping to the window, and
# decoded past the window's end in case a late vote moves the window by a frame or two.
_AV_DROP: Final = 1 << 18
_AV_SLACK: Final = 4096


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
        want = round(length_s * native_sr)
        if math.isfinite(duration):
            want = max(0, min(want, round((duration - start_s) * native_sr)))
        if want == 0:
            return np.zeros(0, dtype=np.float32), duration
        # Seek a little before the window (FFmpeg may land just after the target), and
        # further back if the first frame still starts after the window.
        block: Any = None
        for attempt, margin in enumerate(_AV_SEEK_MARGINS):
            target = max(0.0, start_s - margin)
            if target > 0:
                try:
                    container.seek(int(target * 1_000_000), backward=True, any_frame=False)
                except (av.error.FFmpegError, OSError):
                    target = 0.0
            if target <= 0 and attempt > 0:
                container.seek(0)
            from_start = target <= 0
            block = _read_window(container, stream, start_s, want, native_sr, name, from_start)
            if block is not _LATE:
                break
        if block is None or block is _LATE:
            return np.zeros(0, dtype=np.float32), duration
        return _resample(_frame_to_mono(block), native_sr, sr), duration


# How far before the window PyAV seeks, in seconds: tried in turn while the first decoded
# frame starts after the window (then from the start of the file).
_AV_SEEK_MARGINS: Final = (0.25, 3.0, 30.0, math.inf)
_LATE: Final = object()


def _read_window(
    container: Any,
    stream: Any,
    start_s: float,
    want: int,
    native_sr: int,
    name: str,
    from_start: bool,
) -> Any:
    """The window as one AudioFrame, None when nothing of it decodes, or ``_LATE`` when
    the first frame after a seek starts after the window (never when ``from_start``)."""
    import av

    # Frames go into a FIFO (cheap per frame) and come out as one block: Vorbis and AAC
    # frames hold ~1,000 samples, and converting each one from Python costs more than
    # decoding it.
    #
    # Where the FIFO starts in the source comes from the frames' timestamps, by majority:
    # every frame votes for "its timestamp minus the samples before it". FFmpeg gives some
    # frames a wrong timestamp (in Vorbis, the first frame after a seek and frames at a
    # long/short block switch are 448 samples off) while the sample counts are right, so
    # the odd ones are outvoted.
    fifo = av.AudioFifo()
    votes: dict[int, int] = {}
    start = round(start_s * native_sr)
    written = 0  # samples written into the FIFO, including those dropped since
    dropped = 0  # samples read out of the FIFO and discarded
    for frame in _av_frames(container, stream):
        if frame.time is not None:
            key = round(float(frame.time) * native_sr) - written
            if not votes and key > start + 1 and not from_start:
                return _LATE
            votes[key] = votes.get(key, 0) + 1
        frame.pts = None  # the FIFO checks timestamps; we keep our own count
        try:
            fifo.write(frame)
        except ValueError:
            break  # format or rate change mid-stream: keep what came before
        written += frame.samples
        anchor = max(votes, key=votes.__getitem__) if votes else start
        skip = max(0, start - anchor)
        if dropped + _AV_DROP + _AV_SLACK <= skip and fifo.samples >= _AV_DROP:
            fifo.read(_AV_DROP)  # decoded audio well before the window: bounded memory
            dropped += _AV_DROP
        if written >= skip + want + _AV_SLACK:
            break
    if written == 0:
        raise DecodeError("truncated", f"{name}: no audio could be decoded")
    anchor = max(votes, key=votes.__getitem__) if votes else start
    skip = max(0, start - anchor - dropped)
    if skip >= fifo.samples:
        return None
    if skip > 0:
        fifo.read(skip)
    return fifo.read(min(want, fifo.samples), partial=True)


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
    raw = os.fsencode(path)
    suffix = os.path.splitext(os.fsdecode(path))[1].lower()
    with _open(path) as handle:
        signal, duration = _decode(handle, raw, suffix, seconds, sr, offset, name)
        if signal.size == 0 and offset is None and duration > seconds:
            # The headers promise a longer track than the data hold (a truncated file) and
            # the centred window fell past the end of what decodes: take the first window.
            signal, _ = _decode(handle, raw, suffix, seconds, sr, 0.0, name)
            if signal.size == 0:
                raise DecodeError("truncated", f"{name}: no audio could be decoded")
        return signal, duration


def _decode(
    handle: IO[bytes],
    raw: bytes,
    suffix: str,
    seconds: float,
    sr: int,
    offset: float | None,
    name: str,
) -> tuple[FloatArray, float]:
    if suffix in _AV_PREFERRED:
        try:
            return _decode_av_checked(handle, seconds, sr, offset, name)
        except DecodeError as exc:
            try:
                return _decode_soundfile(raw, seconds, sr, offset)
            except _Refused:
                raise exc from None
    if suffix not in _AV_FIRST:
        try:
            return _decode_soundfile(raw, seconds, sr, offset)
        except _Refused:
            pass
    return _decode_av_checked(handle, seconds, sr, offset, name)


def _decode_av_checked(
    handle: IO[bytes], seconds: float, sr: int, offset: float | None, name: str
) -> tuple[FloatArray, float]:
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
                info = sf.info(os.fsencode(path))
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
