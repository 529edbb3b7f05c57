"""Audio features of one window of a track.

One short-time Fourier transform (``n_fft`` 2048, hop 1024, Hann window, centred frames) of the
mono signal feeds everything. Hop 1024 is half the window: the Hann windows still add up to a
constant, so every sample counts alike, and each ~0.23-s bin still averages five frames that
cover all of its samples (version 1 used hop 512, ten frames of 75 % overlap: the same
information at twice the cost).

- 20 MFCCs, from the log (80-dB range) of the 128-band mel power spectrogram of that STFT;
- 12 chroma bins: ``chroma_stft`` of the power spectrogram with ``tuning=0.0`` (tuning
  estimation cost ~90% of the chroma time and gains nothing for similarity);
- 7 spectral-contrast rows (``spectral_contrast`` of the magnitude: the band below 200 Hz and
  six octave bands above it);
- tempo (BPM): an autocorrelation tempogram of the onset envelope of the same log-mel
  spectrogram, weighted by ``librosa.feature.tempo``'s prior, its peak refined between lags
  (see :func:`_tempo`);
- brightness (mean spectral centroid, Hz) and energy (mean RMS) from the same STFT.

The STFT is a float32 FFT run a block of frames at a time (librosa's float64 FFT costs twice as
much; the magnitudes agree to float32 rounding, which only shows in bins ~140 dB below the
loudest, e.g. above an MP3's low-pass, and so in the top spectral-contrast band's valleys).
The mel and chroma filter banks are built
once per sample rate and applied as matrix products (the mel bank one triangle at a time, over
the few FFT bins each covers), which is what ``melspectrogram(S=...)`` and
``chroma_stft(S=...)`` compute up to float32 rounding (the tests pin every feature to
librosa's own functions).

The 39 rows (MFCC 20, chroma 12, contrast 7, in that order) are mean-pooled over time into
:data:`N_BINS` bins that cover the **whole** window (the seed paper kept the first 130 frames, i.e.
the first 3 s of its 30-s clips). A 30-s window at 22050 Hz has 646 frames, so each bin
averages about five frames (~0.23 s).

Short signals: when there are fewer frames than bins, each bin takes the frame nearest to its
centre (nearest-neighbour stretching). Nothing is padded with silence, so a short track looks
like a slowed-down version of itself rather than a track followed by silence. A signal shorter
than one FFT frame is zero-padded to one frame before the transform. Such tracks (and silence)
are flagged ``weak``.

``stats`` is the handcrafted descriptor: the mean of each of the 39 rows over the full-resolution
frames followed by their standard deviations (78 values).
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import warnings
from dataclasses import dataclass
from typing import Final

import librosa
import numpy as np
import numpy.typing as npt
import scipy.fft
import scipy.signal
import soxr

from musicorg.analyse.audio import DEFAULT_SECONDS, DEFAULT_SR, PathArg, decode_window
from musicorg.keys import FEATURES_VERSION

__all__ = [
    "FEATURES_VERSION",
    "HOP",
    "N_BINS",
    "N_CHROMA",
    "N_CONTRAST",
    "N_FFT",
    "N_MFCC",
    "N_ROWS",
    "N_STATS",
    "N_TAGS",
    "N_TEACHER",
    "ROW_NAMES",
    "TEACHER_SR",
    "TrackFeatures",
    "analyse_file",
    "features_from_signal",
    "pool_frames",
    "teacher_audio",
]

# 1: hop 512, float64 FFT. 2: hop 1024, float32 FFT (half the cost; see the docstring).
# 3: version 2's matrix and statistics, unchanged, plus MusiCNN's 200-d vector and 50 tag
#    probabilities of the same window (computed from :func:`teacher_audio`).
# MusiCNN (musicorg.model.musicnn) listens at 16 kHz and gives a 200-d vector and 50 tags.
TEACHER_SR: Final = 16000
N_TEACHER: Final = 200
N_TAGS: Final = 50
N_MFCC: Final = 20
N_CHROMA: Final = 12
N_CONTRAST: Final = 7
N_ROWS: Final = N_MFCC + N_CHROMA + N_CONTRAST  # 39
N_BINS: Final = 130
N_STATS: Final = 2 * N_ROWS  # 78
N_FFT: Final = 2048
HOP: Final = 1024
N_MELS: Final = 128

ROW_NAMES: Final = tuple(
    [f"mfcc{i}" for i in range(N_MFCC)]
    + [f"chroma_{n}" for n in ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")]
    + [f"contrast{i}" for i in range(N_CONTRAST)]
)

# Below this length (seconds) or this loudness (mean RMS, dBFS) a track is "weak": its
# features say little, and callers may want to keep it out of training or flag it.
WEAK_SECONDS: Final = 2.0
WEAK_DBFS: Final = -60.0
_AMIN: Final = 1e-10

FloatArray = npt.NDArray[np.float32]


@dataclass
class TrackFeatures:
    """Features of one window of one track."""

    matrix: FloatArray
    """(N_ROWS, N_BINS) float32: MFCC 20 + chroma 12 + contrast 7, mean-pooled over time."""
    stats: FloatArray
    """(N_STATS,) float32: per-row mean over the full-resolution frames, then per-row std."""
    tempo: float
    """Estimated tempo, beats per minute (0.0 when there is no rhythm to find)."""
    brightness: float
    """Mean spectral centroid, Hz."""
    energy: float
    """Mean frame RMS, linear full scale (a full-scale sine is ~0.707)."""
    energy_dbfs: float
    """``energy`` in dBFS (floored at -200)."""
    weak: bool
    """Silence (mean RMS below -60 dBFS) or less than 2 s of audio."""
    n_frames: int
    """Number of STFT frames behind the pooled matrix."""
    duration: float = 0.0
    """Length of the analysed signal, seconds."""
    teacher_audio: FloatArray | None = None
    """The same window resampled to ``TEACHER_SR`` for MusiCNN (set by :func:`analyse_file`;
    transient: the analysis stage turns it into the stored vector and tags)."""


def teacher_audio(signal: npt.NDArray[np.floating], sr: int) -> FloatArray:
    """``signal`` (mono, ``sr`` Hz) resampled to MusiCNN's 16 kHz, float32."""
    y = np.asarray(signal, dtype=np.float32).reshape(-1)
    if sr == TEACHER_SR or y.size == 0:
        return y.copy()
    return np.asarray(soxr.resample(y, sr, TEACHER_SR, quality="HQ"), dtype=np.float32)


