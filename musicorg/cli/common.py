"""What every command group shares: the options, how a command is registered, the catalogue it
opens, the progress printer, JSON and error output. Light by design: no stage is imported here."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeAlias

from musicorg import paths
from musicorg import settings as settings_mod
from musicorg.store.db import Catalogue, is_server_url

#: A command: its parsed arguments and the open catalogue in, the exit status out.
Handler = Callable[[argparse.Namespace, Catalogue], int]
#: A command that opens no catalogue itself (``doctor`` looks at a damaged one from outside).
PlainHandler = Callable[[argparse.Namespace], int]
#: What ``parser.add_subparsers()`` answers (argparse keeps its class private).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CommandGroup(Protocol):
    """A module of ``musicorg.cli`` with commands: their help lines, in the order they are
    listed, and the function that adds them to the parser."""

    @property
    def HELP(self) -> Mapping[str, str]: ...

    def register(self, sub: Subparsers) -> None: ...


class Stderr:
    """Progress on stderr: a rewritten line on a terminal, sparse lines otherwise."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._last = ""

    def __call__(self, done: int, total: int, text: str) -> None:
        if self.quiet:
            return
        line = f"[{done}/{total}] {text}" if total else text
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + line[:200])
            sys.stderr.flush()
        elif line != self._last and (total == 0 or done == total or done % 1000 == 0):
            sys.stderr.write(line + "\n")
        self._last = line

    def end(self) -> None:
        if self.tty and not self.quiet and self._last:
            sys.stderr.write("\n")


