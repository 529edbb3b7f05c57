"""Undo and redo of playlist edits (Edit → Undo, Ctrl+Z; Redo, Ctrl+Shift+Z or Ctrl+Y).

Each edit the sidebar makes (tracks added, removed or moved; a playlist created, renamed,
deleted, pinned or unpinned) is a command on one :class:`~PySide6.QtGui.QUndoStack`. The
first time a command runs it makes the edit through the same store or app function as
before, and notes what it needs to take it back: the playlist's tracks before and after, its
old name or pin, or, for a deletion, its name and tracks. Undo and redo write those back
through the store (``userlists.set_tracks``, ``userlists.restore``...), never SQL here.

A deleted playlist comes back under its old id when that is free, else under a new one; the
stack maps the old id to the new so that the commands before it still find their playlist.
The stack belongs to one open catalogue: it is emptied when another opens, and when a step
fails (the playlist was rebuilt away, say), since what follows it no longer fits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QMenu, QWidget

from musicorg.app import actions
from musicorg.gui.host import Host
from musicorg.keys import USER
from musicorg.store import userlists
from musicorg.store.db import Catalogue

UNDO_KEYS = (QKeySequence("Ctrl+Z"),)
REDO_KEYS = (QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y"))


def tracks(n: int) -> str:
    return "1 track" if n == 1 else f"{n} tracks"


class PlaylistUndo(QObject):
    """The undo stack of the playlist edits on the open catalogue."""

    def __init__(self, host: Host, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.stack = QUndoStack(self)
        self._cat: Catalogue | None = None
        self._moved: dict[int, int] = {}

    # -- ids of playlists that came back -------------------------------------------------------

    def resolve(self, playlist_id: int) -> int:
        """The id a playlist has now (a deleted one may have come back under another)."""
        seen = set()
        while playlist_id in self._moved and playlist_id not in seen:
            seen.add(playlist_id)
            playlist_id = self._moved[playlist_id]
        return playlist_id

    def came_back(self, old: int, new: int) -> None:
        if old != new:
            self._moved[old] = new

    # -- running edits -------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget every step (another catalogue opened, or a step failed)."""
        self.stack.clear()
        self._moved.clear()
        self._cat = None

    def run(self, command: PlaylistCommand) -> bool:
        """Make the edit now and keep it for undo. False when there is no catalogue, the edit
        failed (the window shows why) or it changed nothing; then nothing is kept."""
        cat = self.host.cat
        if cat is None:
            return False
        if cat is not self._cat:
            self.clear()
            self._cat = cat
        done: list[bool] = []

        def first() -> None:
            done.append(command.first(cat))

        self.host.edit(command.what, first)
        if not done or not done[0]:
            return False
        self.stack.push(command)  # its redo() skips this first time: the edit is made
        return True

    def step(self, what: str, fn: Callable[[Catalogue], object]) -> None:
        """An undo or redo of a command: its writes, then a new read of the library."""
        cat = self.host.cat
        if cat is None or cat is not self._cat:
            QTimer.singleShot(0, self.clear)  # not from inside the stack's own call
            return
        ok: list[bool] = []

        def write() -> None:
            fn(cat)
            ok.append(True)

        self.host.edit(what, write)
        if not ok:
            QTimer.singleShot(0, self.clear)

    # -- the Edit menu -------------------------------------------------------------------------

    def actions(self, parent: QObject) -> list[QAction]:
        """Undo and Redo, named after the step they take back or make again ("Undo Remove
        3 tracks"), off when there is none; shortcuts work anywhere in the window."""
        undo = self.stack.createUndoAction(parent, "Undo")
        undo.setShortcuts(list(UNDO_KEYS))
        redo = self.stack.createRedoAction(parent, "Redo")
        redo.setShortcuts(list(REDO_KEYS))
        for action in (undo, redo):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        return [undo, redo]

    def fill_menu(self, menu: QMenu, window: QWidget) -> None:
        """The Edit menu: Undo and Redo, also the window's (their keys work anywhere in it)."""
        for action in self.actions(window):
            menu.addAction(action)
            window.addAction(action)


class PlaylistCommand(QUndoCommand):
    """One playlist edit. :meth:`first` makes it (and says whether it changed anything),
    :meth:`apply` makes it again after an undo, :meth:`revert` takes it back."""

    what = "playlist"

    def __init__(self, owner: PlaylistUndo, text: str = "") -> None:
        super().__init__(text)
        self.owner = owner
        self.result: Any = None
        self._pushed = False

    def first(self, cat: Catalogue) -> bool:
        raise NotImplementedError

    def apply(self, cat: Catalogue) -> None:
        raise NotImplementedError

    def revert(self, cat: Catalogue) -> None:
        raise NotImplementedError

    def redo(self) -> None:
        if not self._pushed:
            self._pushed = True  # push() calls redo(): the edit was made by first()
            return
        self.owner.step("redo", self.apply)

    def undo(self) -> None:
        self.owner.step("undo", self.revert)


