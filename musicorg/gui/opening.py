"""Opening a catalogue without the UI thread waiting on it. No Qt here.

A catalogue that was not closed cleanly (the app was killed) gets a ``PRAGMA quick_check`` when
it opens, which reads the whole file: 138 ms at 100k tracks, seconds at a million. An older
schema is backed up and migrated, and a shared catalogue is a server that may be slow to
answer. So an existing catalogue opens in a worker (the window's "open" job), and the window
says what it is doing meanwhile; its ``cat`` stays None until the catalogue is open, so nothing
writes to it before the check is done. A new catalogue file has nothing to check or migrate:
it opens at once, and a scan can follow straight away.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from musicorg.jobs import CancelFn, ProgressFn
from musicorg.store.db import Catalogue, CatalogueError, closed_cleanly, is_server

#: What the status bar says while a catalogue that was not closed cleanly is checked.
CHECKING = "Checking the library after an unclean shutdown…"
#: ... while a catalogue closed cleanly opens.
OPENING = "Opening the library…"
#: ... while a shared catalogue's server is reached.
CONNECTING = "Connecting to the shared library…"

#: What opening gives: the open catalogue, or the error that says why it cannot be opened.
Opened = Catalogue | CatalogueError


def at_once(location: Path | str) -> bool:
    """Whether the catalogue at ``location`` opens on the caller's thread: a file that does not
    exist yet (nothing there to check or migrate)."""
    return not is_server(location) and not Path(location).exists()


def message(location: Path | str) -> str:
    """What the window says while the catalogue at ``location`` opens in the background."""
    if is_server(location):
        return CONNECTING
    return OPENING if closed_cleanly(Path(location)) else CHECKING


def open_catalogue(location: Path | str, cancel: CancelFn | None = None) -> Opened:
    """The catalogue at ``location``, checked (when it was not closed cleanly) and migrated;
    or the :class:`CatalogueError` that says why not. ``cancel`` stops the check
    (:class:`~musicorg.jobs.Cancelled`)."""
    try:
        return Catalogue(location, cancel=cancel)
    except CatalogueError as exc:
        return exc


def load_playback_modules() -> None:
    """Import the audio stack (miniaudio, soundfile, soxr, mutagen and the player) now, off the
    UI thread: the window's playback session is made as soon as the catalogue is open, and
    imported there, their module code held the UI thread for ~40 ms as the library opened (a
    stall of 80-160 ms with the opening's threads wanting the GIL)."""
    import musicorg.app.playback  # noqa: F401  # lazy: the window's start-up stays light


def open_job(location: Path | str, _progress: ProgressFn, cancel: CancelFn) -> Opened:
    """:func:`open_catalogue` as a stage of the task runner; the modules the open library
    needs next are imported here too (:func:`load_playback_modules`)."""
    opened = open_catalogue(location, cancel)
    with contextlib.suppress(ImportError):  # then it fails where it is used, as before
        load_playback_modules()
    return opened
