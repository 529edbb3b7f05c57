"""The incremental scanner: folders on disk → tracks in the catalogue.

A scan walks the folders first (one ``stat`` per file, which is all an unchanged file costs),
works out what is new, changed, gone or back, and only then reads the new and changed files.
That order lets a file that moved or was renamed be recognised by its content key before it
could be mistaken for a new track. Writes are committed in batches, so a scan that is killed
leaves a consistent catalogue and the next scan picks up where it stopped.

Nothing in the music folders is ever written.
"""

from __future__ import annotations

import errno
import logging
import os
import stat as stat_mod
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, delete, func, insert, select, text, update

from musicorg import paths
from musicorg.ingest import lyrics as lyrics_mod
from musicorg.ingest import probe, tags
from musicorg.jobs import CancelFn, ProgressFn, check, never, no_progress
from musicorg.store.db import Catalogue, Problem, Root, Track, record_problem

log = logging.getLogger(__name__)

BATCH = 400
HEAD_BYTES = 4096  # enough for two MPEG frame headers of a bare MP3 stream


@dataclass
class ScanReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    vanished_roots: list[str] = field(default_factory=list)
    unchanged: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(
            self.added or self.updated or self.moved or self.missing or self.restored
        ) or bool(self.problems)

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.moved)} moved",
            f"{len(self.missing)} now missing",
            f"{len(self.restored)} back",
            f"{len(self.problems)} problems",
            f"{self.unchanged} unchanged",
        ]
        text = ", ".join(parts) + f" in {self.seconds:.1f} s"
        if self.vanished_roots:
            text += "; folder not found: " + ", ".join(self.vanished_roots)
        return text


@dataclass
class _Seen:
    path: bytes
    root_id: int
    size: int
    mtime_ns: int


@dataclass
class _Known:
    id: int
    size: int
    mtime_ns: int
    content_key: str
    missing: bool


