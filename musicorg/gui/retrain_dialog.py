"""The Retrain dialog: options, live loss curves and β, the old/new report, and the choice.

Training runs in a worker thread (:func:`musicorg.app.retrain.retrain`); every finished epoch and
batch reaches the dialog through Qt signals, so the UI thread never waits on torch. Cancel
stops between batches and leaves the active model untouched. When training ends, the report
compares the active and the new model, and the user picks which one to keep; the new one is
switched to the checked way (:func:`musicorg.app.pipeline.switch_model`), as the window does.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from musicorg.jobs import Cancelled, CancelToken
from musicorg.store.db import Catalogue

log = logging.getLogger(__name__)

CURVES = (("total", "#1f77b4"), ("audio", "#ff7f0e"), ("text", "#2ca02c"), ("kl", "#d62728"))


class _Bridge(QObject):
    epoch = Signal(object)
    batch = Signal(int, int, int)
    stage = Signal(str)
    finished = Signal(object)
    failed = Signal(str)
    switched = Signal(object)


class RetrainDialog(QDialog):
    """Retrain the model on the library of the catalogue at ``db_path``."""

    def __init__(self, db_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Retrain the model on this library")
        self.resize(820, 640)
        self.db_path = Path(db_path)
        self.result: Any = None
        self.history: list[Any] = []
        self._token: CancelToken | None = None
        self._thread: threading.Thread | None = None
        self._bridge = _Bridge()
        self._bridge.epoch.connect(self._on_epoch, Qt.ConnectionType.QueuedConnection)
        self._bridge.batch.connect(self._on_batch, Qt.ConnectionType.QueuedConnection)
        self._bridge.stage.connect(self._on_stage, Qt.ConnectionType.QueuedConnection)
        self._bridge.finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        self._bridge.failed.connect(self._on_failed, Qt.ConnectionType.QueuedConnection)
        self._bridge.switched.connect(self._on_switched, Qt.ConnectionType.QueuedConnection)

        form = self._build_options()
        self._build_plots()
        self.status = QLabel("Ready.")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.setFont(QFont("monospace"))
        self.report.setPlaceholderText("The old and the new model are compared here.")
        self.report.setMaximumHeight(170)
        buttons = self._build_buttons()
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.legend)
        layout.addWidget(self.plots, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.bar)
        layout.addWidget(self.report)
        layout.addLayout(buttons)

    def _build_options(self) -> QFormLayout:
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(10)
        self.scratch = QCheckBox("Train from scratch (default: fine-tune the active model)")
        self.scratch.toggled.connect(lambda on: self.epochs.setValue(40 if on else 10))
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.device_label = QLabel(_device_in_use())
        form = QFormLayout()
        form.addRow("Epochs", self.epochs)
        form.addRow("", self.scratch)
        row = QHBoxLayout()
        row.addWidget(self.device)
        row.addWidget(self.device_label, 1)
        form.addRow("Device", row)
        return form

    def _build_plots(self) -> None:
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")
        self.loss_plot = self.plots.addPlot(row=0, col=0, title="Loss per epoch (log scale)")
        # The total is dominated by the audio term; a log axis keeps text and KL readable.
        self.loss_plot.setLogMode(y=True)
        self.legend = QLabel(
            "  ".join(f'<span style="color:{c}">&#9632; {n}</span>' for n, c in CURVES)
            + '  <span style="color:#9467bd">&#9632; β</span>'
        )
        self.loss_plot.setLabel("bottom", "epoch")
        self.loss_plot.showGrid(x=True, y=True, alpha=0.3)
        self.curves = {
            name: self.loss_plot.plot(
                [],
                [],
                pen=pg.mkPen(colour, width=2),
                symbol="o",
                symbolSize=5,
                symbolBrush=colour,
            )
            for name, colour in CURVES
        }
        self.beta_plot = self.plots.addPlot(row=1, col=0, title="β (KL weight)")
        self.beta_plot.setMaximumHeight(160)
        self.beta_plot.setLabel("bottom", "epoch")
        self.beta_curve = self.beta_plot.plot([], [], pen=pg.mkPen("#9467bd", width=2))

    def _build_buttons(self) -> QHBoxLayout:
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel training")
        self.use_button = QPushButton("Use the new model")
        self.keep_button = QPushButton("Keep the current model")
        self.cancel_button.setEnabled(False)
        self.use_button.setEnabled(False)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(self.use_new_model)
        self.keep_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.keep_button)
        return buttons

    # -- running ---------------------------------------------------------------------------

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running():
            return
        # lazy: training imports torch (seconds), when it starts, not when the dialog opens
        from musicorg.app import retrain

        options = retrain.RetrainOptions(
            epochs=int(self.epochs.value()),
            from_scratch=self.scratch.isChecked(),
            device=self.device.currentText(),
        )
        self.history.clear()
        for curve in self.curves.values():
            curve.setData([], [])
        self.beta_curve.setData([], [])
        self.report.clear()
        self.result = None
        self._token = CancelToken()
        token, bridge, db = self._token, self._bridge, self.db_path
        self._set_running(True)
        self.status.setText("Preparing…")

        def work() -> None:
            try:
                with Catalogue(db) as cat:
                    result = retrain.retrain(
                        cat,
                        options,
                        progress=bridge.epoch.emit,
                        batch_progress=bridge.batch.emit,
                        stage=bridge.stage.emit,
                        cancel=token,
                    )
                bridge.finished.emit(result)
            except Cancelled:
                bridge.failed.emit("Cancelled: the active model is unchanged.")
            except Exception as exc:  # shown in the dialog; the app keeps running
                log.exception("retraining failed")
                bridge.failed.emit(f"Retraining failed: {exc}")

        self._thread = threading.Thread(target=work, name="retrain", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        if self._token is not None:
            self._token.cancel()
            self.status.setText("Cancelling after this batch…")

    def wait(self, timeout: float = 60.0) -> bool:
        """For tests and closing: wait for the worker thread to end."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _set_running(self, on: bool) -> None:
        self.start_button.setEnabled(not on)
        self.cancel_button.setEnabled(on)
        for w in (self.epochs, self.scratch, self.device):
            w.setEnabled(not on)

    # -- signals from the worker -----------------------------------------------------------

    def _on_epoch(self, p: Any) -> None:
        self.history.append(p)
        xs = [h.epoch for h in self.history]
        for name, curve in self.curves.items():
            curve.setData(xs, [float(getattr(h, name)) for h in self.history])
        self.beta_curve.setData(xs, [float(h.beta) for h in self.history])
        self.status.setText(
            f"Epoch {p.epoch}/{p.epochs} · {p.seconds:.1f} s per epoch · about {_eta(p.eta_s)} left"
        )

    def _on_batch(self, epoch: int, batch: int, n_batches: int) -> None:
        self.bar.setRange(0, max(1, n_batches))
        self.bar.setValue(batch)
        if not self.history:
            self.status.setText(f"Epoch {epoch} · batch {batch}/{n_batches}")

    def _on_stage(self, text: str) -> None:
        self.status.setText(text)

    def _on_finished(self, result: Any) -> None:
        # lazy: the report imports torch (3 s), already loaded by the training that just ended
        from musicorg.model.libreport import format_report

        self.result = result
        self._set_running(False)
        self.use_button.setEnabled(True)
        self.report.setPlainText(format_report(result.report))
        self.status.setText(
            f"New model {result.version}: {result.epochs} epochs on {result.n_tracks} tracks "
            f"in {result.seconds:.0f} s. Compare, then choose which model to keep."
        )

    def _on_failed(self, message: str) -> None:
        self._set_running(False)
        self.status.setText(message)

    # -- choosing --------------------------------------------------------------------------

    def use_new_model(self) -> None:
        if self.result is None:
            return
        version, db, bridge = self.result.version, self.db_path, self._bridge
        self.use_button.setEnabled(False)
        self.keep_button.setEnabled(False)
        self.status.setText(f"Switching to {version} (embedding the library)…")

        def work() -> None:
            # lazy: the pipeline loads the analysis stage (about a second), in this worker
            from musicorg.app import pipeline

            try:
                with Catalogue(db) as cat:
                    # The one checked switch: a refused model leaves the active one in place.
                    report = pipeline.switch_model(cat, version)
                bridge.switched.emit(report)
            except Exception as exc:
                log.exception("switching models failed")
                bridge.failed.emit(f"Could not switch to {version}: {exc}")

        self._thread = threading.Thread(target=work, name="use-model", daemon=True)
        self._thread.start()

    def _on_switched(self, report: Any) -> None:
        self.keep_button.setEnabled(True)
        self.keep_button.setText("Close")
        self.status.setText(report.summary())
        self.accept()

    def closeEvent(self, event: Any) -> None:
        self.cancel()
        self.wait(30)
        super().closeEvent(event)

    def reject(self) -> None:
        if self.running():
            self.cancel()
            self.wait(30)
        super().reject()


def _eta(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def _device_in_use() -> str:
    """Which device 'auto' means here, without importing torch on the UI thread at start."""
    if importlib.util.find_spec("torch") is None:
        return "(torch is not installed)"
    return "auto uses CUDA when available, else the CPU"
