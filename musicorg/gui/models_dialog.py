"""The Model versions dialog: the bundled model and the retrained ones, switch or delete.

Listing verifies every version's files against its manifest, and deleting removes files and
catalogue rows: both run in a worker thread and report back through Qt signals, so the UI
thread never waits on them. Switching is the main window's job (the checked switch, then the
maps: :meth:`musicorg.gui.pipeline_control.PipelineControl.switch_model`): the dialog emits
:attr:`ModelsDialog.use_requested`.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from musicorg.model import registry as model_registry
from musicorg.store.db import Catalogue

log = logging.getLogger(__name__)

COLUMNS = ("Version", "What", "Tracks embedded", "Playlists", "State")


class _Bridge(QObject):
    listed = Signal(object)  # list[ModelInfo]
    deleted = Signal(str)  # a summary line
    failed = Signal(str)


class ModelsDialog(QDialog):
    """Model versions of the catalogue at ``db_path``."""

    use_requested = Signal(str)

    def __init__(self, db_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model versions")
        self.resize(780, 320)
        self.db_path = Path(db_path)
        self.models: list[Any] = []
        self._thread: threading.Thread | None = None
        self._working = False  # a worker is listing or deleting (until its signal arrives)
        self._note: str | None = None  # shown instead of the count once the list is back
        self._bridge = _Bridge()
        self._bridge.listed.connect(self._on_listed)
        self._bridge.deleted.connect(self._on_deleted)
        self._bridge.failed.connect(self._on_failed)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        playlists_header = self.table.horizontalHeaderItem(3)
        if playlists_header is not None:
            playlists_header.setToolTip("automatic playlists of this model")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.use_selected())

        self.status = QLabel("Reading the model versions…")
        self.status.setWordWrap(True)
        self.use_button = QPushButton("Use this model")
        self.delete_button = QPushButton("Delete…")
        self.close_button = QPushButton("Close")
        self.use_button.clicked.connect(lambda: self.use_selected())
        self.delete_button.clicked.connect(lambda: self.delete_selected())
        self.close_button.clicked.connect(self.reject)

        buttons = QHBoxLayout()
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self._update_buttons()
        self.refresh()

    # -- background work ---------------------------------------------------------------------

    def busy(self) -> bool:
        return self._working

    def _run(self, name: str, work: Any) -> None:
        self._working = True
        self._thread = threading.Thread(target=work, name=name, daemon=True)
        self._thread.start()
        self._update_buttons()

    def refresh(self) -> None:
        db, bridge = self.db_path, self._bridge

        def work() -> None:
            # lazy: app.models loads the analysis stage (about a second), in this worker
            from musicorg.app import models as modelstore

            try:
                with Catalogue(db) as cat:
                    bridge.listed.emit(modelstore.list_models(cat, verify=True))
            except Exception as exc:
                log.exception("listing the model versions failed")
                bridge.failed.emit(f"Could not read the model versions: {exc}")

        self._run("list-models", work)

    def _on_listed(self, models: list[Any]) -> None:
        self._working = False
        self.models = list(models)
        keep = self.selected()
        self.table.setRowCount(len(self.models))
        for row, info in enumerate(self.models):
            state = "active" if info.active else ""
            if info.problem:
                state = f"refused: {info.problem}"
            cells = (
                info.version,
                info.describe(),
                str(info.embedded),
                str(info.auto_playlists),
                state,
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(info.directory if col == 0 else text)
                if info.active:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                if col in (2, 3):
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(row, col, item)
        for col in (0, 2, 3, 4):
            self.table.resizeColumnToContents(col)
        self.table.resizeRowsToContents()
        rows = [i for i, m in enumerate(self.models) if keep and m.version == keep.version]
        if rows:
            self.table.selectRow(rows[0])
        n = len(self.models) - 1
        self.status.setText(
            self._note
            or (
                "The bundled model only: retrain on your library to make another version."
                if n == 0
                else f"The bundled model and {n} retrained version{'s' if n != 1 else ''}. "
                "Switching embeds only what the chosen model has not embedded yet."
            )
        )
        self._note = None
        self._update_buttons()

    def _on_failed(self, message: str) -> None:
        self._working = False
        self.status.setText(message)
        self._update_buttons()

    # -- actions ----------------------------------------------------------------------------

    def selected(self) -> Any:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.models):
            return None
        return self.models[rows[0].row()]

    def _update_buttons(self) -> None:
        info = self.selected()
        idle = not self.busy()
        self.use_button.setEnabled(
            idle and info is not None and not info.active and not info.problem
        )
        self.delete_button.setEnabled(
            idle and info is not None and not info.bundled and not info.active
        )

    def use_selected(self) -> None:
        info = self.selected()
        if info is None or info.active or info.problem or self.busy():
            return
        self.use_requested.emit(info.version)
        self.accept()

    def delete_selected(self, *, confirm: bool = True) -> None:
        info = self.selected()
        if info is None or info.bundled or info.active or self.busy():
            return
        if confirm:
            answer = QMessageBox.question(
                self,
                "Delete a model version",
                f"Delete the retrained model {info.version}? Its files, and its embeddings "
                "and automatic playlists in this library, go (pinned or renamed playlists "
                "become your own). Your other playlists do not change.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        version, db, bridge = info.version, self.db_path, self._bridge
        self.status.setText(f"Deleting {version}…")

        def work() -> None:
            # lazy: app.models loads the analysis stage (about a second), in this worker
            from musicorg.app import models as modelstore

            try:
                model_registry.delete_version(version)
                with Catalogue(db) as cat:
                    stale = modelstore.forget_stale_versions(cat)
                bridge.deleted.emit(
                    f"Deleted model {version}." + (f" {stale.summary()}" if stale else "")
                )
            except Exception as exc:
                log.exception("deleting model %s failed", version)
                bridge.failed.emit(f"Could not delete {version}: {exc}")

        self._run("delete-model", work)

    def _on_deleted(self, summary: str) -> None:
        self._note = summary
        self.status.setText(summary)
        self.refresh()
