"""Analysis on a Dask cluster: real worker processes, real audio, a real catalogue."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from musicorg.analyse import analysis, dask_backend
from musicorg.analyse.dask_backend import (
    ClusterError,
    DaskOptions,
    local_workers,
    map_path,
    parse_path_map,
)
from musicorg.app import pipeline
from musicorg.cli import main
from musicorg.ingest import scanner
from musicorg.jobs import Cancelled
from musicorg.store.analyses import ANALYSE_STAGE
from musicorg.store.db import Analysis, Catalogue, Embedding, Problem, Track

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of the cluster ``--dask local:2`` starts: two worker processes, each under
    a nanny that starts it again when it dies."""
    with dask_backend.connect(DaskOptions("local:2")) as runner:
        yield str(runner.client.scheduler.address)


def _count(cat: Catalogue, table: type) -> int:
    with cat.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _keys(cat: Catalogue) -> int:
    with cat.read() as conn:
        return int(conn.execute(select(func.count(func.distinct(Track.content_key)))).scalar_one())


def _problems(cat: Catalogue) -> list[str]:
    with cat.read() as conn:
        return list(
            conn.execute(select(Problem.message).where(Problem.stage == ANALYSE_STAGE)).scalars()
        )


def _analyses(cat: Catalogue) -> dict[str, tuple[Any, ...]]:
    with cat.read() as conn:
        rows = conn.execute(
            select(
                Analysis.content_key,
                Analysis.features,
                Analysis.musicnn,
                Analysis.tags,
                Analysis.n_patches,
            )
        ).all()
    return {k: (f, m, t, n) for k, f, m, t, n in rows}


def test_the_cluster_gives_what_the_local_path_gives(
    music: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], scheduler: str
) -> None:
    db = str(tmp_path / "dask.sqlite")
    assert main(["--db", db, "-q", "scan", str(music)]) == 0
    assert main(["--db", db, "-q", "analyse", "--device", "cpu", "--dask", scheduler]) == 0
    assert "0 problems" in capsys.readouterr().out
    here = Catalogue(tmp_path / "local.sqlite")
    try:
        scanner.scan(here, [music])
        analysis.analyse_features(here, device="cpu", workers=1)
        local = _analyses(here)
    finally:
        here.close()
    on_dask = Catalogue(Path(db))
    try:
        remote = _analyses(on_dask)
        assert _count(on_dask, Embedding) == _keys(on_dask) == len(remote)
        assert _problems(on_dask) == []
    finally:
        on_dask.close()
    # Every track, with the features and MusiCNN's outputs the local pool gives.
    assert remote.keys() == local.keys() and len(remote) == len(list(music.rglob("*.*")))
    for key, (feats, vec, tags, n) in remote.items():
        for got, want in zip((feats, vec, tags), local[key][:3], strict=True):
            np.testing.assert_allclose(
                np.frombuffer(got, np.float32), np.frombuffer(want, np.float32), atol=1e-4
            )
        assert n == local[key][3]


def test_a_worker_killed_mid_run_loses_nothing(cat: Catalogue, music: Path, scheduler: str) -> None:
    scanner.scan(cat, [music])
    with distributed.Client(scheduler, set_as_default=False) as client:
        victim = next(iter(client.run(os.getpid).values()))
    killed: list[int] = []

    def progress(done: int, total: int, _text: str) -> None:
        if done and not killed:  # the first results have landed: one worker dies
            os.kill(victim, signal.SIGKILL)
            killed.append(done)

    report = pipeline.analyse(cat, device="cpu", dask=DaskOptions(scheduler), progress=progress)
    keys = _keys(cat)
    assert killed and killed[0] < keys
    with distributed.Client(scheduler, set_as_default=False) as client:
        assert victim not in client.run(os.getpid).values()  # it died (its nanny started anew)
    assert report.analysed == _count(cat, Analysis) == _count(cat, Embedding) == keys
    assert _problems(cat) == []


def test_cancel_keeps_a_consistent_catalogue_and_the_rerun_resumes(
    cat: Catalogue, music: Path, scheduler: str
) -> None:
    scanner.scan(cat, [music])
    seen: list[int] = []

    def progress(done: int, _total: int, _text: str) -> None:
        if done:
            seen.append(done)

    with pytest.raises(Cancelled):
        pipeline.analyse(
            cat,
            device="cpu",
            dask=DaskOptions(scheduler),
            progress=progress,
            cancel=lambda: len(seen) >= 3,
        )
    assert cat.integrity_ok()
    first = _count(cat, Analysis)
    assert 3 <= first < _keys(cat)
    rest = pipeline.analyse(cat, device="cpu", dask=DaskOptions(scheduler))
    assert rest.analysed == _keys(cat) - first
    assert _count(cat, Embedding) == _keys(cat) and _problems(cat) == []


def test_workers_read_the_music_through_the_path_map(
    cat: Catalogue, music: Path, tmp_path: Path, scheduler: str
) -> None:
    scanner.scan(cat, [music])
    # Where the workers mount the library is not where this machine found it.
    mounted = music.rename(tmp_path / "mnt")
    opts = DaskOptions(scheduler, parse_path_map([f"{music}={mounted}"]))
    report = pipeline.analyse(cat, device="cpu", dask=opts)
    assert report.analysed == _keys(cat) and _problems(cat) == []


def test_a_worker_that_cannot_read_the_music_stops_the_run(
    cat: Catalogue, music: Path, tmp_path: Path, scheduler: str
) -> None:
    scanner.scan(cat, [music])
    opts = DaskOptions(scheduler, parse_path_map([f"{music}={tmp_path / 'elsewhere'}"]))
    with pytest.raises(ClusterError, match=r"cannot read .*--path-map"):
        pipeline.analyse(cat, device="cpu", dask=opts)
    # A set-up problem, not broken files: nothing is marked as a problem, nothing half-written.
    assert _problems(cat) == [] and cat.integrity_ok()


def test_the_options_are_checked(
    music: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    table = parse_path_map(["/music=/mnt/music", "/music/rock=/srv/rock/"])
    assert map_path(b"/music/rock/a.flac", table) == b"/srv/rock/a.flac"
    assert map_path(b"/music/jazz/b.mp3", table) == b"/mnt/music/jazz/b.mp3"
    assert map_path(b"/musical/c.ogg", table) == b"/musical/c.ogg"
    assert local_workers("local:3") == 3 and local_workers("tcp://10.0.0.5:8786") is None
    db = str(tmp_path / "c.sqlite")
    assert main(["--db", db, "-q", "scan", str(music)]) == 0
    assert main(["--db", db, "-q", "analyse", "--dask", "local:0"]) == 1
    assert "expected local:N" in capsys.readouterr().err
    assert main(["--db", db, "-q", "analyse", "--dask", "local:1", "--path-map", "/m"]) == 1
    assert "expected FROM=TO" in capsys.readouterr().err
    assert main(["--db", db, "-q", "analyse", "--path-map", "/m=/n"]) == 1
    assert "add --dask" in capsys.readouterr().err
    monkeypatch.setattr(dask_backend, "CONNECT_TIMEOUT_S", 2)
    assert main(["--db", db, "-q", "analyse", "--dask", "tcp://127.0.0.1:1"]) == 1
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
