"""Shared fixtures: every test runs with its own data, config, cache and log dirs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from musicorg.store.db import Catalogue

DATA = Path(__file__).parent / "data"
AUDIO_SUFFIXES = {".mp3", ".flac", ".ogg", ".opus", ".m4a", ".wav", ".aiff", ".wma"}

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True, scope="session")
def app_listeners() -> None:
    """The listeners both front ends install (the playlist mirror follows every change)."""
    from musicorg.app import listeners

    listeners.install()


@pytest.fixture(autouse=True)
def isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("home")
    for name in ("DATA", "CONFIG", "CACHE", "LOG"):
        monkeypatch.setenv(f"MUSICORG_{name}_DIR", str(home / name.lower()))
    for var in ("MUSICORG_DEVICE", "MUSICORG_GENIUS_TOKEN", "MUSICORG_CLUSTER_METHOD"):
        monkeypatch.delenv(var, raising=False)
    return home


def audio_files() -> list[Path]:
    return sorted(p for p in DATA.iterdir() if p.suffix in AUDIO_SUFFIXES)


@pytest.fixture
def music(tmp_path: Path) -> Path:
    """A small real library: every test-data file, in two sub-folders."""
    root = tmp_path / "music"
    for i, src in enumerate(audio_files()):
        dest = root / ("a" if i % 2 else "b") / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
    return root


@pytest.fixture
def cat(tmp_path: Path) -> Iterator[Catalogue]:
    """An empty catalogue in a real SQLite file."""
    c = Catalogue(tmp_path / "cat.sqlite")
    yield c
    c.close()
