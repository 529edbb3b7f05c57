"""An external player (mpv, ffplay, or the command in ``MUSICORG_PLAYER``) in a subprocess:
the explicit "Open in external player" option. musicorg plays music itself through
:mod:`musicorg.gui.playcontrol`; this is only for those who prefer another program.

:func:`default_player` picks ``mpv`` or ``ffplay`` when one is installed (``MUSICORG_PLAYER``
may name another command, whose arguments end with the file), else a :class:`NullPlayer` that
says why there is none (the option is then off). Tests inject a :class:`CommandPlayer` with
any command that waits, or a :class:`NullPlayer`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from typing import Protocol


class Player(Protocol):
    name: str

    def available(self) -> bool: ...

    def play(self, path: str) -> None: ...

    def stop(self) -> None: ...

    def playing(self) -> bool: ...


class NullPlayer:
    """Plays nothing; remembers what it was asked to play (tests, machines without a player)."""

    name = "none"

    def __init__(self, reason: str = "no external player found (install mpv or ffplay)") -> None:
        self.reason = reason
        self.current: str | None = None

    def available(self) -> bool:
        return False

    def play(self, path: str) -> None:
        self.current = path

    def stop(self) -> None:
        self.current = None

    def playing(self) -> bool:
        return self.current is not None


class CommandPlayer:
    """Runs ``argv + [path]`` in its own process; stop terminates it."""

    def __init__(self, argv: list[str], name: str | None = None) -> None:
        self.argv = list(argv)
        self.name = name or os.path.basename(argv[0])
        self.proc: subprocess.Popen[bytes] | None = None
        self.current: str | None = None

    def available(self) -> bool:
        return True

    def play(self, path: str) -> None:
        self.stop()
        self.proc = subprocess.Popen(
            [*self.argv, path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.current = path

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        self.current = None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=2)

    def playing(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def default_player() -> Player:
    custom = os.environ.get("MUSICORG_PLAYER")
    if custom:
        return CommandPlayer(shlex.split(custom))
    mpv = shutil.which("mpv")
    if mpv:
        return CommandPlayer([mpv, "--no-video", "--really-quiet", "--no-terminal"], "mpv")
    ffplay = shutil.which("ffplay")
    if ffplay:
        return CommandPlayer([ffplay, "-nodisp", "-autoexit", "-loglevel", "quiet"], "ffplay")
    return NullPlayer()
