"""The catalogue's commands (scan, problems, stats, tracks, prune, relocate, lyrics): the files
themselves, before any analysis. The ingest stage and the store do the work."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from musicorg import paths
from musicorg import settings as settings_mod
from musicorg.cli.common import (
    CommandError,
    Stderr,
    Subparsers,
    abs_path,
    add_command,
    fmt_duration,
    json_flag,
    print_json,
    printable,
)
from musicorg.store import tracks
from musicorg.store.db import Catalogue

HELP: Final = {
    "scan": "catalogue music folders (incremental)",
    "problems": "files that could not be read, and why",
    "stats": "tracks by format, with lyrics, missing, total duration",
    "tracks": "one row per track, with tags (and the top tags heard in the audio)",
    "prune": "forget tracks that are missing for good, after confirming",
    "relocate": "move a library folder without re-analysis",
    "lyrics": "look for lyrics again (sidecars; Genius with --genius)",
}


def register(sub: Subparsers) -> None:
    p = add_command(sub, HELP, "scan", cmd_scan)
    p.add_argument("folders", nargs="*", metavar="DIR", help="folders (default: the saved ones)")
    json_flag(p, "print the report as JSON")

    json_flag(add_command(sub, HELP, "problems", cmd_problems, read_only=True))
    json_flag(add_command(sub, HELP, "stats", cmd_stats, read_only=True))
    json_flag(add_command(sub, HELP, "tracks", cmd_tracks, read_only=True))

    p = add_command(sub, HELP, "prune", cmd_prune)
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")

    p = add_command(sub, HELP, "relocate", cmd_relocate)
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    p.add_argument(
        "--this-machine",
        action="store_true",
        help="a shared catalogue: the music folder OLD (as the catalogue has it) is at NEW on "
        "this machine only; the other machines keep theirs",
    )

    p = add_command(sub, HELP, "lyrics", cmd_lyrics)
    p.add_argument("--genius", action="store_true", help="also ask Genius (needs a token)")
    p.add_argument("--token", help="Genius API token (default: settings or MUSICORG_GENIUS_TOKEN)")


def cmd_scan(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the pipeline's scan brings mutagen; start-up stays light
    from musicorg.app import pipeline

    folders = _scan_folders(args, cat)
    if not folders:
        db = f"--db {args.db} " if args.db else ""
        raise CommandError(
            "scan", f"no folder given and none saved; try: musicorg {db}scan ~/Music", 2
        )
    for given in args.folders:
        _must_be_folder("scan", given, "nothing was scanned")
    if args.folders and not args.demo and not args.db:
        given = [abs_path(f) for f in args.folders]
        _remember_folders(lambda saved: list(dict.fromkeys([*saved, *given])))
    progress = Stderr(args.quiet)
    report = pipeline.scan(cat, folders, progress=progress)
    progress.end()
    if args.json:
        print_json(
            {
                "added": report.added,
                "updated": report.updated,
                "moved": [{"from": a, "to": b} for a, b in report.moved],
                "missing": report.missing,
                "restored": report.restored,
                "problems": [{"path": p, "kind": k, "message": m} for p, k, m in report.problems],
                "unchanged": report.unchanged,
                "vanished_folders": report.vanished_roots,
                "seconds": round(report.seconds, 3),
            }
        )
        return 0
    if not report.changed:
        print(f"Nothing changed ({report.unchanged} tracks checked in {report.seconds:.1f} s).")
    else:
        print(printable(report.summary()))
        for old, new in report.moved[:20]:
            print(printable(f"  moved: {old} -> {new}"))
        for path, kind, msg in report.problems[:20]:
            print(printable(f"  problem ({kind}): {path}: {msg}"))
        if len(report.problems) > 20:
            print(f"  … and {len(report.problems) - 20} more: see `musicorg problems`")
    for folder in report.vanished_roots:
        print(
            printable(f"warning: folder not found: {folder} (its tracks are kept, marked missing)")
        )
    return 0


def _scan_folders(args: argparse.Namespace, cat: Catalogue) -> list[str | bytes]:
    """The folders to scan: those given; else the demo's; else, for the user's catalogue, the
    saved music folders (the window's and `scan DIR`'s), or its own roots when none are saved;
    for another catalogue (``--db``), its own roots, never the user's saved folders."""
    if args.folders:
        return list(args.folders)
    if args.demo:
        return [str(paths.demo_dir())]
    if not args.db:
        saved: list[str | bytes] = list(settings_mod.load().music_folders)
        if saved:
            return saved
    return list(tracks.root_paths(cat))


def _must_be_folder(command: str, folder: str, then: str) -> None:
    """Refuse, in one line, a folder the user named that is not an existing folder."""
    path = abs_path(folder)
    if not os.path.isdir(path):
        what = "is not a folder" if os.path.exists(path) else "does not exist"
        raise CommandError(command, f"{printable(path)} {what}; {then}")


