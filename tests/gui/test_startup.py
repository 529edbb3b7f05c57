"""Starting the window on a desktop that lacks Qt's X11 libraries: a message that names them and
the command that installs them, instead of Qt's raw plugin error and an abort (issue 19, item 1)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from musicorg.gui import startup

X11 = {"DISPLAY": ":0"}


def _without(*missing: str) -> startup.Loadable:
    return lambda soname: soname not in missing


def test_all_libraries_present_means_no_problem() -> None:
    assert startup.window_problem(X11, find=_without(), platform="Linux") is None


def test_missing_libraries_are_named_with_their_packages() -> None:
    find = _without("libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0")
    message = startup.window_problem(X11, find=find, platform="Linux")
    assert message is not None
    assert "libxcb-icccm.so.4" in message and "libxcb-cursor.so.0" in message
    assert "sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in message
    assert "make run" in message


@pytest.mark.parametrize(
    "env",
    [
        {"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"},
        {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"},
        {"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"},
        {"QT_QPA_PLATFORM": "wayland"},
    ],
)
def test_other_platforms_do_not_need_them(env: dict[str, str]) -> None:
    assert (
        startup.window_problem(env, find=_without(*startup.XCB_LIBRARIES), platform="Linux") is None
    )


def test_xcb_asked_for_explicitly_is_checked() -> None:
    env = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":1"}
    assert "libxcb1" in (
        startup.window_problem(env, find=_without("libxcb.so.1"), platform="Linux") or ""
    )


def test_no_display_at_all_says_so() -> None:
    message = startup.window_problem({}, find=_without(), platform="Linux")
    assert message is not None and "no display" in message and "offscreen" in message


def test_other_systems_are_not_checked() -> None:
    assert startup.window_problem({}, find=_without("libxcb.so.1"), platform="Darwin") is None


def test_the_real_loader_finds_what_this_machine_has() -> None:
    """The check asks the dynamic loader itself: libc is there, a made-up library is not."""
    assert startup.loadable("libc.so.6")
    assert not startup.loadable("libmusicorg-no-such-library.so.9")


@pytest.mark.skipif(
    not startup.missing_xcb_libraries(), reason="this machine has every X11 library Qt needs"
)
def test_the_app_prints_the_message_instead_of_aborting(tmp_path: object) -> None:
    """On a machine that lacks some of them (ours lack libxcb-icccm4 and libxcb-keysyms1), the
    real command with a display set exits 1 with the message, and Qt's abort never comes."""
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=":77")
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run(
        [sys.executable, "-m", "musicorg.cli"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 1, done.stderr
    assert "sudo apt-get install -y" in done.stderr
    assert "could not load the Qt platform plugin" not in done.stderr
