"""Render the app's main views offscreen to PNG files (for the docs and for looking at).

Runs the real window on the demo library (scan, analysis, playlists, map, in its own data
folders), then saves: the welcome page, the library with a track's details, playback with
its queue, an automatic playlist, "more like this", the map coloured by group, genre and
year, a map selection, a playlist's explanation, the map's words, the map coloured by a word
and by tempo, a question in words, a mix previewed on the map, "For you", the settings and
about dialogs.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--out docs/screenshots]
        [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--work", default=None, help="data folders (reused: the demo stays analysed)")
    ap.add_argument("--size", default="1400x860")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="musicorg-shots-"))
    for name in ("DATA", "CONFIG", "CACHE", "LOG"):
        os.environ[f"MUSICORG_{name}_DIR"] = str(work / name.lower())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.split("x"))

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("musicorg")
    from musicorg.gui.mainwindow import MainWindow
    from musicorg.gui.player import NullPlayer

    def settle(cond: Any = None, timeout: float = 900.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            app.processEvents()
            if (cond is None or cond()) and w.idle():
                break
            time.sleep(0.01)
        for _ in range(5):
            app.processEvents()

    def shot(name: str, widget: Any = None) -> None:
        app.processEvents()
        path = out / f"{name}.png"
        (widget or w).grab().save(str(path))
        print(path)

    w = MainWindow(player=NullPlayer(), audio_backend="null")  # plays to no speaker
    w.resize(width, height)
    w.show()
    settle()
    shot("welcome")

    done: list[str] = []
    w.pipeline_finished.connect(done.append)
    w.open_demo()
    settle(lambda: bool(done), 1800)
    print(f"pipeline: {done[0] if done else 'did not finish'}; {len(w.data.snap)} tracks")
    if not len(w.data.snap):
        return 1
    w.problems_dock.hide()

    # Library with a track that has lyrics selected.
    snap = w.data.snap
    with_lyrics = [int(snap.ids[r]) for r in range(len(snap)) if snap.has_lyrics[r]]
    first = with_lyrics[0] if with_lyrics else int(snap.ids[0])
    w.library.select_track_ids([first])
    settle(lambda: w.details.near.count() > 0, 60)
    shot("library")

    # Playing: the now-playing bar, the queue, the current row marked.
    w.playback.play_tracks([int(i) for i in snap.ids[:8]], start=0)
    settle(lambda: w.playback.position() >= 2.0, 60)
    w.playback.pause()
    settle()
    shot("now-playing")

    # An automatic playlist.
    autos = [p for p in w.data.playlists if p.kind == "auto"]
    if autos:
        w.tree.select_key(("auto", autos[0].id))
        settle()
        shot("playlist")

    # More like this.
    w.sidebar.show_library()
    w.library.select_track_ids([first])
    settle()
    w.details_dock.more_like_this([first], n=15)
    settle()
    shot("more-like-this")
    w.library.close_results()

    # The map in its three colourings, then a selection on it.
    w.tabs.setCurrentIndex(1)
    settle()
    m = w.map
    for mode in ("group", "genre", "year"):
        m.set_colour_mode(mode)
        settle()
        shot(f"map-{mode}")
    if m.point_count():
        m.set_colour_mode("group")
        xy = m.xy[m.rows]
        x0, x1 = float(xy[:, 0].min()), float(xy[:, 0].max())
        y0, y1 = float(xy[:, 1].min()), float(xy[:, 1].max())
        w.map.select_rect(x0, y0, x0 + (x1 - x0) * 0.4, y0 + (y1 - y0) * 0.5)
        w.tabs.setCurrentIndex(1)
        settle()
        shot("map-selection")

    discovery_shots(w, settle, shot)

    w.tabs.setCurrentIndex(0)
    dialog = w.open_settings()
    settle()
    shot("settings", dialog)
    dialog.reject()
    about = w.show_about()
    settle()
    shot("about", about)
    about.close()
    w.problems_dock.show()
    settle()
    shot("problems")

    # Model versions, after a one-epoch retraining on the demo.
    from musicorg.app import retrain

    assert w.cat is not None
    retrain.retrain(w.cat, retrain.RetrainOptions(epochs=1, device="cpu"))
    models = w.pipeline.open_models()
    assert models is not None
    settle(lambda: len(models.models) == 2 and not models.busy(), 120)
    models.table.selectRow(1)
    settle()
    shot("models", models)
    models.reject()
    w.close()
    return 0


def discovery_shots(w: Any, settle: Any, shot: Any) -> None:
    """A playlist's explanation, the map's words and its colourings by a word and by tempo,
    a question in words, a mix previewed on the map, and "For you" after a few plays."""
    from musicorg.store import plays

    snap = w.data.snap
    autos = [p for p in w.data.playlists if p.kind == "auto"]
    if autos:
        w.tabs.setCurrentIndex(0)
        w.tree.select_key(("auto", max(autos, key=lambda p: p.size).id))
        settle(lambda: bool(w.explanations.why), 60)
        shot("playlist-why")
    w.sidebar.show_library()
    w.tabs.setCurrentIndex(1)
    m = w.map
    m.set_colour_mode("group")
    settle()
    time.sleep(0.3)  # the labels are placed once the view is still
    settle()
    shot("map-words")
    for mode, word in (("word", "heard:electronic"), ("tempo", None)):
        m.set_colour_mode(mode, word)
        settle(lambda: m.scale is not None, 60)
        time.sleep(0.3)
        settle()
        shot(f"map-{'word' if word else mode}")
    m.set_colour_mode("group")
    w.tabs.setCurrentIndex(0)
    w.ask.field.setText("calm, not electronic, piano")
    w.ask.ask()
    settle(lambda: w.library.results is not None, 60)
    shot("ask")
    w.library.close_results()
    ids = [int(t) for t in snap.ids]
    if len(ids) > 30:
        w.mix.add(ids[:1])
        w.mix.add(ids[20:21], "−")
        w.mix.run()
        settle(lambda: w.library.results is not None, 60)
        w.tabs.setCurrentIndex(1)
        time.sleep(0.3)
        settle()
        shot("mix-preview")
        w.mix.clear()
        assert w.cat is not None
        now = time.time()
        for k, t in enumerate(ids[:6]):
            for _ in range(1 + k % 3):
                plays.record_play(w.cat, t, at=now - 86400 * (2 + k))
        plays.record_skip(w.cat, ids[30], at=now - 86400)
        w.tabs.setCurrentIndex(0)
        w.tree.setCurrentItem(w.tree.foryou_item)
        settle(lambda: w.library.results is not None, 60)
        shot("for-you")
        w.sidebar.show_library()
        settle()


if __name__ == "__main__":
    sys.exit(main())
