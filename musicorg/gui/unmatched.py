"""After an M3U import, the entries that matched no catalogued track, listed in a dialog (a
passing message in the status bar is gone before anyone can read the lines).

The import itself runs as a job (off the UI thread); :func:`follow_import` hears every job the
window starts and, when an import ends with unmatched entries, shows them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from musicorg.gui.tasks import Job

#: At most this many unmatched lines are listed (the log has them all).
MAX_SHOWN = 200


def entry_line(entry: Any) -> str:
    """One unmatched entry: its line number in the file, what it says, and its #EXTINF title."""
    title = getattr(entry, "title", None)
    text = f"line {entry.line}: {entry.text}"
    return f"{text}  ({title})" if title else text


def summary(report: Any) -> str:
    n, total = len(report.unmatched), report.matched + len(report.unmatched)
    head = (
        f"{n} of the {total} entries of the playlist matched no track of your library, so "
        f"the playlist {report.name!r} holds {report.matched} tracks."
    )
    if n > MAX_SHOWN:
        head += f" The first {MAX_SHOWN} are listed; the log has them all."
    return head


class UnmatchedDialog(QDialog):
    """The entries of an imported playlist that matched no track, at most :data:`MAX_SHOWN`."""

    def __init__(self, report: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Some entries were not found")
        self.label = QLabel(summary(report))
        self.label.setWordWrap(True)
        shown = report.unmatched[:MAX_SHOWN]
        self.list = QPlainTextEdit("\n".join(entry_line(e) for e in shown))
        self.list.setReadOnly(True)
        self.list.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.list.setFont(QFont("monospace"))
        self.list.setAccessibleName("Unmatched entries")
        hint = QLabel(
            "A file is matched by its path. Entries that name files outside your music "
            "folders, or files moved since the playlist was written, are not found; add "
            "the folder in the settings, or rescan, and import again."
        )
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.list, 1)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self.resize(720, 420)

    def lines(self) -> list[str]:
        text = self.list.toPlainText()
        return text.split("\n") if text else []


def show_unmatched(parent: QWidget, report: Any) -> UnmatchedDialog | None:
    """The dialog for an import's report, when some entries were not found."""
    if not getattr(report, "unmatched", None):
        return None
    dialog = UnmatchedDialog(report, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def follow_import(parent: QWidget, job: Job) -> None:
    """Connected to the window's ``runner.job_added`` (before the job starts, so its end is
    never missed): an import that ends with unmatched entries shows them."""
    if job.name == "import":
        job.succeeded.connect(lambda report: show_unmatched(parent, report))
