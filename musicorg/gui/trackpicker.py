"""Choosing one track of the library: a search field over every text column (title, artist,
album, genre, file) and the list of what matches, for "Path to…" and anything else that
needs a track by name. Typing a word from the middle of a title finds it; untagged tracks
read as their file name and folder, so that two "track10" tell apart. The search is the
table's own (:meth:`musicorg.gui.snapshot.Snapshot.match`, vectorised), so it stays instant
at 100,000 tracks; the list shows the first :data:`SHOWN` matches and says how many more."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListView,
    QVBoxLayout,
    QWidget,
)

from musicorg.gui.snapshot import Snapshot

#: At most this many matches are listed (typing more narrows them).
SHOWN = 500

Index = QModelIndex | QPersistentModelIndex


class _Matches(QAbstractListModel):
    """The rows of a snapshot that match, each as "label — album · file"."""

    def __init__(self, snap: Snapshot, parent: Any = None) -> None:
        super().__init__(parent)
        self.snap = snap
        self.rows = np.zeros(0, dtype=np.int64)

    def set_rows(self, rows: np.ndarray) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = int(self.rows[index.row()])
        if role == Qt.ItemDataRole.DisplayRole:
            return describe(self.snap, row)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.snap.file_path(row)
        return None


def describe(snap: Snapshot, row: int) -> str:
    """One line that tells a track apart: its label, then the album (when the label does not
    already say it) and the file's name."""
    parts = [snap.label(row)]
    album = snap.text("album", row)
    if album and album not in parts[0]:
        parts.append(album)
    path = snap.text("path", row)
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    if name and name.rsplit(".", 1)[0] not in parts[0]:  # untagged: the title is the name
        parts.append(name)
    return "  —  ".join(parts)


class TrackPicker(QDialog):
    """A dialog that picks one track of ``snap`` (not ``exclude``)."""

    def __init__(
        self,
        snap: Snapshot,
        title: str,
        prompt: str,
        *,
        exclude: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.snap = snap
        self.exclude = exclude
        self.search = QLineEdit()
        self.search.setPlaceholderText("Any part of a title, artist, album, genre or file name")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search tracks")
        self.list = QListView()
        self.list.setAccessibleName("Matching tracks")
        self.list.setUniformItemSizes(True)  # fast with hundreds of rows
        self.matches = _Matches(snap, self)
        self.list.setModel(self.matches)
        self.count = QLabel()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.list.doubleClicked.connect(lambda _i: self.accept())
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(prompt))
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.count)
        layout.addWidget(self.buttons)
        self.resize(640, 420)
        self.search.textChanged.connect(self.filter)
        self.search.installEventFilter(self)
        self.search.returnPressed.connect(self._enter)
        self.filter("")

    def filter(self, text: str) -> None:
        """List the tracks that match every word of ``text``; select the first."""
        mask = self.snap.match(text) if len(self.snap) else np.zeros(0, dtype=bool)
        if self.exclude is not None:
            own = self.snap.row_of(self.exclude)
            if own is not None:
                mask[own] = False
        rows = np.flatnonzero(mask)
        self.matches.set_rows(rows[:SHOWN])
        total = len(rows)
        if total > SHOWN:
            self.count.setText(f"{total:,} tracks match; the first {SHOWN} are listed.")
        elif total:
            self.count.setText("1 track matches." if total == 1 else f"{total:,} tracks match.")
        else:
            self.count.setText("Nothing matches.")
        if total:
            self.list.setCurrentIndex(self.matches.index(0))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(total > 0)

    def eventFilter(self, watched: Any, event: Any) -> bool:
        """Up and Down in the search field move in the list (the field keeps the focus)."""
        moves = (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)
        if (
            watched is self.search
            and isinstance(event, QKeyEvent)
            and event.type() == QKeyEvent.Type.KeyPress
            and event.key() in moves
        ):
            self.list.keyPressEvent(event)
            return True
        return super().eventFilter(watched, event)

    def _enter(self) -> None:
        """Enter in the search field picks the selected match."""
        if self.chosen() is not None:
            self.accept()

    def chosen(self) -> int | None:
        """The picked track's id, or None."""
        index = self.list.currentIndex()
        if not index.isValid():
            return None
        return int(self.snap.ids[int(self.matches.rows[index.row()])])


def pick_track(
    parent: QWidget, snap: Snapshot, title: str, prompt: str, *, exclude: int | None = None
) -> int | None:
    """Ask for one track (modal); its id, or None when cancelled."""
    dialog = TrackPicker(snap, title, prompt, exclude=exclude, parent=parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.chosen()
