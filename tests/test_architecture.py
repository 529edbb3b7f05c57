"""The shape of the code: no import cycles, small functions, lazy imports that say why, and
tests that mirror the packages. (The layers themselves are import-linter contracts in
``.importlinter``, checked by ``make lint``.)"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("musicorg", "training")
MAX_LINES = 80
#: A function longer than MAX_LINES carries a comment starting with this, saying why.
ONE_PIECE = "# One piece:"


def _modules(package: str) -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imported(name: str, node: ast.Import | ast.ImportFrom, is_package: bool) -> Iterator[str]:
    """The dotted names an import statement in module ``name`` may refer to."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        parts = name.split(".") if is_package else name.split(".")[:-1]
        parts = parts[: len(parts) - node.level + 1]
        base = ".".join([*parts, *([node.module] if node.module else [])])
    yield base
    yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(package: str) -> dict[str, set[str]]:
    """Module → the modules of the same package it imports, at any depth of its code."""
    modules = _modules(package)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _imported(name, node, path.name == "__init__.py"):
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                # (A module's own package __init__ does not count.)
                if target and target not in (package, name) and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function() -> None:
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}}
    assert cycles(graph) == [["p.a", "p.b", "p.c"]]
    assert cycles({"p.a": {"p.b"}, "p.b": set()}) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package: str) -> None:
    graph = import_graph(package)
    assert len(graph) > 5
    assert cycles(graph) == []


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


@pytest.mark.parametrize("package", PACKAGES)
def test_long_functions_say_why_they_are_one_piece(package: str) -> None:
    too_long = []
    for name, path in _modules(package).items():
        lines = path.read_text("utf-8").splitlines()
        for fn in _functions(ast.parse("\n".join(lines))):
            end = fn.end_lineno or fn.lineno
            if end - fn.lineno + 1 <= MAX_LINES:
                continue
            body = lines[fn.lineno - 1 : end]
            if not any(line.strip().startswith(ONE_PIECE) for line in body):
                too_long.append(f"{name}.{fn.name} ({end - fn.lineno + 1} lines)")
    assert too_long == [], f"split these, or say why in a '{ONE_PIECE}' comment"


def test_lazy_imports_say_why() -> None:
    """An import inside a function is there for start-up time (or a child process); a comment
    on its line or the line above says which."""
    silent = []
    for name, path in _modules("musicorg").items():
        lines = path.read_text("utf-8").splitlines()
        for fn in _functions(ast.parse("\n".join(lines))):
            for node in ast.walk(fn):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                here = lines[node.lineno - 1]
                above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
                # A group of lazy imports shares the comment above its first line.
                k = node.lineno - 2
                while k > 0 and lines[k].strip().startswith(("from ", "import ", ")")):
                    k -= 1
                group_above = lines[k].strip() if k >= 0 else ""
                if (
                    "#" not in here
                    and not above.startswith("#")
                    and not (group_above.startswith("#"))
                ):
                    silent.append(f"{name}:{node.lineno}")
    assert silent == []


def test_tests_mirror_the_packages() -> None:
    code = {p.name for p in (ROOT / "musicorg").iterdir() if (p / "__init__.py").exists()}
    tests = {p.name for p in (ROOT / "tests").iterdir() if (p / "__init__.py").exists()}
    assert tests - code - {"training"} == set()
    assert {"store", "ingest", "analyse", "model", "organise", "io", "app", "cli", "gui"} <= tests


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        (
            "musicorg.cli",
            ("numpy", "torch", "PySide6", "scipy", "librosa", "sklearn", "dask", "psycopg"),
        ),
        ("musicorg.io.m3u", ("librosa", "scipy", "soundfile", "soxr", "torch", "PySide6")),
        (
            "musicorg.app.pipeline",
            ("torch", "PySide6", "librosa", "scipy", "sklearn", "dask", "distributed", "faiss"),
        ),
        ("musicorg.store.db", ("psycopg", "dask", "faiss")),
    ],
)
def test_light_imports(module: str, absent: tuple[str, ...]) -> None:
    """What start-up and the light stages must not pull in (a fresh interpreter each)."""
    code = f"import sys, {module}\nprint(','.join(m for m in {absent!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == ""
