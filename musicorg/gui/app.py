"""Application start-up: the main window, and the offscreen smoke run.

``musicorg`` with no library shows the welcome page; afterwards it reopens the last library.
``musicorg --smoke [--demo]`` starts the real window offscreen, runs every stage this build
has (scan, analyse, playlists, map), saves a screenshot and exits 0, or non-zero with the reason.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from musicorg import paths
from musicorg.app import listeners
from musicorg.gui import gcpolicy, startup, theme
from musicorg.gui.mainwindow import MainWindow
from musicorg.store.db import is_server_url

log = logging.getLogger(__name__)

SMOKE_TIMEOUT_S = 900


def _app() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("musicorg")
    app.setOrganizationName("musicorg")
    app.setWindowIcon(theme.app_icon())
    theme.install(app)  # a dark desktop gets a dark window
    return app


def run_gui(
    *,
    demo: bool = False,
    db: str | None = None,
    smoke: bool = False,
    screenshot: str | None = None,
) -> int:
    if smoke:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    problem = startup.window_problem()
    if problem is not None:  # Qt would abort the process with a raw plugin error instead
        log.error("%s", problem)
        print(problem, file=sys.stderr)
        return 1
    started = time.monotonic()
    app = _app()
    listeners.install()
    window = MainWindow()
    window.show()
    log.info("window shown in %.2f s", time.monotonic() - started)
    gcpolicy.install(window, window.idle)
    if smoke:
        return _smoke(app, window, demo=demo, db=db, screenshot=screenshot)
    if db:
        window.open_library(_location(db), None)  # its own folders, never the saved ones
    elif demo:
        window.open_demo()
    else:
        window.restore_last()
    return int(app.exec())


def _location(db: str) -> Path | str:
    """``--db``: a catalogue file, or a shared catalogue's ``postgresql://`` URL as it is."""
    return db if is_server_url(db) else Path(db)


def _smoke(
    app: QApplication, window: MainWindow, *, demo: bool, db: str | None, screenshot: str | None
) -> int:
    out = Path(screenshot) if screenshot else paths.cache_dir() / "smoke.png"
    result: dict[str, object] = {"code": 1, "reason": "timed out"}

    def finish(outcome: str) -> None:
        # Let the last reload land before the picture is taken.
        QTimer.singleShot(0, lambda: window.reload())
        window.library_loaded.connect(lambda: QTimer.singleShot(200, lambda: shoot(outcome)))

    def shoot(outcome: str) -> None:
        if result.get("done"):
            return
        result["done"] = True
        n = len(window.data.snap)
        points = window.map.point_count()
        if points:
            window.tabs.setCurrentIndex(1)
            app.processEvents()
        out.parent.mkdir(parents=True, exist_ok=True)
        saved = window.grab().save(str(out))
        reason = ""
        if outcome != "ok":
            reason = outcome
        elif not n:
            reason = "no tracks were catalogued"
        elif not saved:
            reason = f"could not save the screenshot to {out}"
        result["code"] = 1 if reason else 0
        result["reason"] = reason
        print(
            f"smoke: {n} tracks, {len(window.data.playlists)} playlists, {points} map points, "
            f"{window.problems.count()} problems; screenshot {out}"
        )
        app.quit()

    window.pipeline_finished.connect(finish)
    if db:
        window.open_library(_location(db), None)  # its own folders, never the saved ones
    elif demo or not window.restore_last():
        window.open_demo()
    QTimer.singleShot(SMOKE_TIMEOUT_S * 1000, app.quit)
    app.exec()
    if result["code"]:
        print(f"smoke failed: {result['reason']}", file=sys.stderr)
    code = result["code"]
    return code if isinstance(code, int) else 1
