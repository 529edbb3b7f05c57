"""What the window's load does off the UI thread besides reading the library."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from musicorg.store.db import Catalogue

CODE = """
import sys
from musicorg.gui.librarydata import load_library
from musicorg.store.db import Catalogue
assert "musicorg.gui.mapview" not in sys.modules, "imported at start-up"
cat = Catalogue(sys.argv[1])
load_library(cat)
print("scipy.spatial" in sys.modules, "musicorg.gui.mapview" in sys.modules)
"""


def test_the_load_imports_the_maps_modules(tmp_path: Path) -> None:
    """The map's modules (pyqtgraph, scipy's k-d tree: 0.6-0.7 s) are imported by the load,
    in its worker, not on the UI thread when the map is first shown."""
    db = tmp_path / "c.sqlite"
    Catalogue(db).close()
    out = subprocess.run(
        [sys.executable, "-c", CODE, str(db)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.stdout.split() == ["True", "True"]
