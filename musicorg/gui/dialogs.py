"""Settings, music folders and About dialogs, the question a damaged catalogue asks, and a
yes-or-no confirmation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from musicorg import settings as settings_mod
from musicorg.gui import theme


class FolderList(QWidget):
    """Music folders: add, remove, relocate (a moved folder keeps its analyses)."""

    relocate_requested = Signal(str, str)  # old, new

    def __init__(self, folders: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.addItems(folders)
        self.add_button = QPushButton("Add…")
        self.remove_button = QPushButton("Remove")
        self.relocate_button = QPushButton("Relocate…")
        self.add_button.clicked.connect(lambda: self.add_folder())
        self.remove_button.clicked.connect(self.remove_selected)
        self.relocate_button.clicked.connect(lambda: self.relocate_selected())
        buttons = QVBoxLayout()
        for b in (self.add_button, self.remove_button, self.relocate_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)

    def folders(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def add_folder(self, path: str | None = None) -> None:
        if path is None:
            path = QFileDialog.getExistingDirectory(self, "Add a music folder")
        if path and path not in self.folders():
            self.list.addItem(path)

    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))

    def relocate_selected(self, new: str | None = None) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        old = item.text()
        if new is None:
            new = QFileDialog.getExistingDirectory(self, f"Where is {old} now?")
        if new and new != old:
            item.setText(new)
            self.relocate_requested.emit(old, new)


#: How each clustering method is offered: a plain name (the method's own name after it, for
#: those who know it) and one line on what it does. The stored values stay the methods' names.
CLUSTER_CHOICES = {
    "kmeans": (
        "Even playlists (K-Means)",
        "Playlists of similar length around the typical sounds of your library, then "
        "gathered into groups. The usual choice.",
    ),
    "agglomerative": (
        "Nested groups (agglomerative)",
        "Big groups of music that belongs together first, each cut into playlists: "
        "a playlist never mixes two groups.",
    ),
    "dbscan": (
        "Dense areas only (DBSCAN)",
        "Groups only where many tracks sound alike; tracks in between join the playlist "
        "nearest to them.",
    ),
}


def length_problem(shortest: int, longest: int) -> str:
    """What is wrong with a playlist length range, in a sentence ("" when it is fine)."""
    if shortest < 1:
        return "A playlist needs at least 1 track."
    if shortest > longest:
        return (
            f"The minimum length ({shortest} tracks) cannot be more than the maximum "
            f"({longest} tracks): lower the first number or raise the second."
        )
    return ""


def _with_note(field: QWidget | QHBoxLayout, note: QLabel) -> QVBoxLayout:
    """A settings field with its line of explanation right under it."""
    box = QVBoxLayout()
    box.setSpacing(2)
    if isinstance(field, QWidget):
        box.addWidget(field)
    else:
        box.addLayout(field)
    box.addWidget(note)
    return box


class SettingsDialog(QDialog):
    def __init__(
        self,
        settings: settings_mod.Settings,
        device_in_use: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.relocations: list[tuple[str, str]] = []
        self.folders = FolderList(list(settings.music_folders))
        self.folders.relocate_requested.connect(lambda a, b: self.relocations.append((a, b)))
        self.device = QComboBox()
        for d, label in (("auto", "Automatic"), ("cpu", "CPU"), ("cuda", "CUDA (NVIDIA GPU)")):
            self.device.addItem(label, d)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device)))
        self.device_note = QLabel(
            f"In use: {device_in_use}" if device_in_use else "In use: not loaded yet"
        )
        self._build_lengths(settings)
        self._build_method(settings)
        self.token = QLineEdit(settings.genius_token)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("optional: lets musicorg fetch lyrics from Genius")
        self.export_dir = QLineEdit(settings.export_dir)
        browse = QPushButton("…")
        browse.setToolTip("Choose the folder")
        browse.clicked.connect(self._browse_export)
        export_row = QHBoxLayout()
        export_row.addWidget(self.export_dir, 1)
        export_row.addWidget(browse)
        self.export_absolute = QCheckBox(
            "Write full paths (otherwise paths relative to the playlist file)"
        )
        self.export_absolute.setChecked(settings.export_absolute)
        self.watch = QCheckBox("Notice new, moved and deleted files while musicorg is open")
        self.watch.setChecked(settings.watch_folders)
        self.watch_note = QLabel(
            "Changes in your music folders are read in a few seconds after they stop, "
            "and new tracks join their playlists. Off: press F5 (Rescan) after a change."
        )
        self.watch_note.setWordWrap(True)
        theme.style(self.watch_note, lambda: f"color: {theme.css(theme.muted())}")
        self.error = QLabel("")
        theme.style(self.error, lambda: f"color: {theme.css(theme.error())}")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        device_row = QHBoxLayout()
        device_row.addWidget(self.device)
        device_row.addWidget(self.device_note, 1)
        form = QFormLayout()
        form.addRow("Music folders", self.folders)
        form.addRow("Watch for changes", _with_note(self.watch, self.watch_note))
        form.addRow("Run the model on", device_row)
        form.addRow("Playlist length", _with_note(self.length_row, self.length_note))
        form.addRow("Forming playlists", _with_note(self.method, self.method_note))
        form.addRow("Genius lyrics token", self.token)
        form.addRow("Export folder", export_row)
        form.addRow("", self.export_absolute)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(680, 520)
        self._check_lengths()

    def _build_lengths(self, settings: settings_mod.Settings) -> None:
        """From [min] to [max] tracks, checked as they are typed."""
        self.pl_min = QSpinBox()
        self.pl_min.setRange(1, 10000)
        self.pl_min.setValue(settings.playlist_min)
        self.pl_min.setToolTip("The fewest tracks an automatic playlist holds")
        self.pl_max = QSpinBox()
        self.pl_max.setRange(1, 10000)
        self.pl_max.setValue(settings.playlist_max)
        self.pl_max.setToolTip("The most tracks an automatic playlist holds")
        self.length_row = QHBoxLayout()
        self.length_row.setSpacing(6)
        for w in (QLabel("from"), self.pl_min, QLabel("to"), self.pl_max, QLabel("tracks")):
            self.length_row.addWidget(w)
        self.length_row.addStretch(1)
        self.length_note = QLabel("")
        self.length_note.setWordWrap(True)
        for box in (self.pl_min, self.pl_max):
            box.valueChanged.connect(self._check_lengths)

    def _build_method(self, settings: settings_mod.Settings) -> None:
        """The clustering methods as plain choices, each with a line on what it does."""
        self.method = QComboBox()
        for m in settings_mod.CLUSTER_METHODS:
            name, what = CLUSTER_CHOICES.get(m, (m, ""))
            self.method.addItem(name, m)
            self.method.setItemData(self.method.count() - 1, what, Qt.ItemDataRole.ToolTipRole)
        self.method_note = QLabel("")
        self.method_note.setWordWrap(True)
        self.method.currentIndexChanged.connect(self._describe_method)
        self.method.setCurrentIndex(max(0, self.method.findData(settings.cluster_method)))
        self._describe_method()

    def _describe_method(self) -> None:
        what = CLUSTER_CHOICES.get(str(self.method.currentData()), ("", ""))[1]
        self.method_note.setText(what)
        self.method.setToolTip(what)

    def _check_lengths(self) -> None:
        """A plain sentence under the lengths while they cannot work, and no OK until then."""
        problem = length_problem(self.pl_min.value(), self.pl_max.value())
        self.length_note.setText(
            problem or "A small library gets shorter playlists than the minimum."
        )
        self.length_note.setStyleSheet(f"color: {theme.css(theme.error())}" if problem else "")
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not problem)
        ok.setToolTip(problem)

    def _browse_export(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Default export folder")
        if path:
            self.export_dir.setText(path)

    def result_settings(self) -> settings_mod.Settings:
        s = settings_mod.Settings(**vars(self.settings))
        s.music_folders = self.folders.folders()
        s.device = str(self.device.currentData())
        s.playlist_min = self.pl_min.value()
        s.playlist_max = self.pl_max.value()
        s.cluster_method = str(self.method.currentData())
        s.genius_token = self.token.text().strip()
        s.export_dir = self.export_dir.text().strip()
        s.export_absolute = self.export_absolute.isChecked()
        s.watch_folders = self.watch.isChecked()
        return s

    def accept(self) -> None:
        problem = length_problem(self.pl_min.value(), self.pl_max.value())
        if problem:
            self.error.setText(problem)
            return
        try:
            self.result_settings().validate()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        super().accept()


def about_html(info: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in info.items() if v not in (None, "")
    )
    return (
        "<h2>musicorg</h2><p>A music-library organizer: automatic playlists and a map of your "
        "library, from a hybrid audio/lyrics Beta-VAE.</p>"
        f"<table cellspacing='4'>{rows}</table>"
        f"<p>{MUSICNN_CREDIT}</p>"
    )


# The ISC licence of the MusiCNN weights asks for its notice wherever they are shipped; the
# full notice is in CREDITS.md and resources/models/musicnn/LICENSE.
MUSICNN_CREDIT = (
    "Listening uses <b>MusiCNN</b> (MSD_musicnn) by Jordi Pons and Xavier Serra, "
    "<i>musicnn: pre-trained convolutional neural networks for music audio tagging</i> "
    "(2019), converted to PyTorch. Weights © Music Technology Group, Universitat Pompeu "
    "Fabra 2019, ISC licence."
)


class AboutDialog(QDialog):
    def __init__(self, info: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About musicorg")
        self.label = QLabel(about_html(info))
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(buttons)


def ask_damaged(parent: QWidget, db: Path, message: str, backup: Path | None) -> str:
    """Ask what to do with a damaged catalogue: "restore" (the newest backup, when there is
    one), "rebuild" (from a scan) or "quit"."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("The catalogue is damaged")
    box.setText(f"musicorg cannot read its catalogue {db}.")
    box.setInformativeText(
        f"{message}\n\nYour music files are not affected, and your own playlists are kept "
        "in a mirror beside the catalogue. The damaged file is set aside, not deleted."
    )
    restore = None
    if backup is not None:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(backup.stat().st_mtime))
        restore = box.addButton(f"Restore the backup of {when}", QMessageBox.ButtonRole.AcceptRole)
    rebuild = box.addButton("Rebuild from a scan", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    clicked = box.clickedButton()
    if restore is not None and clicked is restore:
        return "restore"
    return "rebuild" if clicked is rebuild else "quit"


def confirm(parent: QWidget, title: str, question: str) -> bool:
    """Ask a yes-or-no question (No is the default); True for Yes."""
    answer = QMessageBox.question(
        parent,
        title,
        question,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes
