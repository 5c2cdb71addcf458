"""A plain (non-editable) ``pip install`` carries the default configs and the themes.

The package is installed from a copy of this checkout into a fresh virtualenv, and checked
from there, far from the checkout: the default config is found inside the installed
package, every theme loads, and the console opens headless in each theme on a small
generated night.

The installed copy gets its dependencies (textual, msgspec, numpy, ...) from the virtualenv
running the tests, through a ``.pth`` line, so nothing is downloaded but the build backend
of the ``pip install`` itself (from the package index pip is configured with, or its cache).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

# Runs with the installed copy. Prints one JSON line with what it saw.
CHILD = r"""
import asyncio, datetime as dt, json, sys, tempfile
from pathlib import Path

import osa_core, osa_tui
from osa_core.config import DEFAULT_CONFIG, find_config_path, load_config
from osa_core.bundled import source_checkout
from osa_core.demo.night import DEMO_TEMPLATE
from osa_core.generator import NightSpec, generate_night
from osa_tui.app import OsaApp
from osa_tui.engine import Engine
from osa_tui.screens.night import NightScreen
from osa_tui.serve import OsaServer
from osa_tui.themes import load_themes

NIGHT = dt.date(2020, 2, 18)
site = load_config(check_paths=False)
base = Path(tempfile.mkdtemp())
generate_night(base, NightSpec(night=NIGHT, data_runs=1, subruns=3))
(base / "osa.toml").write_text('[paths]\nbase = "."\n[executor]\nkind = "local"\n')
config = load_config(base / "osa.toml")


async def open_console(theme):
    app = OsaApp(Engine(config, read_only=True), NIGHT, theme=theme, live_refresh=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        return {"theme": app.theme, "screen": type(app.screen).__name__,
                "night_screen": isinstance(app.screen, NightScreen)}


themes = sorted(load_themes())
print(json.dumps({
    "osa_core": osa_core.__file__,
    "osa_tui": osa_tui.__file__,
    "checkout": str(source_checkout()),
    "default_config": str(DEFAULT_CONFIG),
    "found_config": str(find_config_path(None)),
    "default_config_is_file": DEFAULT_CONFIG.is_file(),
    "demo_template_is_file": DEMO_TEMPLATE.is_file(),
    "serve_page": "sessionWebsocketUrl" in OsaServer("true", token="t" * 16).page.template,
    "site_base": str(site.paths.base),
    "themes": themes,
    "opened": [asyncio.run(open_console(theme)) for theme in themes],
}))
"""


def _copy_checkout(dest: Path) -> Path:
    """What a ``pip install .`` sees, without the checkout's build leftovers and caches
    (an in-tree ``build/`` could otherwise leak stale files into the wheel)."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "osa-demo"
    )
    shutil.copytree(REPO, dest, ignore=ignore)
    return dest


def test_plain_install_ships_configs_and_themes(tmp_path: Path) -> None:
    source = _copy_checkout(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    install = subprocess.run(
        [*pip, "install", "-q", "--no-deps", str(source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    shutil.rmtree(source)  # the installed copy must not need it
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
    )
    # Dependencies from the environment running the tests (appended: the installed copy
    # comes first; the .pth files of that environment, e.g. an editable install, are not
    # processed for a directory added this way).
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site_packages / "test-deps.pth").write_text("\n".join(sorted(deps)) + "\n")

    child = subprocess.run(
        [str(python), "-c", CHILD],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the checkout: its packages must not be importable
        env={**env, "OSA_CONFIG": ""},
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    seen = json.loads(child.stdout.strip().splitlines()[-1])

    assert seen["osa_core"].startswith(str(site_packages))
    assert seen["osa_tui"].startswith(str(site_packages))
    assert seen["checkout"] == "None"
    installed_config = site_packages / "osa_core" / "defaults" / "osa.toml"
    assert seen["default_config"] == seen["found_config"] == str(installed_config)
    assert seen["default_config_is_file"] and seen["demo_template_is_file"]
    assert seen["serve_page"]  # osa serve's page (osa_tui/serve_index.html) is shipped
    assert seen["site_base"] == "/fefs/aswg/data/real"
    repo_themes = sorted(p.stem for p in (REPO / "themes").glob("*.toml"))
    assert len(seen["themes"]) == len(repo_themes) >= 4
    assert [opened["theme"] for opened in seen["opened"]] == seen["themes"]
    assert all(opened["night_screen"] for opened in seen["opened"]), seen["opened"]
