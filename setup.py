"""Packaging layout only; everything else is in pyproject.toml.

Why this file: the default configs (config/) and the console themes (themes/) are edited at
the top of the repository, and must also be inside the installed distribution, where the
code finds them with importlib.resources (osa_core/bundled.py). setuptools ships a folder
as a package with ``package_dir``; pyproject.toml can give ``package_dir`` only together
with an explicit package list, which would silently leave out any package added later.
Here the list is discovered, and the two data packages are added to it.
"""

from setuptools import find_packages, setup  # type: ignore[import-untyped, unused-ignore]

# data package -> the top-level folder it is built from
DATA_PACKAGES = {"osa_core.defaults": "config", "osa_tui.bundled_themes": "themes"}

setup(
    packages=[
        *find_packages(include=["osa_core", "osa_core.*", "osa_tui", "osa_tui.*"]),
        *DATA_PACKAGES,
    ],
    package_dir=DATA_PACKAGES,
    package_data={"osa_tui": ["*.tcss", "*.html"], **{name: ["*.toml"] for name in DATA_PACKAGES}},
)
