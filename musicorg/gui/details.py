"""The Details dock: the selected track's tags, lyrics and nearest tracks; and what starts
from a selection: "More like this", "Path to…", the mix (+/−) and opening it in an external
player. With no track selected it shows what :attr:`DetailsDock.when_empty` gives (the
selected playlist's explanation)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from html import escape
from pathlib import Path
from typing import TypeVar

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from musicorg.app import actions
from musicorg.gui import trackpicker
from musicorg.gui.host import Host, HostedDock
from musicorg.gui.tasks import Job
from musicorg.gui.widgets import DetailsPane
from musicorg.model import autotags
from musicorg.store import library
from musicorg.store.db import Catalogue

log = logging.getLogger(__name__)

R = TypeVar("R")

#: The nearest tracks listed for one selected track.
NEIGHBOURS = 10


def track_html(
    details: library.TrackDetails | None, length: str, copies: Sequence[str] = ()
) -> str:
    """A track's fields, heard tags and lyrics as the pane shows them; ``copies`` are the
    other files of the same audio."""
    if details is None:
        return "<p>This track is no longer in the catalogue.</p>"
    t = details.track
    fields = [
        ("Title", t.title),
        ("Artist", t.artist),
        ("Album", t.album),
        ("Album artist", t.albumartist),
        ("Genre", t.genre),
        # The tags heard in the audio (nothing before the analysis gives them); a line breaks
        # between tags, never inside one ("instrumental 0.41").
        ("Sounds like", autotags.describe(t.tags, unbreakable=True) if t.tags else None),
        ("Year", t.year),
        ("Track", t.tracknumber),
        ("Length", length),
        ("Format", f"{t.fmt}{' / ' + t.codec if t.codec else ''}"),
        ("Sample rate", f"{t.sample_rate} Hz" if t.sample_rate else None),
        ("Bit rate", f"{details.bitrate // 1000} kbit/s" if details.bitrate else None),
        ("File", t.path),
        ("Status", "missing (its folder or file is not there)" if t.missing else None),
        ("Same audio as", "\n".join(copies) if copies else None),
    ]
    rows = "".join(
        f"<tr><td><b>{k}</b></td><td>{escape(str(v)).replace(chr(10), '<br>')}</td></tr>"
        for k, v in fields
        if v not in (None, "")
    )
    html = f"<table cellspacing='3'>{rows}</table>"
    if details.lyrics is None:
        return html + "<p><i>No lyrics.</i></p>"
    return html + (
        f"<h4>Lyrics <small>(source: {escape(str(details.lyrics_source))})</small></h4>"
        f"<p>{escape(details.lyrics).replace(chr(10), '<br>')}</p>"
    )


class DetailsDock(HostedDock):
    #: the pane lists the nearest tracks of this track
    neighbours_shown = Signal(int)

    def __init__(self, host: Host, parent: QWidget | None = None) -> None:
        self.pane = DetailsPane()
        super().__init__("Details", "details", host, self.pane, parent)
        self.pane.more_like_this.connect(lambda: self.more_like_this())
        self.pane.path_to.connect(lambda: self.path_to())
        self.pane.neighbour_activated.connect(host.reveal)
        self.space: actions.Space | None = None  # the active model's, once loaded
        self._neighbours_for = 0
        self._shown: tuple[int, ...] = ()
        #: With no track selected: a title and HTML to show instead (None: nothing).
        self.when_empty: Callable[[], tuple[str, str] | None] | None = None

    def forget_space(self) -> None:
        """The active model changed (or the library): the latent space and the nearest
        tracks shown are out of date."""
        self.space = None
        self._shown = ()

    # -- the selection -------------------------------------------------------------------------

    def show_rows(self, rows: np.ndarray) -> None:
        """Show these selected snapshot rows."""
        snap = self.host.library.snap
        shown = (*(int(t) for t in snap.ids[rows[:50]]), len(rows))
        if shown == self._shown and len(rows):
            return  # the same tracks as before a reload: nothing to redo
        self._shown = shown
        pane = self.pane
        if len(rows) != 1:
            self._neighbours_for = 0
            pane.set_neighbours([])
        if not len(rows):
            note = self.when_empty() if self.when_empty is not None else None
            pane.title.setText(note[0] if note else "No track selected")
            if note:
                pane.text.setHtml(note[1])
            else:
                pane.text.clear()
            pane.set_enabled(False)
            return
        pane.set_enabled(True)
        if len(rows) > 1:
            pane.title.setText(f"{len(rows)} tracks selected")
            total = float(np.nansum(snap.cols["duration"][rows]))
            pane.text.setHtml(
                f"<p>Total length {int(total // 60)} min. “More like this” uses all of them as "
                "seeds; “Path to…” goes from the first to the last.</p>"
            )
            return
        row = int(rows[0])
        track_id = int(snap.ids[row])
        pane.title.setText(snap.label(row))
        cat = self.host.cat
        found = library.track_details(cat, track_id) if cat is not None else None
        copies = [snap.file_path(int(r)) for r in snap.copies_of(row)]
        pane.text.setHtml(track_html(found, snap.text("duration", row), copies))
        self._show_neighbours(track_id)

    def refresh(self) -> None:
        """Show the selection again (what is shown without one may have changed)."""
        self.show_rows(self.host.library.selected_rows)

    # -- nearest tracks ------------------------------------------------------------------------

    def similar_space(self) -> actions.Space | None:
        cat = self.host.cat
        if cat is not None and self.space is None:
            try:
                self.space = actions.similar_space(cat)
            except actions.SimilarError as exc:
                log.info("no latent space: %s", exc)
        return self.space

    def _show_neighbours(self, track_id: int) -> None:
        """Nearest tracks, computed in the background (the latent space of a large library
        takes a moment to load the first time)."""
        cat = self.host.cat
        if cat is None:
            return
        self._neighbours_for = track_id
        if self.host.runner.running("neighbours"):
            return  # the running one re-checks what is selected when it lands
        self.pane.set_neighbours([], "looking…")
        self.host.runner.submit(
            "neighbours",
            partial(
                _in_space,
                cat,
                self.space,
                lambda space: actions.more_like_this(cat, [track_id], NEIGHBOURS, space),
            ),
            on_result=partial(self._neighbours_done, cat, track_id),
            on_error=lambda msg, _tb: self.pane.set_neighbours([], msg),
        )

    def _neighbours_done(
        self,
        cat: Catalogue,
        track_id: int,
        result: tuple[actions.Space | None, actions.SimilarResult | str],
    ) -> None:
        if cat is not self.host.cat:
            return
        space, found = result
        if space is not None:
            self.space = space
        if self._neighbours_for != track_id:
            if self._neighbours_for:
                self._show_neighbours(self._neighbours_for)
            return
        if isinstance(found, str):
            self.pane.set_neighbours([], "after analysis" if space is None else found)
            return
        self.pane.set_neighbours(
            [(s.track_id, self._label(s.track_id, s.path)) for s in found.tracks]
        )
        self.neighbours_shown.emit(track_id)

    def _label(self, track_id: int, path: str) -> str:
        """A track as the table names it (its file name when the snapshot lacks it)."""
        snap = self.host.library.snap
        row = snap.row_of(track_id)
        return snap.label(row) if row is not None else Path(path).stem

    # -- more like this, path ------------------------------------------------------------------

    def more_like_this(self, seeds: list[int] | None = None, n: int = 25) -> Job | None:
        """The tracks nearest the seeds (the selection), listed when they land."""
        seeds = seeds or self.host.library.selected_track_ids()
        if not seeds or self.host.cat is None:
            self.host.flash("Select one or more tracks first.", 4000)
            return None
        cat = self.host.cat

        def show(result: actions.SimilarResult) -> None:
            snap = self.host.library.snap
            title = f"More like {snap.label(snap.row_of(seeds[0]) or 0)}"
            title += f" (+{len(seeds) - 1})" if len(seeds) > 1 else ""
            self.host.library.show_results(title, [*seeds, *[s.track_id for s in result.tracks]])

        return self._in_space(
            "More like this", lambda space: actions.more_like_this(cat, seeds, n, space), show
        )

    def path_to(self, a: int | None = None, b: int | None = None, n: int = 12) -> Job | None:
        """A path of ``n`` steps from track ``a`` to ``b`` (the first and last selected, or
        one picked), listed when it lands."""
        cat = self.host.cat
        if cat is None:
            return None
        ids = self.host.library.selected_track_ids()
        a = ids[0] if a is None and ids else a
        b = ids[-1] if b is None and len(ids) >= 2 else b
        if a is None:
            self.host.flash("Select the track to start from.", 4000)
            return None
        if b is None:
            b = self._ask_track("Path to…", "Go to which track?", exclude=a)
            if b is None:
                return None
        start, end = a, b

        def show(result: actions.PathResult) -> None:
            snap = self.host.library.snap
            title = (
                f"Path from {snap.label(snap.row_of(start) or 0)} "
                f"to {snap.label(snap.row_of(end) or 0)}"
            )
            self.host.library.show_results(title, [s.track_id for s in result.tracks])

        return self._in_space(
            "Path to…", lambda space: actions.song_path(cat, start, end, n, space), show
        )

    def _in_space(
        self, what: str, query: Callable[[actions.Space], R], show: Callable[[R], None]
    ) -> Job:
        """Answer ``query`` of the latent space in the background and ``show`` the answer;
        when there is no space yet, or it cannot answer, say so instead."""

        def answer(found: R | str, space: actions.Space | None) -> None:
            if not isinstance(found, str):
                show(found)
            elif space is None:
                self.host.flash(f"“{what}” needs the analysis first.", 5000)
            else:
                self.host.job_failed(what)(found, "")

        return self.ask_space(what, query, answer)

    def ask_space(
        self,
        name: str,
        query: Callable[[actions.Space], R],
        answer: Callable[[R | str, actions.Space | None], None],
    ) -> Job:
        """Run ``query`` in the latent space in a job called ``name`` (the space is loaded
        there the first time and kept); ``answer`` gets what it returned, or why it could
        not (a string), and the space, unless another library was opened meanwhile."""
        cat = self.host.cat
        assert cat is not None

        def landed(result: tuple[actions.Space | None, R | str]) -> None:
            if cat is not self.host.cat:
                return
            space, found = result
            if space is not None:
                self.space = space
            answer(found, space)

        return self.host.runner.submit(
            name,
            partial(_in_space, cat, self.space, query),
            on_result=landed,
            on_error=self.host.job_failed(name),
        )

    def _ask_track(self, title: str, label: str, exclude: int) -> int | None:
        return trackpicker.pick_track(self, self.host.library.snap, title, label, exclude=exclude)

    # -- an external player ----------------------------------------------------------------------

    def external_player_note(self) -> str:
        """What "Open in external player" opens the track with, or why it cannot."""
        player = self.host.player
        if player.available():
            return f"Open the selected track in {player.name} (musicorg's own player is Space)"
        return "No external player found (install mpv or ffplay, or set MUSICORG_PLAYER)"

    def open_external(self) -> None:
        """Hand the selected track to the external player (mpv, ffplay, MUSICORG_PLAYER);
        an explicit option beside musicorg's own playback."""
        player = self.host.player
        rows = self.host.library.selected_snap_rows()
        if not len(rows):
            return
        snap, row = self.host.library.snap, int(rows[0])
        if snap.missing[row]:
            self.host.flash("This track is missing: nothing to open.", 4000)
            return
        if not player.available():
            self.host.flash(self.external_player_note() + ".", 6000)
            return
        try:
            player.play(snap.file_path(row))
        except OSError as exc:
            self.host.job_failed("external player")(str(exc), "")
            return
        self.host.flash(f"Opened {snap.label(row)} in {player.name}.", 4000)


def _in_space(
    cat: Catalogue,
    space: actions.Space | None,
    query: Callable[[actions.Space], R],
    _progress: object,
    _cancel: object,
) -> tuple[actions.Space | None, R | str]:
    """The latent space (loaded when not given) and ``query``'s answer in it, or why there is
    none; a job's function."""
    try:
        space = space or actions.similar_space(cat)
    except actions.SimilarError as exc:
        return None, str(exc)
    try:
        return space, query(space)
    except actions.SimilarError as exc:
        return space, str(exc)
