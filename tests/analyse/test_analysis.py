"""The analyse stage end to end: real audio, the real bundled model, a real catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import func, select

from musicorg.analyse import analysis
from musicorg.analyse.features import FEATURES_VERSION
from musicorg.app import pipeline
from musicorg.cli import main
from musicorg.ingest import scanner
from musicorg.jobs import Cancelled
from musicorg.store import vectors as store_vectors
from musicorg.store.analyses import ANALYSE_STAGE
from musicorg.store.db import Analysis, Catalogue, Embedding, Problem, Track


def _count(cat: Catalogue, table: type) -> int:
    with cat.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _distinct_keys(cat: Catalogue) -> int:
    with cat.read() as conn:
        return int(
            conn.execute(
                select(func.count(func.distinct(Track.content_key))).where(Track.missing.is_(False))
            ).scalar_one()
        )


def test_analyse_real_library(cat: Catalogue, music: Path, tmp_path: Path) -> None:
    sf.write(music / "silence.wav", np.zeros(22050 * 3, dtype=np.float32), 22050)
    (music / "cut.mp3").write_bytes(next(music.rglob("*.mp3")).read_bytes()[:3000])
    scanner.scan(cat, [music])
    report = pipeline.analyse(cat, device="cpu", workers=1)
    keys = _distinct_keys(cat)
    with cat.read() as conn:
        analysed = conn.execute(
            select(func.count()).where(Analysis.features_version == FEATURES_VERSION)
        ).scalar_one()
        problems = conn.execute(select(Problem.kind).where(Problem.stage == ANALYSE_STAGE)).all()
    assert analysed + len(problems) == keys
    assert any(p.endswith("silence.wav") for p in report.weak)
    version = store_vectors.active_model_version(cat)
    assert version == report.model_version and report.device == "cpu"
    names, _ids, vectors = store_vectors.embeddings(cat, version)
    assert vectors.shape == (len(names), 32) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    # The same piece in several formats lands closer to itself than to other pieces.
    vibe = [i for i, n in enumerate(names) if "vibe_ace" in n]
    other = [i for i, n in enumerate(names) if "vibe_ace" not in n and "silence" not in n]
    within = np.linalg.norm(vectors[vibe][:, None] - vectors[vibe][None], axis=-1).mean()
    across = np.linalg.norm(vectors[vibe][:, None] - vectors[other][None], axis=-1).mean()
    assert within < across
    # MusiCNN's vector and tags are stored beside the features, from three 3-s patches (one
    # where the file is shorter than 6 s), and the same piece in several formats gets nearly
    # the same vector.
    with cat.read() as conn:
        rows = conn.execute(
            select(Track.display, Analysis.musicnn, Analysis.tags, Analysis.n_patches)
            .join(Analysis, Analysis.content_key == Track.content_key)
            .where(Analysis.features_version == FEATURES_VERSION)
        ).all()
    teacher = {d: np.frombuffer(v, np.float32) for d, v, _, _ in rows}
    for _display, vec, tags, n in rows:
        probs = np.frombuffer(tags, np.float32)
        assert np.frombuffer(vec, np.float32).shape == (200,) and probs.shape == (50,)
        assert ((probs >= 0) & (probs <= 1)).all() and n in (1, 2, 3)
    vibes = np.stack([v for d, v in teacher.items() if "vibe_ace" in d])
    unit = vibes / np.linalg.norm(vibes, axis=1, keepdims=True)
    assert float((unit @ unit.T).min()) > 0.95
    # A second run has nothing left to do.
    again = pipeline.analyse(cat, device="cpu")
    assert again.analysed == 0 and again.embedded == 0


@pytest.mark.both_catalogues
def test_cancel_then_resume_without_redoing(cat: Catalogue, music: Path) -> None:
    scanner.scan(cat, [music])
    seen = []

    def cancel() -> bool:
        return len(seen) >= 3

    def progress(done: int, total: int, _text: str) -> None:
        if done:
            seen.append(done)

    with pytest.raises(Cancelled):
        analysis.analyse_features(cat, progress=progress, cancel=cancel)
    assert cat.integrity_ok()
    first = _count(cat, Analysis)
    assert 0 < first < _distinct_keys(cat)
    rest = pipeline.analyse(cat, device="cpu")
    assert rest.analysed == _distinct_keys(cat) - first
    assert _count(cat, Embedding) == _distinct_keys(cat)


@pytest.mark.both_catalogues
def test_features_of_an_older_version_are_replaced(cat: Catalogue, music: Path) -> None:
    """After a FEATURES_VERSION change every track is analysed again, and the old rows go."""
    scanner.scan(cat, [music])
    analysis.analyse_features(cat)
    with cat.begin() as conn:
        conn.execute(Analysis.__table__.update().values(features_version=FEATURES_VERSION - 1))
    old = _count(cat, Analysis)
    again = analysis.analyse_features(cat)
    assert again.analysed == old == _distinct_keys(cat)
    with cat.read() as conn:
        versions = conn.execute(select(Analysis.features_version).distinct()).scalars().all()
    assert versions == [FEATURES_VERSION] and _count(cat, Analysis) == old


def test_pool_of_processes_gives_the_same_features(cat: Catalogue, music: Path) -> None:
    scanner.scan(cat, [music])
    analysis.analyse_features(cat, workers=2)
    with cat.read() as conn:
        pooled = dict(conn.execute(select(Analysis.content_key, Analysis.features)).all())
    with cat.begin() as conn:
        conn.execute(Analysis.__table__.delete())
    analysis.analyse_features(cat, workers=1)
    with cat.read() as conn:
        inline = dict(conn.execute(select(Analysis.content_key, Analysis.features)).all())
    assert pooled.keys() == inline.keys()
    for key, blob in pooled.items():
        np.testing.assert_allclose(
            np.frombuffer(blob, np.float32), np.frombuffer(inline[key], np.float32), atol=1e-4
        )


def test_cli_analyse_and_embeddings(
    music: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "c.sqlite")
    # Before any scan there is nothing to analyse: say what to run first.
    assert main(["--db", db, "-q", "analyse", "--device", "cpu"]) == 1
    assert "run `musicorg scan DIR` first" in capsys.readouterr().err
    assert main(["--db", db, "-q", "scan", str(music)]) == 0
    assert main(["--db", db, "-q", "analyse", "--device", "cpu", "--workers", "1"]) == 0
    out = tmp_path / "emb.npz"
    assert main(["--db", db, "embeddings", str(out)]) == 0
    data = np.load(out)
    assert data["vectors"].dtype == np.float32 and data["vectors"].shape[1] == 32
    assert len(data["paths"]) == len(data["vectors"]) == len(list(music.rglob("*.*")))
    assert all(str(p).startswith(str(music)) for p in data["paths"])
    json.dumps([str(p) for p in data["paths"]])
