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
# Samples allocated up front for a window (more as they decode): headers can lie.
_FIRST_ALLOCATION: Final = 1 << 22

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


def _channel_sum(block: FloatArray, out: FloatArray) -> None:
    """Sum of the channels of a (frames, channels) block into ``out`` (frames,).

    Column by column: ``block.sum(axis=1)`` reduces along the short, strided axis and is
    several times slower for the 2-6 channels of real files. The caller scales by
    1/channels once for the whole window.
    """
    channels = block.shape[1]
    if channels == 1:
        out[:] = block[:, 0]
        return
    np.add(block[:, 0], block[:, 1], out=out)
    for c in range(2, channels):
        out += block[:, c]


def _resample(mono: FloatArray, native_sr: int, sr: int) -> FloatArray:
    """Mono float32 from ``native_sr`` to ``sr`` (soxr, high quality); NaN/inf become 0."""
    if mono.size == 0:
        return mono.astype(np.float32, copy=False)
    if native_sr != sr:
        mono = soxr.resample(mono, native_sr, sr, quality="HQ")
    out = np.ascontiguousarray(mono, dtype=np.float32)
    if not math.isfinite(float(out.sum())):  # one cheap pass when all is finite
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
        # Blocks of frames are read into one buffer and summed over the channels straight
        # into the mono window: no list of blocks, no concatenation, and each block is
        # summed while it is still in the CPU cache.
        channels = int(snd.channels)
        mono = np.empty(min(want, _FIRST_ALLOCATION), dtype=np.float32)
        block = np.empty((min(_BLOCK, want), channels), dtype=np.float32)
        got = 0
        while got < want:
            n = min(_BLOCK, want - got)
            if got + n > mono.shape[0]:  # headers that promise more than is likely there
                mono = np.concatenate(
                    [mono[:got], np.empty(min(want, 2 * mono.shape[0]) - got, np.float32)]
                )
            try:
                if channels == 1:
                    read = len(snd.read(n, dtype="float32", out=mono[got : got + n]))
                else:
                    read = len(snd.read(n, dtype="float32", out=block[:n]))
                    _channel_sum(block[:read], mono[got : got + read])
            except (sf.LibsndfileError, RuntimeError):
                break  # truncated or corrupt from here on: keep what decoded
            if read == 0:
                break
            got += read
        if got == 0:
            raise _Refused("no frames decoded")
        mono = mono[:got]
        if channels > 1:
            mono *= np.float32(1.0 / channels)
        return _resample(mono, native_sr, sr), duration


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


# Samples dropped from the front of the buffer in one go while skipping to the window, and
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
    import av  # lazy, as in _decode_av

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
    # PyAV loads FFmpeg's libraries (about as long as librosa): only for a file that needs it
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
        return _resample(block, native_sr, sr), duration


# How far before the window PyAV seeks, in seconds: tried in turn while the first decoded
# frame starts after the window (then from the start of the file).
_AV_SEEK_MARGINS: Final = (0.25, 3.0, 30.0, math.inf)
_LATE: Final = object()


class _Samples:
    """Decoded audio of one stream in a float32 buffer, one row per channel.

    Frames in 32-bit float planes (what the Vorbis, Opus, AAC and MP3 decoders give) with
    one or two channels are copied plane by plane, bytes to bytes, through ``rows`` (see
    :func:`_read_window`), and averaged once at the end: per frame that costs a fifth of an
    ``AudioFifo.write`` or of a numpy call, and a 30-s Vorbis window has ~2,400 frames. Any
    other frame is converted to mono as it comes (:func:`_frame_to_mono`).
    """

    def __init__(self, first: Any, capacity: int) -> None:
        self.planar = first.format.name == "fltp" and len(first.planes) <= 2
        self.held = 0
        self._allocate(len(first.planes) if self.planar else 1, capacity)

    def _allocate(self, channels: int, capacity: int) -> None:
        self.data = np.empty((channels, capacity), np.float32)
        self.capacity = capacity
        self.rows = [memoryview(row.data).cast("B") for row in self.data]

    def grow(self, n: int) -> None:
        """Make room for ``n`` more samples."""
        old = self.data
        self._allocate(old.shape[0], 2 * (self.held + n))
        self.data[:, : self.held] = old[:, : self.held]

    def append_mono(self, frame: Any) -> None:
        n = frame.samples
        if self.held + n > self.capacity:
            self.grow(n)
        self.data[0, self.held : self.held + n] = _frame_to_mono(frame)
        self.held += n

    def drop(self, n: int) -> None:
        """Forget the first ``n`` samples."""
        self.data[:, : self.held - n] = self.data[:, n : self.held]
        self.held -= n

    def mono(self, skip: int, n: int) -> FloatArray:
        """Samples ``skip`` to ``skip + n`` as mono: the channel mean (the sum of two
        halved, as ``mean`` computes it)."""
        if self.data.shape[0] == 1:
            return self.data[0, skip : skip + n].copy()
        out = self.data[0, skip : skip + n] + self.data[1, skip : skip + n]
        out *= np.float32(0.5)
        return out


