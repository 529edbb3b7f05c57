"""Developer-only: convert the MSD_musicnn checkpoint of the ``musicnn`` 0.1.0 wheel for musicorg.

Never a runtime or CI dependency: run it in a separate virtualenv that has TensorFlow::

    python3 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 librosa==0.11.0 \
        soundfile safetensors numpy
    /tmp/tfenv/bin/pip download --no-deps -d /tmp/wheels musicnn==0.1.0
    (cd /tmp/musicnn && unzip -o /tmp/wheels/musicnn-0.1.0-py3-none-any.whl)
    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python scripts/convert_musicnn.py \
        --package /tmp/musicnn/musicnn --reference

It reads the checkpoint's variables with ``NewCheckpointReader`` (no graph needed) and writes

- ``resources/models/musicnn/musicnn.safetensors``: the weights under the names of
  :class:`musicorg.model.musicnn.MusiCNN` (TF kernels transposed to PyTorch's layout), plus
  the slaney mel filter bank and the Hann window;
- ``resources/models/musicnn/musicnn_tags.json``: the 50 tag names, in output order;
- with ``--reference``: ``tests/data/musicnn/``, the test fixture that holds the
  port to the original. The first 6 s of a few test clips are decoded at 16 kHz and stored
  (16-bit FLAC, ``*.16k.flac``) beside ``reference.npz``, which holds the
  outputs of the *reference* TF graph on them: the package's own ``define_model`` restored
  from the checkpoint, fed the package's log-mel recipe computed in float32 instead of
  float16 (the package's float16 cast overflows on loud frames). Per non-overlapping 3-s
  patch: the 200-d penultimate vector and the 50 tag probabilities.

This script is not imported by musicorg; its only job is to produce those files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "resources" / "models" / "musicnn"
REFERENCE = ROOT / "tests" / "data" / "musicnn" / "reference.npz"
REFERENCE_SECONDS = 6.0  # two 3-s patches per clip
REFERENCE_CLIPS = (
    "kevin_macleod_vibe_ace.flac",
    "muldjord_chaos_god.flac",
    "parapraxis_digital_pursuit.mp3",
    "westlund_legends_of_the_north.ogg",
)
SR, N_FFT, HOP, N_MELS, PATCH = 16000, 512, 256, 96, 187

# Checkpoint variable → (our name, kind). Order of creation in the reference graph: the input
# batch norm, then per front-end block conv + batch norm (74, 77, 128, 64, 32), the three
# mid-end blocks, the back end's batch norm, dense, batch norm, output dense.
FRONT = ("timbral74", "timbral77", "temporal128", "temporal64", "temporal32")


def _bn(tf_name: str, ours: str) -> dict[str, str]:
    return {
        f"{tf_name}/gamma": f"{ours}.gamma",
        f"{tf_name}/beta": f"{ours}.beta",
        f"{tf_name}/moving_mean": f"{ours}.mean",
        f"{tf_name}/moving_variance": f"{ours}.var",
    }


def name_map() -> dict[str, str]:
    m = _bn("batch_normalization", "bn_input")
    for i, name in enumerate(FRONT):
        conv = "conv2d" if i == 0 else f"conv2d_{i}"
        m[f"{conv}/kernel"] = f"front.{name}.weight"
        m[f"{conv}/bias"] = f"front.{name}.bias"
        m.update(_bn(f"batch_normalization_{i + 1}", f"front_bn.{name}"))
    for j in range(3):
        m[f"conv2d_{5 + j}/kernel"] = f"mid.{j}.weight"
        m[f"conv2d_{5 + j}/bias"] = f"mid.{j}.bias"
        m.update(_bn(f"batch_normalization_{6 + j}", f"mid_bn.{j}"))
    m.update(_bn("batch_normalization_9", "bn_pool"))
    m["dense/kernel"] = "dense.weight"
    m["dense/bias"] = "dense.bias"
    m.update(_bn("batch_normalization_10", "bn_dense"))
    m["dense_1/kernel"] = "out.weight"
    m["dense_1/bias"] = "out.bias"
    return m


def to_torch_layout(ours: str, value: np.ndarray) -> np.ndarray:
    if ours.startswith("front.") and ours.endswith(".weight"):
        return value.transpose(3, 2, 0, 1)  # (kt, kf, in, out) → (out, in, kt, kf)
    if ours.startswith("mid.") and ours.endswith(".weight"):
        return value[:, :, 0, :].transpose(2, 1, 0)  # (7, C, 1, out) → (out, C, 7)
    if ours in ("dense.weight", "out.weight"):
        return value.T
    return value


def convert(package: Path) -> dict[str, np.ndarray]:
    import librosa
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(str(package / "MSD_musicnn") + "/")
    shapes = reader.get_variable_to_shape_map()
    mapping = name_map()
    missing = sorted(set(mapping) - set(shapes))
    if missing:
        raise SystemExit(f"checkpoint lacks {missing}")
    unused = sorted(k for k in shapes if k not in mapping and "Adam" not in k and "power" not in k)
    if unused:
        raise SystemExit(f"checkpoint variables not mapped: {unused}")
    state = {
        ours: np.ascontiguousarray(to_torch_layout(ours, reader.get_tensor(tf_name)), np.float32)
        for tf_name, ours in mapping.items()
    }
    state["mel_basis"] = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32)
    n = np.arange(N_FFT)
    state["window"] = (0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)).astype(np.float32)
    return state


def log_mel_reference(audio: np.ndarray) -> np.ndarray:
    """The musicnn package's log-mel recipe, kept in float32."""
    import librosa

    mel = np.asarray(
        librosa.feature.melspectrogram(y=audio, sr=SR, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS),
        dtype=np.float32,
    ).T
    return np.asarray(np.log10(10000.0 * mel + 1.0), dtype=np.float32)


