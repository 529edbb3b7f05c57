"""``musicorg doctor``: is everything musicorg keeps in order, and how to recover if not.

It looks at the catalogue from outside, read-only (it must work on a damaged one): ``PRAGMA
quick_check``, the schema version, whether it was closed cleanly, the modes of its files. Then
at each backup (checked the same way), at the active model (its files against the manifest
whose hash is pinned: in the code for the bundled model, in the registry for a retrained one),
and at the settings file (it parses; mode 0600). What is wrong comes with what to do.

:func:`restore` puts the newest good backup (or a named one) in place of a damaged catalogue,
which is set aside beside it. Nothing here deletes anything.

A catalogue on a PostgreSQL server is checked by connecting to it: that it answers, and its
schema version. Its files, health and backups are the server's business (``pg_dump``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from musicorg import paths
from musicorg import settings as settings_mod
from musicorg.model import registry
from musicorg.store import safety, writelock
from musicorg.store.db import SCHEMA_VERSION, CatalogueError, is_server, writable

#: Group and other permission bits: a private file or folder has none.
_SHARED_BITS = 0o077


class DoctorError(Exception):
    """What the doctor cannot do (a folder named as the catalogue, a restore refused), in one
    line."""


@dataclass
class Check:
    """One thing looked at: what (``catalogue``, ``backup``, ``model``, ``settings``), whether it
    is in order, and one line about it."""

    name: str
    ok: bool
    text: str
    fix: str | None = None  # a command that puts it right, when there is one


@dataclass
class Report:
    catalogue: Path | str
    checks: list[Check] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)  # what to do, most important first
    good_backup: Path | None = None  # the newest backup that passes quick_check

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "catalogue": str(self.catalogue),
            "ok": self.ok,
            "checks": [asdict(c) for c in self.checks],
            "advice": list(self.advice),
            "good_backup": None if self.good_backup is None else str(self.good_backup),
        }


#: What the doctor says of backups of a catalogue on a server.
PG_BACKUPS = (
    "backups of a catalogue on PostgreSQL are pg_dump's job (for example "
    "`pg_dump -Fc -f musicorg.dump DATABASE`, restored with `pg_restore -d DATABASE "
    "musicorg.dump`); musicorg makes none"
)


def examine(db_path: Path | str, command: str = "musicorg doctor") -> Report:
    """Check the catalogue at ``db_path`` (a file, or a PostgreSQL URL), its backups, the active
    model and the settings. ``command`` is how the user runs this doctor (with ``--db`` or
    ``--demo``), for the advice."""
    if is_server(db_path):
        return _examine_server(db_path, command)
    db_path = Path(db_path)
    _not_a_folder(db_path)
    report = Report(db_path)
    state = safety.inspect(db_path)
    report.checks.append(_catalogue_check(state))
    report.checks.extend(_mode_checks(state))
    states = safety.backup_states(db_path)
    report.good_backup = next((b.path for b in states if b.good), None)
    report.checks.extend(_backup_checks(db_path, states))
    active = state.active_model if state.problem is None else None
    report.checks.append(model_check(active))
    report.checks.extend(settings_checks())
    report.advice = _advice(report, state, command)
    return report


def _examine_server(location: Path | str, command: str) -> Report:
    """The doctor of a catalogue on a server: it answers, and its schema version is one this
    musicorg knows; backups are the server's (``pg_dump``)."""
    state = safety.inspect_server(location)
    report = Report(state.where)
    where = f"catalogue {state.where}"
    if state.problem is not None:
        report.checks.append(Check("catalogue", False, f"{where}: {state.problem}"))
        report.advice.append(
            "check that the PostgreSQL server runs and that the URL is right (--db, or "
            f"catalogue_url in {paths.settings_path()}), then run `{command}` again"
        )
    else:
        parts = [f"connected (PostgreSQL {state.server_version})"]
        if state.schema_version == 0:
            parts.append("an empty database (the first command creates the schema)")
        else:
            parts.append(f"schema {state.schema_version}")
            if state.schema_version is not None and state.schema_version < SCHEMA_VERSION:
                parts[-1] += f" (the next command migrates it to {SCHEMA_VERSION})"
        report.checks.append(Check("catalogue", True, f"{where}: " + ", ".join(parts)))
    report.checks.append(Check("backup", True, PG_BACKUPS))
    report.checks.append(model_check(state.active_model if state.problem is None else None))
    report.checks.extend(settings_checks())
    for check in report.checks[1:]:
        if not check.ok:
            report.advice.append(check.fix or check.text)
    return report


