"""The bundled model, its integrity checks, the lyrics pipeline and the PoE masking."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from musicorg.analyse.features import FEATURES_VERSION  # noqa: E402
from musicorg.model import bundle  # noqa: E402
from musicorg.model.textpipe import TextPipeline, sklearn_transform  # noqa: E402
from musicorg.model.textpipe import fit as fit_textpipe  # noqa: E402
from musicorg.model.vae import HybridVAE, Masks, ours_config, paper_config  # noqa: E402

DATA = Path(__file__).parents[1] / "data"
REAL = [
    "kevin_macleod_vibe_ace.flac",
    "muldjord_chaos_god.flac",
    "westlund_legends_of_the_north.ogg",
]

LYRICS = [
    "I walk the line tonight, under the city lights, dancing till the morning comes",
    "[Chorus] Love me tender, love me true, never let me go",
    "Guns and money on the street, rolling deep with my crew tonight",
    "Jesus walks with me, grace and glory, hallelujah in the morning",
    "Whiskey river take my mind, old truck and a dusty road behind",
    "[Verse 1: Someone] Baby baby baby oh, like baby baby baby no",
    "The morning sun is rising over fields of gold and green",
    "Money on my mind, city never sleeps, lights and the beat go on",
    "Heartbreak on the radio, crying over you again tonight",
    "Dancing in the dark with you, between the lights of the city",
    "Rolling down the highway with the radio on, road goes on forever",
    "Never gonna give you up, never gonna let you down, never run around",
]


@pytest.fixture(scope="module")
def model() -> bundle.LoadedModel:
    return bundle.load_model(device="cpu", num_threads=1)


@pytest.fixture(scope="module")
def real_features() -> tuple[np.ndarray, np.ndarray]:
    from musicorg.analyse.features import analyse_file

    feats = [analyse_file(DATA / name, seconds=8.0) for name in REAL]
    x = np.stack([f.matrix for f in feats]).astype(np.float32)
    s = np.stack([f.stats for f in feats]).astype(np.float32)
    return x, s


@pytest.fixture(scope="module")
def teacher_vectors() -> np.ndarray:
    """MusiCNN's vectors of the same windows (the bundled model reads them)."""
    from musicorg.analyse.features import analyse_file
    from musicorg.model.musicnn import Teacher

    audio = [analyse_file(DATA / name, seconds=8.0).teacher_audio for name in REAL]
    vectors, _, _ = Teacher(torch.device("cpu")).track_outputs([a for a in audio if a is not None])
    return vectors


def test_bundled_model_embeds_real_features(
    model: bundle.LoadedModel,
    real_features: tuple[np.ndarray, np.ndarray],
    teacher_vectors: np.ndarray,
) -> None:
    x, s = real_features
    t = teacher_vectors
    assert model.version == bundle.BUNDLED_VERSION
    # Trained on the features this musicorg computes, and reads MusiCNN's vectors.
    assert model.features_version == str(FEATURES_VERSION)
    assert model.config.teacher_dim == t.shape[1] == 200
    mu = model.embed(x, s, [None, LYRICS[0], None], teacher=t)
    assert mu.shape == (3, 32) and mu.dtype == np.float32
    assert np.isfinite(mu).all()
    again = model.embed(x, s, [None, LYRICS[0], None], batch_size=1, teacher=t)
    np.testing.assert_allclose(mu, again, rtol=1e-5, atol=1e-5)
    # Without statistics the loader approximates them from the matrix: still finite.
    assert np.isfinite(model.embed(x, None, None, teacher=t)).all()
    # Without MusiCNN's vectors it refuses (it would embed something else).
    with pytest.raises(ValueError, match="MusiCNN"):
        model.embed(x, s, None)
    # Lyrics refine a track's point: they move it, but not the audio-only rows.
    plain = model.embed(x, s, None, teacher=t)
    np.testing.assert_allclose(plain[[0, 2]], mu[[0, 2]], rtol=1e-5, atol=1e-5)


def test_text_only_and_audio_only_embedding(
    model: bundle.LoadedModel, real_features: tuple[np.ndarray, np.ndarray]
) -> None:
    t = model.embed(None, None, LYRICS[:4])
    assert t.shape == (4, 32) and np.isfinite(t).all()
    with pytest.raises(ValueError):
        model.embed(None, None, [LYRICS[0], None])
    with pytest.raises(ValueError):
        model.embed(real_features[0][:, :, :100], None, None, teacher=np.zeros((3, 200)))


