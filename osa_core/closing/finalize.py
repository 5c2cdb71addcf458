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
from typing import Any, TypeAlias

from osa_core.faults import fault_point
from osa_core.fsio import (
    FILE_MODE,
    append_line,
    ensure_dir,
    fsync_dir,
    read_json_lines,
    write_json_atomic,
    write_text_atomic,
)
from osa_core.paths import RUN_FILE_RE, CloseLayout, NightPaths
from osa_core.run_calibration import read_record

CHUNK = 4 * 1024 * 1024

# One line of ``moves.jsonl`` as parsed JSON: a move (dst, src, sha256, size, kind, run;
# the manifest's "files") or a superseded DL1a (dropped, replaced_by, sha256, size, kind).
MoveEntry: TypeAlias = dict[str, Any]


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


def run_prod_ids(paths: NightPaths, run: int) -> tuple[str, str]:
    """(DL1 cleaning id, DL2 id) of a run: its phase-2 decision with the per-run workflow,
    the configured ids otherwise (and for a run phase 2 never decided)."""
    production = paths.config.production
    if paths.config.night.workflow == "per_run":
        record = read_record(paths.run_calibration_record(run))
        if record is not None:
            return record.dl1_prod_id, record.dl2_prod_id or f"{record.dl1_prod_id}/no_models"
    return str(production.dl1_prod_id), str(production.dl2_prod_id)


def planned_moves(paths: NightPaths) -> list[Move]:
    """Every product of the running tree and where it goes (the site's layout):

    ``DL1/YYYYMMDD/<prod>/`` holds muons/ and interleaved/ (and DL1a when kept), each run's
    DL1b and datacheck go under its own cleaning folder (``tailcutXY/``), its DL2 under
    ``DL2/YYYYMMDD/<prod>/<tailcutXY>/<nsb_tuning_X.XX>/``, the night-wise datacheck where
    the datacheck pages read it (``DL1/datacheck_files/night_wise/...``)."""
    layout = paths.close
    root, night_dl1 = paths.final_dl1_root, paths.final_night_dl1
    ids: dict[int, tuple[str, str]] = {}

    def dl1_of(name: str) -> Path:
        run = _run_of(name)
        if run is None:
            return night_dl1
        if run not in ids:
            ids[run] = run_prod_ids(paths, run)
        return paths.final_dl1_of(ids[run][0])

    def dl2_of(name: str) -> Path:
        run = _run_of(name)
        if run is not None and run not in ids:
            ids[run] = run_prod_ids(paths, run)
        return paths.final_dl2_of(ids[run][1]) if run is not None else paths.final_dl2

    keep_dl1a = paths.config.closing.keep_dl1a == "copy"
    moves: list[Move] = []
    links: list[Move] = []  # last: only once the DL1b they point to is in place
    for src in _files(paths.dl1a_dir):
        relative = src.relative_to(paths.dl1a_dir)
        if src.name.startswith("muons_"):
            moves.append(Move(src, root / "muons" / src.name, "muons"))
        elif src.name.startswith("dl1_") and not keep_dl1a:
            dl1b = paths.dl1b_dir / src.name
            final_dl1b = dl1_of(src.name) / src.name
            if dl1b.exists() or final_dl1b.exists():
                # DL1b (with the images) supersedes it: a link, not a second copy
                links.append(Move(src, final_dl1b, "dl1a_link"))
            else:  # no DL1b (given up in dl1ab): the DL1a is the only product, keep it
                moves.append(Move(src, root / relative, "dl1a"))
        else:
            moves.append(Move(src, root / relative, "dl1a"))
    moves += [Move(s, dl1_of(s.name) / s.name, "dl1b") for s in _files(paths.dl1b_dir)]
    moves += [
        Move(s, dl1_of(s.name) / "datacheck" / s.name, "datacheck")
        for s in _files(paths.datacheck_dir)
    ]
    moves += [
        Move(s, dl1_of(s.name) / s.name, "dl1b_merged") for s in _files(layout.close_dir / "dl1")
    ]
    moves += [
        Move(s, root / "muons" / s.name, "muons_merged") for s in _files(layout.close_dir / "muons")
    ]
    for src in _files(layout.run_datacheck_dir):
        if src.name.startswith(layout.longterm_file.stem):
            moves.append(Move(src, paths.longterm_file.parent / src.name, "datacheck_night"))
        else:
            moves.append(Move(src, dl1_of(src.name) / "datacheck" / src.name, "datacheck_run"))
    moves += [Move(s, dl2_of(s.name) / s.name, "dl2") for s in _files(layout.dl2_dir)]
    moves += [
        Move(s, night_dl1 / "datacheck" / "dq" / s.relative_to(layout.close_dir / "dq"), "dq")
        for s in _files(layout.close_dir / "dq")
    ]
    moves += [
        Move(s, layout.provenance_dir / s.name, "provenance")
        for s in _files(layout.close_dir / "provenance")
    ]
    # Logs, histories, job scripts and the runs' phase-2 decisions are copied, not removed:
    # the running tree keeps the small text files the status is computed from.
    for name in ("log", "history", "jobs", "runcal"):
        moves += [
            Move(
                s,
                night_dl1 / "log" / name / s.relative_to(paths.running / name),
                "log",
                remove=False,
            )
            for s in _files(paths.running / name)
        ]
    return moves + links


