"""Retraining on the user's library and model versions, on the real demo library.

The demo (70 tracks) is scanned and analysed once per module; one retraining through the
core API (from a worker thread, as the GUI calls it) is shared by the tests that only need a
retrained version. Each test works on its own copy of the catalogue and of the models folder.
"""

from __future__ import annotations

import json
import pickle
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, func, select

torch = pytest.importorskip("torch")

from musicorg import keys, paths  # noqa: E402
from musicorg.analyse.features import FEATURES_VERSION  # noqa: E402
from musicorg.app import models as modelstore  # noqa: E402
from musicorg.app import pipeline, retrain  # noqa: E402
from musicorg.cli import main  # noqa: E402
from musicorg.ingest import scanner  # noqa: E402
from musicorg.jobs import Cancelled, CancelToken  # noqa: E402
from musicorg.model import registry as model_registry  # noqa: E402
from musicorg.model import trainer  # noqa: E402
from musicorg.model.bundle import BUNDLED_VERSION, ModelIntegrityError, write_manifest  # noqa: E402
from musicorg.model.vae import HybridVAE, VAEConfig  # noqa: E402
from musicorg.organise import playlists  # noqa: E402
from musicorg.store import (  # noqa: E402
    modeldata,
    userlists,
    vectors,
)
from musicorg.store.db import Catalogue, Embedding, backup  # noqa: E402

DIRS = ("DATA", "CONFIG", "CACHE", "LOG")


@dataclass
class Shared:
    db: Path  # analysed demo catalogue, after one retraining
    models: Path  # the user models folder holding that retrained version
    result: retrain.RetrainResult
    progress: list[retrain.RetrainProgress] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    thread: str = ""


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        for name in DIRS:
            mp.setenv(f"MUSICORG_{name}_DIR", str(base / name.lower()))
        cat = Catalogue(base / "demo.sqlite")
        scanner.scan(cat, [paths.demo_dir()])
        pipeline.analyse(cat, device="cpu", workers=1)
        cat.close()
    return base / "demo.sqlite"


