"""The large-library paths (mini-batch blocks, the nearest-neighbour index), at small scale:
the thresholds are lowered so that a few thousand tracks take them."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from musicorg.organise import annindex, cluster, cuts, tracksets
from musicorg.organise.similar import load_space, nearest
from musicorg.organise.songpath import song_path
from musicorg.store.analyses import save_embeddings
from musicorg.store.db import Catalogue
from tests.latent_fixtures import VERSION, add_tracks, new_catalogue

pytest.importorskip("faiss")


def styles(n: int, d: int = 16, k: int = 12, seed: int = 0) -> np.ndarray:
    """``n`` vectors in ``k`` Gaussian styles of uneven spread."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, (k, d))
    style = rng.integers(0, k, n)
    return (
        centres[style] + rng.normal(0.0, 1.0, (n, d)) * rng.uniform(0.5, 1.2, k)[style, None]
    ).astype(np.float32)


@pytest.fixture
def big(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few thousand tracks count as a big library."""
    monkeypatch.setattr(annindex, "INDEX_FROM", 1000)


def library(tmp_path: Path, n: int = 3000) -> tuple[Catalogue, list[int]]:
    cat = new_catalogue(tmp_path)
    return cat, add_tracks(cat, styles(n))


def test_blocks_give_every_track_one_playlist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "LARGE_FROM", 2000)
    monkeypatch.setattr(cuts, "LEAF_BRANCH", 16)  # several blocks of 16 playlists
    x = styles(4000)
    plan = cluster.plan_playlists(x, playlist_min=20, playlist_max=60)
    assert "blocks" in plan.seconds  # the mini-batch path ran
    rows = np.concatenate(plan.playlists)
    assert len(rows) == len(x) and len(np.unique(rows)) == len(x)
    sizes = [len(p) for p in plan.playlists]
    assert min(sizes) >= plan.min_size and max(sizes) <= plan.max_size
    assert 2 <= plan.n_groups <= cluster.MAX_GROUPS


def test_index_finds_what_exact_search_finds(tmp_path: Path, big: None) -> None:
    cat, ids = library(tmp_path)
    space = load_space(cat)
    assert space.near_index() is not None
    rng = np.random.default_rng(3)
    recall = []
    for seed in rng.choice(ids, 30, replace=False):
        fast = {t.track_id for t in nearest(space, [int(seed)], 25).tracks}
        exact = {t.track_id for t in nearest(space, [int(seed)], 25, exact=True).tracks}
        recall.append(len(fast & exact) / len(exact))
    assert np.mean(recall) >= 0.95


def test_path_through_the_index_keeps_its_guarantees(tmp_path: Path, big: None) -> None:
    cat, ids = library(tmp_path)
    space = load_space(cat)
    assert space.near_index() is not None
    res = song_path(cat, ids[0], ids[1], 12, space=space)
    got = [s.track_id for s in res.tracks]
    assert got[0] == ids[0] and got[-1] == ids[1] and len(got) == len(set(got)) > 2
    to_b = [s.to_b for s in res.tracks]
    assert all(a >= b for a, b in itertools.pairwise(to_b))
    assert all(s.to_segment <= res.radius + 1e-9 for s in res.tracks[1:-1])


def test_new_track_is_found_without_a_rebuild(
    tmp_path: Path, big: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat, ids = library(tmp_path)
    load_space(cat).near_index()  # built and saved
    assert annindex.index_path(VERSION).exists()

    def no_rebuild(*args: object) -> None:
        raise AssertionError("the index was built again")

    monkeypatch.setattr(annindex, "_build", no_rebuild)
    space = load_space(cat)
    near_first = space.mu[0] + np.float32(1e-3)
    (new,) = add_tracks(
        cat, near_first[None, :], folder="/new", artists=["Newcomer"], titles=["New song"]
    )
    space = load_space(cat)
    index = space.near_index()
    assert index is not None and new in set(index.ids.tolist())
    got = [t.track_id for t in nearest(space, [ids[0]], 5).tracks]
    assert got[0] == new
    # ... and saved with it.
    saved = annindex._load(annindex._faiss(), VERSION, index.path, space.mu.shape[1])
    assert saved is not None and new in set(saved.ids.tolist())


def test_index_is_keyed_by_model_version(tmp_path: Path, big: None) -> None:
    cat, ids = library(tmp_path)
    other = "other-model-2.0"
    keys = [f"key{i:06d}-/music" for i in range(len(ids))]  # add_tracks' content keys
    save_embeddings(cat, other, keys, styles(len(ids), seed=1))
    assert annindex.index_path(VERSION) != annindex.index_path(other)
    first = load_space(cat).near_index()
    second = load_space(cat, other).near_index()
    assert first is not None and second is not None
    assert first.path == annindex.index_path(VERSION) and VERSION in first.path.name
    assert second.path == annindex.index_path(other) and other in second.path.name
    # A file of one version is never read as another's.
    first.path.replace(second.path)
    assert annindex._load(annindex._faiss(), other, second.path, 16) is None


def test_small_library_or_no_faiss_searches_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat, ids = library(tmp_path, 1500)
    assert load_space(cat).near_index() is None  # below INDEX_FROM
    monkeypatch.setattr(annindex, "INDEX_FROM", 1000)
    monkeypatch.setattr(annindex, "_faiss", lambda: None)
    space = load_space(cat)
    assert space.near_index() is None
    assert nearest(space, [ids[0]], 10) == nearest(space, [ids[0]], 10, exact=True)


def _partition(ids: np.ndarray, sizes: list[int]) -> list[set[int]]:
    bounds = np.cumsum([0, *sizes])
    return [set(ids[a:b].tolist()) for a, b in itertools.pairwise(bounds)]


def test_big_match_solves_only_the_pairs_at_its_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two partitions of 3,000 tracks into 100 playlists, the second a shuffle of part of the
    first: matched part by part past MATCH_DENSE_CELLS, the result is the whole matrix's."""
    rng = np.random.default_rng(3)
    ids = rng.permutation(3000) + 1
    sizes = [30] * 100
    old = _partition(ids, sizes)
    moved = ids.copy()
    swap = rng.choice(3000, 900, replace=False)  # 30 % of tracks change places
    moved[swap] = moved[rng.permutation(swap)]
    new = _partition(moved, sizes)
    new[5] = new[5] | {99_999}  # a track the old build did not have
    dense = tracksets.match(old, new)
    monkeypatch.setattr(tracksets, "MATCH_DENSE_CELLS", 100)
    assert tracksets.match(old, new) == dense
    assert 50 <= len(dense) < 100  # some kept, some below the threshold
    sim = tracksets.jaccard_matrix(old, new)
    assert all(sim[i, j] >= tracksets.MATCH_MIN for j, i in dense.items())


def test_jaccard_of_overlapping_new_sets() -> None:
    """New sets that share tracks (not a partition) are counted one by one."""
    old = [{1, 2, 3, 4}, {5, 6}]
    new = [{1, 2, 5}, {2, 3, 4, 5, 6}]
    assert np.allclose(tracksets.jaccard_matrix(old, new), [[2 / 5, 3 / 6], [1 / 4, 2 / 5]])


def test_refine_of_many_playlists_looks_for_neighbours_locally(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past NEAR_LOCAL_FROM playlists, refine's first pass searches neighbour centres in
    buckets, its later passes among the neighbours' neighbours: the cut it ends with is as
    good as the exact search's, and the sizes hold."""
    x = styles(6000, k=40)
    # A K-Means cut of 150 playlists, as refine gets one (only the largest are too long).
    start = cuts.nearest(x, cuts.kmeans(x, 150, seed=1))
    start = np.unique(start, return_inverse=True)[1].astype(np.intp)
    k = int(start.max()) + 1

    def cost(labels: np.ndarray) -> float:
        cent = np.stack([x[labels == j].mean(0) for j in range(k)])
        return float(((x - cent[labels]) ** 2).sum())

    calls: list[int] = []
    real = cuts._nearer_centres

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    top = int(np.bincount(start).max())
    exact = cuts.refine(x, start, k, 1, top)
    monkeypatch.setattr(cuts, "NEAR_LOCAL_FROM", 100)
    monkeypatch.setattr(cuts, "_nearer_centres", counted)
    local = cuts.refine(x, start, k, 1, top)
    assert calls  # the local search ran (after a first pass through buckets of centres)
    assert np.bincount(local, minlength=k).max() <= top
    assert cost(local) < cost(start) * 0.99
    assert cost(local) <= cost(exact) * 1.002
