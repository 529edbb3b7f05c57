"""Forgetting the data of model versions that are no longer installed, on a real catalogue
file with synthetic tracks: what goes, what stays, what becomes a user playlist."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import insert, select

pytest.importorskip("torch")  # the bundled version is named next to its weights

from musicorg import paths
from musicorg.analyse import analysis
from musicorg.app import models as modelstore
from musicorg.cli import main
from musicorg.io import mirror
from musicorg.keys import ACTIVE_MODEL_KEY, BUILT_KEY
from musicorg.model import registry as model_registry
from musicorg.organise import playlists as pl
from musicorg.store import userlists
from musicorg.store.db import Catalogue, Embedding, MapCoord, Playlist, PlaylistItem, Track
from tests.latent_fixtures import add_tracks

N = 30  # tracks, each embedded by every version below
OLD = "hvae-0.0.1"  # the bundled model of an earlier release
GONE = "user-20250101-000000"  # a retrained version deleted since
KEPT = "user-20250202-000000"  # a retrained version still registered


def _bundled() -> str:
    return model_registry.bundled_version()


def _register(*versions: str) -> None:
    for version in versions:
        model_registry.register(version, {"manifest_sha256": "0" * 64})


def _add_version(cat: Catalogue, version: str, coords: int) -> None:
    """Embeddings of every track and ``coords`` PCA map coordinates for ``version``."""
    with cat.begin() as conn:
        keys = [str(k) for (k,) in conn.execute(select(Embedding.content_key).distinct())]
        conn.execute(
            insert(Embedding).prefix_with("OR IGNORE"),
            [
                {"content_key": k, "model_version": version, "mu": b"\0" * 32, "created_at": 0.0}
                for k in keys
            ],
        )
        if coords:
            conn.execute(
                insert(MapCoord),
                [
                    {"model_version": version, "method": "pca", "content_key": k, "x": 0, "y": 0}
                    for k in keys[:coords]
                ],
            )
    cat.set_meta(BUILT_KEY + version, json.dumps({"n": N, "max_track_id": N}))


def _auto(
    cat: Catalogue,
    version: str,
    name: str,
    tracks: list[int],
    *,
    pinned: bool = False,
    renamed: bool = False,
    group: int = 0,
) -> int:
    now = time.time()
    with cat.begin() as conn:
        pid = conn.execute(
            insert(Playlist)
            .values(
                name=name,
                kind="auto",
                model_version=version,
                group_name=f"Group {group}",
                group_index=group,
                pinned=pinned,
                renamed=renamed,
                created_at=now,
                updated_at=now,
            )
            .returning(Playlist.id)
        ).scalar_one()
        conn.execute(
            insert(PlaylistItem),
            [{"playlist_id": pid, "position": i, "track_id": t} for i, t in enumerate(tracks)],
        )
    return int(pid)


def _ids(cat: Catalogue) -> list[int]:
    with cat.read() as conn:
        return [int(t) for (t,) in conn.execute(select(Track.id).order_by(Track.id))]


def _count(cat: Catalogue, sql: str, *args: Any) -> int:
    with cat.read() as conn:
        return int(conn.exec_driver_sql(sql, args).scalar_one())


def _embedded(cat: Catalogue, version: str) -> int:
    return _count(cat, "SELECT count(*) FROM embeddings WHERE model_version = ?", version)


def _coords(cat: Catalogue, version: str) -> int:
    return _count(cat, "SELECT count(*) FROM map_coords WHERE model_version = ?", version)


def _autos(cat: Catalogue, version: str) -> int:
    return _count(
        cat, "SELECT count(*) FROM playlists WHERE kind = 'auto' AND model_version = ?", version
    )


def _no_writes(cat: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise AssertionError("forget_stale_versions opened a write transaction")

    monkeypatch.setattr(cat, "begin", refuse)


@pytest.fixture
def cat(tmp_path: Path) -> Iterator[Catalogue]:
    """The bundled version active; KEPT registered; OLD and GONE no longer installed. Each
    has embeddings, map coordinates, automatic playlists (some pinned or renamed) and the
    note of its last build. Two user playlists are called "Evening" and "Evening (2)"."""
    c = Catalogue(tmp_path / "cat.sqlite")
    ids = add_tracks(c, np.zeros((N, 8), np.float32), version=_bundled())
    _add_version(c, _bundled(), coords=N)
    for version, coords in ((OLD, 20), (GONE, 10), (KEPT, N)):
        _add_version(c, version, coords)
    c.set_meta(ACTIVE_MODEL_KEY, _bundled())
    _register(KEPT)
    userlists.create(c, "Evening", ids[:2])
    userlists.create(c, "Evening (2)", ids[2:3])
    for version in (_bundled(), KEPT):
        _auto(c, version, f"Calm {version}", ids[:10], group=0)
        _auto(c, version, "Evening", ids[10:20], pinned=True, group=1)
        _auto(c, version, f"Mine {version}", ids[20:], renamed=True, group=2)
    yield c
    c.close()


def _stale_playlists(cat: Catalogue) -> dict[str, list[int]]:
    """OLD: one plain, one pinned, one renamed, one both; GONE: one plain and one pinned
    whose name two user playlists have. Returns the tracks of the ones to keep, by the name
    each must get as a user playlist."""
    ids = _ids(cat)
    _auto(cat, OLD, "Old plain", ids[:5], group=0)
    _auto(cat, OLD, "Old pinned", ids[5:10], pinned=True, group=1)
    _auto(cat, OLD, "Night drive", ids[10:13][::-1], renamed=True, group=2)
    _auto(cat, OLD, "Both", ids[13:16], pinned=True, renamed=True, group=3)
    _auto(cat, GONE, "Gone plain", ids[16:20], group=0)
    _auto(cat, GONE, "Evening", [ids[20], ids[21], ids[20]], pinned=True, group=1)
    return {
        "Old pinned": ids[5:10],
        "Night drive": ids[10:13][::-1],
        "Both": ids[13:16],
        "Evening (3)": [ids[20], ids[21], ids[20]],
    }


def test_stale_versions_are_forgotten_and_the_users_work_kept(
    cat: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = _stale_playlists(cat)
    before = {v: (_embedded(cat, v), _coords(cat, v), _autos(cat, v)) for v in (_bundled(), KEPT)}
    assert before == {_bundled(): (N, N, 3), KEPT: (N, N, 3)}
    user_before = {p.name: p.id for p in userlists.playlists(cat, userlists.USER)}

    report = modelstore.forget_stale_versions(cat)

    assert report.versions == [OLD, GONE]
    assert (report.embeddings, report.map_coords, report.auto_playlists) == (2 * N, 30, 2)
    assert report.kept_as_user == ["Old pinned", "Night drive", "Both", "Evening (3)"]
    assert report.summary() == (
        f"Removed the data of 2 model versions no longer installed ({OLD}, {GONE}): "
        "60 embeddings, 2 automatic playlists; 4 pinned or renamed playlists kept as user "
        "playlists."
    )
    for version in (OLD, GONE):
        assert (_embedded(cat, version), _coords(cat, version)) == (0, 0)
        assert _count(cat, "SELECT count(*) FROM playlists WHERE model_version = ?", version) == 0
        assert cat.get_meta(BUILT_KEY + version) is None
    # The bundled (active) and the registered version are untouched.
    assert {v: (_embedded(cat, v), _coords(cat, v), _autos(cat, v)) for v in before} == before
    for version in before:
        assert cat.get_meta(BUILT_KEY + version) is not None
    assert [p.name for p in pl.list_playlists(cat, _bundled())] == [
        f"Calm {_bundled()}",
        "Evening",
        f"Mine {_bundled()}",
    ]
    # No item was left without its playlist.
    orphans = (
        "SELECT count(*) FROM playlist_items WHERE playlist_id NOT IN (SELECT id FROM playlists)"
    )
    assert _count(cat, orphans) == 0
    assert _count(cat, "SELECT count(*) FROM playlist_items") == 3 + 2 * N + 5 + 3 + 3 + 3

    # The pinned or renamed ones are now ordinary user playlists: same tracks, same order.
    mine = {p.name: p for p in userlists.playlists(cat, userlists.USER)}
    assert set(mine) == {*user_before, *kept}
    assert {n: mine[n].id for n in user_before} == user_before
    for name, tracks in kept.items():
        p = mine[name]
        assert (p.kind, p.model_version, p.group_name) == ("user", None, None)
        assert [it.track_id for it in userlists.items(cat, p.id)] == tracks
    with cat.read() as conn:
        flags = conn.execute(
            select(Playlist.pinned, Playlist.renamed, Playlist.group_index).where(
                Playlist.kind == "user"
            )
        ).all()
    assert {tuple(f) for f in flags} == {(False, False, None)}
    # ... which the user-playlist tools edit like any other,
    userlists.rename(cat, mine["Both"].id, "Both, mine now")
    userlists.add_tracks(cat, mine["Old pinned"].id, _ids(cat)[:1])
    assert len(userlists.items(cat, mine["Old pinned"].id)) == 6
    with pytest.raises(userlists.UserListError):
        userlists.rename(cat, mine["Night drive"].id, "Evening")
    # ... and the mirror keeps as user playlists.
    listed = json.loads((mirror.mirror_dir(cat) / "playlists.json").read_text("utf-8"))
    by_name = {p["name"]: p for p in listed["playlists"]}
    assert {"Old pinned", "Night drive", "Both, mine now", "Evening (3)"} <= set(by_name)
    assert by_name["Evening (3)"]["kind"] == "user"
    assert len(by_name["Evening (3)"]["tracks"]) == 3

    # A second call finds nothing stale and does not even take the write lock.
    _no_writes(cat, monkeypatch)
    again = modelstore.forget_stale_versions(cat)
    assert not again and again.versions == [] and again.embeddings == 0


def _drop(cat: Catalogue, *versions: str) -> None:
    """Remove every row of these versions behind forget_stale_versions' back."""
    with cat.begin() as conn:
        for version in versions:
            for table in ("embeddings", "map_coords"):
                conn.exec_driver_sql(f"DELETE FROM {table} WHERE model_version = ?", (version,))
            conn.exec_driver_sql("DELETE FROM meta WHERE key = ?", (BUILT_KEY + version,))


