"""New playlist ids under several writers at once on a PostgreSQL server (tests/pg.py): two
desktops building their playlists at the same moment never pick the same ids."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, insert, select, text

from musicorg.store import autolists, userlists
from musicorg.store.db import Catalogue, Playlist, Track

_WAIT_S = 30  # only a bound on waiting for the other thread: never reached when all is well


def _tracks(cat: Catalogue, n: int) -> list[int]:
    now = time.time()
    with cat.begin() as conn:
        rows = conn.execute(
            insert(Track).returning(Track.id),
            [
                {"path": f"/m/{i}.ogg".encode(), "display": f"/m/{i}.ogg", "size": 1,
                 "mtime_ns": 1, "content_key": f"k{i}", "fmt": "ogg", "missing": False,
                 "added_at": now, "updated_at": now}
                for i in range(n)
            ],
        ).all()  # fmt: skip
    return [int(r[0]) for r in rows]


def _build(version: str, ids: list[int]) -> autolists.Build:
    group = autolists.Grouped(0, "G")
    return autolists.Build(
        version, [autolists.BuiltPlaylist([t], group, name=f"{version} {t}") for t in ids]
    )


def _after(cat: Catalogue, words: str, then: Callable[[], None]) -> None:
    """Call ``then`` once, right after ``cat`` ran its first statement that holds ``words``."""
    done = threading.Event()

    def seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if words in statement.lower() and not done.is_set():
            done.set()
            then()

    event.listen(cat.engine, "after_cursor_execute", seen)


def _someone_waits(cat: Catalogue) -> bool:
    """Whether another session of the database waits for a lock of the server's."""
    with cat.engine.connect() as conn:
        sql = (
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        return bool(conn.execute(text(sql)).scalar())


def test_two_builds_at_once_get_their_own_ids(pg_url: str) -> None:
    """The first build stops inside its transaction, its first new playlist written but not
    committed, until the second has read the ids there are (the old code: both chose the
    same ids, and the second failed on the first's) or waits for the first."""
    first, second = Catalogue(pg_url), Catalogue(pg_url)
    try:
        ids = _tracks(first, 6)
        wrote, second_read = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def hold_first() -> None:
            wrote.set()
            deadline = time.monotonic() + _WAIT_S
            while not second_read.is_set() and time.monotonic() < deadline:
                if _someone_waits(first):
                    return  # the second build waits for the first: let the first commit
                time.sleep(0.05)

        _after(first, "insert into playlists", hold_first)
        _after(second, "max(playlists.id)", second_read.set)

        def run(cat: Catalogue, build: autolists.Build) -> None:
            try:
                autolists.write_build(cat, build)
            except BaseException as exc:  # the test reports it below
                errors.append(exc)

        one = threading.Thread(target=run, args=(first, _build("one", ids[:3])))
        one.start()
        assert wrote.wait(_WAIT_S)
        two = threading.Thread(target=run, args=(second, _build("two", ids[3:])))
        two.start()
        one.join(_WAIT_S)
        two.join(_WAIT_S)
        assert not one.is_alive() and not two.is_alive()
        assert errors == []
        with first.read() as conn:
            rows = conn.execute(select(Playlist.id, Playlist.model_version)).all()
        assert sorted(str(v) for _, v in rows) == ["one"] * 3 + ["two"] * 3
        assert len({pid for pid, _ in rows}) == 6
        assert first.get_meta(autolists.HIGH_ID_KEY) == str(max(pid for pid, _ in rows))
        # A user playlist made afterwards gets an id of its own too (the server's sequence).
        assert userlists.create(second, "Mine", ids[:1]) not in {pid for pid, _ in rows}
    finally:
        first.close()
        second.close()
