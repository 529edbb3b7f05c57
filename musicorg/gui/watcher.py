"""Watching the music folders while the app runs: new, moved and deleted files are read in
a few seconds after they change, through the window's usual rescan (scan, then the analysis
of what is new; new tracks join their nearest playlists).

It uses :class:`~PySide6.QtCore.QFileSystemWatcher` (inotify on Linux), not polling: a watch
costs nothing while nothing changes, where polling a library of 100,000 files would stat
every file every few seconds. Qt watches one folder at a time, not the folders inside it, so
every sub-folder is added, up to :data:`MAX_FOLDERS` (the system's limit on watches is often
8,192, shared with other programs); past that, a plain message says the rest are read at the
next rescan. Listing the folders and checking that a copy has finished run on a thread of
their own: the UI thread never lists or stats a folder.

A change starts a wait of :data:`DEBOUNCE_MS`; each further change starts it again. When it
ends, the changed folders are checked for a file written in the last :data:`SETTLE_S`
seconds (a copy still going on): then it waits once more. Otherwise the folder list is read
again (a new album brings new folders to watch) and the window rescans.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from PySide6.QtCore import QFileSystemWatcher, QObject, Qt, QTimer, Signal

from musicorg.gui.pipeline_control import PipelineControl
from musicorg.settings import Settings
from musicorg.store.db import Catalogue

log = logging.getLogger(__name__)

#: How long after the last change the folders are read again.
DEBOUNCE_MS = 3000
#: A file written this recently may still be being copied: wait for it.
SETTLE_S = 2.0
#: The most folders watched at once.
MAX_FOLDERS = 4000


def list_folders(roots: Iterable[str], limit: int = MAX_FOLDERS) -> tuple[list[str], bool]:
    """The folders under ``roots`` (each root first, then breadth first, as the scanner
    sees them: hidden ones left out, links followed, each folder once), at most ``limit``;
    and whether there were more."""
    found: list[str] = []
    seen: set[tuple[int, int]] = set()
    queue = deque(roots)
    while queue:
        folder = queue.popleft()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                subs = sorted(e.path for e in it if not e.name.startswith(".") and e.is_dir())
        except OSError:  # gone or unreadable: the scan reports it
            continue
        if len(found) >= limit:
            return found, True
        found.append(folder)
        queue.extend(subs)
    return found, False


def recently_written(folders: Iterable[str], within_s: float = SETTLE_S) -> bool:
    """Whether a file in one of ``folders`` (not below them) was written in the last
    ``within_s`` seconds: a copy or a download that may not have finished."""
    since = time.time() - within_s
    for folder in folders:
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    if entry.is_file() and entry.stat().st_mtime > since:
                        return True
        except OSError:  # the folder went away: nothing is being written into it
            continue
    return False


class _Relay(QObject):
    """Hands what a thread found to the UI thread. There is one, for the life of the app: a
    thread that ends after its window was closed still has a live object to signal. The
    callbacks stay on the UI thread (a thread that held the last reference to a watcher
    would delete it, and its timers, on the wrong thread)."""

    done = Signal(int, object)

    def __init__(self) -> None:
        super().__init__()
        self.waiting: dict[int, Callable[[Any], None]] = {}
        self.next_token = 0
        self.done.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def _deliver(self, token: int, result: Any) -> None:
        then = self.waiting.pop(token, None)
        if then is not None and result is not _FAILED:
            with contextlib.suppress(RuntimeError):  # its watcher was deleted meanwhile
                then(result)


_relay: _Relay | None = None
#: What a thread that failed hands back.
_FAILED = object()


def in_thread(fn: Callable[[], Any], then: Callable[[Any], None]) -> None:
    """Run ``fn`` (plain data in, plain data out: no Qt object) on a thread of its own, then
    ``then(result)`` on the UI thread; call it from the UI thread. A failure is logged, and
    ``then`` is dropped (on the UI thread too)."""
    global _relay
    if _relay is None:
        _relay = _Relay()
    relay = _relay
    relay.next_token += 1
    token = relay.next_token
    relay.waiting[token] = then

    def work() -> None:
        try:
            result = fn()
        except Exception:  # the next change tries again; the log says why
            log.exception("watching the music folders failed")
            result = _FAILED
        relay.done.emit(token, result)

    threading.Thread(target=work, name="musicorg-watch", daemon=True).start()


class FolderWatcher(QObject):
    """Watches folders and says when what is in them changed and has settled."""

    #: something in the folders changed (a file or folder added, moved or deleted)
    changed = Signal()
    #: a message for the status bar (the limit on watched folders was reached)
    message = Signal(str)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        debounce_ms: int = DEBOUNCE_MS,
        limit: int = MAX_FOLDERS,
    ) -> None:
        super().__init__(parent)
        self.limit = limit
        self.roots: list[str] = []
        self.pending: set[str] = set()
        self._generation = 0  # results of an earlier watch are dropped
        self._qt = QFileSystemWatcher(self)
        self._qt.directoryChanged.connect(self._changed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._settle)

    def folders(self) -> list[str]:
        """The folders watched now."""
        return list(self._qt.directories())

    def watch(self, roots: list[str]) -> None:
        """Watch ``roots`` and every folder inside them (none: stop watching)."""
        if roots == self.roots:
            return
        self.stop()
        self.roots = list(roots)
        if roots:
            generation, limit = self._generation, self.limit
            in_thread(lambda: list_folders(roots, limit), lambda r: self._listed(generation, r))

    def stop(self) -> None:
        self._generation += 1
        self.roots = []
        self.pending.clear()
        self._timer.stop()
        watched = self._qt.directories()
        if watched:
            self._qt.removePaths(watched)

    def _listed(self, generation: int, listing: tuple[list[str], bool]) -> None:
        if generation != self._generation:
            return
        folders, capped = listing
        now = set(self._qt.directories())
        gone = [f for f in now if f not in set(folders)]
        if gone:
            self._qt.removePaths(gone)
        new = [f for f in folders if f not in now]
        if new:
            self._qt.addPaths(new)
        if capped:
            self.message.emit(
                f"Watching the first {self.limit:,} of your music folders for changes; "
                "changes in the others show after a rescan (F5)."
            )

    def _changed(self, folder: str) -> None:
        self.pending.add(folder)
        self._timer.start()

    def _settle(self) -> None:
        """The changes have stopped for a while: unless a file is still being written, read
        the folder list again and say that the folders changed."""
        generation, roots, limit = self._generation, list(self.roots), self.limit
        checked = set(self.pending)

        def look() -> tuple[bool, tuple[list[str], bool]]:
            if recently_written(checked):
                return True, ([], False)
            return False, list_folders(roots, limit)

        in_thread(look, lambda r: self._looked(generation, checked, *r))

    def _looked(
        self, generation: int, checked: set[str], busy: bool, listing: tuple[list[str], bool]
    ) -> None:
        if generation != self._generation:
            return
        if busy:
            self._timer.start()  # still being written: look again after another wait
            return
        self.pending -= checked
        self._listed(generation, listing)
        log.info("the music folders changed: %s", ", ".join(sorted(checked)))
        self.changed.emit()


class WatchHost(Protocol):
    """What the watching asks of the window."""

    @property
    def cat(self) -> Catalogue | None: ...

    @property
    def folders(self) -> list[str]: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def demo(self) -> bool: ...

    @property
    def pipeline(self) -> PipelineControl: ...

    def flash(self, text: str, ms: int = 5000) -> None: ...


class LibraryWatch(QObject):
    """The window's watch on its library's folders: on while a library (not the demo) is
    open and the setting allows it; a settled change rescans, after the run going on."""

    def __init__(self, host: WatchHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.watcher = FolderWatcher(self)
        self.watcher.changed.connect(self._changed)
        self.watcher.message.connect(lambda text: host.flash(text, 15000))
        self._due = False
        host.pipeline.finished.connect(self._pipeline_finished)

    def follow(self) -> None:
        """Watch what the window has open now, as the settings say (call after a library is
        opened or closed, or the settings changed)."""
        h = self.host
        on = h.cat is not None and not h.demo and h.settings.watch_folders
        self.watcher.watch(list(h.folders) if on else [])

    def stop(self) -> None:
        self._due = False
        self.watcher.stop()

    def _changed(self) -> None:
        if self.host.cat is None:
            return
        if self.host.pipeline.busy():
            self._due = True  # after the run going on
            return
        self.host.flash("Your music folders changed; reading them again.", 5000)
        self.host.pipeline.rescan()

    def _pipeline_finished(self, _outcome: str) -> None:
        if self._due:
            self._due = False
            QTimer.singleShot(0, self._changed)
