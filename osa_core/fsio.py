"""Crash-safe file writing: write to a temporary sibling, fsync, then rename.

A reader (another process, the console, a job on another node) only ever sees the old or
the new complete file, never a half-written one; a crash leaves at most a ``.tmp`` file
that the next writer ignores and overwrites. Files are group-readable and never
world-writable (umask 0o027 for what we create).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o640
DIR_MODE = 0o750


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) group-readable, not world-accessible."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    return path


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Yield a file object; on clean exit it atomically replaces ``path``."""
    ensure_dir(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Persist a rename: without it a power cut can forget the new directory entry."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def write_text_atomic(path: Path, text: str) -> None:
    """Atomically replace ``path`` with ``text``."""
    with atomic_writer(path) as handle:
        handle.write(text)


def write_json_atomic(path: Path, data: Any) -> None:
    """Atomically replace ``path`` with pretty JSON (stable key order for diffs)."""
    with atomic_writer(path) as handle:
        json.dump(data, handle, indent=2, sort_keys=True, default=str)
        handle.write("\n")


def append_line(path: Path, line: str) -> None:
    """Append one complete line with a single ``write`` on an O_APPEND descriptor.

    POSIX makes O_APPEND writes land at the end atomically with respect to other appenders
    on a local filesystem; a line is written whole or (on a crash) truncated at the end,
    which readers skip. Used for journals and step histories (JSON lines).

    An append always starts on a fresh line: when the file does not end with a newline (a
    crash tore its last line), one is written first, in the same ``write``. Otherwise the
    new record would be glued to the torn one and both lost to readers (in the journal, a
    lost submission is a submission made twice). A race between two appenders can at worst
    leave an empty line, which readers skip.
    """
    if "\n" in line:
        raise ValueError("a journal line must not contain a newline")
    ensure_dir(path.parent)
    data = (line + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"{path}: short write ({written} of {len(data)} bytes), disk full?")
        os.fsync(fd)
    finally:
        os.close(fd)


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file, skipping a torn last line left by a crash."""
    records: list[dict[str, Any]] = []
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return records
    for chunk in raw.split(b"\n"):
        if not chunk.strip():
            continue
        try:
            value = json.loads(chunk)
        except (ValueError, UnicodeDecodeError):
            continue  # a torn or corrupted line: never taken as a record
        if isinstance(value, dict):
            records.append(value)
    return records
