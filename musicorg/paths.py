"""Where musicorg keeps its files, and how it finds its bundled resources.

User data, configuration, cache and logs follow the platform conventions (platformdirs).
Every location can be moved with an environment variable, which the tests use to stay
out of the real home directory:

- ``MUSICORG_DATA_DIR``, ``MUSICORG_CONFIG_DIR``, ``MUSICORG_CACHE_DIR``, ``MUSICORG_LOG_DIR``

Each of these folders is made when first asked for, whatever the umask: the configuration
folder (it holds the Genius token) and the data folder (the catalogue holds lyrics and paths)
as 0700, the others as 0755 at most, with any missing parent folders made 0755 at most as
well. A folder that exists already is left as it is.
"""

from __future__ import annotations

import contextlib
import os
from importlib import resources
from pathlib import Path

import platformdirs

APP_NAME = "musicorg"


#: The mode of the folders musicorg makes; the configuration and data folders are private.
SHARED_MODE = 0o755
PRIVATE_MODE = 0o700


def make_dir(path: Path, mode: int = SHARED_MODE) -> None:
    """Make the folder ``path``, and any missing parent, with at most ``mode`` (the parents at
    most 0755): the umask may take permissions away, never add them, so a umask of 000 still
    gives no group- or world-writable folder. An existing folder is left as it is."""
    missing: list[Path] = []
    here = path
    while not here.is_dir() and here.parent != here:
        missing.append(here)
        here = here.parent
    for folder in reversed(missing):
        own = mode if folder == path else SHARED_MODE
        # mkdir's mode passes through the umask, which can only take bits away.
        with contextlib.suppress(FileExistsError):  # made meanwhile, by another process
            os.mkdir(folder, own)


def _dir(env: str, default: str, mode: int = SHARED_MODE) -> Path:
    """The folder named by ``env``, else ``default``; made (see :func:`make_dir`) if missing.
    A folder that cannot be made is answered all the same: whoever writes there reports it."""
    value = os.environ.get(env)
    path = Path(value) if value else Path(default)
    if not path.is_dir():
        with contextlib.suppress(OSError):
            make_dir(path, mode)
    return path


def data_dir() -> Path:
    return _dir(
        "MUSICORG_DATA_DIR", platformdirs.user_data_dir(APP_NAME, appauthor=False), PRIVATE_MODE
    )


def config_dir() -> Path:
    return _dir(
        "MUSICORG_CONFIG_DIR",
        platformdirs.user_config_dir(APP_NAME, appauthor=False),
        PRIVATE_MODE,
    )


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
