"""Reading ECSV tables through astropy with errors that name the file, line and column.

astropy's reader is the reference implementation of ECSV; we wrap it so that a truncated,
mis-encoded or hand-edited file yields one line a shifter can act on, never a traceback.
astropy is imported lazily: it costs ~0.4 s, paid only when a table must really be read.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osa_core.errors import InputError


@dataclass(frozen=True)
class EcsvTable:
    """Rows of an ECSV file as plain Python values, with each row's line number."""

    path: Path
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    lines: tuple[int, ...]


def read_ecsv(path: Path, label: str) -> EcsvTable:
    """Read ``path``; raise ``InputError`` naming ``label`` (e.g. ``RunSummary``) on trouble."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: {label} not found") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read {label}: {err.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: {label} is not UTF-8 text (byte {err.start})") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise InputError(f"{path}:{line}: {label} contains a NUL byte (corrupted file?)")
    if not text.lstrip().startswith("# %ECSV"):
        raise InputError(f"{path}:1: {label} is not an ECSV file (no '# %ECSV' header)")
    data_lines = [
        n
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not data_lines:
        raise InputError(f"{path}: {label} has no column-name line (truncated file?)")

    # heavy (astropy, ~0.4 s): imported only when a table is really read
    from astropy.io.ascii import ecsv  # noqa: F401  (registers the ECSV reader)
    from astropy.table import Table

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = Table.read(text, format="ascii.ecsv")
    except Exception as err:  # astropy raises many types for malformed input
        message = " ".join(str(err).split())[:200] or type(err).__name__
        raise InputError(f"{path}: {label} is not valid ECSV ({message})") from None

    row_lines = tuple(data_lines[1:])
    if len(row_lines) != len(table):
        raise InputError(
            f"{path}: {label} has {len(row_lines)} data lines but astropy read "
            f"{len(table)} rows (multi-line values are not allowed)"
        )
    columns = tuple(table.colnames)
    rows = []
    for index in range(len(table)):
        row: dict[str, Any] = {}
        for name in columns:
            value = table[name][index]
            if getattr(value, "mask", False) is True or _is_masked(table[name], index):
                row[name] = None
            else:
                row[name] = value.item() if hasattr(value, "item") else value
        rows.append(row)
    return EcsvTable(path=path, columns=columns, rows=tuple(rows), lines=row_lines)


def _is_masked(column: Any, index: int) -> bool:
    mask = getattr(column, "mask", None)
    if mask is None:
        return False
    try:
        return bool(mask[index])
    except (TypeError, IndexError):
        return False
