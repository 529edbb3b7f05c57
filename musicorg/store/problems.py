"""The files a stage could not handle: noted with the size and mtime they had then, so that a
stage retries a file only once it changes, and forgotten when the stage handles it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from musicorg.store.db import Catalogue, Problem, record_problem

#: (size, mtime_ns) of a file when a stage last failed on it.
Mark = tuple[int | None, int | None]


@dataclass(frozen=True)
class ProblemNote:
    """Why a stage could not handle the file at ``path``, and the file's size and mtime then."""

    path: bytes
    kind: str  # "not audio", "empty", "truncated", ...
    message: str
    size: int | None
    mtime_ns: int | None


def marks(cat: Catalogue, stage: str) -> dict[bytes, Mark]:
    """Path → (size, mtime_ns) of every file ``stage`` has a problem with."""
    with cat.read() as conn:
        rows = conn.execute(
            select(Problem.path, Problem.size, Problem.mtime_ns).where(Problem.stage == stage)
        )
        return {path: (size, mtime) for path, size, mtime in rows}


def note(conn: Connection, stage: str, problems: Iterable[ProblemNote]) -> None:
    """Record (or refresh) ``problems`` of ``stage`` in the transaction ``conn``."""
    for p in problems:
        record_problem(conn, p.path, stage, p.kind, p.message, size=p.size, mtime_ns=p.mtime_ns)


def forget(conn: Connection, stage: str, paths: Sequence[bytes]) -> None:
    """``stage`` handled these files after all: their problems are gone."""
    if paths:
        conn.execute(delete(Problem).where(Problem.path.in_(paths), Problem.stage == stage))
