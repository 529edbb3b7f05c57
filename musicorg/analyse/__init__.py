"""Stage 2, analyse: decode a window of each track, compute its features and MusiCNN's vector
and tags, then embed it with the active model (through musicorg.model)."""