def rename_map(paths: NightPaths) -> dict[str, str]:
    """Running-tree path -> final path, for moves still to do and moves already done."""
    base = paths.config.paths.base
    mapping = {
        str(base / r["src"]): str(base / r["dst"])
        for r in _record(CloseLayout(paths)).values()
        if r.get("src")
    }
    # a superseded DL1a keeps its own name (a link to its DL1b sits there): renaming it to
    # the DL1b would make a product its own input
    mapping.update({str(m.src): str(m.dst) for m in planned_moves(paths) if m.kind != "dl1a_link"})
    return mapping


def _record(layout: CloseLayout) -> dict[str, MoveEntry]:
    return {r["dst"]: r for r in read_json_lines(layout.moves_record) if "dst" in r and "src" in r}


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
    tmp.chmod(FILE_MODE)
    os.replace(tmp, dst)
    fsync_dir(dst.parent)
    fault_point(f"renamed {dst.name}")


def move_products(paths: NightPaths) -> list[MoveEntry]:
    """Move everything; return manifest entries (idempotent, resumable)."""
    layout = CloseLayout(paths)
    base = paths.config.paths.base
    record = _record(layout)
    for move in planned_moves(paths):
        key = str(move.dst.relative_to(base))
        if move.kind == "dl1a_link":
            _replace_by_link(layout, move, base)
            continue
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


def _replace_by_link(layout: CloseLayout, move: Move, base: Path) -> None:
    """A DL1a whose DL1b (with the images) is in the final tree: record it as superseded
    (checksum and size kept in the move record), then leave a link to the final DL1b in
    its place, as the site does. Done only once the DL1b is verified in place."""
    src = move.src
    if src.is_symlink() or not src.exists():
        return
    if not move.dst.exists():
        return  # the DL1b is not in the final tree yet: the next pass links it
    entry = {
        "dropped": str(src.relative_to(base)),
        "replaced_by": str(move.dst.relative_to(base)),
        "sha256": sha256(src),
        "size": src.stat().st_size,
        "kind": "dl1a",
    }
    append_line(layout.moves_record, json.dumps(entry, separators=(",", ":")))
    fault_point(f"recorded dropped {src.name}")
    tmp = src.with_name(f".{src.name}.link")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(move.dst)
    os.replace(tmp, src)
    fault_point(f"linked {src.name}")


def dropped(paths: NightPaths) -> list[MoveEntry]:
    """The DL1a files superseded by their DL1b (for the manifest: nothing silently gone)."""
    return [r for r in read_json_lines(paths.close.moves_record) if "dropped" in r]


def link_longterm(paths: NightPaths) -> list[Path]:
    """``night_wise/DL1_datacheck_YYYYMMDD.<ext>`` -> this production's night-wise files:
    the link the site's datacheck pages follow (replaced atomically)."""
    made = []
    for target in sorted(paths.longterm_file.parent.glob(f"{paths.longterm_file.stem}.*")):
        link = paths.longterm_link(target.suffix.lstrip("."))
        ensure_dir(link.parent)
        tmp = link.with_name(f".{link.name}.link")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target)
        os.replace(tmp, link)
        made.append(link)
    return made


def _run_of(name: str) -> int | None:
    match = RUN_FILE_RE.search(name)
    return int(match.group("run")) if match else None


def verify_manifest(paths: NightPaths, entries: list[MoveEntry]) -> list[str]:
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


def write_manifest(paths: NightPaths, entries: list[MoveEntry]) -> Path:
    data = {
        "night": paths.night.isoformat(),
        "prod_id": str(paths.config.production.prod_id),
        "base": str(paths.config.paths.base),
        "files": entries,
        "total_bytes": sum(e["size"] for e in entries),
        # DL1a files superseded by their DL1b (which keeps the images): a link in the
        # running tree points at the DL1b; their checksums are kept here
        "superseded": dropped(paths),
    }
    write_json_atomic(paths.manifest, data)
    fault_point("manifest written")
    return paths.manifest


def write_night_finished(paths: NightPaths, entries: list[MoveEntry], notes: list[str]) -> None:
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