def common_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``--db``, ``--demo``, ``--no-wait`` and ``-q``, before the command (``top``) or after it."""
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--db",
        metavar="FILE|URL",
        default=default,
        help="catalogue file, or a postgresql://USER@HOST/DATABASE URL (default: the "
        "settings' catalogue_url, else the user data dir's file)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="use the bundled demo library and its own catalogue",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="when another musicorg process is writing to the catalogue, stop at once "
        "instead of waiting for it",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="no progress output",
    )


def add_command(
    sub: Subparsers,
    helps: Mapping[str, str],
    name: str,
    handler: Handler,
    *,
    aliases: Sequence[str] = (),
    read_only: bool = False,
    own_lock: bool = False,
) -> argparse.ArgumentParser:
    """Register the command ``name`` (its help line from ``helps``), run by ``handler``. A
    ``read_only`` command makes no backup of the catalogue before it runs and takes no lock;
    any other holds the catalogue's write lock while it runs, unless it takes the lock itself
    only where it writes (``own_lock``: a retraining reads, trains for a long time, then
    writes)."""
    text = helps[name]
    parser = sub.add_parser(name, aliases=list(aliases), help=text, description=text)
    common_options(parser, top=False)
    parser.set_defaults(handler=handler, read_only=read_only, own_lock=own_lock)
    return parser


def add_plain_command(
    sub: Subparsers, helps: Mapping[str, str], name: str, handler: PlainHandler
) -> argparse.ArgumentParser:
    """Register the command ``name``, run by ``handler`` with its arguments only: ``main`` opens
    no catalogue for it, makes no backup and takes no lock."""
    text = helps[name]
    parser = sub.add_parser(name, help=text, description=text)
    common_options(parser, top=False)
    parser.set_defaults(plain_handler=handler, read_only=True)
    return parser


def json_flag(parser: argparse.ArgumentParser, text: str = "print JSON") -> None:
    parser.add_argument("--json", action="store_true", help=text)


def device_option(parser: argparse.ArgumentParser, text: str = "where the model runs") -> None:
    parser.add_argument("--device", choices=settings_mod.DEVICES, help=text)


def catalogue_path(args: argparse.Namespace) -> Path | str:
    """The catalogue: ``--db`` (a file, or a PostgreSQL URL), else the demo's with ``--demo``,
    else the settings' ``catalogue_url``, else the user's file."""
    if args.db:
        return str(args.db) if is_server_url(args.db) else Path(args.db)
    if args.demo:
        return paths.demo_db_path()
    return settings_url() or paths.default_db_path()


def settings_url() -> str:
    """The settings' ``catalogue_url`` ("" when none, or when the settings cannot be read: the
    commands that need them say why)."""
    try:
        return settings_mod.load().catalogue_url
    except (OSError, ValueError):
        return ""


def open_catalogue(args: argparse.Namespace) -> Catalogue:
    return Catalogue(catalogue_path(args))


#: What ``json.dumps`` leaves raw without ``ensure_ascii``: DEL, the C1 controls (U+009B is
#: a CSI to some terminals) and lone surrogates (which no terminal can encode). JSON allows
#: them only inside strings, where ``\\uXXXX`` means the same.
_JSON_VISIBLE = {c: f"\\u{c:04x}" for c in (*range(0x7F, 0xA0), *range(0xD800, 0xE000))}


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False).translate(_JSON_VISIBLE))
    sys.stdout.write("\n")


class CommandError(Exception):
    """Why a command stopped: ``main`` prints ``musicorg COMMAND: MESSAGE`` on stderr and exits
    with ``status``."""

    def __init__(self, command: str, message: object, status: int = 1) -> None:
        super().__init__(f"musicorg {command}: {message}")
        self.status = status


@contextmanager
def model_errors(
    command: str,
    refused: tuple[type[Exception], ...],
    progress: Stderr | None = None,
    explain: Callable[[Exception], str] = str,
) -> Iterator[None]:
    """Around work that runs a model: what the user can act on, a ``refused`` error (worded by
    ``explain``) or torch's CUDA failure (no GPU, out of GPU memory), becomes a
    :class:`CommandError` instead of a traceback. The progress line ends first, unless the
    user interrupted (``main`` says so on a line of its own)."""
    end = progress.end if progress is not None else _nothing
    try:
        yield
    except refused as exc:
        end()
        raise CommandError(command, explain(exc)) from exc
    except RuntimeError as exc:
        end()
        if "cuda" not in str(exc).lower():
            raise
        raise CommandError(command, exc) from exc
    end()


#: What to do about an operating-system error, by errno; ``{where}`` is the file it names.
_OS_ADVICE = {
    errno.ENOSPC: "no space left on the disk{where}; free some space and run the command again",
    errno.EDQUOT: "disk quota exceeded{where}; free some space and run the command again",
    errno.EACCES: "permission denied{where}; check who may read and write it",
    errno.EPERM: "operation not permitted{where}; check who may read and write it",
    errno.EROFS: "read-only file system{where}; choose a place that can be written",
    errno.ENOENT: "no such file or folder{where}",
    errno.ENOTDIR: "not a folder{where}",
    errno.EISDIR: "a folder, not a file{where}",
    errno.EIO: "input/output error{where}; the disk may be failing or disconnected",
}


def explain_os_error(exc: OSError) -> str:
    """One line for a failed file operation: what went wrong, on which file, what to do."""
    name = exc.filename if exc.filename is not None else None
    where = f" ({paths.fs_display(os.fspath(name))})" if name is not None else ""
    advice = _OS_ADVICE.get(exc.errno or -1)
    if advice is not None:
        return advice.format(where=where)
    return f"{exc.strerror or exc}{where}"


def _nothing() -> None:
    pass


def fmt_duration(seconds: float) -> str:
    total = round(seconds)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


#: Each control character (C0, DEL, C1) as a visible escape; so is each lone surrogate (a
#: non-UTF-8 byte of a file name, as ``os.fsdecode`` keeps it), which no terminal can encode.
_VISIBLE = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))} | {
    c: f"\\x{c - 0xDC00:02x}" if 0xDC80 <= c <= 0xDCFF else f"\\u{c:04x}"
    for c in range(0xD800, 0xE000)
}


def printable(value: object) -> str:
    """``value`` as text that is safe to print on a terminal: every control character (ESC,
    BEL, CSI, tab, newline…) shown as an escape such as ``\\x1b``, so that text from tags,
    file names or playlist files can neither move the cursor, retitle the window nor clear the
    screen. Use it on one line or one field at a time; JSON output needs none of it."""
    return str(value).translate(_VISIBLE)


def abs_path(folder: str) -> str:
    return os.path.abspath(os.path.expanduser(folder))