def test_nothing_stale_means_no_write(cat: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    _drop(cat, OLD, GONE)  # left: the bundled (active) and the registered version
    _no_writes(cat, monkeypatch)
    assert not modelstore.forget_stale_versions(cat)
    assert (_embedded(cat, _bundled()), _embedded(cat, KEPT)) == (N, N)


def test_the_active_version_is_never_touched_even_if_not_installed(cat: Catalogue) -> None:
    ids = _ids(cat)
    _auto(cat, GONE, "Gone plain", ids[:5])
    cat.set_meta(ACTIVE_MODEL_KEY, GONE)
    report = modelstore.forget_stale_versions(cat)
    assert report.versions == [OLD] and report.embeddings == N
    assert (_embedded(cat, GONE), _coords(cat, GONE), _autos(cat, GONE)) == (N, 10, 1)
    assert cat.get_meta(BUILT_KEY + GONE) is not None


def test_an_unreadable_registry_stops_everything(
    cat: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stale_playlists(cat)
    registry = model_registry.registry_path()
    good = registry.read_text("utf-8")
    for bad in (good[: len(good) // 2], "[]", '{"models": ["x"]}'):
        registry.write_text(bad, "utf-8")
        with monkeypatch.context() as mp:
            _no_writes(cat, mp)
            assert not modelstore.forget_stale_versions(cat)
    assert (_embedded(cat, OLD), _embedded(cat, GONE), _embedded(cat, KEPT)) == (N, N, N)
    # A registry that is a folder cannot be read either.
    registry.unlink()
    registry.mkdir()
    assert not modelstore.forget_stale_versions(cat)
    assert _embedded(cat, KEPT) == N
    # No registry file at all: no retrained version is installed, so KEPT goes too.
    registry.rmdir()
    report = modelstore.forget_stale_versions(cat)
    assert report.versions == [OLD, GONE, KEPT] and report.embeddings == 3 * N
    assert _embedded(cat, _bundled()) == N


def test_a_version_with_only_its_build_note_left(cat: Catalogue) -> None:
    """What an earlier release left behind: nothing but the note of when OLD's playlists were
    built. Left there, it would keep a reinstalled OLD from ever building its playlists."""
    with cat.begin() as conn:
        for table in ("embeddings", "map_coords"):
            conn.exec_driver_sql(f"DELETE FROM {table} WHERE model_version IN (?, ?)", (OLD, GONE))
    report = modelstore.forget_stale_versions(cat)
    assert report.versions == [OLD, GONE] and report.embeddings == 0
    assert cat.get_meta(BUILT_KEY + OLD) is None


class _FakeModel:
    """Stands in for the bundled model: every track already has its embedding."""

    version = model_registry.bundled_version()
    device = "cpu"


def test_cli_analyse_prints_what_it_forgot(
    cat: Catalogue, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stale_playlists(cat)
    monkeypatch.setattr(analysis, "analyse_features", lambda *a, **k: None)
    monkeypatch.setattr(modelstore, "load_active_model", lambda *a, **k: (_FakeModel(), None))
    db = ["--db", str(cat.path)]
    assert main([*db, "analyze", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("0 tracks analysed, 0 embedded with model")
    assert lines[1] == (
        f"Removed the data of 2 model versions no longer installed ({OLD}, {GONE}): "
        "60 embeddings, 2 automatic playlists; 4 pinned or renamed playlists kept as user "
        "playlists."
    )
    assert (_embedded(cat, OLD), _embedded(cat, GONE), _embedded(cat, _bundled())) == (0, 0, N)
    assert main([*db, "analyze", "--device", "cpu"]) == 0
    assert "Removed the data" not in capsys.readouterr().out
    # The GUI shows the analysis summary, which says it too.
    report = analysis.AnalyseReport(forgotten="Removed the data of 1 model version.")
    assert report.summary().endswith(" s. Removed the data of 1 model version.")
    assert "Removed" not in report.summary(forgotten=False)


def test_cli_models_delete_forgets_its_data(
    cat: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    (paths.user_models_dir() / KEPT).mkdir(parents=True)
    db = ["--db", str(cat.path)]
    assert main([*db, "models", "delete", KEPT]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"Deleted model {KEPT}.",
        f"Removed the data of 3 model versions no longer installed ({OLD}, {GONE}, {KEPT}): "
        f"{3 * N} embeddings, 1 automatic playlist; 2 pinned or renamed playlists kept as "
        "user playlists.",
    ]
    assert not (paths.user_models_dir() / KEPT).exists()
    assert KEPT not in model_registry.read_registry()
    assert (_embedded(cat, KEPT), _autos(cat, KEPT), _embedded(cat, _bundled())) == (0, 0, N)
    names = {p.name for p in userlists.playlists(cat, userlists.USER)}
    assert names == {"Evening", "Evening (2)", "Evening (3)", f"Mine {KEPT}"}


def test_an_unreadable_registry_is_never_written_over() -> None:
    _register(KEPT)
    registry = model_registry.registry_path()
    torn = registry.read_text("utf-8")[:20]
    registry.write_text(torn, "utf-8")
    model_registry.unregister(KEPT)  # nothing readable to remove it from: left as it is
    assert registry.read_text("utf-8") == torn
    _register(GONE)  # a new version: a fresh registry, the old file kept beside it
    assert list(model_registry.read_registry()) == [GONE]
    (aside,) = registry.parent.glob("registry.unreadable-*")
    assert aside.read_text("utf-8") == torn