def _read_window(
    container: Any,
    stream: Any,
    start_s: float,
    want: int,
    native_sr: int,
    name: str,
    from_start: bool,
) -> Any:
    """The window as mono float32, None when nothing of it decodes, or ``_LATE`` when the
    first frame after a seek starts after the window (never when ``from_start``)."""
    # Where the decoded samples start in the source comes from the frames' timestamps, by
    # majority: every frame votes for "its timestamp minus the samples before it". FFmpeg
    # gives some frames a wrong timestamp (in Vorbis, the first frame after a seek and
    # frames at a long/short block switch are 448 samples off) while the sample counts are
    # right, so the odd ones are outvoted. Ties go to the earliest key.
    #
    # This loop runs once per frame (~2,400 times for a 30-s Vorbis window): it is kept
    # to plain attribute reads and one byte copy per plane.
    votes: dict[int, int] = {}
    order: dict[int, int] = {}
    best: int | None = None
    start = round(start_s * native_sr)
    written = 0  # samples decoded, including those dropped since
    dropped = 0  # samples dropped from the front of the buffer
    samples: _Samples | None = None
    shape: tuple[str, int, int] = ("", 0, 0)
    for frame in _av_frames(container, stream):
        n = frame.samples
        if samples is None:
            samples = _Samples(frame, min(want + _AV_DROP + 4 * _AV_SLACK, _FIRST_ALLOCATION))
            shape = (frame.format.name, frame.layout.nb_channels, frame.sample_rate)
        elif (
            frame.sample_rate != shape[2]
            or frame.layout.nb_channels != shape[1]
            or frame.format.name != shape[0]
        ):
            break  # format, layout or rate change mid-stream: keep what came before
        if frame.time is not None:
            key = round(float(frame.time) * native_sr) - written
            if best is None and key > start + 1 and not from_start:
                return _LATE
            count = votes[key] = votes.get(key, 0) + 1
            order.setdefault(key, len(order))
            if best is None or (
                key != best
                and (count > votes[best] or (count == votes[best] and order[key] < order[best]))
            ):
                best = key
        if samples.planar:
            held = samples.held
            if held + n > samples.capacity:
                samples.grow(n)
            size, at = 4 * n, 4 * held
            rows, planes = samples.rows, frame.planes
            rows[0][at : at + size] = memoryview(planes[0])[:size]
            if len(rows) > 1:
                rows[1][at : at + size] = memoryview(planes[1])[:size]
            samples.held = held + n
        else:
            samples.append_mono(frame)
        written += n
        skip = max(0, start - (start if best is None else best))
        if dropped + _AV_DROP + _AV_SLACK <= skip and samples.held >= _AV_DROP:
            samples.drop(_AV_DROP)  # decoded audio well before the window: bounded memory
            dropped += _AV_DROP
        if written >= skip + want + _AV_SLACK:
            break
    if samples is None or written == 0:
        raise DecodeError("truncated", f"{name}: no audio could be decoded")
    skip = max(0, start - (start if best is None else best) - dropped)
    if skip >= samples.held:
        return None
    return samples.mono(skip, min(want, samples.held - skip))


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
        import av  # lazy, as in _decode_av

        handle.seek(0)
        try:
            with av.open(handle, mode="r", metadata_errors="ignore") as container:
                if not container.streams.audio:
                    raise DecodeError("not audio", f"{name}: no audio stream")
                return _av_duration(container, container.streams.audio[0])
        except av.error.FFmpegError as exc:
            raise DecodeError("not audio", f"{name}: not an audio file") from exc
