"""The play queue: replace, add, play next, next and previous through the history, remove."""

from __future__ import annotations

import pytest

from musicorg.playback.queue import PlayQueue


def test_an_empty_queue_has_no_current_track() -> None:
    q = PlayQueue()
    assert (q.items, q.index, q.current) == ((), None, None)
    assert q.next() is None and q.previous() is None


def test_replace_add_and_play_next() -> None:
    q = PlayQueue()
    assert q.replace([1, 2, 3], start=1) == 2
    assert (q.index, q.current) == (1, 2)
    q.add([4, 5])
    assert q.items == (1, 2, 3, 4, 5)
    q.play_next([9, 8])
    assert q.items == (1, 2, 9, 8, 3, 4, 5)
    assert [q.next() for _ in range(6)] == [9, 8, 3, 4, 5, None]
    assert q.current is None and q.index is None


def test_previous_walks_back_and_next_returns() -> None:
    q = PlayQueue()
    q.replace([1, 2, 3])
    q.next()
    q.next()
    assert q.previous() == 2
    assert q.previous() == 1
    assert q.previous() == 1  # nothing before the first
    assert q.next() == 2
    assert q.next() == 3
    assert q.next() is None
    assert q.previous() == 3  # back from the end


def test_previous_reaches_tracks_of_a_replaced_queue() -> None:
    q = PlayQueue()
    q.replace([1, 2])
    q.next()
    q.replace([7, 8])
    assert q.previous() == 2
    assert q.items == (2, 7, 8) and q.index == 0
    assert q.next() == 7
    assert q.history == (1, 2)


def test_adding_to_a_finished_queue_makes_the_first_added_current() -> None:
    q = PlayQueue()
    q.replace([1])
    assert q.next() is None
    q.add([5, 6])
    assert q.current == 5
    q2 = PlayQueue()
    q2.play_next([3, 4])
    assert (q2.current, q2.items) == (3, (3, 4))


def test_remove_and_clear() -> None:
    q = PlayQueue()
    q.replace([1, 2, 3, 4], start=2)
    assert q.remove(0) is False and (q.current, q.index) == (3, 1)
    assert q.remove(2) is False and q.items == (2, 3)
    assert q.remove(1) is True and q.current is None
    with pytest.raises(IndexError):
        q.remove(5)
    q.replace([1, 2])
    q.clear()
    assert (q.items, q.current) == ((), None)
    assert q.previous() == 1
