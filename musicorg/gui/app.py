"""Application start-up: the main window over a catalogue, opened on the demo library when the
user has not chosen a folder yet.

Scanning runs in a worker thread; the UI thread only receives its results through signals.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

from musicorg import paths
from musicorg import settings as settings_mod

log = logging.getLogger(__name__)


def run_gui(*, demo: bool = False, db: str | None = None, smoke: bool = False) -> int:
    if smoke:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QObject, Qt, QTimer, Signal
    from PySide6.QtWidgets import (
        QApplication,
        QLabel,
        QMainWindow,
        QTableWidget,
        QTableWidgetItem,
        QVBoxLayout,
        QWidget,
    )

    from musicorg import library, scanner
    from musicorg.db import Catalogue

    settings = settings_mod.load()
    use_demo = demo or (db is None and not settings.music_folders)
    db_path = Path(db) if db else (paths.demo_db_path() if use_demo else paths.default_db_path())
    folders = [str(paths.demo_dir())] if use_demo else settings.music_folders

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("musicorg")

    class Bridge(QObject):
        scanned = Signal(object, str)

    bridge = Bridge()
    window = QMainWindow()
    window.setWindowTitle("musicorg — demo library" if use_demo else "musicorg")
    central = QWidget()
    layout = QVBoxLayout(central)
    status = QLabel("Scanning…")
    table = QTableWidget(0, 5)
    table.setHorizontalHeaderLabels(["Title", "Artist", "Album", "Genre", "Year"])
    table.horizontalHeader().setStretchLastSection(True)
    table.setSortingEnabled(True)
    layout.addWidget(status)
    layout.addWidget(table)
    window.setCentralWidget(central)
    window.resize(1100, 700)
    result: dict[str, Any] = {"code": 0}

    def work() -> None:
        try:
            with Catalogue(db_path) as cat:
                report = scanner.scan(cat, folders) if folders else None
                rows = library.tracks(cat)
            bridge.scanned.emit(rows, report.summary() if report else "No music folder yet.")
        except Exception as exc:
            log.exception("scan failed")
            bridge.scanned.emit(None, f"Scan failed: {exc}")

    def show_rows(rows: list[library.TrackRow] | None, text: str) -> None:
        status.setText(f"{len(rows or [])} tracks — {text}")
        table.setSortingEnabled(False)
        table.setRowCount(len(rows or []))
        for i, r in enumerate(rows or []):
            values = [r.title or Path(r.path).stem, r.artist, r.album, r.genre, r.year]
            for j, v in enumerate(values):
                table.setItem(i, j, QTableWidgetItem("" if v is None else str(v)))
        table.setSortingEnabled(True)
        table.resizeColumnsToContents()
        if smoke:
            out = paths.cache_dir() / "smoke.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            ok = window.grab().save(str(out))
            print(f"smoke: {len(rows or [])} tracks; screenshot {out}")
            result["code"] = 0 if ok and rows else 1
            QTimer.singleShot(0, app.quit)

    bridge.scanned.connect(show_rows, Qt.ConnectionType.QueuedConnection)
    window.show()
    threading.Thread(target=work, name="scan", daemon=True).start()
    app.exec()
    return int(result["code"])
