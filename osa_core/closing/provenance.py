"""W3C PROV (PROV-JSON, via the ``prov`` package) for every run, built from the structured
step histories: no shared log file appended by thousands of tasks.

Each successful step record becomes an activity (tool, version, command, config file and
its SHA-256, host, start/end, job id) that ``used`` its inputs and generated its outputs.
Entities are named by their final path relative to the data base folder (the names they
have after the close moved them), so "where does this DL2 file come from" is a walk from
the file back to R0 and the calibration files. The picture aggregates per step (a run has
hundreds of subruns; a node per file would be unreadable).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osa_core import __version__
from osa_core.config import Config
from osa_core.errors import InputError
from osa_core.fsio import write_text_atomic
from osa_core.history import StepRecord, read_history
from osa_core.paths import CloseLayout, NightPaths, run_tag

NAMESPACE = "urn:osa:"
_KIND_RE = [
    (re.compile(r"\.fits\.fz$"), "R0"),
    (re.compile(r"^drs4_pedestal"), "DRS4 baseline"),
    (re.compile(r"^calibration_filters"), "calibration"),
    (re.compile(r"^dl1_.*Run\d+\.\d+\.h5$"), "DL1 subrun"),
    (re.compile(r"^dl1_"), "DL1 run"),
    (re.compile(r"^muons_.*Run\d+\.\d+"), "muons subrun"),
    (re.compile(r"^muons_"), "muons run"),
    (re.compile(r"^datacheck_dl1_.*Run\d+\.\d+"), "datacheck subrun"),
    (re.compile(r"^datacheck_"), "datacheck run"),
    (re.compile(r"^dl2_"), "DL2"),
]


def kind_of(path: str | Path) -> str:
    """What a product is, from its name (and its running-tree folder for DL1a vs DL1b)."""
    path = Path(path)
    name = path.name
    for pattern, kind in _KIND_RE:
        if pattern.search(name):
            if kind == "DL1 subrun" and path.parent.name in ("dl1a", "dl1b"):
                return f"DL1{path.parent.name[-1]} subrun"
            return kind
    return "file"


def _file_sha(path: Path | None) -> str:
    if path is None or not path.is_file():
        return ""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class RunProvenance:
    run: int
    records: list[StepRecord]


def collect_records(
    paths: NightPaths, run: int, subruns: tuple[int, ...], calibration_run: int | None
) -> list[StepRecord]:
    """Successful records of the run's subruns, of its close steps, and of the calibration."""
    files = [paths.history_file(run, s) for s in subruns]
    files.append(CloseLayout(paths).run_history(run))
    if calibration_run is not None:
        files.append(paths.history_file(calibration_run, 0))
    records = []
    for path in files:
        records += [r for r in read_history(path) if r.rc == 0 and r.command]
    return records


def build_document(
    config: Config, run: int, records: list[StepRecord], rename: dict[str, str]
) -> str:
    """PROV-JSON text for one run. ``rename`` maps running-tree paths to final ones."""
    from prov.model import ProvDocument  # ~0.1 s to import: only when a night closes

    base = config.paths.base

    def name(path: str) -> str:
        final = rename.get(path, path)
        try:
            return "osa:" + str(Path(final).relative_to(base))
        except ValueError:
            return "osa:" + final.lstrip("/")

    doc = ProvDocument()
    doc.add_namespace("osa", NAMESPACE)
    agent = doc.agent("osa:osa-console", {"osa:version": __version__})
    config_hashes: dict[str, str] = {}
    for index, record in enumerate(records):
        activity_id = (
            f"osa:{record.step}/{run_tag(record.run)}"
            + (f".{record.subrun:04d}" if record.subrun >= 0 else "")
            + f"/{index}"
        )
        attributes: dict[str, str | int] = {
            "osa:tool": record.command[0] if record.command else "",
            "osa:command": " ".join(record.command),
            "osa:tool_version": record.tool_version,
            "osa:host": record.host,
            "osa:job_id": record.job_id,
            "osa:prod_id": record.prod_id,
        }
        if record.config:
            if record.config not in config_hashes:
                config_hashes[record.config] = _file_sha(Path(record.config))
            attributes["osa:config"] = record.config
            attributes["osa:config_sha256"] = config_hashes[record.config]
        if record.peak_rss:
            attributes["osa:peak_rss_bytes"] = int(record.peak_rss)
        activity = doc.activity(activity_id, record.start, record.end, attributes)
        doc.wasAssociatedWith(activity, agent)
        used = []
        for path in record.inputs:
            entity = doc.entity(name(path), {"osa:kind": kind_of(path)})
            doc.used(activity, entity)
            used.append(entity)
        for path in record.outputs:
            entity = doc.entity(name(path), {"osa:kind": kind_of(path)})
            doc.wasGeneratedBy(entity, activity)
            for source in used:
                doc.wasDerivedFrom(entity, source)
    text = doc.serialize(indent=1)
    assert text is not None  # no destination given: the text itself is returned
    return text


