"""A player that starts without an output device keeps looking for one, off the caller's
thread, and plays once one appears (issue 18: a USB headset plugged in, a sound server started
late). A backend name that can never open is not looked for again."""

from __future__ import annotations

import threading

import pytest

from musicorg.playback import player as player_mod
from musicorg.playback.player import OutputBack, Player
from tests.conftest import DATA
from tests.playback.test_player import Events, Socket, wait_until


@pytest.fixture
def events() -> Events:
    return Events()


class Probes(Socket):
    """A socket that also records on which thread each look for a device ran."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def __call__(self, backend: str | None) -> tuple[object, str | None]:
        self.threads.append(threading.current_thread().name)
        return super().__call__(backend)


def test_a_device_that_appears_after_the_start_is_found_and_plays(
    monkeypatch: pytest.MonkeyPatch, events: Events
) -> None:
    monkeypatch.setattr(player_mod, "PROBE_S", 0.1, raising=False)
    socket = Probes()
    socket.plugged = False
    with Player(on_event=events, open_device=socket) as p:  # type: ignore[arg-type]
        assert not p.available and (p.unavailable_reason or "").startswith("no audio output")
        assert wait_until(lambda: socket.tries >= 3)  # it keeps looking, quietly
        assert not p.available and not events.of(OutputBack)
        assert all(name == "musicorg-player-events" for name in socket.threads[1:])
        socket.plugged = True
        assert wait_until(lambda: bool(events.of(OutputBack)))
        (back,) = events.of(OutputBack)
        assert (
            isinstance(back, OutputBack)
            and back.name == "Null"
            and p.available
            and p.unavailable_reason is None
        )
        p.load(str(DATA / "kevin_macleod_vibe_ace.wav"), track_id=1)
        assert wait_until(lambda: p.position() >= 0.2)
        assert p.received().audible_frames > 0
        tries = socket.tries
    assert socket.tries == tries  # it stopped looking once one opened


def test_only_a_missing_device_is_looked_for_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(player_mod, "PROBE_S", 0.05, raising=False)
    unknown_tries: list[str | None] = []

    def unknown(backend: str | None) -> tuple[object, str | None]:
        unknown_tries.append(backend)
        return player_mod.open_output("no-such-thing")

    socket = Socket()
    socket.plugged = False
    with (
        Player(open_device=unknown) as never,  # type: ignore[arg-type]
        Player(open_device=socket) as later,  # type: ignore[arg-type]
    ):
        assert "not an audio backend" in (never.unavailable_reason or "")
        assert wait_until(lambda: socket.tries >= 4)  # the missing device: looked for
        assert unknown_tries == [None]  # a backend that does not exist: never again
        assert not never.available and not later.available