class _Problem(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def normalise_root(folder: str | bytes | os.PathLike[str]) -> bytes:
    return os.path.abspath(os.fsencode(folder))


def ensure_roots(conn: Connection, folders: Iterable[bytes]) -> dict[bytes, int]:
    ids: dict[bytes, int] = {}
    for folder in folders:
        row = conn.execute(select(Root.id).where(Root.path == folder)).first()
        if row is None:
            row = conn.execute(
                insert(Root)
                .values(path=folder, display=paths.fs_display(folder), added_at=time.time())
                .returning(Root.id)
            ).first()
        assert row is not None
        ids[folder] = int(row[0])
    return ids


def _walk(root: bytes, visited: set[tuple[int, int]], errors: list[bytes]) -> Iterator[_Entry]:
    """Depth-first walk that follows symlinks but visits each directory once."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
        except OSError:
            errors.append(folder)
            continue
        ident = (st.st_dev, st.st_ino)
        if ident in visited:
            continue
        visited.add(ident)
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            errors.append(folder)
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            if name.startswith(b"."):
                continue
            try:
                if entry.is_dir():
                    subdirs.append(entry.path)
                    continue
                if os.path.splitext(name)[1].lower().decode("ascii", "replace") not in (
                    probe.AUDIO_EXTENSIONS
                ):
                    continue
                est = entry.stat()
            except OSError:
                continue
            if stat_mod.S_ISREG(est.st_mode):
                yield _Entry(entry.path, est.st_size, est.st_mtime_ns)
        stack.extend(sorted(subdirs, reverse=True))


@dataclass
class _Entry:
    path: bytes
    size: int
    mtime_ns: int


def _read_file(path: bytes, size: int) -> tuple[str, str, tags.TrackInfo]:
    """Container, content key and tags of one file, or a _Problem saying why not."""
    if size == 0:
        raise _Problem("empty", "the file is empty (0 bytes)")
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
            fmt = probe.sniff(head)
            if fmt is None:
                raise _Problem("not audio", "the file's bytes are not a known audio format")
            key = probe.content_key(fh, fmt, size)
            fh.seek(0)
            try:
                info = tags.read(fh, fmt)
            except tags.TagError as exc:
                kind = "truncated" if _looks_truncated(str(exc)) else "unreadable"
                raise _Problem(kind, f"cannot read this {fmt} file: {exc}") from exc
    except PermissionError as exc:
        raise _Problem("permission denied", f"permission denied: {exc.strerror}") from exc
    except FileNotFoundError as exc:
        raise _Problem("vanished", "the file disappeared during the scan") from exc
    except OSError as exc:
        if exc.errno == errno.EIO:
            raise _Problem("unreadable", f"input/output error: {exc.strerror}") from exc
        raise _Problem("unreadable", f"{exc.strerror or exc}") from exc
    return fmt, key, info


def _looks_truncated(message: str) -> bool:
    m = message.lower()
    return any(w in m for w in ("truncat", "eof", "end of file", "not enough data", "too short"))


_TRACK_FIELDS = (
    "size",
    "mtime_ns",
    "content_key",
    "fmt",
    "codec",
    "duration",
    "sample_rate",
    "channels",
    "bitrate",
    "title",
    "artist",
    "album",
    "albumartist",
    "genre",
    "year",
    "tracknumber",
    "missing",
    "updated_at",
)


def _track_values(e: _Entry | _Seen, fmt: str, key: str, info: tags.TrackInfo) -> dict[str, object]:
    now = time.time()
    return {
        "path": e.path,
        "display": paths.fs_display(e.path),
        "size": e.size,
        "mtime_ns": e.mtime_ns,
        "content_key": key,
        "fmt": fmt,
        "codec": info.codec,
        "duration": info.duration,
        "sample_rate": info.sample_rate,
        "channels": info.channels,
        "bitrate": info.bitrate,
        "title": info.title,
        "artist": info.artist,
        "album": info.album,
        "albumartist": info.albumartist,
        "genre": info.genre,
        "year": info.year,
        "tracknumber": info.tracknumber,
        "missing": False,
        "updated_at": now,
    }


def scan(
    cat: Catalogue,
    folders: Iterable[str | bytes | os.PathLike[str]],
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> ScanReport:
    started = time.monotonic()
    report = ScanReport()
    roots = sorted({normalise_root(f) for f in folders})
    with cat.begin() as conn:
        root_ids = ensure_roots(conn, roots)

    # 1. What the catalogue knows under these roots.
    known: dict[bytes, _Known] = {}
    with cat.read() as conn:
        rows = conn.execute(
            select(
                Track.path, Track.id, Track.size, Track.mtime_ns, Track.content_key, Track.missing
            ).where(Track.root_id.in_(list(root_ids.values())))
        )
        for path, tid, size, mtime, key, missing in rows:
            known[path] = _Known(tid, size, mtime, key, bool(missing))
        problem_rows = conn.execute(
            select(Problem.path, Problem.size, Problem.mtime_ns).where(Problem.stage == "scan")
        )
        old_problems = {p: (s, m) for p, s, m in problem_rows}

    # 2. Walk: one stat per file.
    progress(0, 0, "Looking for music files…")
    seen: set[bytes] = set()
    seen_dirs: set[bytes] = set()
    todo: list[_Seen] = []
    restored: list[int] = []
    present_roots: list[int] = []
    visited: set[tuple[int, int]] = set()
    for root in roots:
        if not os.path.isdir(root):
            report.vanished_roots.append(paths.fs_display(root))
            continue
        present_roots.append(root_ids[root])
        walk_errors: list[bytes] = []
        for entry in _walk(root, visited, walk_errors):
            seen.add(entry.path)
            seen_dirs.add(os.path.dirname(entry.path))
            k = known.get(entry.path)
            if k is not None and k.size == entry.size and k.mtime_ns == entry.mtime_ns:
                if k.missing:
                    restored.append(k.id)
                    report.restored.append(paths.fs_display(entry.path))
                else:
                    report.unchanged += 1
                continue
            if old_problems.get(entry.path) == (entry.size, entry.mtime_ns):
                continue  # still broken, and unchanged since: not retried
            todo.append(_Seen(entry.path, root_ids[root], entry.size, entry.mtime_ns))
            if len(seen) % 2000 == 0:
                check(cancel)
                progress(0, 0, f"Looking for music files… {len(seen)} found")
        for folder in walk_errors:
            log.warning("could not read folder %s", paths.fs_display(folder))

    # 3. Tracks that are gone from disk, by content key, as candidates for moves.
    gone: dict[str, list[int]] = {}
    gone_ids: dict[int, bytes] = {}
    present = set(present_roots)
    with cat.read() as conn:
        root_of = dict(
            conn.execute(
                select(Track.path, Track.root_id).where(Track.root_id.in_(list(present)))
            ).all()
        )
        for path, k in known.items():
            if path in seen or root_of.get(path) not in present or k.missing:
                continue
            gone.setdefault(k.content_key, []).append(k.id)
            gone_ids[k.id] = path
        # Tracks already missing anywhere can come back under a new path too.
        missing_rows = conn.execute(
            select(Track.content_key, Track.id).where(Track.missing.is_(True))
        ).all()
    missing_by_key: dict[str, list[int]] = {}
    for key, tid in missing_rows:
        missing_by_key.setdefault(key, []).append(tid)

    if restored:
        with cat.begin() as conn:
            conn.execute(update(Track).where(Track.id.in_(restored)).values(missing=False))

    # 4. Read new and changed files, in committed batches.
    total = len(todo)
    for start in range(0, total, BATCH):
        check(cancel)
        batch = todo[start : start + BATCH]
        results: list[tuple[_Seen, str, str, tags.TrackInfo] | tuple[_Seen, _Problem]] = []
        for item in batch:
            try:
                fmt, key, info = _read_file(item.path, item.size)
                results.append((item, fmt, key, info))
            except _Problem as p:
                results.append((item, p))
        with cat.begin() as conn:
            _apply_batch(conn, results, known, gone, gone_ids, missing_by_key, old_problems, report)
        progress(min(start + BATCH, total), total, f"Reading tags… {min(start + BATCH, total)}")

    # 5. Whatever is still gone is missing: masked, never deleted.
    if gone_ids:
        with cat.begin() as conn:
            ids = list(gone_ids)
            for i in range(0, len(ids), 500):
                conn.execute(
                    update(Track).where(Track.id.in_(ids[i : i + 500])).values(missing=True)
                )
        report.missing.extend(paths.fs_display(p) for p in gone_ids.values())
    # Folders that disappeared while the scan ran (a drive unplugged mid-scan): the tracks
    # in them are missing too, even those the walk had already seen unchanged.
    gone_dirs = [d for d in seen_dirs if not os.path.isdir(d)]
    if gone_dirs:
        with cat.begin() as conn:
            for d in gone_dirs:
                prefix = d + b"/"
                under = conn.execute(
                    select(Track.id, Track.path, Track.display).where(
                        func.substr(Track.path, 1, len(prefix)) == prefix,
                        Track.missing.is_(False),
                    )
                ).all()
                lost = [(tid, disp) for tid, path, disp in under if not os.path.exists(path)]
                if lost:
                    ids = [tid for tid, _ in lost]
                    conn.execute(update(Track).where(Track.id.in_(ids)).values(missing=True))
                    report.missing.extend(disp for _, disp in lost)
    # Tracks under a vanished root are missing too.
    vanished_ids = [rid for root, rid in root_ids.items() if rid not in present]
    if vanished_ids:
        with cat.begin() as conn:
            now_missing = conn.execute(
                select(Track.display).where(
                    Track.root_id.in_(vanished_ids), Track.missing.is_(False)
                )
            ).all()
            conn.execute(update(Track).where(Track.root_id.in_(vanished_ids)).values(missing=True))
        report.missing.extend(r[0] for r in now_missing)
    report.seconds = time.monotonic() - started
    progress(total, total, report.summary())
    return report


_TRACK_UPDATE = (
    update(Track)
    .where(Track.id == bindparam("_id"))
    .values({c: bindparam(c) for c in ("path", "display", "root_id", *_TRACK_FIELDS)})
)
_LYRICS_UPSERT = text(
    "INSERT INTO lyrics (track_id, text, source, updated_at) VALUES (:tid, :text, :source, :now) "
    "ON CONFLICT(track_id) DO UPDATE SET text=excluded.text, source=excluded.source, "
    "updated_at=excluded.updated_at"
)


def _apply_batch(
    conn: Connection,
    results: list[tuple[_Seen, str, str, tags.TrackInfo] | tuple[_Seen, _Problem]],
    known: dict[bytes, _Known],
    gone: dict[str, list[int]],
    gone_ids: dict[int, bytes],
    missing_by_key: dict[str, list[int]],
    old_problems: dict[bytes, tuple[int | None, int | None]],
    report: ScanReport,
) -> None:
    """Write one batch with a few executemany statements (per-row ORM statements cost more
    than reading the files)."""
    updates: list[dict[str, object]] = []
    inserts: list[dict[str, object]] = []
    lyrics_for: dict[bytes, tuple[str, str]] = {}
    ids_by_path: dict[bytes, int] = {}
    solved: list[bytes] = []
    for res in results:
        item = res[0]
        display = paths.fs_display(item.path)
        if len(res) == 2:
            problem = res[1]
            if problem.kind == "vanished":
                continue  # deleted while we scanned: settled by the folder check at the end
            record_problem(
                conn,
                item.path,
                "scan",
                problem.kind,
                str(problem),
                size=item.size,
                mtime_ns=item.mtime_ns,
            )
            report.problems.append((display, problem.kind, str(problem)))
            continue
        _, fmt, key, info = res
        values = _track_values(item, fmt, key, info)
        values["root_id"] = item.root_id
        if item.path in old_problems:
            solved.append(item.path)
        found = (
            (info.lyrics, info.lyrics_source) if info.lyrics else lyrics_mod.read_sidecar(item.path)
        )
        if found is not None and found[0]:
            lyrics_for[item.path] = (found[0], found[1] or "tag")
        k = known.get(item.path)
        if k is not None:
            updates.append({"_id": k.id, **values})
            ids_by_path[item.path] = k.id
            report.updated.append(display)
            continue
        moved_from = _take(gone, key) or _take(missing_by_key, key)
        if moved_from is not None:
            old = gone_ids.pop(moved_from, None)
            updates.append({"_id": moved_from, **values})
            ids_by_path[item.path] = moved_from
            report.moved.append((paths.fs_display(old) if old else "(missing)", display))
        else:
            values["added_at"] = values["updated_at"]
            inserts.append(values)
            report.added.append(display)
    if updates:
        conn.execute(_TRACK_UPDATE, updates)
    if inserts:
        rows = conn.execute(
            insert(Track).returning(Track.id, Track.path, sort_by_parameter_order=True), inserts
        ).all()
        ids_by_path.update({path: int(tid) for tid, path in rows})
    if solved:
        conn.execute(delete(Problem).where(Problem.path.in_(solved), Problem.stage == "scan"))
    if lyrics_for:
        now = time.time()
        conn.execute(
            _LYRICS_UPSERT,
            [
                {"tid": ids_by_path[p], "text": t, "source": src, "now": now}
                for p, (t, src) in lyrics_for.items()
            ],
        )


def _take(index: dict[str, list[int]], key: str) -> int | None:
    ids = index.get(key)
    if not ids:
        return None
    tid = ids.pop()
    for other in index.values():  # a track can sit in both indexes; take it once
        if tid in other:
            other.remove(tid)
    return tid
