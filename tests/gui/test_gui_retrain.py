"""The Retrain dialog on the real demo library: live curves, the report, the choice, cancel."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from musicorg import paths
from musicorg.app import models as modelstore
from musicorg.app import pipeline
from musicorg.ingest import scanner
from musicorg.model import registry as model_registry
from musicorg.store import modeldata
from musicorg.store import vectors as store_vectors
from musicorg.store.db import Catalogue

pytest.importorskip("pytestqt")


@pytest.fixture(scope="module")
def analysed_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("demo")
    db = base / "demo.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("DATA", "CONFIG", "CACHE", "LOG"):
            mp.setenv(f"MUSICORG_{name}_DIR", str(base / name.lower()))
        with Catalogue(db) as cat:
            scanner.scan(cat, [paths.demo_dir()])
            pipeline.analyse(cat, device="cpu", workers=1)
    return db


@pytest.fixture
def db(analysed_demo: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "demo.sqlite"
    shutil.copy(analysed_demo, dest)
    return dest


def test_retrain_dialog_trains_plots_reports_and_switches(qtbot, db: Path) -> None:  # type: ignore[no-untyped-def]
    from musicorg.gui.retrain_dialog import RetrainDialog

    with Catalogue(db) as cat:
        before = modelstore.active_version(cat)
    dialog = RetrainDialog(db)
    qtbot.addWidget(dialog)
    dialog.epochs.setValue(2)
    dialog.device.setCurrentText("cpu")
    dialog.start_button.click()
    assert dialog.cancel_button.isEnabled() and not dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=240_000)
    assert [p.epoch for p in dialog.history] == [1, 2]
    xs, ys = dialog.curves["total"].getData()
    assert list(xs) == [1, 2] and all(y > 0 for y in ys)
    assert len(dialog.beta_curve.getData()[0]) == 2
    assert "Epoch 2/2" in dialog.status.text() or "New model" in dialog.status.text()
    assert dialog.result.version in dialog.status.text()
    assert "active dims" in dialog.report.toPlainText().lower()
    # One plain sentence says which model to keep; its button is the default.
    advice = dialog.advice.text()
    assert advice.startswith(("Keep the new model: ", "Keep the current model: "))
    recommended = dialog.use_button if "new model" in advice else dialog.keep_button
    assert recommended.isDefault()
    assert dialog.bar.text() == "Done: 2 epochs"
    with Catalogue(db) as cat:
        assert modelstore.active_version(cat) == before  # nothing changes until chosen
    dialog.use_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible() or dialog.result is None, timeout=120_000)
    qtbot.waitUntil(lambda: dialog.keep_button.text() == "Close", timeout=120_000)
    with Catalogue(db) as cat:
        assert modelstore.active_version(cat) == dialog.result.version
        names, _ids, vectors = store_vectors.embeddings(cat, dialog.result.version)
    assert len(names) == 70 and vectors.shape[1] == 32


def test_retrain_dialog_cancel_leaves_the_active_model(qtbot, db: Path) -> None:  # type: ignore[no-untyped-def]
    from musicorg.gui.retrain_dialog import RetrainDialog

    with Catalogue(db) as cat:
        before = modelstore.active_version(cat)
    versions = {m.version for m in modelstore.list_models(Catalogue(db))}
    dialog = RetrainDialog(db)
    qtbot.addWidget(dialog)
    dialog.epochs.setValue(200)
    dialog.device.setCurrentText("cpu")
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.bar.value() > 0, timeout=120_000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.start_button.isEnabled(), timeout=120_000)
    assert "Cancelled" in dialog.status.text()
    assert dialog.result is None
    # The bar says how far it got; it never reads 100 % after a cancel.
    assert dialog.bar.text().startswith("Cancelled after epoch") or dialog.bar.text() == (
        "Cancelled before the first epoch"
    )
    assert dialog.bar.value() < dialog.bar.maximum()
    with Catalogue(db) as cat:
        assert modelstore.active_version(cat) == before
        assert {m.version for m in modelstore.list_models(cat)} == versions


def test_model_versions_dialog_lists_switches_and_deletes(qtbot, db: Path) -> None:  # type: ignore[no-untyped-def]
    from musicorg.app import retrain
    from musicorg.gui.mainwindow import MainWindow
    from musicorg.gui.models_dialog import ModelsDialog
    from musicorg.gui.player import NullPlayer

    bundled = model_registry.bundled_version()
    with Catalogue(db) as cat:
        version = retrain.retrain(cat, retrain.RetrainOptions(epochs=1, device="cpu")).version
    window = MainWindow(player=NullPlayer())
    qtbot.addWidget(window)
    window.open_library(db, [], rescan=False)
    qtbot.waitUntil(window.idle, timeout=60000)

    dialog = ModelsDialog(db)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: len(dialog.models) == 2, timeout=60000)
    rows = {dialog.table.item(r, 0).text(): r for r in range(2)}
    assert set(rows) == {bundled, version}
    assert dialog.table.item(rows[bundled], 4).text() == "active"
    assert dialog.table.item(rows[version], 1).text().startswith(f"fine-tuned from {bundled}")
    assert "1 epoch, on 70 tracks" in dialog.table.item(rows[version], 1).text()
    assert dialog.table.item(rows[version], 2).text() == "70"  # retrain embeds the library
    dialog.table.selectRow(rows[version])
    assert dialog.use_button.isEnabled() and dialog.delete_button.isEnabled()
    dialog.use_requested.connect(window.pipeline.switch_model)
    with qtbot.waitSignal(window.pipeline_finished, timeout=240000):
        dialog.use_button.click()
    assert not dialog.isVisible()
    with Catalogue(db) as cat:
        assert modelstore.active_version(cat) == version
        assert modeldata.auto_playlist_count(cat, version) > 0

    # The active model cannot be deleted; back to the bundled one, then it can.
    dialog = ModelsDialog(db)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: len(dialog.models) == 2, timeout=60000)
    dialog.table.selectRow(next(r for r in range(2) if dialog.models[r].version == version))
    assert not dialog.use_button.isEnabled() and not dialog.delete_button.isEnabled()
    with qtbot.waitSignal(window.pipeline_finished, timeout=240000):
        window.pipeline.revert_model()
    dialog.refresh()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=60000)
    dialog.table.selectRow(next(r for r in range(2) if dialog.models[r].version == version))
    assert dialog.delete_button.isEnabled()
    dialog.delete_selected(confirm=False)
    qtbot.waitUntil(lambda: len(dialog.models) == 1 and not dialog.busy(), timeout=60000)
    assert f"Deleted model {version}." in dialog.status.text()
    assert "70 embeddings" in dialog.status.text()
    assert version not in model_registry.read_registry()
    with Catalogue(db) as cat:
        assert modelstore.active_version(cat) == bundled
        assert store_vectors.embeddings(cat, version)[0] == []
    window.close()
