"""The player on miniaudio's null device, with real files: what the device is handed, the
position, pause, seek, volume, ReplayGain, failures, the end of a track, no device, and a
device that goes away while playing."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicorg.playback import player as player_mod
from musicorg.playback.player import (
    LOST,
    RATE,
    Ended,
    Failed,
    OutputBack,
    OutputLost,
    Player,
    PlayerEvent,
    Started,
    Stopped,
    open_output,
)
from tests.conftest import DATA
from tests.playback.test_replaygain import tag_gain

FORMATS = sorted(p.name for p in DATA.glob("kevin_macleod_vibe_ace.*"))


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Events:
    """The player's events, as its event thread delivers them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: list[PlayerEvent] = []

    def __call__(self, event: PlayerEvent) -> None:
        with self._lock:
            self.seen.append(event)

    def of(self, kind: type) -> list[PlayerEvent]:
        with self._lock:
            return [e for e in self.seen if isinstance(e, kind)]


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def player(events: Events) -> Iterator[Player]:
    p = Player("null", on_event=events)
    assert p.available, p.unavailable_reason
    yield p
    p.close()


def sine(path: Path, seconds: float, rate: int = 44100, amplitude: float = 0.5) -> Path:
    t = np.arange(round(seconds * rate)) / rate
    sf.write(path, amplitude * np.sin(2 * np.pi * 440 * t), rate)
    return path


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_plays(player: Player, events: Events, name: str) -> None:
    player.load(str(DATA / name), track_id=7)
    assert wait_until(lambda: player.position() >= 1.0), f"{name} did not reach 1 s"
    got = player.received()
    assert got.audible_frames > 0.5 * RATE and got.peak > 0.05, got
    assert wait_until(lambda: bool(events.of(Started)))
    assert events.of(Started)[0] == Started(7, str(DATA / name), 1)
    assert player.duration() == pytest.approx(8.0, abs=0.05)
    assert player.state == "playing" and player.current_track_id == 7


def test_pause_seek_and_volume(player: Player) -> None:
    player.load(str(DATA / "kevin_macleod_vibe_ace.flac"))
    assert wait_until(lambda: player.position() >= 0.3)
    player.pause()
    held, frames = player.position(), player.received().frames
    time.sleep(0.3)
    assert player.state == "paused"
    assert player.position() == held and player.received().frames == frames

    player.seek(5.0)
    assert player.position() == 5.0
    player.play()
    assert wait_until(lambda: player.position() >= 5.2)

    player.set_volume(0.0)
    # A callback already running when the volume changed may finish at the old volume: let
    # one full callback pass before counting.
    handed = player.received().frames
    assert wait_until(lambda: player.received().frames >= handed + RATE // 10)
    player.reset_received()
    assert wait_until(lambda: player.received().frames >= RATE // 4)
    assert player.received().audible_frames == 0
    player.set_volume(0.5)
    assert player.volume == 0.5
    assert wait_until(lambda: player.received().audible_frames > 0)
    player.toggle()
    assert player.state == "paused"
    player.toggle()
    assert player.state == "playing"


def test_a_replaygain_tag_lowers_the_level(tmp_path: Path, player: Player) -> None:
    original = tmp_path / "plain.flac"
    shutil.copy(DATA / "kevin_macleod_vibe_ace.flac", original)
    quieter = tmp_path / "quieter.flac"
    shutil.copy(original, quieter)
    tag_gain(quieter, -10.0)
    peaks = []
    for path in (original, quieter):
        player.reset_received()
        player.load(str(path))
        assert wait_until(lambda: player.position() >= 1.0)
        peaks.append(player.received().peak)
    assert peaks[1] / peaks[0] == pytest.approx(10 ** (-10 / 20), rel=0.2)


def test_a_short_track_ends_and_says_how_much_was_heard(
    tmp_path: Path, player: Player, events: Events
) -> None:
    serial = player.load(str(sine(tmp_path / "short.wav", 0.3)), track_id=3)
    assert wait_until(lambda: bool(events.of(Ended)))
    (ended,) = events.of(Ended)
    assert ended.track_id == 3 and ended.serial == serial
    assert ended.listened_s == pytest.approx(0.3, abs=0.01)
    assert player.state == "stopped"
    assert player.received().peak == pytest.approx(0.5, abs=0.02)
    player.play()  # plays it again from the start
    assert wait_until(lambda: len(events.of(Ended)) == 2)


def test_another_load_or_stop_reports_stopped(player: Player, events: Events) -> None:
    first = player.load(str(DATA / "kevin_macleod_vibe_ace.ogg"), track_id=1)
    assert wait_until(lambda: player.listened() >= 0.2)
    second = player.load(str(DATA / "kevin_macleod_vibe_ace.mp3"), track_id=2)
    player.stop()
    assert wait_until(lambda: len(events.of(Stopped)) == 2)
    stopped = events.of(Stopped)
    assert [(e.track_id, e.serial) for e in stopped] == [(1, first), (2, second)]
    assert stopped[0].listened_s >= 0.2
    assert player.state == "stopped" and player.position() == 0.0


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\x00garbage, not audio\xff" * 200, "not an audio file"),
        (b"", "the file is empty"),
        (None, "not there any more"),
    ],
)
def test_a_file_that_cannot_play_fails_in_one_plain_line(
    tmp_path: Path, player: Player, events: Events, content: bytes | None, why: str
) -> None:
    bad = tmp_path / "bad song.mp3"
    if content is not None:
        bad.write_bytes(content)
    player.load(str(bad), track_id=5)
    assert wait_until(lambda: bool(events.of(Failed)))
    (failed,) = events.of(Failed)
    assert failed.track_id == 5
    assert failed.message.startswith("cannot play bad song.mp3: ") and why in failed.message
    assert "\n" not in failed.message
    assert player.state == "stopped" and not events.of(Started)
    player.load(str(DATA / "kevin_macleod_vibe_ace.wav"))  # and the next one plays
    assert wait_until(lambda: player.position() >= 0.2)


