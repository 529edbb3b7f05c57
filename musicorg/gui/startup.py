"""Can a window open here? Asked before Qt is started, because Qt cannot answer it gracefully.

The PySide6 wheels bundle Qt, but its X11 platform plugin (``xcb``) loads a dozen system
libraries that a fresh desktop may lack. Missing one, Qt prints "could not load the Qt platform
plugin" and aborts the process. So before the window starts, :func:`window_problem` looks for
those libraries the way the plugin will (the dynamic loader), and names any that are missing
together with the Debian packages that hold them. Nothing here imports Qt.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Mapping

#: What Qt 6's xcb platform plugin loads (``ldd libqxcb.so``), and the Debian package of each.
XCB_LIBRARIES: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}

#: The question "can the dynamic loader find this library?"; tests answer it themselves.
Loadable = Callable[[str], bool]


def loadable(soname: str) -> bool:
    """True if the dynamic loader finds ``soname``, as Qt's plugin will look for it."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_xcb_libraries(find: Loadable = loadable) -> dict[str, str]:
    """The libraries of Qt's X11 plugin that cannot be loaded here, each with its package."""
    return {lib: pkg for lib, pkg in XCB_LIBRARIES.items() if not find(lib)}


def uses_xcb(env: Mapping[str, str]) -> bool:
    """Whether Qt will start its X11 platform: asked for, or the default on an X11 session."""
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip().lower()
    if platform:
        return platform == "xcb"
    wayland = env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE", "").lower() == "wayland"
    return bool(env.get("DISPLAY")) and not wayland


def window_problem(
    env: Mapping[str, str] | None = None, find: Loadable = loadable, platform: str | None = None
) -> str | None:
    """None if the window can start; else one paragraph saying why not and what to do."""
    env = os.environ if env is None else env
    if (platform or os.uname().sysname) != "Linux":
        return None
    chosen = env.get("QT_QPA_PLATFORM", "")
    if not chosen and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return (
            "musicorg cannot open its window: there is no display (neither DISPLAY nor "
            "WAYLAND_DISPLAY is set). Start it from your desktop session, use the command line "
            "(`musicorg --help`), or run it offscreen with QT_QPA_PLATFORM=offscreen."
        )
    if not uses_xcb(env):
        return None
    missing = missing_xcb_libraries(find)
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(missing.values()))
    return (
        "musicorg cannot open its window: Qt's X11 platform needs system libraries that are "
        f"not installed here ({', '.join(missing)}). Install them with:\n"
        f"    sudo apt-get install -y {packages}\n"
        "(`make run` installs them when run as root; other distributions name these packages "
        "alike.)"
    )
