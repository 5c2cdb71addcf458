"""Finalising a closed night: move products to the final tree, manifest, NightFinished.

Copy, verify, record, then remove, never remove first: each product is copied under a
temporary name, its SHA-256 compared with the source's, renamed into place, recorded in
``moves.jsonl`` (append-only), and only then removed from the running tree. A closer killed
at any point leaves every byte in at least one verified place; the next run picks up from
the record and ends with the same final tree and manifest. ``NightFinished.txt`` is
written last, so its presence means everything is in place and verified.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from osa_core.faults import fault_point
from osa_core.fsio import (
    append_line,
    ensure_dir,
    fsync_dir,
    read_json_lines,
    write_json_atomic,
    write_text_atomic,
)
from osa_core.paths import SUBRUN_FILE_RE, CloseLayout, NightPaths

CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class Move:
    src: Path
    dst: Path
    kind: str
    remove: bool = True


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files(folder: Path, pattern: str = "*") -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob(pattern)
        if p.is_file()
        and not p.is_symlink()
        and not p.name.endswith(".tmp")
        and not p.name.startswith(".")
    )


def planned_moves(paths: NightPaths) -> list[Move]:
    """Every product of the running tree and where it goes (SPEC §4 layout)."""
    layout = CloseLayout(paths)
    dl1, dl2 = paths.final_dl1, paths.final_dl2
    dl1a_final = dl1.parent if paths.config.production.dl1_prod_id else dl1
    moves: list[Move] = []
    for src in _files(paths.dl1a_dir):
        relative = src.relative_to(paths.dl1a_dir)
        if src.name.startswith("muons_"):
            moves.append(Move(src, dl1 / "muons" / src.name, "muons"))
        else:
            moves.append(Move(src, dl1a_final / relative, "dl1a"))
    moves += [Move(s, dl1 / s.name, "dl1b") for s in _files(paths.dl1b_dir)]
    moves += [Move(s, dl1 / "datacheck" / s.name, "datacheck") for s in _files(paths.datacheck_dir)]
    moves += [Move(s, dl1 / s.name, "dl1b_merged") for s in _files(layout.close_dir / "dl1")]
    moves += [
        Move(s, dl1 / "muons" / s.name, "muons_merged") for s in _files(layout.close_dir / "muons")
    ]
    moves += [
        Move(s, dl1 / "datacheck" / s.name, "datacheck_run")
        for s in _files(layout.run_datacheck_dir)
    ]
    moves += [Move(s, dl2 / s.name, "dl2") for s in _files(layout.dl2_dir)]
    moves += [
        Move(s, dl1 / "datacheck" / "dq" / s.relative_to(layout.close_dir / "dq"), "dq")
        for s in _files(layout.close_dir / "dq")
    ]
    moves += [
        Move(s, layout.provenance_dir / s.name, "provenance")
        for s in _files(layout.close_dir / "provenance")
    ]
    # Logs, histories and job scripts are copied, not removed: the running tree keeps the
    # small text files the status is computed from.
    for name in ("log", "history", "jobs"):
        moves += [
            Move(s, dl1 / "log" / name / s.relative_to(paths.running / name), "log", remove=False)
            for s in _files(paths.running / name)
        ]
    return moves


def rename_map(paths: NightPaths) -> dict[str, str]:
    """Running-tree path -> final path, for moves still to do and moves already done."""
    base = paths.config.paths.base
    mapping = {
        str(base / r["src"]): str(base / r["dst"])
        for r in _record(CloseLayout(paths)).values()
        if r.get("src")
    }
    mapping.update({str(m.src): str(m.dst) for m in planned_moves(paths)})
    return mapping


def _record(layout: CloseLayout) -> dict[str, dict]:
    return {r["dst"]: r for r in read_json_lines(layout.moves_record) if "dst" in r}


def copy_verified(src: Path, dst: Path, digest: str) -> None:
    ensure_dir(dst.parent)
    tmp = dst.with_name(f".{dst.name}.tmp")
    with open(src, "rb") as reader, open(tmp, "wb") as writer:
        shutil.copyfileobj(reader, writer, CHUNK)
        writer.flush()
        os.fsync(writer.fileno())
    fault_point(f"copied {dst.name}")
    if sha256(tmp) != digest:
        tmp.unlink()
        raise OSError(f"{dst}: copy does not match its source (checksum), source kept")
    tmp.chmod(0o640)
    os.replace(tmp, dst)
    fsync_dir(dst.parent)
    fault_point(f"renamed {dst.name}")


def move_products(paths: NightPaths) -> list[dict]:
    """Move everything; return manifest entries (idempotent, resumable)."""
    layout = CloseLayout(paths)
    base = paths.config.paths.base
    record = _record(layout)
    for move in planned_moves(paths):
        key = str(move.dst.relative_to(base))
        if not move.src.exists():
            continue
        digest = sha256(move.src)
        done = record.get(key)
        if not (done and done["sha256"] == digest and move.dst.exists()):
            if not (move.dst.exists() and sha256(move.dst) == digest):
                copy_verified(move.src, move.dst, digest)
            entry = {
                "dst": key,
                "src": str(move.src.relative_to(base)),
                "sha256": digest,
                "size": move.src.stat().st_size,
                "kind": move.kind,
                "run": _run_of(move.dst.name),
            }
            append_line(layout.moves_record, json.dumps(entry, separators=(",", ":")))
            record[key] = entry
            fault_point(f"recorded {move.dst.name}")
        if move.remove:
            move.src.unlink()
            fault_point(f"removed {move.src.name}")
    return sorted(record.values(), key=lambda e: e["dst"])


def _run_of(name: str) -> int | None:
    match = SUBRUN_FILE_RE.search(name) or __import__("re").search(r"Run(\d{5,6})", name)
    return int(match.group(1)) if match else None


def verify_manifest(paths: NightPaths, entries: list[dict]) -> list[str]:
    """Every recorded product is in place with its size (hashes were checked at copy)."""
    base = paths.config.paths.base
    problems = []
    for entry in entries:
        path = base / entry["dst"]
        if not path.exists():
            problems.append(f"{entry['dst']}: missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(f"{entry['dst']}: size {path.stat().st_size} != {entry['size']}")
    return problems


def write_manifest(paths: NightPaths, entries: list[dict]) -> Path:
    data = {
        "night": paths.night.isoformat(),
        "prod_id": str(paths.config.production.prod_id),
        "base": str(paths.config.paths.base),
        "files": entries,
        "total_bytes": sum(e["size"] for e in entries),
    }
    write_json_atomic(paths.manifest, data)
    fault_point("manifest written")
    return paths.manifest


def write_night_finished(paths: NightPaths, entries: list[dict], notes: list[str]) -> None:
    manifest_sha = sha256(paths.manifest)
    lines = [
        f"night {paths.night.isoformat()} closed "
        f"{dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"prod_id {paths.config.production.prod_id}",
        f"files {len(entries)} bytes {sum(e['size'] for e in entries)}",
        f"manifest {paths.manifest.name} sha256 {manifest_sha}",
        *notes,
        "",
    ]
    write_text_atomic(paths.night_finished, "\n".join(lines))
    fault_point("night finished")
