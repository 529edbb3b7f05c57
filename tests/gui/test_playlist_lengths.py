"""New playlist lengths in the settings fit the playlists to them (split and merge), keeping
names and memberships; only a new clustering method clusters again (issue 19, item 2)."""

from __future__ import annotations

from pathlib import Path

from musicorg import settings as settings_mod
from tests.gui.test_gui import open_synthetic, settled


def _autos(w):  # type: ignore[no-untyped-def]
    return {p.id: p.name for p in w.data.playlists if p.kind == "auto"}


def _members(w):  # type: ignore[no-untyped-def]
    return {p.id: set(p.track_ids) for p in w.data.playlists if p.kind == "auto"}


def test_shorter_lengths_split_without_renaming(qtbot, window, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings_mod.update(playlist_min=5, playlist_max=40)
    window.settings = settings_mod.load()
    open_synthetic(qtbot, window, tmp_path, 90)
    with qtbot.waitSignal(window.pipeline_finished, timeout=120000):
        window.pipeline.run(["rebuild"])
    qtbot.waitUntil(lambda: bool(_autos(window)), timeout=20000)
    before, members = _autos(window), _members(window)
    dialog = window.open_settings()
    dialog.pl_min.setValue(5)
    dialog.pl_max.setValue(10)
    with (
        qtbot.waitSignal(window.pipeline_finished, timeout=120000) as blocker,
        settled(qtbot, window),
    ):
        dialog.accept()
    assert blocker.args == ["ok"]
    qtbot.waitUntil(lambda: len(_autos(window)) > len(before), timeout=20000)
    after = _autos(window)
    # Every playlist that was there is still there under its name; pieces were added.
    assert all(after.get(pid) == name for pid, name in before.items()), (before, after)
    # Split, not clustered again: what stayed in a playlist was in it before.
    assert all(tracks <= members[pid] for pid, tracks in _members(window).items() if pid in before)
    assert all(len(p.track_ids) <= 10 for p in window.data.playlists if p.kind == "auto")
