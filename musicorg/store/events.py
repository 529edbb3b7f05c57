"""What the catalogue announces, and who listens.

The store does not know its listeners: a function that changes playlists is decorated with
:func:`announces_playlists_change`, and listeners (the playlist mirror, see
``musicorg.io.mirror.install``) register with :func:`on_playlists_changed`. Listeners run in
the thread that made the change, after its transaction has committed; one that fails is
logged and the others still run.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from musicorg.store.db import Catalogue

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
Listener = Callable[[Catalogue], object]

_listeners: list[Listener] = []
_lock = threading.Lock()


def on_playlists_changed(listener: Listener) -> None:
    """Call ``listener(cat)`` after every change of a catalogue's playlists (once per listener)."""
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def playlists_changed(cat: Catalogue) -> None:
    """Tell the listeners that ``cat``'s playlists changed."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(cat)
        except Exception:  # a listener's failure must not undo the change
            log.exception("playlists-changed listener %r failed", listener)


def announces_playlists_change(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a function whose first argument is a Catalogue: announce the change after it."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        result = fn(*args, **kwargs)
        cat = args[0] if args else kwargs.get("cat")
        if isinstance(cat, Catalogue):
            playlists_changed(cat)
        return result

    return wrapper
