"""Ask in words: on synthetic tracks with tags in a real catalogue, and on the analysed demo."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from musicorg import paths
from musicorg.organise import ask
from musicorg.organise.ask import AskError, answer, load_index
from musicorg.organise.similar import norm_text
from musicorg.store.db import Catalogue, backup
from tests.latent_fixtures import add_tracks, new_catalogue
from tests.tag_fixtures import probs, store_tags

# -- the analysed demo, made once per test process (scan + analysis take ~20 s) --------------

_DEMO: dict[str, Path] = {}
_DIRS = ("DATA", "CONFIG", "CACHE", "LOG")


def analysed_demo(tmp_path_factory: pytest.TempPathFactory, dest: Path) -> Catalogue:
    """A copy at ``dest`` of the demo library scanned and analysed (CPU) with the bundled model;
    the analysis runs once per test process, whichever test asks first."""
    # lazy: the pipeline loads every stage; only the tests that need the demo pay for it
    from musicorg.app import pipeline
    from musicorg.ingest import scanner

    if "db" not in _DEMO:
        base = tmp_path_factory.mktemp("analysed-demo")
        with pytest.MonkeyPatch.context() as mp:
            for name in _DIRS:
                mp.setenv(f"MUSICORG_{name}_DIR", str(base / name.lower()))
            cat = Catalogue(base / "demo.sqlite")
            scanner.scan(cat, [paths.demo_dir()])
            pipeline.analyse(cat, device="cpu", workers=1)
            cat.close()
        _DEMO["db"] = base / "demo.sqlite"
    backup(_DEMO["db"], dest)
    return Catalogue(dest)


# -- synthetic tracks --------------------------------------------------------------------------


def library(tmp_path: Path) -> tuple[Catalogue, list[int]]:
    """24 tracks on a line. 0-7: heard jazz (decreasing), 0-3 with the file genre Jazz;
    8-15: heard metal, 8-9 with the file genre Death Metal; 16-23: heard mellow and
    instrumental. Two artists per block, alternating; 22 is a copy of 21 (same song)."""
    n = 24
    v = np.zeros((n, 8), np.float32)
    v[:, 0] = np.arange(n)
    genres = ["Jazz"] * 4 + [None] * 4 + ["Death Metal"] * 2 + [None] * 14
    artists = [f"Band {i // 8}{'ab'[i % 2]}" for i in range(n)]
    titles = [f"Song {i}" for i in range(n)]
    titles[22], artists[22] = titles[21], artists[21]
    cat = new_catalogue(tmp_path)
    ids = add_tracks(
        cat, v, artists=artists, titles=titles, columns={"genre": genres, "year": [1984] * n}
    )
    tags: dict[str, np.ndarray | None] = {}
    for i in range(n):
        key = f"key{i:06d}-/music"
        if i < 8:
            tags[key] = probs(jazz=0.95 - 0.05 * i)
        elif i < 16:
            tags[key] = probs(metal=0.9 - 0.05 * (i - 8), male_vocalists=0.5)
        else:
            tags[key] = probs(Mellow=0.5 + 0.01 * i, instrumental=0.8)
    store_tags(cat, tags)
    return cat, ids


def test_words_rank_and_say_why(tmp_path: Path) -> None:
    cat, ids = library(tmp_path)
    result = ask.ask(cat, "jazz", n=8)
    got = [ids.index(t.track_id) for t in result.tracks]
    assert sorted(got) == list(range(8)) and result.terms == ["jazz"] and result.unknown == []
    # The files' Jazz first: the four tagged tracks score above the four only heard.
    by_score = sorted(result.tracks, key=lambda t: -t.score)
    assert {ids.index(t.track_id) for t in by_score[:4]} == {0, 1, 2, 3}
    why = by_score[0].why[0]
    assert why.term == "jazz" and not why.negated and why.score >= 0.9
    assert {w.kind for w in why.words} == {"genre", "style"}
    assert all(a != b for a, b in itertools.pairwise(norm_text(t.artist) for t in result.tracks))
    cat.close()


def test_negation_filters_the_files_tags_and_ranks_away(tmp_path: Path) -> None:
    cat, ids = library(tmp_path)
    index = load_index(cat)
    got = [ids.index(t.track_id) for t in answer(index, "not metal", 24).tracks]
    assert 8 not in got and 9 not in got  # their own tags say Death Metal
    scores = {ids.index(t.track_id): t.score for t in answer(index, "not metal", 24).tracks}
    assert min(scores[i] for i in range(16, 24) if i in scores) > max(
        scores[i] for i in range(10, 16)
    )
    result = answer(index, "without vocals", 8)
    assert result.terms == ["not vocals"]
    assert all(ids.index(t.track_id) < 8 or ids.index(t.track_id) >= 16 for t in result.tracks)
    # Mixed: instrumental and not metal.
    top = answer(index, "no vocals, not jazz", 4)
    assert {ids.index(t.track_id) for t in top.tracks} <= set(range(16, 24))
    assert [r.term for r in top.tracks[0].why] == ["no vocals", "jazz"]
    assert top.tracks[0].why[1].negated
    cat.close()


def test_unknown_words_are_named_and_nothing_known_is_an_error(tmp_path: Path) -> None:
    cat, _ids = library(tmp_path)
    index = load_index(cat)
    result = answer(index, "mellow piano music with banjo", 5)
    assert result.terms == ["mellow"] and result.unknown == ["piano", "banjo"]
    assert result.as_dict()["unknown"] == ["piano", "banjo"]
    with pytest.raises(AskError, match="'piano banjo'"):
        answer(index, "piano banjo", 5)
    with pytest.raises(AskError):
        answer(index, "   ", 5)
    with pytest.raises(AskError, match="at least one"):
        answer(index, "jazz", 0)
    cat.close()


def test_copies_missing_tracks_and_named_artists(tmp_path: Path) -> None:
    cat, ids = library(tmp_path)
    index = load_index(cat)
    got = [ids.index(t.track_id) for t in answer(index, "mellow", 8).tracks]
    assert not {21, 22} <= set(got)  # one copy of a song
    assert len(set(got) & set(range(16, 24))) == 7
    # An artist the query names may play in a row (nothing else is asked).
    named = answer(index, "band 0a", 4)
    assert [t.artist for t in named.tracks] == ["Band 0a"] * 4
    # A decade of the year tags.
    assert len(answer(index, "80s", 30).tracks) == 23
    cat.close()
    cat2 = new_catalogue(tmp_path / "two")
    add_tracks(cat2, np.eye(4, dtype=np.float32), missing=[False, True, False, False])
    store_tags(cat2, {f"key{i:06d}-/music": probs(jazz=0.1 * i) for i in range(4)})
    assert len(ask.ask(cat2, "jazz", 10).tracks) == 3
    cat2.close()


def test_no_analysis_is_an_error(tmp_path: Path) -> None:
    cat = new_catalogue(tmp_path)
    with pytest.raises(AskError, match="analyse"):
        ask.ask(cat, "jazz")
    cat.close()


def test_one_artist_never_plays_twice_in_a_row(tmp_path: Path) -> None:
    n = 40
    v = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)
    artists = ["Solo"] * 25 + [f"Other {i}" for i in range(15)]
    cat = new_catalogue(tmp_path)
    add_tracks(cat, v, artists=artists)
    store_tags(cat, {f"key{i:06d}-/music": probs(jazz=1 - i / 100) for i in range(n)})
    result = ask.ask(cat, "jazz", 20)
    names = [t.artist for t in result.tracks]
    assert len(names) == 20 and names.count("Solo") == 10
    assert all(a != b for a, b in itertools.pairwise(names))
    cat.close()


# -- the demo library --------------------------------------------------------------------------


def test_on_the_demo_electronic_and_not_electronic(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    cat = analysed_demo(tmp_path_factory, tmp_path / "demo.sqlite")
    index = load_index(cat)
    row = {int(t): i for i, t in enumerate(index.track_ids)}
    electronic = set(index.vocab.rows("genre:electronic").tolist())
    assert len(electronic) >= 15
    whole = answer(index, "electronic", len(index))
    ranked = [row[t.track_id] for t in sorted(whole.tracks, key=lambda t: -t.score)]
    # Every track whose file genre is Electronic ranks above every other.
    assert set(ranked[: len(electronic)]) == electronic
    reverse = answer(index, "not electronic", len(index))
    got = {row[t.track_id] for t in reverse.tracks}
    assert not got & electronic
    assert len(got) >= len(index) - len(electronic) - 3  # copies and one-artist limits aside
    cat.close()
