"""Constants shared across layers: catalogue meta keys, playlist kinds, the features version.

A leaf: it imports nothing from musicorg, so any module may read these without pulling in the
stage that writes them.
"""

from __future__ import annotations

from typing import Final

#: Version of what ``musicorg.analyse.features`` computes (and MusiCNN's outputs beside it).
#: Bump it on any change beyond float rounding: every track is analysed again and models
#: trained on another version are refused (CONTRIBUTING.md, "Changing the features").
FEATURES_VERSION: Final = 3

#: Catalogue meta: the model version whose embeddings the playlists and the map use.
ACTIVE_MODEL_KEY: Final = "active_model"
#: Catalogue meta, + a model version: JSON {"n": ..., "max_track_id": ..., ...} of the last build
#: of that version's automatic playlists.
BUILT_KEY: Final = "playlists_built:"

#: Playlist kinds (``playlists.kind``): clustered from a model version, or made by the user.
AUTO: Final = "auto"
USER: Final = "user"
PLAYLIST_KINDS: Final = (AUTO, USER)
