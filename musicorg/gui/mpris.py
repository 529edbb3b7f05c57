"""Media keys and desktop players' controls on Linux: the MPRIS D-Bus interface
(``org.mpris.MediaPlayer2`` and ``org.mpris.MediaPlayer2.Player``) on the session bus.

The desktop (GNOME, KDE, a media-key daemon, ``playerctl``) calls PlayPause, Next, Seek...;
the adaptors below pass them to :class:`~musicorg.gui.playcontrol.PlayControl`, and tell the
bus when the state, the track or the volume change. Without a session bus (a plain console,
another platform) or offscreen, :meth:`Mpris.register` quietly does nothing.

The metadata carries ``mpris:artUrl`` when the track has a cover: the cover is written to the
cache folder (:func:`musicorg.app.covers.cover_file`, in the background) and the metadata
changes again once it is there.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import ClassInfo, Property, QMetaType, QObject, QUrl, Signal, Slot
from PySide6.QtDBus import (
    QDBusAbstractAdaptor,
    QDBusArgument,
    QDBusConnection,
    QDBusMessage,
    QDBusObjectPath,
)
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from musicorg.app.covers import cover_file
from musicorg.gui.playcontrol import PlayControl

log = logging.getLogger(__name__)

SERVICE = "org.mpris.MediaPlayer2.musicorg"
OBJECT_PATH = "/org/mpris/MediaPlayer2"
ROOT_INTERFACE = "org.mpris.MediaPlayer2"
PLAYER_INTERFACE = "org.mpris.MediaPlayer2.Player"
PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"
#: The track id MPRIS reserves for "no track".
NO_TRACK = "/org/mpris/MediaPlayer2/TrackList/NoTrack"
#: The desktop file's name, without ".desktop".
DESKTOP_ENTRY = "io.github.musicorg.Musicorg"

STATUS = {"playing": "Playing", "paused": "Paused", "stopped": "Stopped"}

# PySide6's type stubs know neither ClassInfo as a decorator nor Qt type names ("qlonglong",
# "QVariantMap") in Property and Signal, which D-Bus needs for its types (x, a{sv}, as).
_class_info: Any = ClassInfo
_property: Any = Property
_signal: Any = Signal
T = TypeVar("T")


def interface(name: str) -> Callable[[type[T]], type[T]]:
    """The class decorator that names an adaptor's D-Bus interface."""
    decorate: Callable[[type[T]], type[T]] = _class_info({"D-Bus Interface": name})
    return decorate


def track_path(track_id: int) -> str:
    """A track's MPRIS track id (a D-Bus object path)."""
    return f"/org/musicorg/track/{track_id}" if track_id else NO_TRACK


def metadata(control: PlayControl, art_url: str | None = None) -> dict[str, Any]:
    """The MPRIS metadata of the current track (only the track id when there is none), with
    ``art_url`` (a file:// URL of its cover) when it has one."""
    track_id = control.current_id
    meta: dict[str, Any] = {"mpris:trackid": QDBusObjectPath(track_path(track_id))}
    info = control.info(track_id) if track_id else None
    if info is None:
        return meta
    meta["xesam:title"] = info.title
    if info.artist:
        meta["xesam:artist"] = [info.artist]
    if info.album:
        meta["xesam:album"] = info.album
    meta["xesam:url"] = QUrl.fromLocalFile(info.path).toString()
    duration = control.duration()
    if duration:
        meta["mpris:length"] = round(duration * 1_000_000)
    if art_url:
        meta["mpris:artUrl"] = art_url
    return meta


class MprisObject(QObject):
    """The object exported at :data:`OBJECT_PATH`; its two adaptors are its interfaces."""

    def __init__(self, control: PlayControl, window: QWidget) -> None:
        super().__init__()
        self.control = control
        self.window = window
        #: (track id, file:// URL of its cover) once the cover file is written
        self.art: tuple[int, str] | None = None
        self.root = RootAdaptor(self)
        self.player = PlayerAdaptor(self)

    def art_url(self) -> str | None:
        """The cover's URL of the current track, once known."""
        art, current = self.art, self.control.current_id
        return art[1] if art is not None and art[0] == current and current else None


