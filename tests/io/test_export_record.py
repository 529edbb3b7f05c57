"""Export says what it will write, counts in plain words, and after a rename removes the file it
wrote under the old name, never a file of the user's (#19, item 5). The CLI does the same."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from musicorg.cli import main
from musicorg.io import exported, m3u
from musicorg.store import userlists
from musicorg.store.db import Catalogue
from tests.latent_fixtures import add_tracks


@pytest.fixture
def lists(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """A catalogue of 12 tracks with three user playlists; its path and the playlists' ids."""
    path = tmp_path / "cat.sqlite"
    cat = Catalogue(path)
    ids = add_tracks(cat, np.zeros((12, 8), np.float32))
    made = {
        "Evening": userlists.create(cat, "Evening", ids[:3]),
        "Morning": userlists.create(cat, "Morning", ids[3:6]),
        "Noon": userlists.create(cat, "Noon", ids[6:8]),
    }
    cat.close()
    return path, made


def test_summary_counts_in_plain_words() -> None:
    one = m3u.ExportReport(files=[("A", Path("A.m3u8"), 3)])
    assert one.summary() == "Wrote 1 playlist."
    six = m3u.ExportReport(files=[("A", Path("A.m3u8"), 3)] * 6, skipped=[("A", "x")])
    assert six.summary() == "Wrote 6 playlists; skipped 1 missing track."


def test_plan_says_what_is_new_and_what_is_replaced(lists, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, made = lists
    out = tmp_path / "out"
    out.mkdir()
    (out / "Morning.m3u8").write_text("my own list\n", "utf-8")
    cat = Catalogue(path)
    plan = m3u.plan_export(cat, out, ids=[made["Evening"], made["Morning"]])
    assert [(f.path.name, f.replaces, f.ours) for f in plan.files] == [
        ("Evening.m3u8", False, False),
        ("Morning.m3u8", True, False),
    ]
    assert not list(out.glob("Evening*"))  # a plan writes nothing
    m3u.export_playlists(cat, out, ids=[made["Evening"]])
    again = m3u.plan_export(cat, out, ids=[made["Evening"]])
    assert [(f.replaces, f.ours) for f in again.files] == [(True, True)]
    with pytest.raises(m3u.PlaylistNotFound):
        m3u.plan_export(cat, out, ids=[999])
    cat.close()


def test_a_rename_removes_only_the_old_file_musicorg_wrote(lists, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, made = lists
    out = tmp_path / "out"
    cat = Catalogue(path)
    first = m3u.export_playlists(cat, out)
    assert first.summary() == "Wrote 3 playlists."
    (out / "Notes.m3u8").write_text("the user's own file\n", "utf-8")
    edited = "#EXTM3U\n# edited by hand\n"
    (out / "Morning.m3u8").write_text(edited, "utf-8")  # no longer what musicorg wrote
    userlists.rename(cat, made["Evening"], "Late evening")
    userlists.rename(cat, made["Morning"], "Dawn")
    plan = m3u.plan_export(cat, out)
    assert [(s.path.name, s.old_name, s.name) for s in plan.removes] == [
        ("Evening.m3u8", "Evening", "Late evening")
    ]
    report = m3u.export_playlists(cat, out)
    assert [p.name for p in report.removed] == ["Evening.m3u8"]
    assert report.summary() == "Wrote 3 playlists; removed 1 old file of renamed playlists."
    assert sorted(p.name for p in out.iterdir()) == [
        "Dawn.m3u8",
        "Late evening.m3u8",
        "Morning.m3u8",
        "Noon.m3u8",
        "Notes.m3u8",
    ]
    assert (out / "Morning.m3u8").read_text("utf-8") == edited
    # The record names only what is there and musicorg's.
    assert sorted(exported.load(cat, out)) == [
        "Dawn.m3u8",
        "Late evening.m3u8",
        "Morning.m3u8",
        "Noon.m3u8",
    ]
    cat.close()


def test_the_cli_export_removes_a_renamed_playlists_old_file(  # type: ignore[no-untyped-def]
    lists, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, made = lists
    out = tmp_path / "out"
    assert main(["--db", str(path), "export", str(out), "--playlist", "Noon"]) == 0
    assert "Wrote 1 playlist." in capsys.readouterr().out
    cat = Catalogue(path)
    userlists.rename(cat, made["Noon"], "Midday")
    cat.close()
    assert main(["--db", str(path), "export", str(out), "--playlist", "Midday"]) == 0
    text = capsys.readouterr().out
    assert "removed" in text and "Noon.m3u8" in text
    assert sorted(p.name for p in out.iterdir()) == ["Midday.m3u8"]


def test_exports_at_once_into_one_folder_each_keep_their_record(lists, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two exports running together (the window runs each in its own thread) both land in the
    record, so both renamed playlists' old files go later."""
    path, made = lists
    out = tmp_path / "out"
    cat = Catalogue(path)
    names = ["Evening", "Morning", "Noon"]
    threads = [
        threading.Thread(target=m3u.export_playlists, args=(cat, out), kwargs={"names": [n]})
        for n in names
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(exported.load(cat, out)) == [f"{n}.m3u8" for n in names]
    for n in names:
        userlists.rename(cat, made[n], n + " again")
    report = m3u.export_playlists(cat, out)
    assert sorted(p.name for p in report.removed) == [f"{n}.m3u8" for n in names]
    cat.close()
