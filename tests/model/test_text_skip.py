"""The lyrics expert's linear path (VAEConfig.text_skip): built, trained, bundled, reset."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from musicorg.analyse.features import FEATURES_VERSION  # noqa: E402
from musicorg.model import bundle, trainer  # noqa: E402
from musicorg.model.textpipe import fit as fit_textpipe  # noqa: E402
from musicorg.model.vae import HybridVAE, Masks, VAEConfig, ours_config  # noqa: E402
from musicorg.model.write import write_bundle  # noqa: E402

LYRICS = [
    "I walk the line tonight, under the city lights, dancing till the morning comes",
    "Love me tender, love me true, never let me go",
    "Guns and money on the street, rolling deep with my crew tonight",
    "Jesus walks with me, grace and glory, hallelujah in the morning",
    "Whiskey river take my mind, old truck and a dusty road behind",
    "Baby baby baby oh, like baby baby baby no, baby the morning lights",
    "The morning sun is rising over fields of gold and green",
    "Money on my mind, city never sleeps, lights and the beat go on",
    "Heartbreak on the radio, crying over you again tonight",
    "Dancing in the dark with you, between the lights of the city",
]


def _text_masks(n: int) -> Masks:
    return Masks(audio=torch.zeros(n, dtype=torch.bool), text=torch.ones(n, dtype=torch.bool))


def test_text_skip_starts_as_the_leading_components() -> None:
    """The path starts as the identity on the lyrics vector's first latent_dim coordinates, so
    with the ReLU branch's head zeroed a lyrics-only μ is exactly those coordinates shrunk by
    the product with the prior; every other layer starts as without the option."""
    torch.manual_seed(3)
    plain = HybridVAE(ours_config())
    torch.manual_seed(3)
    model = HybridVAE(dataclasses.replace(ours_config(), text_skip=True)).eval()
    assert model.text_skip is not None and plain.text_skip is None
    w = model.text_skip.weight.detach()
    assert w.shape == (32, 64)
    torch.testing.assert_close(w[:, :32], torch.eye(32))
    assert torch.count_nonzero(w[:, 32:]) == 0 and torch.count_nonzero(model.text_skip.bias) == 0
    old = plain.state_dict()
    new = model.state_dict()
    assert set(new) - set(old) == {"text_skip.weight", "text_skip.bias"}
    assert all(torch.equal(old[k], new[k]) for k in old)
    with torch.no_grad():
        model.text_mu.weight.zero_()
        model.text_mu.bias.zero_()
        x = torch.randn(5, 64)
        mu, logvar = model.encode(None, None, x)
    shrink = 1.0 - torch.exp(logvar)  # precision p of the lyrics expert: μ = p/(1+p) μ_t
    torch.testing.assert_close(mu, shrink * x[:, :32])


def test_text_skip_needs_the_product_of_experts() -> None:
    with pytest.raises(ValueError, match="text_skip"):
        HybridVAE(VAEConfig(fusion="concat", text_skip=True))


def test_configs_without_the_key_build_the_model_they_were_saved_with() -> None:
    """A config written before the option (no ``text_skip`` key) has no path and takes an old
    model's weights strictly; the key round-trips through the bundle's JSON."""
    old = {k: v for k, v in ours_config().to_dict().items() if k != "text_skip"}
    cfg = VAEConfig.from_dict(old)
    assert not cfg.text_skip
    HybridVAE(cfg).load_state_dict(HybridVAE(ours_config()).state_dict(), strict=True)
    on = dataclasses.replace(ours_config(), text_skip=True)
    assert VAEConfig.from_dict(on.to_dict()).text_skip


def test_text_skip_trains_bundles_and_resets_with_the_pipeline(tmp_path: Path) -> None:
    """One epoch of the trainer moves the path; the bundle (safetensors, loaded back strictly)
    embeds lyrics as the trained network does; refitting the lyrics pipeline re-initialises
    the path with the rest of the lyrics branch."""
    pipe, _, _ = fit_textpipe(LYRICS, max_features=60, n_components=64, min_df=1, seed=0)
    k = pipe.n_components  # 10 lyrics: fewer components than the latent has dims
    cfg = dataclasses.replace(ours_config(), text_dim=k, text_skip=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 39, 130)).astype(np.float32)
    s = rng.normal(size=(4, 78)).astype(np.float32)
    lyr = pipe.transform(LYRICS).astype(np.float32)
    norm = bundle.Normalizer.fit(x, s, lyr)
    data = trainer.TrainArrays(
        audio=norm.audio(x),
        stats=norm.stats(s),
        text=norm.text(lyr),
        group=np.arange(4, dtype=np.int64),
    )
    torch.manual_seed(0)
    start = HybridVAE(cfg).text_skip
    assert start is not None
    out = trainer.train(
        cfg, data, trainer.TrainSettings(epochs=1, batch_size=7, device="cpu"), tmp_path / "r"
    )
    assert np.isfinite(out.history[-1]["total"])
    skip = out.model.text_skip
    assert skip is not None
    assert not torch.equal(skip.weight.detach().cpu(), start.weight.detach())

    norm.save(tmp_path / "norm.npz")
    meta = {"version": "t-1", "model": cfg.to_dict(), "features_version": FEATURES_VERSION}
    digest = write_bundle(
        tmp_path / "t-1", "t-1", out.model.state_dict(), meta, tmp_path / "norm.npz", pipe, "card"
    )
    lm = bundle.load_model(tmp_path / "t-1", device="cpu", expected_manifest_sha256=digest)
    assert lm.config.text_skip
    got = lm.embed(None, None, LYRICS[:3])
    net = out.model.cpu().eval()
    with torch.no_grad():
        t = torch.from_numpy(norm.text(lyr[:3]))
        want, _ = net.encode(None, None, t, _text_masks(3))
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6)

    fresh = HybridVAE(cfg)
    skipped = trainer.load_init_state(fresh, out.model.state_dict(), trainer.TEXT_BRANCH_PREFIXES)
    assert {"text_skip.weight", "text_skip.bias"} <= set(skipped)
    assert fresh.text_skip is not None
    torch.testing.assert_close(fresh.text_skip.weight[:, :k], torch.eye(32, k))
