"""Where musicorg keeps its files, and how it finds its bundled resources.

User data, configuration, cache and logs follow the platform conventions (platformdirs).
Every location can be moved with an environment variable, which the tests use to stay
out of the real home directory:

- ``MUSICORG_DATA_DIR``, ``MUSICORG_CONFIG_DIR``, ``MUSICORG_CACHE_DIR``, ``MUSICORG_LOG_DIR``
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import platformdirs

APP_NAME = "musicorg"


def _dir(env: str, default: str) -> Path:
    value = os.environ.get(env)
    path = Path(value) if value else Path(default)
    return path


def data_dir() -> Path:
    return _dir("MUSICORG_DATA_DIR", platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    return _dir("MUSICORG_CONFIG_DIR", platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    return _dir("MUSICORG_CACHE_DIR", platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return _dir("MUSICORG_LOG_DIR", platformdirs.user_log_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    return data_dir() / "catalogue.sqlite"


def demo_db_path() -> Path:
    """The demo library has a catalogue of its own and never mixes into the user's."""
    return data_dir() / "demo" / "catalogue.sqlite"


def settings_path() -> Path:
    return config_dir() / "settings.toml"


def resources_dir() -> Path:
    """The bundled resources: inside the installed package, or ``resources/`` of a checkout.

    The wheel maps ``resources/`` to ``musicorg/resources`` (see pyproject.toml), so an
    installed copy reads it through :mod:`importlib.resources`. A source checkout has no such
    folder inside the package and falls back to the top-level ``resources/``.
    """
    packaged = resources.files("musicorg").joinpath("resources")
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parent.parent / "resources"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("musicorg's bundled resources are missing from this installation")


def demo_dir() -> Path:
    return resources_dir() / "demo"


def models_dir() -> Path:
    return resources_dir() / "models"


def user_models_dir() -> Path:
    return data_dir() / "models"


def fs_display(path: bytes | str) -> str:
    """A printable form of a path, whatever bytes it holds."""
    raw = os.fsencode(path)
    return raw.decode("utf-8", errors="backslashreplace")
