"""Loading a library past ``RANK_AHEAD`` tracks (lowered here to 50 over a real catalogue):
every column of the table comes ranked from the loading job, so the first sort by any column
does no sorting of the whole library on the UI thread; a smaller library ranks none ahead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musicorg.gui import librarydata
from musicorg.gui.snapshot import COLUMNS
from tests.gui.test_gui import synthetic_library


def test_a_big_library_comes_with_every_column_ranked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat, _ids = synthetic_library(tmp_path / "lib.sqlite", 60)
    small = librarydata.load_library(cat)
    assert not small.snap._ranks  # below the threshold: ranked when first sorted by
    monkeypatch.setattr(librarydata, "RANK_AHEAD", 50, raising=False)
    big = librarydata.load_library(cat)
    assert set(big.snap._ranks) == {key for key, _header in COLUMNS}
    # The ranks are those a sort would make: the artists in natural order.
    order = np.argsort(big.snap._ranks["artist"])
    artists = big.snap.cols["artist"][order].tolist()
    assert artists == sorted(artists, key=str.casefold)
    cat.close()