def test_no_device_is_said_plainly_and_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    p = Player("alsa")
    try:
        if p.available:
            pytest.skip("this machine has an ALSA output device")
        assert p.unavailable_reason is not None
        assert p.unavailable_reason.startswith("no audio output device was found (alsa: ")
        p.load(str(DATA / "kevin_macleod_vibe_ace.wav"))
        p.play()
        assert p.state == "stopped" and p.position() == 0.0
    finally:
        p.close()
    out, err = capfd.readouterr()
    assert "ALSA" not in err and "ALSA" not in out
    print("fd 2 works again", file=sys.stderr)
    assert "fd 2 works again" in capfd.readouterr().err


def test_other_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    with Player("no-such-thing") as p:
        assert not p.available and "not an audio backend" in (p.unavailable_reason or "")
    monkeypatch.setenv("MUSICORG_AUDIO_BACKEND", "null")
    with Player() as p:
        assert p.available and p.backend_name == "Null"


class Socket:
    """Where the output device plugs in: opens miniaudio's null device while plugged."""

    def __init__(self) -> None:
        self.plugged = True
        self.tries = 0

    def __call__(self, _backend: str | None) -> tuple[object, str | None]:
        self.tries += 1
        if not self.plugged:
            return None, "no audio output device was found (unplugged)"
        return open_output("null")


def test_a_device_that_goes_away_stops_playback_until_one_is_back(
    monkeypatch: pytest.MonkeyPatch, events: Events
) -> None:
    monkeypatch.setattr(player_mod, "REOPEN_S", 0.1)
    socket = Socket()
    with Player(on_event=events, open_device=socket) as p:  # type: ignore[arg-type]
        p.load(str(DATA / "kevin_macleod_vibe_ace.wav"), track_id=4)
        assert wait_until(lambda: p.listened() >= 0.3)
        socket.plugged = False
        p.halt_output_device()  # as unplugging it does: miniaudio's stop callback
        assert wait_until(lambda: bool(events.of(OutputLost)))
        (lost,) = events.of(OutputLost)
        assert lost.track_id == 4 and lost.listened_s >= 0.3 and lost.message == LOST
        assert p.state == "stopped" and not p.available and p.unavailable_reason == LOST
        handed = p.received().frames
        p.play()
        p.load(str(DATA / "kevin_macleod_vibe_ace.mp3"), track_id=5)
        assert wait_until(lambda: socket.tries >= 4)  # it looks for a device again, quietly
        assert p.state == "stopped" and p.received().frames == handed
        assert len(events.of(OutputLost)) == 1 and not events.of(OutputBack)
        socket.plugged = True
        assert wait_until(lambda: bool(events.of(OutputBack)))
        assert p.available and p.unavailable_reason is None and p.backend_name == "Null"
        p.play()  # the track it was on, from the start
        assert wait_until(lambda: p.position() >= 0.2)
        assert p.current_track_id == 4 and p.received().frames > handed
        assert not events.of(Stopped) and not events.of(Ended)
