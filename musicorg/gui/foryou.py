"""For you: the sidebar's "For you" entry shows tracks like the ones played most and lately
(:func:`musicorg.app.actions.for_you`), computed in the background each time it is opened or
refreshed. The list's bar says which plays it started from (all of them when hovered); the
Why column says which of them each track is like. With no plays yet it says so plainly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from musicorg.app import actions
from musicorg.gui.tasks import Job

if TYPE_CHECKING:
    from musicorg.gui.details import DetailsDock
    from musicorg.gui.host import Host
    from musicorg.gui.mappanel import MapPanel

TITLE = "For you"
FOR_YOU_N = 30
#: Seeds named in the bar (the rest are counted, and listed in its tooltip).
NAMED_SEEDS = 3


def seed_name(seed: Any) -> str:
    """ "Artist – Title"; without tags, as the table reads an untagged file: its file name and
    folder."""
    if seed.artist:
        return f"{seed.artist} – {seed.title or Path(seed.path).stem}"
    path = Path(seed.path)
    return f"{seed.title or path.stem} ({path.parent.name})" if path.parent.name else path.stem


def seed_line(seeds: list[Any], named: int = NAMED_SEEDS) -> str:
    """ "from your plays of A, B, C and 7 more"."""
    names = [seed_name(s) for s in seeds]
    if not names:
        return ""
    shown = ", ".join(names[:named])
    more = len(names) - named
    return f"from your plays of {shown}" + (f" and {more} more" if more > 0 else "")


def seed_list(seeds: list[Any]) -> str:
    """Every seed with its plays, one a line (the bar's tooltip)."""
    lines = [
        f"{seed_name(s)}: {s.play_count} play{'s' if s.play_count != 1 else ''}" for s in seeds
    ]
    return "Made from the tracks you played most and lately:\n" + "\n".join(lines)


class ForYou(QObject):
    """Computes and shows the "For you" list."""

    #: a list was shown (the ForYouResult, or the one-line reason there is none)
    shown = Signal(object)

    def __init__(self, host: Host, dock: DetailsDock, map_panel: MapPanel) -> None:
        super().__init__()
        self.host, self.dock, self.map_panel = host, dock, map_panel

    def refresh(self, n: int = FOR_YOU_N) -> Job | None:
        """Compute the list from the plays as they are now, in the background."""
        cat = self.host.cat
        if cat is None:
            return None
        return self.dock.ask_space(
            "foryou",
            lambda space: actions.for_you(cat, n, space),
            lambda found, _space: self._landed(found),
        )

    def _landed(self, found: actions.ForYouResult | str) -> None:
        library = self.host.library
        if isinstance(found, str):
            note = found[0].upper() + found[1:] if found else ""
            library.show_results(TITLE, [], note=note, refresh=self.refresh)
            self.shown.emit(found)
            return
        snap = self.host.data.snap
        like = {s.track_id: seed_name(s) for s in found.seeds}
        picks = [p.track_id for p in found.tracks]
        library.show_results(
            TITLE,
            picks,
            why={p.track_id: f"like {like.get(p.like, 'your plays')}" for p in found.tracks},
            note=seed_line(found.seeds),
            note_tip=seed_list(found.seeds),
            refresh=self.refresh,
        )
        self.map_panel.set_preview(
            snap.rows_of(np.asarray([s.track_id for s in found.seeds], dtype=np.int64)),
            np.zeros(0, dtype=np.int64),
            snap.rows_of(np.asarray(picks, dtype=np.int64)),
        )
        self.shown.emit(found)
