"""Who listens to the catalogue's announcements, registered once by each front end."""

from __future__ import annotations

from musicorg.store import events
from musicorg.store.db import Catalogue


def _sync_mirror(cat: Catalogue) -> None:
    # Lazy: start-up need not load the mirror's imports (numpy via the vectors) before the
    # first playlist change.
    from musicorg.io import mirror

    mirror.sync(cat)


def install() -> None:
    """Register the app's listeners: the playlist mirror follows every playlist change."""
    events.on_playlists_changed(_sync_mirror)
