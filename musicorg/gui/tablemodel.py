"""The library table's model: a view (numpy row indices) over a :class:`Snapshot`.

Qt asks only for the visible cells; sorting and filtering replace the view array in one go.
Rows drag out as file URLs (other apps accept them) plus the track ids (our playlists do).
The track the player is on is shown in bold with a play mark. A result list that says why
each track is in it (a query in words, "for you") has one more column, "Why", after the
others; sorting by it gives the list's own order back. A value guessed from the file (the
file name as title, the folder as album) is grey and slanted; a file with the same audio as
others says which in its Duplicate cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QUrl,
)
from PySide6.QtGui import QBrush, QFont, QIcon
from PySide6.QtWidgets import QApplication, QStyle

from musicorg.gui import theme
from musicorg.gui.snapshot import COLUMNS, NUMBER_COLUMNS, Snapshot

TRACK_IDS_MIME = "application/x-musicorg-track-ids"
WHY_HEADER = "Why"
#: What a column's header says when hovered.
HEADER_TIPS = {
    "copies": "How many files hold this audio, when it is more than one. "
    "Search for is:duplicate to list them together.",
}
#: What a value guessed from the file says when hovered, per column.
GUESSED = {
    "title": "No title tag: this is the file's name.",
    "album": "No album tag: this is the folder's name.",
}

Index = QModelIndex | QPersistentModelIndex

_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_DECORATION = int(Qt.ItemDataRole.DecorationRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole.value)
_USER = int(Qt.ItemDataRole.UserRole.value)
_RIGHT = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
#: The roles :meth:`TrackTableModel.data` may answer; it answers None to the others at once.
#: A view asks for seven roles of every cell it paints, each a call into Python on the UI
#: thread (a few thousand per repaint of a big window), so the ones never answered cost
#: the least they can.
_ANSWERED = frozenset(
    int(r.value)
    for r in (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.FontRole,
        Qt.ItemDataRole.TextAlignmentRole,
        Qt.ItemDataRole.UserRole,
        Qt.ItemDataRole.DecorationRole,
    )
)
#: The key of each column, by index.
_KEYS = [key for key, _header in COLUMNS]


def encode_ids(ids: list[int]) -> QByteArray:
    return QByteArray(",".join(str(i) for i in ids).encode("ascii"))


def decode_ids(mime: QMimeData) -> list[int]:
    if not mime.hasFormat(TRACK_IDS_MIME):
        return []
    raw = bytes(mime.data(TRACK_IDS_MIME).data()).decode("ascii", "replace")
    return [int(x) for x in raw.split(",") if x.strip().isdigit()]


class TrackTableModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.snap = Snapshot.empty()
        self.rows = np.zeros(0, dtype=np.int64)
        self.query = ""
        self.scope: np.ndarray | None = None
        self.sort_key: str | None = None
        self.descending = False
        self.highlight: np.ndarray | None = None  # bool per snapshot row (e.g. map picks)
        self._missing_brush = QBrush(theme.dimmed())
        self._guessed_brush = QBrush(theme.muted())
        self._italic = QFont()
        self._italic.setItalic(True)
        self.current_id = 0  # the track the player is on (0: none)
        self._current_row = -1  # its snapshot row
        self._bold = QFont()
        self._bold.setBold(True)
        self._play_icon: QIcon | None = None
        #: Why each track of the result list shown is in it, by track id (None: no Why column).
        self.why: dict[int, str] | None = None

    # --- Qt model API ---------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        extra = 0 if self.why is None else 1
        return 0 if parent.isValid() else len(COLUMNS) + extra

    def why_column(self) -> int | None:
        """The index of the Why column, when there is one."""
        return None if self.why is None else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ANSWERED or not index.isValid():
            return None
        row = int(self.rows[index.row()])
        column = index.column()
        if column >= len(COLUMNS):  # the Why column of a result list
            if self.why is None or role not in (_DISPLAY, _TOOLTIP):
                return None
            return self.why.get(int(self.snap.ids[row]), "")
        key = _KEYS[column]
        if role == _DISPLAY:
            return self.snap.text(key, row)
        if role == _DECORATION:  # the play mark of the track the player is on
            return self._current_data(column, role) if row == self._current_row else None
        if self.why is not None and role == _TOOLTIP and key != "path":
            return self.why.get(int(self.snap.ids[row]), "")
        if role == _TOOLTIP:
            return self._tooltip(key, row)
        if role == _ALIGNMENT:
            return _RIGHT if key in NUMBER_COLUMNS else None
        if role == _USER:
            return int(self.snap.ids[row])
        guessed = key in self.snap.guessed and bool(self.snap.guessed[key][row])
        if role == _FOREGROUND:
            if self.snap.missing[row]:
                return self._missing_brush
            return self._guessed_brush if guessed else None
        # The font: slanted for a guessed value, bold for the track the player is on.
        if guessed and row != self._current_row:
            return self._italic
        return self._current_data(column, role) if row == self._current_row else None

    def _tooltip(self, key: str, row: int) -> str | None:
        """The whole path of a file; where a guessed value comes from; the other files of
        the same audio."""
        if key == "path":
            return self.snap.text("path", row)
        if key in self.snap.guessed and self.snap.guessed[key][row]:
            return GUESSED.get(key)
        if key == "copies":
            others = self.snap.copies_of(row)
            if len(others):
                return "Same audio as: " + ", ".join(self.snap.text("path", r) for r in others)
        return None

    def _current_data(self, column: int, role: int) -> Any:
        """The marks of the row the player is on: bold, and a play icon before the title."""
        if role == Qt.ItemDataRole.FontRole:
            return self._bold
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            if self._play_icon is None:
                style = QApplication.style()
                self._play_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay)
            return self._play_icon
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][1] if section < len(COLUMNS) else WHY_HEADER
        if role == Qt.ItemDataRole.ToolTipRole and section < len(COLUMNS):
            return HEADER_TIPS.get(COLUMNS[section][0])
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        if index.isValid():
            base |= Qt.ItemFlag.ItemIsDragEnabled
        return base

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column < 0 or column >= len(COLUMNS):
            self.sort_key = None  # the Why column: the result list's own order
        else:
            self.sort_key = COLUMNS[column][0]
        self.descending = order == Qt.SortOrder.DescendingOrder
        self._refresh()

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list", TRACK_IDS_MIME]

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def mimeData(self, indexes: Any) -> QMimeData:
        rows = sorted({int(i.row()) for i in indexes if i.isValid()})
        return self.mime_for_rows([int(self.rows[r]) for r in rows])

    def mime_for_rows(self, snap_rows: list[int]) -> QMimeData:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(self.snap.file_path(r)) for r in snap_rows])
        mime.setData(TRACK_IDS_MIME, encode_ids([int(self.snap.ids[r]) for r in snap_rows]))
        return mime

    # --- our API --------------------------------------------------------------------------

    def set_snapshot(self, snap: Snapshot) -> None:
        old_scope_ids = None if self.scope is None else self.snap.ids[self.scope]
        self.snap = snap
        if old_scope_ids is not None:
            self.scope = snap.rows_of(old_scope_ids)
        self.highlight = None
        self._current_row = self._row_of(self.current_id)
        self._refresh()

    def _row_of(self, track_id: int) -> int:
        row = self.snap.row_of(track_id) if track_id else None
        return -1 if row is None else row

    def set_current(self, track_id: int) -> None:
        """Mark the track the player is on (0: none)."""
        old = self._current_row
        self.current_id = track_id
        self._current_row = self._row_of(track_id)
        for row in {old, self._current_row} - {-1}:
            for view_row in self.view_rows_of(np.array([row], dtype=np.int64)):
                self.dataChanged.emit(
                    self.index(int(view_row), 0), self.index(int(view_row), len(COLUMNS) - 1)
                )

    def current_view_row(self) -> int | None:
        """The view row of the track the player is on, when it is shown."""
        if self._current_row < 0:
            return None
        found = self.view_rows_of(np.array([self._current_row], dtype=np.int64))
        return int(found[0]) if len(found) else None

    def columns_changed(self, keys: tuple[str, ...]) -> None:
        """The values of these columns changed in the snapshot: redraw their cells, and sort
        again when the rows are sorted by one of them."""
        if self.sort_key in keys:
            self._refresh()
            return
        for col, (key, _header) in enumerate(COLUMNS):
            if key in keys and self.rows.size:
                self.dataChanged.emit(self.index(0, col), self.index(len(self.rows) - 1, col))

    def set_why(self, why: dict[int, str] | None) -> None:
        """Say why each track of a result list is in it (None: no Why column)."""
        if why is None and self.why is None:
            return
        self.why = why
        self._refresh()

    def set_query(self, text: str) -> None:
        self.query = text
        self._refresh()

    def set_scope_ids(self, track_ids: list[int] | None) -> None:
        """Show only these tracks (in this order, until sorted), or all with None."""
        self.scope = None if track_ids is None else self.snap.rows_of(track_ids)
        self._refresh()

    def _refresh(self) -> None:
        self.beginResetModel()
        self.rows = self.snap.view(self.query, self.scope, self.sort_key, self.descending)
        self.endResetModel()

    def track_id(self, view_row: int) -> int:
        return int(self.snap.ids[int(self.rows[view_row])])

    def snap_row(self, view_row: int) -> int:
        return int(self.rows[view_row])

    def view_rows_of(self, snap_rows: np.ndarray) -> np.ndarray:
        """Positions in the current view of the given snapshot rows (those shown)."""
        where = np.full(len(self.snap), -1, dtype=np.int64)
        where[self.rows] = np.arange(len(self.rows), dtype=np.int64)
        pos: np.ndarray = where[snap_rows]
        out: np.ndarray = pos[pos >= 0]
        return out
