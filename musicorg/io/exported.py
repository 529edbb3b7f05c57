"""What M3U export wrote, and where: the record that lets a later export remove the file a
playlist had under its old name, and only that.

The record lives in the catalogue (its ``meta`` table, one JSON value), not in the export
folder, so the folder holds nothing but playlists. Per folder it keeps, for each file
musicorg wrote, the playlist it was written for and a SHA-256 of its bytes. A file counts as
musicorg's only while its bytes are still those: one the user edited, replaced or wrote
themselves is never removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musicorg.store.db import Catalogue, CatalogueError

log = logging.getLogger(__name__)

#: The catalogue's ``meta`` key of the record.
META_KEY = "m3u_exports"
#: Larger files are not musicorg's to remove (an export of 100,000 tracks is about 15 MB).
MAX_CHECKED_BYTES = 64 * 1024 * 1024

_lock = threading.Lock()


@dataclass(frozen=True)
class Written:
    """A file musicorg wrote: for which playlist (id and name then), and its bytes' SHA-256."""

    playlist_id: int
    name: str
    sha256: str


Record = dict[str, Written]  # file name in the folder -> what was written there


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def folder_key(folder: Path) -> str:
    """The folder as the record names it (absolute, links resolved)."""
    return os.path.realpath(folder)


def _all(cat: Catalogue) -> dict[str, Any]:
    raw = cat.get_meta(META_KEY)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        log.warning("the record of exported playlists is unreadable; starting a new one")
        return {}
    return data if isinstance(data, dict) else {}


def load(cat: Catalogue, folder: Path) -> Record:
    """What musicorg wrote into ``folder`` (empty when nothing, or when the record is damaged)."""
    entries = _all(cat).get(folder_key(folder), {})
    out: Record = {}
    if not isinstance(entries, dict):
        return out
    for filename, e in entries.items():
        try:
            out[str(filename)] = Written(int(e["playlist"]), str(e["name"]), str(e["sha256"]))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def update(cat: Catalogue, folder: Path, written: Record, gone: Iterable[str] = ()) -> None:
    """Add what an export wrote into ``folder`` to the record, and forget the files it
    removed and those no longer there. Two exports at once each add theirs (the record is
    read and written under one lock). A catalogue that cannot be written (opened read-only)
    only loses the record: the export itself stands."""
    with _lock:
        data = _all(cat)
        key = folder_key(folder)
        record = load(cat, folder)
        record.update(written)
        for name in gone:
            record.pop(name, None)
        record = {n: w for n, w in record.items() if os.path.lexists(folder / n)}
        if record:
            data[key] = {
                name: {"playlist": w.playlist_id, "name": w.name, "sha256": w.sha256}
                for name, w in sorted(record.items())
            }
        else:
            data.pop(key, None)
        try:
            cat.set_meta(META_KEY, json.dumps(data, ensure_ascii=False, sort_keys=True))
        except CatalogueError as exc:
            log.warning("could not record the exported playlists in %s: %s", folder, exc)


def still_ours(path: Path, written: Written) -> bool:
    """Whether the file at ``path`` is a regular file holding just what musicorg wrote."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_CHECKED_BYTES:
            return False
        return digest(path.read_bytes()) == written.sha256
    except OSError:
        return False
