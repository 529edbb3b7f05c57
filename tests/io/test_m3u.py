"""M3U8 export and M3U/M3U8 import: format details, file names, every import quirk, round trip."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import unicodedata
from pathlib import Path

import m3u8  # a reader we did not write
import numpy as np
import pytest
from sqlalchemy import insert, select, update

from musicorg.ingest.scanner import scan
from musicorg.io import m3u
from musicorg.store import userlists
from musicorg.store.db import Catalogue, PlaylistItem, Track
from tests import pg
from tests.conftest import audio_files
from tests.latent_fixtures import insert_track

WINDOWS_FORBIDDEN = set('<>:"/\\|?*') | {chr(c) for c in range(32)}


def add_paths(cat: Catalogue, paths: list[bytes], **tags: object) -> list[int]:
    now = time.time()
    with cat.begin() as conn:
        return [
            insert_track(
                conn,
                p,
                p.decode("utf-8", "backslashreplace"),
                f"k{i}-{p!r}",
                now,
                size=i,
                duration=tags.get("duration", 61.4 + i),
                artist=tags.get("artist", f"Artist {i}"),
                title=tags.get("title", f"Title {i}"),
            )
            for i, p in enumerate(paths)
        ]


# --- file names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Road trip", "Road trip"),
        ("CON", "CON_"),
        ("nul.txt", "nul_.txt"),
        ("com1", "com1_"),
        ("LPT9 ", "LPT9_"),
        ("Console", "Console"),
        ('a/b\\c:d*e?f"g<h>i|j', "a_b_c_d_e_f_g_h_i_j"),
        ("tab\there", "tab_here"),
        ("trailing dots...", "trailing dots"),
        ("  .hidden. ", "hidden"),
        ("...", "playlist"),
        ("", "playlist"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert m3u.safe_filename(name) == expected


def test_safe_filename_length_and_normal_form() -> None:
    long = "é" * 300 + "."
    safe = m3u.safe_filename(long)
    assert len(safe.encode("utf-8")) <= m3u.MAX_NAME_BYTES and safe == "é" * 100
    assert m3u.safe_filename(unicodedata.normalize("NFD", "Café")) == "Café"
    for name in m3u.unique_filenames([long] * 3):
        assert len(name.encode("utf-8")) <= 255 and len(name.encode("utf-16-le")) // 2 <= 255


def test_unique_filenames_are_deterministic_and_distinct() -> None:
    names = ["Mix", "mix", "MIX", "Mix (2)", "Café", unicodedata.normalize("NFD", "Café"), "CON"]
    out = m3u.unique_filenames(names)
    assert out == [
        "Mix.m3u8",
        "mix (2).m3u8",
        "MIX (3).m3u8",
        "Mix (2) (2).m3u8",
        "Café.m3u8",
        "Café (2).m3u8",
        "CON_.m3u8",
    ]
    assert len({n.casefold() for n in out}) == len(out)
    assert m3u.unique_filenames(names) == out


# --- export -----------------------------------------------------------------------------------


@pytest.fixture
def export_setup(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[Catalogue, Path, list[int]]:
    cat = pg.new_catalogue(backend, request, tmp_path)
    out = tmp_path / "lists"
    inside = os.fsencode(out)
    paths = [
        inside + b"/Artist/Song one.flac",  # under the playlist folder: relative
        b"/elsewhere/m\xc3\xbasica/two.flac",  # outside: absolute
        inside + b"/gone.flac",  # missing: skipped
        b"/elsewhere/caf\xe9.flac",  # not UTF-8: file:// URI
        inside + b"/#1 hit.flac",  # would read as a comment
        b"/elsewhere/back\\slash.flac",  # a backslash in a POSIX name
    ]
    ids = add_paths(cat, paths)
    with cat.begin() as conn:
        conn.execute(update(Track).where(Track.id == ids[2]).values(missing=True))
        conn.execute(update(Track).where(Track.id == ids[1]).values(title=None, duration=None))
    return cat, out, ids


@pytest.mark.both_catalogues
def test_export_format(
    export_setup: tuple[Catalogue, Path, list[int]], caplog: pytest.LogCaptureFixture
) -> None:
    cat, out, ids = export_setup
    userlists.create(cat, "Mix: best/of", ids)
    with caplog.at_level(logging.WARNING):
        report = m3u.export_playlists(cat, out)
    assert [(n, p.name, k) for n, p, k in report.files] == [
        ("Mix: best/of", "Mix_ best_of.m3u8", 5)
    ]
    assert report.skipped == [("Mix: best/of", os.fsdecode(out) + "/gone.flac")]
    assert "gone.flac" in caplog.text
    data = (out / "Mix_ best_of.m3u8").read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf") and b"\r" not in data
    assert data.decode("utf-8").splitlines() == [
        "#EXTM3U",
        "#PLAYLIST:Mix: best/of",
        "#EXTINF:61,Artist 0 - Title 0",
        "Artist/Song one.flac",
        "#EXTINF:-1,Artist 1 - two",
        "/elsewhere/música/two.flac",
        "#EXTINF:64,Artist 3 - Title 3",
        "file:///elsewhere/caf%E9.flac",
        "#EXTINF:65,Artist 4 - Title 4",
        "./#1 hit.flac",
        "#EXTINF:66,Artist 5 - Title 5",
        "file:///elsewhere/back%5Cslash.flac",
    ]
    assert sorted(p.name for p in out.iterdir()) == ["Mix_ best_of.m3u8"]  # no temp files left

    # A reader we did not write sees the same entries.
    parsed = m3u8.loads(data.decode("utf-8"))
    assert [s.uri for s in parsed.segments] == [
        "Artist/Song one.flac",
        "/elsewhere/música/two.flac",
        "file:///elsewhere/caf%E9.flac",
        "./#1 hit.flac",
        "file:///elsewhere/back%5Cslash.flac",
    ]
    assert [s.duration for s in parsed.segments] == [61, -1, 64, 65, 66]
    assert parsed.segments[0].title == "Artist 0 - Title 0"


@pytest.mark.both_catalogues
def test_export_absolute_all_kinds_no_overwrite(
    export_setup: tuple[Catalogue, Path, list[int]],
) -> None:
    cat, out, ids = export_setup
    a = userlists.create(cat, "Same", [ids[0]])
    with cat.begin() as conn:
        pid = userlists.insert_playlist(conn, "same", "auto")
        conn.execute(insert(PlaylistItem).values(playlist_id=pid, position=0, track_id=ids[4]))
    userlists.create(cat, "CON", [ids[1]])
    report = m3u.export_playlists(cat, out, absolute=True)
    files = {p.name: n for n, p, _k in report.files}
    assert files == {"Same.m3u8": "Same", "same (2).m3u8": "same", "CON_.m3u8": "CON"}
    first = (out / "Same.m3u8").read_text("utf-8").splitlines()
    assert first[-1] == os.fsdecode(out) + "/Artist/Song one.flac"
    second = m3u8.loads((out / "same (2).m3u8").read_text("utf-8"))
    assert [s.uri for s in second.segments] == [os.fsdecode(out) + "/#1 hit.flac"]
    # Exporting one playlist gives it the same file name as exporting them all.
    (out / "same (2).m3u8").unlink()
    only = m3u.export_playlists(cat, out, names=["same"])
    assert [p.name for _n, p, _k in only.files] == ["same (2).m3u8"]
    with pytest.raises(m3u.PlaylistNotFound):
        m3u.export_playlists(cat, out, names=["nope"])
    assert a


# --- import -----------------------------------------------------------------------------------


@pytest.fixture
def library(tmp_path: Path) -> tuple[Catalogue, list[int], Path]:
    cat = Catalogue(tmp_path / "cat.sqlite")
    root = tmp_path / "lib"
    r = os.fsencode(root)
    paths = [
        r + b"/a/one.flac",
        r + "/a/café.flac".encode(),  # NFC on disk
        r + unicodedata.normalize("NFD", "/a/naïve.flac").encode(),  # NFD on disk
        r + b"/b/latin\xe9.flac",  # a Latin-1 name on disk
        r + b"/b/two words.flac",
    ]
    return cat, add_paths(cat, paths), root


def _import(cat: Catalogue, file: Path, data: bytes) -> m3u.ImportReport:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(data)
    return m3u.import_playlist(cat, file)


def _tracks(cat: Catalogue, report: m3u.ImportReport) -> list[int]:
    return [i.track_id for i in userlists.items(cat, report.playlist_id)]


def test_import_bom_crlf_relative_and_absolute(library: tuple[Catalogue, list[int], Path]) -> None:
    cat, ids, root = library
    text = f"#EXTM3U\r\n#PLAYLIST:Mine\r\n#EXTINF:1,x\r\na/one.flac\r\n{root}/b/two words.flac\r\n"
    report = _import(cat, root / "list.m3u8", b"\xef\xbb\xbf" + text.encode())
    assert report.name == "Mine" and report.unmatched == []
    assert _tracks(cat, report) == [ids[0], ids[4]]


def test_import_latin1_m3u(library: tuple[Catalogue, list[int], Path]) -> None:
    cat, ids, root = library
    # cp1252 text: é names a UTF-8 file here, and the raw byte names the Latin-1 file.
    data = "a/café.flac\nb/latiné.flac\n".encode("cp1252")
    report = _import(cat, root / "old.m3u", data)
    assert _tracks(cat, report) == [ids[1], ids[3]] and report.name == "old"


def test_import_backslashes_and_file_uris(library: tuple[Catalogue, list[int], Path]) -> None:
    cat, ids, root = library
    lines = [
        "a\\one.flac",
        "..\\lib\\b\\two words.flac",
        f"file://{root}/b/two%20words.flac",
        f"file://localhost{root}/b/latin%E9.flac",
        f"file://{root}/a/caf%C3%A9.flac",
        "http://example.org/stream.mp3",
        "a/not-there.flac",
    ]
    report = _import(cat, root / "sub" / ".." / "uris.m3u8", "\n".join(lines).encode())
    assert _tracks(cat, report) == [ids[0], ids[4], ids[4], ids[3], ids[1]]
    assert [(e.line, e.text) for e in report.unmatched] == [
        (6, "http://example.org/stream.mp3"),
        (7, "a/not-there.flac"),
    ]


def test_import_nfc_and_nfd(library: tuple[Catalogue, list[int], Path]) -> None:
    cat, ids, root = library
    nfd = unicodedata.normalize("NFD", "a/café.flac")
    nfc = unicodedata.normalize("NFC", "a/naïve.flac")
    report = _import(cat, root / "n.m3u8", f"{nfd}\n{nfc}\n".encode())
    assert _tracks(cat, report) == [ids[1], ids[2]]


def test_import_keeps_order_repeats_and_names(library: tuple[Catalogue, list[int], Path]) -> None:
    cat, ids, root = library
    data = b"b/two words.flac\na/one.flac\nb/two words.flac\n"
    first = _import(cat, root / "r.m3u8", data)
    assert _tracks(cat, first) == [ids[4], ids[0], ids[4]]
    second = m3u.import_playlist(cat, root / "r.m3u8")
    assert second.name == "r (2)"
    named = m3u.import_playlist(cat, root / "r.m3u8", name="Chosen")
    assert named.name == "Chosen"


# --- round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize("absolute", [False, True])
def test_round_trip_with_real_files(music: Path, tmp_path: Path, absolute: bool) -> None:
    odd = os.fsencode(music) + b"/b/caf\xe9 \xff.flac"  # a name that is not UTF-8
    shutil.copy(audio_files()[0], odd)
    cat = Catalogue(tmp_path / "cat.sqlite")
    scan(cat, [music])
    with cat.read() as conn:
        tracks = {bytes(p): int(t) for p, t in conn.execute(select(Track.path, Track.id))}
    order = [tracks[p] for p in sorted(tracks)]
    rng = np.random.default_rng(0)
    lists = {
        "Everything": order,
        "Shuffled: 1/2": [int(t) for t in rng.permutation(order)],
        "Repeats": [order[0], order[1], order[0]],
    }
    for name, items in lists.items():
        userlists.create(cat, name, items)
    out = music / "playlists" if not absolute else tmp_path / "elsewhere"
    report = m3u.export_playlists(cat, out, absolute=absolute)
    assert len(report.files) == 3
    text = (out / "Everything.m3u8").read_text("utf-8")
    assert "file://" in text and "%E9%20%FF.flac" in text
    for info in userlists.playlists(cat, "user"):
        userlists.delete_playlist(cat, info.id)
    for _name, file, _n in report.files:
        got = m3u.import_playlist(cat, file)
        assert got.unmatched == []
        assert [i.track_id for i in userlists.items(cat, got.playlist_id)] == lists[got.name]
    assert sorted(p.name for p in userlists.playlists(cat, "user")) == sorted(lists)


# --- hostile files to import (issue 17, item 8) -------------------------------------------------


def _cli_import(db: Path, file: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``musicorg import FILE`` in a thread that must finish within 20 s: a FIFO or /dev/zero
    must be refused at once, not read (or waited on) without end."""
    from musicorg.cli import main

    result: list[int] = []
    worker = threading.Thread(
        target=lambda: result.append(main(["import", "--db", str(db), str(file)])), daemon=True
    )
    started = time.monotonic()
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "import did not return"
    assert time.monotonic() - started < 20
    out, err = capsys.readouterr()
    return result[0], out, err


