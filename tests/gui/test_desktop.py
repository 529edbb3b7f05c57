"""What users of desktop apps expect beyond the list (#19, item 4): the music folders watched
while the app runs, the system's dark palette followed, a crisp window at 200 % scaling, and
keyboard navigation with a name for every control. Each test fails on the code before."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QWidget

from musicorg import settings as settings_mod
from musicorg.app import actions
from musicorg.gui import accessibility, explanations, theme
from musicorg.gui.colourby import ColourBar
from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.shortcuts import show_shortcuts
from musicorg.gui.watcher import DEBOUNCE_MS, FolderWatcher, list_folders, recently_written
from musicorg.store import library
from tests.conftest import audio_files
from tests.gui.test_gui import open_synthetic

ROOT = Path(__file__).resolve().parents[2]


def spread(n: int) -> np.ndarray:
    """Map coordinates as the map stage gives them: three clusters."""
    return np.array([(float(i % 3 * 10 + i % 5), float(i % 7 - i % 3 * 5)) for i in range(n)])


def open_with_map(qtbot, window: MainWindow, tmp_path: Path, monkeypatch, n: int = 30) -> None:  # type: ignore[no-untyped-def]
    """A synthetic library with its map (the map stage itself has tests of its own)."""
    xy = spread(n)
    monkeypatch.setattr(
        actions, "map_coordinates", lambda cat, *_a: (list(library.track_columns(cat).ids), xy)
    )
    open_synthetic(qtbot, window, tmp_path, n)


# --- the music folders, watched ---------------------------------------------------------------


def no_analysis(window: MainWindow) -> None:
    """Cancel each analysis the window starts (the analysis has tests of its own; here only
    the scan matters)."""

    def added(job) -> None:  # type: ignore[no-untyped-def]
        if job.name == "analyse":
            job.cancel()

    window.runner.job_added.connect(added)


@pytest.fixture
def small_music(tmp_path: Path) -> Path:
    """Two real audio files in two sub-folders."""
    root = tmp_path / "music"
    for i, src in enumerate(audio_files()[:2]):
        (root / f"album{i}").mkdir(parents=True)
        shutil.copy2(src, root / f"album{i}" / src.name)
    return root


def open_folder(qtbot, window: MainWindow, db: Path, music: Path) -> None:  # type: ignore[no-untyped-def]
    no_analysis(window)
    with qtbot.waitSignal(window.pipeline_finished, timeout=240000):
        window.open_library(db, [str(music)])
    qtbot.waitUntil(lambda: window.model.rowCount() == 2 and window.idle(), timeout=20000)


def test_new_and_deleted_files_in_the_watched_folders_show_in_the_table(  # type: ignore[no-untyped-def]
    qtbot, window, small_music, tmp_path
):
    """Before: nothing watched the folders; a copied file showed only after F5."""
    open_folder(qtbot, window, tmp_path / "cat.sqlite", small_music)
    watched = window.watch.watcher
    qtbot.waitUntil(lambda: len(watched.folders()) == 3, timeout=20000)  # the root, 2 albums
    # A new album: a new folder with a file in it.
    src = audio_files()[2]
    (small_music / "new album").mkdir()
    shutil.copy2(src, small_music / "new album" / src.name)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=90000)
    titles = {window.data.snap.cols["path"][r] for r in range(len(window.data.snap))}
    assert any(str(t).endswith(src.name) for t in titles)
    # Its folder is watched now too.
    qtbot.waitUntil(lambda: str(small_music / "new album") in watched.folders(), timeout=20000)
    qtbot.waitUntil(window.idle, timeout=60000)
    # A deleted file: its track is marked missing (never dropped).
    next(iter((small_music / "album0").iterdir())).unlink()
    qtbot.waitUntil(lambda: window.data.stats.get("missing") == 1, timeout=90000)
    qtbot.waitUntil(window.idle, timeout=60000)

    # The setting turns it off, from the settings dialog; it is saved.
    dialog = window.open_settings()
    assert dialog.watch.isChecked() and dialog.watch_note.text()
    dialog.watch.setChecked(False)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert watched.folders() == []
    assert settings_mod.load().watch_folders is False


def test_with_watching_off_a_new_file_changes_nothing(qtbot, window, small_music, tmp_path):  # type: ignore[no-untyped-def]
    window.settings.watch_folders = False
    open_folder(qtbot, window, tmp_path / "cat.sqlite", small_music)
    src = audio_files()[2]
    shutil.copy2(src, small_music / "album0" / src.name)
    qtbot.wait(DEBOUNCE_MS + 2000)  # longer than the watch waits before it reads a change
    assert window.watch.watcher.folders() == []
    assert window.idle() and window.model.rowCount() == 2


def test_the_watcher_waits_for_copies_and_says_when_it_cannot_watch_everything(  # type: ignore[no-untyped-def]
    qtbot, tmp_path
):
    for name in ("a/1", "a/2", "b", ".hidden"):
        (tmp_path / name).mkdir(parents=True)
    folders, more = list_folders([str(tmp_path)], limit=10)
    assert folders[0] == str(tmp_path) and not more and len(folders) == 5  # no hidden one
    assert list_folders([str(tmp_path)], limit=2) == ([str(tmp_path), str(tmp_path / "a")], True)
    # A file written just now may still be being copied; one with an older time is done.
    song = tmp_path / "b" / "song.flac"
    song.write_bytes(b"x")
    assert recently_written([str(tmp_path / "b")])
    old = time.time() - 60
    os.utime(song, (old, old))
    assert not recently_written([str(tmp_path / "b")])

    watcher = FolderWatcher(debounce_ms=100, limit=2)
    with qtbot.waitSignal(watcher.message, timeout=10000) as said:
        watcher.watch([str(tmp_path)])
    assert "first 2 of your music folders" in said.args[0]
    with qtbot.waitSignal(watcher.changed, timeout=20000):
        shutil.copy2(song, tmp_path / "a" / "song.flac")
    watcher.stop()
    assert watcher.folders() == []


# --- the dark palette -------------------------------------------------------------------------


@pytest.fixture
def dark(qapp):  # type: ignore[no-untyped-def]
    before = QPalette(qapp.palette())
    yield lambda: qapp.setPalette(theme.dark_palette())
    qapp.setPalette(before)


def drawn(widget: QWidget) -> QImage:
    widget.ensurePolished()
    return widget.grab().toImage()


def middle(image: QImage) -> QColor:
    return image.pixelColor(image.width() // 2, image.height() // 2)


def corner(image: QImage) -> QColor:
    return image.pixelColor(3, 3)


def text_colour(widget: QWidget) -> QColor:
    widget.ensurePolished()
    return widget.palette().color(widget.foregroundRole())


def test_the_window_follows_a_dark_palette(qtbot, window, tmp_path, dark):  # type: ignore[no-untyped-def]
    """Before: grey text (#444, #666) on the dark window, a light grey cover square, a white
    colour bar and light bars in the playlists' explanations."""
    open_synthetic(qtbot, window, tmp_path, 30)
    dark()  # the desktop turns dark while the app runs
    qtbot.wait(50)
    assert theme.is_dark()
    background = theme.palette().color(QPalette.ColorRole.Window)
    window.flash("Something to say")
    for label in (window.message_label, window.playing.bar.album):
        assert theme.contrast(text_colour(label), background) >= 4.5
    cover = window.playing.bar.cover
    assert theme.luminance(corner(drawn(cover))) < 0.1
    bar = ColourBar()
    qtbot.addWidget(bar)
    bar.resize(130, 300)
    assert theme.luminance(corner(drawn(bar))) < 0.1
    why = explanations.why_html(
        {"words": [{"word": "calm", "share": 0.5, "library_share": 0.2}], "size": 3}
    )
    colours = re.findall(r"(?:bgcolor='|color:)(#[0-9a-f]{6})", why)
    assert len(colours) >= 3
    for colour in colours:
        if colour != explanations.BAR_COLOUR:  # the filled part: the same on both
            assert theme.luminance(QColor(colour)) < 0.5, colour
    # And back to light: the colours follow again.
    QApplication.setPalette(QApplication.style().standardPalette())
    qtbot.wait(50)
    assert not theme.is_dark()
    light = theme.palette().color(QPalette.ColorRole.Window)
    assert theme.contrast(text_colour(window.message_label), light) >= 4.5
    assert theme.luminance(corner(drawn(cover))) > 0.5


def test_the_map_follows_a_dark_palette(qtbot, window, tmp_path, dark, monkeypatch):  # type: ignore[no-untyped-def]
    """Before: a white plot and white legend on a dark desktop."""
    dark()
    open_with_map(qtbot, window, tmp_path, monkeypatch)
    window.tabs.setCurrentIndex(1)
    view = window.map_panel.view
    qtbot.waitUntil(lambda: view.point_count() > 0, timeout=20000)
    assert theme.luminance(view.plot.backgroundBrush().color()) < 0.1
    assert theme.luminance(middle(drawn(view.legend))) < 0.1


def test_a_dark_system_scheme_gets_a_dark_palette(qapp, dark):  # type: ignore[no-untyped-def]
    """Where the platform says "dark" and hands Qt a light palette, the app turns dark."""

    class Hints:
        def __init__(self, scheme: Qt.ColorScheme) -> None:
            self.scheme = scheme

        def colorScheme(self) -> Qt.ColorScheme:
            return self.scheme

    class App:
        def __init__(self, scheme: Qt.ColorScheme) -> None:
            self.hints, self.real = Hints(scheme), qapp

        def styleHints(self) -> Hints:
            return self.hints

        def __getattr__(self, name: str) -> object:
            return getattr(self.real, name)

    QApplication.setPalette(QApplication.style().standardPalette())
    theme.follow_scheme(App(Qt.ColorScheme.Dark))  # type: ignore[arg-type]
    assert theme.is_dark(qapp.palette())
    theme.follow_scheme(App(Qt.ColorScheme.Light))  # type: ignore[arg-type]
    assert not theme.is_dark(qapp.palette())


# --- 200 % scaling ----------------------------------------------------------------------------

SCALED = r"""
import json, sys, time
from pathlib import Path
from musicorg.gui.app import _app
from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.player import NullPlayer
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QWidget
from musicorg.app import actions
from musicorg.store import library
from tests.gui.test_desktop import spread
from tests.gui.test_gui import synthetic_library

out = Path(sys.argv[1])
xy = spread(40)
actions.map_coordinates = lambda cat, *_a: (list(library.track_columns(cat).ids), xy)
app = _app()
cat, _ids = synthetic_library(out / "syn.sqlite", 40)
cat.close()
window = MainWindow(player=NullPlayer(), audio_backend="null")
window.show()
window.open_library(out / "syn.sqlite", [], rescan=False)
end = time.monotonic() + 60
while (len(window.data.snap) < 40 or not window.idle()) and time.monotonic() < end:
    app.processEvents()
    time.sleep(0.01)
window.tabs.setCurrentIndex(1)
for _ in range(20):
    app.processEvents()
    time.sleep(0.02)
bar = window.toolbar
icons = []
for action in bar.actions():
    if action.icon().isNull() and action.text():
        icons.append({"text": action.text(), "size": None})
    elif not action.icon().isNull():
        pixmap = action.icon().pixmap(bar.iconSize(), window.devicePixelRatio())
        icons.append({"text": action.text(), "size": [pixmap.width(), pixmap.height()],
                      "logical": [bar.iconSize().width(), bar.iconSize().height()]})
clipped = []
for w in window.findChildren(QWidget):
    if not isinstance(w, (QAbstractButton, QComboBox, QLineEdit)) or not w.isVisible():
        continue
    if isinstance(w.parentWidget(), QLineEdit):  # its clear button: the field sizes it
        continue
    hint = w.minimumSizeHint()
    if w.height() < hint.height() or w.width() < min(hint.width(), 40):
        clipped.append(
            f"{type(w).__name__} {w.accessibleName() or w.objectName()} in "
            f"{type(w.parentWidget()).__name__}: {w.width()}x{w.height()}, "
            f"needs {hint.width()}x{hint.height()}"
        )
shot = window.grab()
shot.save(str(out / "scaled.png"))
print(json.dumps({
    "dpr": window.devicePixelRatio(), "icons": icons, "clipped": clipped,
    "shot": [shot.width(), shot.height()], "window": [window.width(), window.height()],
    "map_points": window.map.point_count(),
}))
window.close()
"""


def test_the_window_is_crisp_at_200_percent(tmp_path: Path) -> None:
    """Before: the toolbar had no icons at all (text only), and no icon was drawn for 2x."""
    env = dict(os.environ, QT_SCALE_FACTOR="2", QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    run = subprocess.run(
        [sys.executable, "-c", SCALED, str(tmp_path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["dpr"] == 2
    assert result["shot"] == [2 * result["window"][0], 2 * result["window"][1]]
    assert result["map_points"] == 40
    shown = [i for i in result["icons"] if i["text"] in ("Rescan", "Export playlist as M3U8…")]
    assert len(shown) == 2
    for icon in shown:
        assert icon["size"] == [2 * icon["logical"][0], 2 * icon["logical"][1]], icon
    assert result["clipped"] == []
    assert (tmp_path / "scaled.png").stat().st_size > 10_000


# --- keyboard and screen readers --------------------------------------------------------------


def test_every_control_has_a_name_in_the_window_and_its_dialogs(  # type: ignore[no-untyped-def]
    qtbot, window, tmp_path, monkeypatch
):
    """Before: icon-only buttons (play, next), the search fields, the lists and the combo
    boxes had no name a screen reader could say."""
    open_with_map(qtbot, window, tmp_path, monkeypatch)
    window.tabs.setCurrentIndex(1)  # the map builds its controls when first shown
    qtbot.waitUntil(lambda: window.map_panel.view.point_count() > 0, timeout=20000)
    window.tabs.setCurrentIndex(0)
    assert [describe(w) for w in accessibility.unnamed(window)] == []
    search = window.library.search
    assert accessibility.spoken_name(search) == accessibility.plain(search.placeholderText())
    play = window.playing.bar.play_button
    assert accessibility.spoken_name(play).startswith("Play")
    play.setToolTip("Pause (Space)")  # a name taken from a tooltip follows it
    assert accessibility.spoken_name(play) == "Pause (Space)"
    assert accessibility.spoken_name(window.map_panel.view.colour_box) == "Colour by"

    for open_dialog in (
        window.open_settings,
        window.show_about,
        lambda: show_shortcuts(window),
        window.pipeline.open_models,
    ):
        dialog = open_dialog()
        assert isinstance(dialog, QDialog)
        qtbot.waitUntil(dialog.isVisible, timeout=5000)
        dialog.activateWindow()
        qtbot.waitUntil(lambda d=dialog: d.isActiveWindow() or d.focusWidget() is not None)
        qtbot.waitUntil(lambda d=dialog: not accessibility.unnamed(d), timeout=5000)
        dialog.reject()


def describe(w: QWidget) -> str:
    return f"{type(w).__name__} in {type(w.parentWidget()).__name__}"


def area_of(window: MainWindow, w: QWidget | None) -> str:
    for name in ("sidebar", "toolbar", "library", "map_panel", "details_dock"):
        area = getattr(window, name)
        if w is not None and (area is w or area.isAncestorOf(w)):
            return name
    return "other"


def tab_walk(qtbot, window: MainWindow, presses: int = 60) -> list[str]:  # type: ignore[no-untyped-def]
    """The areas Tab visits from the playlists, each run of one area counted once, until the
    focus comes back to the playlists."""
    window.activateWindow()
    window.tree.setFocus()
    qtbot.waitUntil(window.tree.hasFocus, timeout=5000)
    areas = ["sidebar"]
    for _ in range(presses):
        focused = QApplication.focusWidget()
        assert focused is not None
        qtbot.keyClick(focused, Qt.Key.Key_Tab)
        now = QApplication.focusWidget()
        if now is window.tree:
            areas.append("back to the start")
            break
        area = area_of(window, now)
        if area != areas[-1]:
            areas.append(area)
    return areas


def test_tab_moves_between_the_main_areas(qtbot, window, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Before: Tab went from cell to cell inside the table and never left it."""
    open_with_map(qtbot, window, tmp_path, monkeypatch)
    window.library.select_track_ids([int(window.data.snap.ids[0])])
    walk = [a for a in tab_walk(qtbot, window) if a != "other"]
    assert walk == ["sidebar", "toolbar", "library", "details_dock", "back to the start"]
    window.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: window.map_panel.view.point_count() > 0, timeout=20000)
    qtbot.waitUntil(window.map_panel.view.isVisible, timeout=5000)
    walk = [a for a in tab_walk(qtbot, window) if a != "other"]
    assert walk == ["sidebar", "toolbar", "map_panel", "details_dock", "back to the start"]
