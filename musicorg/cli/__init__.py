"""The ``musicorg`` command: the GUI with no arguments, every stage headless as a subcommand.

One module per command group (``catalogue``, ``analyse``, ``playlists``, ``discover``, ``m3u``,
``models``), each with a ``HELP`` table and a ``register(subparsers)``; :data:`GROUPS` lists
them explicitly, in the order ``musicorg --help`` shows their commands. A new command goes in
the group it belongs to (or a new module added to :data:`GROUPS`); what they share is
``common``. No stage is imported until its command runs, so start-up stays light.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Final

from musicorg import __version__, paths
from musicorg.app import listeners
from musicorg.cli import analyse, catalogue, discover, m3u, models, playlists
from musicorg.cli.common import (
    CommandError,
    CommandGroup,
    catalogue_path,
    common_options,
    open_catalogue,
)
from musicorg.jobs import Cancelled
from musicorg.store import safety
from musicorg.store.db import CatalogueError

log = logging.getLogger("musicorg")

#: The command groups, registered in this order.
GROUPS: Final[tuple[CommandGroup, ...]] = (catalogue, analyse, playlists, discover, m3u, models)
#: Every command and its help line, as ``musicorg --help`` lists them.
COMMANDS: Final = [(name, text) for group in GROUPS for name, text in group.HELP.items()]


def build_parser() -> argparse.ArgumentParser:
    epilog = "commands:\n" + "\n".join(f"  {n:<11} {h}" for n, h in COMMANDS)
    epilog += "\n\nWith no command, the desktop app opens."
    parser = argparse.ArgumentParser(
        prog="musicorg",
        description="Organise a music library into automatic playlists and a map.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"musicorg {__version__}")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="start the GUI offscreen, run the pipeline, save a screenshot, exit",
    )
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        help="with --smoke: where to save the screenshot (default: the cache dir's smoke.png)",
    )
    common_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def setup_logging(verbose: bool = False) -> None:
    log_dir = paths.log_dir()
    handlers: list[logging.Handler] = []
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_dir / "musicorg.log", encoding="utf-8"))
    except OSError:
        pass
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers or [logging.NullHandler()],
    )


def _explain_damage(args: argparse.Namespace) -> None:
    path = catalogue_path(args)
    if safety.check_catalogue(path) is None:
        return
    found = safety.backups(path)
    if found:
        print("Backups of this catalogue (newest first):", file=sys.stderr)
        for b in found:
            print(f"  {b}", file=sys.stderr)
        print(
            "To restore one, move the damaged file away and copy a backup in its place; the "
            "app offers this on start.",
            file=sys.stderr,
        )


def gui_main() -> int:
    return main([])


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging()
    listeners.install()
    if args.command is None:
        # lazy: Qt loads only when the window opens, never for a command
        from musicorg.gui.app import run_gui

        return int(
            run_gui(demo=args.demo, db=args.db, smoke=args.smoke, screenshot=args.screenshot)
        )
    try:
        cat = open_catalogue(args)
    except CatalogueError as exc:
        print(f"musicorg: {exc}", file=sys.stderr)
        _explain_damage(args)
        return 1
    if not args.read_only:
        safety.rotate_backups(cat.path)
    try:
        return int(args.handler(args, cat))
    except CommandError as exc:
        print(exc, file=sys.stderr)
        return exc.status
    except Cancelled:
        print("Cancelled; the work done so far is kept.", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\nInterrupted; the work done so far is kept.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`musicorg tracks | head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CatalogueError as exc:
        print(f"musicorg: {exc}", file=sys.stderr)
        return 1
    finally:
        cat.close()