def pool_frames(frames: npt.NDArray[np.floating], n_bins: int = N_BINS) -> FloatArray:
    """Mean-pool (rows, T) frames into (rows, n_bins) bins covering all T frames.

    With ``T >= n_bins`` bin ``i`` averages frames ``[edge_i, edge_{i+1})`` with the edges
    spread evenly over the T frames (every bin gets at least one frame). With ``T < n_bins``
    bin ``i`` takes the frame nearest its centre; with ``T == 0`` the result is zeros.
    """
    rows, total = frames.shape
    if total == 0:
        return np.zeros((rows, n_bins), dtype=np.float32)
    data = np.asarray(frames, dtype=np.float64)
    if total < n_bins:
        idx = np.minimum(((np.arange(n_bins) + 0.5) * total / n_bins).astype(np.intp), total - 1)
        return data[:, idx].astype(np.float32)
    edges = np.round(np.linspace(0, total, n_bins + 1)).astype(np.intp)
    sums = np.add.reduceat(data, edges[:-1], axis=1)
    counts = np.diff(edges).astype(np.float64)
    return (sums / counts).astype(np.float32)


def _finite(x: npt.NDArray[np.floating]) -> FloatArray:
    out = np.asarray(x, dtype=np.float32)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


@functools.lru_cache(maxsize=8)
def _mel_basis(sr: int) -> FloatArray:
    """The mel filter bank of ``librosa.feature.melspectrogram`` (built once per rate)."""
    basis = librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32)
    basis.setflags(write=False)
    return basis


@functools.lru_cache(maxsize=8)
def _mel_bands(sr: int) -> tuple[tuple[int, int, FloatArray], ...]:
    """The mel filter bank as (first FFT bin, last + 1, weights) per band.

    Each triangle covers a few neighbouring FFT bins (2,018 of the bank's 131,200 weights
    are non-zero), so one matrix-vector product per band over just those bins computes the
    same sums as the dense product, about four times faster.
    """
    basis = _mel_basis(sr)
    bands = []
    for row in basis:
        nonzero = np.flatnonzero(row)
        first = int(nonzero[0]) if nonzero.size else 0
        last = int(nonzero[-1]) + 1 if nonzero.size else 0
        weights = np.ascontiguousarray(row[first:last])
        weights.setflags(write=False)
        bands.append((first, last, weights))
    return tuple(bands)


