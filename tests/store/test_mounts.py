"""A catalogue shared by several machines with the same music at different folders: each
machine's mount of a root (``root_mounts``), through which its scans, analysis, player and
exports read their own paths; nothing is catalogued twice."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from musicorg.ingest import scanner
from musicorg.store import analyses, library, plays, tracks, userlists
from musicorg.store.db import MACHINE_ID_ENV, SCHEMA_VERSION, Catalogue, Mounts, machine_id
from tests.conftest import audio_files


def _music(folder: Path) -> Path:
    """The test files in ``folder``/Music, with their mtimes (the same music on each machine)."""
    root = folder / "Music"
    for i, src in enumerate(audio_files()):
        dest = root / ("a" if i % 2 else "b") / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
    return root


def _on(monkeypatch: pytest.MonkeyPatch, machine: str) -> None:
    monkeypatch.setenv(MACHINE_ID_ENV, machine)


def _stored_paths(cat: Catalogue) -> list[bytes]:
    """The tracks' paths as the catalogue holds them (raw SQL: no mount applies)."""
    with cat.read() as conn:
        return [bytes(r[0]) for r in conn.execute(text("SELECT path FROM tracks"))]


def _under(folder: Path, found: list[bytes]) -> bool:
    prefix = os.fsencode(folder) + b"/"
    return bool(found) and all(p.startswith(prefix) for p in found)


def test_two_machines_share_one_server_catalogue(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here_a, here_b = _music(tmp_path / "alpha"), _music(tmp_path / "beta")
    n = len(audio_files())
    _on(monkeypatch, "alpha")
    with Catalogue(pg_url) as cat:
        assert len(scanner.scan(cat, [here_a]).added) == n
    # Machine beta: the same music at its own folder, recorded once, read from the next open.
    _on(monkeypatch, "beta")
    with Catalogue(pg_url) as cat:
        assert not cat.mounts
        tracks.add_mount(cat, os.fsencode(here_a), os.fsencode(here_b))
    with Catalogue(pg_url) as cat:
        assert cat.mounts.pairs == ((os.fsencode(here_a), os.fsencode(here_b)),)
        report = scanner.scan(cat, [here_b])
        assert (report.added, report.moved, report.missing) == ([], [], [])
        assert report.unchanged == n
        assert tracks.root_paths(cat) == [os.fsencode(here_b)]
        # Every reader gets beta's paths: the window's table, the analysis, the player.
        columns = library.track_columns(cat)
        assert _under(here_b, list(columns.paths))
        todo = analyses.unanalysed(cat, 1)
        assert _under(here_b, [f.path for f in todo]) and all(os.path.isfile(f.path) for f in todo)
        files = plays.track_files(cat, list(columns.ids))
        assert _under(here_b, [f.path for f in files.values()])
        # A playlist refers to tracks; its exported paths are beta's too.
        pid = userlists.create(cat, "Mine", list(columns.ids)[:2])
        assert _under(here_b, [i.path for i in userlists.items(cat, pid)])
        # One file gone on beta only: missing, then back; never a second row.
        gone = here_b / "a" / audio_files()[1].name
        kept = gone.read_bytes()
        gone.unlink()
        assert len(scanner.scan(cat, [here_b]).missing) == 1
        gone.write_bytes(kept)
        os.utime(gone, ns=(os.stat(here_a / "a" / gone.name).st_mtime_ns,) * 2)
        assert len(scanner.scan(cat, [here_b]).restored) == 1
        assert library.track_count(cat) == n
        assert _under(here_a, _stored_paths(cat))
        # The catalogue shows each track by its stored name, whichever machine read it.
        assert all(d.startswith(str(here_a)) for d in columns.displays)
    # Machine alpha reads its own folder as before.
    _on(monkeypatch, "alpha")
    with Catalogue(pg_url) as cat:
        assert not cat.mounts
        assert tracks.root_paths(cat) == [os.fsencode(here_a)]
        assert _under(here_a, list(library.track_columns(cat).paths))
        assert scanner.scan(cat, [here_a]).unchanged == n
        assert library.track_count(cat) == n


@pytest.mark.both_catalogues
def test_a_mount_is_this_machines_only(cat: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    _on(monkeypatch, "alpha")
    ids = tracks.ensure_roots(cat, [b"/srv/music", b"/srv/talk"])
    tracks.add_mount(cat, b"/srv/music", b"/home/me/Music")
    # Moved again on the same machine: the mount follows; by its old folder too.
    mine = tracks.add_mount(cat, b"/home/me/Music", b"/mnt/Music")
    assert (mine.id, mine.stored, mine.here) == (ids[b"/srv/music"], b"/srv/music", b"/mnt/Music")
    assert [(r.stored, r.here) for r in tracks.roots(cat)] == [
        (b"/srv/music", b"/mnt/Music"),
        (b"/srv/talk", None),
    ]
    with pytest.raises(tracks.MountError, match="not a music folder of this catalogue"):
        tracks.add_mount(cat, b"/elsewhere", b"/mnt/x")
    with pytest.raises(tracks.MountError, match="already where this machine has"):
        tracks.add_mount(cat, b"/srv/talk", b"/mnt/Music")
    _on(monkeypatch, "beta")
    assert [r.here for r in tracks.roots(cat)] == [None, None]
    with Catalogue(cat.path) as again:
        assert not again.mounts and tracks.root_paths(again) == [b"/srv/music", b"/srv/talk"]


@pytest.mark.both_catalogues
def test_schema_4_gets_the_mounts_table(cat: Catalogue) -> None:
    with cat.begin() as conn:
        conn.exec_driver_sql("DROP TABLE root_mounts")
        conn.exec_driver_sql("UPDATE meta SET value='4' WHERE key='schema_version'")
    with Catalogue(cat.path) as again:
        assert again.get_meta("schema_version") == str(SCHEMA_VERSION) == "5"
        tracks.ensure_roots(again, [b"/srv/music"])
        assert tracks.add_mount(again, b"/srv/music", b"/mnt/Music").here == b"/mnt/Music"


def test_mounts_map_both_ways_longest_folder_first() -> None:
    m = Mounts(((b"/srv/music", b"/mnt/m"), (b"/srv/music/live", b"/media/live"), (b"/", b"/r")))
    assert m.to_local(b"/srv/music/a/b.ogg") == b"/mnt/m/a/b.ogg"
    assert m.to_local(b"/srv/music/live/c.ogg") == b"/media/live/c.ogg"
    assert m.to_local(b"/srv/musical/d.ogg") == b"/r/srv/musical/d.ogg"
    assert m.to_stored(b"/mnt/m/a/b.ogg") == b"/srv/music/a/b.ogg"
    assert m.to_stored(b"/media/live") == b"/srv/music/live"
    assert m.to_stored(b"/r/x") == b"/x"
    assert Mounts().to_local(b"/srv/music/x") == b"/srv/music/x"


def test_the_machine_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MACHINE_ID_ENV, "desk-2")
    assert machine_id() == "desk-2"
    monkeypatch.delenv(MACHINE_ID_ENV)
    assert machine_id()  # /etc/machine-id, or the host name