@pytest.fixture(scope="module")
def shared(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Shared:
    """One 2-epoch retraining through the core API, run on a worker thread."""
    base = tmp_path_factory.mktemp("retrained")
    db = base / "cat.sqlite"
    backup(demo_db, db)
    with pytest.MonkeyPatch.context() as mp:
        for name in DIRS:
            mp.setenv(f"MUSICORG_{name}_DIR", str(base / name.lower()))
        cat = Catalogue(db)
        box: dict[str, Any] = {}
        events: list[retrain.RetrainProgress] = []
        stages: list[str] = []
        token = CancelToken()

        def work() -> None:
            box["thread"] = threading.current_thread().name
            try:
                box["result"] = retrain.retrain(
                    cat,
                    retrain.RetrainOptions(epochs=2, device="cpu", threads=1),
                    progress=events.append,
                    stage=stages.append,
                    cancel=token,
                )
            except BaseException as exc:  # reported by the test below
                box["error"] = exc

        t = threading.Thread(target=work, name="retrain-worker")
        t.start()
        t.join(timeout=600)
        cat.close()
        if "error" in box:
            raise box["error"]
        return Shared(db, base / "data" / "models", box["result"], events, stages, box["thread"])


@pytest.fixture
def cat(demo_db: Path, tmp_path: Path) -> Iterator[Catalogue]:
    dest = tmp_path / "cat.sqlite"
    backup(demo_db, dest)
    c = Catalogue(dest)
    yield c
    c.close()


@pytest.fixture
def retrained(shared: Shared, tmp_path: Path) -> Iterator[tuple[Catalogue, str]]:
    """A copy of the retrained catalogue, and of its models folder in this test's data dir."""
    dest = tmp_path / "retrained.sqlite"
    backup(shared.db, dest)
    shutil.copytree(shared.models, paths.user_models_dir())
    c = Catalogue(dest)
    yield c, shared.result.version
    c.close()


def _embedded(cat: Catalogue, version: str) -> int:
    with cat.read() as conn:
        return int(
            conn.execute(
                select(func.count()).where(Embedding.model_version == version)
            ).scalar_one()
        )


def _version_dirs() -> list[str]:
    root = paths.user_models_dir()
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []


# -- retraining ----------------------------------------------------------------------------


def test_cli_retrain_two_epochs(cat: Catalogue, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--db", str(cat.path), "retrain", "--epochs", "2", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "epoch 1/2" in err and "epoch 2/2" in err and f"β {_final_beta():.3f}" in err
    for line in ("active dims", "audio recon MSE", "cluster sizes", "silhouette", "genre: AMI"):
        assert line in out
    registry = model_registry.read_registry()
    assert len(registry) == 1
    version = next(iter(registry))
    assert f"musicorg models use {version}" in out
    # The active model did not change; the new version's embeddings are stored already.
    assert modelstore.active_version(cat) == BUNDLED_VERSION
    assert _embedded(cat, version) == _embedded(cat, BUNDLED_VERSION) == 70
    folder = paths.user_models_dir() / version
    names = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "manifest.json", "metrics.json", "textpipe.npz"} <= names
    meta = json.loads((folder / "config.json").read_text())
    assert meta["library"]["tracks"] == 70 and meta["library"]["catalogue"] == str(cat.path)
    assert meta["trained_epochs"] == 2 and meta["base_version"] == BUNDLED_VERSION
    # Nothing left of the run (its checkpoints) once the version is saved.
    assert not any((paths.cache_dir() / "retrain").glob("*/checkpoint.pt"))

    code = main(["--db", str(cat.path), "models", "list", "--json"])
    listed = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [m["version"] for m in listed] == [BUNDLED_VERSION, version]
    assert [m["active"] for m in listed] == [True, False]
    assert all(m["problem"] is None for m in listed)


def _final_beta() -> float:
    """The bundled model's final β (its config's beta_max), at which a fine-tune runs."""
    config = json.loads((paths.models_dir() / BUNDLED_VERSION / "config.json").read_text())
    model_cfg = config.get("model", config)
    return float(model_cfg["beta_max"])


def test_core_api_from_worker_thread(shared: Shared) -> None:
    res = shared.result
    assert shared.thread == "retrain-worker"
    assert [p.epoch for p in shared.progress] == [1, 2]
    for p in shared.progress:
        assert p.epochs == 2 and p.eta_s >= 0 and p.seconds > 0
        assert np.isfinite([p.total, p.audio, p.text, p.kl]).all()
        # A fine-tune runs at the base model's final β from the first batch on.
        assert p.beta == pytest.approx(_final_beta())
    assert shared.progress[-1].eta_s == 0
    assert any("Training from" in s for s in shared.stages)
    assert res.base_version == BUNDLED_VERSION and not res.from_scratch
    assert res.epochs == 2 and res.resumed_from == 0 and res.device == "cpu"
    assert res.n_tracks == 70 and not res.text_refit  # the demo has only a few lyrics
    report = res.report
    for side in ("old", "new"):
        m = report[side]
        assert 0 <= m["active_dims"] <= m["latent_dim"] == 32
        assert m["recon_mse"] > 0 and sum(m["cluster_sizes"]) == 70
        assert -1 <= m["silhouette"] <= 1
        assert 0 <= m["genre"]["purity"] <= 1 and m["genre"]["n_tracks"] == 70
    assert report["old"]["version"] == BUNDLED_VERSION
    assert report["new"]["version"] == res.version
    json.dumps(res.as_dict())  # plain data for the GUI


def test_fine_tune_keeps_beta_and_from_scratch_anneals(cat: Catalogue) -> None:
    res = retrain.retrain(
        cat, retrain.RetrainOptions(epochs=1, from_scratch=True, device="cpu", threads=1)
    )
    # From scratch: β anneals from 0 over the config's 10 epochs (mean over epoch 1: 0.05).
    assert res.history[0]["beta"] < 0.1
    assert res.from_scratch and res.version in model_registry.read_registry()


def test_lyrics_pipeline_refit_reinitialises_the_text_branch(cat: Catalogue) -> None:
    # The demo has 7 songs with lyrics: lower the threshold so it refits on them.
    res = retrain.retrain(
        cat, retrain.RetrainOptions(epochs=1, device="cpu", threads=1, min_lyrics_for_refit=5)
    )
    assert res.text_refit and res.n_lyrics == 7
    bundled = json.loads((paths.models_dir() / BUNDLED_VERSION / "textpipe.json").read_text())
    new = json.loads((paths.user_models_dir() / res.version / "textpipe.json").read_text())
    assert new["vocabulary"] != bundled["vocabulary"] and new["n_components"] == 64
    model = model_registry.load_version(res.version, "cpu")
    vec = model.text_vectors(["a song of love and rain and love again"])
    assert vec.shape == (1, 64) and np.isfinite(vec).all()


def test_text_pipeline_fit_threshold_and_padding() -> None:
    rng = np.random.default_rng(0)
    words = [f"wort{i}" for i in range(300)]
    texts = [" ".join(rng.choice(words, 40)) for _ in range(200)]
    pipe = retrain._fit_textpipe(texts, 64, seed=0)
    assert pipe.components.shape == (64, len(pipe.vocabulary))
    small = retrain._fit_textpipe(texts[:10], 64, seed=0)  # fewer docs than dims: zero rows
    assert small.components.shape[0] == 64 and not small.components[10:].any()
    assert retrain.MIN_LYRICS_FOR_REFIT == 200


def test_text_branch_is_reinitialised_when_skipped() -> None:
    cfg = VAEConfig(fusion="poe", loss_scale="elbo", use_stats=True)
    torch.manual_seed(1)
    base = HybridVAE(cfg).state_dict()
    torch.manual_seed(2)
    model = HybridVAE(cfg)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    skipped = trainer.load_init_state(model, base, trainer.TEXT_BRANCH_PREFIXES)
    assert skipped and all(k.startswith(trainer.TEXT_BRANCH_PREFIXES) for k in skipped)
    for k, v in model.state_dict().items():
        want = fresh[k] if k in skipped else base[k]
        assert torch.equal(v, want), k


# -- versions ------------------------------------------------------------------------------


def test_switch_versions_then_revert(retrained: tuple[Catalogue, str]) -> None:
    cat, version = retrained
    ids = [t for (t,) in cat.engine.connect().exec_driver_sql("SELECT id FROM tracks LIMIT 5")]
    mine, _ = userlists.save(cat, "Mine", ids)
    old_lists = playlists.build_playlists(cat)
    old_ids = sorted(p.id for p in old_lists)
    # Only what lacks an embedding of the new version is embedded.
    with cat.begin() as conn:
        some = [
            k
            for (k,) in conn.execute(
                select(Embedding.content_key).where(Embedding.model_version == version).limit(4)
            )
        ]
        conn.execute(
            delete(Embedding).where(
                Embedding.model_version == version, Embedding.content_key.in_(some)
            )
        )
    rep = modelstore.use_model(cat, version, device="cpu")
    assert rep.embedded == 4 and rep.playlists_built and rep.playlists > 0
    assert vectors.active_model_version(cat) == version
    assert {p.model_version for p in playlists.list_playlists(cat) if p.model_version} == {version}

    back = modelstore.revert(cat, device="cpu")
    assert back.version == BUNDLED_VERSION and back.embedded == 0 and not back.playlists_built
    assert vectors.active_model_version(cat) == BUNDLED_VERSION
    assert sorted(p.id for p in playlists.list_playlists(cat) if p.model_version) == old_ids
    assert [i.track_id for i in userlists.items(cat, mine)] == ids
    assert _embedded(cat, version) == _embedded(cat, BUNDLED_VERSION) == 70

    # Switching back again reuses that version's embeddings and playlists.
    again = modelstore.use_model(cat, version, device="cpu")
    assert again.embedded == 0 and not again.playlists_built
    # analyse now embeds with the active (retrained) model.
    report = pipeline.analyse(cat, device="cpu")
    assert report.model_version == version and report.model_warning is None


def test_cli_models_use_and_revert(
    retrained: tuple[Catalogue, str], capsys: pytest.CaptureFixture[str]
) -> None:
    cat, version = retrained
    db = ["--db", str(cat.path)]
    assert main([*db, "models", "use", version, "--device", "cpu"]) == 0
    assert f"Active model: {version}" in capsys.readouterr().out
    assert main([*db, "models", "list"]) == 0
    out = capsys.readouterr().out
    assert f"* {version}" in out and "on 70 tracks of" in out
    assert main([*db, "models", "revert"]) == 0
    assert modelstore.active_version(cat) == BUNDLED_VERSION
    assert main([*db, "models", "use", "no-such-model"]) == 1
    assert "no model version 'no-such-model'" in capsys.readouterr().err


def test_embeddings_command_uses_the_active_model(
    retrained: tuple[Catalogue, str], tmp_path: Path
) -> None:
    cat, version = retrained
    modelstore.use_model(cat, version, device="cpu")
    assert main(["--db", str(cat.path), "embeddings", str(tmp_path / "e.npz")]) == 0
    _names, _ids, want = vectors.embeddings(cat, version)
    with np.load(tmp_path / "e.npz") as z:
        assert np.array_equal(z["vectors"], want)


# -- data of versions that are gone -------------------------------------------------------------

OLD = "hvae-0.0.1"  # a bundled model of an earlier release


def _as_old_release(cat: Catalogue) -> dict[str, list[int]]:
    """Make the catalogue look like one the previous release left: embeddings, map
    coordinates and automatic playlists of OLD (one pinned, one renamed), OLD active. Also
    a user playlist with the renamed one's name. Returns the kept playlists' track ids."""
    from musicorg.keys import ACTIVE_MODEL_KEY

    lists = playlists.build_playlists(cat)
    pinned, renamed = lists[0], lists[1]
    playlists.pin_playlist(cat, pinned.id)
    playlists.rename_playlist(cat, renamed.id, "Night drive")
    userlists.create(cat, "Night drive", [1, 2])
    kept = {
        pinned.name: [it.track_id for it in userlists.items(cat, pinned.id)],
        "Night drive (2)": [it.track_id for it in userlists.items(cat, renamed.id)],
    }
    with cat.begin() as conn:
        conn.exec_driver_sql("UPDATE embeddings SET model_version = ?", (OLD,))
        conn.exec_driver_sql(
            "INSERT INTO map_coords SELECT ?, 'pca', content_key, 0.5, 0.5 FROM embeddings",
            (OLD,),
        )
        conn.exec_driver_sql("UPDATE playlists SET model_version = ? WHERE kind = 'auto'", (OLD,))
        conn.exec_driver_sql(
            "UPDATE meta SET key = ? WHERE key = ?",
            (keys.BUILT_KEY + OLD, keys.BUILT_KEY + BUNDLED_VERSION),
        )
    cat.set_meta(ACTIVE_MODEL_KEY, OLD)
    return kept


def _rows(cat: Catalogue, sql: str, *args: Any) -> int:
    with cat.read() as conn:
        return int(conn.exec_driver_sql(sql, args).scalar_one())


def test_analyse_forgets_the_data_of_a_model_no_longer_installed(
    cat: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = _as_old_release(cat)
    n_auto = _rows(cat, "SELECT count(*) FROM playlists WHERE kind = 'auto'")
    assert n_auto >= 3 and _embedded(cat, OLD) == 70
    assert _embedded(cat, BUNDLED_VERSION) == 0
    assert main(["--db", str(cat.path), "analyse", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    assert f"the model {OLD} that this catalogue used is no longer installed" in err
    assert f"70 embedded with model {BUNDLED_VERSION}" in out
    assert (
        f"Removed the data of 1 model version no longer installed ({OLD}): 70 embeddings, "
        f"{n_auto - 2} automatic playlists; 2 pinned or renamed playlists kept as user playlists."
    ) in out
    assert "Automatic playlists rebuilt" in out  # the new model's own
    assert modelstore.active_version(cat) == BUNDLED_VERSION
    assert _embedded(cat, OLD) == 0 and _embedded(cat, BUNDLED_VERSION) == 70
    assert modeldata.auto_playlist_count(cat, BUNDLED_VERSION) > 0
    assert cat.get_meta(keys.BUILT_KEY + OLD) is None
    assert cat.get_meta(keys.BUILT_KEY + BUNDLED_VERSION) is not None
    assert _rows(cat, "SELECT count(*) FROM map_coords WHERE model_version = ?", OLD) == 0
    assert _rows(cat, "SELECT count(*) FROM playlists WHERE model_version = ?", OLD) == 0
    assert _rows(cat, "SELECT count(*) FROM playlist_items WHERE playlist_id NOT IN "
                      "(SELECT id FROM playlists)") == 0  # fmt: skip
    # The user's work survives as user playlists, tracks and order unchanged.
    mine = {p.name: p for p in userlists.playlists(cat, userlists.USER)}
    assert set(mine) == {"Night drive", *kept}
    for name, tracks in kept.items():
        assert [it.track_id for it in userlists.items(cat, mine[name].id)] == tracks
        assert mine[name].model_version is None and mine[name].group_name is None
    assert [it.track_id for it in userlists.items(cat, mine["Night drive"].id)] == [1, 2]
    # ... and in the mirror, as user playlists.
    from musicorg.io import mirror

    listed = json.loads((mirror.mirror_dir(cat) / "playlists.json").read_text("utf-8"))
    assert {p["name"] for p in listed["playlists"]} == set(mine)
    # Nothing is left to forget the second time.
    assert not modelstore.forget_stale_versions(cat)
    assert main(["--db", str(cat.path), "analyse", "--device", "cpu"]) == 0
    assert "Removed the data" not in capsys.readouterr().out


def test_cli_models_delete(
    retrained: tuple[Catalogue, str], capsys: pytest.CaptureFixture[str]
) -> None:
    cat, version = retrained
    db = ["--db", str(cat.path)]
    assert main([*db, "models", "use", version, "--device", "cpu"]) == 0
    capsys.readouterr()
    assert main([*db, "models", "delete", version]) == 1
    assert "is the active model of this catalogue" in capsys.readouterr().err
    assert (paths.user_models_dir() / version).is_dir()
    assert main([*db, "models", "revert"]) == 0
    n_auto = modeldata.auto_playlist_count(cat, version)
    assert n_auto > 0
    capsys.readouterr()
    assert main([*db, "models", "delete", version]) == 0
    out = capsys.readouterr().out
    assert f"Deleted model {version}." in out
    assert f"({version}): 70 embeddings, {n_auto} automatic playlists." in out
    assert version not in model_registry.read_registry()
    assert not (paths.user_models_dir() / version).exists()
    assert _embedded(cat, version) == 0 and _embedded(cat, BUNDLED_VERSION) == 70
    assert main([*db, "models", "delete", version]) == 1
    assert f"no retrained model version {version!r}" in capsys.readouterr().err
    assert main([*db, "models", "delete", BUNDLED_VERSION]) == 1
    assert "the bundled model cannot be deleted" in capsys.readouterr().err


# -- cancel, corruption, devices ---------------------------------------------------------------


def test_cancel_mid_epoch_changes_nothing_then_resumes(cat: Catalogue) -> None:
    token = CancelToken()
    seen: list[tuple[int, int, int]] = []

    def on_batch(epoch: int, batch: int, n: int) -> None:
        seen.append((epoch, batch, n))
        if epoch == 2 and batch == 1:
            token.cancel()  # in the middle of epoch 2

    opts = retrain.RetrainOptions(epochs=2, device="cpu", threads=1)
    with pytest.raises(Cancelled):
        retrain.retrain(cat, opts, batch_progress=on_batch, cancel=token)
    assert seen[-1][:2] == (2, 1) and seen[-1][2] > 1
    assert modelstore.active_version(cat) == BUNDLED_VERSION
    assert vectors.active_model_version(cat) == BUNDLED_VERSION
    assert model_registry.read_registry() == {}
    assert _version_dirs() == []  # no half-written version either
    with cat.read() as conn:
        versions = {v for (v,) in conn.execute(select(Embedding.model_version).distinct())}
    assert versions == {BUNDLED_VERSION}

    # Started again with the same options, it resumes after the finished epoch 1.
    events: list[retrain.RetrainProgress] = []
    res = retrain.retrain(cat, opts, progress=events.append)
    assert res.resumed_from == 1 and res.epochs == 2
    assert [p.epoch for p in events] == [2]
    assert [row["epoch"] for row in res.history] == [1, 2]
    assert list(model_registry.read_registry()) == [res.version]


class _Payload:
    """Unpickling this creates ``path``: the side effect that must never happen."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def _cancel_in_epoch(cat: Catalogue, opts: retrain.RetrainOptions, epoch: int) -> None:
    """A retraining cancelled in the first batch of ``epoch``: it keeps its checkpoints."""
    token = CancelToken()

    def on_batch(at: int, _batch: int, _n: int) -> None:
        if at == epoch:
            token.cancel()

    with pytest.raises(Cancelled):
        retrain.retrain(cat, opts, batch_progress=on_batch, cancel=token)


def _epoch_of(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])


def test_bad_checkpoints_fall_back_to_the_previous_then_the_active_model(
    cat: Catalogue, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 17, item 7: a pickle payload as the retraining's checkpoint is set aside with one
    line and the run resumes from the previous checkpoint; with both bad, the run starts from
    the active model's weights, as a fresh retraining does. The payload never runs."""
    run = retrain._run_dir(cat)
    aside_dir = run.parent / f"{run.name}-set-aside"
    marker = tmp_path / "pwned"
    _cancel_in_epoch(cat, retrain.RetrainOptions(epochs=3, device="cpu", threads=1), 3)
    assert _epoch_of(run / trainer.CKPT) == 2 and _epoch_of(run / trainer.PREV_CKPT) == 1
    (run / trainer.CKPT).write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    argv = ["--db", str(cat.path), "retrain", "--epochs", "3", "--device", "cpu"]
    code = main([*argv, "--threads", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert not marker.exists()
    [aside] = aside_dir.glob("checkpoint.pt.bad-*")
    notes = [line for line in err.splitlines() if "loaded safely" in line]
    assert notes == [
        f"checkpoint {run / trainer.CKPT} could not be loaded safely (UnpicklingError); "
        f"set aside as {aside}; resumed from the previous checkpoint (epoch 1)"
    ]  # said once, when it happened
    assert "resumed after epoch 1" in out and "Traceback" not in err

    # Both bad: the run starts from the active model's weights.
    once = retrain.RetrainOptions(epochs=1, device="cpu", threads=1)
    _cancel_in_epoch(cat, once, 1)  # the run folder of this plan, without checkpoints
    (run / trainer.CKPT).write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    (run / trainer.PREV_CKPT).write_bytes(b"PK\x03\x04 truncated")
    said: list[str] = []
    res = retrain.retrain(cat, once, stage=said.append)
    assert not marker.exists()
    assert res.resumed_from == 0 and res.epochs == 1
    [note] = [w for w in res.warnings if "loaded safely" in w]
    assert note in said and "the previous checkpoint" in note and "\n" not in note
    assert note.endswith(f"; started again from the active model's weights ({BUNDLED_VERSION})")
    assert len(list(aside_dir.glob("checkpoint.prev.pt.bad-*"))) == 1
    clean = retrain.retrain(cat, once)  # a fresh retraining with the same options
    assert not clean.warnings
    got = model_registry.load_version(res.version, "cpu").model.state_dict()
    want = model_registry.load_version(clean.version, "cpu").model.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in got)


def test_corrupted_model_is_refused_and_bundled_used(
    retrained: tuple[Catalogue, str], capsys: pytest.CaptureFixture[str]
) -> None:
    cat, version = retrained
    folder = paths.user_models_dir() / version
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))

    assert main(["--db", str(cat.path), "models", "use", version, "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert f"model {version} does not match its manifest and is refused" in err
    assert "SHA-256" in err and "active model is unchanged" in err
    assert modelstore.active_version(cat) == BUNDLED_VERSION
    with pytest.raises(ModelIntegrityError):
        model_registry.load_version(version, "cpu")

    # Damaged while it was the active model: analyse falls back to the bundled model.
    cat.set_meta(keys.ACTIVE_MODEL_KEY, version)
    report = pipeline.analyse(cat, device="cpu")
    assert report.model_version == BUNDLED_VERSION
    assert report.model_warning and version in report.model_warning
    assert "bundled model" in report.model_warning
    assert main(["--db", str(cat.path), "models", "list"]) == 0
    assert "REFUSED" in capsys.readouterr().out

    # A manifest rewritten to match the altered files does not match the pinned hash.
    write_manifest(folder, version)
    with pytest.raises(ModelIntegrityError, match="expected"):
        model_registry.load_version(version, "cpu")
    # And a folder nobody registered is not a model version.
    shutil.copytree(folder, paths.user_models_dir() / "planted")
    with pytest.raises(model_registry.ModelVersionError, match="no model version 'planted'"):
        modelstore.use_model(cat, "planted", device="cpu")


def test_model_of_other_features_version_is_refused(
    retrained: tuple[Catalogue, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A model retrained before the features changed cannot embed today's features."""
    cat, version = retrained
    folder = paths.user_models_dir() / version
    config = folder / "config.json"
    meta = json.loads(config.read_text(encoding="utf-8"))
    assert meta["features_version"] == FEATURES_VERSION
    meta["features_version"] = FEATURES_VERSION - 1
    config.write_text(json.dumps(meta), encoding="utf-8")
    model_registry.register(version, {"manifest_sha256": write_manifest(folder, version)})
    with pytest.raises(model_registry.ModelVersionError, match="features of version"):
        model_registry.load_version(version, "cpu")
    # models list flags it; models use refuses it in one line and keeps the active model.
    listed = {m.version: m for m in modelstore.list_models(cat)}
    assert listed[version].problem and "retrain it on your library" in listed[version].problem
    assert main(["--db", str(cat.path), "models", "list"]) == 0
    out = capsys.readouterr().out
    assert "REFUSED" in out and f"version {FEATURES_VERSION - 1}" in out
    assert main(["--db", str(cat.path), "models", "use", version, "--device", "cpu"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "features of version" in err[0]
    assert "the active model is unchanged" in err[0]
    assert modelstore.active_version(cat) == BUNDLED_VERSION
    cat.set_meta(keys.ACTIVE_MODEL_KEY, version)
    model, warning = modelstore.load_active_model(cat, "cpu")
    assert model.version == BUNDLED_VERSION
    assert warning and "retrain it on your library" in warning


def test_device_choice_is_honoured_on_cpu(tmp_path: Path) -> None:
    cfg = VAEConfig(fusion="poe", loss_scale="elbo", use_stats=True)
    rng = np.random.default_rng(0)
    data = trainer.TrainArrays(
        audio=rng.normal(size=(6, 39, 130)).astype(np.float32),
        stats=rng.normal(size=(6, 78)).astype(np.float32),
        text=rng.normal(size=(3, 64)).astype(np.float32),
        group=np.arange(6, dtype=np.int64),
    )
    out = trainer.train(
        cfg, data, trainer.TrainSettings(epochs=1, batch_size=4, device="cpu"), tmp_path / "r"
    )
    assert out.device.type == "cpu"
    assert {p.device.type for p in out.model.parameters()} == {"cpu"}
    ckpt = torch.load(tmp_path / "r" / trainer.CKPT, map_location="cpu", weights_only=True)
    assert ckpt["epoch"] == 1
    if torch.cuda.is_available():
        return
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        trainer.train(cfg, data, trainer.TrainSettings(epochs=1, device="cuda"), tmp_path / "cuda")


def test_retrain_on_cuda_without_cuda_is_a_clear_error(
    cat: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert main(["--db", str(cat.path), "retrain", "--epochs", "1", "--device", "cuda"]) == 1
    assert "CUDA is not available" in capsys.readouterr().err
    assert model_registry.read_registry() == {}
    assert not list((paths.cache_dir() / "retrain").glob("*/run.json"))


def test_one_retraining_at_a_time(cat: Catalogue) -> None:
    with retrain._running, pytest.raises(retrain.RetrainError, match="already running"):
        retrain.retrain(cat, retrain.RetrainOptions(epochs=1, device="cpu"))
    with retrain._library_lock(cat), pytest.raises(retrain.RetrainError, match="another"):
        retrain.retrain(cat, retrain.RetrainOptions(epochs=1, device="cpu"))


def test_loaded_version_runs_on_the_chosen_device(retrained: tuple[Catalogue, str]) -> None:
    _cat, version = retrained
    model = model_registry.load_version(version, "cpu")
    assert model.device.type == "cpu"
    assert {p.device.type for p in model.model.parameters()} == {"cpu"}
