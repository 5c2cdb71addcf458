"""Remember what was read from each file, keyed by its path, mtime and size.

Why: opening a datacheck file costs ~10 ms (a run-wise row ~1 ms), and a night has up to
10,000 of them, while the console refreshes every few seconds and a file, once written,
never changes. Entries live in memory (shared by every refresh of the process) and in a
JSON file in the night's state folder, so ``osa dq`` and a restarted console do not read
the night again. A file whose mtime or size changed is read again; the JSON file only
ever holds the entries the last reader used, so it never grows beyond one night. A cache
that cannot be read or written (read-only state folder, corrupt JSON) is simply ignored.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from osa_core.dq.locate import FileStat
from osa_core.fsio import write_text_atomic

CACHE_VERSION = 2
MAX_MEMORY_ENTRIES = 100_000

_lock = threading.Lock()
_memory: dict[str, tuple[int, int, Any]] = {}
_loaded: dict[Path, int] = {}  # cache file -> mtime_ns of the copy merged into memory


def _key(kind: str, path: Path) -> str:
    return f"{kind}:{path}"


class FileCache:
    """One night's view of the cache: lookups, new entries, and what to write back."""

    def __init__(self, path: Path | None, enabled: bool = True) -> None:
        self.path = path if enabled else None
        self.enabled = enabled
        self.used: dict[str, tuple[int, int, Any]] = {}
        self.added = 0
        if self.path is not None:
            self._load(self.path)

    @staticmethod
    def _load(path: Path) -> None:
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return
        with _lock:
            if _loaded.get(path) == mtime:
                return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            return
        entries = data.get("entries")
        if not isinstance(entries, dict):
            return
        with _lock:
            for key, entry in entries.items():
                if isinstance(entry, list) and len(entry) == 3 and key not in _memory:
                    _memory[key] = (int(entry[0]), int(entry[1]), entry[2])
            _loaded[path] = mtime

    def get(self, kind: str, stat: FileStat) -> Any | None:
        if not self.enabled:
            return None
        key = _key(kind, stat.path)
        with _lock:
            entry = _memory.get(key)
        if entry is None or entry[0] != stat.mtime_ns or entry[1] != stat.size:
            return None
        self.used[key] = entry
        return entry[2]

    def put(self, kind: str, stat: FileStat, value: Any) -> None:
        if not self.enabled:
            return
        key = _key(kind, stat.path)
        entry = (stat.mtime_ns, stat.size, value)
        with _lock:
            if len(_memory) >= MAX_MEMORY_ENTRIES:
                for old in list(_memory)[: MAX_MEMORY_ENTRIES // 10]:
                    del _memory[old]
            _memory[key] = entry
        self.used[key] = entry
        self.added += 1

    def save(self) -> None:
        """Write the entries this night used, if anything new was read (best effort)."""
        if self.path is None or not self.added:
            return
        data = {
            "version": CACHE_VERSION,
            "entries": {key: list(entry) for key, entry in sorted(self.used.items())},
        }
        try:
            write_text_atomic(self.path, json.dumps(data, separators=(",", ":")))
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return
        with _lock:
            _loaded[self.path] = mtime
        self.added = 0


def clear_memory() -> None:
    """Forget everything held in memory (tests; ``osa dq --no-cache``)."""
    with _lock:
        _memory.clear()
        _loaded.clear()
