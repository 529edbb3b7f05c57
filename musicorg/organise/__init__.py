"""Stage 3, organise: automatic playlists (clustering and naming), the 2-D map, more like this
and paths from A to B, all from the latent means in the catalogue."""
