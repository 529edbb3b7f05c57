"""Shared fixtures: every test runs with its own data, config, cache and log dirs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from musicorg.store.db import Catalogue
from tests import pg
from tests.pg import pg_server, pg_url  # noqa: F401 - fixtures, for every test folder

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
def backend() -> str:
    """Where ``cat`` lives: ``"sqlite"``; a test marked ``both_catalogues`` runs once more
    with ``"postgresql"``: a new database on a real PostgreSQL server (tests/pg.py)."""
    return "sqlite"


@pytest.fixture
def cat(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalogue]:
    """An empty catalogue in a real SQLite file (or on PostgreSQL: see ``backend``)."""
    c = pg.new_catalogue(backend, request, tmp_path)
    yield c
    c.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{pg.BOTH}: its `cat` runs on SQLite and PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A ``both_catalogues`` test runs on each kind of catalogue: ``[sqlite]``, ``[postgresql]``."""
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker(pg.BOTH):
        metafunc.parametrize("backend", pg.BACKENDS)
