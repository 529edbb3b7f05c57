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
from collections.abc import Callable, Sequence
from typing import Final

from musicorg import __version__, paths
from musicorg.app import listeners
from musicorg.cli import analyse, catalogue, discover, doctor, m3u, models, playlists
from musicorg.cli.common import (
    CommandError,
    CommandGroup,
    common_options,
    explain_os_error,
    open_catalogue,
    printable,
)
from musicorg.jobs import Cancelled
from musicorg.store import safety, writelock
from musicorg.store.db import Catalogue, CatalogueError

log = logging.getLogger("musicorg")
#: The log file in ``paths.log_dir()``: where a failed command's traceback goes.
LOG_NAME: Final = "musicorg.log"

#: The command groups, registered in this order.
GROUPS: Final[tuple[CommandGroup, ...]] = (
    catalogue,
    analyse,
    playlists,
    discover,
    m3u,
    models,
    doctor,
)
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
    """Log to ``musicorg.log`` in the log folder: one file handler on the root logger, moved
    when the log folder has changed since the last call (a test's, or another home's)."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    target = os.path.abspath(paths.log_dir() / LOG_NAME)
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        if getattr(old, "baseFilename", None) == target:
            return
        root.removeHandler(old)
        old.close()
    try:
        paths.make_dir(paths.log_dir())
        handler = logging.FileHandler(target, encoding="utf-8")
    except OSError:
        return  # no log file: the one-line messages still say what went wrong
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    setattr(handler, _OURS, True)
    root.addHandler(handler)


#: Marks the handler that :func:`setup_logging` added.
_OURS = "_musicorg_log_file"


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
        return _run(args)
    except CommandError as exc:
        _say(str(exc))
        return exc.status
    except Cancelled:
        _say("Cancelled; the work done so far is kept.")
        return 130
    except KeyboardInterrupt:
        _say("Interrupted; the work done so far is kept.", newline=True)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`musicorg tracks | head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CatalogueError as exc:
        log.info("musicorg %s: %s", args.command, exc, exc_info=True)
        _say(f"musicorg {args.command}: {exc}")
        return 1
    except OSError as exc:
        log.error("musicorg %s failed", args.command, exc_info=True)
        _say(f"musicorg {args.command}: {explain_os_error(exc)}")
        return 1
    except MemoryError:
        log.error("musicorg %s ran out of memory", args.command, exc_info=True)
        _say(f"musicorg {args.command}: out of memory; close other programs and try again")
        return 1
    except Exception as exc:
        log.error("musicorg %s failed", args.command, exc_info=True)
        _say(
            f"musicorg {args.command}: unexpected error ({type(exc).__name__}: {exc}); "
            f"the details are in {paths.log_dir() / LOG_NAME}; please report it"
        )
        return 1


def _run(args: argparse.Namespace) -> int:
    """Run the command: a plain one as it is, any other on its open catalogue. A command that
    writes holds the catalogue's write lock (waiting for another process's, unless
    ``--no-wait``) and backs the catalogue up first."""
    plain = getattr(args, "plain_handler", None)
    if plain is not None:
        return int(plain(args))
    cat = open_catalogue(args)
    try:
        if args.read_only:
            return int(args.handler(args, cat))
        if args.own_lock:
            safety.rotate_backups(cat.path)
            return int(args.handler(args, cat))
        with writelock.hold(
            cat.path, f"musicorg {args.command}", wait=not args.no_wait, on_wait=_waiting(cat)
        ):
            safety.rotate_backups(cat.path)
            return int(args.handler(args, cat))
    finally:
        cat.close()


def _waiting(cat: Catalogue) -> Callable[[str], None]:
    def say(holder: str) -> None:
        print(writelock.waiting_text(holder, cat.path), file=sys.stderr, flush=True)

    return say


def _say(text: str, *, newline: bool = False) -> None:
    """One line on stderr, whatever ``text`` holds (an error's own newlines become spaces)."""
    line = " ".join(part.strip() for part in text.splitlines() if part.strip())
    sys.stderr.write(("\n" if newline and sys.stderr.isatty() else "") + printable(line) + "\n")
