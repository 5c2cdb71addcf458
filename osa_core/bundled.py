"""Data files shipped inside the distribution: the default configs and the console themes.

The files people edit live at the top of the repository, ``config/`` and ``themes/``;
setup.py maps those folders into the installed packages as ``osa_core.defaults`` and
``osa_tui.bundled_themes``, so a plain ``pip install`` (a wheel) carries them, and an
installed copy reads them with ``importlib.resources``.

A source checkout run in place (PYTHONPATH, or an editable install) reads the top-level
folders themselves: an edit shows at once, and a second checkout (a git worktree using a
shared virtualenv) never reads the files of the checkout that virtualenv was installed from.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importlib.abc costs ~4 ms at import: only a checkout's path is needed then
    from importlib.abc import Traversable

_ROOT = Path(__file__).resolve().parent.parent


def source_checkout() -> Path | None:
    """The repository this code runs from, or None for an installed copy.

    A checkout has pyproject.toml beside the packages; site-packages never has.
    """
    return _ROOT if (_ROOT / "pyproject.toml").is_file() else None


def data_folder(package: str, folder: str) -> Traversable:
    """The shipped folder: ``folder`` of the checkout, else the data package ``package``."""
    checkout = source_checkout()
    if checkout is not None and (checkout / folder).is_dir():
        return checkout / folder
    from importlib.resources import files

    return files(package)
