"""The engine never imports Textual (checked in a fresh interpreter)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import osa_core


def test_osa_core_imports_without_textual() -> None:
    modules = [
        m.name
        for m in pkgutil.walk_packages(osa_core.__path__, "osa_core.")
        if ".demo" not in m.name
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith(('textual.', "
        "'osa_tui')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(modules) > 10
    assert out.stdout.strip() == ""


def test_planning_does_not_import_heavy_analysis_libraries() -> None:
    """Start-up cost: the CLI entry must not pull lstchain/ctapipe/pandas/astropy."""
    code = (
        "import sys, osa_core.cli.main as m, osa_core.plan, osa_core.jobs\n"
        "print(','.join(sorted(x for x in ('lstchain','ctapipe','pandas','astropy',"
        "'matplotlib','textual') if x in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that import each other in a loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycle_in_the_engine() -> None:
    """Every import counts, those inside functions too (grimp sees them): a loop of
    modules importing each other is a layer that does not only look down."""
    import grimp

    graph = grimp.build_graph("osa_core")
    edges = {
        module: {
            target
            for target in graph.find_modules_directly_imported_by(module)
            if target.startswith("osa_core")
        }
        for module in graph.modules
    }
    assert len(edges) > 50  # the whole engine was read
    assert _strongly_connected(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"]
    ]
