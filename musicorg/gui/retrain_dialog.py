"""The Retrain dialog: options, live loss curves and β, the old/new report, and the choice.

Training runs in a worker thread (:func:`musicorg.app.retrain.retrain`); every finished epoch and
batch reaches the dialog through Qt signals, so the UI thread never waits on torch. Cancel
stops between batches and leaves the active model untouched. When training ends, the report
compares the active and the new model, and the user picks which one to keep; the new one is
switched to the checked way (:func:`musicorg.app.pipeline.switch_model`), as the window does.

The chart is tall enough to read (:data:`CHART_MIN_HEIGHT`), its epoch axis counts whole
epochs, the bar shows the whole run (batches of every epoch, with the time left), and the
report opens with one plain sentence saying which model to keep and why
(:func:`recommendation`).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import threading
import time
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

from musicorg.gui import theme
from musicorg.jobs import Cancelled, CancelToken
from musicorg.store.db import Catalogue

log = logging.getLogger(__name__)

CURVES = (("total", "#1f77b4"), ("audio", "#ff7f0e"), ("text", "#2ca02c"), ("kl", "#d62728"))
#: The epochs the dialog proposes, fine-tuning and from scratch (``musicorg.app.retrain``'s
#: defaults; a test keeps them equal without importing it here, which would load the stages).
DEFAULT_EPOCHS = {False: 10, True: 40}
#: The loss chart's plot area is never lower than this (px), the β chart's than the second.
CHART_MIN_HEIGHT = 200
BETA_MIN_HEIGHT = 90
#: At most this many labelled epochs on the axis.
MAX_EPOCH_TICKS = 10


class _Bridge(QObject):
    epoch = Signal(object)
    batch = Signal(int, int, int)
    stage = Signal(str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    switched = Signal(object)


class LossAxis(pg.AxisItem):
    """The loss chart's log axis, in plain numbers (20, 50, 100), labelled sparsely enough
    that no two labels overprint: decades always, 2 and 5 times a decade when there is room,
    never the crowded 3, 4, 6, 7, 8, 9 between them."""

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        low, high = (float(v) for v in self.range)
        px_per_decade = self.geometry().height() / max(1e-9, high - low)
        keep = {1, 2, 5} if px_per_decade >= 60 else {1}
        out = []
        for v in values:
            number = 10 ** float(v) * scale
            mantissa = round(number / 10 ** math.floor(math.log10(number) + 1e-9))
            out.append(f"{number:g}" if mantissa in keep else "")
        return out


class RetrainDialog(QDialog):
    """Retrain the model on the library of the catalogue at ``db_path``."""

    def __init__(self, db_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Retrain the model on this library")
        self.resize(860, 780)
        # Wide enough that the status and the advice wrap to two lines at most (a wrapped
        # label is not counted in the smallest height; more lines would overlap the chart).
        self.setMinimumWidth(680)
        self.db_path = Path(db_path)
        self.result: Any = None
        self.history: list[Any] = []
        self._token: CancelToken | None = None
        self._thread: threading.Thread | None = None
        self._planned = DEFAULT_EPOCHS[False]  # the epochs of the run under way
        self._batch_clock: tuple[float, int] | None = None  # (when, batches done) at the first
        self._bridge = _Bridge()
        for signal, slot in (
            (self._bridge.epoch, self._on_epoch),
            (self._bridge.batch, self._on_batch),
            (self._bridge.stage, self._on_stage),
            (self._bridge.finished, self._on_finished),
            (self._bridge.failed, self._on_failed),
            (self._bridge.cancelled, self._on_cancelled),
            (self._bridge.switched, self._on_switched),
        ):
            signal.connect(slot, Qt.ConnectionType.QueuedConnection)

        form = self._build_options()
        self._build_plots()
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("Not started")
        self.advice = QLabel("")
        self.advice.setWordWrap(True)
        self.advice.setStyleSheet("font-weight: bold")
        self.advice.hide()
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.setFont(QFont("monospace"))
        self.report.setPlaceholderText("The old and the new model are compared here.")
        self.report.setMinimumHeight(80)
        self.report.setMaximumHeight(200)
        buttons = self._build_buttons()
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.legend)
        layout.addWidget(self.plots, 3)
        layout.addWidget(self.status)
        layout.addWidget(self.bar)
        layout.addWidget(self.advice)
        layout.addWidget(self.report, 1)
        layout.addLayout(buttons)

    def _build_options(self) -> QFormLayout:
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(DEFAULT_EPOCHS[False])
        self.epochs.setMaximumWidth(120)
        # Typed by the user: "Train from scratch" then leaves the number alone.
        self.epochs_touched = False
        self._setting_default = False
        self.epochs.valueChanged.connect(self._epochs_typed)
        self.scratch = QCheckBox("Train from scratch (default: fine-tune the active model)")
        self.scratch.toggled.connect(self._scratch_toggled)
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

    def _epochs_typed(self, _value: int) -> None:
        if not self._setting_default:
            self.epochs_touched = True

    def _scratch_toggled(self, on: bool) -> None:
        """The proposed number of epochs follows the choice until the user typed one."""
        if self.epochs_touched:
            return
        self._setting_default = True
        try:
            self.epochs.setValue(DEFAULT_EPOCHS[bool(on)])
        finally:
            self._setting_default = False

    def _build_plots(self) -> None:
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground(theme.background())
        self.loss_plot = self.plots.addPlot(
            row=0, col=0, title="Loss per epoch (log scale)", axisItems={"left": LossAxis("left")}
        )
        # The total is dominated by the audio term; a log axis keeps text and KL readable.
        self.loss_plot.setLogMode(y=True)
        self.legend = QLabel(
            "  ".join(f'<span style="color:{c}">&#9632; {n}</span>' for n, c in CURVES)
            + '  <span style="color:#9467bd">&#9632; β (KL weight)</span>'
        )
        self.loss_plot.showGrid(x=True, y=True, alpha=0.3)
        self.loss_plot.setMouseEnabled(x=False, y=False)
        self.curves = {
            name: self.loss_plot.plot(
                [],
                [],
                pen=pg.mkPen(colour, width=2),
                symbol="o",
                symbolSize=5,
                symbolBrush=colour,
                antialias=True,  # smooth lines; a few points, no cost
            )
            for name, colour in CURVES
        }
        self.beta_plot = self.plots.addPlot(row=1, col=0, title="β (KL weight)")
        self.beta_plot.setLabel("bottom", "epoch")
        self.beta_plot.setMouseEnabled(x=False, y=False)
        self.beta_plot.setXLink(self.loss_plot)  # one epoch axis; its label only at the bottom
        self.beta_curve = self.beta_plot.plot(
            [], [], pen=pg.mkPen("#9467bd", width=2), antialias=True
        )
        self.beta_plot.setYRange(0, 1)
        for plot in (self.loss_plot, self.beta_plot):
            plot.getAxis("left").setWidth(52)  # the two plots' epochs line up
        layout = self.plots.ci.layout
        layout.setRowStretchFactor(0, 3)
        layout.setRowStretchFactor(1, 1)
        # Titles, tick labels and the axis label each need their own room, or they overprint.
        self.loss_plot.setMinimumHeight(CHART_MIN_HEIGHT + 50)
        self.beta_plot.setMinimumHeight(BETA_MIN_HEIGHT + 70)
        self.plots.setMinimumHeight(CHART_MIN_HEIGHT + BETA_MIN_HEIGHT + 50 + 70 + 26)  # + margins
        self._set_epoch_axis(self._planned)

    def _set_epoch_axis(self, epochs: int) -> None:
        """Whole epochs on the axis, 1 to ``epochs``, at most :data:`MAX_EPOCH_TICKS` labels."""
        step = epoch_tick_step(epochs)
        for plot in (self.loss_plot, self.beta_plot):
            plot.getAxis("bottom").setTickSpacing(step, step)
        self.loss_plot.setXRange(1, max(2, epochs), padding=0.03)

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
        self._reset(int(self.epochs.value()))
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
                bridge.cancelled.emit()
            except Exception as exc:  # shown in the dialog; the app keeps running
                log.exception("retraining failed")
                bridge.failed.emit(f"Retraining failed: {exc}")

        self._thread = threading.Thread(target=work, name="retrain", daemon=True)
        self._thread.start()

    def _reset(self, epochs: int) -> None:
        """A new run: empty curves and report, the bar at 0 of the whole run."""
        self.history.clear()
        for curve in self.curves.values():
            curve.setData([], [])
        self.beta_curve.setData([], [])
        self.report.clear()
        self.advice.clear()
        self.advice.hide()
        self.result = None
        self._planned = epochs
        self._batch_clock = None
        self._set_epoch_axis(epochs)
        self.bar.setRange(0, 0)  # busy until the first batch says how many there are
        self.bar.setFormat("Preparing…")

    def cancel(self) -> None:
        if self._token is not None and self.running():
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
        betas = [float(h.beta) for h in self.history]
        self.beta_curve.setData(xs, betas)
        # From 0: a constant β (fine-tuning) is a flat line at its value, not mid-air.
        self.beta_plot.setYRange(0, max(max(betas) * 1.15, 1e-3), padding=0)
        self.status.setText(f"Epoch {p.epoch}/{p.epochs} · {p.seconds:.1f} s per epoch")

    def _on_batch(self, epoch: int, batch: int, n_batches: int) -> None:
        """The whole run's progress: batches of every epoch, and the time left at this pace."""
        total = max(1, self._planned * max(1, n_batches))
        done = min(total, (epoch - 1) * n_batches + batch)
        now = time.monotonic()
        if self._batch_clock is None:
            self._batch_clock = (now, done)
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        t0, d0 = self._batch_clock
        left = overall_eta(now - t0, done - d0, total - done)
        self.bar.setFormat(f"%p% · {_eta(left)} left" if left is not None else "%p%")
        if not self.history:
            self.status.setText(f"Epoch {epoch}/{self._planned} · batch {batch}/{n_batches}")

    def _on_stage(self, text: str) -> None:
        self.status.setText(text)

    def _on_finished(self, result: Any) -> None:
        # lazy: the report imports torch (3 s), already loaded by the training that just ended
        from musicorg.model.libreport import format_report

        self.result = result
        self._set_running(False)
        self.use_button.setEnabled(True)
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        self.bar.setFormat(f"Done: {result.epochs} epochs")
        self.report.setPlainText(format_report(result.report))
        text, keep_new = recommendation(result.report)
        self.advice.setText(text)
        self.advice.show()
        (self.use_button if keep_new else self.keep_button).setDefault(True)
        self.status.setText(
            f"New model {result.version}: {result.epochs} epochs on {result.n_tracks} tracks "
            f"in {result.seconds:.0f} s. Compare, then choose which model to keep."
        )

    def _on_failed(self, message: str) -> None:
        self._set_running(False)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("Stopped")
        self.status.setText(message)

    def _on_cancelled(self) -> None:
        """Never a full bar after a cancel: it says how far training got."""
        self._set_running(False)
        done = len(self.history)
        where = f"after epoch {self.history[-1].epoch}" if done else "before the first epoch"
        self.bar.setRange(0, max(1, self._planned))
        self.bar.setValue(min(done, self._planned - 1) if done else 0)
        self.bar.setFormat(f"Cancelled {where}")
        self.status.setText(f"Cancelled {where}: the active model is unchanged.")

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


