"""The registry of model versions: the bundled model and the ones retrained on the user's
library, and how a version is loaded and checked.

A retrained version lives in ``paths.user_models_dir()/<version>/`` as a complete bundle
(weights, text pipeline, normalisation, config, metrics, MODEL_CARD.md and a SHA-256
manifest). ``registry.json`` beside those folders lists the versions this installation
created, each with the SHA-256 of its manifest pinned when it was written and the library it
was trained on. A version is loaded only if it is registered and its manifest and every file
still match: anything else is refused with a message saying why.

No catalogue here: which version a catalogue uses, and switching it, is ``musicorg.app.models``.
torch is imported lazily, when a model is loaded.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from musicorg import paths
from musicorg.keys import FEATURES_VERSION

log = logging.getLogger(__name__)

REGISTRY_NAME = "registry.json"
VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_registry_lock = threading.Lock()


class ModelVersionError(ValueError):
    """A model version that does not exist, is not registered or cannot be used."""


class UnknownVersionError(ModelVersionError):
    """A version the (readable) registry does not list: never installed, or deleted since."""


def bundled_version() -> str:
    # bundle.py imports torch: read its constant only when asked (start-up stays torch-free).
    from musicorg.model import bundle

    return bundle.BUNDLED_VERSION


def registry_path() -> Path:
    return paths.user_models_dir() / REGISTRY_NAME


def user_model_dir(version: str) -> Path:
    if not VERSION_RE.fullmatch(version):
        raise ModelVersionError(f"invalid model version name {version!r}")
    return paths.user_models_dir() / version


def _registry_or_none() -> dict[str, dict[str, Any]] | None:
    """The registry's versions ({} when there is no registry), or None when it exists but
    cannot be read."""
    path = registry_path()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("model registry %s cannot be read: %s", path, exc)
        return None
    try:
        data = json.loads(raw)
        models = data["models"]
        return {str(k): dict(v) for k, v in models.items() if isinstance(v, dict)}
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("model registry %s is unreadable; no retrained model can be used", path)
        return None


def read_registry() -> dict[str, dict[str, Any]]:
    return _registry_or_none() or {}


def _write_registry(models: dict[str, dict[str, Any]]) -> None:
    path = registry_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(
        json.dumps({"format": 1, "models": models}, indent=1, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    os.replace(tmp, path)


def register(version: str, entry: dict[str, Any]) -> None:
    """Add ``version`` to the registry; ``entry`` must carry its manifest's SHA-256."""
    if not entry.get("manifest_sha256"):
        raise ValueError("a registered model needs its manifest SHA-256")
    user_model_dir(version)  # validates the name
    with _registry_lock:
        models = _registry_or_none()
        if models is None:
            # Never write over what cannot be read: keep it beside the new registry.
            path = registry_path()
            aside = path.with_name(f"registry.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(path, aside)
            log.warning("model registry %s was unreadable: moved to %s", path, aside)
            models = {}
        models[version] = dict(entry)
        _write_registry(models)


def unregister(version: str) -> None:
    with _registry_lock:
        models = _registry_or_none()  # an unreadable registry is left as it is
        if models is not None and models.pop(version, None) is not None:
            _write_registry(models)


def new_version_name(prefix: str = "user") -> str:
    """A fresh version name: ``user-YYYYmmdd-HHMMSS`` (with a suffix if taken)."""
    base = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    taken = set(read_registry())
    name, n = base, 1
    while name in taken or (paths.user_models_dir() / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def load_version(version: str, device: str = "auto") -> Any:
    """The LoadedModel of ``version``, verified (bundled: against the hash pinned in the code;
    retrained: against the hash pinned in the registry when it was created).

    Raises :class:`ModelVersionError` for an unknown version and
    :class:`musicorg.model.bundle.ModelIntegrityError` for files that do not match.
    """
    # lazy: musicorg.model.bundle imports torch; only when a model is loaded
    from musicorg.model.bundle import ModelIntegrityError, ModelUnreadableError, load_model

    if version == bundled_version():
        return load_model(device=device)
    registry = _registry_or_none()
    entry = (registry or {}).get(version)
    if entry is None:
        known = ", ".join([bundled_version(), *sorted(registry or {})])
        error = UnknownVersionError if registry is not None else ModelVersionError
        raise error(f"no model version {version!r} (known: {known})")
    directory = user_model_dir(version)
    try:
        model = load_model(
            directory, device=device, expected_manifest_sha256=str(entry["manifest_sha256"])
        )
    except ModelUnreadableError as exc:
        raise ModelUnreadableError(f"model {version} is refused: {exc}") from exc
    except ModelIntegrityError as exc:
        raise ModelIntegrityError(
            f"model {version} does not match its manifest and is refused: {exc}"
        ) from exc
    if str(model.version) != version:
        raise ModelIntegrityError(
            f"model folder {directory} holds version {model.version}, not {version}"
        )
    trained_on = model.features_version
    if trained_on is not None and (note := features_mismatch(version, trained_on)):
        raise ModelVersionError(note)
    return model


def features_mismatch(version: str, trained_on: object) -> str | None:
    """Why a model trained on features of version ``trained_on`` cannot be used (or None)."""
    if str(trained_on) == str(FEATURES_VERSION):
        return None
    return (
        f"model {version} was trained on audio features of version {trained_on}, and this "
        f"musicorg computes version {FEATURES_VERSION}: retrain it on your library"
    )


def _trained_on(directory: Path) -> object:
    """The features version in a model folder's config.json (None when unreadable)."""
    try:
        return json.loads((directory / "config.json").read_text("utf-8")).get("features_version")
    except (OSError, ValueError, AttributeError):
        return None


def delete_version(version: str) -> None:
    """Forget a retrained version and remove its files. Its data in a catalogue goes with the
    next :func:`forget_stale_versions` there (the analysis runs it)."""
    if version == bundled_version():
        raise ModelVersionError("the bundled model cannot be deleted")
    user_model_dir(version)  # validates the name
    if version not in read_registry():
        raise ModelVersionError(f"no retrained model version {version!r}")
    unregister(version)
    shutil.rmtree(user_model_dir(version), ignore_errors=True)