class TracksEdit(PlaylistCommand):
    """Tracks added to, removed from or moved in a user playlist: its tracks before and after."""

    def __init__(
        self,
        owner: PlaylistUndo,
        playlist_id: int,
        verb: str,
        edit: Callable[[Catalogue, int], object],
        count: int | None = None,
    ) -> None:
        """``verb``: "Add", "Remove" or "Move"; ``count``: how many tracks it moves (added
        and removed ones are counted)."""
        super().__init__(owner)
        self.playlist_id, self.verb, self.edit, self.count = playlist_id, verb, edit, count
        self.before: list[int] = []
        self.after: list[int] = []

    def first(self, cat: Catalogue) -> bool:
        pid = self.owner.resolve(self.playlist_id)
        self.before = userlists.track_ids(cat, pid)
        self.result = self.edit(cat, pid)
        self.after = userlists.track_ids(cat, pid)
        n = abs(len(self.after) - len(self.before)) if self.count is None else self.count
        self.setText(f"{self.verb} {tracks(n)}")
        return self.before != self.after

    def apply(self, cat: Catalogue) -> None:
        userlists.set_tracks(cat, self.owner.resolve(self.playlist_id), self.after)

    def revert(self, cat: Catalogue) -> None:
        userlists.set_tracks(cat, self.owner.resolve(self.playlist_id), self.before)


class Rename(PlaylistCommand):
    what = "rename"

    def __init__(self, owner: PlaylistUndo, playlist_id: int, kind: str, name: str) -> None:
        super().__init__(owner)
        self.playlist_id, self.kind, self.name, self.old = playlist_id, kind, name, ""

    def _rename(self, cat: Catalogue, name: str) -> None:
        rename = userlists.rename if self.kind == USER else actions.rename_auto_playlist
        rename(cat, self.owner.resolve(self.playlist_id), name)

    def first(self, cat: Catalogue) -> bool:
        state = userlists.state(cat, self.owner.resolve(self.playlist_id))
        self.old = state.name if state is not None else ""
        self._rename(cat, self.name)
        self.setText(f"Rename “{self.old}” to “{self.name}”")
        return self.old != " ".join(self.name.split())

    def apply(self, cat: Catalogue) -> None:
        self._rename(cat, self.name)

    def revert(self, cat: Catalogue) -> None:
        self._rename(cat, self.old)


class Pin(PlaylistCommand):
    what = "pin"

    def __init__(self, owner: PlaylistUndo, playlist_id: int, pinned: bool) -> None:
        super().__init__(owner)
        self.playlist_id, self.pinned = playlist_id, pinned

    def _pin(self, cat: Catalogue, pinned: bool) -> None:
        actions.pin_auto_playlist(cat, self.owner.resolve(self.playlist_id), pinned)

    def first(self, cat: Catalogue) -> bool:
        state = userlists.state(cat, self.owner.resolve(self.playlist_id))
        self._pin(cat, self.pinned)
        name = state.name if state is not None else ""
        self.setText(f"{'Pin' if self.pinned else 'Unpin'} “{name}”")
        return state is not None and state.pinned != self.pinned

    def apply(self, cat: Catalogue) -> None:
        self._pin(cat, self.pinned)

    def revert(self, cat: Catalogue) -> None:
        self._pin(cat, not self.pinned)


class Delete(PlaylistCommand):
    """A user playlist deleted; undo brings it back, with its name and tracks."""

    what = "delete"

    def __init__(self, owner: PlaylistUndo, playlist_id: int) -> None:
        super().__init__(owner)
        self.playlist_id, self.name = playlist_id, ""
        self.track_ids: list[int] = []

    def first(self, cat: Catalogue) -> bool:
        pid = self.owner.resolve(self.playlist_id)
        state = userlists.state(cat, pid)
        self.name = state.name if state is not None else ""
        self.track_ids = userlists.track_ids(cat, pid)
        userlists.delete_playlist(cat, pid)
        self.setText(f"Delete “{self.name}”")
        return True

    def apply(self, cat: Catalogue) -> None:
        userlists.delete_playlist(cat, self.owner.resolve(self.playlist_id))

    def revert(self, cat: Catalogue) -> None:
        pid = self.owner.resolve(self.playlist_id)
        self.owner.came_back(pid, userlists.restore(cat, pid, self.name, self.track_ids))


class Create(PlaylistCommand):
    """A new user playlist (its id is the result); undo deletes it, redo brings it back."""

    def __init__(self, owner: PlaylistUndo, name: str, track_ids: list[int]) -> None:
        super().__init__(owner)
        self.name, self.track_ids, self.playlist_id = name, list(track_ids), 0

    def first(self, cat: Catalogue) -> bool:
        self.name = userlists.free_name(cat, self.name)
        self.playlist_id = self.result = userlists.create(cat, self.name, self.track_ids)
        self.setText(f"New playlist “{self.name}”")
        return True

    def apply(self, cat: Catalogue) -> None:
        pid = self.owner.resolve(self.playlist_id)
        self.owner.came_back(pid, userlists.restore(cat, pid, self.name, self.track_ids))

    def revert(self, cat: Catalogue) -> None:
        userlists.delete_playlist(cat, self.owner.resolve(self.playlist_id))
