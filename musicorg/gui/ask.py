"""Ask in words: the toolbar's "Ask" field turns a few words ("calm jazz, not metal") into a
ranked result list, in the background, with why each track matched (the table's Why column)
and the words it did not understand said plainly beside the list's title.

The search field next to it still filters the table by substring; this one asks the
library's vocabulary (:func:`musicorg.app.actions.ask_in_words`).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLineEdit

from musicorg.app import actions
from musicorg.gui.tasks import Job
from musicorg.store.db import Catalogue

if TYPE_CHECKING:
    from musicorg.gui.host import Host

#: How many tracks a question gives.
ASK_N = 30


class WordIndex:
    """What a question in words reads of the library (its vocabulary and tracks), kept between
    questions and for colouring the map by a word; forgotten when the library changes."""

    def __init__(self) -> None:
        self.index: actions.AskIndex | None = None
        self._cat: Catalogue | None = None

    def keep(self, cat: Catalogue, index: actions.AskIndex) -> None:
        self.index, self._cat = index, cat

    def for_cat(self, cat: Catalogue) -> actions.AskIndex | None:
        return self.index if cat is self._cat else None

    def forget(self) -> None:
        self.index, self._cat = None, None


def reasons(match: Any) -> str:
    """Why one track matched: "calm 0.93 · jazz 0.88 · not metal 0.97"."""
    return " · ".join(r.shown for r in match.why)


class AskBox(QObject):
    """The "Ask" field and what it starts."""

    #: a question was answered (the AskResult, or the one-line reason it could not be)
    answered = Signal(object)

    def __init__(self, host: Host, words: WordIndex) -> None:
        super().__init__()
        self.host, self.words = host, words
        self.field = QLineEdit()
        self.field.setPlaceholderText("Ask: calm jazz, not metal")
        self.field.setToolTip(
            "Ask for music in words (Enter): genres, moods, artists, decades, slow/fast, "
            "dark/bright, calm/energetic; “not …” leaves out"
        )
        self.field.setClearButtonEnabled(True)
        self.field.setMaximumWidth(300)
        self.field.returnPressed.connect(lambda: self.ask())

    def ask(self, text: str | None = None, n: int = ASK_N) -> Job | None:
        """Answer ``text`` (default: the field's) in the background; the list shows when it
        lands."""
        cat = self.host.cat
        words = (self.field.text() if text is None else text).strip()
        if cat is None or not words:
            return None
        index = self.words.for_cat(cat)

        def run(_p: Any, _c: Any) -> tuple[actions.AskIndex | None, Any]:
            found = index
            try:
                found = found or actions.ask_index(cat)
                return found, actions.ask_in_words(cat, words, n, found)
            except actions.SimilarError as exc:  # nothing understood, nothing analysed
                return found, str(exc)

        return self.host.runner.submit(
            "ask",
            run,
            on_result=partial(self._answered, cat, words),
            on_error=self.host.job_failed("ask"),
        )

    def _answered(self, cat: Catalogue, words: str, result: tuple[Any, Any]) -> None:
        if cat is not self.host.cat:
            return
        index, answer = result
        if index is not None:
            self.words.keep(cat, index)
        title = f"Ask “{words}”"
        if isinstance(answer, str):
            self.host.library.show_results(title, [], note=answer)
        else:
            unknown = ", ".join(answer.unknown)
            self.host.library.show_results(
                title,
                [m.track_id for m in answer.tracks],
                why={m.track_id: reasons(m) for m in answer.tracks},
                note=f"not understood: {unknown}" if unknown else "",
                note_tip=f"Understood: {', '.join(answer.terms)}",
            )
        self.answered.emit(answer)
