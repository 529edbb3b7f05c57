"""The window on a shared catalogue on a real PostgreSQL server (tests/pg.py): File → Open a
shared catalogue takes its URL, the table shows its tracks, and neither the title nor the
recent list shows the password."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from musicorg import settings as settings_mod
from musicorg.gui import recent
from musicorg.gui.mainwindow import MainWindow
from musicorg.ingest import scanner
from musicorg.store import library
from musicorg.store.db import Catalogue
from tests.conftest import audio_files


class _Asks:
    """QInputDialog as the test answers it: ``answer``, as if typed and confirmed."""

    answer = ""

    @classmethod
    def getText(cls, *_args: Any) -> tuple[str, bool]:  # Qt's name
        return cls.answer, True


def _file_action(window: MainWindow, text: str) -> Any:
    file_menu: Any = window.menuBar().actions()[0].menu()
    return next(a for a in file_menu.actions() if a.text() == text)


def _titles(window: MainWindow) -> set[str]:
    model = window.model
    column = next(
        c for c in range(model.columnCount()) if model.headerData(c, _horizontal()) == "Title"
    )
    return {str(model.index(r, column).data()) for r in range(model.rowCount())}


def _horizontal() -> Any:
    from PySide6.QtCore import Qt  # after the importorskip above

    return Qt.Orientation.Horizontal


def test_file_menu_opens_a_shared_catalogue(  # type: ignore[no-untyped-def]
    qtbot, window, pg_url, music, monkeypatch
) -> None:
    # The test server trusts its socket: a password in the URL is taken, and not needed.
    url = pg_url.replace("@/", ":s3cret@/", 1)
    with Catalogue(url) as cat:
        scanner.scan(cat, [music])
        titles = {t.title for t in library.tracks(cat) if t.title}
    n = len(audio_files())
    assert titles and library.track_count(cat) == n
    monkeypatch.setattr(recent, "QInputDialog", _Asks)
    monkeypatch.setattr(window.pipeline, "rescan", lambda: None)  # no stages: not the point
    # Not a URL: a word, and nothing opened.
    _Asks.answer = "/home/me/catalogue.sqlite"
    _file_action(window, "Open a shared catalogue (PostgreSQL)…").trigger()
    assert window.cat is None and "not a PostgreSQL URL" in window.message_label.text()
    _Asks.answer = url
    _file_action(window, "Open a shared catalogue (PostgreSQL)…").trigger()
    qtbot.waitUntil(lambda: window.idle() and window.model.rowCount() == n, timeout=60000)
    assert window.cat is not None and window.cat.server
    assert titles <= _titles(window)
    assert window.windowTitle() == "music — musicorg"
    assert "s3cret" not in window.about_info()["Library"]
    window.grab().save(str(Path("/tmp") / "musicorg-pg-gui.png"))
    # The recent list keeps the connection file (0600), and shows no password.
    (entry, *_rest) = settings_mod.load().recent_libraries
    assert entry == str(window.cat.path.absolute()) and "s3cret" not in entry
    sub = _file_action(window, "Recent libraries").menu()
    sub.aboutToShow.emit()
    (shown,) = [a for a in sub.actions() if a.text().startswith("&")]
    assert "s3cret" not in shown.text() + shown.toolTip() and ":***@" in shown.toolTip()
    # Closed, then reopened from the list: the same database.
    window.close_library()
    window.recent.open(entry)
    qtbot.waitUntil(lambda: window.idle() and window.model.rowCount() == n, timeout=60000)
    assert window.cat is not None and window.cat.url == url


def test_a_shared_catalogue_without_folders_is_named_by_its_database(
    pg_url: str, tmp_path: Path
) -> None:
    url = "postgresql://musicorg:s3cret@dbhost/records"
    assert recent.library_name([], url) == "records on dbhost"
    assert recent.library_name([], pg_url).endswith("(shared)")  # a socket, no host name
    with Catalogue(pg_url) as cat:
        assert recent.entry_name(str(cat.path), settings_mod.Settings()) == recent.library_name(
            [], pg_url
        )
