"""Windowed decoding (musicorg.analyse.audio) and features (musicorg.analyse.features) on real
audio.

Real music comes from tests/data (8-s excerpts, attribution in tests/data/SOURCES.txt);
synthetic signals are generated with numpy and written with soundfile to tmp_path.
"""

from __future__ import annotations

import os
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicorg.analyse.audio import DecodeError, decode_window, probe_duration
from musicorg.analyse.features import (
    FEATURES_VERSION,
    HOP,
    N_BINS,
    N_ROWS,
    N_STATS,
    TrackFeatures,
    analyse_file,
    features_from_signal,
    pool_frames,
)

DATA = Path(__file__).parents[1] / "data"
SR = 22050
REAL = sorted(
    p
    for p in DATA.iterdir()
    if p.suffix in {".mp3", ".flac", ".ogg", ".opus", ".m4a", ".wav", ".aiff", ".wma"}
)


def tone(seconds: float, sr: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write(path: Path, data: np.ndarray, sr: int, subtype: str | None = None) -> Path:
    """Write in 1-s blocks: libsndfile's Vorbis encoder crashes on one huge write."""
    channels = 1 if data.ndim == 1 else data.shape[1]
    with sf.SoundFile(str(path), "w", sr, channels, subtype=subtype) as out:
        for i in range(0, len(data), sr):
            out.write(data[i : i + sr])
    return path


def check_features(f: TrackFeatures) -> None:
    assert f.matrix.shape == (N_ROWS, N_BINS)
    assert f.matrix.dtype == np.float32
    assert f.stats.shape == (N_STATS,)
    assert f.stats.dtype == np.float32
    assert np.isfinite(f.matrix).all()
    assert np.isfinite(f.stats).all()
    for v in (f.tempo, f.brightness, f.energy, f.energy_dbfs):
        assert np.isfinite(v)


def test_constants() -> None:
    assert (FEATURES_VERSION, N_ROWS, N_BINS, N_STATS, HOP) == (3, 39, 130, 78, 1024)


# ------------------------------------------------------------------------- every format


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_every_real_format(path: Path) -> None:
    y, duration = decode_window(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert 7.9 < duration < 8.1
    assert abs(len(y) - 8 * SR) < 0.02 * SR  # shorter than the window: all of it
    assert 0.05 < np.abs(y).max() <= 1.5
    f = analyse_file(path)
    check_features(f)
    assert not f.weak
    assert f.n_frames == 1 + len(y) // HOP
    assert 40 < f.tempo < 250
    assert 200 < f.brightness < 8000
    assert abs(probe_duration(path) - duration) < 0.01  # decoders differ by ms (pre-skip)


def test_m4a_goes_through_pyav_and_matches_flac() -> None:
    """The m4a (AAC via PyAV) and the flac of the same excerpt give the same window."""
    a, _ = decode_window(DATA / "kevin_macleod_vibe_ace.m4a", seconds=4.0)
    b, _ = decode_window(DATA / "kevin_macleod_vibe_ace.flac", seconds=4.0)
    n = min(len(a), len(b))
    assert abs(len(a) - len(b)) < 0.01 * SR
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.95


@pytest.mark.parametrize(
    ("suffix", "tolerance_s"),
    [(".mp3", 0.002), (".ogg", 0.002), (".opus", 0.002), (".m4a", 0.002), (".wma", 0.05)],
)
def test_lossy_windows_line_up_with_flac(suffix: str, tolerance_s: float) -> None:
    """3-s windows at several offsets line up with the lossless ones.

    Measured offsets: mp3, ogg, opus and m4a exact; wma 46 ms (FFmpeg's WMA timestamps
    after a seek are one 2,048-sample frame off). Features, made of 93-ms frames pooled
    into 0.23-s bins, would not notice even that.
    """
    for offset in (1.3, 2.5, 4.7):
        ref, _ = decode_window(DATA / "kevin_macleod_vibe_ace.flac", seconds=3.0, offset=offset)
        got, _ = decode_window(DATA / f"kevin_macleod_vibe_ace{suffix}", seconds=3.0, offset=offset)
        assert abs(len(ref) - len(got)) < 0.01 * SR
        margin = SR // 10
        core = ref[margin:-margin]
        max_lag = round(tolerance_s * SR)
        best = max(
            np.corrcoef(core, got[margin + lag : margin + lag + len(core)])[0, 1]
            for lag in range(-max_lag, max_lag + 1)
        )
        assert best > 0.9, offset


# ------------------------------------------------------------------- synthetic signals


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
def test_silence_is_finite_and_weak(tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path / f"silence{suffix}", np.zeros(10 * 44100, np.float32), 44100)
    y, duration = decode_window(path)
    assert abs(duration - 10.0) < 0.05
    f = features_from_signal(y)
    check_features(f)
    assert f.weak
    assert f.energy < 1e-4


def test_empty_and_nan_signals() -> None:
    for y in (np.zeros(0, np.float32), np.zeros(5, np.float32), np.full(SR, np.nan)):
        f = features_from_signal(y)
        check_features(f)
        assert f.weak


@pytest.mark.parametrize(
    ("sr", "channels", "suffix"),
    [(8000, 1, ".wav"), (44100, 1, ".flac"), (48000, 2, ".ogg"), (192000, 6, ".flac")],
)
def test_rates_and_channels(tmp_path: Path, sr: int, channels: int, suffix: str) -> None:
    seconds = 40.0
    mono = tone(seconds, sr, 440.0, 0.4)
    data = np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono
    path = write(tmp_path / f"x{sr}_{channels}{suffix}", data, sr)
    y, duration = decode_window(path, seconds=30.0)
    assert abs(duration - seconds) < 0.05
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 30 * SR) <= 2
    # Channel mean then resampling: still a 0.4-amplitude 440-Hz tone.
    assert 0.35 < np.abs(y[SR:-SR]).max() < 0.45
    spectrum = np.abs(np.fft.rfft(y[:SR]))
    assert abs(np.argmax(spectrum) * SR / SR - 440) < 3
    f = features_from_signal(y)
    check_features(f)
    assert not f.weak
    assert f.n_frames == 1 + 30 * SR // HOP


def test_channel_mean(tmp_path: Path) -> None:
    left = tone(5.0, SR, 440.0, 0.6)
    right = np.zeros_like(left)
    path = write(tmp_path / "lr.wav", np.stack([left, right], axis=1), SR, subtype="FLOAT")
    y, _ = decode_window(path)
    np.testing.assert_allclose(y, left / 2, atol=1e-6)


def test_short_file_is_stretched_not_padded(tmp_path: Path) -> None:
    path = write(tmp_path / "short.ogg", tone(0.5, 44100, 660.0, 0.5), 44100)  # E5
    y, duration = decode_window(path)
    assert abs(duration - 0.5) < 0.02
    assert abs(len(y) - SR // 2) < 0.02 * SR  # what there is, no padding
    f = features_from_signal(y)
    check_features(f)
    assert f.weak  # under 2 s
    assert f.n_frames < N_BINS
    # Every bin is one of the real frames, each frame shows up, in order ...
    assert np.unique(f.matrix, axis=1).shape[1] == f.n_frames
    # ... and none is silence: the E chroma row dominates every bin, to the last one.
    chroma = f.matrix[20:32]
    assert chroma[4].min() > 0.9
    padded = features_from_signal(np.pad(y, (0, 30 * SR - len(y))))
    assert padded.matrix[20:32, -50:].max() < 0.1  # what zero-padding would have given


def test_pooling_covers_the_whole_window() -> None:
    # First half A4 (440 Hz), second half about B5 (1 kHz): the bins follow the whole 30 s.
    f = features_from_signal(np.concatenate([tone(15.0, SR, 440.0), tone(15.0, SR, 1000.0)]))
    chroma = f.matrix[20:32]
    a_row, b_row = chroma[9], chroma[11]
    assert a_row[:64].min() > 0.9 and b_row[:64].max() < 0.5
    assert b_row[66:].min() > 0.9 and a_row[66:].max() < 0.5
    assert not np.allclose(f.matrix[:, :64].mean(axis=1), f.matrix[:, 66:].mean(axis=1))


def test_pool_frames() -> None:
    frames = np.arange(2 * 1292, dtype=np.float64).reshape(2, 1292)
    pooled = pool_frames(frames)
    assert pooled.shape == (2, N_BINS)
    # Bins are contiguous and cover every frame: the mean of the means is close to the mean.
    assert abs(pooled[0].mean() - frames[0].mean()) < 1.0
    assert pooled[0, 0] < 10 and pooled[0, -1] > 1280
    few = np.arange(10, dtype=np.float64)[None, :]
    stretched = pool_frames(few)
    assert sorted(set(stretched[0].tolist())) == list(range(10))
    assert np.all(np.diff(stretched[0]) >= 0)
    assert np.array_equal(pool_frames(np.zeros((3, 0))), np.zeros((3, N_BINS), np.float32))


def test_stats_are_mean_then_std_of_full_resolution_frames() -> None:
    y = tone(30.0, SR, 440.0, 0.3) + np.random.default_rng(1).normal(0, 0.05, 30 * SR)
    f = features_from_signal(y.astype(np.float32))
    means, stds = f.stats[:N_ROWS], f.stats[N_ROWS:]
    np.testing.assert_allclose(means, f.matrix.mean(axis=1), rtol=0.02, atol=0.05)
    assert (stds >= 0).all() and stds[:20].max() > 0


def click_track(bpm: float, seconds: float = 30.0) -> np.ndarray:
    y = np.zeros(round(seconds * SR), np.float32)
    click = tone(0.03, SR, 2000.0, 0.9) * np.hanning(round(0.03 * SR)).astype(np.float32)
    for start in np.arange(0, seconds - 0.5, 60.0 / bpm):
        i = round(start * SR)
        y[i : i + len(click)] += click[: len(y) - i]
    return y


@pytest.mark.parametrize("bpm", [72, 100, 120, 128, 140])
def test_tempo_of_a_click_track(bpm: float) -> None:
    # Within 1 %: the peak is refined between lags, which lie ~9 % apart near 120 BPM.
    assert features_from_signal(click_track(bpm)).tempo == pytest.approx(bpm, rel=0.01)


# --------------------------------------------------------------------------- the window


def test_window_is_centred_and_offset_is_honoured(tmp_path: Path) -> None:
    # A ramp at the analysis rate: every sample tells where it came from.
    n = 90 * SR
    ramp = (np.arange(n) / n).astype(np.float32)
    path = write(tmp_path / "ramp.wav", ramp, SR, subtype="FLOAT")
    y, duration = decode_window(path, seconds=30.0)
    assert duration == pytest.approx(90.0)
    np.testing.assert_array_equal(y, ramp[30 * SR : 60 * SR])
    y, _ = decode_window(path, seconds=10.0, offset=5.0)
    np.testing.assert_array_equal(y, ramp[5 * SR : 15 * SR])
    y, _ = decode_window(path, seconds=30.0, offset=80.0)  # runs past the end: what's left
    np.testing.assert_array_equal(y, ramp[80 * SR :])
    y, _ = decode_window(path, seconds=30.0, offset=100.0)
    assert y.size == 0


def test_centred_window_in_a_compressed_file(tmp_path: Path) -> None:
    # 30 s of silence, 30 s of tone, 30 s of silence: the centred window is all tone.
    sr = 44100
    data = np.concatenate([np.zeros(30 * sr), tone(30.0, sr, 440.0, 0.5), np.zeros(30 * sr)])
    path = write(tmp_path / "middle.ogg", data.astype(np.float32), sr)
    y, _ = decode_window(path, seconds=28.0)
    frames = np.abs(y[: len(y) // 1024 * 1024]).reshape(-1, 1024).max(axis=1)
    assert frames.min() > 0.3
    head, _ = decode_window(path, seconds=28.0, offset=0.0)
    assert np.abs(head[: 28 * SR]).max() < 0.01


# ----------------------------------------------------------------------- damaged files


@pytest.mark.parametrize(
    "name",
    ["westlund_legends_of_the_north.ogg", "muldjord_chaos_god.flac", "kevin_macleod_vibe_ace.mp3"],
)
def test_truncated_file_gives_what_decodes(tmp_path: Path, name: str) -> None:
    data = (DATA / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    y, _ = decode_window(path, offset=0.0)
    assert y.dtype == np.float32
    assert 1.0 * SR < len(y) < 7.5 * SR
    check_features(features_from_signal(y))


@pytest.mark.parametrize("suffix", [".flac", ".ogg", ".wav"])
def test_truncated_long_file_centred_window(tmp_path: Path, suffix: str) -> None:
    """The headers promise 120 s, the data hold 36: the centred window (45-75 s) is gone,
    so the first 30 s that decode come back instead of nothing."""
    path = write(tmp_path / f"long{suffix}", tone(120.0, 44100, 440.0, 0.3), 44100)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 10])
    y, _ = decode_window(path)
    assert abs(len(y) - 30 * SR) < 0.05 * SR
    blocks = np.abs(y[: len(y) // 1024 * 1024]).reshape(-1, 1024).max(axis=1)
    assert blocks.min() > 0.25  # the tone all along, not zeros
    check_features(features_from_signal(y))


def test_truncated_m4a(tmp_path: Path) -> None:
    data = (DATA / "kevin_macleod_vibe_ace.m4a").read_bytes()
    path = tmp_path / "cut.m4a"
    path.write_bytes(data[: len(data) * 2 // 3])
    try:
        y, _ = decode_window(path, offset=0.0)
    except DecodeError as exc:  # moov atom at the end: nothing to decode is fine too
        assert exc.kind in {"truncated", "not audio"}
    else:
        assert y.dtype == np.float32 and len(y) > 0


def test_truncated_wav(tmp_path: Path) -> None:
    path = write(tmp_path / "t.wav", tone(10.0, SR), SR)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    y, _ = decode_window(path, offset=0.0)
    assert 4.5 * SR < len(y) < 5.5 * SR


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp3"
    path.touch()
    with pytest.raises(DecodeError) as info:
        decode_window(path)
    assert info.value.kind == "empty"
    assert "empty" in str(info.value)


@pytest.mark.parametrize("suffix", [".mp3", ".ogg", ".m4a", ".flac", ".bin"])
def test_random_bytes(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(np.random.default_rng(7).bytes(50_000))
    with pytest.raises(DecodeError) as info:
        decode_window(path)
    assert info.value.kind == "not audio"


def test_text_file_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "notes.ogg"
    path.write_text("these are not the sounds you are looking for\n" * 100)
    with pytest.raises(DecodeError) as info:
        analyse_file(path)
    assert info.value.kind == "not audio"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DecodeError) as info:
        decode_window(tmp_path / "nope.flac")
    assert info.value.kind == "unreadable"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "locked.flac"
    shutil.copy(DATA / "muldjord_chaos_god.flac", path)
    path.chmod(0)
    try:
        with pytest.raises(DecodeError) as info:
            decode_window(path)
        assert info.value.kind == "permission denied"
    finally:
        path.chmod(0o644)


def test_permission_denied_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same, for root too: the open() that musicorg.analyse.audio calls refuses."""
    from musicorg.analyse import audio

    def refuse(*_args: object, **_kw: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(audio, "open", refuse, raising=False)
    with pytest.raises(DecodeError) as info:
        decode_window(DATA / "muldjord_chaos_god.flac")
    assert info.value.kind == "permission denied"


@pytest.mark.parametrize(
    "name", ["westlund_legends_of_the_north.ogg", "kevin_macleod_vibe_ace.mp3"]
)  # PyAV, soundfile
def test_bytes_path_that_is_not_utf8(tmp_path: Path, name: str) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9 \xff" + os.fsencode(Path(name).suffix)
    with open(raw, "wb") as out:
        out.write((DATA / name).read_bytes())
    y, duration = decode_window(raw)
    assert abs(duration - 8.0) < 0.05 and len(y) > 7 * SR
    assert abs(probe_duration(raw) - duration) < 0.05
    check_features(analyse_file(os.fsdecode(raw)))  # the surrogate-escaped str works too


@pytest.mark.slow
def test_three_hour_file_costs_like_a_short_one(tmp_path: Path) -> None:
    sr = 44100
    path = tmp_path / "long.flac"
    block = tone(60.0, sr, 220.0, 0.3)
    with sf.SoundFile(str(path), "w", sr, 2, format="FLAC") as out:
        for _ in range(180):
            out.write(np.stack([block, block], axis=1))
    tracemalloc.start()
    y, duration = decode_window(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert abs(duration - 3 * 3600) < 1
    assert len(y) == 30 * SR
    assert peak < 64 * 2**20  # a 30-s window, not three hours (which would be ~3.8 GB)


def test_matches_librosa_reference() -> None:
    """The shared-STFT shortcuts compute what librosa's own feature functions compute."""
    import librosa

    y, _ = decode_window(DATA / "westlund_legends_of_the_north.ogg")
    f = features_from_signal(y)
    power = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP)) ** 2
    log_mel = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=SR), top_db=80.0)
    reference = np.vstack(
        [
            librosa.feature.mfcc(S=log_mel, n_mfcc=20),
            librosa.feature.chroma_stft(S=power, sr=SR, tuning=0.0),
            librosa.feature.spectral_contrast(S=np.sqrt(power), sr=SR),
        ]
    )
    assert reference.shape[0] == N_ROWS
    # float32 FFT against librosa's float64 one: rounding-level differences, except in the top
    # contrast band's valleys, whose bins lie far below the rest (checked more loosely).
    pooled = pool_frames(reference)
    np.testing.assert_allclose(f.matrix[:-1], pooled[:-1], rtol=1e-4, atol=1e-2)
    top = np.abs(f.matrix[-1] - pooled[-1])
    assert top.mean() < 0.3 and top.max() < 3.0  # dB, on contrasts of ~50-60 dB
    centroid = librosa.feature.spectral_centroid(S=np.sqrt(power), sr=SR)
    assert f.brightness == pytest.approx(float(centroid.mean()), rel=1e-4)
    # Tempo: librosa's own estimate at its default hop 512, within 3 % (ours refines the peak
    # between lags of hop 1024).
    reference_bpm = float(librosa.feature.tempo(y=y, sr=SR)[0])
    assert f.tempo == pytest.approx(reference_bpm, rel=0.03)


def test_decode_error_crosses_process_boundaries() -> None:
    """Analysis workers send DecodeErrors back to the parent process."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as pool:
        error = pool.submit(_decode_error_in_child, str(DATA / "SOURCES.txt")).result()
    assert isinstance(error, DecodeError)
    assert error.kind == "not audio" and "SOURCES.txt" in str(error)


def _decode_error_in_child(path: str) -> DecodeError | None:
    try:
        decode_window(path)
    except DecodeError as exc:
        return exc
    return None
