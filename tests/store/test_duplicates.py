"""Duplicates: the same audio under other names, found by the content key of real files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from musicorg.ingest import scanner
from musicorg.store import duplicates, library
from musicorg.store.db import Catalogue
from tests.conftest import audio_files

pytestmark = pytest.mark.both_catalogues


def ids_by_path(cat: Catalogue) -> dict[str, int]:
    return {r.path: r.id for r in library.tracks(cat)}


def test_copies_under_other_names_share_their_audio(cat: Catalogue, music: Path) -> None:
    originals = [music / "a" / audio_files()[1].name, music / "b" / audio_files()[2].name]
    elsewhere = music / "elsewhere"
    elsewhere.mkdir()
    copies = [elsewhere / f"copy {i}{p.suffix}" for i, p in enumerate(originals)]
    third = elsewhere / f"another copy{originals[0].suffix}"
    for src, dest in [*zip(originals, copies, strict=True), (originals[0], third)]:
        shutil.copy2(src, dest)
    scanner.scan(cat, [music])
    ids = ids_by_path(cat)

    groups = duplicates.same_audio(cat)
    assert sorted(sorted(g) for g in groups) == sorted(
        [
            sorted([ids[str(originals[0])], ids[str(copies[0])], ids[str(third)]]),
            sorted([ids[str(originals[1])], ids[str(copies[1])]]),
        ]
    )
    assert all(g == sorted(g) for g in groups)
    assert [g[0] for g in groups] == sorted(g[0] for g in groups)

    # A copy deleted (marked missing by the next scan) is no longer a duplicate.
    copies[1].unlink()
    scanner.scan(cat, [music])
    assert sorted(sorted(g) for g in duplicates.same_audio(cat)) == [
        sorted([ids[str(originals[0])], ids[str(copies[0])], ids[str(third)]])
    ]


def test_a_library_without_copies_has_no_duplicates(cat: Catalogue, music: Path) -> None:
    scanner.scan(cat, [music])
    assert duplicates.same_audio(cat) == []
