"""File → Export playlists as M3U8: which playlists (the one shown, or those ticked), into
which folder, and what that will write (the files, which of them replace a file already
there, and the old files of renamed playlists it removes), before anything is written.

The dialog writes nothing itself: the look at the folder runs in the background (it may be a
slow disk), and Export hands the folder and the playlists to the sidebar, which writes them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from musicorg.app import actions
from musicorg.gui.host import Host

#: How many files the preview names one by one; the rest are counted.
MAX_LISTED = 8
#: How long the preview waits after the last change before it looks at the folder (ms).
PREVIEW_DELAY_MS = 150
#: The preview's room (px): the summary and a few files without scrolling.
PREVIEW_MIN_HEIGHT = 140


def count(n: int, word: str) -> str:
    """``"1 playlist"``, ``"6 playlists"``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def describe(plan: actions.ExportPlan, sizes: dict[int, int]) -> str:
    """What an export will do, in plain words: the files it writes (each one new, or
    replacing a file), and the old files of renamed playlists it removes."""
    files, others = plan.files, [f for f in plan.replaces if not f.ours]
    head = f"Writes {count(len(files), 'file')} into {plan.folder}"
    if others:
        head += f"; {count(len(others), 'file')} already there will be replaced"
    lines = [head + ":"]
    for f in files[:MAX_LISTED]:
        if not f.replaces:
            what = "new"
        elif f.ours:
            what = "replaces the copy musicorg wrote before"
        else:
            what = "replaces the file already there"
        lines.append(f"  {f.path.name} ({count(sizes.get(f.playlist_id, 0), 'track')}), {what}")
    if len(files) > MAX_LISTED:
        lines.append(f"  … and {len(files) - MAX_LISTED} more")
    for stale in plan.removes:
        if stale.old_name != stale.name:
            why = f"when “{stale.name}” was called “{stale.old_name}”"
        else:
            why = f"for “{stale.name}” under another file name"
        lines.append(f"Removes {stale.path.name}, written by musicorg {why}.")
    return "\n".join(lines)