def _not_a_folder(db_path: Path) -> None:
    if db_path.is_dir():
        raise DoctorError(
            f"{db_path} is a folder, not a catalogue; name the catalogue file itself with --db"
        )


def _catalogue_check(state: safety.CatalogueState) -> Check:
    where = f"catalogue {state.path}"
    if not state.exists:
        return Check("catalogue", True, f"{where}: none yet (the first scan makes it)")
    if state.problem is not None:
        return Check("catalogue", False, f"{where} is damaged or unreadable: {state.problem}")
    parts = ["quick_check ok", f"schema {state.schema_version}"]
    if state.schema_version is not None and state.schema_version < SCHEMA_VERSION:
        parts[-1] += f" (the next command migrates it to {SCHEMA_VERSION})"
    parts.append(
        "closed cleanly"
        if state.closed_cleanly
        else "not closed cleanly (open in another musicorg now, or one stopped without closing it)"
    )
    if not writable(state.path):
        parts.append("read-only for this user")
    return Check("catalogue", True, f"{where}: " + ", ".join(parts))


def _private(name: str, path: Path, *, folder: bool) -> Check | None:
    """Not ok when ``path`` is open to group or others; None when it is private (or absent)."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return None
    if not mode & _SHARED_BITS:
        return None
    fix = f"chmod {'700' if folder else '600'} {path}"
    return Check(name, False, f"{path} is mode {mode:04o}: other users can read it", fix)


def _mode_checks(state: safety.CatalogueState) -> list[Check]:
    """The catalogue's files are private; so is its folder when musicorg made it (the data
    folder; a folder the user named with ``--db`` is theirs to share)."""
    found = [
        _private("catalogue", state.path.with_name(name), folder=False)
        for name in (state.modes or {})
    ]
    data = paths.data_dir().resolve()
    folder = state.path.parent.resolve()
    if folder == data or data in folder.parents:
        found.append(_private("catalogue", state.path.parent, folder=True))
    return [c for c in found if c is not None]


def _backup_checks(db_path: Path, states: list[safety.BackupState]) -> list[Check]:
    if not states:
        return [
            Check(
                "backup",
                True,
                "backups: none yet (one is made, at most daily, before a command that changes "
                "the catalogue)",
            )
        ]
    out = []
    for b in states:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(b.mtime))
        size = f"{b.size / 1e6:.1f} MB"
        verdict = "quick_check ok" if b.good else f"damaged: {b.problem}"
        out.append(Check("backup", b.good, f"backup {b.path.name}: {when}, {size}, {verdict}"))
        shared = _private("backup", b.path, folder=False)
        if shared is not None:
            out.append(shared)
    folder_check = _private("backup", safety.backup_dir(db_path), folder=True)
    return out + ([folder_check] if folder_check else [])


def model_check(active: str | None) -> Check:
    """The active model (``active``; None: the bundled one) exists and its files match the
    manifest whose hash is pinned (reads every file; imports torch)."""
    # lazy: musicorg.model.bundle imports torch; only the doctor verifies the files here
    from musicorg.model.bundle import (
        BUNDLED_MANIFEST_SHA256,
        ModelIntegrityError,
        bundled_model_dir,
        verify_bundle,
    )

    bundled = registry.bundled_version()
    version = active or bundled
    models = registry._registry_or_none()
    if models is None:
        return Check(
            "model",
            False,
            f"the model registry {registry.registry_path()} cannot be read; retrained models "
            "cannot be used until it is fixed or moved aside",
        )
    if version == bundled:
        directory, pin, kind = bundled_model_dir(), BUNDLED_MANIFEST_SHA256, "bundled"
    elif version in models:
        directory = registry.user_model_dir(version)
        pin, kind = str(models[version].get("manifest_sha256")), "retrained"
    else:
        return Check(
            "model",
            False,
            f"the active model {version} is not installed (the bundled model {bundled} is used "
            "instead); make that the choice: `musicorg models revert`",
        )
    try:
        verify_bundle(directory, pin)
    except ModelIntegrityError as exc:
        return Check("model", False, f"model {version} ({kind}): {exc}")
    trained_on = registry._trained_on(directory)
    mismatch = None if trained_on is None else registry.features_mismatch(version, trained_on)
    if mismatch:
        return Check("model", False, mismatch)
    return Check("model", True, f"model {version} ({kind}, active): every file matches")


def settings_checks() -> list[Check]:
    """The settings file parses and is private, and so is its folder."""
    path = paths.settings_path()
    if not path.exists():
        return [Check("settings", True, f"settings {path}: none saved (the defaults apply)")]
    try:
        settings_mod.load(path, env=False)
    except (OSError, ValueError, TypeError) as exc:
        line = " ".join(str(exc).split())
        return [
            Check(
                "settings",
                False,
                f"settings {path} cannot be used ({line}); fix it, or move it aside to start "
                "from the defaults",
            )
        ]
    found = [
        _private("settings", path, folder=False),
        _private("settings", path.parent, folder=True),
    ]
    checks = [c for c in found if c is not None]
    return checks or [Check("settings", True, f"settings {path}: readable, mode 0600")]


def _advice(report: Report, state: safety.CatalogueState, command: str) -> list[str]:
    out = []
    if state.exists and state.problem is not None:
        good = report.good_backup
        if good is not None:
            out.append(
                f"restore the newest good backup ({good.name}): `{command} --restore` (the "
                f"damaged catalogue is set aside beside it, not deleted)"
            )
        else:
            out.append(
                f"no good backup: move {state.path} aside and rebuild the catalogue with "
                "`musicorg scan FOLDER` (the app's rebuild also brings back user playlists "
                "from their mirror)"
            )
    if any(c.name == "backup" and not c.ok and "damaged" in c.text for c in report.checks):
        out.append(
            f"move the damaged backups out of {safety.backup_dir(state.path)} (musicorg never "
            "deletes them)"
        )
    fixes = [c.fix for c in report.checks if c.fix]
    if fixes:
        out.append("make them private: " + "; ".join(f"`{f}`" for f in fixes))
    return out


@dataclass
class Restored:
    catalogue: Path
    source: Path  # the backup put in place
    aside: Path | None  # where the catalogue that was there went (None: there was none)


def restore(
    db_path: Path | str, backup: Path | None = None, command: str = "musicorg doctor"
) -> Restored:
    """Put ``backup`` (default: the newest good one) in place of a damaged catalogue, which is
    set aside. A healthy catalogue is replaced only by a backup named explicitly (``command``:
    how the user runs the doctor, for the message). Not for a catalogue on a server."""
    if is_server(db_path):
        raise DoctorError(f"musicorg keeps no backups of a catalogue on a server: {PG_BACKUPS}")
    db_path = Path(db_path)
    _not_a_folder(db_path)
    if backup is None:
        state = safety.inspect(db_path)
        if state.exists and state.problem is None:
            raise DoctorError(
                f"the catalogue {db_path} passes its check: nothing to restore; to go back to a "
                f"backup anyway, name it: `{command} --restore BACKUP`"
            )
        backup = safety.newest_good_backup(db_path)
        if backup is None:
            raise DoctorError(
                f"no backup of {db_path} passes its check; move the catalogue aside and "
                "rebuild it with `musicorg scan FOLDER`"
            )
    elif not backup.is_file():
        raise DoctorError(f"no such backup: {backup}")
    try:
        with writelock.hold(db_path, "musicorg doctor --restore", wait=False):
            aside = safety.restore_backup(db_path, backup)
    except CatalogueError as exc:
        raise DoctorError(str(exc)) from exc
    except OSError as exc:
        raise DoctorError(
            f"cannot restore {backup} to {db_path} ({exc.strerror or exc}); check that this "
            "user may write the catalogue's folder"
        ) from exc
    return Restored(db_path, backup, aside)
