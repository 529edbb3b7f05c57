"""musicorg: a desktop music-library organizer."""

__version__ = "0.1.0"
