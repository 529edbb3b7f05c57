"""The sidebar's playlist tree with tens of thousands of playlists (a million-track library):
only the groups' rows are built up front, a group's playlists when it is opened; a few
hundred playlists show as before, every group open."""

from __future__ import annotations

from typing import Any

from musicorg.app.actions import PlaylistEntry
from musicorg.gui.widgets import LAZY_FROM, PlaylistTree
from musicorg.keys import AUTO, USER


def entries(n: int, groups: int) -> list[PlaylistEntry]:
    """N automatic playlists in GROUPS groups, then two of the user's."""
    out = [
        PlaylistEntry(i + 1, f"List {i + 1}", AUTO, f"Group {i % groups + 1}", False, [i, i + 1])
        for i in range(n)
    ]
    out += [PlaylistEntry(n + 1 + j, f"Mine {j}", USER, None, False, [j]) for j in range(2)]
    return out


def test_twenty_thousand_playlists_build_only_the_group_rows(qtbot: Any) -> None:
    tree = PlaylistTree()
    qtbot.addWidget(tree)
    tree.set_playlists(entries(20_000, 20))
    groups = tree.items("group")
    assert len(groups) == 20
    assert not any(g.isExpanded() for g in groups)  # closed, each with its indicator
    assert tree.items(AUTO) == []
    assert len(tree.items()) < 40  # library, for you, 2 headers, 20 groups, 2 user lists
    assert [it.data(0, tree.ROLE) for it in tree.items(USER)] == [(USER, 20_001), (USER, 20_002)]
    assert groups[0].toolTip(0) == "Group 1: 1,000 playlists"

    groups[2].setExpanded(True)  # opened by the user: its thousand rows are made
    rows = tree.items(AUTO)
    assert len(rows) == 1000
    assert all(it.parent() is groups[2] for it in rows)
    assert rows[0].text(0) == "List 3  (2)"


def test_selecting_a_playlist_in_a_closed_group_opens_it(qtbot: Any) -> None:
    tree = PlaylistTree()
    qtbot.addWidget(tree)
    infos = entries(20_000, 20)
    tree.set_summaries({7: "Folk 80 % · 2 tracks, 5 min"})
    tree.set_playlists(infos)
    assert tree.select_key((AUTO, 7))  # in Group 7
    assert tree.current_key() == (AUTO, 7)
    item = tree.currentItem()
    assert item is not None and item.toolTip(0) == "Folk 80 % · 2 tracks, 5 min"
    group = item.parent()
    assert group is not None and group.isExpanded()
    # A new read with one playlist more: the tree is made again, the open group stays open
    # and the selection stays.
    infos.append(PlaylistEntry(30_000, "New", AUTO, "Group 1", False, [1]))
    tree.set_playlists(infos)
    assert tree.current_key() == (AUTO, 7)
    opened = [g.text(0) for g in tree.items("group") if g.isExpanded()]
    assert opened == ["Group 7"]


def test_a_few_playlists_show_every_group_open(qtbot: Any) -> None:
    tree = PlaylistTree()
    qtbot.addWidget(tree)
    tree.set_playlists(entries(LAZY_FROM - 10, 4))
    assert all(g.isExpanded() for g in tree.items("group"))
    assert len(tree.items(AUTO)) == LAZY_FROM - 10
