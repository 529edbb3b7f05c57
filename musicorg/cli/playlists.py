"""The playlists command: the automatic playlists, listed with why each holds what it holds,
kept up to date (new tracks join their nearest playlists), rebuilt, fitted to new lengths,
or edited (rename, pin)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, Final

from musicorg import settings as settings_mod
from musicorg.cli.common import (
    CommandError,
    Stderr,
    Subparsers,
    add_command,
    fmt_duration,
    json_flag,
    print_json,
    printable,
)
from musicorg.store.db import Catalogue

if TYPE_CHECKING:
    from musicorg.organise.explain import Explanation
    from musicorg.organise.playlists import PlaylistInfo

HELP: Final = {"playlists": "automatic playlists"}


def register(sub: Subparsers) -> None:
    p = add_command(sub, HELP, "playlists", cmd_playlists)
    p.add_argument(
        "--rebuild", action="store_true", help="cluster again now (matched playlists keep names)"
    )
    p.add_argument(
        "--method",
        choices=settings_mod.CLUSTER_METHODS,
        help="clustering method (default: the setting, kmeans); implies --rebuild",
    )
    p.add_argument(
        "--min",
        type=int,
        metavar="N",
        help="shortest playlist (default: setting); without --rebuild the playlists are "
        "split and merged to fit, not clustered again",
    )
    p.add_argument("--max", type=int, metavar="N", help="longest playlist (as --min)")
    p.add_argument("--rename", nargs=2, metavar=("ID", "NAME"), help="rename a playlist")
    p.add_argument("--pin", type=int, metavar="ID", help="pin a playlist (keeps its tracks)")
    p.add_argument("--unpin", type=int, metavar="ID", help="unpin a playlist")
    json_flag(p)


def cmd_playlists(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the organise stage loads numpy and scipy; start-up stays light
    from musicorg.app.explain import explain_playlists
    from musicorg.organise import playlists

    try:
        lists = _edit_then_list(args, cat)
    except (playlists.PlaylistError, ValueError) as exc:
        raise CommandError("playlists", exc) from exc
    why = explain_playlists(cat, include_user=False) if lists else {}
    if args.json:
        print_json([_as_json(p, why.get(p.id)) for p in lists])
        return 0
    if not lists:
        print("No playlists yet: run `musicorg analyse`, then `musicorg playlists`.")
        return 0
    _print_playlists(lists, why)
    return 0


def _edit_then_list(args: argparse.Namespace, cat: Catalogue) -> list[PlaylistInfo]:
    """Apply --rename, --pin and --unpin; cluster again when asked (--rebuild, --method) or
    due, fit to new lengths (--min, --max), else let new tracks join their nearest playlists
    (unless this was an edit, or the catalogue is read-only); answer the playlists."""
    # lazy: the organise stage loads numpy and scipy; start-up stays light
    from musicorg.organise import playlists

    if args.rename:
        playlists.rename_playlist(cat, int(args.rename[0]), args.rename[1])
    if args.pin is not None:
        playlists.pin_playlist(cat, args.pin, True)
    if args.unpin is not None:
        playlists.pin_playlist(cat, args.unpin, False)
    edited = bool(args.rename) or args.pin is not None or args.unpin is not None
    rebuild = bool(args.rebuild or args.method)
    resize = not rebuild and (args.min is not None or args.max is not None)
    progress = Stderr(args.quiet)
    if resize:
        lists = playlists.resize_playlists(
            cat, playlist_min=args.min, playlist_max=args.max, progress=progress
        )
        progress.end()
        return lists
    if edited or cat.read_only:
        return playlists.list_playlists(cat)
    if not rebuild:
        if playlists.needs_recluster(cat) and not args.quiet:
            print("Building playlists (first time, or many new tracks)…", file=sys.stderr)
        lists, _rebuilt = playlists.ensure_playlists(cat, progress=progress)
        progress.end()
        return lists
    lists = playlists.build_playlists(
        cat,
        method=args.method,
        playlist_min=args.min,
        playlist_max=args.max,
        progress=progress,
    )
    progress.end()
    return lists


def _as_json(p: PlaylistInfo, why: Explanation | None) -> dict[str, Any]:
    return {
        "id": p.id,
        "group": p.group_name,
        "group_index": p.group_index,
        "name": p.name,
        "size": p.size,
        "duration": round(p.duration, 3),
        "unavailable": p.unavailable,
        "pinned": p.pinned,
        "renamed": p.renamed,
        "examples": p.examples,
        "track_ids": p.track_ids,
        "summary": why.summary if why is not None else None,
        "explanation": why.as_dict() if why is not None else None,
    }


def _print_playlists(lists: list[PlaylistInfo], why: dict[int, Explanation] | None = None) -> None:
    why = why or {}
    group: object = object()
    for p in lists:
        if p.group_index != group:
            group = p.group_index
            print(printable(p.group_name or "Ungrouped"))
        flags = "".join([" (pinned)" if p.pinned else "", " (renamed)" if p.renamed else ""])
        missing = f", {p.unavailable} unavailable" if p.unavailable else ""
        line = f"  {p.id:5}  {p.name}{flags}: {p.size} tracks, {fmt_duration(p.duration)}{missing}"
        print(printable(line))
        if p.id in why:
            print(printable(f"         {why[p.id].summary}"))
        if p.examples:
            print(printable(f"         e.g. {'; '.join(p.examples)}"))
    total = sum(p.size for p in lists)
    print(f"{len(lists)} playlists, {total} tracks.")
