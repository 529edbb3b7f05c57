"""The PostgreSQL server of the tests: one per session, started by scripts/pg_server.py (as
an unprivileged user when we are root, in a temporary folder, on a Unix socket), and a new
database for each test that asks for one.

Without PostgreSQL's binaries (Debian's ``postgresql``) or psycopg, the tests that need it are
skipped; with ``MUSICORG_REQUIRE_PG=1`` (``.ci/run`` sets it) they fail instead.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from musicorg.store.db import Catalogue

SCRIPT = Path(__file__).parent.parent / "scripts" / "pg_server.py"
#: The marker of a test module or test whose ``cat`` runs on SQLite and on PostgreSQL.
BOTH = "both_catalogues"
#: The two kinds of catalogue a ``BOTH`` test gets, as its ``cat`` fixture's parameter.
BACKENDS = ("sqlite", "postgresql")
_names = itertools.count(1)


def required() -> bool:
    """Whether a missing server fails the tests (CI) rather than skipping them."""
    return os.environ.get("MUSICORG_REQUIRE_PG") == "1"


def load_script() -> ModuleType:
    """scripts/pg_server.py as a module (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location("musicorg_pg_server", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _unavailable(why: str) -> None:
    if required():
        pytest.fail(f"PostgreSQL is required (MUSICORG_REQUIRE_PG=1) but {why}")
    pytest.skip(f"no PostgreSQL: {why}")


def new_catalogue(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Catalogue:
    """An empty catalogue for a fixture: in a new database on the server when ``backend`` (the
    fixture) is ``"postgresql"``, else in a SQLite file in ``tmp_path``."""
    if backend == "postgresql":
        return Catalogue(request.getfixturevalue("pg_url"))
    return Catalogue(tmp_path / "cat.sqlite")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A running server (scripts/pg_server.py's ``Server``) for the whole session."""
    script = load_script()
    if script.bin_dir() is None:
        _unavailable("its binaries are not installed (Debian's postgresql package)")
    if importlib.util.find_spec("psycopg") is None:
        _unavailable("psycopg is not installed (pip install 'psycopg[binary]')")
    try:
        server = script.start()
    except script.ServerError as exc:
        _unavailable(f"the test server did not start: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: Any) -> Iterator[str]:
    """The URL of a new, empty database on the session's server (dropped afterwards)."""
    name = f"test{os.getpid()}_{next(_names)}"
    url = str(pg_server.create_database(name))
    yield url
    pg_server.drop_database(name)
