"""The play session on the null device: queue order, a track that ends starts the next, plays
and skips recorded, missing and undecodable files reported and passed over, no device."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from musicorg.app.playback import PlaySession, clear_plays, play_stats
from musicorg.store.db import Catalogue
from tests.conftest import DATA
from tests.playback.test_player import sine, wait_until
from tests.store.test_plays import add_track


class Calls:
    """What the session told the window."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tracks: list[int | None] = []
        self.states: list[str] = []
        self.failed: list[str] = []
        self.queue = 0
        self.plays: list[int] = []

    def session(self, cat: Catalogue, backend: str = "null") -> PlaySession:
        return PlaySession(
            cat,
            backend=backend,
            on_track_changed=self._add(self.tracks),
            on_state_changed=self._add(self.states),
            on_failed=self._add(self.failed),
            on_queue_changed=self._queue,
            on_plays_changed=self._add(self.plays),
        )

    def _add(self, into: list[Any]) -> Callable[[Any], None]:
        def add(value: Any) -> None:
            with self.lock:
                into.append(value)

        return add

    def _queue(self) -> None:
        with self.lock:
            self.queue += 1


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def library(tmp_path: Path, cat: Catalogue) -> dict[str, int]:
    """Track ids by name: two real excerpts, two short sines, a damaged file and a missing one."""
    music = tmp_path / "music"
    music.mkdir()
    ids = {}
    for name in ("flac", "ogg"):
        path = music / f"kevin_macleod_vibe_ace.{name}"
        shutil.copy(DATA / path.name, path)
        ids[name] = add_track(cat, str(path), duration=8.0)
    ids["short"] = add_track(cat, str(sine(music / "short.wav", 1.0)), duration=1.0)
    ids["shorter"] = add_track(cat, str(sine(music / "shorter.wav", 0.5)), duration=0.5)
    (music / "bad.mp3").write_bytes(b"not audio at all " * 100)
    ids["bad"] = add_track(cat, str(music / "bad.mp3"))
    ids["gone"] = add_track(cat, str(music / "gone.flac"))
    return ids


@pytest.fixture
def session(cat: Catalogue, calls: Calls) -> Iterator[PlaySession]:
    s = calls.session(cat)
    assert s.available, s.unavailable_reason
    yield s
    s.close()


def test_queue_order(session: PlaySession, calls: Calls, library: dict[str, int]) -> None:
    flac, ogg, short = library["flac"], library["ogg"], library["short"]
    session.play_tracks([flac, ogg], start=0)
    session.play_next([short])
    session.add_to_queue([flac])
    assert session.queue_items == (flac, short, ogg, flac) and session.queue_index == 0
    session.next()
    assert session.current_track_id == short and session.queue_index == 1
    session.next()
    session.previous()
    assert session.current_track_id == short
    session.previous()
    assert session.current_track_id == flac and session.state == "playing"
    assert calls.tracks == [flac, short, ogg, short, flac]
    session.remove_from_queue(0)  # the current one: the next plays
    assert session.current_track_id == short and session.queue_items == (short, ogg, flac)
    session.toggle()
    assert session.state == "paused"
    session.clear_queue()
    assert session.current_track_id is None and session.state == "stopped"
    assert calls.tracks[-1] is None and calls.states == ["playing", "paused", "stopped"]
    assert calls.queue >= 8


def test_tracks_play_to_the_end_one_after_another_and_count(
    session: PlaySession, calls: Calls, library: dict[str, int], cat: Catalogue
) -> None:
    short, shorter = library["short"], library["shorter"]
    session.play_tracks([short, shorter])
    assert wait_until(lambda: session.current_track_id is None and session.state == "stopped")
    assert calls.tracks == [short, shorter, None]
    assert calls.states == ["playing", "stopped"]
    assert session.wait_recorded(5.0)
    stats = play_stats(cat)
    assert (stats[short].play_count, stats[shorter].play_count) == (1, 1)
    assert stats[short].skip_count == 0
    assert sorted(calls.plays) == sorted([short, shorter])
    session.toggle()  # the queue ran out: nothing to play
    assert session.state == "stopped"
    assert clear_plays(cat, [short]) == 1 and set(play_stats(cat)) == {shorter}


def test_next_before_10_s_is_a_skip(
    session: PlaySession, library: dict[str, int], cat: Catalogue
) -> None:
    flac, ogg = library["flac"], library["ogg"]
    session.play_tracks([flac, ogg])
    assert wait_until(lambda: session.position() >= 0.2)
    session.next()
    assert session.current_track_id == ogg
    assert session.wait_recorded(5.0)
    stats = play_stats(cat)
    assert stats[flac].skip_count == 1 and stats[flac].play_count == 0
    assert ogg not in stats


def test_missing_and_undecodable_files_are_reported_and_passed_over(
    session: PlaySession, calls: Calls, library: dict[str, int]
) -> None:
    session.play_tracks([library["gone"], library["bad"], library["ogg"]])
    assert wait_until(lambda: session.current_track_id == library["ogg"])
    assert wait_until(lambda: session.position() >= 0.2)
    assert len(calls.failed) == 2
    assert calls.failed[0].startswith("cannot play gone.flac: the file is missing")
    assert calls.failed[1].startswith("cannot play bad.mp3: ")
    assert session.queue_index == 2 and session.state == "playing"


def test_without_a_device_the_queue_works_and_nothing_plays(
    cat: Catalogue, calls: Calls, library: dict[str, int]
) -> None:
    session = calls.session(cat, backend="wasapi")  # not on this platform
    try:
        assert not session.available
        assert (session.unavailable_reason or "").startswith("no audio output device was found")
        session.play_tracks([library["flac"], library["ogg"]])
        session.toggle()
        assert session.state == "stopped" and session.queue_items == (
            library["flac"],
            library["ogg"],
        )
        assert calls.failed == [] and calls.states == []
    finally:
        session.close()
