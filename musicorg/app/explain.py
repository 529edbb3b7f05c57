"""Why each playlist holds what it holds, for the window's tooltips and details pane and the
command line (``musicorg playlists``): its top words with their shares, its tempo range,
its brightness and energy, its size and length, and a one-line summary
(:mod:`musicorg.organise.explain` says how each is found).

Explanations are made on demand from the catalogue (a read of the active model's library):
ask for all playlists at once, and again after the playlists change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from musicorg.store.db import Catalogue

if TYPE_CHECKING:
    from musicorg.organise.explain import Explanation

__all__ = ["explain_playlist", "explain_playlists"]


def explain_playlists(cat: Catalogue, *, include_user: bool = True) -> dict[int, Explanation]:
    """By playlist id, the explanation of every automatic playlist of the active model (and
    of every user playlist when ``include_user``); empty before any analysis."""
    # lazy: the organise stage loads scipy (start-up time of both front ends)
    from musicorg.organise.playlists import explain_playlists as explain_all

    return explain_all(cat, include_user=include_user)


def explain_playlist(cat: Catalogue, playlist_id: int) -> Explanation | None:
    """The explanation of one playlist (None when there is no such playlist of the active
    model or of the user's)."""
    return explain_playlists(cat).get(playlist_id)
