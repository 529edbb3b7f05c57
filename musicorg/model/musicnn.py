"""MusiCNN (MSD_musicnn) in PyTorch: a frozen, pretrained music tagger used as a teacher.

The network is the one of Pons and Serra, "musicnn: pre-trained convolutional neural networks
for music audio tagging" (2019), in its Million Song Dataset version (50 Last.fm tags). It is
written here from the paper and from the names and shapes of the variables in the released
TensorFlow checkpoint (``scripts/convert_musicnn.py`` turns that checkpoint into
``resources/models/musicnn/``); the weights are ISC-licensed (see ``CREDITS.md``).

Input: 16-kHz mono audio → a 96-band log-mel spectrogram (n_fft 512, hop 256, periodic Hann
window, centred frames, slaney mel bank, ``log10(10000·mel + 1)``), computed in float32 (the
reference package casts the mel power to float16, where loud frames overflow to inf) → patches
of 187 frames (3 s).

Per patch (all in eval mode; TF's batch normalisation uses ε = 0.001):

- **front end** — a scalar batch norm of the input; two "timbral" convolutions spanning 7
  frames × 38 and × 67 mel bands (204 filters each) and three "temporal" ones spanning 128, 64
  and 32 frames × 1 band (51 filters each, TF "same" padding); each is ReLU → batch norm → max
  over the remaining mel axis, leaving 561 channels × 187 frames;
- **mid end** — three 1-D convolutions of width 7 with 64 filters (ReLU → batch norm), the
  second and third with residual connections; the front end and the three outputs are
  concatenated into 753 channels;
- **back end** — max and mean over time, interleaved per channel (1,506 values), batch norm,
  a 200-unit dense layer with ReLU and batch norm (the **penultimate** vector, our 200-d
  track descriptor), and a 50-unit dense layer whose sigmoid gives the tag probabilities.

Speed: in the front end the max over mel bands runs before the ReLU and batch norm, and the
back end's input batch norm is folded into the dense layer (:func:`MusiCNN.fuse`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from safetensors.torch import load
from torch import Tensor, nn

from musicorg import paths

SR: Final = 16000
N_FFT: Final = 512
HOP: Final = 256
N_MELS: Final = 96
PATCH_FRAMES: Final = 187  # 3 s
N_TAGS: Final = 50
EMBED_DIM: Final = 200
BN_EPS: Final = 1e-3

WEIGHTS_NAME: Final = "musicnn.safetensors"
TAGS_NAME: Final = "musicnn_tags.json"
# SHA-256 of the converted weights shipped in resources/models/musicnn (scripts/convert_musicnn.py).
WEIGHTS_SHA256: Final = "ae1d8b3aa159608f4da01b50fd4aef8be7aec198c1f72adabe4e5ce6311c0fd7"
# 3-s patches per track by default: spread over the 30-s window (see patch_starts); chosen by
# the patch-count study in training/MODEL.md.
DEFAULT_PATCHES: Final = 3
# Patches per forward pass. The first layer's maps take ~9 MB per patch: on the CPU a pass of 3
# (one track) keeps them near the caches and runs ~1.8x faster per patch than a pass of 8 on one
# thread (44 against 85 ms; scripts/bench_musicnn.py). A GPU needs more to keep it busy, but not
# too many: on an H200, 32 a pass ran 6,485 patches/s (the teacher's whole step 1,019 tracks/s),
# 16 5,909, 64 5,416, 128 3,039 and 256 3,085 (552 tracks/s).
BATCH_PATCHES_CPU: Final = 3
BATCH_PATCHES_CUDA: Final = 32

# (name, kernel frames, kernel bands, filters) of the front end's convolutions, in the order
# their outputs are concatenated.
TIMBRAL: Final = (("timbral74", 7, 38, 204), ("timbral77", 7, 67, 204))
TEMPORAL: Final = (
    ("temporal128", 128, 1, 51),
    ("temporal64", 64, 1, 51),
    ("temporal32", 32, 1, 51),
)
FRONT_CHANNELS: Final = sum(f for *_, f in TIMBRAL + TEMPORAL)  # 561
MID_FILTERS: Final = 64
POOLED: Final = FRONT_CHANNELS + 3 * MID_FILTERS  # 753


class Affine(nn.Module):
    """Batch normalisation in eval mode, stored as TF stores it (γ, β, moving mean/var)."""

    mean: Tensor
    var: Tensor

    def __init__(self, n: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n), requires_grad=False)
        self.beta = nn.Parameter(torch.zeros(n), requires_grad=False)
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("var", torch.ones(n))

    def scale_shift(self) -> tuple[Tensor, Tensor]:
        scale = self.gamma / torch.sqrt(self.var + BN_EPS)
        return scale, self.beta - self.mean * scale

    def forward(self, x: Tensor, dim: int = 1) -> Tensor:
        scale, shift = self.scale_shift()
        shape = [1] * x.dim()
        shape[dim] = -1
        return x * scale.view(shape) + shift.view(shape)


def _same_pad(k: int) -> tuple[int, int]:
    """TF's "same" padding for a stride-1 kernel of size k: the extra frame goes after."""
    return (k - 1) // 2, k // 2


