"""One writer per catalogue: an advisory lock file beside it, held for a whole writing command.

SQLite serialises single transactions, but a scan or an analysis is many transactions, each
planned from what it read before: two scans at once both find a path new and both insert it.
So a command that writes takes ``CATALOGUE.lock`` (``catalogue.sqlite.lock``) with ``flock``
for its whole run. The kernel releases it when the process ends, however it ends, so a killed
command never leaves the catalogue locked. After taking it, the holder writes who it is (pid,
command, start time, host) into the file, for the message of whoever waits.

Within one process the lock is re-entrant (a count per catalogue, shared by all threads): the
command line holds it for a whole command and the pipeline takes it again for each stage; the
window's stages take it in their worker thread (or in their own process, for the analysis). It
keeps *other processes* out; a process orders its own writers itself.

Where ``fcntl`` is missing (Windows), or the lock file cannot be made (a read-only folder),
``hold`` does not lock: the catalogue's own busy timeout is then the only guard.

A catalogue on a PostgreSQL server (its URL, or its connection file) takes no lock here: the
server's transactions and row locks let several writers work at once, on several machines.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from musicorg.jobs import CancelFn, check, never
from musicorg.store.db import CatalogueError, is_server

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, see the module's note
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: How often a waiting ``hold`` tries the lock again (and looks at ``cancel``), in seconds.
POLL_S: Final = 0.2
#: What a refusal (``wait=False``) tells the user to do, after "try again when it is done".
NO_WAIT_HINT: Final = "or leave out --no-wait to wait"
_MAX_HOLDER_BYTES = 4096


class CatalogueLockedError(CatalogueError):
    """Another process is writing to the catalogue and the caller asked not to wait."""

    def __init__(self, message: str, holder: Holder | None) -> None:
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    """Who holds a catalogue's write lock, as it wrote itself into the lock file."""

    pid: int
    command: str
    since: float
    host: str

    def short(self) -> str:
        """``musicorg scan (pid 1234)``; the host too when it is not this one."""
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return f"{self.command} (pid {self.pid}{where})"

    def long(self) -> str:
        """``musicorg scan, pid 1234, since 18:40:12``."""
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return f"{self.command}, pid {self.pid}{where}, since {_clock(self.since)}"


def _clock(t: float) -> str:
    then = time.localtime(t)
    if time.strftime("%Y-%m-%d", then) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M:%S", then)
    return time.strftime("%Y-%m-%d %H:%M", then)


def lock_path(db_path: str | os.PathLike[str]) -> Path:
    """The lock file of the catalogue at ``db_path``: the same name with ``.lock`` added."""
    db = Path(db_path)
    return db.with_name(db.name + ".lock")