def _refused(code: int, out: str, err: str, why: str) -> None:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("musicorg import: ") and why in lines[0]
    assert "Traceback" not in err + out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_import_refuses_a_fifo_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "pipe.m3u"
    os.mkfifo(fifo)  # no writer: opening it for reading would block for good
    _refused(*_cli_import(tmp_path / "c.sqlite", fifo, capsys), "not a regular file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_import_refuses_dev_zero_and_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zero = tmp_path / "z.m3u"
    zero.symlink_to("/dev/zero")  # read to the end, it would fill the memory
    _refused(*_cli_import(tmp_path / "c.sqlite", zero, capsys), "not a regular file")
    folder = tmp_path / "folder.m3u8"
    folder.mkdir()
    _refused(*_cli_import(tmp_path / "c.sqlite", folder, capsys), "not a regular file")


def test_import_refuses_a_file_over_10_mb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.m3u8"
    with big.open("wb") as fh:
        fh.truncate(11 * 1024 * 1024)
    _refused(*_cli_import(tmp_path / "c.sqlite", big, capsys), "larger than 10 MB")
    with pytest.raises(m3u.PlaylistRefused):
        m3u.import_playlist(Catalogue(tmp_path / "d.sqlite"), big)


def test_import_refuses_a_binary_file_and_lists_few_unmatched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A catalogue (or any binary file) given by mistake is refused, not echoed line by line;
    a text file of many unknown entries lists 20 of them and counts the rest."""
    db = tmp_path / "c.sqlite"
    Catalogue(db).close()
    _refused(*_cli_import(tmp_path / "d.sqlite", db, capsys), "binary data, not a playlist")
    many = tmp_path / "many.m3u8"
    many.write_text("".join(f"/nowhere/{i}.mp3\n" for i in range(500)), encoding="utf-8")
    code, out, err = _cli_import(tmp_path / "d.sqlite", many, capsys)
    assert code == 0 and out.count("not found (line") == 20 and "and 480 more" in out, out
    utf16 = tmp_path / "utf16.m3u"
    utf16.write_bytes("#EXTM3U\n/nowhere/a.mp3\n".encode("utf-16"))  # NULs, but text
    code, out, err = _cli_import(tmp_path / "d.sqlite", utf16, capsys)
    assert code == 0 and "not found (line 2)" in out, out + err


def test_import_skips_a_100_kb_line_and_keeps_the_good_ones(
    library: tuple[Catalogue, list[int], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cat, ids, root = library
    long_line = "\x1b]0;pwned\x07" + "a/" * (50 * 1024) + "one.flac"  # about 100 KB
    data = f"#EXTM3U\na/one.flac\n{long_line}\nb/two words.flac\n".encode()
    report = _import(cat, root / "long.m3u8", data)
    assert _tracks(cat, report) == [ids[0], ids[4]]
    assert [(e.line, e.candidates) for e in report.unmatched] == [(3, [])]
    assert len(report.unmatched[0].text) < 100 and "\x1b" not in report.unmatched[0].text
    # The command reports it as unmatched without echoing it.
    code, out, err = _cli_import(root.parent / "other.sqlite", root / "long.m3u8", capsys)
    assert code == 0 and "not found (line 3): (a line over 64 KB)" in out
    assert "pwned" not in out + err and len(out) < 1000
