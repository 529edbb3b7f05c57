"""Lyrics sidecars are read only when they are regular files inside the music folders, and
small (issue 17, item 2): a symlinked ``song.txt`` must not copy a secret into the catalogue."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from musicorg.ingest import lyrics, scanner
from musicorg.store.db import Catalogue, Lyrics, Track
from tests.conftest import DATA

SECRET = 'genius_token = "s3cr3t-token"\n'


def _lyrics(cat: Catalogue) -> dict[str, tuple[str, str]]:
    with cat.read() as conn:
        rows = conn.execute(
            select(Track.display, Lyrics.text, Lyrics.source).join(
                Lyrics, Lyrics.track_id == Track.id
            )
        ).all()
    return {os.path.basename(d): (t, s) for d, t, s in rows}


@pytest.fixture
def song(tmp_path: Path) -> Path:
    """One FLAC without tag lyrics, alone in a music folder ``lib``."""
    dest = tmp_path / "lib" / "a" / "song.flac"
    dest.parent.mkdir(parents=True)
    shutil.copy2(DATA / "muldjord_chaos_god.flac", dest)
    return dest


def test_symlink_to_a_file_outside_the_roots_is_not_read(
    cat: Catalogue, song: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = tmp_path / "secret.toml"
    secret.write_text(SECRET, encoding="utf-8")
    song.with_suffix(".txt").symlink_to(secret)
    scanner.scan(cat, [tmp_path / "lib"])
    assert _lyrics(cat) == {}
    assert "resolves outside the music folders" in caplog.text
    assert lyrics.refresh_sidecars(cat) == 0  # the `musicorg lyrics` path: the same rule
    assert _lyrics(cat) == {}


def test_symlink_to_a_file_inside_the_root_is_read(
    cat: Catalogue, song: Path, tmp_path: Path
) -> None:
    words = tmp_path / "lib" / "b" / "words.txt"
    words.parent.mkdir()
    words.write_text("Chaos reigns\nabove the ruins\n", encoding="utf-8")
    song.with_suffix(".txt").symlink_to(words)
    scanner.scan(cat, [tmp_path / "lib"])
    assert _lyrics(cat) == {"song.flac": ("Chaos reigns\nabove the ruins", "sidecar-txt")}


def test_symlinked_root_still_reads_its_own_sidecars(
    cat: Catalogue, song: Path, tmp_path: Path
) -> None:
    song.with_suffix(".lrc").write_text("[00:01.00]Chaos reigns\n", encoding="utf-8")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "lib")
    scanner.scan(cat, [link])
    assert _lyrics(cat) == {"song.flac": ("Chaos reigns", "sidecar-lrc")}


def test_a_300_kb_sidecar_is_not_read(
    cat: Catalogue, song: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    song.with_suffix(".txt").write_text("la la la\n" * (300 * 1024 // 9), encoding="utf-8")
    scanner.scan(cat, [tmp_path / "lib"])
    assert _lyrics(cat) == {}
    assert "larger than" in caplog.text


def test_a_sidecar_of_256_kb_is_read(cat: Catalogue, song: Path, tmp_path: Path) -> None:
    text = "x" * (lyrics.SIDECAR_MAX_BYTES - 1) + "\n"
    song.with_suffix(".txt").write_text(text, encoding="utf-8")
    scanner.scan(cat, [tmp_path / "lib"])
    assert _lyrics(cat)["song.flac"][1] == "sidecar-txt"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_and_device_sidecars_are_skipped_without_blocking(
    cat: Catalogue, song: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    os.mkfifo(song.with_suffix(".lrc"))  # opening it would block the scan for good
    song.with_suffix(".txt").symlink_to("/dev/zero")
    scanner.scan(cat, [tmp_path / "lib"])
    assert _lyrics(cat) == {}
    assert caplog.text.count("not a regular file") == 2


def test_read_sidecar_needs_the_roots(song: Path, tmp_path: Path) -> None:
    song.with_suffix(".txt").write_text("words\n", encoding="utf-8")
    assert lyrics.read_sidecar(song, roots=[tmp_path / "lib"]) == ("words", "sidecar-txt")
    assert lyrics.read_sidecar(song, roots=[tmp_path / "elsewhere"]) is None
    assert lyrics.read_sidecar(song, roots=[]) is None