def _remember_folders(change: Callable[[list[str]], list[str]]) -> None:
    """Save the music folders as ``change`` makes them, if that changes them."""
    current = settings_mod.load(env=False)
    folders = change(current.music_folders)
    if folders != current.music_folders:
        settings_mod.update(music_folders=folders)


def cmd_problems(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the store's track reads load numpy; start-up stays light
    from musicorg.store import library

    rows = library.problems(cat)
    if args.json:
        print_json([r.as_dict() for r in rows])
    elif not rows:
        print("No problems.")
    else:
        for r in rows:
            print(printable(f"{r.stage:8} {r.kind:18} {r.path}"))
            print(f"{'':27} {printable(r.message)}")
    return 0


def cmd_stats(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the store's track reads load numpy; start-up stays light
    from musicorg.store import library

    s = library.stats(cat)
    if args.json:
        print_json(s)
        return 0
    print(f"Tracks:    {s['tracks']} ({s['available']} available, {s['missing']} missing)")
    print(f"Duration:  {fmt_duration(s['total_duration_s'])}")
    print(f"Lyrics:    {s['with_lyrics']}")
    print("Formats:   " + ", ".join(f"{k} {v}" for k, v in s["by_format"].items()))
    print(f"Problems:  {s['problems']}")
    for folder in s["folders"]:
        print(printable(f"Folder:    {folder}"))
    return 0


def cmd_tracks(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the store's track reads load numpy; start-up stays light
    from musicorg.store import library

    rows = library.tracks(cat)
    if args.json:
        print_json([r.as_dict() for r in rows])
        return 0
    for r in rows:
        dur = fmt_duration(r.duration) if r.duration else "?"
        flag = " (missing)" if r.missing else ""
        # The top three words heard in the audio (all of them, with probabilities: --json).
        heard = f"  ~ {', '.join(t.label for t in r.tags[:3])}" if r.tags else ""
        line = (
            f"{r.id:6} {r.artist or '?'} - {r.title or Path(r.path).stem} "
            f"[{r.album or ''}{', ' + str(r.year) if r.year else ''}] {r.genre or ''} {dur}{flag}"
            f"{heard}"
        )
        print(printable(line))
    return 0


def cmd_prune(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the store's track reads load numpy; start-up stays light
    from musicorg.store import library

    missing = library.missing_tracks(cat)
    if not missing:
        print("No missing tracks.")
        return 0
    for path in missing[:20]:
        print(printable(f"  {path}"))
    if len(missing) > 20:
        print(f"  … and {len(missing) - 20} more")
    if not args.yes:
        if not sys.stdin.isatty():
            print("Refusing to prune without confirmation: run `musicorg prune --yes`.")
            return 1
        answer = input(f"Forget these {len(missing)} missing tracks? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing pruned.")
            return 1
    n = library.prune_missing(cat)
    print(f"Forgot {n} missing tracks.")
    return 0


def cmd_relocate(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the store's track reads load numpy; start-up stays light
    from musicorg.store import library

    old, new = abs_path(args.old), abs_path(args.new)
    _must_be_folder("relocate", args.new, "move the folder there first (nothing was changed)")
    if args.this_machine:
        return _mount(cat, old, new)
    n = library.relocate(cat, old, new)
    if not args.db and not args.demo:
        _remember_folders(
            lambda saved: [
                new + f[len(old) :] if f == old or f.startswith(old + "/") else f for f in saved
            ]
        )
    print(printable(f"Relocated {n} tracks from {args.old} to {args.new}."))
    return 0


def _mount(cat: Catalogue, old: str, new: str) -> int:
    """``relocate --this-machine``: record where this machine has the root ``old``."""
    try:
        root = tracks.add_mount(cat, os.fsencode(old), os.fsencode(new))
    except tracks.MountError as exc:
        raise CommandError("relocate", f"{exc}; nothing was changed") from exc
    print(
        printable(
            f"On this machine, {paths.fs_display(root.stored)} is now read at {new} (the other "
            "machines keep their own folders)."
        )
    )
    return 0


def cmd_lyrics(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the ingest stage's lyrics sources (Genius over the network); start-up stays light
    from musicorg.ingest import lyrics

    progress = Stderr(args.quiet)
    sidecars = lyrics.refresh_sidecars(cat, progress=progress)
    progress.end()
    print(f"Sidecar lyrics: {sidecars} new or changed.")
    if not args.genius:
        return 0
    token = args.token or settings_mod.load().genius_token
    if not token:
        raise CommandError(
            "lyrics",
            "Genius needs an API token: pass --token, set MUSICORG_GENIUS_TOKEN, "
            "or save one in the settings",
            status=2,
        )
    try:
        result = lyrics.fetch_genius(cat, token, progress=progress)
    except lyrics.GeniusAuthError as exc:
        progress.end()
        raise CommandError("lyrics", exc) from exc
    progress.end()
    print(printable(result.summary()))
    return 0
