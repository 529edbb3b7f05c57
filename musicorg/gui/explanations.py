"""Why each playlist holds what it holds, where the window shows playlists: a playlist's
tooltip in the sidebar is its explanation in one line; an automatic playlist selected (with no
track selected) shows its explanation in the details pane (its top words with their shares as
bars, its tempo range, brightness, energy, size and length); the map labels each automatic
playlist's region with its top words.

The explanations (:func:`musicorg.app.explain.explain_playlists`) are read in the background
after each read of the library whose playlists changed, and kept until they change again.
"""

from __future__ import annotations

from functools import partial
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from musicorg.app import actions, explain
from musicorg.gui import gcpolicy, theme
from musicorg.gui.librarydata import playlist_keys
from musicorg.gui.maplabels import Region
from musicorg.keys import AUTO
from musicorg.store.db import Catalogue

if TYPE_CHECKING:
    from musicorg.gui.details import DetailsDock
    from musicorg.gui.host import Host
    from musicorg.gui.mappanel import MapPanel
    from musicorg.gui.sidebar import Sidebar

BAR_COLOUR = "#4e79a7"
BAR_PX = 70


def length(seconds: float) -> str:
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    h, m = divmod(round(total / 60), 60)
    return f"{h} h {m} min" if h else f"{m} min"


def label_words(why: dict[str, Any], most: int = 2) -> str:
    """A region's label: its top words (or, with none, how it sounds)."""
    words = [str(w["word"]) for w in why.get("words") or []][:most]
    if not words:
        words = [str(lv["word"]) for k in ("energy", "brightness") if (lv := why.get(k))][:most]
    return " · ".join(words)


def _muted() -> str:
    """Secondary text in the explanation, readable on a light or a dark palette."""
    return theme.css(theme.muted())


def _bar_rest() -> str:
    """The empty part of a share bar: a step from the background towards the text."""
    return theme.css(theme.mix(theme.background(), theme.text(), 0.15))


def _level(name: str, level: dict[str, Any] | None, extra: str = "") -> str:
    if not level:
        return ""
    value, unit = float(level["value"]), str(level["unit"])
    shown = f"{value:,.0f} {unit}" if unit in ("Hz", "BPM") else f"{value:.1f} {unit}"
    return (
        f"<tr><td><b>{name}</b></td><td>{escape(str(level['word']))}{extra} "
        f"<span style='color:{_muted()}'>(median {escape(shown)})</span></td></tr>"
    )


def why_html(why: dict[str, Any]) -> str:
    """A playlist's explanation as the details pane shows it."""
    rows = []
    for w in why.get("words") or []:
        share = float(w["share"])
        filled = max(1, round(BAR_PX * share))
        bar = (
            "<table cellspacing='0' cellpadding='0'><tr>"
            f"<td bgcolor='{BAR_COLOUR}' width='{filled}' height='10'></td>"
            f"<td bgcolor='{_bar_rest()}' width='{BAR_PX - filled}' height='10'></td>"
            "</tr></table>"
        )
        rows.append(
            f"<tr><td nowrap>{escape(str(w['word']))}</td><td valign='middle'>{bar}</td>"
            f"<td nowrap align='right'>{round(100 * share)} %</td>"
            f"<td nowrap style='color:{_muted()}'>"
            f"({round(100 * float(w['library_share']))} %)</td></tr>"
        )
    words = (
        f"<p><b>Its words</b> <span style='color:{_muted()}'>share of its tracks (of the "
        f"library)</span></p><table cellspacing='3'>{''.join(rows)}</table>"
        if rows
        else "<p><i>No word is true of most of its tracks.</i></p>"
    )
    tempo = ""
    if why.get("tempo_range"):
        lo, hi = (float(v) for v in why["tempo_range"])
        span = f"{lo:.0f}–{hi:.0f} BPM" if round(lo) != round(hi) else f"{lo:.0f} BPM"
        word = why.get("tempo") or {}
        said = f" ({escape(str(word['word']))})" if word else ""
        tempo = f"<tr><td><b>Tempo</b></td><td>{span}{said}</td></tr>"
    n = int(why.get("size", 0))
    size = (
        f"<tr><td><b>Size</b></td><td>{n} track{'s' if n != 1 else ''}, "
        f"{length(float(why.get('seconds', 0.0)))}</td></tr>"
    )
    sound = "".join(
        [tempo, _level("Brightness", why.get("brightness")), _level("Energy", why.get("energy"))]
    )
    return f"{words}<table cellspacing='3'>{sound}{size}</table>"


