"""The hybrid audio/lyrics VAE and its bundle loader.

This package imports torch; nothing else in musicorg imports it at module level, so the rest
of the app (and its tests) work without torch loaded. Import lazily::

    from musicorg.model.bundle import load_model
"""
