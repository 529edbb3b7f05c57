"""A mirror of the user's own playlists, outside the catalogue.

Every change to a user playlist, and every rename or pin of an automatic one, rewrites the
mirror next to the catalogue (``<catalogue>.playlists/``; the store announces the change and
``musicorg.app.listeners`` has :func:`sync` follow it): ``playlists.json`` with every such
playlist and its tracks (path bytes, content key, artist, title), and one ``.m3u8`` per
playlist with absolute paths that any player opens. If the catalogue is ever lost or damaged,
:func:`restore` brings the playlists back into a freshly scanned catalogue, matching tracks by
path and then by content key. Writes are atomic; a failure to write the mirror is logged and
never undoes the user's change.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicorg.io import m3u
from musicorg.keys import USER
from musicorg.store import exports, trackrefs, userlists
from musicorg.store.db import Catalogue

log = logging.getLogger(__name__)

FORMAT = 1


def mirror_dir(cat: Catalogue) -> Path:
    return cat.path.with_name(cat.path.stem + ".playlists")


def snapshot(cat: Catalogue) -> dict[str, Any]:
    lists = [
        {
            "id": p.id,
            "name": p.name,
            "kind": p.kind,
            "pinned": p.pinned,
            "renamed": p.renamed,
            "tracks": [
                {
                    "path_b64": base64.b64encode(t.path).decode("ascii"),
                    "display": t.display,
                    "content_key": t.content_key,
                    "artist": t.artist,
                    "title": t.title,
                    "duration": t.duration,
                }
                for t in p.tracks
            ],
        }
        for p in exports.kept_playlists(cat)
    ]
    return {
        "format": FORMAT,
        "catalogue": str(cat.path),
        "written_at": time.time(),
        "playlists": lists,
    }


def sync(cat: Catalogue) -> Path | None:
    """Rewrite the mirror from the catalogue. Returns its folder, or None if it failed."""
    folder = mirror_dir(cat)
    try:
        data = snapshot(cat)
        folder.mkdir(parents=True, exist_ok=True)
        m3u.write_atomic(folder / "playlists.json", json.dumps(data, indent=1, ensure_ascii=False))
        names = m3u.unique_filenames([p["name"] for p in data["playlists"]])
        wanted = set()
        for playlist, filename in zip(data["playlists"], names, strict=True):
            entries = []
            for t in playlist["tracks"]:
                path = base64.b64decode(t["path_b64"])
                stem = os.path.splitext(os.path.basename(t["display"]))[0]
                info = m3u.extinf(t["duration"], t["artist"], t["title"], stem)
                entries.append((info, m3u.location(path, os.fsencode(folder), absolute=True)))
            m3u.write_atomic(folder / filename, m3u.render(playlist["name"], entries))
            wanted.add(filename)
        for stale in folder.glob("*.m3u8"):
            if stale.name not in wanted:
                stale.unlink(missing_ok=True)
    except (OSError, ValueError) as exc:
        log.warning("could not write the playlist mirror in %s: %s", folder, exc)
        return None
    return folder


@dataclass
class RestoreReport:
    restored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unmatched: int = 0


def restore(cat: Catalogue, source: Path | None = None) -> RestoreReport:
    """Bring back the mirrored playlists into ``cat`` (after a rebuild from a scan).

    User playlists come back as they were. Pinned or renamed automatic playlists come back as
    user playlists of the same name and tracks, since automatic ones belong to a clustering
    that the rebuilt catalogue no longer has. Playlists whose name exists already are skipped.
    """
    path = (source or mirror_dir(cat)) / "playlists.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    report = RestoreReport()
    by_path, by_key = trackrefs.by_path_and_key(cat)
    existing = {p.name for p in userlists.playlists(cat, kind=USER)}
    for playlist in data.get("playlists", []):
        name = str(playlist["name"])
        if name in existing:
            report.skipped.append(name)
            continue
        ids = []
        for t in playlist["tracks"]:
            tid = by_path.get(base64.b64decode(t["path_b64"])) or by_key.get(t["content_key"])
            if tid is None:
                report.unmatched += 1
            else:
                ids.append(tid)
        userlists.create(cat, name, ids)
        report.restored.append(name)
    return report
