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
from typing import BinaryIO

from musicorg import paths
from musicorg.ingest import lyrics as lyrics_mod
from musicorg.ingest import probe, tags
from musicorg.jobs import CancelFn, ProgressFn, check, never, no_progress
from musicorg.store import problems, tracks
from musicorg.store.db import Catalogue
from musicorg.store.problems import Mark, ProblemNote
from musicorg.store.tracks import SCAN_STAGE, KnownTrack, TrackBatch, TrackValues

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


class _Problem(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def normalise_root(folder: str | bytes | os.PathLike[str]) -> bytes:
    return os.path.abspath(os.fsencode(folder))


@dataclass(frozen=True)
class _Skipped:
    """Something in a music folder the walk could not take in: a folder it cannot list, a
    special file, a broken link, a loop of links. It becomes a problem row; the walk goes on."""

    path: bytes
    kind: str
    message: str


def _is_audio_name(name: bytes) -> bool:
    return os.path.splitext(name)[1].lower().decode("ascii", "replace") in probe.AUDIO_EXTENSIONS


def _walk(root: bytes, visited: set[tuple[int, int]], skipped: list[_Skipped]) -> Iterator[_Entry]:
    """Depth-first walk that follows symlinks but visits each directory once. What it cannot
    take in goes to ``skipped``; it never opens a file (a FIFO would block) and never follows a
    link back into a folder it is inside (a loop)."""
    stack: list[tuple[bytes, tuple[tuple[int, int], ...]]] = [(root, ())]
    while stack:
        folder, ancestors = stack.pop()
        try:
            st = os.stat(folder)
        except FileNotFoundError:
            continue  # gone since it was listed: the folder check at the end settles it
        except OSError as exc:
            skipped.append(_Skipped(folder, "unreadable folder", _unlistable(exc)))
            continue
        ident = (st.st_dev, st.st_ino)
        if ident in ancestors:
            target = paths.fs_display(os.path.realpath(folder))
            message = f"this link leads back to {target}, which holds it; not followed"
            skipped.append(_Skipped(folder, "link loop", message))
            continue
        if ident in visited:
            continue  # a second way to a folder already walked: its files are catalogued once
        visited.add(ident)
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            skipped.append(_Skipped(folder, "unreadable folder", _unlistable(exc)))
            continue
        subdirs = []
        for entry in entries:
            if entry.name.startswith(b"."):
                continue
            found = _look(entry)
            if isinstance(found, _Skipped):
                skipped.append(found)
            elif isinstance(found, _Entry):
                yield found
            elif found:
                subdirs.append(entry.path)
        inside = (*ancestors, ident)
        stack.extend((d, inside) for d in sorted(subdirs, reverse=True))


def _unlistable(exc: OSError) -> str:
    why = "permission denied" if exc.errno in (errno.EACCES, errno.EPERM) else exc.strerror
    return f"cannot list this folder ({why}); the music in it is not catalogued"


def _look(entry: os.DirEntry[bytes]) -> _Entry | _Skipped | bool:
    """One entry of a folder: a music file, a folder to walk (True), something to report, or
    nothing of interest (False). Only ``stat``: nothing is opened."""
    audio = _is_audio_name(entry.name)
    try:
        if entry.is_dir():
            return True
        est = entry.stat()
    except OSError as exc:
        if not entry.is_symlink():
            return False  # gone since the folder was listed
        if not (audio or not os.path.splitext(entry.name)[1]):
            return False  # a broken link to a picture or a text is no music lost
        if exc.errno == errno.ELOOP:
            return _Skipped(entry.path, "link loop", "this link leads round a loop of links")
        if exc.errno == errno.ENOENT:
            return _Skipped(entry.path, "broken link", _broken(entry.path))
        return _Skipped(entry.path, "broken link", f"cannot follow this link: {exc.strerror}")
    if not audio:
        return False
    if stat_mod.S_ISREG(est.st_mode):
        return _Entry(entry.path, est.st_size, est.st_mtime_ns)
    return _Skipped(
        entry.path, "not a regular file", f"this is {_file_kind(est.st_mode)}, not a file"
    )


def _broken(path: bytes) -> str:
    try:
        target = paths.fs_display(os.readlink(path))
    except OSError:
        return "this link points to nothing"
    return f"this link points to {target}, which does not exist"


def _file_kind(mode: int) -> str:
    if stat_mod.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat_mod.S_ISSOCK(mode):
        return "a socket"
    if stat_mod.S_ISCHR(mode) or stat_mod.S_ISBLK(mode):
        return "a device"
    return "a special file"


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
        with _open_regular(path) as fh:
            head = fh.read(HEAD_BYTES)
            fmt = probe.sniff(head)
            if fmt is None:
                raise _Problem("not audio", "the file's bytes are not a known audio format")
            key = probe.content_key(fh, fmt, size)
            fh.seek(0)
            try:
                info = tags.read(fh, fmt)
            except tags.CutShort as exc:
                raise _Problem("truncated", f"this {fmt} file is cut short: {exc}") from exc
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


def _open_regular(path: bytes) -> BinaryIO:
    """The file at ``path`` open for reading, if it is still a regular file. Opened without
    blocking: a file replaced by a FIFO since the walk would otherwise wait for a writer."""
    nonblock = getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, os.O_RDONLY | nonblock | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat_mod.S_ISREG(mode):
            raise _Problem("not a regular file", f"this is {_file_kind(mode)}, not a file")
        if nonblock:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _looks_truncated(message: str) -> bool:
    m = message.lower()
    # "file said 8192 bytes, read 3838 bytes": mutagen reading past the end of a cut file
    cues = ("truncat", "eof", "end of file", "not enough data", "too short", "bytes, read")
    return any(w in m for w in cues)


def _track_values(e: _Entry | _Seen, fmt: str, key: str, info: tags.TrackInfo) -> TrackValues:
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
    root_ids = tracks.ensure_roots(cat, roots)
    # 1. What the catalogue knows under these roots: by path, whatever root a track was found
    # under, so that a folder nested in another root is never catalogued twice.
    known = tracks.known(cat, root_ids.values(), roots)
    old_problems = problems.marks(cat, SCAN_STAGE)
    # 2. Walk: one stat per file.
    walk = _walk_roots(roots, root_ids, known, old_problems, report, progress, cancel)
    tracks.write_batch(cat, _walk_problems(walk, old_problems, report))
    # 3. Tracks that are gone from disk, by content key, as candidates for moves.
    moves = _Moves.of(cat, known, walk)
    tracks.set_missing(cat, walk.restored, False)
    # 4. Read new and changed files, in committed batches.
    total = len(walk.todo)
    for start in range(0, total, BATCH):
        check(cancel)
        batch = walk.todo[start : start + BATCH]
        plan = _plan_batch(
            [_read(item) for item in batch], known, moves, old_problems, report, roots
        )
        tracks.write_batch(cat, plan)
        progress(min(start + BATCH, total), total, f"Reading tags… {min(start + BATCH, total)}")
    # 5. Whatever is still gone is missing: masked, never deleted.
    _mark_missing(cat, moves, walk, root_ids, report)
    report.seconds = time.monotonic() - started
    progress(total, total, report.summary())
    return report


@dataclass
class _Walk:
    """What the walk of the roots found."""

    seen: set[bytes] = field(default_factory=set)
    seen_dirs: set[bytes] = field(default_factory=set)
    todo: list[_Seen] = field(default_factory=list)  # new or changed files, to read
    restored: list[int] = field(default_factory=list)  # missing tracks found unchanged
    present_roots: set[int] = field(default_factory=set)
    present_folders: list[bytes] = field(default_factory=list)  # the roots that were walked
    skipped: list[_Skipped] = field(default_factory=list)  # what it could not take in
    unlisted: list[bytes] = field(default_factory=list)  # folders it could not list

    def covers(self, path: bytes, root_id: int | None) -> bool:
        """Whether the walk would have seen the file of a track at ``path`` if it were there
        (not when it lies in a folder the walk could not list: it may well be there)."""
        if self.unlisted and any(tracks.under(f, path) for f in self.unlisted):
            return False
        return root_id in self.present_roots or any(
            tracks.under(f, path) for f in self.present_folders
        )


def _walk_roots(
    roots: list[bytes],
    root_ids: dict[bytes, int],
    known: dict[bytes, KnownTrack],
    old_problems: dict[bytes, Mark],
    report: ScanReport,
    progress: ProgressFn,
    cancel: CancelFn,
) -> _Walk:
    progress(0, 0, "Looking for music files…")
    walk = _Walk()
    visited: set[tuple[int, int]] = set()
    for root in roots:
        if not os.path.isdir(root):
            report.vanished_roots.append(paths.fs_display(root))
            continue
        walk.present_roots.add(root_ids[root])
        walk.present_folders.append(root)
        for entry in _walk(root, visited, walk.skipped):
            walk.seen.add(entry.path)
            walk.seen_dirs.add(os.path.dirname(entry.path))
            k = known.get(entry.path)
            if k is not None and k.size == entry.size and k.mtime_ns == entry.mtime_ns:
                if k.missing:
                    walk.restored.append(k.id)
                    report.restored.append(paths.fs_display(entry.path))
                else:
                    report.unchanged += 1
                continue
            if old_problems.get(entry.path) == (entry.size, entry.mtime_ns):
                continue  # still broken, and unchanged since: not retried
            walk.todo.append(_Seen(entry.path, root_ids[root], entry.size, entry.mtime_ns))
            if len(walk.seen) % 2000 == 0:
                check(cancel)
                progress(0, 0, f"Looking for music files… {len(walk.seen)} found")
    for skip in walk.skipped:
        log.warning("scan: %s: %s: %s", skip.kind, paths.fs_display(skip.path), skip.message)
        if skip.kind == "unreadable folder":
            walk.unlisted.append(skip.path)
    return walk


def _walk_problems(walk: _Walk, old_problems: dict[bytes, Mark], report: ScanReport) -> TrackBatch:
    """The problems of what the walk could not take in (reported when new), and the scan
    problems of paths under the walked folders that are no longer there (forgotten)."""
    batch = TrackBatch()
    reported = {s.path for s in walk.skipped}
    for skip in walk.skipped:
        batch.problems.append(ProblemNote(skip.path, skip.kind, skip.message, None, None))
        if skip.path not in old_problems:  # a known one is refreshed, not reported again
            report.problems.append((paths.fs_display(skip.path), skip.kind, skip.message))
    batch.solved = [
        path
        for path in old_problems
        if path not in walk.seen and path not in reported and walk.covers(path, None)
    ]
    return batch


@dataclass
class _Moves:
    """Tracks a new file may be the moved copy of, by content key."""

    gone: dict[str, list[int]]  # gone from disk under a present root during this scan
    gone_ids: dict[int, bytes]  # their old paths
    missing_by_key: dict[str, list[int]]  # already missing anywhere: they can come back too

    @classmethod
    def of(cls, cat: Catalogue, known: dict[bytes, KnownTrack], walk: _Walk) -> _Moves:
        moves = cls({}, {}, tracks.missing_by_content_key(cat))
        for path, k in known.items():
            if path in walk.seen or k.missing or not walk.covers(path, k.root_id):
                continue
            moves.gone.setdefault(k.content_key, []).append(k.id)
            moves.gone_ids[k.id] = path
        return moves

    def take(self, key: str) -> int | None:
        """The id of a track of content key ``key`` that the file may be (None: none left)."""
        return _take(self.gone, key) or _take(self.missing_by_key, key)


_Result = tuple[_Seen, str, str, tags.TrackInfo] | tuple[_Seen, _Problem]


def _read(item: _Seen) -> _Result:
    try:
        fmt, key, info = _read_file(item.path, item.size)
    except _Problem as p:
        return item, p
    return item, fmt, key, info


def _plan_batch(
    results: list[_Result],
    known: dict[bytes, KnownTrack],
    moves: _Moves,
    old_problems: dict[bytes, Mark],
    report: ScanReport,
    roots: Iterable[bytes],
) -> TrackBatch:
    """What one batch writes: updates, inserts, problems, lyrics."""
    plan = TrackBatch()
    for res in results:
        item = res[0]
        display = paths.fs_display(item.path)
        if len(res) == 2:
            problem = res[1]
            if problem.kind == "vanished":
                continue  # deleted while we scanned: settled by the folder check at the end
            plan.problems.append(
                ProblemNote(item.path, problem.kind, str(problem), item.size, item.mtime_ns)
            )
            report.problems.append((display, problem.kind, str(problem)))
            continue
        _, fmt, key, info = res
        values = _track_values(item, fmt, key, info)
        values["root_id"] = item.root_id
        if item.path in old_problems:
            plan.solved.append(item.path)
        found = (
            (info.lyrics, info.lyrics_source)
            if info.lyrics
            else lyrics_mod.read_sidecar(item.path, roots=roots)
        )
        if found is not None and found[0]:
            plan.lyrics[item.path] = (found[0], found[1] or "tag")
        k = known.get(item.path)
        if k is not None:
            plan.updates.append((k.id, values))
            report.updated.append(display)
            continue
        moved_from = moves.take(key)
        if moved_from is not None:
            old = moves.gone_ids.pop(moved_from, None)
            plan.updates.append((moved_from, values))
            report.moved.append((paths.fs_display(old) if old else "(missing)", display))
        else:
            values["added_at"] = values["updated_at"]
            plan.inserts.append(values)
            report.added.append(display)
    return plan


def _mark_missing(
    cat: Catalogue, moves: _Moves, walk: _Walk, root_ids: dict[bytes, int], report: ScanReport
) -> None:
    """Tracks still gone, in folders that vanished during the scan, or under vanished roots."""
    tracks.set_missing(cat, list(moves.gone_ids), True)
    report.missing.extend(paths.fs_display(p) for p in moves.gone_ids.values())
    # Folders that disappeared while the scan ran (a drive unplugged mid-scan): the tracks
    # in them are missing too, even those the walk had already seen unchanged.
    gone_dirs = [d for d in walk.seen_dirs if not os.path.isdir(d)]
    if gone_dirs:
        report.missing.extend(tracks.mark_missing_under(cat, gone_dirs, os.path.exists))
    vanished = [root for root, rid in root_ids.items() if rid not in walk.present_roots]
    report.missing.extend(tracks.mark_roots_missing(cat, [root_ids[r] for r in vanished], vanished))


def _take(index: dict[str, list[int]], key: str) -> int | None:
    ids = index.get(key)
    if not ids:
        return None
    tid = ids.pop()
    for other in index.values():  # a track can sit in both indexes; take it once
        if tid in other:
            other.remove(tid)
    return tid
