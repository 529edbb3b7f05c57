"""Keyboard navigation and accessible names: every control a screen reader can land on says
what it is, and Tab moves between the window's main areas in reading order.

Qt names a button by its text and a field by the label whose buddy it is, and keeps those
names up to date; :func:`name_tree` gives each other focusable control a name from what it
shows (its placeholder, its tooltip, the label in front of it in its form or row, the tab or
dock it fills). A name taken from a tooltip follows the tooltip (Play becomes Pause). The
window's controls are named when it is built (:func:`install`); a dialog, or a control added
later, is named when the focus first enters it.

Tab leaves a table (arrows move inside it) and read-only text, and goes sidebar → search
fields → the Library and Map tabs → details → the rest (now playing, queue, problems).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from html import unescape

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QFormLayout,
    QFrame,
    QLabel,
    QLayout,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QStackedWidget,
    QTabBar,
    QTabWidget,
    QTextEdit,
    QToolBar,
    QWidget,
)

_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_VALUE = re.compile(r"\s*[-+−]?[\d.,:%]+$")


def plain(text: str) -> str:
    """One line of plain text: no markup, no mnemonic ampersands, no runs of spaces."""
    text = unescape(_TAGS.sub(" ", text)).replace("&&", "\0").replace("&", "")
    return _SPACE.sub(" ", text.replace("\0", "&")).strip()


def focusable(w: QWidget) -> bool:
    """Whether Tab can land on ``w`` (hidden or not: it may show later)."""
    if not w.focusPolicy().value & Qt.FocusPolicy.TabFocus.value:
        return False
    return w.focusProxy() is None  # a proxy's own control is the one focused


def spoken_name(w: QWidget) -> str:
    """The name a screen reader gets for ``w``: its accessible name, or the one Qt derives
    (a button's text, a buddy label's)."""
    if w.accessibleName():
        return w.accessibleName()
    iface = QAccessible.queryAccessibleInterface(w)
    return plain(iface.text(QAccessible.Text.Name)) if iface is not None else ""


def unnamed(root: QWidget) -> list[QWidget]:
    """The focusable controls in ``root`` that a screen reader would find nameless."""
    return [w for w in _widgets(root) if focusable(w) and not spoken_name(w)]


def _widgets(root: QWidget) -> list[QWidget]:
    return [root, *root.findChildren(QWidget)]


# -- where a name comes from ---------------------------------------------------------------------


def _placeholder(w: QWidget) -> str:
    if isinstance(w, QLineEdit | QTextEdit | QPlainTextEdit):
        return w.placeholderText()
    if isinstance(w, QComboBox) and w.lineEdit() is not None:
        edit = w.lineEdit()
        return edit.placeholderText() if edit is not None else ""
    return ""


def _layout_of(w: QWidget) -> QLayout | None:
    """The layout that holds ``w`` (its parent's, or one nested in it)."""
    parent = w.parentWidget()
    top = parent.layout() if parent is not None else None
    stack: list[QLayout] = [top] if top is not None else []
    while stack:
        layout = stack.pop()
        if layout.indexOf(w) >= 0:
            return layout
        for i in range(layout.count()):
            item = layout.itemAt(i)
            inner = item.layout() if item is not None else None
            if inner is not None:
                stack.append(inner)
    return None


def _label_before(w: QWidget) -> str:
    """The text of a form's label for ``w``, or of the label just before it in its row."""
    layout = _layout_of(w)
    if isinstance(layout, QFormLayout):
        label = layout.labelForField(w)
        if isinstance(label, QLabel) and label.text():
            return plain(label.text())
    if layout is None:
        return ""
    index = layout.indexOf(w)
    if index > 0:
        item = layout.itemAt(index - 1)
        before = item.widget() if item is not None else None
        if isinstance(before, QLabel) and before.text() and before.buddy() is None:
            text = plain(before.text())
            if not text.endswith("."):  # a sentence beside it says something, it names nothing
                return _VALUE.sub("", text).rstrip(":")  # "weight 0.50": "weight"
    return ""


def _context(w: QWidget) -> str:
    """What ``w`` fills: the tab, dock or window it is the main control of."""
    child: QWidget = w
    parent = w.parentWidget()
    while parent is not None:
        if isinstance(parent, QStackedWidget) and isinstance(parent.parentWidget(), QTabWidget):
            tabs = parent.parentWidget()
            assert isinstance(tabs, QTabWidget)
            index = tabs.indexOf(child)
            if index >= 0 and tabs.tabText(index):
                return plain(tabs.tabText(index))
        if isinstance(parent, QDockWidget) and parent.windowTitle():
            return plain(parent.windowTitle())
        if parent.isWindow():
            return plain(parent.windowTitle())
        child, parent = parent, parent.parentWidget()
    return ""


def _what(w: QWidget) -> str:
    """What kind of control ``w`` is, to go with its context ("Library list")."""
    if isinstance(w, QAbstractItemView):
        return "list"
    if isinstance(w, QTextEdit | QPlainTextEdit):
        return "text"
    if isinstance(w, QAbstractSpinBox):
        return "number"
    return "view"


def suggested_name(w: QWidget) -> tuple[str, bool]:
    """A name for ``w``, and whether it comes from its tooltip (and should follow it)."""
    if isinstance(w, QTabBar):
        tabs = [plain(w.tabText(i)) for i in range(w.count())]
        return (f"Tabs: {', '.join(t for t in tabs if t)}" if any(tabs) else "Tabs"), False
    combo = w.parentWidget()
    if isinstance(combo, QFrame) and isinstance(combo.parentWidget(), QComboBox):
        combo = combo.parentWidget()  # the list a combo box pops up
    if isinstance(combo, QComboBox) and w is not combo:
        name = combo.accessibleName() or suggested_name(combo)[0]
        return (name if isinstance(w, QLineEdit) else f"{name} choices"), False
    for found in (_placeholder(w), _label_before(w)):
        if found:
            return plain(found), False
    if w.toolTip():
        return plain(w.toolTip()), True
    for found in (w.statusTip(), w.whatsThis()):
        if found:
            return plain(found), False
    context = _context(w)
    return (f"{context} {_what(w)}" if context else ""), False


# -- naming --------------------------------------------------------------------------------------


class _FollowTooltip(QObject):
    """Keeps the accessible name of a control named after its tooltip equal to it."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTipChange and isinstance(watched, QWidget):
            watched.setAccessibleName(plain(watched.toolTip()))
        return False


def _buddies(root: QWidget) -> set[int]:
    """The controls that a label in ``root`` names (Qt reads those labels itself)."""
    return {id(label.buddy()) for label in root.findChildren(QLabel) if label.buddy()}


def name_widget(
    w: QWidget, follower: QObject | None = None, buddies: set[int] | None = None
) -> None:
    """Give ``w`` an accessible name when it is focusable and has none; make Tab leave it.

    Qt's own name is kept for a button (its text) and a labelled field (its label); for the
    rest it is a value (a list's current choice, a slider's neighbour), so a name from what
    the control shows replaces it."""
    if isinstance(w, QAbstractItemView):
        w.setTabKeyNavigation(False)  # Tab leaves the table; the arrow keys move in it
    if isinstance(w, QTextEdit | QPlainTextEdit) and w.isReadOnly():
        w.setTabChangesFocus(True)
    if not focusable(w) or w.accessibleName():
        return
    if buddies is None:
        buddies = _buddies(w.window())
    if spoken_name(w) and (isinstance(w, QAbstractButton) or id(w) in buddies):
        return
    name, from_tooltip = suggested_name(w)
    if not name:
        return
    w.setAccessibleName(name)
    if from_tooltip and follower is not None:
        w.installEventFilter(follower)


def name_tree(root: QWidget) -> None:
    """Name every focusable control in ``root`` that has no name."""
    follower, buddies = _follower(), _buddies(root)
    for w in _widgets(root):
        name_widget(w, follower, buddies)


class _Namer(QObject):
    """Names the controls of each window the focus enters, and of controls added later."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.follower = _FollowTooltip(self)
        self.seen: weakref.WeakSet[QWidget] = weakref.WeakSet()
        app.focusChanged.connect(self._focus_changed)

    def _focus_changed(self, _old: QWidget | None, now: QWidget | None) -> None:
        if now is None:
            return
        window = now.window()
        if window not in self.seen:
            self.seen.add(window)
            name_tree(window)
        else:
            name_widget(now, self.follower)


_namer: _Namer | None = None


def _follower() -> QObject | None:
    global _namer
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return None
    if _namer is None or _namer.parent() is not app:
        _namer = _Namer(app)
    return _namer.follower


# -- tab order -----------------------------------------------------------------------------------


def focus_chain(window: QWidget) -> list[QWidget]:
    """The focusable widgets of ``window`` in the order Tab visits them."""
    chain: list[QWidget] = []
    w = window.nextInFocusChain()
    while w is not None and w is not window and len(chain) < 10_000:
        if focusable(w) and w.window() is window:
            chain.append(w)
        w = w.nextInFocusChain()
    return chain


def tab_stops(window: QWidget, areas: Sequence[QWidget]) -> list[QWidget]:
    """The focusable widgets of ``window`` in the order Tab visits them: those of each of
    ``areas`` in turn (each area's own in their order), then every other one."""
    groups: list[list[QWidget]] = [[] for _ in range(len(areas) + 1)]
    for w in focus_chain(window):
        index = next((i for i, a in enumerate(areas) if a is w or a.isAncestorOf(w)), len(areas))
        groups[index].append(w)
    return [w for group in groups for w in group]


def move_focus(window: QMainWindow, forward: bool) -> bool:
    """Move the focus to the next (or previous) control Tab can reach, area by area, round
    to the first; False when the focus is not on one of them (Qt's own order then)."""
    areas = [getattr(window, name, None) for name in AREAS]
    stops = [
        w
        for w in tab_stops(window, [a for a in areas if isinstance(a, QWidget)])
        if w.isVisible() and w.isEnabled()
    ]
    current = QApplication.focusWidget()
    while current is not None and current not in stops and current is not window:
        current = current.parentWidget()  # a table's viewport: the table
    if current is None or current not in stops:
        return False
    step = 1 if forward else -1
    target = stops[(stops.index(current) + step) % len(stops)]
    reason = Qt.FocusReason.TabFocusReason if forward else Qt.FocusReason.BacktabFocusReason
    target.setFocus(reason)
    return True


#: The window's main areas (its attributes), in the order Tab visits them.
AREAS = ("sidebar", "toolbar", "tabs", "details_dock")


def install(window: QMainWindow) -> None:
    """Name the window's controls, now and when a tab is first shown (it may build its
    controls then); dialogs, and controls added later, are named when the focus enters them.
    The window's ``focusNextPrevChild`` calls :func:`move_focus` for the order of Tab."""

    def name_all() -> None:
        name_tree(window)
        for bar in window.findChildren(QToolBar):
            bar.setAccessibleName(bar.accessibleName() or plain(bar.windowTitle()))

    name_all()
    for tabs in window.findChildren(QTabWidget):
        tabs.currentChanged.connect(lambda _i: name_all())