def _copy_bundle(tmp_path: Path) -> Path:
    dst = tmp_path / bundle.BUNDLED_VERSION
    shutil.copytree(bundle.bundled_model_dir(), dst)
    return dst


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    d = _copy_bundle(tmp_path)
    w = d / bundle.WEIGHTS_NAME
    data = bytearray(w.read_bytes())
    data[len(data) // 2] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(bundle.ModelIntegrityError, match="SHA-256"):
        bundle.load_model(d, device="cpu", expected_manifest_sha256=bundle.BUNDLED_MANIFEST_SHA256)


def test_truncated_weights_are_refused(tmp_path: Path) -> None:
    d = _copy_bundle(tmp_path)
    w = d / bundle.WEIGHTS_NAME
    w.write_bytes(w.read_bytes()[:1000])
    with pytest.raises(bundle.ModelIntegrityError, match="truncated"):
        bundle.load_model(d, device="cpu")


def test_rewritten_manifest_is_refused_against_the_pin(tmp_path: Path) -> None:
    d = _copy_bundle(tmp_path)
    (d / "textpipe.json").write_text("{}")
    bundle.write_manifest(d, "evil")  # a self-consistent manifest, but not the pinned one
    with pytest.raises(bundle.ModelIntegrityError, match="expected"):
        bundle.load_model(d, device="cpu", expected_manifest_sha256=bundle.BUNDLED_MANIFEST_SHA256)


def test_bundled_dir_is_checked_against_the_pin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _copy_bundle(tmp_path)
    (d / "MODEL_CARD.md").write_text("changed")
    bundle.write_manifest(d, "changed")
    monkeypatch.setattr(bundle.paths, "models_dir", lambda: tmp_path)
    with pytest.raises(bundle.ModelIntegrityError):
        bundle.load_model(device="cpu")


class _Boom:
    """Unpickling this would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.marker),))  # type: ignore[return-value]


def test_malicious_pickle_is_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pt"
    torch.save({"model": _Boom(marker)}, evil)
    assert not marker.exists()
    with pytest.raises(bundle.ModelIntegrityError):
        bundle.load_state_file(evil)
    assert not marker.exists()

    # The same payload planted as the weights of an otherwise consistent bundle.
    d = _copy_bundle(tmp_path)
    shutil.copyfile(evil, d / bundle.WEIGHTS_NAME)
    bundle.write_manifest(d, "evil")
    with pytest.raises(bundle.ModelIntegrityError):
        bundle.load_model(d, device="cpu")
    assert not marker.exists()


def test_manifest_lists_every_file_and_size_limit() -> None:
    d = bundle.bundled_model_dir()
    manifest = json.loads((d / bundle.MANIFEST_NAME).read_text())
    names = {p.name for p in d.iterdir()} - {bundle.MANIFEST_NAME}
    assert names == set(manifest["files"])
    assert "MODEL_CARD.md" in names
    assert sum(p.stat().st_size for p in d.iterdir()) < 20 * 1024 * 1024
    assert not any(p.suffix in (".pkl", ".pickle", ".joblib", ".pt") for p in d.iterdir())


def test_textpipe_numpy_matches_sklearn(tmp_path: Path) -> None:
    pipe, vec, pca = fit_textpipe(LYRICS, max_features=500, n_components=6, min_df=2)
    probe = [*LYRICS[:3], "Completely unseen words zzz", "", "CITY LIGHTS tonight, tonight!"]
    ours = pipe.transform(probe)
    ref = sklearn_transform(vec, pca, probe)
    assert ours.shape == (len(probe), 6)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)
    pipe.save(tmp_path)
    with np.load(tmp_path / "textpipe.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    again = TextPipeline.load(tmp_path)
    np.testing.assert_allclose(again.transform(probe), ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("make", [ours_config, paper_config])
def test_masking_text_only_audio_only(make: object) -> None:
    torch.manual_seed(0)
    cfg = make()  # type: ignore[operator]
    m = HybridVAE(cfg).eval()
    b = 6
    a = torch.randn(b, 39, 130)
    s = torch.randn(b, 78) if cfg.use_stats else None
    t = torch.randn(b, 64)
    with torch.no_grad():
        mu_a, lv_a = m.encode(a, s, None)
        mu_t, _ = m.encode(None, None, t)
        masks = Masks(audio=torch.tensor([1, 1, 1, 0, 0, 0]).bool(), text=torch.zeros(b).bool())
        masks.text[2:] = True
        mu_m, _ = m.encode(a, s, t, masks)
        # Garbage in masked-out rows changes nothing.
        a2 = a.clone()
        a2[3:] = 1e6
        t2 = t.clone()
        t2[:2] = -1e6
        mu_m2, _ = m.encode(a2, s, t2, masks)
    assert mu_a.shape == mu_t.shape == (b, 32)
    assert torch.isfinite(lv_a).all()
    torch.testing.assert_close(mu_m, mu_m2)
    torch.testing.assert_close(mu_m[:2], mu_a[:2])
    torch.testing.assert_close(mu_m[3:], mu_t[3:])
    # The loss ignores absent branches and names its terms.
    m.train()
    out = m(a, s, t, masks)
    terms = m.loss_function(out, a, s, t, masks, beta=0.5)
    assert {"total", "audio", "text", "kl", "beta"} <= set(terms)
    assert torch.isfinite(terms["total"])


def test_device_choice_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    m = bundle.load_model(device="cpu", num_threads=1)
    assert m.device.type == "cpu"
    assert all(p.device.type == "cpu" for p in m.model.parameters())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bundle.pick_device("auto").type == "cpu"
    with pytest.raises(RuntimeError, match="CUDA"):
        bundle.pick_device("cuda")
    with pytest.raises(ValueError):
        bundle.pick_device("tpu")


def test_app_modules_import_without_torch() -> None:
    code = (
        "import sys, musicorg, musicorg.paths, musicorg.analyse.features, musicorg.analyse.audio\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shift_windows_take_frames_from_the_neighbouring_clip() -> None:
    import torch

    from musicorg.model.trainer import neighbours, shift_windows

    # Two tracks: track 0 has clips 0,1,2 end to end (rows in shuffled order), track 1 one clip.
    group = np.array([0, 1, 0, 0], dtype=np.int64)
    order = np.array([1, 0, 0, 2], dtype=np.int64)
    prev, nxt = neighbours(group, order)
    assert prev.tolist() == [2, -1, -1, 0]
    assert nxt.tolist() == [3, -1, 0, -1]
    n_frames = 10
    # Frame values encode (track, position in the recording) so windows can be checked.
    xa = torch.zeros(4, 2, n_frames)
    for r in range(4):
        xa[r] = torch.arange(n_frames) + order[r] * n_frames + 100 * group[r]
    xs = torch.tensor([[1.0], [5.0], [0.0], [2.0]])
    rng = np.random.default_rng(0)
    seen: set[int] = set()
    for _ in range(50):
        rows = np.array([0, 1, 2, 3], dtype=np.int64)
        a, s = shift_windows(xa, xs, rows, prev, nxt, 0.5, rng)
        for k, r in enumerate(rows):
            start = int(a[k, 0, 0]) - 100 * int(group[r])
            # A contiguous window of the recording, never past its ends, within half a clip.
            expect = torch.arange(n_frames) + start + 100 * int(group[r])
            assert torch.equal(a[k, 0], expect.float())
            assert 0 <= start <= (3 if group[r] == 0 else 1) * n_frames - n_frames
            assert abs(start - order[r] * n_frames) <= n_frames // 2
        # The lone clip never moves; statistics mix in proportion to the frames taken.
        assert torch.equal(a[1], xa[1]) and float(s[1]) == 5.0
        d0 = int(a[0, 0, 0]) - n_frames
        seen.add(d0)
        assert float(s[0]) == pytest.approx(
            1.0 + (abs(d0) / n_frames) * (2.0 - 1.0 if d0 > 0 else -1.0)
        )
    assert min(seen) < 0 < max(seen)


def test_decoding_present_rows_only_matches_full_decoding() -> None:
    import torch

    model = HybridVAE(ours_config()).eval()
    z = torch.randn(6, model.cfg.latent_dim)
    masks = Masks(
        audio=torch.tensor([True, False, True, False, False, True]),
        text=torch.tensor([False, True, False, True, True, False]),
    )
    with torch.inference_mode():
        full = model.decode(z)
        part = model.decode_present(z, masks)
    rows = masks.audio
    assert torch.allclose(part["audio"][rows], full["audio"][rows], atol=1e-6)
    assert torch.count_nonzero(part["audio"][~rows]) == 0
    assert torch.equal(part["text"], full["text"]) and torch.equal(part["stats"], full["stats"])


@pytest.mark.parametrize("pool", ["flatten", "pool", "both"])
def test_audio_pool_modes(pool: str) -> None:
    """The audio expert reads the last convolution's map flattened, pooled over time, or both;
    a config written before the option existed (no ``audio_pool`` key) is the flattened model
    and takes its weights strictly."""
    from musicorg.model.vae import VAEConfig

    cfg = dataclasses.replace(ours_config(), audio_pool=pool)  # type: ignore[arg-type]
    model = HybridVAE(cfg).eval()
    c3, h3, w3 = model.audio_enc.out_shape
    flat, pooled = c3 * h3 * w3, 2 * c3 * h3
    assert model.audio_enc.out_dim == {"flatten": flat, "pool": pooled, "both": flat + pooled}[pool]
    a, s = torch.randn(3, 39, 130), torch.randn(3, 78)
    with torch.no_grad():
        feats = model.audio_enc(a)
        mu, logvar = model.encode(a, s, None)
    assert feats.shape == (3, model.audio_enc.out_dim)
    assert torch.isfinite(mu).all() and torch.isfinite(logvar).all()
    again = VAEConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again.audio_pool == pool
    if pool == "flatten":
        old = {k: v for k, v in cfg.to_dict().items() if k != "audio_pool"}
        HybridVAE(VAEConfig.from_dict(old)).load_state_dict(model.state_dict(), strict=True)


def test_unknown_audio_pool_is_refused() -> None:
    from musicorg.model.vae import VAEConfig

    with pytest.raises(ValueError, match="audio_pool"):
        HybridVAE(VAEConfig(audio_pool="max"))  # type: ignore[arg-type]


def test_teacher_head_reads_rebuilds_and_keeps_neighbourhoods() -> None:
    """v2: the audio expert reads the MusiCNN vector after the statistics, a head rebuilds
    it, and the distance term is zero exactly when μ's pairwise distances are the teacher's
    up to scale; an older config (no teacher keys) still loads its weights strictly."""
    from musicorg.model.vae import VAEConfig, distance_preservation

    cfg = dataclasses.replace(ours_config(), teacher_dim=200, distance_weight=10.0)
    assert cfg.side_dim == 278
    model = HybridVAE(cfg).eval()
    a, side = torch.randn(4, 39, 130), torch.randn(4, 278)
    with torch.no_grad():
        out = model(a, side, None)
        moved = side.clone()
        moved[:, 78:] += 3.0
        mu_moved, _ = model.encode(a, moved, None)
    assert out["stats"].shape == (4, 278)
    assert not torch.allclose(out["mu"], mu_moved)  # the teacher part is read
    with pytest.raises(ValueError, match="side input"):
        model.encode(a, side[:, :78], None)
    masks = Masks(audio=torch.ones(4, dtype=torch.bool), text=torch.zeros(4, dtype=torch.bool))
    terms = model.loss_function(out, a, side, None, masks, beta=0.1)
    assert float(terms["teacher"]) > 0 and torch.isfinite(terms["total"])
    t = torch.randn(8, 200, generator=torch.Generator().manual_seed(0))
    assert float(distance_preservation(t[:, :32] * 5.0, t[:, :32])) < 1e-6
    far = t[:, :32].clone()
    far[0] += 50.0  # one point far from the rest: the distances no longer match
    assert float(distance_preservation(far, t[:, :32])) > 0.1
    new_keys = ("teacher", "distance")
    old = {k: v for k, v in ours_config().to_dict().items() if not k.startswith(new_keys)}
    HybridVAE(VAEConfig.from_dict(old)).load_state_dict(
        HybridVAE(ours_config()).state_dict(), strict=True
    )


def test_teacher_model_embeds_only_with_teacher_vectors(
    tmp_path: Path, real_features: tuple[np.ndarray, np.ndarray]
) -> None:
    from musicorg.model import trainer
    from musicorg.model.write import write_bundle

    cfg = dataclasses.replace(ours_config(), teacher_dim=200, distance_weight=100.0)
    rng = np.random.default_rng(0)
    x, s = real_features
    t = rng.normal(size=(3, 200)).astype(np.float32)
    side = bundle.side_input(cfg, s, t)
    norm = bundle.Normalizer.fit(x, side, None)
    data = trainer.TrainArrays(
        audio=norm.audio(np.concatenate([x, x])),
        stats=norm.stats(np.concatenate([side, side])),
        text=np.zeros((0, 64), np.float32),
        group=np.arange(6, dtype=np.int64),
    )
    out = trainer.train(
        cfg, data, trainer.TrainSettings(epochs=1, batch_size=6, device="cpu"), tmp_path / "r"
    )
    assert "distance" in out.history[0] and "teacher" in out.history[0]
    norm.save(tmp_path / "norm.npz")
    pipe, _, _ = fit_textpipe(LYRICS, max_features=50, n_components=4, min_df=1, seed=0)
    meta = {"version": "t-1", "model": cfg.to_dict(), "features_version": FEATURES_VERSION}
    digest = write_bundle(
        tmp_path / "t-1", "t-1", out.model.state_dict(), meta, tmp_path / "norm.npz", pipe, "card"
    )
    lm = bundle.load_model(tmp_path / "t-1", device="cpu", expected_manifest_sha256=digest)
    mu = lm.embed(x, s, None, teacher=t)
    assert mu.shape == (3, 32) and np.isfinite(mu).all()
    with pytest.raises(ValueError, match="MusiCNN"):
        lm.embed(x, s, None)
