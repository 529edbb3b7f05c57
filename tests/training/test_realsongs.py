"""The real-song split (4Q, Emotify) and its files; no audio needed."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from training import realsongs as rs
from training.data import load_realsongs


@pytest.fixture(scope="module")
def committed() -> tuple[dict[str, object], list[rs.Clip]]:
    return rs.load_split(rs.SPLIT_FILE)


def _sides(clips: list[rs.Clip], dataset: str) -> tuple[list[rs.Clip], list[rs.Clip]]:
    sub = [c for c in clips if c.dataset == dataset]
    return [c for c in sub if c.split == "train"], [c for c in sub if c.split == "test"]


# ------------------------------------------------------------------- the committed split


def test_committed_split_covers_both_sets_once(
    committed: tuple[dict[str, object], list[rs.Clip]],
) -> None:
    _, clips = committed
    keys = Counter(c.key for c in clips)
    assert max(keys.values()) == 1  # no clip on both sides (nor twice on one)
    assert Counter(c.dataset for c in clips) == {"4q": 900, "emotify": 400}
    assert {c.split for c in clips} == {"train", "test"}


def test_committed_split_keeps_artists_on_one_side(
    committed: tuple[dict[str, object], list[rs.Clip]],
) -> None:
    _, clips = committed
    for ds in ("4q", "emotify"):
        train, test = _sides(clips, ds)
        for norm in (rs.norm_artist, rs.artist_key):
            a_train = {norm(c.artist) for c in train if c.artist}
            a_test = {norm(c.artist) for c in test if c.artist}
            assert a_train and a_test
            assert not a_train & a_test, (ds, sorted(a_train & a_test)[:5])
        t_train = {rs.title_key(c.title) for c in train if c.title}
        assert not t_train & {rs.title_key(c.title) for c in test if c.title}


# Emotify tracks that are the same recording (or a remix) under two track ids; found from
# their features (training/MODEL.md): each pair must sit on one side.
EMOTIFY_TWINS = [("54", "80"), ("163", "166"), ("170", "176"), ("172", "175")]
EMOTIFY_TWINS += [("228", "230"), ("359", "366")]


def test_committed_split_keeps_duplicate_recordings_together(
    committed: tuple[dict[str, object], list[rs.Clip]],
) -> None:
    _, clips = committed
    side = {c.id: c.split for c in clips if c.dataset == "emotify"}
    for a, b in EMOTIFY_TWINS:
        assert side[a] == side[b], (a, b)


def test_committed_split_shares_and_labels(
    committed: tuple[dict[str, object], list[rs.Clip]],
) -> None:
    _, clips = committed
    for ds in ("4q", "emotify"):
        train, test = _sides(clips, ds)
        assert 0.25 <= len(test) / (len(train) + len(test)) <= 0.35
    train, test = _sides(clips, "4q")
    for q in rs.QUADRANTS:
        n_test = sum(c.quadrant == q for c in test)
        n_all = n_test + sum(c.quadrant == q for c in train)
        assert n_all == 225 and 0.2 <= n_test / n_all <= 0.4, q
    train, test = _sides(clips, "emotify")
    for g in rs.EMOTIFY_GENRES:
        n_test = sum(c.genre == g for c in test)
        n_all = n_test + sum(c.genre == g for c in train)
        assert n_all == 100 and 0.2 <= n_test / n_all <= 0.4, g
    # every 4Q genre label of a few clips is on both sides
    train, test = _sides(clips, "4q")
    n = Counter(c.genre for c in clips if c.dataset == "4q")
    common = {g for g, k in n.items() if k >= 5}
    assert common <= {c.genre for c in train} and common <= {c.genre for c in test}


def test_committed_split_is_metadata_only(
    committed: tuple[dict[str, object], list[rs.Clip]],
) -> None:
    doc, clips = committed
    text = rs.SPLIT_FILE.read_text(encoding="utf-8")
    assert "http" not in text and ".mp3" in text
    assert rs.SPLIT_FILE.stat().st_size < 300_000
    assert doc["seed"] == rs.SEED and doc["split_version"] == rs.SPLIT_VERSION
    for c in clips:
        if c.dataset == "4q":
            assert c.path == f"{c.quadrant}/{c.id}.mp3" and c.quadrant in rs.QUADRANTS
        else:
            n = int(c.id) - rs.EMOTIFY_OFFSETS[c.genre]
            assert c.path == f"{c.genre}/{n}.mp3" and 1 <= n <= 100
    assert doc["counts"] == json.loads(json.dumps(rs.counts(clips)))


def test_committed_split_is_rebuilt_from_its_metadata(
    committed: tuple[dict[str, object], list[rs.Clip]],
) -> None:
    doc, clips = committed
    fraction = doc["held_out_fraction"]
    assert isinstance(fraction, float)
    again = rs.split_clips([replace(c, split="") for c in clips], rs.SEED, fraction)
    assert [(c.key, c.split) for c in again] == [(c.key, c.split) for c in clips]


# ------------------------------------------------------------------ the split function


def _table() -> list[rs.Clip]:
    """12 artists (two spelt two ways), one cover of a song across two artists."""
    clips = []
    k = 0
    for a in range(12):
        for j in range(1 + a % 4):
            artist = f"Artist {a}"
            if a == 3 and j == 1:
                artist = "  ARTIST 3 & His Orchestra "
            if a == 5 and j == 0:
                artist = "Artíst 5"
            clips.append(
                rs.Clip(
                    dataset="4q",
                    id=f"MT{k:04d}",
                    path=f"Q{1 + k % 4}/MT{k:04d}.mp3",
                    artist=artist,
                    title="Silent Night" if (a, j) in {(7, 0), (8, 0)} else f"Song {k}",
                    genre=["Jazz", "Pop/Rock", "Blues"][k % 3],
                    quadrant=f"Q{1 + k % 4}",
                )
            )
            k += 1
    return clips


def test_split_function_groups_by_artist_and_title() -> None:
    clips = _table()
    out = rs.split_clips(clips, seed=1, fraction=0.3)
    assert sorted(c.key for c in out) == sorted(c.key for c in clips)
    side: dict[str, str] = {}
    for c in out:
        assert side.setdefault(rs.artist_key(c.artist), c.split) == c.split, c.artist
    assert rs.artist_key("  ARTIST 3 & His Orchestra ") == rs.artist_key("Artist 3")
    assert rs.artist_key("Artíst 5") == rs.artist_key("artist 5")
    by_title = {c.id: c.split for c in out if c.title == "Silent Night"}
    assert len(set(by_title.values())) == 1  # a cover goes with the original
    n_test = sum(c.split == "test" for c in out)
    assert 0 < n_test < len(out)


def test_split_function_is_deterministic_and_seeded() -> None:
    clips = _table()
    a = rs.split_clips(clips, seed=7, fraction=0.3)
    b = rs.split_clips(list(reversed(clips)), seed=7, fraction=0.3)
    assert [(c.key, c.split) for c in a] == [(c.key, c.split) for c in b]
    others = {tuple(c.split for c in rs.split_clips(clips, seed=s, fraction=0.3)) for s in range(8)}
    assert len(others) > 1


def test_split_function_stratifies_emotify_by_genre() -> None:
    clips = [
        rs.Clip(dataset="emotify", id=str(i), path="", artist=f"a{i // 2}", genre=g)
        for i, g in enumerate(g for g in rs.EMOTIFY_GENRES for _ in range(20))
    ]
    out = rs.split_clips(clips, seed=3, fraction=0.3)
    held = Counter(c.genre for c in out if c.split == "test")
    assert all(5 <= held[g] <= 7 for g in rs.EMOTIFY_GENRES), held


def test_write_split_refuses_a_different_split(tmp_path: Path) -> None:
    path = tmp_path / "split.json"
    clips = _table()
    assert rs.write_split(clips, path, seed=1, fraction=0.3, force=False)
    first = path.read_text(encoding="utf-8")
    assert rs.write_split(clips, path, seed=1, fraction=0.3, force=False)  # the same: fine
    assert path.read_text(encoding="utf-8") == first
    seeds = [
        s for s in range(2, 30) if rs.split_clips(clips, s, 0.3) != rs.split_clips(clips, 1, 0.3)
    ]
    assert not rs.write_split(clips, path, seed=seeds[0], fraction=0.3, force=False)
    assert path.read_text(encoding="utf-8") == first
    assert rs.write_split(clips, path, seed=seeds[0], fraction=0.3, force=True)
    assert path.read_text(encoding="utf-8") != first
    _, back = rs.load_split(path)
    assert [(c.key, c.split) for c in back] == [
        (c.key, c.split) for c in rs.split_clips(clips, seeds[0], 0.3)
    ]


# --------------------------------------------------------------------- labels and files


def test_first_genre() -> None:
    assert rs.first_genre("Country; International") == "Country"
    assert rs.first_genre("International; Jazz") == "Jazz"
    assert rs.first_genre("Electronic; International; Pop/Rock") == "Electronic"
    assert rs.first_genre("International") == ""
    assert rs.first_genre(None) == ""


def test_readers_on_a_fake_layout(tmp_path: Path) -> None:
    root4 = tmp_path / "4q" / "MER_audio_taffc_dataset"
    for q in rs.QUADRANTS:
        (root4 / q).mkdir(parents=True)
    (root4 / "Q2" / "MT1.mp3").write_bytes(b"")
    (root4 / "Q4" / "MT2.mp3").write_bytes(b"")
    (root4 / rs.META_4Q).write_text(
        '"Song","Artist","Title","Quadrant","MoodsStrSplit","GenresStr"\n'
        '"MT1","Céline Dion","A","Q2","Calm","International; Pop/Rock"\n'
        '"MT2","X","B","Q4","Sad","International"\n'
        '"MT3","Y","C","Q1","Sad","Jazz"\n',
        encoding="utf-8",
    )
    root, clips = rs.read_4q(tmp_path / "4q")
    assert root == root4
    assert [(c.id, c.path, c.genre, c.artist) for c in clips] == [
        ("MT1", "Q2/MT1.mp3", "Pop/Rock", "Céline Dion"),
        ("MT2", "Q4/MT2.mp3", "", "X"),
    ]
    em = tmp_path / "emotify" / "data"
    for g in rs.EMOTIFY_GENRES:
        (em / "emotifymusic" / g).mkdir(parents=True)
        (em / "emotifymusic" / g / "7.mp3").write_bytes(b"")
    header = "track id, genre, " + ", ".join(rs.GEMS) + ", mood\n"
    rows = "".join(
        f"{off + 7}, {g}, " + ", ".join(["1"] + ["0"] * 8) + ", 3\n"
        for g, off in rs.EMOTIFY_OFFSETS.items()
    )
    (em / "data.csv").write_text(header + rows + rows.replace(", 1, 0,", ", 0, 0,"))
    music, eclips = rs.read_emotify(tmp_path / "emotify")
    assert music == em / "emotifymusic"
    assert [(c.id, c.path) for c in eclips] == [
        ("7", "classical/7.mp3"),
        ("107", "rock/7.mp3"),
        ("207", "electronic/7.mp3"),
        ("307", "pop/7.mp3"),
    ]
    assert eclips[0].gems[0] == pytest.approx(0.5)


def test_assemble_and_load_realsongs(tmp_path: Path) -> None:
    clips = rs.split_clips(_table()[:3], seed=1, fraction=0.3)
    results = {}
    for i, c in enumerate(clips):
        results[c.key] = {
            "X": np.full((1, 39, 130), i, np.float32),
            "stats": np.zeros((1, 78), np.float32),
            "tempo": np.ones(1, np.float32),
            "brightness": np.ones(1, np.float32),
            "energy": np.ones(1, np.float32),
            "weak": np.zeros(1, bool),
            "start": np.zeros(1, np.float32),
            "musicnn": np.zeros((1, 10, 200), np.float32),
            "tags": np.zeros((1, 10, 50), np.float32),
            "n_patches": np.full(1, 10, np.int64),
            "features_version": np.asarray(3),
        }
    del results[clips[1].key]  # a failed clip is left out
    out = rs.assemble(clips, results, tmp_path, version=3)
    assert out == tmp_path / "realsongs-v3.npz"
    z = load_realsongs(out)
    assert list(z["id"]) == [clips[0].id, clips[2].id]
    assert z["X"].shape == (2, 39, 130) and z["X"][1, 0, 0] == 2
    assert z["musicnn"].shape == (2, 10, 200) and z["gems"].shape == (2, 9)
    assert np.isnan(z["gems"]).all()
    assert set(z["split"]) <= {"train", "test"} and int(z["features_version"]) == 3
    assert z["dataset"].dtype.kind == "U"
