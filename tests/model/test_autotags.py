"""Tags heard in the audio: the vocabulary, the thresholds file, and what the CLI shows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musicorg.cli import main
from musicorg.model import autotags
from musicorg.store import library
from musicorg.store.db import Catalogue
from tests.latent_fixtures import add_tracks
from tests.tag_fixtures import probs, store_tags


def test_every_tag_is_in_exactly_one_word() -> None:
    names = autotags.tag_names()
    assert len(names) == autotags.N_TAGS == len(set(names))
    said = [t for w in autotags.WORDS for t in w.tags]
    assert sorted(said) == sorted(names)
    labels = [w.label.casefold() for w in autotags.WORDS]
    assert len(labels) == len(set(labels))
    assert {w.kind for w in autotags.WORDS} == {*autotags.KINDS, None}
    # Near-duplicates are one word; words that say nothing of a playlist are never in names.
    word = {t: w for w in autotags.WORDS for t in w.tags}
    assert word["female vocalist"] is word["female vocalists"]
    assert word["chillout"] is word["chill"]
    for vague in ("beautiful", "sexy", "catchy", "experimental", "guitar"):
        assert word[vague].kind is None
    # Opposites name words that exist (or the audio descriptors).
    known = {w.label for w in autotags.WORDS} | {"calm", "energetic", "slow", "fast"}
    assert all(a in known and b in known for a, b in autotags.OPPOSITES)
    assert autotags.opposites_of("Instrumental") == {"female vocalists", "male vocalists"}
    assert "sad" in autotags.opposites_of("happy")


def test_shipped_thresholds_cover_every_tag() -> None:
    doc = json.loads((autotags.default_dir() / autotags.THRESHOLDS_NAME).read_text())
    assert doc["version"] == 1 and doc["rule"]
    assert set(doc["thresholds"]) == set(autotags.tag_names()) == set(doc["source"])
    # The calibration keeps every threshold within [0.001, 0.9] (tests rely on 0 being off
    # and 0.95 on).
    assert all(0.001 <= v <= 0.9 for v in doc["thresholds"].values())
    assert autotags.thresholds() == pytest.approx(doc["thresholds"])


def test_top_tags_only_above_threshold_merged_and_at_most_five() -> None:
    p = probs(jazz=0.62, instrumental=0.41, Mellow=0.33)
    top = autotags.top_tags(p)
    assert [(t.tag, t.label) for t in top] == [
        ("jazz", "Jazz"),
        ("instrumental", "instrumental"),
        ("Mellow", "mellow"),
    ]
    assert autotags.describe(top) == "Jazz 0.62 · instrumental 0.41 · mellow 0.33"
    assert autotags.describe(top, probabilities=False) == "Jazz · instrumental · mellow"
    # The details pane breaks lines between tags only.
    glued = autotags.describe(top, unbreakable=True)
    assert glued.split(" ") == [
        "Jazz\u00a00.62\u00a0·",
        "instrumental\u00a00.41\u00a0·",
        "mellow\u00a00.33",
    ]
    assert top[0].as_dict() == {"tag": "jazz", "label": "Jazz", "probability": 0.62}
    # Under its threshold a tag is not said; a near-duplicate speaks for its word.
    cut = autotags.thresholds()
    below = probs(jazz=cut["jazz"] * 0.9, female_vocalist=0.8)
    assert [(t.tag, t.probability) for t in autotags.top_tags(below)] == [
        ("female vocalists", pytest.approx(0.8))
    ]
    rare = autotags.TagScore("happy", "happy", 0.0041)
    assert autotags.describe([rare, autotags.TagScore("sad", "sad", 0.052)]) == (
        "happy 0.0041 · sad 0.052"
    )
    many = probs(rock=0.9, pop=0.8, jazz=0.7, blues=0.6, folk=0.5, country=0.4, sad=0.3)
    assert len(autotags.top_tags(many)) == autotags.TOP_TAGS == 5
    assert autotags.top_tags(None) == []
    assert autotags.decode(None) is None and autotags.decode(b"\0" * 12) is None
    assert autotags.decode(p.tobytes()) == pytest.approx(p)


def test_word_matrix_with_own_thresholds() -> None:
    names = autotags.tag_names()
    p = np.stack([probs(happy=0.2), probs(sad=0.2), np.full(50, np.nan, np.float32)])
    cut = dict.fromkeys(names, 0.5) | {"happy": 0.1}
    on, value = autotags.word_matrix(p, cutoffs=cut)
    col = {w.label: i for i, w in enumerate(autotags.WORDS)}
    assert on[0, col["happy"]] and not on[1, col["sad"]] and not on[2].any()
    assert value[0, col["happy"]] == pytest.approx(0.2) and np.isnan(value[2]).all()


def tagged_catalogue(tmp_path: Path) -> tuple[Catalogue, list[int]]:
    cat = Catalogue(tmp_path / "cat.sqlite")
    ids = add_tracks(cat, np.zeros((3, 4), np.float32), keys=["k0", "k1", "k2"])
    store_tags(
        cat,
        {
            "k0": probs(jazz=0.62, instrumental=0.41, Mellow=0.33, rock=0.2, pop=0.2, sad=0.15),
            "k1": None,  # analysed before the tagger
        },
    )
    return cat, ids


def test_library_and_cli_tracks_show_the_top_tags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cat, ids = tagged_catalogue(tmp_path)
    rows = {r.id: r for r in library.tracks(cat)}
    assert [t.label for t in rows[ids[0]].tags][:3] == ["Jazz", "instrumental", "mellow"]
    assert rows[ids[1]].tags == [] and rows[ids[2]].tags == []
    assert library.track_tags(cat, ids[0]) == rows[ids[0]].tags
    assert library.track_tags(cat, ids[2]) == [] and library.track_tags(cat, 999) == []
    cat.close()
    db = str(tmp_path / "cat.sqlite")
    assert main(["--db", db, "tracks", "--json"]) == 0
    out = {t["id"]: t for t in json.loads(capsys.readouterr().out)}
    first = out[ids[0]]["tags"]
    assert first[0] == {"tag": "jazz", "label": "Jazz", "probability": 0.62}
    assert [t["tag"] for t in first][:3] == ["jazz", "instrumental", "Mellow"]
    assert all(t["probability"] >= autotags.thresholds()[t["tag"]] for t in first)
    assert len(first) <= autotags.TOP_TAGS
    assert out[ids[1]]["tags"] == [] and out[ids[2]]["tags"] == []
    # The table shows the first three words, and nothing for a track without tags.
    assert main(["--db", db, "tracks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    line = next(x for x in lines if x.split()[0] == str(ids[0]))
    assert line.endswith("~ Jazz, instrumental, mellow")
    assert not any("~" in x for x in lines if x.split()[0] != str(ids[0]))
