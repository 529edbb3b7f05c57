"""Pipeline control: the window's stages run one after the other, each as a job, with a reload
after each; and the one way the window switches models, the checked switch of
:func:`musicorg.app.pipeline.switch_model`, followed by the maps.

The stages come from :mod:`musicorg.app.pipeline`, which loads the analysis stage (librosa,
scipy: about a second). The first run imports it in a worker (a "prepare" job), so the UI
thread never waits for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from musicorg.gui.host import Host
from musicorg.gui.models_dialog import ModelsDialog
from musicorg.gui.pipeline_stages import TABLE, StageTable
from musicorg.gui.tasks import StageFn, label
from musicorg.model.registry import bundled_version
from musicorg.store import writelock
from musicorg.store.db import Catalogue
from musicorg.store.vectors import active_model_version

if TYPE_CHECKING:
    from musicorg.gui.retrain_dialog import RetrainDialog

log = logging.getLogger(__name__)

#: How long the status bar keeps "Waiting for … to finish writing" (the stage replaces it).
WAITING_MS = 3_600_000
#: A stage to run: its job's name, and how its job is made once its turn comes.
Step = tuple[str, Callable[[Catalogue], StageFn]]
#: The steps of a run, from the window's table of stages.
Plan = Callable[[StageTable], list[Step]]


class PipelineControl(QObject):
    #: the stages started together ended: "ok", "cancelled" or why they stopped
    finished = Signal(str)
    #: an analysis or a model switch ended: the latent space is not the one it was
    model_changed = Signal()

    def __init__(self, host: Host, window: QWidget) -> None:
        super().__init__(window)
        self.host = host
        self.window = window
        self.pending: list[Step] = []
        self.device_in_use = ""
        self._last_scan_reload = 0.0

    def busy(self) -> bool:
        return bool(self.pending)

    def clear(self) -> None:
        """Forget what was still to run (the library is closed)."""
        self.pending = []

    # -- what the window runs ------------------------------------------------------------------

    def run(self, names: Sequence[str]) -> None:
        """Run these stages one after the other; each starts when the one before succeeded.
        Names are those of ``musicorg.app.pipeline.STAGES``, and "rebuild", "remap" and
        "reumap" for playlists and maps made again from scratch."""
        self._start(lambda table: [self._step(table, n) for n in names])

    def rescan(self) -> None:
        self._start(lambda table: [self._step(table, n) for n in table.everything])

    def analyse(self) -> None:
        self._start(lambda table: [self._step(table, n) for n in table.analysis])

    def cancel_jobs(self) -> None:
        for job in self.host.runner.running():
            job.cancel()

    def _step(self, table: StageTable, name: str) -> Step:
        host = self.host
        return name, lambda cat: table.make(name, cat, host.settings, host.folders)

    # -- models --------------------------------------------------------------------------------

    def switch_model(self, version: str) -> None:
        """Make ``version`` the active model, the checked way, then place the tracks on its
        maps. A refused model leaves the previous one active, with the reason in the status
        bar and the problems panel."""
        cat = self.host.cat
        if cat is None:
            return
        what = "the bundled model" if version == bundled_version() else "model"
        if active_model_version(cat) == version:
            self.host.flash(f"The {what} {version} is already active.", 5000)
            return
        self.host.flash(f"Switching to {what} {version}.", 5000)
        device = self.host.settings.device

        def plan(table: StageTable) -> list[Step]:
            switch = partial(table.switch_model, version=version, device=device)
            return [("model", switch), *(self._step(table, n) for n in table.after_switch)]

        self._start(plan)

    def revert_model(self) -> None:
        """Back to the bundled model in one click. Its embeddings and playlists are kept per
        version, so only what it lacks is computed; user playlists are not touched."""
        self.switch_model(bundled_version())

    def open_models(self) -> ModelsDialog | None:
        """The Model versions dialog; the version chosen there is switched to here."""
        if self.host.cat is None:
            return None
        dialog = ModelsDialog(self.host.cat.path, self.window)
        dialog.use_requested.connect(self.switch_model)
        dialog.open()
        return dialog

    def open_retrain(self) -> RetrainDialog | None:
        """The Retrain dialog. When the new model is chosen there (the dialog switches to it,
        the checked way), its maps follow here."""
        cat = self.host.cat
        if cat is None:
            return None
        # lazy: the dialog's plots (pyqtgraph) are loaded when it is first opened
        from musicorg.gui.retrain_dialog import RetrainDialog

        before = active_model_version(cat)
        dialog = RetrainDialog(cat.path, self.window)

        def done(_code: int) -> None:
            if self.host.cat is cat and active_model_version(cat) != before:
                self.model_changed.emit()
                self._start(lambda table: [self._step(table, n) for n in table.after_switch])

        dialog.finished.connect(done)
        dialog.open()
        return dialog

    # -- running -------------------------------------------------------------------------------

    def _start(self, plan: Plan) -> None:
        cat = self.host.cat
        if cat is None:
            return
        if self.busy():
            self.host.flash("Already working; the library stays usable.", 4000)
            return
        self.pending = plan(TABLE)
        self._next()

    def _next(self) -> None:
        cat = self.host.cat
        if not self.pending or cat is None:
            self._end("ok")
            return
        name, make = self.pending.pop(0)
        self.host.runner.submit(
            name,
            make(cat),
            on_result=partial(self._done, name),
            on_error=partial(self._failed, name),
            on_progress=partial(self._progress, name),
            on_cancel=partial(self._cancelled, name),
        )

    def _end(self, outcome: str) -> None:
        self.clear()
        self.host.reload()
        self.finished.emit(outcome)

    def _progress(self, name: str, done: int, total: int, text: str) -> None:
        # Waiting for another musicorg process: shown until the stage says something else.
        self.host.flash(text, WAITING_MS if text.startswith(writelock.WAITING) else 3000)
        if name == "scan" and time.monotonic() - self._last_scan_reload > 3.0 and done:
            # Results appear as they come: show what the scan has committed so far.
            self._last_scan_reload = time.monotonic()
            self.host.reload()

    def _done(self, name: str, result: object) -> None:
        summary = getattr(result, "summary", None)
        text = summary() if callable(summary) else None
        log.info("%s done: %s", name, text or result)
        if name in ("analyse", "model") and result is not None:  # None: nothing to analyse
            self.device_in_use = str(getattr(result, "device", "") or "")
            self.model_changed.emit()
        if self.pending:
            self.host.reload()  # the last stage's is _end's: one read, not two
        if text:
            # A refused or uninstalled model is worth saying before the counts.
            warning = getattr(result, "model_warning", None)
            self.host.flash(
                f"{warning[:1].upper()}{warning[1:]}. {text}" if warning else text, 8000
            )
        self._next()

    def _failed(self, name: str, message: str, tb: str) -> None:
        self.host.job_failed(name)(message, tb)
        self._end(f"{name} failed: {message}")

    def _cancelled(self, name: str) -> None:
        self.host.flash(f"{label(name)} cancelled; the work done is kept.", 8000)
        self._end("cancelled")
