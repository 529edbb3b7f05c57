"""The app's colours and icons, taken from the palette so that a dark desktop stays dark.

Every colour the window draws itself (the map's background, its labels, notes in a lighter
text, warnings, the now-playing bar's cover placeholder) comes from here, computed from the
application's palette when it is asked for; :func:`follow` re-applies a widget's colours
when the palette changes (the desktop switched between light and dark while the app runs).
:func:`install` makes the palette follow the system's colour scheme where the platform says
"dark" but hands Qt a light palette. Icons are SVG files in ``resources/icons``, so they stay
sharp at any scale.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from musicorg import paths

Role = QPalette.ColorRole


def palette() -> QPalette:
    """The application's palette (a default one before the application exists)."""
    return QGuiApplication.palette() if QGuiApplication.instance() else QPalette()


def luminance(c: QColor) -> float:
    """Relative luminance (WCAG), 0 for black to 1 for white."""

    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else float(((v + 0.055) / 1.055) ** 2.4)

    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """The WCAG contrast ratio of two colours, 1 (none) to 21 (black on white)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def is_dark(p: QPalette | None = None) -> bool:
    """Whether the palette is a dark one: its window darker than its text."""
    p = p or palette()
    return luminance(p.color(Role.Window)) < luminance(p.color(Role.WindowText))


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved a share ``t`` of the way to ``b``."""
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
        a.alphaF() + (b.alphaF() - a.alphaF()) * t,
    )


def css(c: QColor) -> str:
    """A colour for a style sheet or rich text: ``#rrggbb``, or ``rgba(...)`` when see-through."""
    if c.alpha() == 255:
        return c.name()
    return f"rgba({c.red()}, {c.green()}, {c.blue()}, {c.alpha()})"


# -- the colours ---------------------------------------------------------------------------------


def text() -> QColor:
    """Text on the window."""
    return palette().color(Role.WindowText)


def muted() -> QColor:
    """Secondary text (notes, an album under a title): the text a third of the way to the
    window, which keeps a contrast of at least 4.5 on light and dark palettes alike."""
    p = palette()
    return mix(p.color(Role.WindowText), p.color(Role.Window), 0.35)


def background() -> QColor:
    """Where content is drawn (the map, its legend, the colour bar): the palette's base."""
    return palette().color(Role.Base)


def ink() -> QColor:
    """Lines and text drawn on :func:`background` (rings on the map, the colour bar's text)."""
    return palette().color(Role.Text)


def label_fill(alpha: int = 200) -> QColor:
    """The box behind a label drawn over the map: the background, slightly see-through."""
    c = QColor(background())
    c.setAlpha(alpha)
    return c


def tooltip_fill(alpha: int = 230) -> QColor:
    """The box of the map's hover label: the palette's tooltip colour."""
    c = QColor(palette().color(Role.ToolTipBase))
    c.setAlpha(alpha)
    return c


def tooltip_text() -> QColor:
    return palette().color(Role.ToolTipText)


def placeholder() -> QColor:
    """An empty square where a picture will be (the cover of the track playing)."""
    p = palette()
    return mix(p.color(Role.Window), p.color(Role.WindowText), 0.08)


def dimmed() -> QColor:
    """Rows and points of what is not there (missing files): the palette's placeholder text."""
    return palette().color(Role.PlaceholderText)


def _pick(light: str, dark: str) -> QColor:
    return QColor(dark if is_dark() else light)


def error() -> QColor:
    """Text that says something is wrong."""
    return _pick("#b00020", "#ff7b7b")


def warning() -> QColor:
    """Text that asks for attention (the note over a list of results)."""
    return _pick("#7a4a00", "#f2c36b")


def note_background() -> QColor:
    """The band behind a note (the bar over a list of results)."""
    return _pick("#fff6d5", "#3d3420")


def accent() -> QColor:
    """Lines the user draws (the lasso): the palette's highlight."""
    return palette().color(Role.Highlight)


