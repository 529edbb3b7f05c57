"""User playlists are mirrored to JSON and M3U8, and come back after a catalogue is lost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from musicorg.ingest import scanner
from musicorg.io import mirror
from musicorg.store import library, userlists
from musicorg.store.db import Catalogue


def test_every_change_is_mirrored_and_restorable(tmp_path: Path, music: Path) -> None:
    db = tmp_path / "cat.sqlite"
    cat = Catalogue(db)
    scanner.scan(cat, [music])
    tracks = {r.path: r.id for r in library.tracks(cat)}
    ids = list(tracks.values())
    pid = userlists.create(cat, "Road trip", ids[:3])
    folder = mirror.mirror_dir(cat)
    data = json.loads((folder / "playlists.json").read_text())
    assert [p["name"] for p in data["playlists"]] == ["Road trip"]
    assert len(data["playlists"][0]["tracks"]) == 3
    userlists.rename(cat, pid, "Night drive")
    userlists.add_tracks(cat, pid, [ids[5]])
    userlists.move(cat, pid, 3, 0)
    data = json.loads((folder / "playlists.json").read_text())
    (saved,) = data["playlists"]
    assert saved["name"] == "Night drive"
    order = [t["display"] for t in saved["tracks"]]
    assert [tracks[p] for p in order] == [ids[5], *ids[:3]]
    m3u8 = (folder / "Night drive.m3u8").read_text()
    assert m3u8.startswith("#EXTM3U") and "#PLAYLIST:Night drive" in m3u8
    assert not (folder / "Road trip.m3u8").exists()
    cat.close()

    # The catalogue is lost: rebuild it from a scan, then bring the playlists back.
    db.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.move(music / "a", music / "moved-a")  # paths changed too: content keys match them
    fresh = Catalogue(db)
    scanner.scan(fresh, [music])
    report = mirror.restore(fresh, folder)
    assert report.restored == ["Night drive"] and report.unmatched == 0
    (info,) = userlists.playlists(fresh, kind="user")
    items = userlists.items(fresh, info.id)
    assert [i.title for i in items] == [
        next(t["title"] for t in saved["tracks"] if t["display"] == d) for d in order
    ]
    fresh.close()
