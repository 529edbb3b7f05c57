"""Tampered files a hostile user can leave for musicorg to load (issue 17, items 7 and 10).

- A retraining checkpoint that ``torch.load(weights_only=True)`` refuses (a pickle payload)
  or cannot read (truncated) is set aside with a one-line note; the training resumes from
  the previous checkpoint, or when that is bad or missing too, starts again from the initial
  weights (a retraining's: the active model's). Its payload never runs.
- A model bundle whose ``norm.npz`` holds an object array, or is a pickle, is refused with a
  clean message even when its manifest (and the registry's pin of it) match the files.
"""

from __future__ import annotations

import json
import logging
import pickle
import re
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
from musicorg.model.vae import HybridVAE, VAEConfig  # noqa: E402

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


def _payload(run: Path, marker: Path) -> None:
    """A pickle payload as the run's checkpoint: loading it with weights_only=False would
    create ``marker``."""
    (run / trainer.CKPT).write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    with pytest.raises(pickle.UnpicklingError):  # what torch itself does with it
        torch.load(run / trainer.CKPT, map_location="cpu", weights_only=True)


def _epoch_of(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])


def _init_state(cfg: VAEConfig) -> dict[str, Any]:
    """Starting weights unlike a fresh model's (the active model's, in a retraining)."""
    torch.manual_seed(1234)
    return {k: v.clone() for k, v in HybridVAE(cfg).state_dict().items()}


def _same_weights(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _notes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "loaded safely" in r.getMessage()]


