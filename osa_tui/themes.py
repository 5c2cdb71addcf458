"""Themes are data files (themes/*.toml) loaded at start, not code.

Each file gives Textual's theme colours plus ``[states]``: the colour of each job state in
the subrun grid and tables. Symbols (osa_tui.symbols) carry the state too, so no theme
relies on colour alone.

The files ship inside the installed package as ``osa_tui.bundled_themes`` (see
osa_core/bundled.py): an installed console has its themes without the repository.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.theme import Theme

from osa_core.bundled import data_folder
from osa_core.errors import ConfigError

if TYPE_CHECKING:
    from importlib.abc import Traversable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

THEMES_DIR = data_folder("osa_tui.bundled_themes", "themes")
_THEME_KEYS = {
    "name",
    "dark",
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "success",
    "warning",
    "error",
    "states",
}


@dataclass(frozen=True)
class OsaTheme:
    theme: Theme
    states: dict[str, str]


def load_theme(path: Traversable) -> OsaTheme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read theme: {err}") from None
    unknown = set(data) - _THEME_KEYS
    if unknown:
        raise ConfigError(f"{path.name}: unknown theme key(s) {', '.join(sorted(unknown))}")
    if "name" not in data or "primary" not in data:
        raise ConfigError(f"{path.name}: a theme needs at least name and primary")
    states = {str(k): str(v) for k, v in (data.pop("states", None) or {}).items()}
    try:
        theme = Theme(**data)
        theme.to_color_system()  # validates the colours now, not at first paint
    except Exception as err:
        raise ConfigError(f"{path.name}: invalid theme: {err}") from None
    return OsaTheme(theme=theme, states=states)


def load_themes(directory: Traversable = THEMES_DIR) -> dict[str, OsaTheme]:
    """Every ``*.toml`` theme of ``directory`` (a folder, or the installed data package)."""
    files = sorted((p for p in directory.iterdir() if p.name.endswith(".toml")), key=_name)
    return {t.theme.name: t for t in (load_theme(p) for p in files)}


def _name(path: Traversable) -> str:
    return path.name
