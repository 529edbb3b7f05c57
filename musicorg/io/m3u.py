"""M3U and M3U8 playlists: export playlists to ``.m3u8`` files, import one as a user list.

Export writes, per playlist, a UTF-8 file (no BOM, ``\\n`` line ends)::

    #EXTM3U
    #PLAYLIST:Name of the playlist
    #EXTINF:215,Artist - Title
    relative/or/absolute/path.flac

- A track path is written relative to the playlist file when it lies under the playlist's
  folder (no ``../`` needed), otherwise absolute; ``--absolute`` always writes absolute ones.
  Separators are forward slashes.
- A path that is not valid UTF-8, or that a reader could take apart (control characters, a
  backslash, leading or trailing spaces), is written as a percent-encoded ``file://`` URI.
  A relative path that would start with ``#`` is written as ``./#…``.
- Missing tracks are skipped with a warning.
- Each file is written to a temporary name in the same folder and renamed into place; its
  mode follows the umask (0644 under 022). A failed write (a full disk) leaves no temporary
  file and an older file of the same name unchanged, and raises :class:`ExportWriteError`.
- File names are safe on Windows, macOS and Linux (see :func:`safe_filename`), and two
  playlists never share one: names equal but for case or Unicode normal form get ``" (2)"``,
  ``" (3)"``… in the order of the playlists' ids, whether all or only some are exported.
- :func:`plan_export` says beforehand which files an export writes and which of them replace
  a file already there. The catalogue records what each export wrote (``musicorg.io.exported``),
  so that the next export of a renamed playlist removes the file musicorg wrote under its old
  name, as long as that file still holds just what musicorg wrote; no other file is removed.

Import reads M3U and M3U8: a UTF-8 (or UTF-16) BOM, UTF-8 first and strictly, then cp1252,
then Latin-1; ``\\r\\n`` line ends; backslashes as separators; ``file://`` URIs
(percent-decoded to bytes); paths relative to the playlist's folder or absolute. Paths are
matched against the catalogue by their bytes, then in Unicode NFC on both sides (so NFD
spellings, as macOS writes them, match too). Entries that match nothing are reported.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import logging
import os
import re
import secrets
import stat
import unicodedata
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from musicorg.io import exported
from musicorg.store import exports, trackrefs, userlists
from musicorg.store.db import Catalogue

log = logging.getLogger(__name__)

EXTENSION = ".m3u8"
MAX_FILE_BYTES = 10 * 1024 * 1024  # an imported playlist: larger files are refused
MAX_LINE_BYTES = 64 * 1024  # longer lines are skipped as unmatched, never echoed
MAX_NAME_BYTES = 200  # of the stem, in UTF-8: room for " (99)" and ".m3u8" within 255
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"0123456789", "¹", "²", "³"]
}
_UNSAFE_TEXT = re.compile(r"[\x00-\x1f\x7f\\]")


# --- file names -------------------------------------------------------------------------------


def safe_filename(name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """A file name stem that Windows, macOS and Linux all accept, as close to ``name`` as can be.

    Forbidden characters (``<>:"/\\|?*`` and control characters) become ``_``; leading and
    trailing spaces and dots go; Windows' reserved device names (``CON``, ``nul.txt``,
    ``COM1``…) get a ``_``; the result is NFC and at most ``max_bytes`` bytes of UTF-8.
    """
    text = unicodedata.normalize("NFC", name)
    text = _FORBIDDEN.sub("_", text).strip(" .")
    encoded = text.encode("utf-8")
    if len(encoded) > max_bytes:
        text = encoded[:max_bytes].decode("utf-8", "ignore").rstrip(" .")
    if not text:
        return "playlist"
    base = text.split(".", 1)[0].rstrip(" ").upper()
    if base in _RESERVED:
        head, dot, tail = text.partition(".")
        text = f"{head}_{dot}{tail}"
    return text


def _collision_key(filename: str) -> str:
    return unicodedata.normalize("NFC", filename).casefold()


def unique_filenames(names: Sequence[str]) -> list[str]:
    """One ``.m3u8`` file name per playlist name, never the same twice (case-insensitively)."""
    taken: set[str] = set()
    out: list[str] = []
    for name in names:
        stem = safe_filename(name)
        candidate, i = stem + EXTENSION, 1
        while _collision_key(candidate) in taken:
            i += 1
            candidate = f"{stem} ({i}){EXTENSION}"
        taken.add(_collision_key(candidate))
        out.append(candidate)
    return out


# --- writing ----------------------------------------------------------------------------------


def file_uri(path: bytes) -> str:
    """``file://`` URI of an absolute path, every byte outside the unreserved set %-encoded."""
    posix = path.replace(os.sep.encode(), b"/") if os.sep != "/" else path
    if not posix.startswith(b"/"):
        posix = b"/" + posix  # a Windows drive: file:///C:/…
    return "file://" + urllib.parse.quote(posix, safe="/")