class ExportDialog(QDialog):
    """Which playlists to export, where, and what that writes; Export says so on its button."""

    #: Export was pressed: the folder and the ids of the playlists to write there.
    chosen = Signal(str, object)

    def __init__(
        self, host: Host, current: int | None, folder: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export playlists as M3U8")
        self.host = host
        self.current = current
        self.plan: actions.ExportPlan | None = None
        self._asked = 0  # the preview asked for last; older answers are dropped
        self._answered = -1
        self._sizes = {int(p.id): p.size for p in host.data.playlists}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self._ask_preview)
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_what(), 1)
        layout.addWidget(self._build_where(folder))
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.preview.setTextFormat(Qt.TextFormat.PlainText)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview.setAccessibleName("What the export will write")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()  # a long list of files scrolls; the buttons stay in view
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.preview)
        scroll.setMinimumHeight(PREVIEW_MIN_HEIGHT)
        layout.addWidget(scroll, 1)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.resize(600, 560)
        self._changed()

    def _build_what(self) -> QGroupBox:
        box = QGroupBox("Export")
        layout = QVBoxLayout(box)
        shown = next((p for p in self.host.data.playlists if p.id == self.current), None)
        if shown is not None:
            text = f"The playlist shown: “{shown.name}” ({count(shown.size, 'track')})"
        else:
            text = "The playlist shown (none is: the whole library is shown)"
        self.this = QRadioButton(text)
        self.this.setEnabled(shown is not None)
        self.some = QRadioButton("The playlists ticked below:")
        group = QButtonGroup(box)
        for button in (self.this, self.some):
            group.addButton(button)
            layout.addWidget(button)
        self.list = QListWidget()
        self.list.setMinimumHeight(100)
        self.list.setAccessibleName("Playlists to export")
        for p in self.host.data.playlists:
            item = QListWidgetItem(f"{p.name} ({count(p.size, 'track')})")
            item.setData(Qt.ItemDataRole.UserRole, int(p.id))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.list.addItem(item)
        layout.addWidget(self.list)
        row = QHBoxLayout()
        self.tick_all = QPushButton("Tick all")
        self.tick_none = QPushButton("Tick none")
        self.tick_all.clicked.connect(lambda: self._tick(True))
        self.tick_none.clicked.connect(lambda: self._tick(False))
        row.addWidget(self.tick_all)
        row.addWidget(self.tick_none)
        row.addStretch(1)
        layout.addLayout(row)
        (self.this if shown is not None else self.some).setChecked(True)
        group.buttonToggled.connect(lambda *_a: self._changed())
        self.list.itemChanged.connect(lambda _item: self._changed())
        return box

    def _build_where(self, folder: str) -> QGroupBox:
        box = QGroupBox("Into the folder")
        row = QHBoxLayout(box)
        self.folder = QLineEdit(folder)
        self.folder.setAccessibleName("Export folder")
        self.folder.textChanged.connect(lambda _t: self._changed())
        self.browse = QPushButton("Choose…")
        self.browse.clicked.connect(self._choose_folder)
        row.addWidget(self.folder, 1)
        row.addWidget(self.browse)
        return box

    # -- what is chosen --------------------------------------------------------------------------

    def ids(self) -> list[int]:
        """The ids of the playlists to export."""
        if self.this.isChecked() and self.current is not None:
            return [self.current]
        return [
            int(it.data(Qt.ItemDataRole.UserRole))
            for it in (self.list.item(i) for i in range(self.list.count()))
            if it.checkState() == Qt.CheckState.Checked
        ]

    def chosen_folder(self) -> str:
        text = self.folder.text().strip()
        return str(Path(text).expanduser()) if text else ""

    def _tick(self, on: bool) -> None:
        self.some.setChecked(True)
        state = Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
        self.list.blockSignals(True)
        for i in range(self.list.count()):
            self.list.item(i).setCheckState(state)
        self.list.blockSignals(False)
        self._changed()

    def _choose_folder(self) -> None:
        start = self.chosen_folder() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Export into…", start)
        if folder:
            self.folder.setText(folder)

    # -- the preview -----------------------------------------------------------------------------

    def ready(self) -> bool:
        """The preview shows what Export would do now."""
        return self.plan is not None and self._answered == self._asked

    def _changed(self) -> None:
        self.list.setEnabled(self.some.isChecked())
        self._asked += 1
        self.plan = None
        n = len(self.ids())
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(f"Export {count(n, 'playlist')}" if n else "Export")
        ok.setEnabled(False)
        if not n:
            self.preview.setText("Tick the playlists to export.")
        elif not self.chosen_folder():
            self.preview.setText("Choose the folder to write them into.")
        elif self.host.cat is None:
            self.preview.setText("No library is open.")
        else:
            self.preview.setText("Looking at the folder…")
            self._timer.start()

    def _ask_preview(self) -> None:
        cat, folder, ids, asked = self.host.cat, self.chosen_folder(), self.ids(), self._asked
        if cat is None or not folder or not ids:
            return
        # Bound methods: a dialog closed meanwhile is no longer called.
        self.host.runner.submit(
            "preview",
            lambda _p, _c: (asked, actions.plan_export(cat, folder, ids)),
            on_result=self._previewed,
            on_error=self._failed,
        )

    def _previewed(self, answer: tuple[int, actions.ExportPlan]) -> None:
        asked, plan = answer
        if asked != self._asked:
            return
        self.plan, self._answered = plan, asked
        self.preview.setText(describe(plan, self._sizes))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(plan.files))

    def _failed(self, message: str, _traceback: str) -> None:
        if self.plan is None:
            self.preview.setText(f"Cannot export there: {message}")

    def accept(self) -> None:
        if not self.ready():
            return
        self.chosen.emit(self.chosen_folder(), self.ids())
        super().accept()
