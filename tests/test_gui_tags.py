"""The details pane shows the tags heard in a track's audio (real widgets, offscreen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from musicorg.db import Catalogue
from musicorg.gui.mainwindow import MainWindow
from musicorg.gui.player import NullPlayer

from .latent_fixtures import add_tracks
from .tag_fixtures import probs, store_tags


@pytest.fixture
def window(qtbot):  # type: ignore[no-untyped-def]
    w = MainWindow(player=NullPlayer())
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def test_details_show_the_top_tags(qtbot, window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "tags.sqlite"
    cat = Catalogue(path)
    rng = np.random.default_rng(0)
    ids = add_tracks(
        cat,
        rng.normal(0, 1, (6, 8)).astype(np.float32),
        keys=[f"k{i}" for i in range(6)],
        paths=[f"/nowhere/music/track{i}.flac" for i in range(6)],
        columns={"genre": ["Jazz"] * 6},
    )
    store_tags(
        cat,
        {
            "k0": probs(jazz=0.62, instrumental=0.41, Mellow=0.33),
            "k1": probs(),  # tagged, but nothing reaches its threshold
            "k2": None,  # analysed before the tagger
        },
    )
    cat.close()
    window.open_library(path, [], rescan=False)
    qtbot.waitUntil(window.idle, timeout=60000)

    def details(track_id: int) -> str:
        window.select_track_ids([track_id])
        qtbot.waitUntil(lambda: window.details.title.text() != "No track selected", timeout=5000)
        return str(window.details.text.toPlainText()).replace("\u00a0", " ")

    text = details(ids[0])
    assert "Sounds like" in text
    assert "Jazz 0.62 · instrumental 0.41 · mellow 0.33" in text
    for other in ids[1:4]:
        assert "Sounds like" not in details(other)
