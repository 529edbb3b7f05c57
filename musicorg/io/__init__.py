"""Files other players read: M3U8 export and import, and the mirror of the playlists beside the
catalogue (it listens to the store's playlists-changed event)."""
