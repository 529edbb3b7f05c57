"""What the window's load does off the UI thread besides reading the library."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from musicorg.gui import librarydata
from musicorg.gui.snapshot import Snapshot
from musicorg.store.db import Catalogue
from musicorg.store.library import TrackColumns

CODE = """
import sys
from musicorg.gui.librarydata import load_library
from musicorg.store.db import Catalogue
assert "musicorg.gui.mapview" not in sys.modules, "imported at start-up"
cat = Catalogue(sys.argv[1])
load_library(cat)
print("scipy.spatial" in sys.modules, "musicorg.gui.mapview" in sys.modules)
"""


def _run_fresh(code: str, tmp_path: Path) -> list[str]:
    """What ``code`` prints, run in a fresh interpreter on an empty catalogue (its argv[1])."""
    db = tmp_path / "c.sqlite"
    Catalogue(db).close()
    out = subprocess.run(
        [sys.executable, "-c", code, str(db)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    return out.stdout.split()


def test_the_load_imports_the_maps_modules(tmp_path: Path) -> None:
    """The map's modules (pyqtgraph, scipy's k-d tree: 0.6-0.7 s) are imported by the load,
    in its worker, not on the UI thread when the map is first shown."""
    assert _run_fresh(CODE, tmp_path) == ["True", "True"]


OPEN = """
import sys
from musicorg.gui import opening
assert "musicorg.app.playback" not in sys.modules, "imported before"
cat = opening.open_job(sys.argv[1], lambda *_a: None, lambda: False)
print(type(cat).__name__, "musicorg.app.playback" in sys.modules, "miniaudio" in sys.modules)
cat.close()
"""


def test_the_open_job_imports_the_audio_stack(tmp_path: Path) -> None:
    """The player's modules (the audio stack: ~40 ms of module code) are imported by the job
    that opens the catalogue, in its worker: the window makes its playback session as soon
    as the catalogue is open, on the UI thread."""
    assert _run_fresh(OPEN, tmp_path) == ["Catalogue", "True", "True"]


def test_map_coordinates_per_row_a_slice_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    snap = Snapshot.build(
        TrackColumns(
            ids=[2, 3, 5, 7, 11, 13, 17],
            content_keys=list("abcdefg"),
            paths=[b"/m/x"] * 7,
            missing=[False] * 7,
            displays=["/m/x"] * 7,
            has_lyrics=[False] * 7,
            titles=["t"] * 7,
            artists=["a"] * 7,
            albums=["b"] * 7,
            genres=["g"] * 7,
            years=[1] * 7,
            durations=[1.0] * 7,
            formats=["flac"] * 7,
        )
    )
    ids = [17, 4, 2, 11, 5, 99, 13]  # 4 and 99 are not in the snapshot
    xy = np.arange(14, dtype=np.float32).reshape(7, 2) / 3
    whole = librarydata.xy_per_row(snap, ids, xy)
    monkeypatch.setattr(librarydata, "_SLICE", 2)
    sliced = librarydata.xy_per_row(snap, ids, xy)
    assert sliced is not None and whole is not None
    assert np.array_equal(sliced, whole, equal_nan=True)
    want = np.full((7, 2), np.nan)
    for i, t in enumerate(ids):
        if t in snap.ids:
            want[snap.ids.tolist().index(t)] = xy[i]
    assert np.array_equal(sliced, want, equal_nan=True)