class MusiCNN(nn.Module):
    """MSD_musicnn: (B, 187, 96) log-mel patches → (penultimate (B, 200), logits (B, 50))."""

    mel_basis: Tensor
    window: Tensor

    def __init__(self) -> None:
        super().__init__()
        self.bn_input = Affine(1)
        self.front = nn.ModuleDict()
        self.front_bn = nn.ModuleDict()
        for name, kt, kf, filters in TIMBRAL + TEMPORAL:
            self.front[name] = nn.Conv2d(1, filters, (kt, kf))
            self.front_bn[name] = Affine(filters)
        self.mid = nn.ModuleList(
            [nn.Conv1d(FRONT_CHANNELS, MID_FILTERS, 7, padding=3)]
            + [nn.Conv1d(MID_FILTERS, MID_FILTERS, 7, padding=3) for _ in range(2)]
        )
        self.mid_bn = nn.ModuleList([Affine(MID_FILTERS) for _ in range(3)])
        self.bn_pool = Affine(2 * POOLED)
        self.dense = nn.Linear(2 * POOLED, EMBED_DIM)
        self.bn_dense = Affine(EMBED_DIM)
        self.out = nn.Linear(EMBED_DIM, N_TAGS)
        # Mel filter bank (96, 257), stored with the weights so that nothing else is needed.
        self.register_buffer("mel_basis", torch.zeros(N_MELS, N_FFT // 2 + 1))
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True))
        self._fused = False

    # --- fast path ------------------------------------------------------------------------

    def fuse(self) -> MusiCNN:
        """Fold batch norms where they cost most (measured in ``scripts/bench_analyse.py``).

        Front end: ``max_f(s·relu(y_f) + t)`` equals ``s·relu(max_f y_f) + t`` for a channel
        with scale s > 0, and ``s·relu(min_f y_f) + t`` for s < 0; negating the weights of the
        negative channels turns that min into a max. So the reduction over mel bands runs
        first, and the ReLU and the affine map touch 1/59 (timbral) or 1/96 (temporal) of the
        data. Back end: the input batch norm of the dense layer is folded into its weights."""
        if self._fused:
            return self
        with torch.no_grad():
            for name, conv in self.front.items():
                assert isinstance(conv, nn.Conv2d) and conv.bias is not None
                bn = self.front_bn[name]
                assert isinstance(bn, Affine)
                scale, _ = bn.scale_shift()
                sign = torch.where(scale < 0, -1.0, 1.0)
                conv.weight.mul_(sign.view(-1, 1, 1, 1))
                conv.bias.mul_(sign)
                self.register_buffer(f"sign_{name}", sign)
            scale, shift = self.bn_pool.scale_shift()
            w = self.dense.weight.clone()
            self.dense.bias.add_(w @ shift)
            self.dense.weight.copy_(w * scale[None, :])
        self._fused = True
        return self

    # --- the network ----------------------------------------------------------------------

    def _front(self, x: Tensor) -> Tensor:
        """(B, 1, T, 96) normalised input → (B, 561, T)."""
        outs: list[Tensor] = []
        padded = F.pad(x, (0, 0, 3, 3))  # 7-frame timbral kernels, zero padding after the norm
        for name, kt, _, _ in TIMBRAL + TEMPORAL:
            src = padded if kt == 7 else F.pad(x, (0, 0, *_same_pad(kt)))
            y = self.front[name](src)
            if self._fused:  # see fuse(): the max over bands first
                sign = getattr(self, f"sign_{name}")
                outs.append(self.front_bn[name](F.relu(y.amax(dim=3) * sign.view(1, -1, 1))))
            else:
                y = self.front_bn[name](F.relu(y))
                outs.append(y.amax(dim=3))
        return torch.cat(outs, dim=1)

    def forward(self, mel: Tensor) -> tuple[Tensor, Tensor]:
        x = self.bn_input(mel.unsqueeze(1))
        front = self._front(x)
        c1 = self.mid_bn[0](F.relu(self.mid[0](front)))
        r2 = self.mid_bn[1](F.relu(self.mid[1](c1))) + c1
        r3 = self.mid_bn[2](F.relu(self.mid[2](r2))) + r2
        feats = torch.cat([front, c1, r2, r3], dim=1)  # (B, 753, T)
        # TF concatenates [max, mean] on a trailing axis and flattens: max0, mean0, max1, ...
        pooled = torch.stack([feats.amax(dim=2), feats.mean(dim=2)], dim=2).flatten(1)
        if not self._fused:
            pooled = self.bn_pool(pooled)
        penultimate = self.bn_dense(F.relu(self.dense(pooled)))
        return penultimate, self.out(penultimate)

    # --- audio → patches ------------------------------------------------------------------

    def log_mel(self, audio: Tensor) -> Tensor:
        """(B, samples) 16-kHz float32 → (B, frames, 96) log-mel, float32 throughout."""
        spec = torch.stft(
            audio,
            N_FFT,
            HOP,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()  # (B, 257, frames)
        mel = torch.matmul(self.mel_basis, power)
        return torch.log10(10000.0 * mel + 1.0).transpose(1, 2)


def patch_indices(total: int, n_patches: int | None) -> list[int]:
    """Which of ``total`` patches the app uses for ``n_patches`` (None: all): patch
    ``floor((k + ½)·total / n)`` for k < n, spread evenly; 1 → the centre, 3 of 10 → 1, 5, 8."""
    total = max(1, total)
    if n_patches is None or n_patches >= total:
        return list(range(total))
    return [int((k + 0.5) * total / n_patches) for k in range(max(1, n_patches))]


def patch_starts(n_frames: int, n_patches: int | None) -> list[int]:
    """Start frames of the patches used for a spectrogram of ``n_frames`` frames.

    The spectrogram holds ``P = n_frames // 187`` non-overlapping patches (at least one: a
    shorter one is repeated, see :class:`Teacher`); :func:`patch_indices` picks
    ``n_patches`` of them."""
    return [i * PATCH_FRAMES for i in patch_indices(n_frames // PATCH_FRAMES, n_patches)]


class TeacherIntegrityError(RuntimeError):
    """The MusiCNN weights are missing or are not the ones musicorg ships."""


def default_dir() -> Path:
    return paths.models_dir() / "musicnn"


def load_musicnn(
    directory: Path | None = None, *, fuse: bool = True, check_hash: bool = True
) -> tuple[MusiCNN, list[str]]:
    """The converted weights (safetensors) and the 50 tag names from ``directory``."""
    directory = directory or default_dir()
    try:
        raw = (directory / WEIGHTS_NAME).read_bytes()
    except OSError as exc:
        raise TeacherIntegrityError(f"cannot read the MusiCNN weights: {exc}") from exc
    if check_hash and hashlib.sha256(raw).hexdigest() != WEIGHTS_SHA256:
        raise TeacherIntegrityError(
            f"{directory / WEIGHTS_NAME} is not the MusiCNN model musicorg ships; reinstall it"
        )
    model = MusiCNN()
    state = load(raw)
    model.load_state_dict(state, strict=True)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    tags = json.loads((directory / TAGS_NAME).read_text(encoding="utf-8"))
    if not (isinstance(tags, list) and len(tags) == N_TAGS):
        raise ValueError(f"{directory / TAGS_NAME}: expected a list of {N_TAGS} tag names")
    return (model.fuse() if fuse else model), [str(t) for t in tags]


class Teacher:
    """MusiCNN on a device: 16-kHz windows in, per-patch or per-track outputs out.

    Patches of many tracks go through the network together (``BATCH_PATCHES_CPU`` or
    ``_CUDA`` at a time)."""

    def __init__(self, device: torch.device, directory: Path | None = None) -> None:
        model, self.tags = load_musicnn(directory)
        self.device = device
        self.model = model.to(device)
        self.batch = BATCH_PATCHES_CUDA if device.type == "cuda" else BATCH_PATCHES_CPU

    def _patches(self, audio: NDArray[np.float32], n_patches: int | None) -> Tensor:
        y = torch.as_tensor(np.asarray(audio, dtype=np.float32).reshape(-1), device=self.device)
        if y.numel() == 0:
            y = torch.zeros(1, device=self.device)
        mel = self.model.log_mel(y[None])[0]
        if mel.shape[0] < PATCH_FRAMES:  # a short window is repeated (musicnn's repeat-pad)
            mel = mel.repeat(-(-PATCH_FRAMES // mel.shape[0]), 1)[:PATCH_FRAMES]
        starts = patch_starts(int(mel.shape[0]), n_patches)
        return torch.stack([mel[s : s + PATCH_FRAMES] for s in starts])

    @torch.inference_mode()
    def patch_outputs(
        self, audios: Sequence[NDArray[np.float32]], n_patches: int | None = DEFAULT_PATCHES
    ) -> list[tuple[NDArray[np.float32], NDArray[np.float32]]]:
        """Per window: penultimate vectors (p, 200) and tag probabilities (p, 50) of its p
        patches (``n_patches`` spread over it; None: every patch)."""
        stacks = [self._patches(a, n_patches) for a in audios]
        if not stacks:
            return []
        every = torch.cat(stacks)
        pens, probs = [], []
        for lo in range(0, every.shape[0], self.batch):
            pen, logits = self.model(every[lo : lo + self.batch])
            pens.append(pen.float())
            probs.append(torch.sigmoid(logits).float())
        pen_all = torch.cat(pens).cpu().numpy().astype(np.float32)
        tag_all = torch.cat(probs).cpu().numpy().astype(np.float32)
        out = []
        lo = 0
        for s in stacks:
            hi = lo + int(s.shape[0])
            out.append((pen_all[lo:hi], tag_all[lo:hi]))
            lo = hi
        return out

    def track_outputs(
        self, audios: Sequence[NDArray[np.float32]], n_patches: int | None = DEFAULT_PATCHES
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.int64]]:
        """Per window: the mean penultimate vector (n, 200), the mean tag probabilities (n, 50)
        and the number of patches behind them (n,)."""
        outs = self.patch_outputs(audios, n_patches)
        if not outs:
            return (
                np.zeros((0, EMBED_DIM), np.float32),
                np.zeros((0, N_TAGS), np.float32),
                np.zeros(0, np.int64),
            )
        return (
            np.stack([p.mean(axis=0) for p, _ in outs]).astype(np.float32),
            np.stack([t.mean(axis=0) for _, t in outs]).astype(np.float32),
            np.asarray([len(p) for p, _ in outs], dtype=np.int64),
        )
