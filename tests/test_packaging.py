"""The bundled resources load from an installed wheel, not only from a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (whl,) = out.glob("musicorg-*.whl")
    return whl


def test_wheel_carries_resources_and_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: GPL-3.0-or-later" in meta
    demo = [n for n in names if n.startswith("musicorg/resources/demo/")]
    assert any(n.endswith("CREDITS") for n in demo)
    assert sum(n.endswith(".opus") for n in demo) >= 60
    assert any(n.startswith("musicorg/resources/models/") for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)


def test_installed_wheel_reads_resources_through_the_package(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    code = (
        "import musicorg, musicorg.paths as p; "
        "print(musicorg.__file__); print(p.resources_dir()); "
        "print(sum(1 for f in p.demo_dir().iterdir() if f.suffix == '.opus'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=True,
    )
    module, resources, count = result.stdout.split()
    assert module.startswith(str(site)) and resources == str(site / "musicorg" / "resources")
    assert int(count) >= 60
