"""What the map's "Colour by" asks for beyond its categories (a word of the library, tempo,
brightness, energy), fetched in the background through the app layer and handed to the map
as a scale (:mod:`musicorg.gui.colourby`). The measures are read once per library; the
words come with the question-in-words index (:class:`musicorg.gui.ask.WordIndex`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from musicorg.app import actions
from musicorg.gui.colourby import per_row, scale
from musicorg.store.db import Catalogue

if TYPE_CHECKING:
    from musicorg.gui.ask import WordIndex
    from musicorg.gui.host import Host
    from musicorg.gui.mappanel import MapPanel


class ColourBy(QObject):
    """Fetches what the map's "Colour by" asks for (a word, a measure) in the background and
    hands it to the map."""

    #: a colouring is drawn (its label)
    coloured = Signal(str)

    def __init__(self, host: Host, panel: MapPanel, words: WordIndex) -> None:
        super().__init__(panel)
        self.host, self.panel, self.words = host, panel, words
        self._measures: dict[str, actions.MapValues] | None = None
        self._want: tuple[str, str] = ("", "")
        panel.colour_requested.connect(self.request)
        panel.words_wanted.connect(self.offer_words)

    def forget(self) -> None:
        """The library changed: read the numbers again when next asked."""
        self._measures = None

    def offer_words(self) -> None:
        """Fill the map's list of words (the library's vocabulary), in the background."""
        self._run(lambda index, _m: actions.colour_words(index), self.panel.set_word_choices)

    def request(self, mode: str, word: str) -> None:
        """Colour the map by a measure (``mode`` tempo, brightness, energy) or by ``word``."""
        self._want = (mode, word)

        def fetch(index: Any, measures: Any) -> actions.MapValues:
            if mode == "word":
                return actions.word_scores(index, word)
            if mode not in measures:
                raise actions.SimilarError("no analysis yet: nothing to colour by")
            found: actions.MapValues = measures[mode]
            return found

        self._run(fetch, partial(self._show, (mode, word)), measures=mode != "word")

    def _show(self, wanted: tuple[str, str], found: actions.MapValues) -> None:
        if wanted != self._want:
            return  # the user asked for another colouring since
        values = per_row(self.host.data.snap.ids, found)
        self.panel.set_values(scale(values, found.label, found.unit))
        self.coloured.emit(found.label)

    def _run(
        self,
        fetch: Callable[[Any, Any], Any],
        done: Callable[[Any], None],
        *,
        measures: bool = False,
    ) -> None:
        cat = self.host.cat
        if cat is None:
            return
        index, known = self.words.for_cat(cat), self._measures

        def run(_p: Any, _c: Any) -> tuple[Any, Any, Any]:
            nonlocal index, known
            if measures and known is None:
                known = actions.measure_values(cat)
            if not measures and index is None:
                index = actions.ask_index(cat)
            return index, known, fetch(index, known)

        self.host.runner.submit(
            "colour",
            run,
            on_result=partial(self._landed, cat, done),
            on_error=self.host.job_failed("colour"),
        )

    def _landed(
        self, cat: Catalogue, done: Callable[[Any], None], result: tuple[Any, Any, Any]
    ) -> None:
        if cat is not self.host.cat:
            return
        index, measures, found = result
        if index is not None:
            self.words.keep(cat, index)
        if measures is not None:
            self._measures = measures
        done(found)
