"""Help → Keyboard shortcuts: every action of the window that has a shortcut, grouped by its
menu; then the map's own keys.

The page is read from the window's actions each time it opens, so it lists what the keys do
now and cannot go stale when an action or a key is added or changed.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

#: The keys that open this page: F1, and Ctrl+/ for keyboards or desktops that take F1.
KEYS = (QKeySequence(Qt.Key.Key_F1), QKeySequence("Ctrl+/"))
#: The group of the window's actions that are in no menu.
OTHER = "Elsewhere"

Row = tuple[str, str]  # what the action does, its keys
#: The map's own keys, which work while it has the focus: its actions take them from here, so
#: the page lists them even before the map is first shown.
MAP = "Map"
MAP_KEYS: dict[str, tuple[str, ...]] = {"Fit all": ("F", "Home"), "Reset": ("0",)}
#: What the keys held with the mouse do on the map.
MAP_MOUSE: list[Row] = [
    ("Add to the selection (lasso, rectangle, click)", "Shift"),
    ("Take from the selection", "Ctrl"),
    ("Keep only the overlap", "Ctrl+Shift"),
]


def plain(text: str) -> str:
    """A menu's or an action's text without its accelerator marks ("&File" → "File")."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def keys_of(action: QAction) -> str:
    """An action's shortcuts as people read them ("F1 or Ctrl+/"); "" when it has none."""
    shown = [
        k.toString(QKeySequence.SequenceFormat.NativeText)
        for k in action.shortcuts()
        if not k.isEmpty()
    ]
    return " or ".join(shown)


def _menu_rows(menu: QMenu, seen: set[int], prefix: str = "") -> list[Row]:
    """The rows of a menu and of its submenus, in menu order ("Submenu › action")."""
    rows: list[Row] = []
    for action in menu.actions():
        sub = action.menu()
        if isinstance(sub, QMenu):
            rows += _menu_rows(sub, seen, f"{prefix}{plain(sub.title())} › ")
            continue
        seen.add(id(action))
        keys = keys_of(action)
        if keys and not action.isSeparator():
            rows.append((prefix + plain(action.text()), keys))
    return rows


def shortcut_groups(window: QMainWindow) -> list[tuple[str, list[Row]]]:
    """(menu title, rows) for each menu of the window's menu bar that has a shortcut, in the
    bar's order, then the window's own actions that are in no menu."""
    groups: list[tuple[str, list[Row]]] = []
    seen: set[int] = set()
    for top in window.menuBar().actions():
        menu = top.menu()
        if isinstance(menu, QMenu):
            rows = _menu_rows(menu, seen)
            if rows:
                groups.append((plain(menu.title()), rows))
    other = [
        (plain(a.text()), keys_of(a)) for a in window.actions() if id(a) not in seen and keys_of(a)
    ]
    if other:
        groups.append((OTHER, other))
    groups.append((MAP, [(text, " or ".join(keys)) for text, keys in MAP_KEYS.items()]))
    groups[-1][1].extend(MAP_MOUSE)
    return groups


class ShortcutsDialog(QDialog):
    """The keyboard shortcuts of a window, grouped by menu."""

    def __init__(self, window: QMainWindow, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setWindowTitle("Keyboard shortcuts")
        self.groups = shortcut_groups(window)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Action", "Keys"])
        self.tree.setRootIsDecorated(False)
        self.tree.setItemsExpandable(False)
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.NoSelection)
        self.tree.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.tree.setAccessibleName("Keyboard shortcuts")
        self.tree.setStyleSheet("QTreeWidget::item { padding: 3px 6px; }")
        for title, rows in self.groups:
            head = QTreeWidgetItem([title, ""])
            font = head.font(0)
            font.setBold(True)
            head.setFont(0, font)
            head.setFirstColumnSpanned(True)
            self.tree.addTopLevelItem(head)
            for text, keys in rows:
                head.addChild(QTreeWidgetItem([text, keys]))
            head.setExpanded(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        note = QLabel("Menus also open with Alt and their underlined letter.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)
        # As tall as the list (within reason), so that it needs no scrolling on a usual screen.
        lines = sum(len(group) + 1 for _title, group in self.groups)
        self.resize(520, min(760, 140 + lines * self.tree.fontMetrics().height() * 3 // 2))

    def rows(self) -> list[tuple[str, str, str]]:
        """(group, action, keys) as shown, for tests and for reading."""
        return [(group, text, keys) for group, rows in self.groups for text, keys in rows]


def show_shortcuts(window: QMainWindow) -> ShortcutsDialog:
    """Open the page (not modal: it can stay open beside the window)."""
    dialog = ShortcutsDialog(window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
