"""The Library tab: the track table over the snapshot, the search box, the selection, and the
bar of a result list ("More like this", "Path to…", a pick on the map, a question in words,
a mix, "For you") shown in the table, with a note (words not understood, the plays used) and
why each track is in it when the list says so.

The table's columns are the user's: a right click on the header shows or hides them, they
move and resize, and a click on a header sorts (a third click gives the rows their own order
back, with no arrow). :meth:`LibraryView.layout_state` is what the window keeps in the
settings across restarts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QHideEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from musicorg.gui.latest import Latest
from musicorg.gui.snapshot import COLUMNS, FILTERS, PLAY_COLUMNS, Snapshot
from musicorg.gui.tablemodel import TrackTableModel
from musicorg.store.plays import PlayStats

#: The columns' widths until the user changes them: at 1280 by 800 pixels the title to the
#: file fit beside the side panels.
DEFAULT_WIDTHS = {
    "title": 170,
    "artist": 115,
    "album": 125,
    "duration": 52,
    "fmt": 54,
    "path": 160,
    "genre": 110,
    "year": 48,
    "copies": 70,
    "plays": 48,
    "last_played": 120,
    "skips": 48,
}
KEYS = [k for k, _ in COLUMNS]
#: From this many tracks on, the words of a search are looked for in a worker thread and the
#: table shows what they found once it is ready (each word is a pass over the library's text:
#: 50-70 ms at a million tracks); a smaller library is searched at once.
SEARCH_BACKGROUND_FROM = 200_000
#: A sort as the settings keep it: the column's key, "-" before it when descending ("": none).
SortState = tuple[str | None, bool]


def sort_text(key: str | None, descending: bool) -> str:
    return "" if key is None else ("-" if descending else "") + key


def parse_sort(text: str) -> SortState:
    key = text.lstrip("-")
    return (key, text.startswith("-")) if key in KEYS else (None, False)


class ElideMiddle(QStyledItemDelegate):
    """Long paths keep their start and their file name: the middle gives way."""

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle  # type: ignore[attr-defined]


class LibraryTable(QTableView):
    """The track table. Rows drag out (file URLs, track ids); while a user playlist is shown in
    its own order, rows dragged within the table reorder it."""

    #: view rows dropped at a view row (the playlist is reordered)
    rows_moved = Signal(object, int)
    #: the user showed or hid columns, or put them back
    columns_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reorderable = False
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        # No arrow until the user sorts: the rows come in the catalogue's (or a list's) order.
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.horizontalHeader().setSortIndicatorClearable(True)
        self.setSortingEnabled(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setShowGrid(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(22)
        self.horizontalHeader().setStretchLastSection(True)
        self.horizontalHeader().setSortIndicatorShown(True)
        self.horizontalHeader().setSectionsMovable(True)
        self.horizontalHeader().setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.horizontalHeader().customContextMenuRequested.connect(self._header_menu)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self._elide_middle = ElideMiddle(self)
        self.setItemDelegateForColumn(KEYS.index("path"), self._elide_middle)
        self._widths = [DEFAULT_WIDTHS.get(k, 70) for k in KEYS]

    def set_reorderable(self, on: bool) -> None:
        self.reorderable = on
        self.setAcceptDrops(on)
        self.setDropIndicatorShown(on)
        self.setDragDropMode(
            QAbstractItemView.DragDropMode.DragDrop
            if on
            else QAbstractItemView.DragDropMode.DragOnly
        )

    def _drop_row(self, event: Any) -> int:
        pos = event.position().toPoint()
        row = self.rowAt(pos.y())
        if row < 0:
            return self.model().rowCount()
        rect = self.visualRect(self.model().index(row, 0))
        return row + 1 if pos.y() > rect.center().y() else row

    def _accept_own(self, event: Any) -> bool:
        """Only rows of this table, and only while they may be reordered, are taken."""
        if self.reorderable and event.source() is self:
            event.acceptProposedAction()
            return True
        event.ignore()
        return False

    def dragEnterEvent(self, event: Any) -> None:
        self._accept_own(event)

    def dragMoveEvent(self, event: Any) -> None:
        self._accept_own(event)

    def dropEvent(self, event: Any) -> None:
        if not self._accept_own(event):
            return
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        event.setDropAction(Qt.DropAction.CopyAction)  # the model is changed by the move
        if rows:
            self.rows_moved.emit(rows, self._drop_row(event))

    def apply_widths(self) -> None:
        for i, w in enumerate(self._widths[:-1]):
            self.setColumnWidth(i, w)

    # -- the columns -----------------------------------------------------------------------

    def column_menu(self) -> QMenu:
        """Show or hide each column (the last one shown stays), or put them back as they were."""
        menu = QMenu(self)
        shown = [c for c in range(len(COLUMNS)) if not self.isColumnHidden(c)]
        for column, (_key, header) in enumerate(COLUMNS):
            action = menu.addAction(header)
            action.setCheckable(True)
            action.setChecked(column in shown)
            action.setEnabled(shown != [column])
            action.toggled.connect(lambda on, c=column: self.show_column(c, on))
        menu.addSeparator()
        menu.addAction("Reset columns", self.reset_columns)
        return menu

    def _header_menu(self, pos: QPoint) -> None:
        self.column_menu().popup(self.horizontalHeader().mapToGlobal(pos))

    def show_column(self, column: int, on: bool) -> None:
        self.setColumnHidden(column, not on)
        if on and self.columnWidth(column) < 20:
            self.setColumnWidth(column, self._widths[column])
        self.columns_changed.emit()

    def reset_columns(self) -> None:
        """Every column shown, in the first order, at the first widths."""
        header = self.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.moveSection(header.visualIndex(column), column)
            self.setColumnHidden(column, False)
        self.apply_widths()
        self.columns_changed.emit()

    def column_state(self) -> list[str]:
        """The columns in the order shown: "key:width", with ":hidden" for those hidden."""
        header = self.horizontalHeader()
        out: list[str] = []
        for visual in range(header.count()):
            column = header.logicalIndex(visual)
            if column >= len(COLUMNS):
                continue  # the Why column of a result list
            entry = f"{KEYS[column]}:{self.columnWidth(column)}"
            out.append(entry + ":hidden" if self.isColumnHidden(column) else entry)
        return out

    def restore_columns(self, state: list[str]) -> None:
        """Order, widths and shown columns from :meth:`column_state` (columns it does not
        name keep their place; what it cannot read is passed over)."""
        header = self.horizontalHeader()
        target = 0
        for entry in state:
            key, _, rest = entry.partition(":")
            width, _, hidden = rest.partition(":")
            if key not in KEYS:
                continue
            column = KEYS.index(key)
            header.moveSection(header.visualIndex(column), target)
            target += 1
            if width.isdigit() and int(width) > 0:
                self.setColumnWidth(column, int(width))
            self.setColumnHidden(column, hidden == "hidden")
        if all(self.isColumnHidden(c) for c in range(len(COLUMNS))):
            self.setColumnHidden(0, False)


class ElidedLabel(QLabel):
    """One line of text that takes the room it is given, cut with "…" when it needs more
    (so a long note never widens the window)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        shown = self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width()
        )
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(self.contentsRect(), int(align), shown)
        painter.end()