def _mel_power(power: FloatArray, sr: int) -> FloatArray:
    """``_mel_basis(sr) @ power.T``: (N_MELS, T) mel power of a (T, bins) power spectrogram."""
    bands = _mel_bands(sr)
    mel = np.empty((len(bands), power.shape[0]), dtype=np.float32)
    for m, (first, last, weights) in enumerate(bands):
        if last > first:
            np.dot(power[:, first:last], weights, out=mel[m])
        else:
            mel[m] = 0.0
    return mel


@functools.lru_cache(maxsize=1)
def _hann() -> FloatArray:
    """The periodic Hann window of ``librosa.stft``, in float32."""
    window = np.asarray(scipy.signal.get_window("hann", N_FFT, fftbins=True), dtype=np.float32)
    window.setflags(write=False)
    return window


# Frames per FFT call: the windowed frames and their spectra stay in the CPU cache.
_STFT_BLOCK: Final = 64


def _magnitude(signal: FloatArray) -> FloatArray:
    """``np.abs(librosa.stft(signal, n_fft=N_FFT, hop_length=HOP))``, transposed: (T, bins).

    librosa's framing (centred frames of the zero-padded signal, the periodic Hann window), but
    a float32 real FFT run a block of frames at a time into one float32 array: under half
    librosa's time and a fraction of its memory. Rows are frames; ``.T`` is the usual (bins, T)
    layout (librosa's own is column-major too).
    """
    padded = np.pad(signal, N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    total = frames.shape[0]
    magnitude = np.empty((total, N_FFT // 2 + 1), dtype=np.float32)
    block = min(_STFT_BLOCK, total)
    windowed = np.empty((block, N_FFT), dtype=np.float32)
    window = _hann()
    for start in range(0, total, block):
        stop = min(start + block, total)
        n = stop - start
        np.multiply(frames[start:stop], window, out=windowed[:n])
        spectrum = scipy.fft.rfft(windowed[:n], axis=-1, overwrite_x=True)
        np.abs(spectrum, out=magnitude[start:stop])
    return magnitude


@functools.lru_cache(maxsize=8)
def _chroma_basis(sr: int) -> FloatArray:
    """The chroma filter bank of ``librosa.feature.chroma_stft`` at ``tuning=0.0``."""
    basis = librosa.filters.chroma(sr=sr, n_fft=N_FFT, tuning=0.0, n_chroma=N_CHROMA)
    basis = basis.astype(np.float32)
    basis.setflags(write=False)
    return basis


# Autocorrelation window of the tempogram (librosa's ac_size, 8 s), its frame stride, and the
# prior on tempo of ``librosa.feature.tempo`` (log-normal around 120 BPM, one octave wide, nothing
# at or above 320 BPM).
_TEMPO_WINDOW_S: Final = 8.0
_TEMPO_STRIDE: Final = 4
_TEMPO_START_BPM: Final = 120.0
_TEMPO_STD_OCTAVES: Final = 1.0
_TEMPO_MAX_BPM: Final = 320.0


def _tempo(onset_env: npt.NDArray[np.floating], sr: int) -> float:
    """Global tempo (BPM) of an onset envelope (frames ``HOP`` samples apart).

    As ``librosa.feature.tempo``: autocorrelations of Hann-windowed 8-s stretches of the
    envelope, normalised and averaged (every fourth frame: the windows of neighbouring frames
    overlap almost wholly), scored as ``log1p(1e6 * tempogram) + log prior``, the best lag
    wins. At hop 1024 one lag step is ~9 % of tempo near 120 BPM, so the peak is refined by a
    parabola through the scores of its two neighbours. Returns 0.0 when the envelope is flat
    (silence) or no lag qualifies.
    """
    env = np.asarray(onset_env, dtype=np.float64)
    if env.size == 0 or float(env.max()) <= 0.0:
        return 0.0
    win = int(librosa.time_to_frames(_TEMPO_WINDOW_S, sr=sr, hop_length=HOP))
    n = env.shape[0]
    padded = np.pad(env, (win // 2, win // 2), mode="linear_ramp", end_values=(0, 0))
    frames = librosa.util.frame(padded, frame_length=win, hop_length=1)[:, :n:_TEMPO_STRIDE]
    window = scipy.signal.get_window("hann", win, fftbins=True)[:, None]
    ac = librosa.autocorrelate(frames * window, axis=0)
    tg = librosa.util.normalize(ac, norm=np.inf, axis=0).mean(axis=1)
    lags = np.arange(tg.shape[0], dtype=np.float64)
    frame_rate = sr / HOP
    with np.errstate(divide="ignore"):
        bpms = 60.0 * frame_rate / lags
    log_prior = -0.5 * ((np.log2(bpms) - math.log2(_TEMPO_START_BPM)) / _TEMPO_STD_OCTAVES) ** 2
    log_prior[bpms >= _TEMPO_MAX_BPM] = -np.inf
    score = np.log1p(1e6 * np.maximum(tg, 0.0)) + log_prior
    best = int(np.argmax(score))
    if not math.isfinite(float(score[best])) or best == 0:
        return 0.0
    lag = float(best)
    if 0 < best < len(score) - 1 and math.isfinite(float(score[best - 1])):
        left, mid, right = (float(v) for v in score[best - 1 : best + 2])
        curvature = left - 2.0 * mid + right
        if curvature < 0.0:
            lag += float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))
    value = 60.0 * frame_rate / lag
    return value if math.isfinite(value) else 0.0


_CONTRAST_FMIN: Final = 200.0
_CONTRAST_QUANTILE: Final = 0.02


@functools.lru_cache(maxsize=8)
def _contrast_bands(sr: int) -> tuple[tuple[int, int, int], ...]:
    """(first row, last row + 1, k) of each octave band of ``spectral_contrast``'s defaults.

    Bands are the octaves fmin·2^i (the first from 0 Hz, the last up to Nyquist). As in
    librosa, each band after the first also takes the FFT bin just below its edge, and each
    band but the last drops its top bin; k is the number of bins averaged for the peak and
    for the valley (2 % of the band, at least one).
    """
    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)
    n_bands = N_CONTRAST - 1
    edges = [0.0] + [_CONTRAST_FMIN * 2.0**i for i in range(n_bands + 1)]
    out = []
    for b, (lo, hi) in enumerate(itertools.pairwise(edges)):
        rows = np.flatnonzero((freqs >= lo) & (freqs <= hi))
        first, last = int(rows[0]), int(rows[-1]) + 1
        if b > 0:
            first -= 1
        if b == n_bands:
            last = len(freqs)
        selected = last - first
        k = max(1, round(_CONTRAST_QUANTILE * selected))
        if b < n_bands:
            last -= 1
        out.append((first, last, k))
    return tuple(out)


def _spectral_contrast(magnitude: npt.NDArray[np.floating], sr: int) -> FloatArray:
    """``librosa.feature.spectral_contrast(S=magnitude)`` with its default bands (same values
    to float32 rounding), about twice as fast: the bands are sorted in float32, where numpy's
    vectorised sort is quickest, and the band layout is computed once per rate."""
    mag = np.asarray(magnitude, dtype=np.float32)
    n_bands = len(_contrast_bands(sr))
    peaks = np.empty((n_bands, mag.shape[1]), dtype=np.float32)
    valleys = np.empty_like(peaks)
    for b, (first, last, k) in enumerate(_contrast_bands(sr)):
        if k == 1:  # the three lowest bands: the extremes need no sort
            band = np.ascontiguousarray(mag[first:last])  # bins as rows: a vectorised reduce
            np.min(band, axis=0, out=valleys[b])
            np.max(band, axis=0, out=peaks[b])
            continue
        band = np.sort(mag[first:last], axis=0)
        valleys[b] = band[:k].mean(axis=0)
        peaks[b] = band[-k:].mean(axis=0)
    contrast = librosa.power_to_db(peaks) - librosa.power_to_db(valleys)
    return np.asarray(contrast, dtype=np.float32)


def _spectral_centroid(magnitude: npt.NDArray[np.floating], sr: int) -> FloatArray:
    """Per-frame spectral centroid (Hz) of a magnitude spectrogram; 0 for silent frames.

    The same quantity as ``librosa.feature.spectral_centroid(S=magnitude)``, as one
    matrix-vector product instead of a normalised copy of the spectrogram.
    """
    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT).astype(np.float32)
    total = magnitude.sum(axis=0)
    weighted = freqs @ magnitude
    tiny = np.finfo(np.float32).tiny
    return np.where(total > tiny, weighted / np.maximum(total, tiny), 0.0).astype(np.float32)


def _rms_in_place(power_rows: FloatArray) -> FloatArray:
    """``librosa.feature.rms(S=magnitude, frame_length=N_FFT)`` from the (T, bins) power.

    The same sums in the same order (DC and Nyquist bins weighted by one half), without
    librosa's copy of the spectrogram: those two columns of ``power_rows`` are halved in
    place, so call it after everything else that reads the power.
    """
    power_rows[:, 0] *= 0.5
    power_rows[:, -1] *= 0.5
    power = 2 * np.sum(power_rows, axis=1) / N_FFT**2
    return np.asarray(np.sqrt(power), dtype=np.float32)


def features_from_signal(y: npt.NDArray[np.floating], sr: int = DEFAULT_SR) -> TrackFeatures:
    """Features of a mono signal ``y`` sampled at ``sr`` Hz (see the module docstring)."""
    signal = np.asarray(y, dtype=np.float32).reshape(-1)
    if not math.isfinite(float(signal.sum())):  # one cheap pass when all is finite
        signal = np.nan_to_num(signal, nan=0.0, posinf=0.0, neginf=0.0)
    duration = signal.shape[0] / float(sr)
    if signal.shape[0] < N_FFT:
        signal = np.pad(signal, (0, N_FFT - signal.shape[0]))

    # (T, bins) arrays: each frame's spectrum is one contiguous row; ``.T`` gives librosa's
    # (bins, T) layout (column-major, as librosa's own STFT), which the feature code uses.
    magnitude_rows = _magnitude(signal)
    power_rows = np.square(magnitude_rows)
    magnitude = magnitude_rows.T
    n_frames = int(magnitude_rows.shape[0])

    with warnings.catch_warnings():
        # Silence and very short signals make librosa warn about empty frames: expected.
        warnings.simplefilter("ignore")
        mel = _mel_power(power_rows, sr)
        log_mel = librosa.power_to_db(mel, amin=_AMIN, top_db=80.0)
        mfcc = librosa.feature.mfcc(S=log_mel, sr=sr, n_mfcc=N_MFCC)
        chroma = librosa.util.normalize((power_rows @ _chroma_basis(sr).T).T, norm=np.inf, axis=0)
        contrast = _spectral_contrast(magnitude, sr)
        centroid = _spectral_centroid(magnitude, sr)
        onset_env = librosa.onset.onset_strength(S=log_mel, sr=sr, hop_length=HOP)
        tempo = _tempo(onset_env, sr) if n_frames >= 8 else 0.0
        rms = _rms_in_place(power_rows)  # last: it scales two columns of the power

    frames = _finite(np.vstack([mfcc, chroma, contrast]))
    matrix = pool_frames(frames)
    stats = np.concatenate([frames.mean(axis=1), frames.std(axis=1)]).astype(np.float32)

    energy = float(np.mean(rms)) if rms.size else 0.0
    energy = energy if math.isfinite(energy) else 0.0
    energy_dbfs = 20.0 * math.log10(max(energy, _AMIN))
    brightness = float(np.mean(centroid)) if centroid.size else 0.0
    brightness = brightness if math.isfinite(brightness) else 0.0
    tempo = tempo if math.isfinite(tempo) else 0.0
    weak = duration < WEAK_SECONDS or energy_dbfs < WEAK_DBFS

    return TrackFeatures(
        matrix=matrix,
        stats=_finite(stats),
        tempo=tempo,
        brightness=brightness,
        energy=energy,
        energy_dbfs=energy_dbfs,
        weak=bool(weak),
        n_frames=n_frames,
        duration=duration,
    )


def analyse_file(
    path: PathArg | os.PathLike[str],
    *,
    seconds: float = DEFAULT_SECONDS,
    offset: float | None = None,
    sr: int = DEFAULT_SR,
) -> TrackFeatures:
    """Decode the window of ``path`` (centred unless ``offset`` is given) and featurise it;
    the result carries the window at 16 kHz for MusiCNN (``teacher_audio``).

    Raises :class:`musicorg.analyse.audio.DecodeError` when the file cannot be decoded.
    """
    signal, _ = decode_window(path, seconds=seconds, sr=sr, offset=offset)
    result = features_from_signal(signal, sr)
    result.teacher_audio = teacher_audio(signal, sr)
    return result