def reference(package: Path) -> dict[str, Any]:
    """Run the package's own graph on the stored 16-kHz waveforms of the test clips."""
    import librosa
    import tensorflow as tf

    sys.path.insert(0, str(package.parent))
    import soundfile as sf
    from musicnn import models  # type: ignore[import-not-found]

    # The stored waveforms (16-bit FLAC at 16 kHz) are what both the reference and the port
    # read: how they were decoded does not matter to the comparison.
    waves: dict[str, np.ndarray] = {}
    for name in REFERENCE_CLIPS:
        audio, _ = librosa.load(ROOT / "tests" / "data" / name, sr=SR, mono=True)
        audio = audio[: int(REFERENCE_SECONDS * SR)]
        flac = REFERENCE.parent / (Path(name).stem + ".16k.flac")
        sf.write(flac, audio, SR, subtype="PCM_16")
        waves[name], _ = sf.read(flac, dtype="float32")
    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, PATCH, N_MELS])
        training = tf.compat.v1.placeholder(tf.bool)
        logits, *_, penultimate = models.define_model(x, training, "MSD_musicnn", 50)
        probs = tf.nn.sigmoid(logits)
    out: dict[str, Any] = {
        "clips": np.asarray([Path(n).stem + ".16k.flac" for n in REFERENCE_CLIPS])
    }
    with tf.compat.v1.Session() as sess:
        tf.compat.v1.train.Saver().restore(sess, str(package / "MSD_musicnn") + "/")
        for i, name in enumerate(REFERENCE_CLIPS):
            mel = log_mel_reference(waves[name])
            n = mel.shape[0] // PATCH
            batch = np.stack([mel[k * PATCH : (k + 1) * PATCH] for k in range(n)])
            pen, tags = sess.run([penultimate, probs], {x: batch, training: False})
            out[f"penultimate{i}"] = pen.astype(np.float32)
            out[f"tags{i}"] = tags.astype(np.float32)
            print(f"{name}: {n} patches, top tag {int(tags.mean(0).argmax())}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--package", type=Path, required=True, help="the unpacked musicnn/ folder")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--reference", action="store_true", help=f"also write {REFERENCE.name}")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from safetensors.numpy import save_file

    sys.path.insert(0, str(args.package.parent))
    from musicnn import configuration  # type: ignore[import-not-found]

    state = convert(args.package)
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(args.out / "musicnn.safetensors"), metadata={"source": "musicnn 0.1.0"})
    tags = list(configuration.MSD_LABELS)
    (args.out / "musicnn_tags.json").write_text(json.dumps(tags, indent=1) + "\n", "utf-8")
    print(f"wrote {args.out} ({sum(v.size for v in state.values()):,} values)")
    if args.reference:
        REFERENCE.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(REFERENCE, **reference(args.package))
        print(f"wrote {REFERENCE} ({REFERENCE.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