def graph_dot(run: int, records: list[StepRecord]) -> str:
    """Aggregated lineage in Graphviz DOT: one node per step and per product kind."""
    steps = Counter(r.step for r in records)
    edges: set[tuple[str, str]] = set()
    kinds: Counter[str] = Counter()
    for record in records:
        for path in record.inputs:
            kind = kind_of(path)
            kinds[kind] += 0
            edges.add((f"k:{kind}", f"s:{record.step}"))
        for path in record.outputs:
            kind = kind_of(path)
            kinds[kind] += 1
            edges.add((f"s:{record.step}", f"k:{kind}"))
    lines = [
        f'digraph "{run_tag(run)}" {{',
        "rankdir=LR;",
        f'label="provenance of {run_tag(run)} (osa-console)"; labelloc=t;',
        'node [fontname="DejaVu Sans"];',
    ]
    for kind, count in sorted(kinds.items()):
        label = f"{kind}\\n×{count}" if count else kind
        lines.append(
            f'"k:{kind}" [shape=note, style=filled, fillcolor="#fff3c4", label="{label}"];'
        )
    for step, count in sorted(steps.items()):
        lines.append(
            f'"s:{step}" [shape=box, style="rounded,filled", fillcolor="#cfe3ff", '
            f'label="{step}\\n×{count}"];'
        )
    lines += [f'"{a}" -> "{b}";' for a, b in sorted(edges)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_png(dot_text: str, target: Path) -> bool:
    """Draw with Graphviz's ``dot`` (Debian package); False when it is not installed."""
    dot = shutil.which("dot")
    if dot is None:
        return False
    tmp = target.with_name(f".{target.name}.tmp")
    result = subprocess.run(
        [dot, "-Tpng", "-o", str(tmp)],
        input=dot_text,
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        return False
    tmp.replace(target)
    return True


def write_run_provenance(
    config: Config,
    paths: NightPaths,
    run: int,
    subruns: tuple[int, ...],
    calibration_run: int | None,
    rename: dict[str, str],
    out_dir: Path,
) -> list[Path]:
    """Write ``RunNNNNN.prov.json`` (+ ``.dot`` and ``.png``) into ``out_dir``."""
    records = collect_records(paths, run, subruns, calibration_run)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{run_tag(run)}.prov"
    written = []
    json_path = out_dir / f"{stem}.json"
    write_text_atomic(json_path, build_document(config, run, records, rename))
    written.append(json_path)
    dot_text = graph_dot(run, records)
    dot_path = out_dir / f"{stem}.dot"
    write_text_atomic(dot_path, dot_text)
    written.append(dot_path)
    png = out_dir / f"{stem}.png"
    if render_png(dot_text, png):
        written.append(png)
    return written


# --- reading: "where does this file come from?" ----------------------------------------
@dataclass
class Lineage:
    entity: str
    activity: dict[str, Any] | None  # the PROV-JSON activity (its "id" added), as parsed
    inputs: list[Lineage]


def find_document(config: Config, target: Path) -> tuple[Path, str]:
    """The PROV document that knows ``target`` (searched in the final trees' log folders)."""
    base = config.paths.base
    try:
        relative = str(target.resolve().relative_to(base.resolve()))
    except ValueError:
        relative = str(target)
    match = re.search(r"Run(\d{5,6})", target.name)
    if not match:
        raise InputError(f"{target}: no run number in the file name")
    run = int(match.group(1))
    candidates = sorted(config.paths.dl1.glob(f"*/*/*/log/provenance/{run_tag(run)}.prov.json"))
    candidates += sorted(config.paths.dl1.glob(f"*/*/log/provenance/{run_tag(run)}.prov.json"))
    for candidate in candidates:
        data = json.loads(candidate.read_text())
        if f"osa:{relative}" in data.get("entity", {}):
            return candidate, f"osa:{relative}"
    for candidate in candidates:  # fall back to the file name alone
        data = json.loads(candidate.read_text())
        for entity in data.get("entity", {}):
            if entity.endswith("/" + target.name):
                return candidate, entity
    raise InputError(f"{target}: no provenance found (is the night closed?)")


def lineage(document: Path, entity: str, depth: int = 12) -> Lineage:
    data = json.loads(document.read_text())
    generated = {
        v["prov:entity"]: v["prov:activity"] for v in data.get("wasGeneratedBy", {}).values()
    }
    used: dict[str, list[str]] = defaultdict(list)
    for value in data.get("used", {}).values():
        used[value["prov:activity"]].append(value["prov:entity"])
    activities = data.get("activity", {})

    def walk(name: str, level: int) -> Lineage:
        activity_id = generated.get(name)
        if activity_id is None or level >= depth:
            return Lineage(name, None, [])
        info = dict(activities.get(activity_id, {}))
        info["id"] = activity_id
        return Lineage(name, info, [walk(i, level + 1) for i in used.get(activity_id, [])])

    return walk(entity, 0)


def started(activity: Mapping[str, object]) -> str:
    value = activity.get("prov:startTime", "")
    try:
        return dt.datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value)
