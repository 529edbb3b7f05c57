"""What the window's explaining job builds over the whole library, a slice at a time (it runs
in a worker thread, and one numpy or scipy call over a million tracks held the GIL, and
stalled the window, for tens to thousands of milliseconds): the same results as one call,
whatever the size of the slices, here made tiny."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from musicorg.organise import naming, tracksets, vocabulary


def by_scipy(rows: list[np.ndarray], n: int) -> sparse.csr_matrix:
    """The incidence matrix as scipy builds it from (row, column) pairs."""
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.intp)
    c = np.repeat(np.arange(len(rows)), [len(x) for x in rows])
    return sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(n, len(rows)))


def same(a: sparse.csr_matrix, b: sparse.csr_matrix) -> bool:
    a.sum_duplicates()  # scipy's own, in canonical form (b claims to be)
    return (
        a.shape == b.shape
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
        and a.data.dtype == b.data.dtype
    )


@pytest.mark.parametrize("slice_", [1, 3, 1000])
def test_the_incidence_matrix_placed_in_slices_is_scipys(
    slice_: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(naming, "_SLICE", slice_)
    rng = np.random.default_rng(slice_)
    n = 50
    rows = [np.sort(rng.choice(n, int(rng.integers(1, 40)), replace=False)) for _ in range(30)]
    rows.append(np.arange(n, dtype=np.intp))  # a token of every track
    matrix, counts = naming._incidence(rows, n)
    assert matrix.has_canonical_format and matrix.nnz == sum(len(r) for r in rows)
    assert same(by_scipy(rows, n), matrix)
    assert counts.tolist() == [float(len(r)) for r in rows]
    assert np.array_equal(counts, np.asarray(matrix.sum(axis=0)).ravel())
    # Tracks out of order, or twice for a token: scipy's conversion, duplicates summed.
    odd = [*rows, np.array([7, 3, 3], dtype=np.intp)]
    matrix, counts = naming._incidence(odd, n)
    assert same(by_scipy(odd, n), matrix) and matrix[3, len(odd) - 1] == 2.0
    assert counts[-1] == 3.0
    empty, none = naming._incidence([], n)
    assert empty.shape == (n, 0) and len(none) == 0


def test_vocabulary_rows_made_arrays_in_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    values = list(range(0, 30, 2))
    whole = vocabulary.int_array(values)
    monkeypatch.setattr(vocabulary, "_SLICE", 4)
    sliced = vocabulary.int_array(values)
    assert sliced.dtype == whole.dtype == np.intp
    assert sliced.tolist() == whole.tolist() == values


def test_copies_collapse_alike_in_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """One row per song and per content key, the lowest track id of each."""
    ids = [9, 3, 5, 1, 7, 2, 8, 4, 6]
    artists = ["A", "A", "B", "A", None, "B", "C", "c", "A"]
    titles = ["x", "x", "y", "x", "z", "y", "w", "W", "v"]
    keys = ["k1", "k2", "k3", "k4", "k5", "k3", "k6", "k7", "k9"]
    durations = [100.0, 100.5, 200.0, 150.0, None, 200.0, 50.0, 50.5, 60.0]
    whole = tracksets.dedupe(ids, artists, titles, keys, durations)
    monkeypatch.setattr(tracksets, "_SLICE", 2)
    sliced = tracksets.dedupe(ids, artists, titles, keys, durations)
    assert sliced.dtype == whole.dtype == np.intp
    assert sliced.tolist() == whole.tolist()
    # Rows 0 and 1 (ids 9 and 3, 100 and 100.5 s) are one recording: id 3 stays; rows 2 and
    # 5 share a content key: id 2 stays; row 3 (id 1, 150 s) is another recording of A – x;
    # rows 6 and 7 (C – w and c – W) are one: id 4 stays.
    assert sliced.tolist() == [1, 3, 4, 5, 7, 8]
