"""Two scans of one folder interleaved (issue 17, item 5): the second finds the paths new, the
first inserts them, then the second writes its batch. It updates them; it never crashes with
``UNIQUE constraint failed: tracks.path`` and never catalogues a file twice. The interleaving is
made by hand (another catalogue connection runs a whole scan just before the first batch is
written), not raced."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from musicorg.ingest import scanner
from musicorg.store import tracks
from musicorg.store.db import Catalogue, Root, Track
from musicorg.store.tracks import TrackBatch


def _interleave(monkeypatch: pytest.MonkeyPatch, other: Catalogue, folders: list[Path]) -> None:
    """Before this scan's first batch is written, another scan writes the same files."""
    write = tracks.write_batch
    ran: list[bool] = []

    def racing(cat: Catalogue, batch: TrackBatch) -> None:
        if batch.inserts and not ran:
            ran.append(True)
            scanner.scan(other, folders)
        write(cat, batch)

    monkeypatch.setattr(tracks, "write_batch", racing)


def test_a_path_inserted_meanwhile_is_updated_not_inserted_twice(
    tmp_path: Path, music: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "cat.sqlite"
    with Catalogue(db) as first, Catalogue(db) as second:
        _interleave(monkeypatch, second, [music])
        report = scanner.scan(first, [music])
    files = [p for p in music.rglob("*") if p.is_file()]
    assert len(report.added) == len(files)  # it believed them new; it updated them
    with Catalogue(db) as cat, cat.read() as conn:
        assert conn.execute(select(func.count()).select_from(Track)).scalar_one() == len(files)
        assert conn.execute(select(func.count()).select_from(Root)).scalar_one() == 1
        assert conn.execute(select(func.count(Track.path.distinct()))).scalar_one() == len(files)


def test_a_moved_file_whose_new_path_was_catalogued_meanwhile(
    tmp_path: Path, music: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "cat.sqlite"
    with Catalogue(db) as cat:
        scanner.scan(cat, [music])
    (music / "a").rename(music / "moved")  # seen as moves by the next scan
    write = tracks.write_batch
    ran: list[bool] = []

    def racing(cat: Catalogue, batch: TrackBatch) -> None:
        if batch.updates and not ran:
            ran.append(True)
            with Catalogue(db) as other:  # another writer inserts the new paths first
                new_paths = [values for _tid, values in batch.updates]
                write(other, TrackBatch(inserts=[{**v, "added_at": 0.0} for v in new_paths]))
        write(cat, batch)

    monkeypatch.setattr(tracks, "write_batch", racing)
    with Catalogue(db) as cat:
        report = scanner.scan(cat, [music])
    assert ran and report.moved
    files = [p for p in music.rglob("*") if p.is_file()]
    with Catalogue(db) as cat, cat.read() as conn:
        paths = [bytes(p) for (p,) in conn.execute(select(Track.path))]
    assert len(paths) == len(set(paths))
    assert {str(f).encode() for f in files} <= set(paths)
