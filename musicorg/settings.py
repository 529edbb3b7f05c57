"""User settings: one TOML file in the platform config dir, mode 0600.

The core reads it; the CLI and the GUI edit it through :func:`save`. Environment variables
override single values (``MUSICORG_DEVICE``, ``MUSICORG_GENIUS_TOKEN``, ...), which is how a
CUDA box or a CI run can change behaviour without touching the file.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from musicorg import paths

DEVICES = ("auto", "cpu", "cuda")
CLUSTER_METHODS = ("kmeans", "agglomerative", "dbscan")


@dataclass
class Settings:
    music_folders: list[str] = field(default_factory=list)
    device: str = "auto"
    playlist_min: int = 20
    playlist_max: int = 60
    cluster_method: str = "kmeans"
    genius_token: str = ""
    export_dir: str = ""
    export_absolute: bool = False
    #: Watch the music folders while the app runs, and read changes in a few seconds.
    watch_folders: bool = True
    last_library: str = ""
    #: The player's volume, 0 (silent) to 1, as it was last set.
    volume: float = 1.0
    #: The libraries opened lately, newest first (catalogue paths, "demo"); the GUI keeps 8.
    recent_libraries: list[str] = field(default_factory=list)
    #: The library table's columns in the order shown, "key:width" (":hidden" after those
    #: hidden), and its sort: a column's key, "-" before it when descending, "" for none.
    table_columns: list[str] = field(default_factory=list)
    table_sort: str = ""
    #: The catalogue when no ``--db`` names one: "" for the file in the data folder, or a
    #: ``postgresql://USER@HOST/DATABASE`` URL (a catalogue shared by several desktops).
    catalogue_url: str = ""

    def validate(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.cluster_method not in CLUSTER_METHODS:
            raise ValueError(
                f"cluster_method must be one of {', '.join(CLUSTER_METHODS)}, "
                f"not {self.cluster_method!r}"
            )
        if not 1 <= self.playlist_min <= self.playlist_max:
            raise ValueError("playlist length must satisfy 1 <= min <= max")


_ENV = {
    "device": "MUSICORG_DEVICE",
    "genius_token": "MUSICORG_GENIUS_TOKEN",
    "cluster_method": "MUSICORG_CLUSTER_METHOD",
    "playlist_min": "MUSICORG_PLAYLIST_MIN",
    "playlist_max": "MUSICORG_PLAYLIST_MAX",
    "export_dir": "MUSICORG_EXPORT_DIR",
    "catalogue_url": "MUSICORG_CATALOGUE_URL",
}


def _coerce(name: str, raw: Any) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
    if kind == "list[str]":
        return [str(v) for v in raw]
    return str(raw)


def load(path: Path | None = None, *, env: bool = True) -> Settings:
    """Read the settings file (missing file: defaults), then apply environment overrides."""
    path = path or paths.settings_path()
    values: dict[str, Any] = {}
    if path.exists():
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        known = {f.name for f in fields(Settings)}
        values = {k: _coerce(k, v) for k, v in data.items() if k in known}
    settings = Settings(**values)
    if env:
        for name, var in _ENV.items():
            if os.environ.get(var):
                setattr(settings, name, _coerce(name, os.environ[var]))
    settings.validate()
    return settings


def save(settings: Settings, path: Path | None = None) -> Path:
    """Write atomically with mode 0600 (the file may hold a Genius token), whatever the umask;
    a missing folder is made 0700."""
    settings.validate()
    path = path or paths.settings_path()
    paths.make_dir(path.parent, paths.PRIVATE_MODE)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".toml", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            tomli_w.dump(asdict(settings), fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)
    return path


def update(path: Path | None = None, **changes: Any) -> Settings:
    """Load the file (without env overrides, so they are not persisted), change, save."""
    settings = load(path, env=False)
    for key, value in changes.items():
        if not hasattr(settings, key):
            raise KeyError(f"unknown setting {key!r}")
        setattr(settings, key, _coerce(key, value))
    save(settings, path)
    return settings