def location(path: bytes, folder: bytes, *, absolute: bool = False) -> str:
    """How a track at ``path`` is written in a playlist that lives in ``folder``."""
    path = os.path.abspath(path)
    folder = os.path.abspath(folder)
    prefix = folder.rstrip(os.sep.encode()) + os.sep.encode()
    relative = None if absolute or not path.startswith(prefix) else path[len(prefix) :]
    try:
        text = (relative if relative is not None else path).decode("utf-8")
    except UnicodeDecodeError:
        return file_uri(path)
    if os.sep != "/":
        text = text.replace(os.sep, "/")
    name_parts = text.split("/")
    if _UNSAFE_TEXT.search(text) or any(p != p.strip() for p in name_parts):
        return file_uri(path)
    if relative is not None and text.startswith("#"):
        text = "./" + text
    return text


def _one_line(text: str) -> str:
    return " ".join(text.split())


def extinf(duration: float | None, artist: str | None, title: str | None, fallback: str) -> str:
    """``#EXTINF:seconds,Artist - Title`` (-1 s when unknown; the file name for no title)."""
    seconds = round(duration) if duration and duration > 0 else -1
    name = title if title and title.strip() else fallback
    label = " - ".join(_one_line(p) for p in (artist, name) if p and p.strip())
    return f"#EXTINF:{seconds},{label}"


def render(name: str, entries: Iterable[tuple[str, str]]) -> str:
    """The text of an ``.m3u8`` file: ``entries`` are (EXTINF line, location) pairs."""
    lines = ["#EXTM3U", f"#PLAYLIST:{_one_line(name)}"]
    for info, where in entries:
        lines += [info, where]
    return "\n".join(lines) + "\n"


class ExportWriteError(OSError):
    """A playlist file could not be written (a full disk, no permission…): the error of the
    operating system, with the file it was for; any older file of that name is unchanged."""

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


def write_atomic(path: Path, text: str) -> None:
    """Write a UTF-8 file through a temporary name in the same folder, then rename it.

    The file's mode follows the umask, as any file a program creates does (0644 under the
    usual 022, 0600 under 077): the temporary file is created with 0666 less the umask, and
    the rename keeps it. On any failure (a full disk among them) the temporary file is
    removed, an older file at ``path`` is left as it was, and :class:`ExportWriteError`
    says which file could not be written."""
    data = text.encode("utf-8")
    try:
        fd, tmp = _create_temporary(path.parent)
    except OSError as exc:
        raise ExportWriteError(exc.errno, exc.strerror, str(path)) from exc
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ExportWriteError(exc.errno, exc.strerror, str(path)) from exc
        raise


