"""The user's music folder is read-only to us: after every command but an export into it, its
bytes, modes and times are what they were (every entry, links and folders included)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from musicorg.cli import COMMANDS, main
from tests import hostile

Snapshot = dict[bytes, tuple[int, int, int, int, str]]


def snapshot(folder: Path) -> Snapshot:
    """Every entry under ``folder``, not following links: mode, size, mtime, ctime and, for a
    regular file, the sha256 of its bytes."""
    seen: Snapshot = {}
    for top, dirs, files in os.walk(os.fsencode(folder)):
        for name in [*dirs, *files]:
            path = os.path.join(top, name)
            st = os.lstat(path)
            digest = ""
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    digest = hashlib.file_digest(f, "sha256").hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                digest = os.fsdecode(os.readlink(path))
            seen[path] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest)
    return seen


def test_no_command_but_export_changes_the_music_folder(
    music: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile.make(music / "hostile")
    (music / "mix.m3u8").write_text("#EXTM3U\nkevin_macleod_vibe_ace.mp3\n", encoding="utf-8")
    db = str(tmp_path / "c.sqlite")
    before = snapshot(music)
    assert len(before) > 25
    song = "Vibe Ace"
    runs = [
        ["scan", str(music)],
        ["scan", str(music)],
        ["problems"],
        ["stats"],
        ["tracks"],
        ["lyrics"],
        ["analyse", "--device", "cpu"],
        ["embeddings", str(tmp_path / "e.npz")],
        ["playlists"],
        ["playlists", "--rebuild", "--method", "agglomerative"],
        ["map"],
        ["similar", song],
        ["similar", song, "--minus", "Chaos God"],
        ["path", song, "Chaos God"],
        ["ask", "calm jazz not metal", "--save", "Asked"],
        ["foryou"],
        ["import", str(music / "mix.m3u8")],
        ["export", str(tmp_path / "exports")],
        ["models", "list"],
        ["retrain", "--epochs", "1", "--device", "cpu"],
        ["models", "revert"],
        ["relocate", str(music), str(music)],
        ["prune", "--yes"],
        ["doctor"],
    ]
    ran = {argv[0] for argv in runs}
    assert ran >= {name for name, _ in COMMANDS} - {"analyze"}, "a command is not tried here"
    for argv in runs:
        status = main(["--db", db, "-q", *argv])
        out = capsys.readouterr()
        assert status in (0, 1), (argv, out.err)
        assert "Traceback" not in out.err, (argv, out.err)
        assert snapshot(music) == before, f"`musicorg {' '.join(argv)}` changed the music folder"
    # The one exception, and proof that the snapshot sees a change: an export into the folder.
    assert main(["--db", db, "-q", "export", str(music / "playlists")]) == 0
    assert snapshot(music) != before
