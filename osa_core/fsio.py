"""Crash-safe file writing: write to a temporary sibling, fsync, then rename.

A reader (another process, the console, a job on another node) only ever sees the old or
the new complete file, never a half-written one; a crash leaves at most a ``.tmp`` file
that the next writer ignores and overwrites.

Modes are set explicitly, whatever the caller's umask: a night is run by a team of
operators who share a Unix group, and any of them must be able to resubmit, give up or
close a night another one started (append to its journal and histories, take its lock,
write its local executor database, replace its files). So, for everything osa creates:

* folders ``DIR_MODE`` = 0o2770: group-writable, and setgid so that what is created in
  them keeps the night's group (not the creator's primary group);
* files ``FILE_MODE`` = 0o660 (job scripts ``EXEC_MODE`` = 0o770): group-writable;
* nothing world-writable, nor world-readable: as before, a night's files are the group's.

With umask 000 a plain ``mkdir`` would give 0777 folders, with 077 a 0600 journal no other
operator can append to; here a created path is ``chmod``-ed to its mode right after it is
created (never an existing one: it may be another operator's). ``SHARED_UMASK`` (0o007)
is the umask osa gives the processes it starts (the CLI, jobs, the analysis tools), for
files it does not create itself (tools' outputs, SLURM's job logs).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from osa_core.errors import filesystem_error

FILE_MODE = 0o660
EXEC_MODE = 0o770
DIR_MODE = 0o2770
SHARED_UMASK = 0o007


@contextlib.contextmanager
def failing_as(doing: str, path: Path) -> Iterator[None]:
    """An ``OSError`` inside becomes a ``FilesystemError``: one line saying what was being
    done and where (``cannot write /…/journal.jsonl: Permission denied``), exit code 6."""
    try:
        yield
    except OSError as err:
        raise filesystem_error(err, doing, path) from err


def ensure_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents with ``DIR_MODE``, whatever the umask."""
    if path.is_dir():
        return path
    missing = []
    folder = path
    while not folder.is_dir() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        with failing_as("create folder", folder):
            try:
                folder.mkdir(mode=DIR_MODE)
            except FileExistsError:
                if folder.is_dir():
                    continue  # created meanwhile by another process: its mode is its own
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)) from None
            os.chmod(folder, DIR_MODE)
    return path


def open_shared(path: Path, flags: int) -> int:
    """``os.open`` creating the file if needed; a file it creates gets ``FILE_MODE``,
    whatever the umask (an existing one keeps its mode: it may be another operator's)."""
    while True:
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            try:
                return os.open(path, flags & ~os.O_CREAT)
            except FileNotFoundError:
                continue  # removed between the two calls: create it after all
        try:
            os.fchmod(fd, FILE_MODE)
        except BaseException:
            os.close(fd)
            raise
        return fd


@contextlib.contextmanager
def atomic_writer(
    path: Path, mode: str = "w", encoding: str | None = "utf-8", file_mode: int = FILE_MODE
) -> Iterator[IO[Any]]:
    """Yield a file object; on clean exit it atomically replaces ``path`` (``file_mode``)."""
    ensure_dir(path.parent)
    with failing_as("write", path):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), file_mode)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(err, OSError) and err.filename is None:  # this file's (disk full...)
            raise filesystem_error(err, "write", path) from err
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


def write_text_atomic(path: Path, text: str, file_mode: int = FILE_MODE) -> None:
    """Atomically replace ``path`` with ``text``."""
    with atomic_writer(path, file_mode=file_mode) as handle:
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
    with failing_as("write", path):
        fd = open_shared(path, os.O_RDWR | os.O_APPEND)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(
                    errno.ENOSPC, f"short write ({written} of {len(data)} bytes), disk full?"
                )
            os.fsync(fd)
        finally:
            os.close(fd)


def split_lines(raw: bytes) -> list[tuple[int, bytes, bool]]:
    """``(line number from 1, content, ended by a newline)`` for each line of ``raw``."""
    chunks = raw.split(b"\n")
    lines = [(number, chunk, True) for number, chunk in enumerate(chunks[:-1], start=1)]
    if chunks[-1]:
        lines.append((len(chunks), chunks[-1], False))
    return lines


def json_record(chunk: bytes) -> dict[str, Any] | None:
    """The JSON object on this line, or None (torn, corrupted, or not an object)."""
    try:
        value = json.loads(chunk)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class JsonLines:
    """A JSON-lines file as read: its records, and the lines that are not records.

    A line is complete once its newline is written (``append_line`` writes both at once).
    ``malformed`` are complete lines that are not a JSON object; ``unterminated`` is the
    last line when it has no newline and is not a record: a crash tore it, or a writer is
    writing it at this very moment (only the writer's lock can tell which)."""

    records: tuple[tuple[int, dict[str, Any]], ...] = ()
    malformed: tuple[int, ...] = ()
    unterminated: int | None = None


def scan_json_lines(path: Path) -> JsonLines:
    """Read a JSON-lines file; what is not a record is skipped, and counted."""
    with failing_as("read", path):
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return JsonLines()
    records, malformed, unterminated = [], [], None
    for number, chunk, complete in split_lines(raw):
        if not chunk.strip():
            continue  # an empty line (appends after a torn line may leave one): harmless
        record = json_record(chunk)
        if record is not None:
            records.append((number, record))
        elif complete:
            malformed.append(number)
        else:
            unterminated = number
    return JsonLines(tuple(records), tuple(malformed), unterminated)


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file, skipping lines that are not records (a torn last line left
    by a crash, a corrupted one): never taken as a record."""
    return [record for _, record in scan_json_lines(path).records]
