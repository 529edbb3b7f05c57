"""The ``doctor`` command: check the catalogue, its backups, the model and the settings, and
restore the newest good backup of a damaged catalogue. A plain command: ``main`` opens no
catalogue for it (it must work on a damaged one) and makes no backup."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Final

from musicorg.cli.common import (
    CommandError,
    Subparsers,
    add_plain_command,
    catalogue_path,
    json_flag,
    print_json,
    printable,
)
from musicorg.store.db import is_server_url, shown_url

HELP: Final = {
    "doctor": "check the catalogue, its backups, the model and the settings; restore a backup",
}


def register(sub: Subparsers) -> None:
    p = add_plain_command(sub, HELP, "doctor", cmd_doctor)
    p.add_argument(
        "--restore",
        nargs="?",
        const="",
        metavar="BACKUP",
        help="put the newest good backup (or BACKUP) in place of a damaged catalogue, which is "
        "set aside, never deleted",
    )
    json_flag(p, "print the report as JSON")


def _invocation(args: argparse.Namespace) -> str:
    """How the user runs this doctor, for the advice it prints."""
    if args.db:  # a URL's password stays out of what is printed
        db = shown_url(args.db) if is_server_url(args.db) else str(args.db)
        return f"musicorg --db {shlex.quote(db)} doctor"
    return "musicorg --demo doctor" if args.demo else "musicorg doctor"


def cmd_doctor(args: argparse.Namespace) -> int:
    # lazy: the doctor verifies the model's files, which imports torch; start-up stays light
    from musicorg.app import doctor

    path = catalogue_path(args)
    command = _invocation(args)
    if args.restore is not None:
        backup = Path(args.restore) if args.restore else None
        try:
            done = doctor.restore(path, backup, command)
        except doctor.DoctorError as exc:
            raise CommandError("doctor", exc) from exc
        aside = f"; the catalogue that was there is set aside as {done.aside}" if done.aside else ""
        print(printable(f"Restored {done.source} to {done.catalogue}{aside}."))
        return 0
    try:
        report = doctor.examine(path, command)
    except doctor.DoctorError as exc:
        raise CommandError("doctor", exc) from exc
    if args.json:
        print_json(report.as_dict())
        return 0 if report.ok else 1
    print(printable(f"musicorg doctor: {report.catalogue}"))
    for check in report.checks:
        print(printable(f"  {'ok ' if check.ok else 'BAD'}  {check.text}"))
    if report.ok:
        print("Everything is in order.")
        return 0
    print("Something is wrong. What to do:")
    for line in report.advice:
        print(printable(f"  - {line}"))
    return 1
