"""The catalogue on a real PostgreSQL server (tests/pg.py): schema, migrations, the connection
file, several writers at once, no file machinery, and errors in one line."""

from __future__ import annotations

import os
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import bindparam, insert, select, text

from musicorg.ingest import scanner
from musicorg.store import library, safety, tracks, writelock
from musicorg.store.db import (
    SCHEMA_2_TABLES,
    SCHEMA_VERSION,
    Catalogue,
    CatalogueError,
    Meta,
    Root,
    Track,
    is_server,
    shown_url,
    streamed,
)
from tests.conftest import audio_files
from tests.latent_fixtures import add_tracks


def _columns(cat: Catalogue, table: str) -> set[str]:
    with cat.read() as conn:
        rows = conn.execute(
            text("SELECT column_name FROM information_schema.columns WHERE table_name = :t"),
            {"t": table},
        )
        return {str(r[0]) for r in rows}


def test_a_new_database_gets_the_schema_and_a_connection_file(pg_url: str) -> None:
    with Catalogue(pg_url) as cat:
        assert cat.server and cat.url == pg_url
        assert cat.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert cat.integrity_ok() and not cat.checked
        # The connection file names the same database: a worker reopens it by its path.
        assert is_server(cat.path) and cat.path.read_text().strip() == pg_url
        assert stat.S_IMODE(cat.path.stat().st_mode) == 0o600
        cat.set_meta("seen", "yes")
    with Catalogue(cat.path) as again:
        assert again.url == pg_url and again.get_meta("seen") == "yes"
    # None of SQLite's files: no -wal, -shm, clean-close mark, lock file or backups.
    assert sorted(p.name for p in cat.path.parent.iterdir()) == [cat.path.name]
    assert safety.rotate_backups(cat.path, every_s=0) is None
    assert sorted(p.name for p in cat.path.parent.iterdir()) == [cat.path.name]


def test_sizes_and_nanosecond_mtimes_past_32_bits(cat_pg: Catalogue) -> None:
    big = {"size": 6 * 2**30, "mtime_ns": time.time_ns()}
    with cat_pg.begin() as conn:
        conn.execute(
            insert(Track).values(
                path=b"/m/big.flac", display="/m/big.flac", content_key="k", fmt="flac",
                missing=False, added_at=0.0, updated_at=0.0, **big,
            )
        )  # fmt: skip
    with cat_pg.read() as conn:
        row = conn.execute(select(Track.size, Track.mtime_ns)).one()
    assert (row.size, row.mtime_ns) == (big["size"], big["mtime_ns"])


def test_migration_from_schema_1_keeps_data(pg_url: str) -> None:
    with Catalogue(pg_url) as cat, cat.begin() as conn:
        conn.execute(
            insert(Track).values(
                path=b"/m/a.ogg", display="/m/a.ogg", size=10, mtime_ns=1, content_key="k1",
                fmt="ogg", title="A song", missing=False, added_at=0.0, updated_at=0.0,
            )
        )  # fmt: skip
        # Back to schema 1: tracks, lyrics and problems only.
        for name in ("plays", *reversed(SCHEMA_2_TABLES)):
            conn.exec_driver_sql(f"DROP TABLE {name}")
        conn.execute(text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    with Catalogue(pg_url) as cat:
        assert cat.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert {"musicnn", "tags", "n_patches"} <= _columns(cat, "analyses")
        assert "play_count" in _columns(cat, "plays")
        assert [t.title for t in library.tracks(cat)] == ["A song"]


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    with Catalogue(pg_url) as cat:
        cat.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(CatalogueError, match="newer musicorg"):
        Catalogue(pg_url)


def test_two_writers_work_at_once(pg_url: str, tmp_path: Path) -> None:
    """While one process's write transaction is open, another scans a folder of its own to the
    end (on SQLite the second would wait for the first): the server orders them by rows."""
    folders = [tmp_path / "one", tmp_path / "two"]
    for i, src in enumerate(audio_files()):
        folders[i % 2].mkdir(exist_ok=True)
        shutil.copy2(src, folders[i % 2] / src.name)
    first, second = Catalogue(pg_url), Catalogue(pg_url)
    try:
        with writelock.hold(first.path, "musicorg scan"), first.begin() as conn:
            conn.execute(insert(Meta).values(key="writer", value="first"))
            # The write lock is the server's: a second holder in another thread goes on too.
            other = threading.Thread(target=lambda: scanner.scan(second, [folders[1]]))
            other.start()
            other.join(timeout=60)
            assert not other.is_alive()
            assert not writelock.lock_path(first.path).exists()
        scanner.scan(first, [folders[0]])
        found = {os.path.basename(t.path) for t in library.tracks(second)}
        assert found == {p.name for p in audio_files()}
        assert first.get_meta("writer") == "first"
    finally:
        first.close()
        second.close()


def test_two_writers_adding_the_same_root_keep_one(cat_pg: Catalogue, pg_url: str) -> None:
    other = Catalogue(pg_url)
    try:
        a = tracks.ensure_roots(cat_pg, [b"/music"])
        b = tracks.ensure_roots(other, [b"/music"])
    finally:
        other.close()
    assert a == b
    with cat_pg.read() as conn:
        assert conn.execute(select(Root.path)).scalars().all() == [b"/music"]


def test_an_unreachable_server_is_one_line() -> None:
    url = "postgresql://musicorg:secret@/nowhere?host=/nonexistent-socket-dir"
    with pytest.raises(CatalogueError, match="cannot reach the catalogue") as caught:
        Catalogue(url)
    message = str(caught.value)
    assert "\n" not in message and "secret" not in message
    assert shown_url(url) in message


@pytest.fixture
def cat_pg(pg_url: str) -> Iterator[Catalogue]:
    c = Catalogue(pg_url)
    yield c
    c.close()


def test_whole_library_reads_stream_from_a_server_side_cursor(pg_url: str) -> None:
    """``db.streamed``: the rows of a read of the whole library come from a cursor on the
    server, a slice at a time (with the ``$1`` placeholders the catalogue's writes use), not
    all of them sent before the first is read, and give every row."""
    with Catalogue(pg_url) as cat:
        ids = add_tracks(cat, np.zeros((7, 4), dtype=np.float32))
        with cat.read() as conn:
            rows = conn.execute(
                streamed(select(Track.id).where(Track.id >= bindparam("lo")).order_by(Track.id)),
                {"lo": 0},
            )
            first = rows.fetchmany(2)
            open_cursors = conn.exec_driver_sql("SELECT count(*) FROM pg_cursors").scalar()
            rest = rows.fetchall()
            fraction = conn.exec_driver_sql("SHOW cursor_tuple_fraction").scalar()
        assert open_cursors == 1  # the read's own, on the server
        assert fraction == "1"  # planned to be read to its end, not for its first rows
        assert [r[0] for r in [*first, *rest]] == ids