def epoch_tick_step(epochs: int) -> int:
    """The spacing of labelled epochs: 1, 2 or 5 times a power of ten, so that 1 to
    ``epochs`` has at most :data:`MAX_EPOCH_TICKS` labels."""
    power = 1
    while True:
        for unit in (1, 2, 5):
            if epochs <= MAX_EPOCH_TICKS * unit * power:
                return unit * power
        power *= 10


def overall_eta(elapsed_s: float, done: int, left: int) -> float | None:
    """Seconds left at the pace so far (``done`` batches in ``elapsed_s``); None too early."""
    if done <= 0 or elapsed_s < 0.5:
        return None
    return left * elapsed_s / done


def _change(old: float, new: float) -> str:
    return f"{old:.2f} → {new:.2f}"


def _judgements(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[int, str, str]]:
    """What the new model does better (+) or worse (-) than the active one, with weights:
    (sign × weight, how the new one is when better, when worse)."""
    out: list[tuple[int, str, str]] = []
    if old.get("silhouette") is not None and new.get("silhouette") is not None:
        a, b = float(old["silhouette"]), float(new["silhouette"])
        if abs(b - a) >= 0.01:  # the playlists are what people see: it counts twice
            out.append(
                (
                    2 if b > a else -2,
                    f"makes tighter playlists (silhouette {_change(a, b)})",
                    f"makes looser playlists (silhouette {_change(a, b)})",
                )
            )
    a, b = float(old.get("recon_mse") or 0.0), float(new.get("recon_mse") or 0.0)
    if a > 0 and b > 0 and abs(b - a) / a >= 0.02:
        out.append(
            (
                1 if b < a else -1,
                f"fits your music better (error {_change(a, b)})",
                f"fits your music less well (error {_change(a, b)})",
            )
        )
    og, ng = old.get("genre"), new.get("genre")
    if og and ng and abs(float(ng["ami"]) - float(og["ami"])) >= 0.02:
        a, b = float(og["ami"]), float(ng["ami"])
        out.append(
            (
                1 if b > a else -1,
                f"follows your genre tags more closely (agreement {_change(a, b)})",
                f"follows your genre tags less closely (agreement {_change(a, b)})",
            )
        )
    return out


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def recommendation(report: dict[str, Any]) -> tuple[str, bool]:
    """One plain sentence saying which model to keep, and True when it is the new one.

    A new model that collapsed (fewer than half the active dimensions of the current one) is
    never recommended. Otherwise tighter playlists (silhouette) count twice, a better fit of
    the audio (reconstruction error) and closer agreement with the genre tags once each;
    with nothing to choose between them, the current model stays (switching recomputes).
    """
    old, new = report["old"], report["new"]
    old_dims, new_dims = int(old.get("active_dims", 0)), int(new.get("active_dims", 0))
    if old_dims >= 4 and new_dims < old_dims / 2:
        return (
            "Keep the current model: the new one uses only "
            f"{new_dims} of its {new.get('latent_dim', '?')} dimensions (the current one "
            f"{old_dims}), so it tells fewer kinds of music apart.",
            False,
        )
    found = _judgements(old, new)
    score = sum(w for w, _b, _w in found)
    better = [good for w, good, _bad in found if w > 0]
    worse = [bad for w, _good, bad in found if w < 0]
    if score > 0:
        text = "Keep the new model: it " + _join(better)
        return text + (f", although it {_join(worse)}." if worse else "."), True
    if not found:
        return (
            "Keep the current model: the new one is about the same on your music, and "
            "switching would recompute the playlists and the map.",
            False,
        )
    text = "Keep the current model: the new one " + _join(worse)
    return text + (f", although it {_join(better)}." if better else "."), False


def _eta(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def _device_in_use() -> str:
    """Which device 'auto' means here, without importing torch on the UI thread at start."""
    if importlib.util.find_spec("torch") is None:
        return "(torch is not installed)"
    return "auto uses CUDA when available, else the CPU"
