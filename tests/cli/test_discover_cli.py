"""The ask, foryou and similar --minus commands, in-process."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from musicorg.cli import main
from musicorg.store import plays, userlists
from musicorg.store.db import Catalogue
from tests.latent_fixtures import add_tracks
from tests.tag_fixtures import probs, store_tags


@pytest.fixture
def db(tmp_path: Path) -> str:
    """30 tracks on a line: 0-9 heard jazz (and the file genre Jazz for 0-4), 10-19 metal,
    20-29 mellow and instrumental; one artist per two tracks."""
    path = tmp_path / "cat.sqlite"
    cat = Catalogue(path)
    v = np.zeros((30, 8), np.float32)
    v[:, 0] = np.arange(30)
    ids = add_tracks(
        cat,
        v,
        artists=[f"Band {i // 2}" for i in range(30)],
        columns={"genre": ["Jazz"] * 5 + [None] * 25},
    )
    store_tags(
        cat,
        {
            f"key{i:06d}-/music": probs(jazz=0.9)
            if i < 10
            else probs(metal=0.8)
            if i < 20
            else probs(Mellow=0.6, instrumental=0.9)
            for i in range(30)
        },
    )
    assert len(ids) == 30
    cat.close()
    return str(path)


def test_ask_prints_why_and_names_the_unknown_words(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", db, "ask", "jazz", "with", "kazoo", "-n", "5"]) == 0
    out = capsys.readouterr()
    assert out.err.strip() == "not understood: kazoo"
    lines = out.out.splitlines()
    assert lines[0] == "5 tracks for: jazz"
    assert sum("[jazz 0." in line for line in lines) == 5
    assert main(["--db", db, "ask", "not metal, no vocals", "-n", "4", "--json"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert out.err == "" and data["unknown"] == [] and data["saved"] is None
    assert data["understood"] == ["not metal", "no vocals"]
    assert len(data["tracks"]) == 4
    assert all(int(t["path"][-10:-5]) >= 20 for t in data["tracks"])
    why = data["tracks"][0]["why"]
    assert why[0]["term"] == "metal" and why[0]["negated"] and why[1]["term"] == "no vocals"


def test_ask_saves_and_fails_in_one_line(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", db, "ask", "mellow", "-n", "3", "--save", "Mellow three"]) == 0
    assert "Saved the playlist 'Mellow three'." in capsys.readouterr().out
    cat = Catalogue(db)
    (saved,) = userlists.playlists(cat, "user")
    assert saved.name == "Mellow three" and saved.tracks == 3
    cat.close()
    assert main(["--db", db, "ask", "kazoo", "ocarina"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("musicorg ask: no word of 'kazoo ocarina'")


def test_foryou(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", db, "foryou"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "musicorg foryou: no plays recorded yet: play some music in the app first, then ask again"
    ]
    cat = Catalogue(db)
    now = time.time()
    for _ in range(3):
        plays.record_play(cat, 5, at=now - 3 * 86400)
    plays.record_play(cat, 6, at=now - 3 * 86400)
    plays.record_skip(cat, 6, at=now - 86400)
    cat.close()
    assert main(["--db", db, "foryou", "-n", "4"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Made from the 1 tracks you played most and lately:")
    assert "Band 2 - Title 4  [3 plays, last " in text
    assert "4 tracks for you (left out: 2 just heard, 1 skipped):" in text
    assert main(["--db", db, "foryou", "-n", "4", "--json", "--save", "For me"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["track_id"] for s in data["seeds"]] == [5] and data["saved"]["name"] == "For me"
    assert {t["track_id"] for t in data["tracks"]} & {5, 6} == set()


def test_similar_minus(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    seed, minus = "/music/track000015.flac", "/music/track000017.flac"
    assert main(["--db", db, "similar", seed, "--minus", minus, "-n", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["minus"] == [18] and data["minus_weight"] == 0.5
    assert all(int(t["path"][-10:-5]) < 15 for t in data["tracks"])
    assert main(["--db", db, "similar", seed, "--minus", minus, "--minus-weight", "0.2"]) == 0
    assert "less like the subtracted ones" in capsys.readouterr().out
    assert main(["--db", db, "similar", seed, "--minus", minus, "--minus-weight", "3"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "from 0 to 1" in err[0]
    assert main(["--db", db, "similar", seed, "--minus", "/nope.flac"]) == 1
    assert "not in the catalogue" in capsys.readouterr().err
