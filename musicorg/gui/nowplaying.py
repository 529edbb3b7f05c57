"""The now-playing bar at the bottom of the window: cover art, title and artist, previous,
play/pause and next, a seek slider between the elapsed and the total time, the volume, and
the button that shows the queue; and :class:`PlaybackParts`, which puts playback into the
window.

It only shows what :class:`~musicorg.gui.playcontrol.PlayControl` says and asks it to act.
The position is polled a few times a second while playing (a cheap read of the player's
counter); the cover is read and scaled in the background.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractSlider,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QSlider,
    QStyle,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from musicorg.app.covers import cover_art
from musicorg.gui import theme
from musicorg.gui.host import Host
from musicorg.gui.mappanel import MapPanel
from musicorg.gui.mpris import Mpris
from musicorg.gui.playcontrol import PlayControl, TrackInfo
from musicorg.gui.queueview import QueueDock
from musicorg.gui.sidebar import Sidebar
from musicorg.gui.widgets import DetailsPane

#: How often the position is read while playing (5 Hz).
POLL_MS = 200
#: The cover's side, in device-independent pixels.
COVER_PX = 52


def clock(seconds: float | None) -> str:
    """0:07, 3:25, 1:02:03; "–:––" when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "–:––"
    total = int(seconds)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def scaled_cover(data: bytes | None, side: int) -> QImage | None:
    """The encoded image as a square-bounded QImage of ``side`` pixels (any thread)."""
    if not data:
        return None
    image = QImage.fromData(data)
    if image.isNull():
        return None
    return image.scaled(
        side,
        side,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with "…" to the width it is given."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(80)

    def set_full(self, text: str) -> None:
        self.full = text
        self.setToolTip(text)
        self._elide()

    def _elide(self) -> None:
        metrics = self.fontMetrics()
        self.setText(metrics.elidedText(self.full, Qt.TextElideMode.ElideRight, self.width()))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()


class NowPlayingBar(QWidget):
    """See the module's docstring."""

    #: the queue button was pressed
    queue_requested = Signal()

    def __init__(self, control: PlayControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("nowplaying")
        self.control = control
        self.position_s = 0.0  # the last position read
        self._dragging = False
        self._cover_for = 0
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        control.track_changed.connect(self._track_changed)
        control.state_changed.connect(self._state_changed)
        control.available_changed.connect(self._available_changed)
        control.queue_changed.connect(self._queue_changed)
        control.volume_changed.connect(self._volume_changed)
        self._track_changed(control.current_id)
        self._state_changed(control.state)

    # -- the widgets -----------------------------------------------------------------------------

    def _button(self, icon: QStyle.StandardPixmap, tip: str) -> QToolButton:
        b = QToolButton()
        b.setIcon(self.style().standardIcon(icon))
        b.setIconSize(QSize(22, 22))
        b.setToolTip(tip)
        b.setAutoRaise(True)
        return b

    def _build(self) -> None:
        self.cover = QLabel()
        self.cover.setFixedSize(COVER_PX, COVER_PX)
        self.cover.setAlignment(Qt.AlignmentFlag.AlignCenter)
        theme.style(
            self.cover,
            lambda: (
                f"background: {theme.css(theme.placeholder())}; "
                f"color: {theme.css(theme.muted())}; font-size: 22px"
            ),
        )
        self.title = ElidedLabel()
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        self.album = ElidedLabel()
        theme.style(self.album, lambda: f"color: {theme.css(theme.muted())}")
        text = QVBoxLayout()
        text.setSpacing(0)
        text.addStretch(1)
        text.addWidget(self.title)
        text.addWidget(self.album)
        text.addStretch(1)

        sp = QStyle.StandardPixmap
        self.prev_button = self._button(sp.SP_MediaSkipBackward, "Previous (Ctrl+Left)")
        self.play_button = self._button(sp.SP_MediaPlay, "Play (Space)")
        self.next_button = self._button(sp.SP_MediaSkipForward, "Next (Ctrl+Right)")
        self.prev_button.clicked.connect(self.control.previous)
        self.play_button.clicked.connect(self.control.toggle)
        self.next_button.clicked.connect(self.control.next)

        self.elapsed = QLabel(clock(0))
        self.total = QLabel(clock(None))
        for label in (self.elapsed, self.total):
            label.setMinimumWidth(38)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.seek = QSlider(Qt.Orientation.Horizontal)
        self.seek.setToolTip("Seek")
        self.seek.setMinimumWidth(160)
        self.seek.setSingleStep(5000)  # milliseconds: arrow keys move 5 s, a click 10 s
        self.seek.setPageStep(10000)
        self.seek.sliderPressed.connect(self._seek_pressed)
        self.seek.sliderMoved.connect(lambda ms: self.elapsed.setText(clock(ms / 1000)))
        self.seek.sliderReleased.connect(self._seek_released)
        self.seek.actionTriggered.connect(self._seek_action)

        self.volume_icon = QLabel()
        self.volume_icon.setPixmap(self.style().standardIcon(sp.SP_MediaVolume).pixmap(18, 18))
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 100)
        self.volume.setValue(round(self.control.volume * 100))
        self.volume.setFixedWidth(90)
        self.volume.setToolTip("Volume")
        self.volume.valueChanged.connect(lambda v: self.control.set_volume(v / 100))

        self.queue_button = QToolButton()
        self.queue_button.setText("Queue")
        self.queue_button.setToolTip("Show the queue")
        self.queue_button.setAutoRaise(True)
        self.queue_button.clicked.connect(self.queue_requested)

        row = QHBoxLayout(self)
        row.setContentsMargins(6, 3, 6, 3)
        row.addWidget(self.cover)
        row.addLayout(text, 3)
        for b in (self.prev_button, self.play_button, self.next_button):
            row.addWidget(b)
        row.addWidget(self.elapsed)
        row.addWidget(self.seek, 5)
        row.addWidget(self.total)
        row.addSpacing(8)
        row.addWidget(self.volume_icon)
        row.addWidget(self.volume)
        row.addWidget(self.queue_button)

    # -- what the control says -------------------------------------------------------------------

    def _track_changed(self, track_id: int) -> None:
        info = self.control.info(track_id) if track_id else None
        self._show_info(track_id, info)
        self.position_s = 0.0
        self._show_position(0.0)
        self._load_cover(info)
        self._enable()

    def _show_info(self, track_id: int, info: TrackInfo | None) -> None:
        if not self.control.available:
            self.title.set_full(self.control.off_message())
            self.album.set_full("")
        elif not track_id:
            self.title.set_full("Nothing playing")
            self.album.set_full("Double-click a track, or press Space, to play it.")
        elif info is None:
            self.title.set_full(f"Track {track_id}")
            self.album.set_full("")
        else:
            self.title.set_full(info.label)
            self.album.set_full(info.album)

    def _state_changed(self, state: str) -> None:
        playing = state == "playing"
        sp = QStyle.StandardPixmap
        icon = sp.SP_MediaPause if playing else sp.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        if playing:
            self.timer.start()
        else:
            self.timer.stop()
        self._enable()
        self.poll()

    def _available_changed(self, _available: bool) -> None:
        self._show_info(self.control.current_id, self.control.info(self.control.current_id))
        self._enable()

    def _queue_changed(self) -> None:
        items, index = self.control.queue()
        coming = len(items) - (index + 1 if index is not None else 0)
        self.queue_button.setText(f"Queue ({coming})" if coming > 0 else "Queue")
        self._enable()

    def _volume_changed(self, volume: float) -> None:
        self.volume.blockSignals(True)
        self.volume.setValue(round(volume * 100))
        self.volume.blockSignals(False)

    def _enable(self) -> None:
        on = self.control.available
        has_track = bool(self.control.current_id)
        self.play_button.setEnabled(on)
        if not on:
            self.play_button.setToolTip(self.control.off_message())
        else:
            self.play_button.setToolTip(
                "Pause (Space)" if self.control.playing() else "Play (Space)"
            )
        self.next_button.setEnabled(on and has_track)
        self.prev_button.setEnabled(on)
        self.seek.setEnabled(on and has_track)

    # -- the position ----------------------------------------------------------------------------

    def poll(self) -> None:
        """Read the position and the length, and show them (unless the slider is held)."""
        if not self.control.current_id:
            return
        self.position_s = self.control.position()
        if not self._dragging:
            self._show_position(self.position_s)

    def _show_position(self, seconds: float) -> None:
        duration = self.control.duration() if self.control.current_id else None
        self.total.setText(clock(duration))
        self.elapsed.setText(clock(seconds) if self.control.current_id else clock(0))
        self.seek.blockSignals(True)
        self.seek.setRange(0, int((duration or 0) * 1000))
        self.seek.setValue(int(seconds * 1000))
        self.seek.blockSignals(False)

    def _seek_pressed(self) -> None:
        self._dragging = True

    def _seek_released(self) -> None:
        self._dragging = False
        self.control.seek(self.seek.value() / 1000)

    def _seek_action(self, action: int) -> None:
        """A click on the groove, or a key: seek where the slider goes."""
        step = QAbstractSlider.SliderAction
        if action in (step.SliderMove.value, step.SliderNoAction.value):
            return  # a drag: sought on release
        QTimer.singleShot(0, lambda: self.control.seek(self.seek.value() / 1000))

    # -- the cover -------------------------------------------------------------------------------

    def _load_cover(self, info: TrackInfo | None) -> None:
        self.cover.setPixmap(QPixmap())
        self.cover.setText("♪")
        self._cover_for = info.track_id if info is not None else 0
        if info is None:
            return
        side = round(COVER_PX * self.devicePixelRatioF())
        path, track_id = info.path, info.track_id

        def shown(image: QImage | None) -> None:
            if image is None or track_id != self._cover_for:
                return
            pixmap = QPixmap.fromImage(image)
            pixmap.setDevicePixelRatio(self.devicePixelRatioF())
            self.cover.setPixmap(pixmap)

        self.control.background.run("cover", lambda: scaled_cover(cover_art(path), side), shown)

    def has_cover(self) -> bool:
        pixmap = self.cover.pixmap()
        return pixmap is not None and not pixmap.isNull()


class PlaybackParts:
    """Playback put into the window: the control, the bar (a toolbar at the bottom), the
    Queue dock and the media keys, wired to the table, the map, the sidebar and the details."""

    def __init__(
        self,
        window: QMainWindow,
        host: Host,
        sidebar: Sidebar,
        details: DetailsPane,
        map_panel: MapPanel,
        backend: str | None = None,
        save_volume: Callable[[float], None] | None = None,
    ) -> None:
        library = host.library
        self.control = PlayControl(host, backend, window, save_volume)
        self.bar = NowPlayingBar(self.control)
        self.toolbar = QToolBar("Now playing")
        self.toolbar.setObjectName("nowplaying-bar")
        self.toolbar.setMovable(False)
        self.toolbar.addWidget(self.bar)
        window.addToolBar(Qt.ToolBarArea.BottomToolBarArea, self.toolbar)
        self.queue_dock = QueueDock(self.control, window)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.queue_dock)
        self.queue_dock.hide()
        self.bar.queue_requested.connect(self.queue_dock.toggle)
        self.control.track_changed.connect(library.set_playing)
        self.control.track_changed.connect(map_panel.set_playing)
        self.control.stats_changed.connect(library.set_plays)
        library.table.doubleClicked.connect(lambda i: self.control.play_view_row(i.row()))
        sidebar.play_requested.connect(self.control.play_tracks)
        details.play.connect(self.control.play_selection)
        self.mpris = Mpris(self.control, window)
        self.mpris.register()
