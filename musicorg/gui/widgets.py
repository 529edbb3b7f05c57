"""The window's parts: welcome page, jobs strip, problems panel, playlist tree, details pane."""

from __future__ import annotations

from collections import deque
from typing import Any

from PySide6.QtCore import QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from musicorg.gui.tablemodel import TRACK_IDS_MIME, decode_ids
from musicorg.gui.tasks import Job, format_eta, label


class WelcomePage(QWidget):
    choose_folder = Signal()
    open_demo = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("Welcome to musicorg")
        font = QFont(title.font())
        font.setPointSize(font.pointSize() + 10)
        font.setBold(True)
        title.setFont(font)
        text = QLabel(
            "Point musicorg at the folder where your music lives. It reads the tags and lyrics, "
            "listens to every track, groups the library into playlists and draws it as a map.\n\n"
            "Your music folder is only read: nothing is ever written into it unless you export "
            "a playlist there."
        )
        text.setWordWrap(True)
        text.setFixedWidth(560)
        text.setMinimumHeight(text.heightForWidth(560) + 8)
        self.folder_button = QPushButton("Choose music folder…")
        self.folder_button.setDefault(True)
        self.folder_button.setMinimumHeight(36)
        self.demo_button = QPushButton("Open the demo library")
        self.demo_button.setMinimumHeight(36)
        self.folder_button.clicked.connect(self.choose_folder)
        self.demo_button.clicked.connect(self.open_demo)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.folder_button)
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(title, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(16)
        layout.addWidget(text, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(24)
        layout.addLayout(buttons)
        layout.addStretch(3)


class JobWidget(QFrame):
    """One running job: name, progress bar, ETA, cancel button."""

    def __init__(self, job: Job, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.label = QLabel(label(job.name))
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(180)
        self.bar.setMaximumHeight(16)
        self.bar.setRange(0, 0)
        self.bar.setTextVisible(False)
        self.eta = QLabel("")
        self.eta.setMinimumWidth(90)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("✕")
        self.cancel_button.setToolTip(f"Cancel: {label(job.name)}")
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.clicked.connect(self._cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.eta)
        layout.addWidget(self.cancel_button)
        job.progressed.connect(self._progressed)

    def _cancel(self) -> None:
        self.job.cancel()
        self.cancel_button.setEnabled(False)
        self.eta.setText("stopping…")

    def _progressed(self, done: int, total: int, text: str) -> None:
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        else:
            self.bar.setRange(0, 0)
        self.setToolTip(text)

    def tick(self) -> None:
        if self.job.token():
            return
        self.eta.setText(format_eta(self.job.eta()))


class JobsPanel(QWidget):
    """A strip of the running jobs, for the status bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_ = QHBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        # As tall as a job's row from the start: a status bar that grows when the first job
        # comes shrinks the window's middle, and the relayout and repaint of the whole window
        # (the 100k-track table with it) held the UI thread for ~90 ms as a scan began.
        probe = QToolButton()
        probe.setText("✕")
        probe.setAutoRaise(True)
        self.setMinimumHeight(max(probe.sizeHint().height(), QProgressBar().sizeHint().height()))
        self.widgets: dict[int, JobWidget] = {}
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self._tick)

    def add(self, job: Job) -> None:
        w = JobWidget(job, self)
        self.widgets[id(job)] = w
        self.layout_.addWidget(w)
        self.timer.start()

    def remove(self, job: Job) -> None:
        w = self.widgets.pop(id(job), None)
        if w is not None:
            w.hide()
            self.layout_.removeWidget(w)
            w.deleteLater()
        if not self.widgets:
            self.timer.stop()

    def widget_for(self, name: str) -> JobWidget | None:
        for w in self.widgets.values():
            if w.job.name == name:
                return w
        return None

    def _tick(self) -> None:
        for w in self.widgets.values():
            w.tick()


class ProblemsPanel(QWidget):
    """Files a stage could not handle, and jobs that failed: rows, never dialogs."""

    HEADERS = ("Stage", "Kind", "File", "Message")
    MAX_ROWS = 1000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(self.HEADERS))
        self.table.setHorizontalHeaderLabels(list(self.HEADERS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(2, 320)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        self.file_rows: list[tuple[str, str, str, str]] = []
        self.job_rows: list[tuple[str, str, str, str]] = []

    def set_file_problems(self, rows: list[Any]) -> None:
        self.file_rows = [(r.stage, r.kind, r.path, r.message) for r in rows]
        self._fill()

    def add_job_error(self, stage: str, message: str) -> None:
        self.job_rows.append((stage, "error", "", message))
        self._fill()

    def count(self) -> int:
        return len(self.job_rows) + len(self.file_rows)

    def rows(self) -> list[tuple[str, str, str, str]]:
        return [*self.job_rows, *self.file_rows]

    def _fill(self) -> None:
        rows = self.rows()
        if len(rows) > self.MAX_ROWS:
            # Thousands of rows would stall the window; the CLI lists them all.
            more = len(rows) - self.MAX_ROWS + 1
            rows = [
                *rows[: self.MAX_ROWS - 1],
                ("…", "", f"and {more} more", "run `musicorg problems` for the full list"),
            ]
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                self.table.setItem(i, j, item)


#: From this many playlists on, the automatic playlists' groups start closed and a group's
#: rows are built when it is first opened: at a million tracks, building a row for each of
#: 24,808 playlists held the UI thread for 0.3-0.5 s; closed, only the 20 groups' are built.
LAZY_FROM = 2000


class PlaylistTree(QTreeWidget):
    """Library, "For you", automatic playlists by group, and the user's playlists. A
    playlist's tooltip is its explanation when there is one. Tracks dragged from the table
    onto a user playlist are added to it. With many playlists (LAZY_FROM) the groups start
    closed, and a group's rows are made when it is opened."""

    tracks_dropped = Signal(int, object)  # playlist id, track ids

    ROLE = Qt.ItemDataRole.UserRole

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.library_item = QTreeWidgetItem(["Library"])
        self.library_item.setData(0, self.ROLE, ("library", 0))
        self.foryou_item = QTreeWidgetItem(["For you"])
        self.foryou_item.setData(0, self.ROLE, ("foryou", 0))
        self.foryou_item.setToolTip(
            0, "Tracks like the ones you play most and lately, made afresh when opened"
        )
        #: Each playlist's explanation in one line, by id (its tooltip).
        self.summaries: dict[int, str] = {}
        self.auto_root = QTreeWidgetItem(["Automatic playlists"])
        self.auto_root.setData(0, self.ROLE, ("header", 0))
        self.user_root = QTreeWidgetItem(["My playlists"])
        self.user_root.setData(0, self.ROLE, ("header", 0))
        for item in (self.auto_root, self.user_root):
            f = item.font(0)
            f.setBold(True)
            item.setFont(0, f)
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsSelectable)
        self.addTopLevelItems([self.library_item, self.foryou_item, self.auto_root, self.user_root])
        self._groups: dict[str, QTreeWidgetItem] = {}  # automatic playlists' groups, by name
        #: With LAZY_FROM playlists or more: each closed group's playlists, not yet rows, and
        #: the group of each playlist (kind, id).
        self._unbuilt: dict[str, list[Any]] = {}
        self._group_of: dict[tuple[str, Any], str] = {}
        self._lazy = False
        self.itemExpanded.connect(self._fill)

    def set_playlists(self, infos: list[Any]) -> None:
        signature = [(i.id, i.name, i.kind, i.group_name, i.pinned, i.size) for i in infos]
        if signature == getattr(self, "_signature", None):
            return  # unchanged: keep the tree (and its expansion and scroll) as it is
        self._signature = signature
        current = self.current_key()
        # The groups the user opened stay open (when closed groups were already the rule).
        opened = {name for name, g in self._groups.items() if g.isExpanded() and self._lazy}
        self.auto_root.takeChildren()
        self.user_root.takeChildren()
        self._groups, self._unbuilt, self._group_of = {}, {}, {}
        lazy = self._lazy = len(infos) >= LAZY_FROM
        for info in infos:
            if info.kind == "user":
                self.user_root.addChild(self._playlist_item(info))
                continue
            group = info.group_name or "Other"
            parent = self._groups.get(group)
            if parent is None:
                parent = QTreeWidgetItem([group])
                parent.setData(0, self.ROLE, ("group", group))
                self._groups[group] = parent
                self.auto_root.addChild(parent)
            if lazy:  # a row when its group is first opened
                self._unbuilt.setdefault(group, []).append(info)
                self._group_of[(info.kind, info.id)] = group
            else:
                parent.addChild(self._playlist_item(info))
        for group, waiting in self._unbuilt.items():
            parent = self._groups[group]
            parent.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
            parent.setToolTip(0, f"{group}: {len(waiting):,} playlists")
        if not self._groups:
            empty = QTreeWidgetItem(["(none yet)"])
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.auto_root.addChild(empty)
        self.auto_root.setExpanded(True)
        self.user_root.setExpanded(True)
        for name, g in self._groups.items():
            g.setExpanded(not lazy or name in opened)  # many: closed, unless open before
        if current is not None:
            self.select_key(current)

    def _playlist_item(self, info: Any) -> QTreeWidgetItem:
        label = f"{'📌 ' if getattr(info, 'pinned', False) else ''}{info.name}"
        item = QTreeWidgetItem([f"{label}  ({info.size})"])
        item.setData(0, self.ROLE, (info.kind, info.id))
        item.setToolTip(0, self.summaries.get(info.id, f"{info.name}: {info.size} tracks"))
        return item

    def _fill(self, group: QTreeWidgetItem) -> None:
        """A group opened for the first time: its playlists' rows (see LAZY_FROM)."""
        key = group.data(0, self.ROLE)
        waiting = self._unbuilt.pop(str(key[1]), None) if key and key[0] == "group" else None
        if waiting:
            group.addChildren([self._playlist_item(info) for info in waiting])

    def set_summaries(self, summaries: dict[int, str]) -> None:
        """Each playlist's explanation in one line (by id), shown as its tooltip."""
        self.summaries = dict(summaries)
        sizes = {i[0]: (i[1], i[5]) for i in getattr(self, "_signature", [])}
        for item in self.items():
            key = item.data(0, self.ROLE)
            if key[0] not in ("auto", "user"):
                continue
            name, size = sizes.get(int(key[1]), ("", 0))
            item.setToolTip(0, self.summaries.get(int(key[1]), f"{name}: {size} tracks"))

    def current_key(self) -> tuple[str, Any] | None:
        item = self.currentItem()
        return None if item is None else item.data(0, self.ROLE)

    def items(self, kind: str | None = None) -> list[QTreeWidgetItem]:
        """The rows built, of one kind ("auto", "user", "group"...) or all, top down."""
        out: list[QTreeWidgetItem] = []
        stack = deque(self.topLevelItem(i) for i in range(self.topLevelItemCount()))
        while stack:
            item = stack.popleft()
            if item is None:
                continue
            key = item.data(0, self.ROLE)
            if key and (kind is None or key[0] == kind):
                out.append(item)
            stack.extend(item.child(i) for i in range(item.childCount()))
        return out

    def select_key(self, key: tuple[str, Any]) -> bool:
        group = self._group_of.get((str(key[0]), key[1]))
        if group is not None and group in self._unbuilt:
            self._groups[group].setExpanded(True)  # its rows are built (_fill)
        for item in self.items():
            if tuple(item.data(0, self.ROLE)) == tuple(key):
                self.setCurrentItem(item)
                return True
        return False

    # --- drops ----------------------------------------------------------------------------

    def _target(self, event: Any) -> int | None:
        item = self.itemAt(event.position().toPoint())
        if item is None:
            return None
        key = item.data(0, self.ROLE)
        return int(key[1]) if key and key[0] == "user" else None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(TRACK_IDS_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(TRACK_IDS_MIME) and self._target(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        target = self._target(event)
        ids = decode_ids(event.mimeData())
        if target is None or not ids:
            event.ignore()
            return
        event.acceptProposedAction()
        self.tracks_dropped.emit(target, ids)

    def mimeTypes(self) -> list[str]:
        return [TRACK_IDS_MIME]

    def drop_mime(self, target: int, mime: QMimeData) -> None:
        """What a drop does, without a drag (tests)."""
        ids = decode_ids(mime)
        if ids:
            self.tracks_dropped.emit(target, ids)


class DetailsPane(QWidget):
    """The selected track: tags, lyrics with their source, nearest tracks; the mix being made
    (its own panel, put in by the window); with no track selected, the playlist's
    explanation."""

    more_like_this = Signal()
    path_to = Signal()
    play = Signal()
    neighbour_activated = Signal(int)  # track id
    #: add the selection to the mix (+) or subtract it (−)
    add_to_mix = Signal()
    subtract_from_mix = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("No track selected")
        f = QFont(self.title.font())
        f.setPointSize(f.pointSize() + 2)
        f.setBold(True)
        self.title.setFont(f)
        self.title.setWordWrap(True)
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.more_button = QPushButton("More like this")
        self.path_button = QPushButton("Path to…")
        self.play_button = QPushButton("Play")
        self.plus_button = QPushButton("+ Mix")
        self.plus_button.setToolTip("Add to mix (+): more like these")
        self.minus_button = QPushButton("− Mix")
        self.minus_button.setToolTip("Subtract from mix (−): less like these")
        self.more_button.clicked.connect(self.more_like_this)
        self.path_button.clicked.connect(self.path_to)
        self.play_button.clicked.connect(self.play)
        self.plus_button.clicked.connect(self.add_to_mix)
        self.minus_button.clicked.connect(self.subtract_from_mix)
        buttons = QHBoxLayout()
        for b in (self.more_button, self.path_button, self.play_button):
            buttons.addWidget(b)
        mix_buttons = QHBoxLayout()
        for b in (self.plus_button, self.minus_button):
            mix_buttons.addWidget(b)
        mix_buttons.addStretch(1)
        self.near_label = QLabel("Nearest tracks")
        self.near = QListWidget()
        self.near.itemActivated.connect(
            lambda item: self.neighbour_activated.emit(int(item.data(Qt.ItemDataRole.UserRole)))
        )
        self.layout_ = QVBoxLayout(self)
        self.layout_.addWidget(self.title)
        self.layout_.addLayout(buttons)
        self.layout_.addLayout(mix_buttons)
        self.layout_.addWidget(self.text, 3)
        self.layout_.addWidget(self.near_label)
        self.layout_.addWidget(self.near, 2)
        self.set_enabled(False)

    def add_panel(self, panel: QWidget) -> None:
        """A panel below the nearest tracks (the mix)."""
        self.layout_.addWidget(panel)

    def set_enabled(self, on: bool) -> None:
        buttons = (self.more_button, self.path_button, self.play_button)
        for b in (*buttons, self.plus_button, self.minus_button):
            b.setEnabled(on)

    def set_neighbours(self, items: list[tuple[int, str]], note: str = "") -> None:
        self.near.clear()
        for tid, text in items:
            it = QListWidgetItem(text)
            it.setData(Qt.ItemDataRole.UserRole, tid)
            self.near.addItem(it)
        self.near_label.setText("Nearest tracks" + (f" — {note}" if note else ""))
