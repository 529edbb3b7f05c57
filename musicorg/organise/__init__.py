"""Stage 3, organise: automatic playlists (clustering and naming), the 2-D map, more like this
and paths from A to B, all from the latent means in the catalogue.

The algorithms are pure (arrays in, arrays out): ``cluster`` (groups and the plan),
``cuts`` (playlists within the size bounds), ``order`` (the path inside a playlist),
``tracksets`` (duplicates, matching across runs) and ``naming``. ``playlists``, ``mapping``,
``similar`` and ``songpath`` read and write through ``musicorg.store``; none of them writes SQL.
"""
