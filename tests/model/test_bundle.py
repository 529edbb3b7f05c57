"""The PyInstaller bundle's entry point and spec, without building the bundle (`make bundle`)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

import musicorg

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "packaging" / "bundle_entry.py"
SPEC = ROOT / "packaging" / "musicorg.spec"


def _entry() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bundle_entry", ENTRY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ENTRY), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_entry_runs_the_umap_worker_command_line() -> None:
    # mapping.py starts `sys.executable -m musicorg.organise.umap_worker ...`; frozen, that is
    # the bundle.
    result = _run("-m", "musicorg.organise.umap_worker", "--help")
    assert result.returncode == 0, result.stderr
    assert "musicorg.organise.umap_worker" in result.stdout and "--neighbors" in result.stdout


def test_entry_runs_the_musicorg_command() -> None:
    result = _run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"musicorg {musicorg.__version__}"


@pytest.mark.parametrize("original", [None, "/opt/lib"])
def test_frozen_children_get_the_users_library_path(
    monkeypatch: pytest.MonkeyPatch, original: str | None
) -> None:
    entry = _entry()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", "/bundle/_internal")
    if original is None:
        monkeypatch.delenv("LD_LIBRARY_PATH_ORIG", raising=False)
    else:
        monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", original)
    entry.restore_library_path()
    assert os.environ.get("LD_LIBRARY_PATH") == original
    assert "LD_LIBRARY_PATH_ORIG" not in os.environ


def test_not_frozen_leaves_the_library_path_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = _entry()
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", "/somewhere")
    entry.restore_library_path()
    assert os.environ["LD_LIBRARY_PATH"] == "/somewhere"


def test_spec_puts_resources_where_the_wheel_does() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel_dest = project["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    text = SPEC.read_text()
    (dest,) = re.findall(r'"resources"\),\s*"([^"]+)"', text)
    assert dest == wheel_dest["resources"] == "musicorg/resources"
    assert 'collect_submodules("musicorg")' in text  # children find functions by module name


def test_bundle_extra_is_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = {
        re.split(r"[=<>!~ ]", line, maxsplit=1)[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    for req in project["project"]["optional-dependencies"]["bundle"]:
        name = re.split(r"[=<>!~\[ ;]", req, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in constraints.txt"