def _create_temporary(folder: Path) -> tuple[int, Path]:
    """A new file in ``folder`` under a name no one else uses, open for writing, created
    with mode 0666 less the umask (``tempfile.mkstemp`` would make it 0600 whatever the
    umask; asking for the umask with ``os.umask`` would change it for every thread)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = folder / f".musicorg-{secrets.token_hex(8)}{EXTENSION}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


def _write_all(fd: int, data: bytes) -> None:
    """Every byte of ``data`` to ``fd`` (``os.write`` may write fewer than it is given)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def plural(n: int, one: str, many: str | None = None) -> str:
    """``"1 playlist"``, ``"6 playlists"``."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


@dataclass
class ExportReport:
    files: list[tuple[str, Path, int]] = field(default_factory=list)  # name, file, entries
    skipped: list[tuple[str, str]] = field(default_factory=list)  # playlist, missing track
    #: Files musicorg had written for these playlists under their old names, now removed.
    removed: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        text = f"Wrote {plural(len(self.files), 'playlist')}"
        if self.removed:
            text += f"; removed {plural(len(self.removed), 'old file')} of renamed playlists"
        if self.skipped:
            text += f"; skipped {plural(len(self.skipped), 'missing track')}"
        return text + "."


class PlaylistNotFound(LookupError):
    pass


@dataclass
class PlannedFile:
    """One file an export writes."""

    playlist_id: int
    name: str
    path: Path
    #: A file of this name is there already, and will be replaced.
    replaces: bool
    #: ... and musicorg wrote that file (for this playlist, or one of the name), unchanged since.
    ours: bool


@dataclass
class Stale:
    """A file musicorg wrote for a playlist under its old name, which the export removes."""

    path: Path
    old_name: str  # the name the playlist had then
    name: str  # its name now


@dataclass
class ExportPlan:
    """What an export into ``folder`` writes and removes, before it does."""

    folder: Path
    files: list[PlannedFile] = field(default_factory=list)
    removes: list[Stale] = field(default_factory=list)

    @property
    def replaces(self) -> list[PlannedFile]:
        return [f for f in self.files if f.replaces]


def _selected(
    lists: list[tuple[int, str, str]],
    names: Sequence[str] | None,
    ids: Sequence[int] | None,
) -> set[int]:
    """The ids of the playlists asked for (every one when neither names nor ids are given)."""
    if names is None and ids is None:
        return {pid for pid, _name, _kind in lists}
    known = {pid for pid, _name, _kind in lists}
    unknown = [n for n in names or () if n not in {name for _pid, name, _kind in lists}]
    unknown += [f"id {i}" for i in ids or () if i not in known]
    if unknown:
        raise PlaylistNotFound(", ".join(unknown))
    wanted = set(ids or ())
    return wanted | {pid for pid, name, _kind in lists if names and name in names}


def plan_export(
    cat: Catalogue,
    dest: str | os.PathLike[str],
    *,
    names: Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
) -> ExportPlan:
    """What :func:`export_playlists` with the same arguments would write into ``dest``: one
    file per playlist (those named, or with these ids; all when neither is given), whether it
    replaces a file, and which files it removes: those musicorg wrote for these playlists
    under a name they no longer have, and only while they still hold just what it wrote."""
    folder = Path(os.path.abspath(dest))
    lists = exports.exportable(cat)
    filenames = unique_filenames([name for _id, name, _kind in lists])
    chosen = _selected(lists, names, ids)
    record = exported.load(cat, folder)
    plan = ExportPlan(folder)
    for (pid, name, _kind), filename in zip(lists, filenames, strict=True):
        if pid not in chosen:
            continue
        target = folder / filename
        before = record.get(filename)
        exists = os.path.lexists(target)
        ours = exists and before is not None and exported.still_ours(target, before)
        plan.files.append(PlannedFile(pid, name, target, exists, ours))
    writing = {_collision_key(f.path.name) for f in plan.files}
    now = {f.playlist_id: f.name for f in plan.files}
    for filename, written in sorted(record.items()):
        stale = folder / filename
        if (
            written.playlist_id in now
            and _collision_key(filename) not in writing
            and exported.still_ours(stale, written)
        ):
            plan.removes.append(Stale(stale, written.name, now[written.playlist_id]))
    return plan


def export_playlists(
    cat: Catalogue,
    dest: str | os.PathLike[str],
    *,
    absolute: bool = False,
    names: Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
) -> ExportReport:
    """Write one ``.m3u8`` per playlist (or per playlist named in ``names``, or with an id in
    ``ids``) into ``dest``, and remove the files musicorg wrote there earlier for these
    playlists under their old names (see :func:`plan_export`). What it wrote is recorded in
    the catalogue for the next export."""
    folder = Path(os.path.abspath(dest))
    folder.mkdir(parents=True, exist_ok=True)
    folder_bytes = os.fsencode(folder)
    plan = plan_export(cat, folder, names=names, ids=ids)
    written: exported.Record = {}
    report = ExportReport()
    try:
        for planned in plan.files:
            name, entries = planned.name, []
            for item in userlists.items(cat, planned.playlist_id):
                if item.missing:
                    log.warning("playlist %s: skipped missing track %s", name, item.display)
                    report.skipped.append((name, item.display))
                    continue
                stem = os.path.splitext(os.path.basename(item.display))[0]
                info = extinf(item.duration, item.artist, item.title, stem)
                entries.append((info, location(item.path, folder_bytes, absolute=absolute)))
            text = render(name, entries)
            write_atomic(planned.path, text)
            written[planned.path.name] = exported.Written(
                planned.playlist_id, name, exported.digest(text.encode("utf-8"))
            )
            report.files.append((name, planned.path, len(entries)))
        for stale in plan.removes:
            with contextlib.suppress(FileNotFoundError):
                stale.path.unlink()
            report.removed.append(stale.path)
    finally:
        exported.update(cat, folder, written, gone=[p.name for p in report.removed])
    return report


# --- reading ----------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """The text of a playlist file and the encoding it was read with."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


