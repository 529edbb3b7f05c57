"""The catalogue: its schema and migrations, backups, and the typed reads and writes of tracks,
vectors and playlists. The only package that runs SQL; it announces changes (events)."""
