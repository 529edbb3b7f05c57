"""The similar, path, map, export and import commands, in-process."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from musicorg.cli import main
from musicorg.store import userlists
from musicorg.store.db import Catalogue
from tests.latent_fixtures import add_tracks


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "cat.sqlite"
    cat = Catalogue(path)
    v = np.zeros((40, 8), np.float32)
    v[:, 0] = np.arange(40)
    add_tracks(cat, v, artists=[f"Band {i // 2}" for i in range(40)])
    cat.close()
    return str(path)


def test_similar_and_path(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    seed = "/music/track000010.flac"
    assert main(["--db", db, "similar", seed, "-n", "5", "--json", "--save", "Like ten"]) == 0
    out = json.loads(capsys.readouterr().out)
    paths = [t["path"] for t in out["tracks"]]
    assert len(paths) == 5 and seed not in paths and out["saved"]["name"] == "Like ten"
    artists = [t["artist"] for t in out["tracks"]]
    assert all(a != b for a, b in itertools.pairwise(artists))
    assert main(["--db", db, "similar", seed, "/music/track000011.flac", "-n", "3"]) == 0
    text = capsys.readouterr().out
    assert "3 tracks like the seeds" in text and "track000011" not in text.split(":", 1)[1]
    assert main(["--db", db, "similar", "/nope.flac"]) == 1
    assert "not in the catalogue" in capsys.readouterr().err

    a, b = "/music/track000002.flac", "/music/track000030.flac"
    assert main(["--db", db, "path", a, b, "-n", "8", "--save", "A to B"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Bound: every step is within r = ") and "Saved the playlist" in text
    assert main(["--db", db, "path", a, b, "-n", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tracks"][0]["path"] == a and out["tracks"][-1]["path"] == b
    assert len(out["tracks"]) == 8 and out["radius"] >= 0
    cat = Catalogue(db)
    names = [p.name for p in userlists.playlists(cat, "user")]
    assert names == ["Like ten", "A to B"]
    cat.close()


def test_map_export_import(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", db, "-q", "map"]) == 0
    assert "PCA map of 40 tracks" in capsys.readouterr().out
    assert main(["--db", db, "-q", "map", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["placed"] == 0

    cat = Catalogue(db)
    userlists.create(cat, "Mine", [1, 2, 3])
    cat.close()
    out = tmp_path / "out"
    assert main(["--db", db, "export", str(out), "--playlist", "Mine"]) == 0
    assert "Wrote 1 playlist." in capsys.readouterr().out
    lines = (out / "Mine.m3u8").read_text("utf-8").splitlines()
    assert lines[:3] == ["#EXTM3U", "#PLAYLIST:Mine", "#EXTINF:100,Band 0 - Title 0"]
    assert main(["--db", db, "export", str(out), "--playlist", "Nope"]) == 1
    capsys.readouterr()

    (out / "Mine.m3u8").write_text(
        (out / "Mine.m3u8").read_text("utf-8") + "/not/there.flac\n", "utf-8"
    )
    assert main(["--db", db, "import", str(out / "Mine.m3u8"), "--name", "Back"]) == 0
    text = capsys.readouterr().out
    assert "Imported 3 tracks into the playlist 'Back'" in text
    assert "not found (line 9): /not/there.flac" in text
    cat = Catalogue(db)
    back = userlists.find(cat, "Back")
    assert back is not None
    assert [i.track_id for i in userlists.items(cat, back.id)] == [1, 2, 3]
    cat.close()


def test_every_cli_module_imports_nothing_heavy() -> None:
    """`musicorg --help` and start-up stay light: the stages load only when a command runs."""
    code = (
        "import importlib, pkgutil, sys, musicorg.cli\n"
        "names = [m.name for m in pkgutil.iter_modules(musicorg.cli.__path__) "
        "if m.name != '__main__']\n"
        "assert {'common', 'catalogue', 'analyse', 'models'} <= set(names), names\n"
        "for name in names:\n"
        "    importlib.import_module('musicorg.cli.' + name)\n"
        "heavy = {'numpy', 'torch', 'scipy', 'librosa', 'sklearn', 'PySide6', 'pyqtgraph'}\n"
        "loaded = {m.split('.')[0] for m in sys.modules} & heavy\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_core_modules_import_no_qt_torch_or_umap() -> None:
    code = (
        "import sys, musicorg.organise.similar, musicorg.organise.songpath, "
        "musicorg.organise.mapping, musicorg.io.m3u, "
        "musicorg.store.userlists, musicorg.cli\n"
        "heavy = {m.split('.')[0] for m in sys.modules} & {'torch', 'PySide6', 'umap', 'numba'}\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