class LibraryView(QWidget):
    """The table, its search box (the window puts it in the toolbar) and its result bar."""

    #: the selected snapshot rows changed (np.ndarray)
    selection_changed = Signal(object)
    #: the rows shown changed (a search, a playlist, a result list)
    shown_changed = Signal()
    #: a result list is shown, with its title
    results_shown = Signal(str)
    #: the result list was closed: show what the sidebar selects again
    results_closed = Signal()
    #: the user changed the columns or the sort (a moment later, once): see layout_state
    layout_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = TrackTableModel(self)
        self.table = LibraryTable()
        self.table.setModel(self.model)
        self.table.apply_widths()
        #: The sort the user chose, which the whole library is shown in (a playlist opens in
        #: its own order without changing it).
        self.chosen_sort: SortState = (None, False)
        self._layout_timer = QTimer(self)
        self._layout_timer.setSingleShot(True)
        self._layout_timer.setInterval(500)
        self._layout_timer.timeout.connect(self.layout_changed)
        header = self.table.horizontalHeader()
        header.sectionResized.connect(self._layout_edited)
        header.sectionMoved.connect(self._layout_edited)
        header.sortIndicatorChanged.connect(self._sort_chosen)
        self.table.columns_changed.connect(self._layout_edited)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        # A reset (new snapshot, search, playlist) drops the selection without a signal.
        self.model.modelReset.connect(self._selection_changed)
        self.results: tuple[str, list[int]] | None = None
        self.selected_rows = np.zeros(0, dtype=np.int64)
        self._after_load: list[int] = []
        self._build_search()
        self._build_results_bar()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.results_bar)
        layout.addWidget(self.table)

    def _build_search(self) -> None:
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search title, artist, album, genre, file  (Ctrl+F)")
        self.search.setToolTip(
            "Words to find in the title, artist, album, genre or file; and filters: "
            + "; ".join(f"{word} for {what}" for word, what in FILTERS.items())
        )
        self.search.setClearButtonEnabled(True)
        self.filter_menu = QMenu(self.search)
        self.filter_menu.aboutToShow.connect(self._check_filters)
        for word, what in FILTERS.items():
            action = self.filter_menu.addAction(f"Only {what}  ({word})")
            action.setCheckable(True)
            action.setData(word)
            action.toggled.connect(lambda on, w=word: self.set_filter(w, on))
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_FileDialogDetailedView)
        self.filter_button: QAction = self.search.addAction(
            icon, QLineEdit.ActionPosition.TrailingPosition
        )
        self.filter_button.setToolTip("Show only duplicates, untagged or missing files")
        self.filter_button.triggered.connect(self._filter_menu)
        self.search.setMaximumWidth(420)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(120)
        self._search_timer.timeout.connect(self._apply_search)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        # The words of a search of a big library, looked for in a worker (then shown at once:
        # the snapshot keeps the rows each word is in).
        self._searches = Latest(self, "search", self._searched)

    def _build_results_bar(self) -> None:
        self.results_bar = QWidget()
        bar = QHBoxLayout(self.results_bar)
        bar.setContentsMargins(6, 2, 6, 2)
        self.results_label = ElidedLabel("")
        # What the list wants said beside its title: "not understood: piano", the plays used.
        self.results_note = ElidedLabel("")
        self.results_note.setStyleSheet("color: #7a4a00")
        self.results_refresh = QPushButton("Refresh")
        self.results_refresh.clicked.connect(self._refresh_results)
        self.results_save = QPushButton("Save as playlist…")
        self.results_close = QPushButton("Close")
        self.results_close.clicked.connect(self.close_results)
        self._refresh: Callable[[], object] | None = None
        bar.addWidget(self.results_label)
        bar.addWidget(self.results_note, 1)
        bar.addWidget(self.results_refresh)
        bar.addWidget(self.results_save)
        bar.addWidget(self.results_close)
        self.results_bar.setStyleSheet("background: #fff6d5")
        self.results_bar.hide()

    @property
    def snap(self) -> Snapshot:
        return self.model.snap

    def filtered(self) -> bool:
        """Whether a playlist, a result list or a search narrows what is shown."""
        return self.model.scope is not None or bool(self.model.query.strip())

    def set_playing(self, track_id: int) -> None:
        """Mark the track the player is on (0: none)."""
        self.model.set_current(track_id)

    def set_plays(self, stats: dict[int, PlayStats]) -> None:
        """New counts of plays and skips: their cells are redrawn (and the rows sorted again
        when sorted by one of them), the selection kept."""
        keep = self.selected_track_ids() if self.model.sort_key in PLAY_COLUMNS else []
        self.snap.set_plays(stats)
        self.model.columns_changed(PLAY_COLUMNS)
        if keep:
            self.select_track_ids(keep, scroll=False)

    def in_own_order(self) -> bool:
        """Whether the rows are shown unsorted and unfiltered (positions are playlist order)."""
        return self.model.sort_key is None and not self.model.query.strip()

    # -- search --------------------------------------------------------------------------------

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def search_for(self, text: str) -> None:
        """Search for ``text`` now, as if typed in the search box."""
        self.search.setText(text)
        self._search_timer.stop()
        self._apply_search()

    def searching(self) -> bool:
        """Whether the words of the search typed are still being looked for."""
        return self._searches.busy()

    def _apply_search(self) -> None:
        text, snap = self.search.text(), self.model.snap
        if len(snap) >= SEARCH_BACKGROUND_FROM and text.strip():
            self._searches.submit(_look_for, snap, text)
        else:
            self._searches.drop()
            self._show_search(text)

    def _searched(self, found: tuple[Snapshot, str]) -> None:
        snap, text = found
        if snap is self.model.snap:
            self._show_search(text)
        else:  # the library was read again meanwhile: look in the new one
            self._apply_search()

    def _show_search(self, text: str) -> None:
        keep = self.selected_track_ids()
        self.model.set_query(text)
        if keep:
            self.select_track_ids(keep, scroll=False)
        self.shown_changed.emit()

    def _filter_menu(self) -> None:
        self.filter_menu.popup(self.search.mapToGlobal(self.search.rect().bottomRight()))

    def _check_filters(self) -> None:
        """Tick the filters the search holds."""
        words = self.search.text().lower().split()
        for action in self.filter_menu.actions():
            action.blockSignals(True)
            action.setChecked(action.data() in words)
            action.blockSignals(False)

    def set_filter(self, word: str, on: bool) -> None:
        """Add a filter of :data:`FILTERS` to the search, or take it out."""
        words = [w for w in self.search.text().split() if w.lower() != word]
        self.search.setText(" ".join([*words, word] if on else words))
        self._search_timer.stop()
        self._apply_search()

    # -- the columns and the sort --------------------------------------------------------------

    def _layout_edited(self, *_args: Any) -> None:
        self._layout_timer.start()

    def _sort_chosen(self, column: int, order: Qt.SortOrder) -> None:
        """A click on a header (or a sort asked for by code): the library's sort from now.
        The Why column of a result list sorts that list only."""
        if column >= len(COLUMNS):
            return
        key = KEYS[column] if column >= 0 else None
        self.chosen_sort = (key, key is not None and order == Qt.SortOrder.DescendingOrder)
        self._layout_timer.start()

    def layout_state(self) -> tuple[list[str], str]:
        """The columns (:meth:`LibraryTable.column_state`) and the sort chosen, as the
        settings keep them."""
        return self.table.column_state(), sort_text(*self.chosen_sort)

    def restore_layout(self, columns: list[str], sort: str) -> None:
        """The columns and the sort of :meth:`layout_state` (from the settings)."""
        self.table.restore_columns(columns)
        self.chosen_sort = parse_sort(sort)
        self._show_sort(*self.chosen_sort)
        self.model.set_query(self.model.query)  # sort what is shown
        self._layout_timer.stop()

    def flush_layout(self) -> None:
        """Say now what changed, when a change is waiting to be said."""
        if self._layout_timer.isActive():
            self._layout_timer.stop()
            self.layout_changed.emit()

    def hideEvent(self, event: QHideEvent) -> None:
        self.flush_layout()  # the window closes (or the map is shown): nothing is lost
        super().hideEvent(event)

    def _show_sort(self, key: str | None, descending: bool) -> None:
        """Sort by KEY (None: the rows' own order) from the next refresh, with its arrow."""
        self.model.sort_key = key
        self.model.descending = descending
        order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        header = self.table.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(-1 if key is None else KEYS.index(key), order)
        header.blockSignals(False)

    # -- what is shown -------------------------------------------------------------------------

    def set_scope(self, track_ids: list[int] | None, *, own_order: bool = False) -> None:
        """Show only these tracks (all with None, in the sort chosen); in their own order when
        ``own_order``."""
        if own_order:
            self.clear_sort()
        elif track_ids is None and (self.model.sort_key, self.model.descending) != (
            self.chosen_sort
        ):
            self._show_sort(*self.chosen_sort)
        self.model.set_scope_ids(track_ids)
        self.shown_changed.emit()

    def clear_sort(self) -> None:
        """The rows in their own order, with no arrow (the sort chosen is kept for later)."""
        self._show_sort(None, False)

    def show_results(
        self,
        title: str,
        ids: list[int],
        *,
        why: dict[int, str] | None = None,
        note: str = "",
        note_tip: str = "",
        refresh: Callable[[], object] | None = None,
    ) -> None:
        """Show a result list in its own order: ``why`` says why each track is in it (a Why
        column), ``note`` is said beside the title (``note_tip`` when hovered), ``refresh``
        makes it again (a Refresh button)."""
        self.results = (title, list(ids))
        self.table.set_reorderable(False)
        self.results_label.setText(f"{title}: {len(ids)} tracks")
        self.results_note.setText(note)
        self.results_note.setToolTip(note_tip or note)
        self._refresh = refresh
        self.results_refresh.setVisible(refresh is not None)
        self.results_bar.show()
        self.model.why = dict(why) if why is not None else None
        self.set_scope(list(ids), own_order=True)
        self._place_why()
        self.results_shown.emit(title)

    def _place_why(self) -> None:
        """The Why column, when there is one, right after the title."""
        column = self.model.why_column()
        if column is None:
            return
        header = self.table.horizontalHeader()
        header.moveSection(header.visualIndex(column), 1)
        self.table.setColumnWidth(column, 280)

    def _refresh_results(self) -> None:
        if self._refresh is not None:
            self._refresh()

    def drop_results(self) -> None:
        self.results = None
        self._refresh = None
        self.results_bar.hide()
        self.model.set_why(None)

    def close_results(self) -> None:
        self.drop_results()
        self.results_closed.emit()

    # -- selection -----------------------------------------------------------------------------

    def _selection_changed(self, *_args: Any) -> None:
        self.selected_rows = self.selected_snap_rows()
        self.selection_changed.emit(self.selected_rows)

    def _selected_view_array(self) -> np.ndarray:
        """Selected view rows, from the selection's ranges (no index object per row)."""
        sel = self.table.selectionModel().selection()
        ranges = [sel.at(i) for i in range(sel.size())]
        parts = [np.arange(r.top(), r.bottom() + 1, dtype=np.int64) for r in ranges]
        if not parts:
            return np.zeros(0, dtype=np.int64)
        rows = np.unique(np.concatenate(parts))
        out: np.ndarray = rows[rows < len(self.model.rows)]
        return out

    def selected_view_rows(self) -> list[int]:
        return [int(r) for r in self._selected_view_array()]

    def selected_snap_rows(self) -> np.ndarray:
        out: np.ndarray = self.model.rows[self._selected_view_array()]
        return out

    def selected_track_ids(self) -> list[int]:
        rows = self.selected_snap_rows()
        return [int(t) for t in self.model.snap.ids[rows]] if len(rows) else []

    def shows(self, track_id: int) -> bool:
        """Whether the track is among the rows shown."""
        return bool(len(self.model.view_rows_of(self.model.snap.rows_of([track_id]))))

    def select_track_ids(self, ids: list[int], *, scroll: bool = True) -> int:
        """Select these tracks in the table (those shown); returns how many are selected."""
        view_rows = np.unique(self.model.view_rows_of(self.model.snap.rows_of(ids)))
        sel = QItemSelection()
        last = self.model.columnCount() - 1
        # Contiguous runs make few selection ranges even for thousands of rows.
        if len(view_rows):
            breaks = np.flatnonzero(np.diff(view_rows) != 1)
            starts = np.concatenate([[0], breaks + 1])
            ends = np.concatenate([breaks, [len(view_rows) - 1]])
            for s, e in zip(starts, ends, strict=True):
                sel.select(
                    self.model.index(int(view_rows[s]), 0),
                    self.model.index(int(view_rows[e]), last),
                )
        self.table.selectionModel().select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if len(view_rows):
            first = self.model.index(int(view_rows[0]), 0)
            self.table.selectionModel().setCurrentIndex(
                first, QItemSelectionModel.SelectionFlag.NoUpdate
            )
            if scroll:
                self.table.scrollTo(first)
        return len(view_rows)

    def select_after_load(self, ids: list[int]) -> None:
        """Select these tracks once the next read of the library is shown (after an edit)."""
        self._after_load = list(ids)

    def loaded(self) -> None:
        """The next read is shown: select what :meth:`select_after_load` asked for."""
        ids, self._after_load = self._after_load, []
        if ids:
            self.select_track_ids(ids)


def _look_for(snap: Snapshot, text: str) -> tuple[Snapshot, str]:
    """In a worker: find the rows of each word of ``text`` (the snapshot keeps them)."""
    snap.match(text)
    return snap, text
