"""Text from tags, file names and playlist files never reaches the terminal raw: control
characters are shown as escapes (issue 17, item 9)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mutagen.flac import FLAC

from musicorg.cli import main
from musicorg.cli.common import printable
from musicorg.cli.discover import _print_tracks
from musicorg.cli.playlists import _print_playlists
from musicorg.store.autolists import PlaylistInfo

DATA = Path(__file__).parent.parent / "data"
HOSTILE = "\x1b]0;pwned\x07\x1b[2J"  # retitles the window, then clears the screen
RAW = ("\x1b", "\x07", "\x9b")


def _clean(out: str) -> None:
    for byte in RAW:
        assert byte not in out


def test_printable_shows_every_control_character() -> None:
    assert printable(f"Song {HOSTILE}") == "Song \\x1b]0;pwned\\x07\\x1b[2J"
    assert printable("a\tb\nc\r\x00\x7f\x9b[2J") == "a\\x09b\\x0ac\\x0d\\x00\\x7f\\x9b[2J"
    assert printable("caf\udce9") == "caf\\xe9"  # a Latin-1 byte of a file name
    assert printable("Motörhead – Ω ♫") == "Motörhead – Ω ♫"
    assert printable(None) == "None"


def test_tracks_shows_a_hostile_title_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    song = tmp_path / "lib" / f"evil{HOSTILE}.flac"
    song.parent.mkdir()
    shutil.copy2(DATA / "muldjord_chaos_god.flac", song)
    flac = FLAC(song)
    flac["title"] = f"Chaos {HOSTILE} God"
    flac["artist"] = "Art\x9bist"
    flac["album"] = "Al\rbum\tx"
    flac.save()
    db = str(tmp_path / "x.sqlite")

    assert main(["--db", db, "scan", str(song.parent)]) == 0
    assert main(["--db", db, "tracks"]) == 0
    out = capsys.readouterr().out
    _clean(out)
    assert "]0;pwned" in out and "[2J" in out and "Chaos " in out and " God" in out
    assert "\\x1b]0;pwned\\x07" in out
    assert "Art\\x9bist" in out and "Al\\x0dbum\\x09x" in out

    # JSON is escaped by json.dumps, and keeps the title as it is.
    assert main(["--db", db, "tracks", "--json"]) == 0
    out = capsys.readouterr().out
    _clean(out)
    row = json.loads(out)[0]
    assert row["title"] == f"Chaos {HOSTILE} God" and row["artist"] == "Art\x9bist"


def test_playlists_and_walks_show_hostile_names_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    info = PlaylistInfo(
        id=7,
        name=f"Mix{HOSTILE}",
        kind="auto",
        model_version="v1",
        group_name="Group\x9b2J",
        group_index=0,
        pinned=False,
        renamed=True,
        size=2,
        duration=400.0,
        unavailable=0,
        track_ids=[1, 2],
        examples=[f"A – T{HOSTILE}", "B – U\nline"],
    )
    _print_playlists([info])
    _print_tracks([(f"/m/evil{HOSTILE}.flac", "Art\x07", None, "d=0.100")])
    out = capsys.readouterr().out
    _clean(out)
    assert "Mix\\x1b]0;pwned\\x07\\x1b[2J (renamed)" in out
    assert "Group\\x9b2J" in out and "B – U\\x0aline" in out
    assert "Art\\x07 - evil\\x1b]0;pwned" in out
    assert out.count("\n") == 3 + 2 + 1  # no line added by a newline in a name
