"""The play queue: track ids in order, the current one, and the history to go back through.

The queue is a list of track ids and a cursor. ``items[index]`` is the current track; the
cursor may stand past the last item (the queue ran out, or is empty), and then there is no
current track. :meth:`PlayQueue.next` moves on; every track left behind goes onto a history,
and :meth:`PlayQueue.previous` walks back through it: to the item before the cursor when that
is the track played before (the usual case), otherwise (the queue was replaced meanwhile) the
track comes back into the queue just before the cursor, so that ``next()`` returns to where
``previous()`` started.

Pure Python and not thread-safe: the caller holds the lock (``musicorg.app.playback``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

#: How many tracks the history keeps.
HISTORY: Final = 1000


class PlayQueue:
    """Track ids to play, a cursor on the current one, and the history of tracks left."""

    def __init__(self) -> None:
        self._items: list[int] = []
        self._pos = 0
        self._history: list[int] = []

    @property
    def items(self) -> tuple[int, ...]:
        """The queue's track ids in order (played, current and coming)."""
        return tuple(self._items)

    @property
    def index(self) -> int | None:
        """The position of the current track in :attr:`items`; None when there is none."""
        return self._pos if self._pos < len(self._items) else None

    @property
    def current(self) -> int | None:
        """The current track's id; None when the queue is empty or ran out."""
        return self._items[self._pos] if self._pos < len(self._items) else None

    @property
    def history(self) -> tuple[int, ...]:
        """The tracks left behind, oldest first."""
        return tuple(self._history)

    def _leave(self) -> None:
        current = self.current
        if current is not None:
            self._history.append(current)
            del self._history[:-HISTORY]

    def replace(self, ids: Iterable[int], start: int = 0) -> int | None:
        """The queue becomes ``ids``, current at ``start``; returns the current id."""
        self._leave()
        self._items = [int(i) for i in ids]
        self._pos = min(max(0, start), len(self._items))
        return self.current

    def add(self, ids: Iterable[int]) -> None:
        """Append ``ids`` to the end. (On a queue that ran out, the first of them becomes
        the current track.)"""
        self._items.extend(int(i) for i in ids)

    def play_next(self, ids: Iterable[int]) -> None:
        """Insert ``ids`` right after the current track (at the cursor when there is none,
        so that the first of them becomes the current track)."""
        at = self._pos + 1 if self.current is not None else self._pos
        self._items[at:at] = [int(i) for i in ids]

    def next(self) -> int | None:
        """Move to the next track and return it; None when the queue runs out."""
        if self._pos >= len(self._items):
            return None
        self._leave()
        self._pos += 1
        return self.current

    def previous(self) -> int | None:
        """Go back to the track played before the current one and return it; the current
        track stays when there is no history."""
        if not self._history:
            return self.current
        back = self._history.pop()
        if self._pos > 0 and self._items[self._pos - 1] == back:
            self._pos -= 1
        else:
            self._items.insert(self._pos, back)
        return self.current

    def remove(self, index: int) -> bool:
        """Remove the item at ``index``; True when it was the current track (the one after
        it is current now, if any)."""
        if not 0 <= index < len(self._items):
            raise IndexError(f"no item {index} in a queue of {len(self._items)}")
        del self._items[index]
        if index < self._pos:
            self._pos -= 1
            return False
        return index == self._pos

    def clear(self) -> None:
        """Empty the queue; the current track, if any, goes onto the history."""
        self._leave()
        self._items = []
        self._pos = 0
