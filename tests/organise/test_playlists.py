"""Automatic playlists: guards, naming, order, matching across runs, pin/rename, the CLI."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, insert, select, update

from musicorg.analyse import features as feat
from musicorg.keys import ACTIVE_MODEL_KEY
from musicorg.organise import cluster, cuts, naming, order, tracksets
from musicorg.organise import playlists as pl
from musicorg.store.db import Analysis, Catalogue, Embedding, Playlist, PlaylistItem, Track

VERSION = "test-model-1"


def paper_blob(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    """The paper's failure: 97.7 % of the tracks in one tight blob, the rest far outliers."""
    rng = np.random.default_rng(seed)
    nb = round(0.977 * n)
    blob = rng.normal(0.0, 0.05, (nb, d))
    out = rng.normal(0.0, 4.0, (n - nb, d))
    return np.vstack([blob, out]).astype(np.float32)


def mixture(n: int, k: int = 6, d: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 4.0, (k, d))
    labels = rng.integers(0, k, n)
    return (centres[labels] + rng.normal(0.0, 1.0, (n, d))).astype(np.float32), labels


def check_partition(plan: cluster.Plan, n: int) -> list[int]:
    rows = np.concatenate(plan.playlists)
    assert len(rows) == n and len(np.unique(rows)) == n, "every track in exactly one playlist"
    assert len(plan.group_of) == len(plan.playlists)
    assert 1 <= plan.n_groups <= cluster.MAX_GROUPS
    return [len(p) for p in plan.playlists]


# --- sizes and guards ---------------------------------------------------------------------------


def test_size_limits() -> None:
    assert cuts.size_limits(10_000) == (20, 60)
    # Small libraries: min max(3, N/8); max a quarter of the library (at least twice the min).
    assert cuts.size_limits(40) == (5, 10)
    assert cuts.size_limits(12) == (3, 6)
    assert cuts.size_limits(70) == (9, 18)
    assert cuts.size_limits(600, 20, 1000) == (20, 90)  # 15 % of 600
    assert cuts.size_limits(499, 20, 1000)[1] == 125  # under 500 tracks: a quarter, not 15 %


@pytest.mark.parametrize("method", cluster.METHODS)
def test_collapsed_blob_never_makes_a_giant_playlist(method: str) -> None:
    n = 1000
    x = paper_blob(n)
    # Even a user who allows very long playlists gets none over 15 % of the library.
    plan = cluster.plan_playlists(x, method=method, playlist_min=20, playlist_max=5000)
    sizes = check_partition(plan, n)
    assert max(sizes) <= 0.15 * n
    assert len(sizes) >= 7
    # With the default lengths every playlist is within 20-60.
    plan = cluster.plan_playlists(x, method=method)
    sizes = check_partition(plan, n)
    assert max(sizes) <= 60 and min(sizes) >= 20


@pytest.mark.parametrize("method", cluster.METHODS)
def test_mixture_all_methods(method: str) -> None:
    x, truth = mixture(900, k=6)
    plan = cluster.plan_playlists(x, method=method)
    sizes = check_partition(plan, len(x))
    assert min(sizes) >= 20 and max(sizes) <= 60
    # Playlists do not mix the well-separated components much.
    purity = sum(np.bincount(truth[p]).max() for p in plan.playlists) / len(x)
    assert purity > 0.9
    assert 2 <= plan.n_groups <= 20