@dataclass
class Entry:
    line: int  # 1-based line number in the file
    text: str  # as written
    candidates: list[bytes]  # paths it may mean, most literal first
    title: str | None = None  # from #EXTINF


@dataclass
class Parsed:
    name: str | None
    encoding: str
    entries: list[Entry]


_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def _from_uri(text: str) -> bytes | None:
    parts = urllib.parse.urlsplit(text)
    if parts.netloc not in ("", "localhost"):
        return None
    raw = urllib.parse.unquote_to_bytes(parts.path)
    if os.name == "nt" and re.match(rb"^/[A-Za-z]:", raw):
        raw = raw[1:]
    return raw


def _resolve(raw: bytes, base: bytes) -> bytes:
    if os.path.isabs(raw) or _DRIVE.match(raw.decode("latin-1")):
        return os.path.normpath(raw)
    return os.path.normpath(os.path.join(base, raw))


def _too_long(line: str) -> bool:
    return len(line) * 4 > MAX_LINE_BYTES and len(line.encode("utf-8", "replace")) > MAX_LINE_BYTES


def parse(data: bytes, base: bytes) -> Parsed:
    """Entries of an M3U/M3U8 file whose relative paths are relative to the folder ``base``."""
    text, encoding = decode(data)
    name: str | None = None
    title: str | None = None
    entries: list[Entry] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if _too_long(line):
            entries.append(Entry(number, f"(a line over {MAX_LINE_BYTES // 1024} KB)", [], title))
            title = None
            continue
        if line.startswith("#"):
            if line.upper().startswith("#PLAYLIST:"):
                name = line.split(":", 1)[1].strip() or None
            elif line.upper().startswith("#EXTINF:"):
                title = line.split(",", 1)[1].strip() if "," in line else None
            continue
        candidates: list[bytes] = []
        if line.lower().startswith("file:"):
            raw = _from_uri(line)
            if raw is not None:
                candidates.append(_resolve(raw, base))
        elif re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+://", line):
            pass  # a stream URL: nothing in the catalogue
        else:
            forms = [line]
            if "\\" in line and os.sep == "/":
                forms.append(line.replace("\\", "/"))
            for form in forms:
                if encoding not in ("utf-8", "utf-8-sig", "utf-16"):
                    # The bytes as they were in the file: a non-UTF-8 name on disk.
                    candidates.append(_resolve(form.encode(encoding, "replace"), base))
                candidates.append(_resolve(os.fsencode(form), base))
        entries.append(Entry(number, line, list(dict.fromkeys(candidates)), title))
        title = None
    return Parsed(name, encoding, entries)


