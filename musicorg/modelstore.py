"""Model versions: the bundled model and the ones retrained on the user's library.

A retrained version lives in ``paths.user_models_dir()/<version>/`` as a complete bundle
(weights, text pipeline, normalisation, config, metrics, MODEL_CARD.md and a SHA-256
manifest). ``registry.json`` beside those folders lists the versions this installation
created, each with the SHA-256 of its manifest pinned when it was written and the library it
was trained on. A version is loaded only if it is registered and its manifest and every file
still match: anything else is refused with a message saying why.

Embeddings, automatic playlists and map coordinates are stored per model version in the
catalogue; the catalogue's meta ``active_model`` names the version in use. Switching versions
(:func:`use_model`) embeds only what lacks an embedding for the new version and clusters
only if that version has no automatic playlists yet; :func:`revert` goes back to the bundled
model the same way. User playlists belong to no version and are never touched.

torch is imported lazily, when the bundled version is resolved or a model is loaded.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from musicorg import paths
from musicorg.analysis import ACTIVE_MODEL_KEY, AnalyzeReport, embed_pending
from musicorg.db import Catalogue, Playlist
from musicorg.jobs import CancelFn, ProgressFn, never, no_progress

log = logging.getLogger(__name__)

REGISTRY_NAME = "registry.json"
VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_registry_lock = threading.Lock()


class ModelVersionError(ValueError):
    """A model version that does not exist, is not registered or cannot be used."""


class UnknownVersionError(ModelVersionError):
    """A version the (readable) registry does not list: never installed, or deleted since."""


def bundled_version() -> str:
    from musicorg.model import bundle  # the constant lives with the pinned hash

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


# -- which model is active --------------------------------------------------------------------


def active_version(cat: Catalogue) -> str:
    """The version named in the catalogue, or the bundled one when none was set."""
    return cat.get_meta(ACTIVE_MODEL_KEY) or bundled_version()


def load_version(version: str, device: str = "auto") -> Any:
    """The LoadedModel of ``version``, verified (bundled: against the hash pinned in the code;
    retrained: against the hash pinned in the registry when it was created).

    Raises :class:`ModelVersionError` for an unknown version and
    :class:`musicorg.model.bundle.ModelIntegrityError` for files that do not match.
    """
    from musicorg.model.bundle import ModelIntegrityError, load_model

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
    from musicorg.features import FEATURES_VERSION

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


def load_active_model(cat: Catalogue, device: str = "auto") -> tuple[Any, str | None]:
    """The active model, or the bundled one (with a warning) when the active one is refused."""
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


def _counts(cat: Catalogue) -> tuple[dict[str, int], dict[str, int]]:
    from musicorg.db import Embedding

    with cat.read() as conn:
        emb = {
            str(v): int(n)
            for v, n in conn.execute(
                select(Embedding.model_version, func.count()).group_by(Embedding.model_version)
            )
        }
        pls = {
            str(v): int(n)
            for v, n in conn.execute(
                select(Playlist.model_version, func.count())
                .where(Playlist.kind == "auto")
                .group_by(Playlist.model_version)
            )
            if v is not None
        }
    return emb, pls


def list_models(cat: Catalogue, *, verify: bool = False) -> list[ModelInfo]:
    """The bundled model first, then the retrained versions, oldest first.

    ``verify`` checks every file against its manifest (reads them all; imports torch).
    """
    active = active_version(cat)
    emb, pls = _counts(cat)
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


def _auto_playlists(cat: Catalogue, version: str) -> int:
    with cat.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(Playlist)
                .where(Playlist.kind == "auto", Playlist.model_version == version)
            ).scalar_one()
        )


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
    this version has none yet. The switch itself is the last step: a cancel before it leaves
    the previous model active (with the embeddings done so far kept for next time).
    """
    from musicorg import playlists

    previous = active_version(cat)
    if version != bundled_version():  # a quick refusal before anything is loaded
        trained_on = _trained_on(user_model_dir(version))
        if trained_on is not None and (note := features_mismatch(version, trained_on)):
            raise ModelVersionError(note)
    model = load_version(version, device)
    report = embed_pending(cat, model, progress=progress, cancel=cancel, report=AnalyzeReport())
    cat.set_meta(ACTIVE_MODEL_KEY, version)
    built = False
    note = None
    n = _auto_playlists(cat, version)
    if n == 0:
        try:
            n = len(playlists.build_playlists(cat, progress=progress, cancel=cancel))
            built = True
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


def delete_version(version: str) -> None:
    """Forget a retrained version and remove its files. Its data in a catalogue goes with the
    next :func:`forget_stale_versions` there (``analyze`` runs it)."""
    if version == bundled_version():
        raise ModelVersionError("the bundled model cannot be deleted")
    user_model_dir(version)  # validates the name
    if version not in read_registry():
        raise ModelVersionError(f"no retrained model version {version!r}")
    unregister(version)
    shutil.rmtree(user_model_dir(version), ignore_errors=True)