def regions_of(
    playlists: list[actions.PlaylistEntry], why: dict[int, dict[str, Any]]
) -> list[Region]:
    """The automatic playlists as map regions (see :mod:`musicorg.gui.maplabels`), from
    their explanations ``why`` by id. No Qt here: the explaining job makes them."""
    out = []
    for p in playlists:
        said = why.get(p.id)
        if p.kind != AUTO or said is None or not p.track_ids:
            continue
        out.append(
            Region(
                p.id,
                label_words(said) or p.name,
                f"{p.name}\n{said['summary']}",
                np.asarray(p.track_ids, dtype=np.int64),
            )
        )
    return out


def signature(host: Host) -> tuple[Any, ...]:
    """What the explanations depend on: the model, and each playlist's id, name and tracks
    (as the load made them, off the UI thread)."""
    keys = host.data.playlist_keys
    return (
        host.data.model_version,
        playlist_keys(host.data.playlists) if keys is None else keys,
    )


class Explanations(QObject):
    """The playlists' explanations, read after each change of the playlists, and where they
    are shown."""

    #: new explanations are shown
    updated = Signal()

    def __init__(
        self, host: Host, sidebar: Sidebar, dock: DetailsDock, map_panel: MapPanel
    ) -> None:
        super().__init__(sidebar)
        self.host, self.sidebar, self.dock, self.map_panel = host, sidebar, dock, map_panel
        self.why: dict[int, dict[str, Any]] = {}
        self._signature: tuple[Any, ...] | None = None
        self._pending = False
        dock.when_empty = self.current_note
        sidebar.tree.currentItemChanged.connect(lambda _c, _p: self.dock.refresh())

    def forget(self) -> None:
        self.why, self._signature = {}, None
        self.sidebar.tree.set_summaries({})
        self.map_panel.set_regions([])

    def library_loaded(self) -> None:
        """A new read is shown: explain its playlists again when they changed."""
        cat = self.host.cat
        sig = signature(self.host)
        if cat is None or sig == self._signature:
            return
        if self.host.runner.running("explain"):
            self._pending = True
            return
        self._signature = sig
        playlists = self.host.data.playlists

        def job(_p: Any, _c: Any) -> tuple[dict[int, dict[str, Any]], list[Region]]:
            why = {pid: e.as_dict() for pid, e in explain.explain_playlists(cat).items()}
            # The map's regions made here too: 24,808 of them took 90 ms of the UI thread.
            return why, regions_of(playlists, why)

        self.host.runner.submit(
            "explain",
            job,
            on_result=partial(self._landed, cat),
            on_error=self.host.job_failed("explain"),
        )

    def _landed(
        self, cat: Catalogue, result: tuple[dict[int, dict[str, Any]], list[Region]]
    ) -> None:
        if cat is not self.host.cat:
            return
        why, regions = result
        self.why = why
        self.sidebar.tree.set_summaries({pid: str(w["summary"]) for pid, w in why.items()})
        self.map_panel.set_regions(regions)
        self.dock.refresh()
        self.updated.emit()
        # Kept until the playlists change: out of the collector's walks, as a read of the
        # library is (24,808 explanations at a million tracks, some 250,000 objects).
        gcpolicy.adopt()
        if self._pending:
            self._pending = False
            self.library_loaded()

    def regions(self) -> list[Region]:
        """The automatic playlists as map regions (see :mod:`musicorg.gui.maplabels`)."""
        return regions_of(self.host.data.playlists, self.why)

    def current_note(self) -> tuple[str, str] | None:
        """What the details pane shows with no track selected: the explanation of the
        playlist selected in the sidebar, if any."""
        pl = self.sidebar.current_playlist()
        if pl is None:
            return None
        why = self.why.get(pl[1])
        name = next((p.name for p in self.host.data.playlists if p.id == pl[1]), "")
        if why is None or not name:
            return None
        return name, why_html(why)
