"""Which model version a catalogue uses, and the one checked way to switch it.

Embeddings, automatic playlists and map coordinates are stored per model version in the
catalogue; its meta ``active_model`` names the version in use. Switching versions
(:func:`use_model`, for the CLI and the GUI alike) verifies the model first, so a refused one
leaves the previous version active; it then embeds only what lacks an embedding for the new
version and clusters only if that version has no automatic playlists yet. :func:`revert`
goes back to the bundled model the same way. User playlists belong to no version and are
never touched. The versions themselves (registry, loading, checks) are
``musicorg.model.registry``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicorg import paths
from musicorg.analyse.analysis import AnalyseReport, embed_pending
from musicorg.jobs import CancelFn, ProgressFn, never, no_progress
from musicorg.keys import ACTIVE_MODEL_KEY
from musicorg.model.registry import (
    ModelVersionError,
    UnknownVersionError,
    _registry_or_none,
    _trained_on,
    bundled_version,
    features_mismatch,
    load_version,
    read_registry,
    user_model_dir,
)
from musicorg.organise import playlists
from musicorg.store import modeldata
from musicorg.store.db import Catalogue

log = logging.getLogger(__name__)

# -- which model is active --------------------------------------------------------------------


def active_version(cat: Catalogue) -> str:
    """The version named in the catalogue, or the bundled one when none was set."""
    return cat.get_meta(ACTIVE_MODEL_KEY) or bundled_version()


def load_active_model(cat: Catalogue, device: str = "auto") -> tuple[Any, str | None]:
    """The active model, or the bundled one (with a warning) when the active one is refused."""
    # lazy: musicorg.model.bundle imports torch; only when a model is loaded
    from musicorg.model.bundle import ModelIntegrityError, load_model

    version = active_version(cat)
    if version == bundled_version():
        return load_model(device=device), None
    try:
        return load_version(version, device), None
    except UnknownVersionError:
        # The usual reason: an upgrade brought a new bundled model. Not an error.
        note = (
            f"the model {version} that this catalogue used is no longer installed; using the "
            f"bundled model {bundled_version()}"
        )
        log.info("%s", note)
        return load_model(device=device), note
    except (ModelIntegrityError, ModelVersionError) as exc:
        warning = f"{exc}; using the bundled model {bundled_version()} instead"
        log.warning("%s", warning)
        return load_model(device=device), warning


# -- listing --------------------------------------------------------------------------------


@dataclass
class ModelInfo:
    version: str
    bundled: bool
    active: bool
    directory: str
    created: float | None = None
    base_version: str | None = None
    from_scratch: bool = False
    text_refit: bool = False
    epochs: int | None = None
    library: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    embedded: int = 0  # tracks of this catalogue with an embedding of this version
    auto_playlists: int = 0
    problem: str | None = None  # why it cannot be used (verify=True only)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def describe(self) -> str:
        """What this version is, in a few words (``models list``, the Model versions dialog)."""
        if self.bundled:
            return "bundled with musicorg"
        lib = self.library
        parts = ["from scratch" if self.from_scratch else f"fine-tuned from {self.base_version}"]
        if self.epochs:
            parts.append(f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}")
        if lib.get("tracks"):
            where = Path(str(lib["catalogue"])).name if lib.get("catalogue") else "a library"
            parts.append(f"on {lib['tracks']} tracks of {where}")
        when = (
            time.strftime("%Y-%m-%d", time.localtime(self.created))
            if self.created
            else lib.get("date")
        )
        if when:
            parts.append(str(when))
        return ", ".join(parts)


def list_models(cat: Catalogue, *, verify: bool = False) -> list[ModelInfo]:
    """The bundled model first, then the retrained versions, oldest first.

    ``verify`` checks every file against its manifest (reads them all; imports torch).
    """
    active = active_version(cat)
    emb, pls = modeldata.counts(cat)
    bv = bundled_version()
    out = [
        ModelInfo(
            version=bv,
            bundled=True,
            active=active == bv,
            directory=str(paths.models_dir() / bv),
            embedded=emb.get(bv, 0),
            auto_playlists=pls.get(bv, 0),
        )
    ]
    registry = read_registry()
    for version, entry in sorted(registry.items(), key=lambda kv: kv[1].get("created", 0)):
        out.append(
            ModelInfo(
                version=version,
                bundled=False,
                active=active == version,
                directory=str(paths.user_models_dir() / version),
                created=entry.get("created"),
                base_version=entry.get("base_version"),
                from_scratch=bool(entry.get("from_scratch", False)),
                text_refit=bool(entry.get("text_refit", False)),
                epochs=entry.get("epochs"),
                library=dict(entry.get("library") or {}),
                metrics=dict(entry.get("metrics") or {}),
                embedded=emb.get(version, 0),
                auto_playlists=pls.get(version, 0),
            )
        )
        trained_on = _trained_on(Path(out[-1].directory))
        if trained_on is not None:
            out[-1].problem = features_mismatch(version, trained_on)
    if verify:
        # lazy: musicorg.model.bundle imports torch; only when a model is loaded
        from musicorg.model.bundle import (
            BUNDLED_MANIFEST_SHA256,
            ModelIntegrityError,
            verify_bundle,
        )

        for info in out:
            pin = (
                BUNDLED_MANIFEST_SHA256
                if info.bundled
                else str(registry[info.version]["manifest_sha256"])
            )
            try:
                verify_bundle(Path(info.directory), pin)
            except ModelIntegrityError as exc:
                info.problem = info.problem or str(exc)
    return out


# -- switching ------------------------------------------------------------------------------


@dataclass
class UseReport:
    version: str
    previous: str
    embedded: int
    playlists_built: bool
    playlists: int
    device: str
    note: str | None = None

    def summary(self) -> str:
        if self.version == self.previous and not self.embedded and not self.playlists_built:
            return f"Model {self.version} is already active."
        text = f"Active model: {self.version} (was {self.previous}); "
        text += f"{self.embedded} tracks embedded"
        if self.playlists_built:
            text += f", {self.playlists} automatic playlists built"
        else:
            text += f", its {self.playlists} automatic playlists kept"
        return text + "."


def use_model(
    cat: Catalogue,
    version: str,
    *,
    device: str = "auto",
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> UseReport:
    """Make ``version`` the active model of this catalogue.

    The model is verified first (a refused one changes nothing). Only tracks without an
    embedding of this version are embedded; the automatic playlists are clustered only if
    this version has none yet (else the newly embedded tracks join their nearest playlists).
    The switch itself is the last step: a cancel before it leaves the previous model active
    (with the embeddings done so far kept for next time).
    """
    previous = active_version(cat)
    if version != bundled_version():  # a quick refusal before anything is loaded
        trained_on = _trained_on(user_model_dir(version))
        if trained_on is not None and (note := features_mismatch(version, trained_on)):
            raise ModelVersionError(note)
    model = load_version(version, device)
    report = embed_pending(cat, model, progress=progress, cancel=cancel, report=AnalyseReport())
    cat.set_meta(ACTIVE_MODEL_KEY, version)
    built = False
    note = None
    n = modeldata.auto_playlist_count(cat, version)
    try:
        if n == 0:
            n = len(playlists.build_playlists(cat, progress=progress, cancel=cancel))
            built = True
        else:  # tracks embedded just now join their nearest playlists of this version
            lists, built = playlists.ensure_playlists(cat, progress=progress, cancel=cancel)
            n = len(lists)
    except playlists.PlaylistError as exc:
        note = f"automatic playlists not built: {exc}"
    return UseReport(version, previous, report.embedded, built, n, str(model.device), note)


def revert(
    cat: Catalogue,
    *,
    device: str = "auto",
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
) -> UseReport:
    """Back to the bundled model in one step; retrained versions and their data stay."""
    return use_model(cat, bundled_version(), device=device, progress=progress, cancel=cancel)


# -- data of versions that are gone ---------------------------------------------------------


class StaleReport(modeldata.Removed):
    """What :func:`forget_stale_versions` removed from a catalogue."""

    def __bool__(self) -> bool:
        return bool(self.versions)

    def summary(self) -> str:
        n, k = len(self.versions), len(self.kept_as_user)
        text = (
            f"Removed the data of {_plural(n, 'model version')} no longer installed "
            f"({', '.join(self.versions)}): {_plural(self.embeddings, 'embedding')}, "
            f"{_plural(self.auto_playlists, 'automatic playlist')}"
        )
        if k:
            text += (
                f"; {_plural(k, 'pinned or renamed playlist')} kept as "
                f"{'a user playlist' if k == 1 else 'user playlists'}"
            )
        return text + "."


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _installed() -> set[str] | None:
    """The versions that exist: the bundled one and the registered ones (None when the registry
    exists but cannot be read)."""
    registry = _registry_or_none()
    return None if registry is None else {bundled_version(), *registry}


def forget_stale_versions(cat: Catalogue) -> StaleReport:
    """Remove what the catalogue holds for model versions that no longer exist.

    A version exists if it is the bundled one or registered; the catalogue's active version is
    never touched either. Its embeddings, map coordinates, automatic playlists and the note of
    when they were built go, in one write transaction, except automatic playlists the user
    pinned or renamed: those become user playlists. Nothing is removed when the registry
    exists but cannot be read. The registry is read again inside the write transaction: a
    version registered by another process before its embeddings were written (``retrain``
    registers first) is always seen.
    """
    report = StaleReport(**vars(modeldata.remove_versions(cat, _installed)))
    if report:
        log.info("%s", report.summary())
    return report


__all__ = [
    "ModelInfo",
    "StaleReport",
    "UseReport",
    "active_version",
    "forget_stale_versions",
    "list_models",
    "load_active_model",
    "revert",
    "use_model",
]