# -- data of versions that are gone ---------------------------------------------------------


@dataclass
class StaleReport:
    """What :func:`forget_stale_versions` removed from a catalogue."""

    versions: list[str] = field(default_factory=list)
    embeddings: int = 0
    map_coords: int = 0
    auto_playlists: int = 0
    kept_as_user: list[str] = field(default_factory=list)  # their names as user playlists

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


def _versions_with_data(conn: Connection) -> set[str]:
    """The model versions the catalogue holds anything of: embeddings, map coordinates,
    automatic playlists, or the note of when their playlists were built."""
    from musicorg.db import Embedding, MapCoord, Meta
    from musicorg.playlists import BUILT_KEY

    seen = {str(v) for (v,) in conn.execute(select(Embedding.model_version).distinct())}
    seen |= {str(v) for (v,) in conn.execute(select(MapCoord.model_version).distinct())}
    seen |= {
        str(v)
        for (v,) in conn.execute(
            select(Playlist.model_version)
            .where(Playlist.kind == "auto", Playlist.model_version.is_not(None))
            .distinct()
        )
    }
    built = conn.execute(select(Meta.key).where(Meta.key.startswith(BUILT_KEY, autoescape=True)))
    seen |= {str(k)[len(BUILT_KEY) :] for (k,) in built}
    return seen


def _never_stale(conn: Connection) -> set[str]:
    """The bundled version and the catalogue's active one (even if it is not installed)."""
    from musicorg.db import Meta

    active = conn.execute(select(Meta.value).where(Meta.key == ACTIVE_MODEL_KEY)).scalar()
    return {bundled_version(), *([str(active)] if active else [])}


def _stale_versions(conn: Connection, registry: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(_versions_with_data(conn) - _never_stale(conn) - set(registry))


def forget_stale_versions(cat: Catalogue) -> StaleReport:
    """Remove what the catalogue holds for model versions that no longer exist.

    A version exists if it is the bundled one or registered; the catalogue's active version is
    never touched either. Its embeddings, map coordinates, automatic playlists and the note of
    when they were built go, in one write transaction, except automatic playlists the user
    pinned or renamed: those become user playlists (same tracks in the same order; same name,
    or "name (2)" if a user playlist has it). Nothing is removed when the registry exists but
    cannot be read. When nothing is stale nothing is written and no write lock is taken.

    The registry is read again inside the write transaction: a version registered by another
    process before its embeddings were written (``retrain`` registers first) is always seen.
    """
    from sqlalchemy import delete, update

    from musicorg.db import Embedding, MapCoord, Meta, PlaylistItem
    from musicorg.playlists import BUILT_KEY
    from musicorg.userlists import USER, free_name_in

    report = StaleReport()
    registry = _registry_or_none()
    if registry is None:
        return report
    with cat.read() as conn:
        if not _stale_versions(conn, registry):
            return report  # the usual case: no write at all
    with cat.begin() as conn:
        registry = _registry_or_none()
        if registry is None:
            return report
        report.versions = _stale_versions(conn, registry)
        for version in report.versions:
            rows = conn.execute(
                select(Playlist.id, Playlist.name, Playlist.pinned, Playlist.renamed)
                .where(Playlist.kind == "auto", Playlist.model_version == version)
                .order_by(Playlist.group_index, Playlist.id)
            ).all()
            for pid, name, pinned, renamed in rows:
                if pinned or renamed:
                    # The user's work: an ordinary user playlist from now on.
                    new_name = free_name_in(conn, str(name))
                    conn.execute(
                        update(Playlist)
                        .where(Playlist.id == pid)
                        .values(
                            kind=USER,
                            name=new_name,
                            model_version=None,
                            group_name=None,
                            group_index=None,
                            pinned=False,
                            renamed=False,
                            updated_at=time.time(),
                        )
                    )
                    report.kept_as_user.append(new_name)
                else:
                    conn.execute(delete(PlaylistItem).where(PlaylistItem.playlist_id == pid))
                    conn.execute(delete(Playlist).where(Playlist.id == pid))
                    report.auto_playlists += 1
            report.embeddings += conn.execute(
                delete(Embedding).where(Embedding.model_version == version)
            ).rowcount
            report.map_coords += conn.execute(
                delete(MapCoord).where(MapCoord.model_version == version)
            ).rowcount
            conn.execute(delete(Meta).where(Meta.key == BUILT_KEY + version))
    if report.kept_as_user:
        from musicorg import mirror

        mirror.sync(cat)
    if report:
        log.info("%s", report.summary())
    return report


__all__ = [
    "ModelInfo",
    "ModelVersionError",
    "StaleReport",
    "UnknownVersionError",
    "UseReport",
    "active_version",
    "delete_version",
    "forget_stale_versions",
    "list_models",
    "load_active_model",
    "load_version",
    "new_version_name",
    "read_registry",
    "register",
    "revert",
    "use_model",
]