@pytest.mark.parametrize("method", cluster.METHODS)
def test_sampled_paths_of_large_libraries(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The code paths of 100k-track libraries (fit on a sample, Ward on micro-centroids,
    DBSCAN on a sample), on a small library with small sample limits."""
    monkeypatch.setattr(cuts, "FIT_SAMPLE", 300)
    monkeypatch.setattr(cluster, "SILHOUETTE_SAMPLE", 200)
    monkeypatch.setattr(cluster, "AGGLO_MAX_POINTS", 200)
    monkeypatch.setattr(cluster, "AGGLO_MICRO", 60)
    monkeypatch.setattr(cluster, "DBSCAN_SAMPLE", 300)
    x, truth = mixture(1500, k=5, seed=4)
    x = np.vstack([x, paper_blob(500, seed=4)])
    plan = cluster.plan_playlists(x, method=method)
    sizes = check_partition(plan, len(x))
    assert min(sizes) >= 20 and max(sizes) <= 60
    purity = sum(np.bincount(truth[p[p < 1500]], minlength=5).max() for p in plan.playlists)
    assert purity / 1500 > 0.85


def test_small_library_min_size() -> None:
    rng = np.random.default_rng(3)
    x = np.vstack(
        [
            rng.normal(0, 0.3, (30, 8)),
            rng.normal(6, 0.3, (7, 8)),
            rng.normal(-6, 0.3, (3, 8)),  # too few for a playlist of its own
        ]
    ).astype(np.float32)
    for method in cluster.METHODS:
        plan = cluster.plan_playlists(x, method=method)
        sizes = check_partition(plan, len(x))
        assert min(sizes) >= max(3, len(x) / 8), (method, sizes)


def test_tiny_libraries() -> None:
    for n in (1, 2, 5):
        plan = cluster.plan_playlists(np.random.default_rng(n).normal(size=(n, 4)))
        assert check_partition(plan, n) == [n]
    assert cluster.plan_playlists(np.zeros((0, 4))).playlists == []


def test_deterministic() -> None:
    x, _ = mixture(400)
    a = cluster.plan_playlists(x)
    b = cluster.plan_playlists(x)
    assert [p.tolist() for p in a.playlists] == [p.tolist() for p in b.playlists]


def test_kmeans_groups_are_whole_playlists_along_natural_borders() -> None:
    """The default method cuts playlists first and gathers them into groups: four
    well-separated components make four groups, each of one component."""
    x, truth = mixture(3000, k=4, seed=1)
    plan = cluster.plan_playlists(x)
    check_partition(plan, len(x))
    assert plan.n_groups == 4
    groups = np.zeros(len(x), dtype=np.intp)
    for p, g in zip(plan.playlists, plan.group_of, strict=True):
        groups[p] = g
    assert all(len(np.unique(truth[groups == g])) == 1 for g in range(plan.n_groups))


def test_refine_keeps_the_bounds_and_lowers_the_objective() -> None:
    x = cluster.prepare(mixture(500, k=5, d=8, seed=2)[0])
    labels = np.repeat(np.arange(10), 50)[np.random.default_rng(0).permutation(500)]

    def sse(lab: np.ndarray) -> float:
        return float(sum(((x[lab == j] - x[lab == j].mean(0)) ** 2).sum() for j in range(10)))

    out = cuts.refine(x, labels, 10, 40, 60)
    sizes = np.bincount(out, minlength=10)
    assert sizes.min() >= 40 and sizes.max() <= 60
    assert sse(out) < 0.6 * sse(labels)
    # Groups: tracks move only between playlists of the same group.
    same = np.arange(10) % 2
    out = cuts.refine(x, labels, 10, 40, 60, same=same)
    assert np.array_equal(same[out], same[labels])


def test_rebuild_from_the_previous_plan_keeps_it() -> None:
    x, _ = mixture(1500, k=8, seed=5)
    a = cluster.plan_playlists(x)
    b = cluster.plan_playlists(x, previous=a.playlists)
    assert sorted(sorted(p.tolist()) for p in a.playlists) == sorted(
        sorted(p.tolist()) for p in b.playlists
    )


def test_dedupe_same_artist_and_title() -> None:
    ids = [5, 1, 2, 3, 4, 6]
    artists = ["Kevin MacLeod", "kevin  macleod", "Other", None, "Other", "Other"]
    titles = ["Vibe Ace", "VIBE ACE ", "Song", "Vibe Ace", "Song 2", "song"]
    keys = ["a", "b", "c", "d", "e", "e"]
    keep = tracksets.dedupe(ids, artists, titles, keys)
    kept_ids = sorted(ids[i] for i in keep)
    # 1 and 5 are the same song (1 kept); 2 and 6 too (2 kept), and 6 shares bytes with 4;
    # 3 has no artist so it is not a duplicate of anything.
    assert kept_ids == [1, 2, 3, 4]


# --- order ----------------------------------------------------------------------------------


def test_order_is_smoother_than_random() -> None:
    rng = np.random.default_rng(0)
    for n in (10, 40, 60):
        # Latent means have structure: a few directions matter.
        x = rng.normal(size=(n, 3)) @ rng.normal(size=(3, 16)) + 0.1 * rng.normal(size=(n, 16))
        path = order.order_path(x)
        assert sorted(path.tolist()) == list(range(n))
        ours = order.path_length(x, path)
        randoms = [order.path_length(x, rng.permutation(n)) for _ in range(20)]
        assert ours < 0.75 * min(randoms)
        greedy = order.order_path(x, two_opt=False)
        assert ours <= order.path_length(x, greedy) + 1e-9


def test_plan_orders_each_playlist() -> None:
    x, _ = mixture(300)
    ordered = cluster.plan_playlists(x)
    rng = np.random.default_rng(1)
    for p in ordered.playlists:
        if len(p) >= 10:
            assert order.path_length(x, p) < order.path_length(x, rng.permutation(p))


# --- naming ---------------------------------------------------------------------------------


def tags_for(n: int) -> naming.TrackTags:
    genres: list[str | None] = ["Death Metal"] * 20 + ["Ambient"] * 20 + ["Jazz"] * (n - 40)
    artists: list[str | None] = ["Band A"] * 10 + [f"Solo {i}" for i in range(n - 10)]
    years: list[int | None] = [2003] * 20 + [1975] * 20 + [None] * (n - 40)
    tempo = np.linspace(60, 180, n)
    return naming.TrackTags(genres, artists, years, tempo, None, None)


def test_naming_rule_share_and_contrast() -> None:
    n = 100
    tags = tags_for(n)
    vocab = naming.Vocabulary.build(tags)
    metal = np.arange(0, 20)
    ambient = np.arange(20, 40)
    jazz = np.arange(60, 100)
    names = naming.name_sets([metal, ambient, jazz], vocab)
    assert names[0].startswith("Death Metal") and "2000s" in names[0] and "slow" in names[0]
    assert names[1].startswith("Ambient") and "1970s" in names[1]
    assert "fast" in names[2]
    for rows, name in zip([metal, ambient, jazz], names, strict=True):
        for token in name.split(naming.SEP):
            info = {e["token"]: e for e in naming.explain(vocab, rows)}
            assert token in info, (token, name)
            assert info[token]["share"] >= 0.6
            assert info[token]["share"] > info[token]["library_share"]
    # A bit of everything: no genre is true of 60 % (jazz 55 %); whatever names it passes
    # the rule (with library halves, a descriptor may).
    mixed = np.r_[0:7, 20:27, 45:52, 90:100]
    (mixed_name,) = naming.name_sets([mixed], vocab)
    assert "Jazz" not in mixed_name
    info = {e["token"]: e for e in naming.explain(vocab, mixed)}
    for token in mixed_name.split(naming.SEP):
        if not token.startswith("Mix"):
            assert info[token]["share"] >= 0.6 > info[token]["library_share"] or (
                info[token]["share"] > info[token]["library_share"]
            )
    # A word true of the whole library names nothing while another word qualifies; when
    # none does, it names the set rather than "Mix 1" (a group of the whole library).
    vocab_all = naming.Vocabulary.build(
        naming.TrackTags(["Soundtrack"] * 50, [None] * 50, [None] * 50)
    )
    assert naming.name_sets([np.arange(30)], vocab_all) == ["Soundtrack"]
    with_tempo = naming.Vocabulary.build(
        naming.TrackTags(["Soundtrack"] * 50, [None] * 50, [None] * 50, np.linspace(60, 180, 50))
    )
    assert naming.name_sets([np.arange(30)], with_tempo) == ["slow"]
    nothing = naming.Vocabulary.build(naming.TrackTags([None] * 50, [None] * 50, [None] * 50))
    assert naming.name_sets([np.arange(30)], nothing) == ["Mix 1"]  # nothing known at all


def test_naming_broad_genre_and_unique_names() -> None:
    genres = ["Death Metal"] * 7 + ["Thrash Metal"] * 7 + ["Jazz"] * 26
    vocab = naming.Vocabulary.build(naming.TrackTags(genres, [None] * 40, [None] * 40))
    # Neither metal sub-genre is 60 % of the set, but "Metal" is.
    assert naming.name_sets([np.arange(14)], vocab) == ["Metal"]
    names = naming.name_sets([np.arange(7), np.arange(7), np.arange(14), np.r_[0:3, 20:40]], vocab)
    assert len(set(names)) == 4
    assert names[:2] == ["Death Metal", "Death Metal 2"]
    assert naming.name_sets([np.arange(7)], vocab, reserved=["death metal"]) == ["Death Metal 2"]


def test_names_with_the_same_tokens_in_another_order_are_duplicates() -> None:
    n = 100
    ramp = np.linspace(0.0, 1.0, n)
    tags = naming.TrackTags([None] * n, [None] * n, [None] * n, 60 + 120 * ramp, ramp, None)
    vocab = naming.Vocabulary.build(tags)
    top = np.arange(70, 100)  # fast and bright
    (first,) = naming.name_sets([top], vocab)
    tokens = first.split(naming.SEP)
    assert sorted(tokens) == ["bright", "fast"]
    swapped = naming.SEP.join(reversed(tokens)).upper()
    band = vocab.tempo_band(top)
    assert band == "155–170 BPM"
    (second,) = naming.name_sets([top], vocab, reserved=[swapped])
    # Nothing else qualifies, so the tempo band of the set tells it apart; the longer name
    # keeps the word order of the name it extends (in the vocabulary's case).
    assert second == f"{naming.SEP.join(reversed(tokens))}{naming.SEP}{band}"
    # A number only when that is taken too.
    (third,) = naming.name_sets([top], vocab, reserved=[swapped, second])
    assert third == naming.SEP.join(reversed(tokens)) + " 2"
    # Two sets that propose the same tokens get distinct names, whatever the order, and the
    # longer one reads like the first ("bright · fast · 155–170 BPM", not "fast · bright …").
    names = naming.name_sets([top, np.arange(75, 100)], vocab)
    assert len({naming._key(x) for x in names}) == 2
    assert names[1] == f"{names[0]}{naming.SEP}{vocab.tempo_band(np.arange(75, 100))}"
    # A name with the tokens of a group's name reads like it, and stays free to use.
    (fourth,) = naming.name_sets([top], vocab, wordings=[swapped.lower()])
    assert fourth == naming.SEP.join(reversed(tokens))
    # ... and a longer repeat of it too.
    names = naming.name_sets([top, top], vocab, wordings=[swapped.lower()])
    assert names == [fourth, f"{fourth}{naming.SEP}{band}"]


def test_group_name_is_not_contradicted_by_its_playlists() -> None:
    n = 100
    energy = np.linspace(0.0, 1.0, n)  # rows 50-99 "energetic", 0-49 "calm"
    genres: list[str | None] = ["Folk"] * 30 + ["Synth"] * 70
    tags = naming.TrackTags(genres, [None] * n, [None] * n, None, None, energy)
    vocab = naming.Vocabulary.build(tags)
    group = np.arange(30, 100)  # 71 % energetic, all Synth
    calm_part, loud_part = np.arange(30, 60), np.arange(60, 100)  # 67 % calm / all energetic
    assert naming.name_sets([group], vocab) == ["Synth · energetic"]
    avoid = naming.contradicted(vocab, [calm_part, loud_part])
    assert {vocab.labels[t] for t in avoid} == {"energetic", "calm"}
    (name,) = naming.name_sets([group], vocab, avoid=[avoid])
    assert name == "Synth"
    assert naming.name_sets([calm_part, loud_part], vocab, wordings=[name]) == [
        "Synth · calm",
        "Synth · energetic",
    ]
    # A playlist that keeps its name from an earlier build speaks by its name too.
    kept = naming.contradicted(vocab, [loud_part], ["Synth · CALM 2"])
    assert {vocab.labels[t] for t in kept} == {"energetic", "calm"}
    # When only contradicted words qualify, the group keeps them rather than "Group 1".
    only_energy = naming.Vocabulary.build(
        naming.TrackTags([None] * n, [None] * n, [None] * n, None, None, energy)
    )
    bad = naming.contradicted(only_energy, [calm_part, loud_part])
    assert naming.name_sets([group], only_energy, avoid=[bad], fallback="Group") == ["energetic"]


def test_playlist_names_lead_with_their_groups_words() -> None:
    n = 100
    ramp = np.linspace(0.0, 1.0, n)
    genres: list[str | None] = [None] * 70 + ["Synth"] * 30
    tags = naming.TrackTags(genres, [None] * n, [None] * n, 60 + 120 * ramp, None, ramp)
    vocab = naming.Vocabulary.build(tags)
    top, upper = np.arange(80, 100), np.arange(55, 75)
    assert naming.name_sets([top, upper], vocab) == ["Synth · energetic · fast", "energetic · fast"]
    named = naming.name_sets([top, upper], vocab, parents=["fast", "Group 1 · fast"])
    assert named == ["Synth · fast · energetic", "fast · energetic"]
    # Without a parent nothing moves; a numbered repeat reads like the name it repeats.
    assert naming.name_sets([upper], vocab, parents=[None]) == ["energetic · fast"]
    again = naming.name_sets([upper, upper], vocab, parents=["fast", None])
    band = vocab.tempo_band(upper)
    assert again == ["fast · energetic", f"fast · energetic · {band}"]


# --- matching -------------------------------------------------------------------------------


def test_match_keeps_by_jaccard() -> None:
    old = [set(range(0, 40)), set(range(40, 80)), set(range(80, 100))]
    new = [set(range(45, 85)), set(range(0, 30)), set(range(200, 220))]
    m = tracksets.match(old, new)
    assert m == {0: 1, 1: 0}  # 45-85 vs 40-80: 35/45 ≥ 0.5; 0-30 vs 0-40: 0.75; the new one: none


# --- the catalogue ----------------------------------------------------------------------------


def add_tracks(
    cat: Catalogue,
    vectors: np.ndarray,
    *,
    start: int = 0,
    artist: list[str | None] | None = None,
    title: list[str | None] | None = None,
    genre: list[str | None] | None = None,
    version: str = VERSION,
) -> list[int]:
    now = time.time()
    ids: list[int] = []
    with cat.begin() as conn:
        for i, v in enumerate(vectors):
            k = start + i
            key = f"key{k:06d}"
            tid = conn.execute(
                insert(Track)
                .values(
                    path=f"/music/{k:06d}.flac".encode(),
                    display=f"/music/{k:06d}.flac",
                    size=1000 + k,
                    mtime_ns=k,
                    content_key=key,
                    fmt="flac",
                    duration=100.0 + k % 60,
                    title=title[i] if title else f"Song {k}",
                    artist=artist[i] if artist else f"Artist {k % 97}",
                    genre=genre[i] if genre else None,
                    year=1990 + k % 30,
                    missing=False,
                    added_at=now,
                    updated_at=now,
                )
                .returning(Track.id)
            ).scalar_one()
            ids.append(int(tid))
            conn.execute(
                insert(Analysis).values(
                    content_key=key,
                    features_version=feat.FEATURES_VERSION,
                    features=b"",
                    shape="0x0",
                    tempo=float(80 + 60 * np.tanh(v[0])),
                    brightness=float(v[1]),
                    energy=float(v[2]),
                    weak=False,
                    created_at=now,
                )
            )
            conn.execute(
                insert(Embedding).values(
                    content_key=key,
                    model_version=version,
                    mu=np.asarray(v, np.float32).tobytes(),
                    created_at=now,
                )
            )
    cat.set_meta(ACTIVE_MODEL_KEY, version)
    return ids


def members(cat: Catalogue) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    with cat.read() as conn:
        for pid, tid in conn.execute(
            select(PlaylistItem.playlist_id, PlaylistItem.track_id).order_by(
                PlaylistItem.playlist_id, PlaylistItem.position
            )
        ):
            out.setdefault(int(pid), []).append(int(tid))
    return out


@pytest.mark.both_catalogues
def test_build_list_and_rebuild_is_stable(cat: Catalogue) -> None:
    x, _ = mixture(600, k=5)
    ids = add_tracks(cat, x)
    assert pl.needs_recluster(cat)
    first = pl.build_playlists(cat, method="kmeans")
    assert not pl.needs_recluster(cat)
    seen = [t for p in first for t in p.track_ids]
    assert sorted(seen) == sorted(ids)
    assert all(20 <= p.size <= 60 for p in first)
    assert len({p.name for p in first}) == len(first)
    assert all(p.kind == "auto" and p.model_version == VERSION for p in first)
    assert all(p.examples and p.duration > 0 for p in first)
    assert all(p.group_index is not None and p.group_index < 20 for p in first)
    # Same data: the same playlists (ids and names kept, members all but the same).
    second = pl.build_playlists(cat, method="kmeans")
    assert [(p.id, p.name) for p in first] == [(p.id, p.name) for p in second]
    for p, q in zip(first, second, strict=True):
        a, b = set(p.track_ids), set(q.track_ids)
        assert len(a & b) / len(a | b) >= 0.8
    # Another method still matches most playlists with Jaccard ≥ 0.5 where they agree.
    third = pl.build_playlists(cat, method="agglomerative")
    old = {p.id: set(p.track_ids) for p in second}
    for p in third:
        if p.id in old:
            inter = len(old[p.id] & set(p.track_ids))
            assert inter / len(old[p.id] | set(p.track_ids)) >= 0.5


def test_rebuild_leaves_unchanged_playlists_items_alone(cat: Catalogue) -> None:
    """A rebuild rewrites only the items of the playlists it changes (at a million tracks,
    rewriting all of them took a minute): the unchanged ones keep their very rows."""
    x, _ = mixture(600, k=5)
    add_tracks(cat, x)
    first = pl.build_playlists(cat, method="kmeans")

    def rows() -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        with cat.read() as conn:
            for rowid, pid in conn.exec_driver_sql(
                "SELECT rowid, playlist_id FROM playlist_items ORDER BY playlist_id, position"
            ):
                out.setdefault(int(pid), []).append(int(rowid))
        return out

    before = rows()
    second = pl.build_playlists(cat, method="kmeans")
    after = rows()
    unchanged = [q.id for p, q in zip(first, second, strict=True) if p.track_ids == q.track_ids]
    assert unchanged  # the same data: most come out the same
    assert all(after[pid] == before[pid] for pid in unchanged)
    assert members(cat) == {q.id: q.track_ids for q in second}
    # A changed playlist is rewritten: its tracks reversed by hand, a rebuild puts them back.
    pid = unchanged[0]
    with cat.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE playlist_items SET position = -1 - position WHERE playlist_id = ?", (pid,)
        )
    pl.build_playlists(cat, method="kmeans")
    assert members(cat) == {q.id: q.track_ids for q in second}


def test_duplicates_and_missing_are_left_out(cat: Catalogue) -> None:
    x, _ = mixture(120, k=3)
    artists: list[str | None] = [f"A{i}" for i in range(120)]
    titles: list[str | None] = [f"T{i}" for i in range(120)]
    artists[7], titles[7] = "a3", " t3 "  # the same song as track 3, in other case
    # Tracks 20, 25 and 30 share a sloppy tag ("Album", as each title) but are three
    # pieces of different lengths: not copies.
    for i in (20, 25, 30):
        artists[i], titles[i] = "Band", "Album"
    ids = add_tracks(cat, x, artist=artists, title=titles)
    with cat.begin() as conn:
        conn.execute(update(Track).where(Track.id == ids[10]).values(missing=True))
        conn.execute(update(Track).where(Track.id == ids[7]).values(duration=103.5))
    result = pl.build_playlists(cat)
    seen = {t for p in result for t in p.track_ids}
    assert ids[3] in seen and ids[7] not in seen
    assert ids[10] not in seen
    assert {ids[20], ids[25], ids[30]} <= seen
    assert len(seen) == 118
    assert pl.unplaced_tracks(cat) == []


def test_dedupe_by_length() -> None:
    ids = [1, 2, 3, 4]
    artists = ["A"] * 4
    titles = ["Song"] * 4
    lengths: list[float | None] = [200.0, 201.5, 260.0, None]
    # 2 is 1 in another format; 3 is another piece under the same tag; 4 has no length.
    keep = tracksets.dedupe(ids, artists, titles, None, lengths)
    assert [ids[i] for i in keep] == [1, 3]


@pytest.mark.both_catalogues
def test_rename_and_pin_survive_rebuilds(cat: Catalogue) -> None:
    x, _ = mixture(500, k=4, seed=2)
    add_tracks(cat, x)
    first = pl.build_playlists(cat)
    a, b = first[0], first[1]
    pl.rename_playlist(cat, a.id, "  My   favourites ")
    with pytest.raises(pl.PlaylistError):
        pl.rename_playlist(cat, b.id, "my favourites")
    pl.pin_playlist(cat, b.id, True)
    # New tracks close to the existing ones join the playlists that are not pinned.
    y, _ = mixture(60, k=4, seed=2)
    new = add_tracks(cat, y, start=10_000)
    assert not pl.needs_recluster(cat)  # 60 new of 560: < 25 %
    placed, rebuilt = pl.ensure_playlists(cat)
    assert not rebuilt
    assert {p.id: p.name for p in placed} == {
        p.id: ("My favourites" if p.id == a.id else p.name) for p in first
    }
    assert not set(new) & set(next(p for p in placed if p.id == b.id).track_ids)
    assert pl.unplaced_tracks(cat) == []
    # Clustered again (asked): the renamed playlist's members may change, not its name.
    second = {p.id: p for p in pl.build_playlists(cat)}
    assert second[a.id].name == "My favourites" and second[a.id].renamed
    assert second[b.id].pinned and second[b.id].track_ids == b.track_ids
    assert second[b.id].name == b.name
    pinned = set(b.track_ids)
    for pid, p in second.items():
        if pid != b.id:
            assert not pinned & set(p.track_ids)
    # Unpinned, its tracks are clustered again.
    pl.pin_playlist(cat, b.id, False)
    third = pl.build_playlists(cat)
    assert sum(len(pinned & set(p.track_ids)) for p in third) == len(pinned)
    names = [p.name for p in third]
    assert len(set(names)) == len(names)


def test_needs_recluster_threshold(cat: Catalogue) -> None:
    assert not pl.needs_recluster(cat)  # nothing analysed
    x, _ = mixture(150, k=3)
    add_tracks(cat, x)
    assert pl.needs_recluster(cat)  # never built
    pl.build_playlists(cat)
    assert not pl.needs_recluster(cat)
    y, _ = mixture(60, k=3, seed=5)
    add_tracks(cat, y[:49], start=1000)
    assert not pl.needs_recluster(cat)  # 49 of 199 < 25 %
    lists, rebuilt = pl.ensure_playlists(cat)  # they join their nearest playlists
    assert not rebuilt and sum(p.size for p in lists) == 199
    # Placed or not, they count as new until the next clustering: 50 of 200 is 25 %.
    add_tracks(cat, y[49:50], start=2000)
    assert pl.needs_recluster(cat)
    _lists, rebuilt = pl.ensure_playlists(cat)
    assert rebuilt and not pl.needs_recluster(cat)
    # What counts is when a track got its μ (a track scanned before a build and analysed
    # after it is new); μ made before the last clustering are not new.
    with cat.begin() as conn:
        conn.execute(update(Embedding).values(created_at=0.0))
    assert not pl.needs_recluster(cat)
    # No playlists left (all removed): due again.
    with cat.begin() as conn:
        conn.execute(delete(Playlist))
    assert pl.needs_recluster(cat)


def test_playlists_per_model_version(cat: Catalogue) -> None:
    x, _ = mixture(100, k=2)
    add_tracks(cat, x)
    first = pl.build_playlists(cat)
    add_tracks(cat, x[:0], version="other")  # switch the active version, no new tracks
    with cat.begin() as conn:
        for i, v in enumerate(x):
            conn.execute(
                insert(Embedding).values(
                    content_key=f"key{i:06d}",
                    model_version="other",
                    mu=(-v).tobytes(),
                    created_at=0.0,
                )
            )
    other = pl.build_playlists(cat)
    assert {p.model_version for p in other} == {"other"}
    assert [p.id for p in pl.list_playlists(cat, VERSION)] == [p.id for p in first]


def test_missing_tracks_shown_unavailable(cat: Catalogue) -> None:
    x, _ = mixture(80, k=2)
    ids = add_tracks(cat, x)
    pl.build_playlists(cat)
    with cat.begin() as conn:
        conn.execute(update(Track).where(Track.id == ids[0]).values(missing=True))
    lists = pl.list_playlists(cat)
    assert sum(p.unavailable for p in lists) == 1
    assert sum(p.size for p in lists) == 80


@pytest.mark.both_catalogues
def test_user_playlists_are_not_touched(cat: Catalogue) -> None:
    x, _ = mixture(80, k=2)
    ids = add_tracks(cat, x)
    with cat.begin() as conn:
        pid = conn.execute(
            insert(Playlist)
            .values(
                name="Mine",
                kind="user",
                pinned=False,
                renamed=False,
                created_at=0.0,
                updated_at=0.0,
            )
            .returning(Playlist.id)
        ).scalar_one()
        conn.execute(insert(PlaylistItem).values(playlist_id=pid, position=0, track_id=ids[0]))
    pl.build_playlists(cat)
    pl.build_playlists(cat, method="dbscan")
    assert members(cat)[int(pid)] == [ids[0]]
    with pytest.raises(pl.PlaylistError):
        pl.pin_playlist(cat, int(pid))
    assert any(p.kind == "user" for p in pl.list_playlists(cat, include_user=True))


def test_build_without_analysis(cat: Catalogue) -> None:
    with pytest.raises(pl.PlaylistError, match="analy"):
        pl.build_playlists(cat)


# --- the command --------------------------------------------------------------------------------


def test_cli_playlists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from musicorg.cli import main

    db = tmp_path / "cli.sqlite"
    with Catalogue(db) as c:
        x, _ = mixture(150, k=3)
        add_tracks(c, x, genre=["Jazz"] * 50 + ["Rock"] * 100)
    assert main(["playlists", "--db", str(db), "--json", "-q"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data and {"group", "name", "size", "duration", "examples", "id"} <= set(data[0])
    assert sum(p["size"] for p in data) == 150
    assert main(["playlists", "--db", str(db), "--rebuild", "--method", "dbscan", "-q"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\d+ tracks", out)


# --- real audio ---------------------------------------------------------------------------------


def test_real_audio_playlists(music: Path, tmp_path: Path) -> None:
    """Scan and analyse the test files, then build playlists (needs the bundled model)."""
    from musicorg.model.bundle import ModelIntegrityError, load_model

    try:
        load_model(device="cpu")
    except ModelIntegrityError as exc:
        pytest.skip(f"no usable bundled model: {exc}")
    from musicorg.app import pipeline
    from musicorg.ingest import scanner

    with Catalogue(tmp_path / "real.sqlite") as c:
        scanner.scan(c, [str(music)])
        pipeline.analyse(c, device="cpu", workers=1)
        lists = pl.build_playlists(c)
        seen = [t for p in lists for t in p.track_ids]
        assert len(seen) == len(set(seen)) >= 1
        # The same song in eight formats collapses to one entry.
        with c.read() as conn:
            titles = {
                int(t): (a, ti)
                for t, a, ti in conn.execute(select(Track.id, Track.artist, Track.title))
            }
        songs = [tracksets.song_key(*titles[t]) for t in seen]
        known = [s for s in songs if s is not None]
        assert len(known) == len(set(known))
