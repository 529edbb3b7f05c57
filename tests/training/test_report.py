"""training.report end to end on the prepared corpus and one real training run.

Skipped where the feature cache or a run is absent (CI has neither): nothing here trains.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from musicorg import paths
from musicorg.analyse.features import FEATURES_VERSION

# Read before the autouse fixture points MUSICORG_CACHE_DIR at a temporary directory.
CACHE = paths.cache_dir()
FEATURES = CACHE / "corpus" / f"features-v{FEATURES_VERSION}.npz"
LYRICS_SPLIT = CACHE / "corpus" / "lyrics_split.json"
REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "training" / "configs" / "paper.toml"


def _a_run() -> Path | None:
    for d in sorted((CACHE / "runs").glob("paper-seed*")):
        if (d / "checkpoint.pt").exists() and (d / "run.json").exists():
            return d
    return None


@pytest.mark.slow
def test_report_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not FEATURES.exists() or not LYRICS_SPLIT.exists():
        pytest.skip(f"no prepared corpus at {FEATURES.parent}")
    run = _a_run()
    if run is None:
        pytest.skip(f"no paper-seed* run in {CACHE / 'runs'}")
    pytest.importorskip("matplotlib")
    from training import report

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    out = tmp_path / "report"
    report.main(
        [
            "--config", str(CONFIG),
            "--seeds", "1", "99",
            "--run", f"paper-seed1={run}",
            "--runs-dir", str(tmp_path / "no-runs"),
            "--features", str(FEATURES),
            "--lyrics-split", str(LYRICS_SPLIT),
            "--permutations", "5",
            "--bootstrap", "50",
            "--out", str(out),
        ]
    )  # fmt: skip
    page = (out / "REPORT.md").read_text(encoding="utf-8")
    assert "## Done when" in page
    assert "| paper-seed99 |" in page and "**missing**" in page
    assert "VAE+DBSCAN (paper, 1 seed)" in page
    assert "PCA-32 + K-Means" in page and "handcrafted 78-d + K-Means" in page
    assert "chance (labels permuted, 5×)" in page
    figs = sorted(p.name for p in (out / "figures").glob("*.png"))
    for name in ("training_losses", "reconstructions", "projections", "confusion", "sizes"):
        assert f"{name}.png" in figs
        assert f"(figures/{name}.png)" in page
    assert sum(p.stat().st_size for p in (out / "figures").iterdir()) < 3_000_000