def _nfc(path: bytes) -> str:
    return unicodedata.normalize("NFC", os.fsdecode(path))


@dataclass
class ImportReport:
    playlist_id: int
    name: str
    matched: int
    unmatched: list[Entry]

    def summary(self) -> str:
        text = f"Imported {self.matched} tracks into the playlist {self.name!r}"
        if self.unmatched:
            text += f"; {len(self.unmatched)} entries matched no catalogued track"
        return text + "."


def match(cat: Catalogue, entries: Sequence[Entry]) -> list[int | None]:
    """The track id each entry names, or None: exact bytes first, then NFC on both sides."""
    rows = trackrefs.paths(cat)
    exact = dict(rows)
    normal: dict[str, int] = {}
    for p, t in rows:
        normal.setdefault(_nfc(p), t)
    out: list[int | None] = []
    for entry in entries:
        found = next((exact[c] for c in entry.candidates if c in exact), None)
        if found is None:
            found = next((normal[n] for c in entry.candidates if (n := _nfc(c)) in normal), None)
        out.append(found)
    return out


class PlaylistRefused(ValueError):
    """The file to import is not one musicorg reads: not a regular file, too large, or binary."""


def read_limited(path: Path) -> bytes:
    """The bytes of the playlist file at ``path``: a regular file of at most 10 MB.

    A FIFO, a device (``/dev/zero``) or a folder is refused before it is opened, so that
    nothing blocks or reads without end; the open file is checked again, and read with a bound.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise PlaylistRefused(_not_regular(path))
    if st.st_size > MAX_FILE_BYTES:
        raise PlaylistRefused(_too_large(path))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    with os.fdopen(os.open(path, flags), "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise PlaylistRefused(_not_regular(path))
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise PlaylistRefused(_too_large(path))
    if b"\0" in data[:BINARY_PROBE_BYTES] and not data.startswith(_UTF16_BOMS):
        raise PlaylistRefused(f"{path}: binary data, not a playlist; give an .m3u or .m3u8 file")
    return data


#: A playlist is text: a NUL byte in its first 8 KB (outside UTF-16) means it is something else.
BINARY_PROBE_BYTES = 8192
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _not_regular(path: Path) -> str:
    return f"{path}: not a regular file; give the path of an .m3u or .m3u8 file"


def _too_large(path: Path) -> str:
    return f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, too large for a playlist"


def import_playlist(
    cat: Catalogue, file: str | os.PathLike[str], name: str | None = None
) -> ImportReport:
    """Read an M3U/M3U8 file into a new user playlist that keeps its order.

    Only a regular file of at most 10 MB is read (:class:`PlaylistRefused` otherwise); lines
    over 64 KB are skipped as unmatched, and entries match catalogued tracks only.
    """
    path = Path(os.path.abspath(file))
    parsed = parse(read_limited(path), os.fsencode(path.parent))
    found = match(cat, parsed.entries)
    ids = [t for t in found if t is not None]
    unmatched = [e for e, t in zip(parsed.entries, found, strict=True) if t is None]
    for entry in unmatched:
        log.warning("%s line %d: no catalogued track for %s", path, entry.line, entry.text)
    wanted = name or parsed.name or path.stem
    final = userlists.free_name(cat, wanted)
    pid = userlists.create(cat, final, ids)
    return ImportReport(pid, final, len(ids), unmatched)
