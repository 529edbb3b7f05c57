"""A damaged, unclean, read-only or full catalogue: checked when it matters, never backed up
when damaged, and every failure a one-line CatalogueError (issue #17, items 3 and 6)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from musicorg.ingest import scanner
from musicorg.store import db as dbmod
from musicorg.store import library, safety
from musicorg.store.db import (
    Catalogue,
    CatalogueDamagedError,
    CatalogueError,
    CatalogueFullError,
    CatalogueReadOnlyError,
    closed_cleanly,
    write_clean_mark,
)


def scanned(tmp_path: Path, music: Path, name: str = "cat.sqlite") -> Path:
    db = tmp_path / name
    with Catalogue(db) as cat:
        scanner.scan(cat, [music])
    return db


def later() -> None:
    """As in life, damage comes after the close: a stat cannot tell two writes within one
    clock tick of the file system apart."""
    time.sleep(0.05)


def random_bytes_in_the_middle(db: Path, n: int = 200_000) -> None:
    later()
    with db.open("r+b") as fh:
        fh.seek(db.stat().st_size // 2)
        fh.write(os.urandom(n))


def ff_at_12288(db: Path) -> None:
    later()
    with db.open("r+b") as fh:
        fh.seek(12288)
        fh.write(b"\xff" * 16)


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


@pytest.mark.parametrize("damage", [random_bytes_in_the_middle, ff_at_12288])
def test_damage_after_a_clean_close_is_caught_on_open(
    tmp_path: Path, music: Path, damage: Any
) -> None:
    db = scanned(tmp_path, music)
    assert closed_cleanly(db)
    damage(db)
    assert not closed_cleanly(db)
    with pytest.raises(CatalogueDamagedError) as caught:
        Catalogue(db)
    text = one_line(caught.value)
    assert text.startswith(f"the catalogue {db} is damaged (")
    assert "run `musicorg doctor`" in text


def test_damage_the_open_check_missed_is_caught_by_reads_and_backups(
    tmp_path: Path, music: Path
) -> None:
    db = scanned(tmp_path, music)
    good = safety.rotate_backups(db, every_s=0)
    assert good is not None
    before = good.read_bytes()
    ff_at_12288(db)
    write_clean_mark(db)  # as if the damage came unseen: same stat, or bit rot
    cat = Catalogue(db)
    assert not cat.checked
    with pytest.raises(CatalogueDamagedError) as caught:
        library.stats(cat)
    one_line(caught.value)
    assert not dbmod.clean_mark(db).exists()  # the next open checks it
    cat.close()
    assert not dbmod.clean_mark(db).exists()  # and close does not mark it clean again
    # The rotating backups refuse it, and keep the good one.
    write_clean_mark(db)
    for _ in range(4):
        with pytest.raises(CatalogueDamagedError):
            safety.rotate_backups(db, every_s=0)
    assert safety.backups(db) == [good] and good.read_bytes() == before
    assert safety.newest_good_backup(db) == good


def test_a_damaged_catalogue_is_not_backed_up_before_a_migration(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with Catalogue(db) as cat, cat.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE filler (x BLOB)")
        for _ in range(40):
            conn.exec_driver_sql("INSERT INTO filler VALUES (zeroblob(4000))")
        conn.exec_driver_sql("UPDATE meta SET value='2' WHERE key='schema_version'")
    size = db.stat().st_size
    later()
    with db.open("r+b") as fh:  # the filler's pages, far from the schema and meta
        fh.seek(size - 40_000)
        fh.write(os.urandom(20_000))
    write_clean_mark(db)  # the open check passes it by: the migration must check
    with pytest.raises(CatalogueDamagedError):
        Catalogue(db)
    assert not list(tmp_path.glob("old.schema2-*.bak.sqlite"))


def test_a_clean_close_costs_nothing_and_a_crash_costs_one_check(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    with Catalogue(db) as cat:
        assert cat.checked  # new: no mark yet
        cat.set_meta("x", "1")
    for _ in range(2):
        with Catalogue(db) as cat:
            assert not cat.checked
            assert cat.get_meta("x") == "1"
    # A writer that dies without closing leaves changes in the -wal.
    code = (
        "import os, sys; from musicorg.store.db import Catalogue; "
        "c = Catalogue(sys.argv[1]); c.set_meta('x', '2'); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code, str(db)], check=True, timeout=60)
    assert Path(f"{db}-wal").stat().st_size > 0 and not closed_cleanly(db)
    with Catalogue(db) as cat:
        assert cat.checked and cat.get_meta("x") == "2"
    with Catalogue(db) as cat:
        assert not cat.checked
    # No mark, or a file changed since the mark: one check, then clean again.
    dbmod.clean_mark(db).unlink()
    with Catalogue(db) as cat:
        assert cat.checked
    later()
    os.utime(db)
    with Catalogue(db) as cat:
        assert cat.checked
    with Catalogue(db) as cat:
        assert not cat.checked


def test_two_open_at_once_leave_no_false_alarm(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    Catalogue(db).close()
    first = Catalogue(db)
    first.set_meta("a", "1")
    second = Catalogue(db)  # the first's changes wait in the -wal: one check, which passes
    assert second.checked
    second.set_meta("b", "2")
    second.close()
    first.set_meta("a", "3")
    first.close()
    with Catalogue(db) as cat:
        assert not cat.checked
        assert (cat.get_meta("a"), cat.get_meta("b")) == ("3", "2")


@pytest.fixture(params=[0o000, 0o022], ids=["umask000", "umask022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_catalogue_files_and_backups_are_private_whatever_the_umask(
    tmp_path: Path, music: Path, umask: int
) -> None:
    db = tmp_path / "new" / "cat.sqlite"
    with Catalogue(db) as cat:
        scanner.scan(cat, [music])
        assert Path(f"{db}-wal").exists() and Path(f"{db}-shm").exists()
        for suffix in ("", "-wal", "-shm"):
            assert _mode(Path(f"{db}{suffix}")) == 0o600, suffix
        backup = safety.rotate_backups(db, every_s=0)
    assert backup is not None
    assert _mode(db.parent) == 0o700
    assert _mode(backup.parent) == 0o700 and _mode(backup) == 0o600
    assert _mode(dbmod.clean_mark(db)) == 0o600
    assert not list(backup.parent.glob("*-wal"))  # a backup is one file
    # The copy made before a migration, and a restored catalogue, are private too.
    with Catalogue(db) as cat:
        cat.set_meta("schema_version", "2")
    with Catalogue(db):
        pass
    (migration,) = tmp_path.glob("new/cat.schema2-*.bak.sqlite")
    assert _mode(migration) == 0o600
    safety.restore_backup(db, backup)
    assert _mode(db) == 0o600


def test_an_existing_folder_of_the_user_keeps_its_mode(tmp_path: Path, umask: int) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o750)
    with Catalogue(folder / "cat.sqlite"):
        pass
    assert _mode(folder) == 0o750 and _mode(folder / "cat.sqlite") == 0o600


def test_data_folder_and_settings_are_private_whatever_the_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int
) -> None:
    from musicorg import paths
    from musicorg import settings as settings_mod

    monkeypatch.setenv("MUSICORG_DATA_DIR", str(tmp_path / "d" / "data"))
    assert _mode(paths.data_dir()) == 0o700
    assert _mode(paths.default_db_path().parent) == 0o700
    with Catalogue(paths.demo_db_path()):
        pass
    assert _mode(paths.demo_db_path().parent) == 0o700
    target = tmp_path / "elsewhere" / "settings.toml"
    settings_mod.save(settings_mod.Settings(genius_token="secret"), target)
    assert _mode(target) == 0o600 and _mode(target.parent) == 0o700
    assert _mode(settings_mod.save(settings_mod.Settings())) == 0o600
    assert _mode(paths.settings_path().parent) == 0o700


def test_read_only_open_reads_and_refuses_writes_in_one_line(tmp_path: Path, music: Path) -> None:
    db = scanned(tmp_path, music)
    with Catalogue(db, read_only=True) as cat:
        assert cat.read_only and len(library.tracks(cat)) > 0
        with pytest.raises(CatalogueReadOnlyError) as caught:
            cat.set_meta("x", "1")
    assert one_line(caught.value) == (
        f"the catalogue {db} is read-only; it can be read, but to change it make the file "
        "and its folder writable"
    )


def test_a_catalogue_that_cannot_be_written_opens_read_only(
    tmp_path: Path, music: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = scanned(tmp_path, music)
    monkeypatch.setattr(dbmod, "writable", lambda _path: False)
    with Catalogue(db) as cat:
        assert cat.read_only and library.stats(cat)["tracks"] > 0


def _full_disk(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every new connection may not grow the file: SQLite then says "database or disk is
    full", as it does when the disk is. Returns the plain hook, to put back."""
    plain = dbmod._on_connect

    def full(dbapi_conn: sqlite3.Connection, record: Any) -> None:
        plain(dbapi_conn, record)
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count={max(pages, 1)}").close()

    monkeypatch.setattr(dbmod, "_on_connect", full)
    return plain


