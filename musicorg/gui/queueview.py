"""The Queue dock: the track playing and the tracks coming after it, in order. Double-click
one to play it, Del (or Remove) takes the selected ones out, Clear empties the queue."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QFont, QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from musicorg.gui.playcontrol import PlayControl

#: How many coming tracks the list shows (a whole library may be queued).
SHOWN = 500
#: The keys that take the selected tracks out of the queue.
REMOVE_KEYS = (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)


class QueueList(QListWidget):
    """The list; Del removes the selected items."""

    def __init__(self, view: QueueView) -> None:
        super().__init__()
        self.view = view
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)

    def event(self, event: QEvent) -> bool:
        # Del here is the queue's, not the window's "Remove from playlist".
        override = event.type() == QEvent.Type.ShortcutOverride
        if override and isinstance(event, QKeyEvent) and event.key() in REMOVE_KEYS:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in REMOVE_KEYS:
            self.view.remove_selected()
            return
        super().keyPressEvent(event)


class QueueView(QWidget):
    def __init__(self, control: PlayControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.control = control
        self.summary = QLabel("")
        self.list = QueueList(self)
        self.list.itemActivated.connect(
            lambda item: control.jump_to(int(item.data(Qt.ItemDataRole.UserRole)))
        )
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Take the selected tracks out of the queue (Del)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Stop and empty the queue")
        self.clear_button.clicked.connect(control.clear_queue)
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._bold = QFont(self.list.font())
        self._bold.setBold(True)
        self._stale = True
        control.queue_changed.connect(self.changed)
        control.track_changed.connect(lambda _t: self.changed())
        self.refresh()

    def changed(self) -> None:
        """The queue changed: shown again once (several changes come together), and only
        while it is visible."""
        if not self._stale:
            self._stale = True
            QTimer.singleShot(0, self._refresh_if_shown)

    def _refresh_if_shown(self) -> None:
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def refresh(self) -> None:
        """Show the queue as it is now: the current track, then those coming."""
        self._stale = False
        items, index = self.control.queue()
        self.list.clear()
        if index is None:  # empty, or every track was played
            self.summary.setText("The queue is empty.")
        else:
            shown = items[index : index + SHOWN + 1]
            for pos, text in enumerate(self.control.labels(shown), start=index):
                item = QListWidgetItem(("▶ " if pos == index else "") + text)
                item.setData(Qt.ItemDataRole.UserRole, pos)
                if pos == index:
                    item.setFont(self._bold)
                self.list.addItem(item)
            coming = len(items) - index - 1
            more = f" (the first {SHOWN} shown)" if coming > SHOWN else ""
            self.summary.setText(f"{coming} track{'s' * (coming != 1)} to come{more}")
        self.remove_button.setEnabled(index is not None)
        self.clear_button.setEnabled(bool(items))

    def positions(self) -> list[int]:
        """The queue positions of the items listed, in order."""
        return [
            int(self.list.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.list.count())
        ]

    def remove_selected(self) -> None:
        chosen = sorted(
            (int(it.data(Qt.ItemDataRole.UserRole)) for it in self.list.selectedItems()),
            reverse=True,
        )
        for pos in chosen:  # the last first, so that the positions before stay right
            self.control.remove_from_queue(pos)


class QueueDock(QDockWidget):
    def __init__(self, control: PlayControl, parent: QWidget | None = None) -> None:
        super().__init__("Queue", parent)
        self.setObjectName("queue")
        self.view = QueueView(control)
        self.setWidget(self.view)

    def toggle(self) -> None:
        self.setVisible(not self.isVisible())
        if self.isVisible():
            self.raise_()
