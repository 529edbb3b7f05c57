"""The doctor: the catalogue, its backups, the active model and the settings, each checked;
what is wrong says what to do; a restore puts the newest good backup in place and deletes
nothing (issue #17)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from musicorg import paths
from musicorg import settings as settings_mod
from musicorg.app import doctor
from musicorg.ingest import scanner
from musicorg.model import registry
from musicorg.store import safety
from musicorg.store.db import SCHEMA_VERSION, Catalogue


def library(music: Path) -> Path:
    """The user's catalogue in the data folder, scanned, with one backup and saved settings."""
    db = paths.default_db_path()
    with Catalogue(db) as cat:
        scanner.scan(cat, [music])
    assert safety.rotate_backups(db, every_s=0) is not None
    settings_mod.save(settings_mod.Settings(music_folders=[str(music)]))
    return db


def damage(path: Path) -> None:
    time.sleep(0.05)  # after the close, as in life (one clock tick cannot tell them apart)
    with path.open("r+b") as fh:
        fh.seek(path.stat().st_size // 2)
        fh.write(os.urandom(200_000))


def bad(report: doctor.Report) -> list[doctor.Check]:
    return [c for c in report.checks if not c.ok]


def test_a_healthy_library_is_in_order(music: Path) -> None:
    db = library(music)
    report = doctor.examine(db)
    assert report.ok, bad(report)
    names = [c.name for c in report.checks]
    assert names == ["catalogue", "backup", "model", "settings"]
    assert (
        report.checks[0].text
        == f"catalogue {db}: quick_check ok, schema {SCHEMA_VERSION}, closed cleanly"
    )
    assert report.checks[2].text.startswith(f"model {registry.bundled_version()} (bundled")
    assert report.advice == [] and report.good_backup == safety.backups(db)[0]
    assert report.as_dict()["ok"] is True


def test_a_damaged_catalogue_is_restored_from_the_newest_good_backup(music: Path) -> None:
    db = library(music)
    good = safety.backups(db)[0]
    newer = good.with_name(good.name.replace("-20", "-21"))  # sorts newest, and is damaged
    shutil.copy(good, newer)
    damage(newer)
    damage(db)
    report = doctor.examine(db)
    assert not report.ok
    assert [c.name for c in bad(report)] == ["catalogue", "backup"]
    assert "damaged" in bad(report)[0].text and newer.name in bad(report)[1].text
    assert report.good_backup == good
    assert report.advice[0] == (
        f"restore the newest good backup ({good.name}): `musicorg doctor --restore` (the "
        "damaged catalogue is set aside beside it, not deleted)"
    )
    damaged, kept = db.read_bytes(), safety.backups(db)
    done = doctor.restore(db)
    assert done.source == good and done.aside is not None
    assert done.aside.read_bytes() == damaged and safety.backups(db) == kept  # none deleted
    assert db.read_bytes() == good.read_bytes()
    after = doctor.examine(db)
    assert after.checks[0].ok and after.checks[0].text.endswith("closed cleanly")
    # A healthy catalogue is replaced only by a backup named explicitly.
    with pytest.raises(doctor.DoctorError, match="passes its check: nothing to restore"):
        doctor.restore(db)
    with pytest.raises(doctor.DoctorError, match="is damaged too"):
        doctor.restore(db, newer)
    assert doctor.restore(db, good).aside is not None


def test_no_good_backup_says_how_to_rebuild(music: Path) -> None:
    db = library(music)
    for b in safety.backups(db):
        b.unlink()
    damage(db)
    report = doctor.examine(db)
    assert report.good_backup is None
    assert report.advice[0].startswith(f"no good backup: move {db} aside and rebuild")
    with pytest.raises(doctor.DoctorError, match="no backup of"):
        doctor.restore(db)
    assert db.exists()


def test_files_open_to_others_are_flagged_with_the_fix(music: Path) -> None:
    db = library(music)
    db.chmod(0o644)
    settings = paths.settings_path()
    settings.chmod(0o644)
    report = doctor.examine(db)
    assert {c.fix for c in bad(report)} == {f"chmod 600 {db}", f"chmod 600 {settings}"}
    assert report.advice == [f"make them private: `chmod 600 {db}`; `chmod 600 {settings}`"]


def test_settings_that_do_not_parse(music: Path) -> None:
    db = library(music)
    paths.settings_path().write_text("device = [\n")
    (check,) = bad(doctor.examine(db))
    assert check.name == "settings" and "cannot be used" in check.text


def test_a_catalogue_not_made_yet_is_in_order() -> None:
    report = doctor.examine(paths.default_db_path())
    assert report.ok and report.checks[0].text.endswith("none yet (the first scan makes it)")


def test_the_model_registry_and_the_active_model(music: Path) -> None:
    db = library(music)
    with Catalogue(db) as cat:
        cat.set_meta("active_model", "user-20200101-000000")
    (check,) = bad(doctor.examine(db))
    assert check.name == "model" and "is not installed" in check.text
    registry.registry_path().parent.mkdir(parents=True, exist_ok=True)
    registry.registry_path().write_text("{not json")
    assert "cannot be read" in doctor.model_check(None).text


def test_a_modified_model_file_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from musicorg.model import bundle

    copy = tmp_path / "model"
    shutil.copytree(bundle.bundled_model_dir(), copy)
    with (copy / "norm.npz").open("r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00\x01")
    monkeypatch.setattr(bundle, "bundled_model_dir", lambda: copy)
    check = doctor.model_check(None)
    assert not check.ok and "norm.npz has SHA-256" in check.text


def test_a_folder_is_not_a_catalogue(tmp_path: Path) -> None:
    with pytest.raises(doctor.DoctorError, match="is a folder, not a catalogue"):
        doctor.examine(tmp_path)
    with pytest.raises(doctor.DoctorError, match="is a folder, not a catalogue"):
        doctor.restore(tmp_path)