@interface(ROOT_INTERFACE)
class RootAdaptor(QDBusAbstractAdaptor):
    """``org.mpris.MediaPlayer2``: who we are; raise and quit."""

    def __init__(self, owner: MprisObject) -> None:
        super().__init__(owner)
        self.owner = owner

    @Slot()
    def Raise(self) -> None:
        window = self.owner.window
        window.showNormal()
        window.raise_()
        window.activateWindow()

    @Slot()
    def Quit(self) -> None:
        self.owner.window.close()

    Identity = Property(str, lambda _self: "musicorg")
    DesktopEntry = Property(str, lambda _self: DESKTOP_ENTRY)
    CanQuit = Property(bool, lambda _self: True)
    CanRaise = Property(bool, lambda _self: True)
    HasTrackList = Property(bool, lambda _self: False)
    SupportedUriSchemes = _property("QStringList", lambda _self: [])
    SupportedMimeTypes = _property("QStringList", lambda _self: [])


@interface(PLAYER_INTERFACE)
class PlayerAdaptor(QDBusAbstractAdaptor):
    """``org.mpris.MediaPlayer2.Player``: the transport, the position, the volume."""

    #: the position jumped (microseconds)
    Seeked = _signal("qlonglong")

    def __init__(self, owner: MprisObject) -> None:
        super().__init__(owner)
        self.owner = owner
        self.control = owner.control

    # -- methods ----------------------------------------------------------------------------------

    @Slot()
    def PlayPause(self) -> None:
        self.control.toggle()

    @Slot()
    def Play(self) -> None:
        self.control.play()

    @Slot()
    def Pause(self) -> None:
        self.control.pause()

    @Slot()
    def Stop(self) -> None:
        self.control.stop()

    @Slot()
    def Next(self) -> None:
        self.control.next()

    @Slot()
    def Previous(self) -> None:
        self.control.previous()

    @Slot("qlonglong")
    def Seek(self, offset_us: int) -> None:
        """Move by ``offset_us`` microseconds (back when negative)."""
        if self.control.current_id:
            self.control.seek(self.control.position() + offset_us / 1_000_000)

    @Slot(QDBusObjectPath, "qlonglong")
    def SetPosition(self, track: QDBusObjectPath, position_us: int) -> None:
        """Go to ``position_us`` into ``track``, when it is still the current one."""
        if track.path() == track_path(self.control.current_id) and position_us >= 0:
            self.control.seek(position_us / 1_000_000)

    @Slot(str)
    def OpenUri(self, _uri: str) -> None:
        """Not supported (SupportedUriSchemes is empty)."""

    # -- properties -------------------------------------------------------------------------------

    def _status(self) -> str:
        return STATUS.get(self.control.state, "Stopped")

    def _metadata(self) -> dict[str, Any]:
        return metadata(self.control, self.owner.art_url())

    def _position(self) -> int:
        return round(self.control.position() * 1_000_000)

    def _volume(self) -> float:
        return self.control.volume

    def _set_volume(self, volume: float) -> None:
        self.control.set_volume(volume)

    def _can_play(self) -> bool:
        return self.control.available and self.control.session is not None

    def _has_track(self) -> bool:
        return self._can_play() and bool(self.control.current_id)

    PlaybackStatus = Property(str, _status)
    Metadata = _property("QVariantMap", _metadata)
    Position = _property("qlonglong", _position)
    Volume = Property(float, _volume, _set_volume)
    Rate = Property(float, lambda _self: 1.0)
    MinimumRate = Property(float, lambda _self: 1.0)
    MaximumRate = Property(float, lambda _self: 1.0)
    CanGoNext = Property(bool, _has_track)
    CanGoPrevious = Property(bool, _can_play)
    CanPlay = Property(bool, _can_play)
    CanPause = Property(bool, _has_track)
    CanSeek = Property(bool, _has_track)
    CanControl = Property(bool, lambda _self: True)


