"""Tampered files a hostile user can leave for musicorg to load (issue 17, items 7 and 10).

- A retraining checkpoint that ``torch.load(weights_only=True)`` refuses (a pickle payload)
  or cannot read (truncated) is set aside and the training starts afresh; its payload never
  runs.
- A model bundle whose ``norm.npz`` holds an object array, or is a pickle, is refused with a
  clean message even when its manifest (and the registry's pin of it) match the files.
"""

from __future__ import annotations

import json
import logging
import pickle
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from musicorg import paths  # noqa: E402
from musicorg.cli import main  # noqa: E402
from musicorg.model import registry as model_registry  # noqa: E402
from musicorg.model import trainer  # noqa: E402
from musicorg.model.bundle import (  # noqa: E402
    ModelIntegrityError,
    bundled_model_dir,
    write_manifest,
)
from musicorg.model.vae import VAEConfig  # noqa: E402

DIRS = ("DATA", "CONFIG", "CACHE", "LOG")


class _Payload:
    """Unpickling this creates ``path``: the side effect that must never happen."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in DIRS:
        monkeypatch.setenv(f"MUSICORG_{name}_DIR", str(tmp_path / name.lower()))
    return tmp_path


# -- item 7: the retraining checkpoint -----------------------------------------------------


def _tiny() -> tuple[VAEConfig, trainer.TrainArrays]:
    cfg = VAEConfig(fusion="poe", loss_scale="elbo", use_stats=True)
    rng = np.random.default_rng(0)
    data = trainer.TrainArrays(
        audio=rng.normal(size=(6, 39, 130)).astype(np.float32),
        stats=rng.normal(size=(6, 78)).astype(np.float32),
        text=rng.normal(size=(3, 64)).astype(np.float32),
        group=np.arange(6, dtype=np.int64),
    )
    return cfg, data


def _settings(epochs: int) -> trainer.TrainSettings:
    return trainer.TrainSettings(epochs=epochs, batch_size=4, device="cpu")


def _check_fresh_run(run: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Train on a run dir holding a bad checkpoint: it is set aside and the run starts afresh;
    a second run then resumes from the new checkpoint."""
    cfg, data = _tiny()
    said: list[str] = []
    with caplog.at_level(logging.WARNING, logger="musicorg.model.trainer"):
        out = trainer.train(cfg, data, _settings(1), run, log=said.append)
    assert out.resumed_from == 0 and out.epochs == 1
    assert out.set_aside is not None and out.set_aside.exists()
    assert out.set_aside.parent == run and out.set_aside.name.startswith("checkpoint.pt.bad-")
    notes = [r.getMessage() for r in caplog.records if "cannot be loaded safely" in r.getMessage()]
    assert len(notes) == 1 and out.set_aside.name in notes[0]
    assert "weights_only=False" not in notes[0] and "\n" not in notes[0]
    assert any("cannot be loaded safely" in s for s in said)
    assert [r["epoch"] for r in trainer.read_history(run)] == [1]  # the old history went too
    ckpt = torch.load(run / trainer.CKPT, map_location="cpu", weights_only=True)
    assert ckpt["epoch"] == 1
    # The next run resumes normally: no --from-scratch needed.
    again = trainer.train(cfg, data, _settings(2), run)
    assert again.resumed_from == 1 and again.epochs == 2 and again.set_aside is None


def test_pickle_checkpoint_is_set_aside_and_never_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    marker = tmp_path / "pwned"
    (run / trainer.CKPT).write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    (run / trainer.HISTORY).write_text(json.dumps({"epoch": 1}) + "\n", encoding="utf-8")
    with pytest.raises(pickle.UnpicklingError):  # what torch itself does with it
        torch.load(run / trainer.CKPT, map_location="cpu", weights_only=True)
    _check_fresh_run(run, caplog)
    assert not marker.exists()


def test_truncated_checkpoint_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg, data = _tiny()
    run = tmp_path / "run"
    trainer.train(cfg, data, _settings(1), run)
    raw = (run / trainer.CKPT).read_bytes()
    (run / trainer.CKPT).write_bytes(raw[: len(raw) // 2])
    (run / trainer.HISTORY).unlink()
    _check_fresh_run(run, caplog)


def test_checkpoint_of_another_shape_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"model": {"w": torch.zeros(2)}, "opt": {}, "epoch": 3}, run / trainer.CKPT)
    _check_fresh_run(run, caplog)
    torch.save([1, 2, 3], run / trainer.CKPT)  # not even a dict
    cfg, data = _tiny()
    out = trainer.train(cfg, data, _settings(1), run)
    assert out.resumed_from == 0 and out.set_aside is not None
    assert len(list(run.glob("checkpoint.pt.bad-*"))) == 2


# -- item 10: tampered .npz files with matching hashes --------------------------------------


def _register_copy(version: str, norm: bytes) -> Path:
    """The bundled model copied as ``version`` with ``norm.npz`` replaced, its manifest
    rewritten to match and pinned in the registry (the attack re-pinned the hashes)."""
    folder = paths.user_models_dir() / version
    shutil.copytree(bundled_model_dir(), folder)
    config = folder / "config.json"
    meta = json.loads(config.read_text("utf-8"))
    meta["version"] = version
    config.write_text(json.dumps(meta), "utf-8")
    (folder / "norm.npz").write_bytes(norm)
    manifest = write_manifest(folder, version)
    model_registry.register(version, {"manifest_sha256": manifest, "created": time.time()})
    return folder


def _object_npz(tmp_path: Path) -> bytes:
    path = tmp_path / "object.npz"
    with np.load(bundled_model_dir() / "norm.npz", allow_pickle=False) as z:
        arrays: dict[str, Any] = {k: z[k] for k in z.files}
    arrays["audio_mean"] = np.array([{"a": 1}, [2, 3]], dtype=object)
    with path.open("wb") as fh:
        np.savez(fh, **arrays)
    return path.read_bytes()


@pytest.mark.parametrize("kind", ["object array", "pickle", "missing key"])
def test_tampered_norm_is_refused_cleanly(
    dirs: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = dirs / "pwned"
    if kind == "object array":
        norm = _object_npz(dirs)
    elif kind == "pickle":
        norm = pickle.dumps(_Payload(marker), protocol=2)
    else:
        buf = dirs / "partial.npz"
        np.savez(buf, audio_mean=np.zeros(39, dtype=np.float32))
        norm = buf.read_bytes()
    version = "r20250101-000000"
    _register_copy(version, norm)

    with pytest.raises((ModelIntegrityError, model_registry.ModelVersionError)) as info:
        model_registry.load_version(version, "cpu")
    assert "norm.npz" in str(info.value) and version in str(info.value)

    db = dirs / "cat.sqlite"
    assert main(["--db", str(db), "models", "use", version, "--device", "cpu"]) != 0
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1, captured.err
    assert "norm.npz" in err[0] and "Traceback" not in captured.err + captured.out
    assert not marker.exists()


def test_untampered_copy_loads(dirs: Path) -> None:
    """The control: the same copy with the real norm.npz loads."""
    version = "r20250101-000001"
    _register_copy(version, (bundled_model_dir() / "norm.npz").read_bytes())
    assert model_registry.load_version(version, "cpu").version == version
