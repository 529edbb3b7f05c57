"""The incremental scanner on real files and a real SQLite catalogue."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TIT2
from mutagen.mp4 import MP4
from mutagen.oggvorbis import OggVorbis
from sqlalchemy import select
from sqlalchemy.orm import Session

from musicorg.ingest import scanner
from musicorg.store import library
from musicorg.store.db import Catalogue, Lyrics, Track

# Each test runs on a SQLite file and on a PostgreSQL database (tests/pg.py).
pytestmark = pytest.mark.both_catalogues

EXPECTED_FORMATS = {
    ".mp3": "mp3",
    ".flac": "flac",
    ".ogg": "ogg",
    ".opus": "ogg",
    ".m4a": "mp4",
    ".wav": "wav",
    ".aiff": "aiff",
    ".wma": "asf",
}


def _ids(cat: Catalogue) -> dict[str, int]:
    with cat.read() as conn:
        return {os.path.basename(d): i for i, d in conn.execute(select(Track.id, Track.display))}


def _track(cat: Catalogue, name: str) -> Track:
    return next(r for r in _all(cat) if os.path.basename(r.display) == name)


def test_every_format_with_tags(cat: Catalogue, music: Path) -> None:
    report = scanner.scan(cat, [music])
    assert not report.problems
    names = {os.path.basename(p) for p in report.added}
    assert {os.path.splitext(n)[1] for n in names} == set(EXPECTED_FORMATS)
    for row in library.tracks(cat):
        ext = os.path.splitext(row.path)[1]
        assert row.fmt == EXPECTED_FORMATS[ext], row.path
        assert row.duration == pytest.approx(8.0, abs=0.2)
        assert row.sample_rate and row.channels
        if ext == ".wav":
            continue  # the fixture's WAV has no tags
        assert row.title and row.artist and row.album and row.genre and row.year, row
    vibe = _track(cat, "kevin_macleod_vibe_ace.m4a")
    assert (vibe.title, vibe.artist, vibe.album, vibe.genre, vibe.year) == (
        "Vibe Ace",
        "Kevin MacLeod",
        "Jazz Sampler",
        "Jazz",
        2011,
    )
    assert _track(cat, "kevin_macleod_vibe_ace.wma").tracknumber == 3


def test_rescan_reports_nothing_and_opens_nothing(
    cat: Catalogue, music: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = scanner.scan(cat, [music])
    assert len(first.added) == len(list(music.rglob("*.*")))

    def no_reads(*_a: object, **_k: object) -> None:
        raise AssertionError("an unchanged file was read")

    monkeypatch.setattr(scanner, "_read_file", no_reads)
    second = scanner.scan(cat, [music])
    assert not second.changed
    assert second.unchanged == len(first.added)


def test_rename_and_move_keep_identity(cat: Catalogue, music: Path) -> None:
    scanner.scan(cat, [music])
    before = _ids(cat)
    src = music / "a" / "muldjord_chaos_god.flac"
    if not src.exists():
        src = music / "b" / "muldjord_chaos_god.flac"
    (music / "c" / "deeper").mkdir(parents=True)
    dest = music / "c" / "deeper" / "renamed chaos.flac"
    src.rename(dest)
    report = scanner.scan(cat, [music])
    assert len(report.moved) == 1 and not report.added and not report.missing
    assert report.moved[0][1].endswith("renamed chaos.flac")
    assert _ids(cat)["renamed chaos.flac"] == before["muldjord_chaos_god.flac"]


def test_retag_keeps_identity_and_content_key(cat: Catalogue, music: Path) -> None:
    scanner.scan(cat, [music])
    before = {n: (_track(cat, n).id, _track(cat, n).content_key) for n in _ids(cat)}
    files = {p.name: p for p in music.rglob("*") if p.is_file()}

    mp3 = ID3(files["kevin_macleod_vibe_ace.mp3"])
    mp3.add(TIT2(encoding=3, text="Vibe Ace (retagged, with a much longer title to grow the tag)"))
    mp3.save()
    flac = FLAC(files["muldjord_chaos_god.flac"])
    flac["title"] = "Chaos God " + "x" * 5000  # outgrows the padding: the audio moves
    flac.save()
    ogg = OggVorbis(files["westlund_legends_of_the_north.ogg"])
    ogg["comment"] = "y" * 70000  # more pages: later pages get renumbered
    ogg.save()
    m4a = MP4(files["kevin_macleod_vibe_ace.m4a"])
    m4a["\xa9nam"] = "Vibe Ace in M4A " + "z" * 3000
    m4a.save()

    report = scanner.scan(cat, [music])
    assert len(report.updated) == 4 and not report.added and not report.moved
    for name in (
        "kevin_macleod_vibe_ace.mp3",
        "muldjord_chaos_god.flac",
        "westlund_legends_of_the_north.ogg",
        "kevin_macleod_vibe_ace.m4a",
    ):
        t = _track(cat, name)
        assert (t.id, t.content_key) == before[name], name
    assert _track(cat, "kevin_macleod_vibe_ace.mp3").title.startswith("Vibe Ace (retagged")


def test_byte_equal_duplicates_are_separate_tracks_with_one_key(
    cat: Catalogue, music: Path
) -> None:
    src = next(music.rglob("kevin_macleod_vibe_ace.ogg"))
    shutil.copy2(src, music / "copy of vibe.ogg")
    scanner.scan(cat, [music])
    a, b = _track(cat, "kevin_macleod_vibe_ace.ogg"), _track(cat, "copy of vibe.ogg")
    assert a.id != b.id and a.content_key == b.content_key
    # Different files never share a key.
    keys = [t.content_key for t in _all(cat) if t.id not in (a.id, b.id)]
    assert len(set(keys)) == len(keys)


def _all(cat: Catalogue) -> list[Track]:
    with Session(cat.engine, expire_on_commit=False) as session:
        return list(session.scalars(select(Track)).all())


def test_deleted_folder_marks_missing_and_restores(
    cat: Catalogue, music: Path, tmp_path: Path
) -> None:
    scanner.scan(cat, [music])
    ids = _ids(cat)
    stash = tmp_path / "stash"
    shutil.move(music / "a", stash)
    report = scanner.scan(cat, [music])
    gone = {os.path.basename(p) for p in report.missing}
    assert gone == {p.name for p in stash.iterdir()}
    assert len(_all(cat)) == len(ids), "missing tracks are never deleted"
    shutil.move(stash, music / "a")
    report = scanner.scan(cat, [music])
    assert {os.path.basename(p) for p in report.restored} == gone
    assert _ids(cat) == ids
    assert not any(t.missing for t in _all(cat))


def test_vanished_root_keeps_everything(cat: Catalogue, music: Path, tmp_path: Path) -> None:
    scanner.scan(cat, [music])
    n = len(_all(cat))
    unmounted = tmp_path / "unmounted"
    music.rename(unmounted)
    report = scanner.scan(cat, [music])
    assert report.vanished_roots and len(report.missing) == n
    assert all(t.missing for t in _all(cat)) and len(_all(cat)) == n
    unmounted.rename(music)
    report = scanner.scan(cat, [music])
    assert len(report.restored) == n and not any(t.missing for t in _all(cat))


def test_broken_files_become_problems_and_scan_goes_on(cat: Catalogue, music: Path) -> None:
    (music / "empty.mp3").write_bytes(b"")
    (music / "noise.flac").write_bytes(os.urandom(5000))
    (music / "notes.ogg").write_text("this is a text file, not an ogg\n")
    flac = next(music.rglob("muldjord_chaos_god.flac")).read_bytes()
    (music / "cut.flac").write_bytes(flac[:60])
    report = scanner.scan(cat, [music])
    kinds = {os.path.basename(p): k for p, k, _m in report.problems}
    assert kinds["empty.mp3"] == "empty"
    assert kinds["noise.flac"] == "not audio"
    assert kinds["notes.ogg"] == "not audio"
    assert kinds["cut.flac"] in ("truncated", "unreadable")
    assert len(report.added) == len(list((music / "a").iterdir())) + len(
        list((music / "b").iterdir())
    )
    assert {p.kind for p in library.problems(cat)} >= {"empty", "not audio"}
    # Broken and unchanged: not retried. Fixed: retried and the problem goes.
    again = scanner.scan(cat, [music])
    assert not again.problems
    (music / "noise.flac").write_bytes(next(music.rglob("muldjord_chaos_god.flac")).read_bytes())
    fixed = scanner.scan(cat, [music])
    assert [os.path.basename(p) for p in fixed.added] == ["noise.flac"]
    assert "noise.flac" not in {os.path.basename(p.path) for p in library.problems(cat)}


def test_wrong_extension_uses_real_format(cat: Catalogue, music: Path) -> None:
    shutil.copy2(next(music.rglob("muldjord_chaos_god.flac")), music / "really a flac.mp3")
    scanner.scan(cat, [music])
    t = _track(cat, "really a flac.mp3")
    assert t.fmt == "flac" and t.title == "Chaos God"


def test_non_utf8_names_survive(cat: Catalogue, music: Path) -> None:
    raw = os.fsencode(music) + b"/caf\xe9 \xff.ogg"
    shutil.copy2(next(music.rglob("westlund_legends_of_the_north.ogg")), raw)
    report = scanner.scan(cat, [music])
    assert not report.problems
    with cat.read() as conn:
        paths = [r[0] for r in conn.execute(select(Track.path))]
    assert raw in paths
    row = next(r for r in library.tracks(cat) if "caf" in r.path)
    assert row.title == "Legends of the North"
    row.path.encode("utf-8")  # the display string is printable
    assert not scanner.scan(cat, [music]).changed


def test_symlink_loop_scanned_once(cat: Catalogue, music: Path) -> None:
    os.symlink(music, music / "a" / "loop")
    os.symlink(music / "b", music / "b" / "self")
    report = scanner.scan(cat, [music])
    assert len(report.added) == len(
        [p for p in music.rglob("*") if p.is_file() and not p.is_symlink()]
    )


def test_lyrics_from_tags_and_sidecars(cat: Catalogue, music: Path) -> None:
    ogg = next(music.rglob("westlund_legends_of_the_north.ogg"))
    v = OggVorbis(ogg)
    v["lyrics"] = "Over the northern hills\nthe old songs ring"
    v.save()
    mp3 = next(music.rglob("parapraxis_digital_pursuit.mp3"))
    mp3.with_suffix(".lrc").write_text(
        "[ar:Parapraxis]\n[00:01.00]Running through the wire\n"
        "[00:04.50]<00:04.50>faster than light\n",
        encoding="utf-8",
    )
    flac = next(music.rglob("muldjord_chaos_god.flac"))
    flac.with_suffix(".txt").write_bytes("\ufeffChaos reigns\r\nabove the ruins\r\n".encode())
    scanner.scan(cat, [music])
    with cat.read() as conn:
        rows = {
            os.path.basename(d): (t, s)
            for d, t, s in conn.execute(
                select(Track.display, Lyrics.text, Lyrics.source).join(
                    Lyrics, Lyrics.track_id == Track.id
                )
            )
        }
    assert rows["westlund_legends_of_the_north.ogg"] == (
        "Over the northern hills\nthe old songs ring",
        "vorbis",
    )
    assert rows["parapraxis_digital_pursuit.mp3"] == (
        "Running through the wire\nfaster than light",
        "sidecar-lrc",
    )
    assert rows["muldjord_chaos_god.flac"] == ("Chaos reigns\nabove the ruins", "sidecar-txt")


def test_music_folder_is_never_written(cat: Catalogue, music: Path) -> None:
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in music.rglob("*")}
    os.chmod(music, 0o555)
    try:
        scanner.scan(cat, [music])
        scanner.scan(cat, [music])
    finally:
        os.chmod(music, 0o755)
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in music.rglob("*")}
    assert before == after


def test_cancel_leaves_a_consistent_catalogue(cat: Catalogue, music: Path) -> None:
    from musicorg.jobs import Cancelled, CancelToken

    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        scanner.scan(cat, [music], cancel=token)
    assert cat.integrity_ok()
    report = scanner.scan(cat, [music])
    assert len(report.added) == len([p for p in music.rglob("*") if p.is_file()])


def test_folder_removed_mid_scan(cat: Catalogue, music: Path, tmp_path: Path) -> None:
    scanner.scan(cat, [music])
    for p in music.rglob("*"):
        if p.is_file():
            os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))
    in_b = {p.name for p in (music / "b").iterdir()}
    unplugged = {"done": False}

    def progress(_done: int, _total: int, _text: str) -> None:
        if not unplugged["done"] and _total:
            shutil.move(music / "b", tmp_path / "elsewhere")
            unplugged["done"] = True

    report = scanner.scan(cat, [music], progress=progress)
    assert unplugged["done"]
    assert {os.path.basename(p) for p in report.missing} == in_b
    assert not report.problems
    missing = {os.path.basename(t.display) for t in _all(cat) if t.missing}
    assert missing == in_b and len(_all(cat)) == len(in_b) + len(list((music / "a").iterdir()))


def _paths(cat: Catalogue) -> list[bytes]:
    with cat.read() as conn:
        return [r[0] for r in conn.execute(select(Track.path))]


@pytest.mark.parametrize("inner_first", [True, False], ids=["sub-folder-first", "parent-first"])
def test_nested_roots_catalogue_each_file_once(
    cat: Catalogue, music: Path, inner_first: bool
) -> None:
    """Issue 17.1: a folder scanned on its own and as part of its parent, in either order."""
    from musicorg.app import pipeline

    inner = music / "a"
    on_disk = sorted(os.fsencode(p) for p in music.rglob("*") if p.is_file())
    in_inner = [p for p in on_disk if p.startswith(os.fsencode(inner) + b"/")]
    order = [inner, music] if inner_first else [music, inner]
    first = pipeline.scan(cat, [order[0]])
    second = pipeline.scan(cat, [order[1]])
    assert len(first.added) == len(in_inner if inner_first else on_disk)
    assert len(second.added) == (len(on_disk) - len(in_inner) if inner_first else 0)
    for report in (first, second):
        assert not (report.missing or report.moved or report.updated or report.problems)
    assert sorted(_paths(cat)) == on_disk, "every file exactly once"
    assert not any(t.missing for t in _all(cat))
    ids = _ids(cat)
    for root, n in ((music, len(on_disk)), (inner, len(in_inner))):
        again = pipeline.scan(cat, [root])
        assert not again.changed and again.unchanged == n, root
    both = pipeline.scan(cat, [inner, music])
    assert not both.changed and both.unchanged == len(on_disk)
    assert _ids(cat) == ids and not any(t.missing for t in _all(cat))


def test_nested_root_tracks_go_missing_and_come_back(
    cat: Catalogue, music: Path, tmp_path: Path
) -> None:
    """A file catalogued under a sub-folder root that is deleted is missing when its parent is
    scanned, and one catalogued under the parent is missing when the sub-folder is scanned."""
    scanner.scan(cat, [music / "a"])
    scanner.scan(cat, [music])
    gone_a = next(p for p in (music / "a").iterdir() if p.is_file())
    gone_b = next(p for p in (music / "b").iterdir() if p.is_file())
    stash = tmp_path / "stash"
    stash.mkdir()
    shutil.move(gone_a, stash / gone_a.name)
    report = scanner.scan(cat, [music])
    assert [os.path.basename(p) for p in report.missing] == [gone_a.name]
    shutil.move(stash / gone_a.name, gone_a)
    report = scanner.scan(cat, [music])
    assert [os.path.basename(p) for p in report.restored] == [gone_a.name]
    # the other way round: a track catalogued under the parent, scanned as the sub-folder
    scanner.scan(cat, [music / "b"])
    shutil.move(gone_b, stash / gone_b.name)
    report = scanner.scan(cat, [music / "b"])
    assert [os.path.basename(p) for p in report.missing] == [gone_b.name]
    assert sum(t.missing for t in _all(cat)) == 1
