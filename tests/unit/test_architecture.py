"""The shape of the code: no import cycles in ``src/``, and imports that point down the flow.

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a cycle hidden in a
function is still a tangle for the reader. Importing ``a.b.c`` from outside ``a.b`` also runs
``a/b/__init__.py``, so it depends on that package too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# The flow, lowest first: a part may import parts of a lower rank, never of its own or a higher
# one (its own folder excepted). Sources (http) sit above the service (runtime) they feed.
RANKS = {
    "__init__": 0, "errors": 0, "wakeup": 0, "supervise": 0,
    "config": 1, "schema": 1, "metrics": 1, "datadir": 1, "control": 1,
    "normalise": 2, "spool": 2, "sinks": 2,
    "plan": 3,
    "batch": 4, "privacy": 4, "accounts": 4, "backup": 4,
    "runtime": 5, "dashboard": 5,
    "http": 6, "consume": 6,
    "cli": 7,
    "__main__": 8,
}  # fmt: skip


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module → the modules of this package it imports (any import, anywhere in the file)."""
    files = {module_name(p, src): p for p in src.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in files else base)
            for target in targets:
                deps.update(_with_packages(target, name, files))
        graph[name] = deps - {name}
    return graph


def _with_packages(target: str, importer: str, files: Mapping[str, Path]) -> set[str]:
    """``target`` and the packages whose ``__init__`` importing it runs, seen from ``importer``."""
    found = {target} if target in files else set()
    parts = target.split(".")
    for cut in range(1, len(parts)):
        package = ".".join(parts[:cut])
        if package in files and not (importer + ".").startswith(package + "."):
            found.add(package)
    return found


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def part(module: str) -> str:
    return module.split(".")[1] if "." in module else "__init__"


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    package = tmp_path / "tracker"
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("")
    (package / "a" / "x.py").write_text("from tracker.b import y\n")
    (package / "b.py").write_text("def f():\n    from tracker.a.x import thing\n")
    assert cycles(import_graph(tmp_path)) == [["tracker.a.x", "tracker.b"]]


def test_there_is_no_import_cycle_in_src() -> None:
    assert cycles(import_graph()) == []


def test_every_part_of_src_has_a_rank_in_the_flow() -> None:
    assert {part(module) for module in import_graph()} <= set(RANKS)


def test_imports_point_down_the_flow() -> None:
    upward = sorted(
        f"{module} imports {dep}"
        for module, deps in import_graph().items()
        for dep in deps
        if part(dep) != part(module) and RANKS[part(dep)] >= RANKS[part(module)]
    )
    assert upward == []


def test_a_part_importing_one_of_a_higher_rank_is_caught(tmp_path: Path) -> None:
    package = tmp_path / "tracker"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "spool.py").write_text("if False:\n    from tracker.runtime import Runtime\n")
    (package / "runtime.py").write_text("")
    graph = import_graph(tmp_path)
    assert graph["tracker.spool"] == {"tracker.runtime"}
    assert RANKS[part("tracker.runtime")] > RANKS[part("tracker.spool")]
