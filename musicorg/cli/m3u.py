"""The playlist-file commands (export, import): .m3u8 files in and out, the io stage's work.
Apart from the playlists command so that ``musicorg --help`` keeps its order."""

from __future__ import annotations

import argparse
import sys
from typing import Final

from musicorg.cli.common import (
    CommandError,
    Subparsers,
    abs_path,
    add_command,
    explain_os_error,
    printable,
)
from musicorg.paths import fs_display
from musicorg.store.db import Catalogue

HELP: Final = {
    "export": "write playlists as .m3u8 files (and remove those of renamed playlists)",
    "import": "read an .m3u/.m3u8 file into a user playlist",
}


def register(sub: Subparsers) -> None:
    p = add_command(sub, HELP, "export", cmd_export)
    p.add_argument("dir", metavar="DIR", help="folder for the .m3u8 files")
    p.add_argument("--absolute", action="store_true", help="always write absolute paths")
    p.add_argument(
        "--playlist", action="append", metavar="NAME", help="only this playlist (repeatable)"
    )

    p = add_command(sub, HELP, "import", cmd_import)
    p.add_argument("file", metavar="FILE", help="an .m3u or .m3u8 file")
    p.add_argument("--name", help="name of the new playlist (default: from the file)")


def cmd_export(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the io stage loads numpy; start-up stays light
    from musicorg.io import m3u

    try:
        report = m3u.export_playlists(
            cat, abs_path(args.dir), absolute=args.absolute, names=args.playlist
        )
    except m3u.PlaylistNotFound as exc:
        raise CommandError("export", f"no playlist named {exc}") from exc
    except m3u.ExportWriteError as exc:
        raise CommandError("export", _unwritten(exc)) from exc
    except OSError as exc:
        raise CommandError("export", explain_os_error(exc)) from exc
    for playlist, track in report.skipped:
        print(printable(f"warning: {playlist}: skipped missing track {track}"), file=sys.stderr)
    for name, path, count in report.files:
        print(printable(f"{path}  ({count} tracks, {name})"))
    for path in report.removed:
        print(printable(f"removed {path} (written earlier under the playlist's old name)"))
    print(printable(report.summary()))
    return 0


def _unwritten(exc: OSError) -> str:
    """One line for a playlist file that could not be written: which, why, what to do."""
    why = explain_os_error(OSError(exc.errno, exc.strerror))
    return f"cannot write {fs_display(exc.filename)} (an older copy, if any, is unchanged): {why}"


def cmd_import(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the io stage loads numpy; start-up stays light
    from musicorg.io import m3u

    try:
        report = m3u.import_playlist(cat, args.file, name=args.name)
    except m3u.PlaylistRefused as exc:
        raise CommandError("import", exc) from exc
    except OSError as exc:
        raise CommandError("import", explain_os_error(exc)) from exc
    print(printable(report.summary()))
    for entry in report.unmatched[:SHOW_UNMATCHED]:
        print(printable(f"  not found (line {entry.line}): {entry.text[:200]}"))
    if len(report.unmatched) > SHOW_UNMATCHED:
        more = len(report.unmatched) - SHOW_UNMATCHED
        print(f"  … and {more} more (every one is in the log file)")
    return 0


#: How many unmatched entries ``import`` lists; the log holds them all.
SHOW_UNMATCHED = 20
