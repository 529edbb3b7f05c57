"""Stage 1, scan: walk the folders, recognise formats, read tags and lyrics into the catalogue."""