# -- following the palette -----------------------------------------------------------------------


class _Follow(QObject):
    """Calls ``apply(widget)`` again when the application's palette changes. It is the
    widget's child: it goes, and its connection with it, when the widget goes."""

    def __init__(self, app: QGuiApplication, widget: QWidget, apply: Callable[[QWidget], None]):
        super().__init__(widget)
        self.apply = apply
        app.paletteChanged.connect(self.reapply)

    def reapply(self, _palette: QPalette) -> None:
        widget = self.parent()
        if isinstance(widget, QWidget):
            self.apply(widget)


def follow(widget: QWidget, apply: Callable[[QWidget], None]) -> None:
    """Run ``apply(widget)`` (which sets its colours from this module) now, and again when
    the palette changes. ``apply`` must change nothing when called twice in a row (a style
    sheet changes the palette too)."""
    apply(widget)
    app = QGuiApplication.instance()
    if isinstance(app, QGuiApplication):
        _Follow(app, widget, apply)


def style(widget: QWidget, sheet: Callable[[], str]) -> None:
    """Give ``widget`` the style sheet ``sheet()`` makes, now and at each palette change."""

    def apply(w: QWidget) -> None:
        text = sheet()
        if w.styleSheet() != text:
            w.setStyleSheet(text)

    follow(widget, apply)


def dark_palette() -> QPalette:
    """A dark palette for the Fusion style, for a system that says "dark" without one."""
    p = QPalette()
    window, base, text_c = QColor("#2b2b2b"), QColor("#1f1f1f"), QColor("#e6e6e6")
    for role, colour in (
        (Role.Window, window),
        (Role.WindowText, text_c),
        (Role.Base, base),
        (Role.AlternateBase, QColor("#262626")),
        (Role.Text, text_c),
        (Role.Button, QColor("#353535")),
        (Role.ButtonText, text_c),
        (Role.BrightText, QColor("#ffffff")),
        (Role.Highlight, QColor("#3d7bd9")),
        (Role.HighlightedText, QColor("#ffffff")),
        (Role.ToolTipBase, QColor("#3a3a3a")),
        (Role.ToolTipText, text_c),
        (Role.PlaceholderText, QColor("#9a9a9a")),
        (Role.Link, QColor("#7fb0ff")),
        (Role.Light, QColor("#505050")),
        (Role.Midlight, QColor("#404040")),
        (Role.Mid, QColor("#303030")),
        (Role.Dark, QColor("#181818")),
        (Role.Shadow, QColor("#000000")),
    ):
        p.setColor(role, colour)
    for role in (Role.WindowText, Role.Text, Role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7a"))
    return p


def follow_scheme(app: QApplication) -> None:
    """Where the system's colour scheme is dark and the platform gave Qt a light palette
    (common outside GNOME and KDE), switch to a dark one; and back when it turns light."""
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark and not is_dark(app.palette()):
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
    elif scheme == Qt.ColorScheme.Light and is_dark(app.palette()):
        app.setPalette(app.style().standardPalette())


def install(app: QApplication) -> None:
    """Follow the system's colour scheme, now and when it changes."""
    follow_scheme(app)
    app.styleHints().colorSchemeChanged.connect(lambda _s: follow_scheme(app))


# -- icons ---------------------------------------------------------------------------------------


@cache
def icon(name: str) -> QIcon:
    """The icon ``resources/icons/NAME.svg``: drawn at the size asked for, so it is sharp at
    any scale (an empty icon when the file is missing)."""
    path = paths.resources_dir() / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


def app_icon() -> QIcon:
    """The application's icon: the SVG, with the PNG sizes for places that want a bitmap."""
    result = QIcon(icon("musicorg"))
    folder = paths.resources_dir() / "icons"
    for png in sorted(folder.glob("musicorg-*.png")):
        result.addFile(str(png))
    return result
