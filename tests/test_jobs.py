"""``jobs.paused``: the parts of a long piece of work in a worker thread, one by one, with a
pause after each in which the other threads (the window) get Python's lock back."""

from __future__ import annotations

import pytest

from musicorg import jobs


def test_paused_gives_every_part_in_order_and_pauses_after_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(jobs.time, "sleep", pauses.append)
    got = []
    for part in jobs.paused(iter(range(0, 10, 3))):  # any iterable, a generator included
        got.append((part, len(pauses)))
    assert got == [(0, 0), (3, 1), (6, 2), (9, 3)]  # the pause comes after each part
    assert pauses == [0, 0, 0, 0]
    assert list(jobs.paused([])) == []
