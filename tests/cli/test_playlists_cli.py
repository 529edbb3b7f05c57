"""`musicorg playlists`: each playlist with its one-line why (text) and its explanation
(--json); new tracks join, --min/--max fit the playlists without renaming them, --rebuild
keeps the names it matches. On the real held-out library of tests/organise/heldout.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from musicorg.cli import main
from musicorg.store.db import Catalogue
from tests.organise import heldout


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "cli.sqlite"
    with Catalogue(path) as cat:
        heldout.add_to(cat, heldout.load(), np.arange(120))
    return str(path)


def listed(db: str, capsys: pytest.CaptureFixture[str], *more: str) -> list[dict]:
    assert main(["playlists", "--db", db, "--json", "-q", *more]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list)
    return data


def test_json_explains_each_playlist(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = listed(db, capsys)
    assert sum(p["size"] for p in data) == 120
    for p in data:
        why = p["explanation"]
        assert p["summary"] == why["summary"]
        assert why["size"] == p["size"] and why["words"]
        assert {"word", "kind", "share", "library_share"} <= set(why["words"][0])
        lo, hi = why["tempo_range"]
        assert 0 < lo <= hi
        assert why["brightness"]["unit"] == "Hz" and why["energy"]["unit"] == "dBFS"
        assert why["brightness"]["word"] and why["energy"]["word"]
        assert re.search(r"\d+ %", p["summary"]) and "BPM" in p["summary"]


def test_text_shows_the_summary_under_each_playlist(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = listed(db, capsys)
    assert main(["playlists", "--db", db, "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    for p in data:
        (at,) = [i for i, line in enumerate(out) if line.strip().startswith(f"{p['id']}  ")]
        assert out[at + 1].strip() == p["summary"]
        assert out[at + 2].strip().startswith("e.g. ")


def test_new_tracks_join_and_lengths_fit_without_renaming(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = {p["id"]: p["name"] for p in listed(db, capsys)}
    with Catalogue(Path(db)) as cat:
        heldout.add_to(cat, heldout.load(), np.arange(120, 150))
    joined = listed(db, capsys)
    assert {p["id"]: p["name"] for p in joined} == first
    assert sum(p["size"] for p in joined) == 150
    # New lengths: split and merged, the playlists that go on keep their names.
    fitted = listed(db, capsys, "--min", "5", "--max", "12")
    assert all(p["size"] <= 12 for p in fitted)
    assert first.items() <= {p["id"]: p["name"] for p in fitted}.items()
    assert sum(p["size"] for p in fitted) == 150
    # Asked to cluster again: the playlists it matches keep their names.
    before = {p["id"]: p["name"] for p in fitted}
    rebuilt = listed(db, capsys, "--rebuild", "--min", "5", "--max", "12")
    matched = [p for p in rebuilt if p["id"] in before]
    assert matched and all(p["name"] == before[p["id"]] for p in matched)