def holder(db_path: str | os.PathLike[str]) -> Holder | None:
    """Who last wrote itself into the lock file (None: nobody, or unreadable). The lock may
    have been released since: this reads the file, it does not test the lock."""
    try:
        with open(lock_path(db_path), "rb") as fh:
            raw = fh.read(_MAX_HOLDER_BYTES)
        data = json.loads(raw.decode("utf-8"))
        return Holder(
            int(data["pid"]), str(data["command"]), float(data["since"]), str(data["host"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


#: How :func:`waiting_text` begins, for a front end that keeps that text shown while it lasts.
WAITING: Final = "Waiting for "


def waiting_text(holder_text: str, db_path: str | os.PathLike[str]) -> str:
    """What a waiting command shows: ``Waiting for musicorg scan (pid 1234) to finish writing
    X…``."""
    return f"{WAITING}{holder_text} to finish writing {db_path}…"


def locked_message(found: Holder | None, db_path: str | os.PathLike[str], hint: str) -> str:
    """The one line of a refusal to wait."""
    who = f"another musicorg process ({found.long()})" if found else "another musicorg process"
    tail = f"try again when it is done, {hint}" if hint else "try again when it is done"
    return f"{who} is writing to {db_path}; {tail}"


@dataclass
class _Held:
    fd: int | None  # None: held without a lock (no fcntl, or no lock file could be made)
    count: int


_guard = threading.Lock()
_held: dict[str, _Held] = {}


@contextmanager
def hold(
    db_path: str | os.PathLike[str],
    command: str,
    *,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    cancel: CancelFn = never,
    hint: str = NO_WAIT_HINT,
) -> Iterator[None]:
    """Hold the write lock of the catalogue at ``db_path`` for the ``with`` block.

    ``command`` says who holds it (``"musicorg scan"``). When another process holds it:
    with ``wait=False``, raise :class:`CatalogueLockedError` naming that process; otherwise
    call ``on_wait(holder_text)`` (``"musicorg scan (pid 1234)"``), then again only if another
    process takes the lock first, and try every :data:`POLL_S` seconds until it is free;
    ``cancel()`` stops the wait with :class:`musicorg.jobs.Cancelled`.
    Re-entrant within a process (any thread): a nested ``hold`` returns at once. A catalogue
    on a server takes no lock (see the module's note).
    """
    if is_server(db_path):
        yield
        return
    key = _acquire(db_path, command, wait, on_wait, cancel, hint)
    try:
        yield
    finally:
        _release(key)


def _acquire(
    db_path: str | os.PathLike[str],
    command: str,
    wait: bool,
    on_wait: Callable[[str], None] | None,
    cancel: CancelFn,
    hint: str,
) -> str:
    path = lock_path(db_path)
    key = os.path.realpath(path)
    told: str | None = None
    fd: int | None = None
    try:
        while True:
            with _guard:
                held = _held.get(key)
                if held is not None:
                    held.count += 1
                    return key
                if fd is None:
                    fd = _open(path)
                if fd is None or _try_lock(fd):
                    _held[key] = _Held(fd, 1)
                    if fd is not None:
                        _write_holder(fd, command)
                    fd = None  # owned by _held now
                    return key
            found = _busy_holder(db_path, told is None)
            if not wait:
                raise CatalogueLockedError(locked_message(found, db_path, hint), found)
            text = found.short() if found else "another musicorg process"
            if told is None or (found is not None and text != told):
                told = text
                if on_wait is not None:
                    on_wait(text)
            check(cancel)
            time.sleep(POLL_S)
            check(cancel)
    finally:
        if fd is not None:
            os.close(fd)


def _busy_holder(db_path: str | os.PathLike[str], first: bool) -> Holder | None:
    """The holder, read again a moment later the first time when it has not written itself
    yet (it writes just after taking the lock)."""
    found = holder(db_path)
    if found is None and first:
        time.sleep(0.05)
        found = holder(db_path)
    return found


def _open(path: Path) -> int | None:
    """The lock file, open (made 0600 if new), or None when no lock can be taken here."""
    if fcntl is None:
        return None
    flags = os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | flags, 0o600)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise CatalogueError(f"cannot make the lock file {path}: {exc.strerror}") from exc
        try:  # a read-only folder or disk: flock needs no write access to a file that exists
            fd = os.open(path, os.O_RDONLY | flags)
        except OSError:
            log.warning("no write lock for %s: cannot make %s (%s)", path.stem, path, exc)
            return None
    try:
        st = os.fstat(fd)
        if st.st_mode & 0o777 != 0o600 and st.st_uid == os.geteuid():
            os.fchmod(fd, 0o600)
    except OSError:
        pass  # someone else's lock file, or a read-only one: it still locks
    return fd


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            log.warning("no write lock on this file system (%s): not locking", exc.strerror)
            return True
        raise
    return True


def _write_holder(fd: int, command: str) -> None:
    me = {"pid": os.getpid(), "command": command, "since": time.time()}
    data = json.dumps({**me, "host": socket.gethostname()}).encode("utf-8") + b"\n"
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    except OSError:
        pass  # a read-only lock file: it locks, it just cannot say who holds it


def _release(key: str) -> None:
    with _guard:
        held = _held[key]
        held.count -= 1
        if held.count:
            return
        del _held[key]
        if held.fd is None:
            return
        with suppress(OSError):
            os.ftruncate(held.fd, 0)  # nobody holds it: a stale name would mislead
        try:
            fcntl.flock(held.fd, fcntl.LOCK_UN)
        finally:
            os.close(held.fd)


def held_here(db_path: str | os.PathLike[str]) -> bool:
    """Whether this process holds the write lock of the catalogue at ``db_path``."""
    with _guard:
        return os.path.realpath(lock_path(db_path)) in _held
