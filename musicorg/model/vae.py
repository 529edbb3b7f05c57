"""The hybrid audio/lyrics VAE.

Two configurations share this module:

``paper``
    The seed paper's model: a 3-layer CNN (32, 64, 128 filters, batch norm, LeakyReLU) over
    the 39x130 feature matrix, a 64→32 ReLU MLP over the 64-d lyrics vector, the two outputs
    concatenated and mapped to μ and a clamped log σ². Loss: 1.0·MSE(audio) + 0.1·MSE(text)
    + β·KL with MSE averaged over elements and KL averaged over batch *and* latent dims.

``ours``
    The same encoders, but each modality is an *expert* giving its own Gaussian, fused with a
    standard-normal prior expert by a product of experts (PoE): an absent modality is simply
    left out of the product, so audio-only and text-only samples train the same latent space.
    Optional 78-d statistics (per-feature mean+std) enter the audio expert and are
    reconstructed by a small decoder head. Loss on the ELBO scale: per sample, squared error
    summed over cells / 2 (a unit-variance Gaussian likelihood) + KL summed over latent dims,
    then averaged over the batch.

The model works on *normalised* inputs; normalisation lives with the bundle (see bundle.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

N_FEATURES = 39
N_FRAMES = 130
TEXT_DIM = 64
STATS_DIM = 78


@dataclass
class VAEConfig:
    """Everything that shapes the network and its loss. Serialised to JSON with the weights."""

    latent_dim: int = 32
    n_features: int = N_FEATURES
    n_frames: int = N_FRAMES
    text_dim: int = TEXT_DIM
    stats_dim: int = STATS_DIM
    conv_channels: tuple[int, int, int] = (32, 64, 128)
    text_hidden: int = 32
    # 'concat': the paper's fusion; 'poe': product of experts with a N(0, I) prior expert.
    fusion: Literal["concat", "poe"] = "concat"
    # 'paper': MSE means + KL mean over batch and dims; 'elbo': sums per sample, batch mean.
    loss_scale: Literal["paper", "elbo"] = "paper"
    use_stats: bool = False
    stats_hidden: int = 128
    audio_weight: float = 1.0
    text_weight: float = 0.1
    stats_weight: float = 1.0
    beta_max: float = 1.0
    anneal_epochs: float = 50.0
    logvar_min: float = -10.0
    logvar_max: float = 10.0
    # Lower bound on the text expert's log-variance (PoE only): keeps lyrics a refinement of
    # an audio posterior rather than something that overrides it.
    text_logvar_min: float = -10.0
    # PoE only: a linear path from the lyrics vector to the lyrics expert's mean, beside the
    # ReLU layer, starting as the identity on the vector's first ``latent_dim`` coordinates
    # (its leading principal components): a lyrics-only μ starts as the top of the TF-IDF+PCA
    # vector, and the layer adds what is not linear (text kNN@5 0.459 against 0.442 without
    # it, five seeds of training/text_branch.py; training/TEXT_SKIP.md).
    text_skip: bool = False
    dropout: float = 0.0
    # Training only: weight of a contrastive term pulling μ of two clips of the same track
    # together (negative squared distance / tau as the similarity), 0 to disable.
    contrastive_weight: float = 0.0
    contrastive_tau: float = 1.0
    # A linear head adding a per-feature level (broadcast over time) to the audio decoder's
    # output: the clip's feature means come from the latent directly, the transposed
    # convolutions only draw how they move in time.
    audio_level_head: bool = False
    # A linear map from the latent to the whole matrix, added to the decoder's output: the
    # decoder can then do at least what PCA does, and the convolutions add what is not linear.
    audio_linear_head: bool = False
    # What the audio expert reads from the last convolution's (channels, bands, time) map:
    # 'flatten' (the paper's: every cell, tied to its place in time), 'pool' (each channel and
    # band's mean and standard deviation over time: what the clip sounds like, wherever in
    # the window it happens) or 'both'.
    audio_pool: Literal["flatten", "pool", "both"] = "flatten"
    # v2 ("ours" from hvae-1.0.0): the audio expert also reads MusiCNN's 200-d vector (the
    # frozen teacher, musicorg.model.musicnn), which follows the statistics in the side input
    # (stats is then (B, stats_dim + teacher_dim)); a head rebuilds it (weight
    # ``teacher_weight``), and ``distance_weight`` scales a term that keeps the pairwise
    # distances of μ in a batch proportional to the teacher vectors' (its neighbourhoods).
    teacher_dim: int = 0
    teacher_hidden: int = 256
    teacher_weight: float = 1.0
    distance_weight: float = 0.0

    @property
    def side_dim(self) -> int:
        """Width of the side input: the statistics, then the teacher vector."""
        return self.stats_dim + self.teacher_dim

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["conv_channels"] = list(self.conv_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VAEConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        kw = dict(d)
        if "conv_channels" in kw:
            c = tuple(int(x) for x in kw["conv_channels"])
            if len(c) != 3:
                raise ValueError("conv_channels must have 3 entries")
            kw["conv_channels"] = c
        return cls(**kw)


def _conv_out(n: int) -> int:
    """Length after a kernel-3, stride-2, padding-1 convolution."""
    return (n - 1) // 2 + 1


@dataclass
class Masks:
    """Which modalities each sample carries (bool tensors of shape (B,))."""

    audio: Tensor
    text: Tensor


class AudioEncoder(nn.Module):
    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        c1, c2, c3 = cfg.conv_channels
        layers: list[nn.Module] = []
        cin = 1
        for cout in (c1, c2, c3):
            layers += [
                nn.Conv2d(cin, cout, kernel_size=3, stride=2, padding=1),
                nn.BatchNorm2d(cout),
                nn.LeakyReLU(0.2),
            ]
            cin = cout
        self.net = nn.Sequential(*layers)
        h, w = cfg.n_features, cfg.n_frames
        for _ in range(3):
            h, w = _conv_out(h), _conv_out(w)
        self.out_shape = (c3, h, w)
        if cfg.audio_pool not in ("flatten", "pool", "both"):
            raise ValueError(f"unknown audio_pool {cfg.audio_pool!r}")
        self.pool = cfg.audio_pool
        flat, pooled = c3 * h * w, 2 * c3 * h
        self.out_dim = {"flatten": flat, "pool": pooled, "both": flat + pooled}[self.pool]

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x.unsqueeze(1))
        parts = []
        if self.pool != "pool":
            parts.append(out.flatten(1))
        if self.pool != "flatten":
            parts.append(out.mean(dim=3).flatten(1))
            parts.append(out.std(dim=3).flatten(1))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


class AudioDecoder(nn.Module):
    def __init__(self, cfg: VAEConfig, enc_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.enc_shape = enc_shape
        c3, h3, w3 = enc_shape
        c1, c2, _ = cfg.conv_channels
        self.fc = nn.Linear(cfg.latent_dim, c3 * h3 * w3)
        # Output paddings chosen so the three stride-2 layers land exactly on the input size.
        sizes_h = [cfg.n_features]
        sizes_w = [cfg.n_frames]
        for _ in range(3):
            sizes_h.append(_conv_out(sizes_h[-1]))
            sizes_w.append(_conv_out(sizes_w[-1]))
        chans = [c3, c2, c1, 1]
        layers: list[nn.Module] = []
        for i in range(3):
            hin, win = sizes_h[3 - i], sizes_w[3 - i]
            hout, wout = sizes_h[2 - i], sizes_w[2 - i]
            op = (hout - (2 * hin - 1), wout - (2 * win - 1))
            layers.append(
                nn.ConvTranspose2d(
                    chans[i], chans[i + 1], kernel_size=3, stride=2, padding=1, output_padding=op
                )
            )
            if i < 2:
                layers += [nn.BatchNorm2d(chans[i + 1]), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)
        self.level: nn.Module | None = (
            nn.Linear(cfg.latent_dim, cfg.n_features) if cfg.audio_level_head else None
        )
        self.linear: nn.Module | None = (
            nn.Linear(cfg.latent_dim, cfg.n_features * cfg.n_frames)
            if cfg.audio_linear_head
            else None
        )

    def forward(self, z: Tensor) -> Tensor:
        h = self.fc(z).view(z.shape[0], *self.enc_shape)
        out: Tensor = self.net(F.leaky_relu(h, 0.2)).squeeze(1)
        if self.level is not None:
            out = out + self.level(z).unsqueeze(-1)
        if self.linear is not None:
            out = out + self.linear(z).view_as(out)
        return out


def _mlp(sizes: list[int], dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def _identity_linear(n_in: int, n_out: int) -> nn.Linear:
    """A linear layer that starts by passing its first ``min(n_in, n_out)`` inputs through
    (zero bias, zero weights elsewhere)."""
    layer = nn.Linear(n_in, n_out)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()
        k = min(n_in, n_out)
        layer.weight[:k, :k] = torch.eye(k)
    return layer


class HybridVAE(nn.Module):
    """Audio (39x130 matrix, optional 78-d stats) + lyrics (64-d) VAE with a shared latent."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.latent_dim
        self.audio_enc = AudioEncoder(cfg)
        self.text_enc = nn.Sequential(nn.Linear(cfg.text_dim, cfg.text_hidden), nn.ReLU())
        audio_feat = self.audio_enc.out_dim
        if cfg.use_stats:
            self.stats_enc: nn.Module | None = nn.Sequential(
                nn.Linear(cfg.stats_dim, cfg.stats_hidden), nn.ReLU()
            )
            audio_feat += cfg.stats_hidden
        else:
            self.stats_enc = None
        if cfg.teacher_dim and not cfg.use_stats:
            raise ValueError("a teacher vector rides with the statistics: set use_stats")
        self.teacher_enc: nn.Module | None = None
        self.teacher_dec: nn.Module | None = None
        if cfg.teacher_dim:
            self.teacher_enc = nn.Sequential(
                nn.Linear(cfg.teacher_dim, cfg.teacher_hidden), nn.ReLU()
            )
            audio_feat += cfg.teacher_hidden
        if cfg.fusion == "concat":
            fused = audio_feat + cfg.text_hidden
            self.fc_mu = nn.Linear(fused, d)
            self.fc_logvar = nn.Linear(fused, d)
        elif cfg.fusion == "poe":
            self.audio_mu = nn.Linear(audio_feat, d)
            self.audio_logvar = nn.Linear(audio_feat, d)
            self.text_mu = nn.Linear(cfg.text_hidden, d)
            self.text_logvar = nn.Linear(cfg.text_hidden, d)
        else:
            raise ValueError(f"unknown fusion {cfg.fusion!r}")
        self.audio_dec = AudioDecoder(cfg, self.audio_enc.out_shape)
        self.text_dec = _mlp([d, cfg.text_hidden, cfg.text_dim])
        self.stats_dec: nn.Module | None = (
            _mlp([d, cfg.stats_hidden, cfg.stats_dim]) if cfg.use_stats else None
        )
        if cfg.teacher_dim:
            self.teacher_dec = _mlp([d, cfg.teacher_hidden, cfg.teacher_dim])
        self.drop = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        # Made last, so that every other layer starts as it does without it (same seed).
        self.text_skip: nn.Linear | None = None
        if cfg.text_skip:
            if cfg.fusion != "poe":
                raise ValueError("text_skip feeds the lyrics expert: set fusion = 'poe'")
            self.text_skip = _identity_linear(cfg.text_dim, d)

    # -- encoding -------------------------------------------------------------------------

    def _masks(
        self, audio: Tensor | None, text: Tensor | None, masks: Masks | None, batch: int
    ) -> Masks:
        dev = next(self.parameters()).device
        if masks is not None:
            a, t = masks.audio.to(dev).bool(), masks.text.to(dev).bool()
        else:
            a = torch.full((batch,), audio is not None, dtype=torch.bool, device=dev)
            t = torch.full((batch,), text is not None, dtype=torch.bool, device=dev)
        if audio is None:
            a = torch.zeros_like(a)
        if text is None:
            t = torch.zeros_like(t)
        return Masks(a, t)

    @staticmethod
    def _batch_size(*xs: Tensor | None) -> int:
        for x in xs:
            if x is not None:
                return int(x.shape[0])
        raise ValueError("encode needs at least one of audio, stats, text")

    def _audio_features(self, audio: Tensor, stats: Tensor | None) -> Tensor:
        h = self.audio_enc(audio)
        if self.stats_enc is not None:
            if stats is None:
                raise ValueError("this model was trained with statistics: pass stats")
            if stats.shape[1] != self.cfg.side_dim:
                raise ValueError(
                    f"side input has {stats.shape[1]} values, the model reads {self.cfg.side_dim}"
                )
            n = self.cfg.stats_dim
            h = torch.cat([h, self.stats_enc(stats[:, :n])], dim=1)
            if self.teacher_enc is not None:
                h = torch.cat([h, self.teacher_enc(stats[:, n:])], dim=1)
        out: Tensor = self.drop(h)
        return out

    def encode(
        self,
        audio: Tensor | None,
        stats: Tensor | None = None,
        text: Tensor | None = None,
        masks: Masks | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Posterior parameters (μ, log σ²), each (B, latent_dim).

        ``audio`` is (B, 39, 130), ``stats`` (B, 78), ``text`` (B, 64), all normalised. Rows
        whose mask is False are ignored for that modality (their values may be anything,
        zeros by convention). Without ``masks`` a modality is present iff its tensor is given.
        """
        b = self._batch_size(audio, stats, text)
        m = self._masks(audio, text, masks, b)
        dev = m.audio.device
        cfg = self.cfg
        if cfg.fusion == "concat":
            # An absent branch contributes zeros (only present rows go through an encoder,
            # so batch norm never sees placeholder inputs).
            n_audio = self.audio_enc.out_dim + (cfg.stats_hidden if cfg.use_stats else 0)
            n_audio += cfg.teacher_hidden if cfg.teacher_dim else 0
            ha = torch.zeros(b, n_audio, device=dev)
            if audio is not None and bool(m.audio.any()):
                idx = m.audio.nonzero(as_tuple=True)[0]
                feats = self._audio_features(audio[idx], stats[idx] if stats is not None else None)
                ha = ha.index_copy(0, idx, feats)
            ht = torch.zeros(b, cfg.text_hidden, device=dev)
            if text is not None and bool(m.text.any()):
                idx = m.text.nonzero(as_tuple=True)[0]
                ht = ht.index_copy(0, idx, self.text_enc(text[idx]))
            h = torch.cat([ha, ht], dim=1)
            mu = self.fc_mu(h)
            logvar = self.fc_logvar(h).clamp(cfg.logvar_min, cfg.logvar_max)
            return mu, logvar

        # Product of experts: precision-weighted mean over the present experts and the prior.
        prec_sum = torch.ones(b, cfg.latent_dim, device=dev)
        wmu_sum = torch.zeros(b, cfg.latent_dim, device=dev)
        if audio is not None and bool(m.audio.any()):
            idx = m.audio.nonzero(as_tuple=True)[0]
            ha = self._audio_features(audio[idx], stats[idx] if stats is not None else None)
            mu_a = self.audio_mu(ha)
            lv_a = self.audio_logvar(ha).clamp(cfg.logvar_min, cfg.logvar_max)
            p = torch.exp(-lv_a)
            prec_sum = prec_sum.index_add(0, idx, p)
            wmu_sum = wmu_sum.index_add(0, idx, p * mu_a)
        if text is not None and bool(m.text.any()):
            idx = m.text.nonzero(as_tuple=True)[0]
            ht = self.drop(self.text_enc(text[idx]))
            mu_t = self.text_mu(ht)
            if self.text_skip is not None:
                mu_t = mu_t + self.text_skip(text[idx])
            lo = max(cfg.logvar_min, cfg.text_logvar_min)
            lv_t = self.text_logvar(ht).clamp(lo, cfg.logvar_max)
            p = torch.exp(-lv_t)
            prec_sum = prec_sum.index_add(0, idx, p)
            wmu_sum = wmu_sum.index_add(0, idx, p * mu_t)
        mu = wmu_sum / prec_sum
        logvar = (-torch.log(prec_sum)).clamp(cfg.logvar_min, cfg.logvar_max)
        return mu, logvar

    # -- decoding and the loss ------------------------------------------------------------

    def _side(self, z: Tensor) -> Tensor | None:
        if self.stats_dec is None:
            return None
        side: Tensor = self.stats_dec(z)
        if self.teacher_dec is not None:
            side = torch.cat([side, self.teacher_dec(z)], dim=1)
        return side

    def decode(self, z: Tensor) -> dict[str, Tensor]:
        out = {"audio": self.audio_dec(z), "text": self.text_dec(z)}
        side = self._side(z)
        if side is not None:
            out["stats"] = side
        return out

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def decode_present(self, z: Tensor, masks: Masks) -> dict[str, Tensor]:
        """:meth:`decode`, but the audio decoder runs only on rows that carry audio (the
        others get zeros, which the masked loss ignores): in a mixed batch most rows are
        lyrics, and the transposed convolutions are the costly part."""
        idx = masks.audio.to(z.device).bool().nonzero(as_tuple=True)[0]
        cfg = self.cfg
        audio = torch.zeros(z.shape[0], cfg.n_features, cfg.n_frames, device=z.device)
        if len(idx):
            audio = audio.index_copy(0, idx, self.audio_dec(z[idx]))
        out = {"audio": audio, "text": self.text_dec(z)}
        side = self._side(z)
        if side is not None:
            out["stats"] = side
        return out

    def forward(
        self,
        audio: Tensor | None,
        stats: Tensor | None = None,
        text: Tensor | None = None,
        masks: Masks | None = None,
        decode_present_only: bool = False,
    ) -> dict[str, Tensor]:
        mu, logvar = self.encode(audio, stats, text, masks)
        z = self.reparameterize(mu, logvar) if self.training else mu
        if decode_present_only and masks is not None:
            out = self.decode_present(z, masks)
        else:
            out = self.decode(z)
        out["mu"], out["logvar"], out["z"] = mu, logvar, z
        return out

    def beta_at(self, epoch: float) -> float:
        """β annealed linearly from 0 to ``beta_max`` over ``anneal_epochs`` (fractional epochs)."""
        if self.cfg.anneal_epochs <= 0:
            return self.cfg.beta_max
        return self.cfg.beta_max * min(1.0, max(0.0, epoch / self.cfg.anneal_epochs))

    def loss_function(
        self,
        out: dict[str, Tensor],
        audio: Tensor | None,
        stats: Tensor | None,
        text: Tensor | None,
        masks: Masks,
        beta: float,
    ) -> dict[str, Tensor]:
        """Named loss terms: total, audio, text, stats, kl (and beta as a tensor).

        Absent modalities contribute nothing: their reconstruction terms are masked out.
        ``paper`` scale: element means (over present samples) and KL mean over batch and dims.
        ``elbo`` scale: per-sample sums (squared error / 2, KL over dims), mean over the batch.
        """
        cfg = self.cfg
        mu, logvar = out["mu"], out["logvar"]
        dev = mu.device
        b = mu.shape[0]
        kl_per = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())  # (B, D)
        ma = masks.audio.to(dev).float()
        mt = masks.text.to(dev).float()
        zero = torch.zeros((), device=dev)

        def term(pred: Tensor, target: Tensor | None, m: Tensor) -> Tensor:
            if target is None or float(m.sum()) == 0.0:
                return zero
            se = (pred - target).pow(2).flatten(1)  # (B, n)
            if cfg.loss_scale == "paper":
                return (se.mean(1) * m).sum() / m.sum()
            return (0.5 * se.sum(1) * m).sum() / b

        l_audio = term(out["audio"], audio, ma)
        l_text = term(out["text"], text, mt)
        n = cfg.stats_dim
        l_stats = l_teacher = zero
        if "stats" in out and stats is not None:
            l_stats = term(out["stats"][:, :n], stats[:, :n], ma)
            if cfg.teacher_dim:
                l_teacher = term(out["stats"][:, n:], stats[:, n:], ma)
        kl = kl_per.mean() if cfg.loss_scale == "paper" else kl_per.sum(1).mean()
        total = (
            cfg.audio_weight * l_audio
            + cfg.text_weight * l_text
            + cfg.stats_weight * l_stats
            + cfg.teacher_weight * l_teacher
            + beta * kl
        )
        terms = {
            "total": total,
            "audio": l_audio.detach(),
            "text": l_text.detach(),
            "stats": l_stats.detach(),
            "kl": kl.detach(),
            "beta": torch.tensor(beta),
        }
        if cfg.teacher_dim:
            terms["teacher"] = l_teacher.detach()
        return terms


def track_contrastive(mu: Tensor, group: Tensor, tau: float) -> Tensor:
    """InfoNCE over a batch: rows of the same group (track) are positives, the rest negatives.

    The similarity is -||μ_i - μ_j||² / tau, so it shapes Euclidean neighbourhoods directly.
    Rows without a positive in the batch are not anchors. Returns a scalar (0 when no anchor).
    """
    d2 = torch.cdist(mu, mu).pow(2)
    logits = -d2 / tau
    n = mu.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=mu.device)
    logits = logits.masked_fill(eye, float("-inf"))
    pos = (group[:, None] == group[None, :]) & ~eye
    anchors = pos.any(1)
    if not bool(anchors.any()):
        return mu.sum() * 0.0
    log_den = torch.logsumexp(logits, dim=1)
    log_num = torch.logsumexp(logits.masked_fill(~pos, float("-inf")), dim=1)
    return (log_den - log_num)[anchors].mean()


def distance_preservation(mu: Tensor, target: Tensor) -> Tensor:
    """Mean squared difference between the batch's pairwise distances of μ and of ``target``,
    each divided by its mean over the pairs: μ keeps the target's neighbourhoods (up to
    scale) without being asked to copy its coordinates. 0 for fewer than three rows."""
    n = mu.shape[0]
    if n < 3:
        return mu.sum() * 0.0
    iu = torch.triu_indices(n, n, offset=1, device=mu.device)
    dm = torch.cdist(mu, mu)[iu[0], iu[1]]
    dt = torch.cdist(target, target)[iu[0], iu[1]]
    dm = dm / dm.mean().clamp_min(1e-6)
    dt = dt / dt.mean().clamp_min(1e-6)
    return (dm - dt).pow(2).mean()


def paper_config() -> VAEConfig:
    return VAEConfig()


def ours_config() -> VAEConfig:
    return VAEConfig(
        fusion="poe",
        loss_scale="elbo",
        use_stats=True,
        text_weight=1.0,
        stats_weight=1.0,
        anneal_epochs=10.0,
        text_logvar_min=0.0,
    )


__all__ = [
    "N_FEATURES",
    "N_FRAMES",
    "STATS_DIM",
    "TEXT_DIM",
    "HybridVAE",
    "Masks",
    "VAEConfig",
    "distance_preservation",
    "ours_config",
    "paper_config",
    "track_contrastive",
]