def test_a_full_disk_is_one_line_and_loses_nothing(
    tmp_path: Path, music: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "cat.sqlite"
    with Catalogue(db) as cat:
        scanner.scan(cat, [music])
        before = len(library.tracks(cat))
    more = tmp_path / "more"  # enough new tracks to need new pages
    for i in range(12):
        shutil.copytree(music, more / str(i))
    plain = _full_disk(monkeypatch)
    with Catalogue(db) as cat, pytest.raises(CatalogueFullError) as caught:
        scanner.scan(cat, [music, more])
    assert one_line(caught.value) == (
        f"the disk holding the catalogue {db} is full; free some space there and run the "
        "command again (the unfinished change was rolled back)"
    )
    monkeypatch.setattr(dbmod, "_on_connect", plain)
    with Catalogue(db) as cat:
        assert cat.integrity_ok() and len(library.tracks(cat)) >= before


def test_a_full_disk_when_the_catalogue_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _full_disk(monkeypatch)
    with pytest.raises(CatalogueFullError):
        Catalogue(tmp_path / "cat.sqlite")


def test_a_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CatalogueError) as caught:
        Catalogue(blocker / "data" / "cat.sqlite")
    assert one_line(caught.value).startswith(f"cannot make the folder {blocker / 'data'}")


def test_restore_takes_only_a_good_backup_and_sets_the_damaged_file_aside(
    tmp_path: Path, music: Path
) -> None:
    db = scanned(tmp_path, music)
    good = safety.rotate_backups(db, every_s=0)
    assert good is not None
    bad = good.with_name(good.name.replace("-20", "-21"))  # sorts newer
    shutil.copy(good, bad)
    ff_at_12288(bad)
    assert safety.backups(db)[0] == bad and safety.newest_good_backup(db) == good
    with pytest.raises(CatalogueDamagedError, match="is damaged too"):
        safety.restore_backup(db, bad)
    random_bytes_in_the_middle(db)
    aside = safety.restore_backup(db, good)
    assert aside is not None and aside.exists()
    assert Path(f"{aside}{dbmod.CLEAN_MARK_SUFFIX}").exists()  # its old mark went with it
    assert closed_cleanly(db)
    with Catalogue(db) as cat:
        assert not cat.checked and cat.integrity_ok()


def test_unmerged_changes_in_a_read_only_folder_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "c.sqlite"
    Catalogue(db).close()
    code = (
        "import os, sys; from musicorg.store.db import Catalogue; "
        "c = Catalogue(sys.argv[1]); c.set_meta('x', '2'); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code, str(db)], check=True, timeout=60)
    Path(f"{db}-shm").unlink()
    monkeypatch.setattr(dbmod, "_folder_writable", lambda _path: False)
    with pytest.raises(CatalogueReadOnlyError) as caught:
        Catalogue(db)
    assert "holds changes that were never merged into it" in one_line(caught.value)