def _check_fresh_run(run: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Train on a run dir holding a bad checkpoint and no previous one: it is set aside and
    the run starts afresh; a second run then resumes from the new checkpoint."""
    cfg, data = _tiny()
    said: list[str] = []
    with caplog.at_level(logging.WARNING, logger="musicorg.model.trainer"):
        out = trainer.train(cfg, data, _settings(1), run, log=said.append)
    assert out.resumed_from == 0 and out.epochs == 1 and out.fallback == "initial"
    assert out.set_aside is not None and out.set_aside.exists()
    assert out.set_aside.parent == run and out.set_aside.name.startswith("checkpoint.pt.bad-")
    notes = _notes(caplog)
    assert notes == [out.note] and out.note in said
    assert f"checkpoint {run / trainer.CKPT} could not be loaded safely (" in out.note
    assert f"set aside as {out.set_aside}" in out.note
    assert out.note.endswith("; started again from new weights")
    assert "weights_only=False" not in out.note and "\n" not in out.note
    assert [r["epoch"] for r in trainer.read_history(run)] == [1]  # the old history went too
    assert _epoch_of(run / trainer.CKPT) == 1
    # The next run resumes normally: no --from-scratch needed.
    again = trainer.train(cfg, data, _settings(2), run)
    assert again.resumed_from == 1 and again.epochs == 2 and again.set_aside is None
    assert again.note is None and again.fallback is None


def test_pickle_checkpoint_is_set_aside_and_never_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    marker = tmp_path / "pwned"
    _payload(run, marker)
    (run / trainer.HISTORY).write_text(json.dumps({"epoch": 1}) + "\n", encoding="utf-8")
    _check_fresh_run(run, caplog)
    assert "(UnpicklingError)" in _notes(caplog)[0]
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
    (run / trainer.PREV_CKPT).unlink()  # the good epoch-1 checkpoint the second run kept
    torch.save([1, 2, 3], run / trainer.CKPT)  # not even a dict
    cfg, data = _tiny()
    out = trainer.train(cfg, data, _settings(1), run)
    assert out.resumed_from == 0 and out.set_aside is not None and out.fallback == "initial"
    assert len(list(run.glob("checkpoint.pt.bad-*"))) == 2


def test_each_checkpoint_keeps_the_one_before(tmp_path: Path) -> None:
    cfg, data = _tiny()
    run = tmp_path / "run"
    trainer.train(cfg, data, _settings(1), run)
    assert _epoch_of(run / trainer.CKPT) == 1 and not (run / trainer.PREV_CKPT).exists()
    trainer.train(cfg, data, _settings(3), run)
    assert _epoch_of(run / trainer.CKPT) == 3 and _epoch_of(run / trainer.PREV_CKPT) == 2
    assert sorted(p.name for p in run.iterdir()) == sorted(
        [trainer.CKPT, trainer.PREV_CKPT, trainer.HISTORY]
    )  # no temporary file left


def test_bad_checkpoint_resumes_from_the_previous_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A pickle payload over the epoch-3 checkpoint: the run resumes after epoch 2 (the
    previous checkpoint), repeats epoch 3 exactly as the lost one ran, and never runs it."""
    cfg, data = _tiny()
    run = tmp_path / "run"
    trainer.train(cfg, data, _settings(3), run)
    lost = torch.load(run / trainer.CKPT, map_location="cpu", weights_only=True)["model"]
    marker = tmp_path / "pwned"
    _payload(run, marker)
    said: list[str] = []
    with caplog.at_level(logging.WARNING, logger="musicorg.model.trainer"):
        out = trainer.train(cfg, data, _settings(3), run, log=said.append)
    assert not marker.exists()
    assert out.resumed_from == 2 and out.epochs == 3 and out.fallback == "previous"
    assert [r["epoch"] for r in out.history] == [3]
    assert [r["epoch"] for r in trainer.read_history(run)] == [1, 2, 3]  # epoch 3 once
    assert len(out.set_aside_all) == 1 and out.set_aside_all[0].exists()
    assert out.note == (
        f"checkpoint {run / trainer.CKPT} could not be loaded safely (UnpicklingError); "
        f"set aside as {out.set_aside}; resumed from the previous checkpoint (epoch 2)"
    )
    assert _notes(caplog) == [out.note] and out.note in said
    assert _same_weights(out.model.state_dict(), lost)
    assert _epoch_of(run / trainer.CKPT) == 3 and _epoch_of(run / trainer.PREV_CKPT) == 2


def test_both_bad_start_again_from_the_initial_weights(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Both checkpoints bad (a pickle payload, a truncated file): both are set aside in the
    folder given, with the history, and the run is the one a fresh run from the initial
    weights (a retraining's: the active model's) makes."""
    cfg, data = _tiny()
    init = _init_state(cfg)
    run, aside_dir = tmp_path / "run", tmp_path / "aside"
    trainer.train(cfg, data, _settings(2), run, init_state=init)
    raw = (run / trainer.PREV_CKPT).read_bytes()
    (run / trainer.PREV_CKPT).write_bytes(raw[:1000])
    marker = tmp_path / "pwned"
    _payload(run, marker)
    kw: dict[str, Any] = {"init_state": init, "init_label": "the active model's weights (v1)"}
    with caplog.at_level(logging.WARNING, logger="musicorg.model.trainer"):
        out = trainer.train(cfg, data, _settings(1), run, set_aside_dir=aside_dir, **kw)
    assert not marker.exists()
    assert out.resumed_from == 0 and out.epochs == 1 and out.fallback == "initial"
    first, second = out.set_aside_all
    assert first.parent == second.parent == aside_dir
    assert first.name.startswith("checkpoint.pt.bad-")
    assert second.name.startswith("checkpoint.prev.pt.bad-")
    assert out.note is not None and re.fullmatch(
        re.escape(
            f"checkpoint {run / trainer.CKPT} could not be loaded safely (UnpicklingError); "
            f"set aside as {first}; the previous checkpoint {run / trainer.PREV_CKPT} could "
            "not be loaded safely either ("
        )
        + r"\w+"  # what a truncated file raises (RuntimeError in torch 2)
        + re.escape(
            f"); set aside as {second}; started again from the active model's weights (v1)"
        ),
        out.note,
    ), out.note
    assert _notes(caplog) == [out.note]
    assert [p.name.split(".bad-")[0] for p in aside_dir.glob(f"{trainer.HISTORY}.bad-*")] == [
        trainer.HISTORY
    ]
    assert [r["epoch"] for r in trainer.read_history(run)] == [1]
    fresh = trainer.train(cfg, data, _settings(1), tmp_path / "fresh", init_state=init)
    assert _same_weights(out.model.state_dict(), fresh.model.state_dict())
    # Before any epoch, the model is the initial weights themselves.
    _payload(run, marker)
    assert not (run / trainer.PREV_CKPT).exists()  # one epoch since the fresh start
    zero = trainer.train(cfg, data, _settings(0), run, set_aside_dir=aside_dir, **kw)
    assert zero.fallback == "initial" and _same_weights(zero.model.state_dict(), init)
    assert not marker.exists()


def test_a_crash_between_the_renames_resumes_from_the_previous_checkpoint(
    tmp_path: Path,
) -> None:
    """Killed after the last checkpoint became the previous one and before the new one took
    its name: only ``checkpoint.prev.pt`` is there, and the run resumes from it quietly."""
    cfg, data = _tiny()
    run = tmp_path / "run"
    trainer.train(cfg, data, _settings(2), run)
    (run / trainer.CKPT).unlink()
    said: list[str] = []
    out = trainer.train(cfg, data, _settings(2), run, log=said.append)
    assert out.resumed_from == 1 and out.epochs == 2 and out.note is None
    assert "resuming after epoch 1 (the previous checkpoint)" in said
    assert [r["epoch"] for r in trainer.read_history(run)] == [1, 2]


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