def _empty_string_list() -> QDBusArgument:
    """An empty ``as`` (an empty Python list would go out as ``av``)."""
    arg = QDBusArgument()
    arg.beginArray(QMetaType(QMetaType.Type.QString))
    arg.endArray()
    return arg


class Mpris(QObject):
    """The MPRIS service of one window; see the module's docstring."""

    def __init__(
        self,
        control: PlayControl,
        window: QWidget,
        connection: QDBusConnection | None = None,
    ) -> None:
        super().__init__(window)
        self.control = control
        self.object = MprisObject(control, window)
        self.connection = connection
        self.service: str | None = None  # the bus name it holds, once registered
        #: Whether covers are written for the metadata (MPRIS is a Linux desktop's).
        self.follow_art = sys.platform.startswith("linux")
        control.track_changed.connect(self._find_art)
        control.state_changed.connect(lambda _s: self._changed("PlaybackStatus", "CanPause"))
        control.track_changed.connect(
            lambda _t: self._changed("Metadata", "CanGoNext", "CanPause", "CanSeek")
        )
        control.available_changed.connect(lambda _a: self._changed("CanPlay", "CanGoPrevious"))
        control.volume_changed.connect(lambda _v: self._changed("Volume"))
        control.sought.connect(self._sought)

    def register(self) -> bool:
        """Offer the service on the session bus; False (and nothing done) without one, and
        for an offscreen window (tests, the smoke run: no one presses its media keys)."""
        if self.connection is None:
            offscreen = QGuiApplication.platformName() == "offscreen"
            if not sys.platform.startswith("linux") or offscreen:
                return False
            self.connection = QDBusConnection.sessionBus()
        conn = self.connection
        if not conn.isConnected():
            log.info("no D-Bus session bus: no media keys")
            return False
        if not conn.registerObject(OBJECT_PATH, self.object):
            log.info("MPRIS object not registered: %s", conn.lastError().message())
            return False
        for name in (SERVICE, f"{SERVICE}.instance{os.getpid()}"):
            if conn.registerService(name):
                self.service = name
                return True
        conn.unregisterObject(OBJECT_PATH)
        log.info("MPRIS name not registered: %s", conn.lastError().message())
        return False

    def close(self) -> None:
        """Give the name and the object back."""
        if self.connection is not None and self.service is not None:
            self.connection.unregisterService(self.service)
            self.connection.unregisterObject(OBJECT_PATH)
        self.service = None

    def _changed(self, *names: str) -> None:
        """Tell the bus the new values of these Player properties."""
        if self.service is None or self.connection is None:
            return
        player = self.object.player
        values = {name: getattr(player, name) for name in names}
        message = QDBusMessage.createSignal(OBJECT_PATH, PROPERTIES_INTERFACE, "PropertiesChanged")
        message.setArguments([PLAYER_INTERFACE, values, _empty_string_list()])
        self.connection.send(message)

    def _find_art(self, track_id: int) -> None:
        """Write the new track's cover to the cache folder (in the background); the metadata
        changes once it is there."""
        info = self.control.info(track_id) if track_id and self.follow_art else None
        if info is None:
            return
        path = info.path

        def found(file: Path | None) -> None:
            if file is not None and track_id == self.control.current_id:
                self.object.art = (track_id, QUrl.fromLocalFile(str(file)).toString())
                self._changed("Metadata")

        self.control.background.run("mpris-art", lambda: cover_file(path), found)

    def _sought(self, seconds: float) -> None:
        if self.service is not None:
            self.object.player.Seeked.emit(round(seconds * 1_000_000))
