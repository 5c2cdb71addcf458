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
