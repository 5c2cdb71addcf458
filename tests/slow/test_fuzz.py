"""Fuzzing with hypothesis (>= 10,000 generated cases each): RunSummary/RunCatalog ECSV,
config TOML, history records, sacct/squeue output. Only clear one-line errors, never a
traceback, never a wrong plan."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osa_core.config import Config, build_config
from osa_core.errors import ConfigError, InputError
from osa_core.executors.slurm_parse import parse_sacct, parse_squeue
from osa_core.history import read_history
from osa_core.night.runsummary import read_run_catalog, read_run_summary

pytestmark = pytest.mark.slow
CASES = 10_000
FUZZ = settings(
    max_examples=CASES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)

HEADER = """# %ECSV 1.0
# ---
# datatype:
# - {name: run_id, datatype: int64}
# - {name: n_subruns, datatype: int64}
# - {name: run_type, datatype: string}
# - {name: run_start, datatype: int64}
# delimiter: ','
# schema: astropy-2.0
run_id,n_subruns,run_type,run_start
"""
NASTY = [
    "",
    " ",
    "-1",
    "0",
    "1",
    "9999999999999999999999",
    "1e3",
    "nan",
    "DATA",
    "DRS4",
    "PEDCALIB",
    "EDATA",
    '"a,b"',
    "$(rm -rf /)",
    "`id`",
    "'; DROP",
    "..",
    "../..",
    "\\n",
    "é",
    "数据",
    "\x00",
    "\t",
    "DATA DATA",
    "ERROR",
]
cell = st.one_of(
    st.integers(-(10**6), 10**7).map(str),
    st.sampled_from(NASTY),
    st.text(string.printable, max_size=12),
)


def _one_line(err: Exception) -> None:
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text


@FUZZ
@given(
    rows=st.lists(st.lists(cell, min_size=0, max_size=6), max_size=8),
    cut=st.integers(0, 400),
    mangle=st.booleans(),
)
def test_run_summary_fuzz(tmp_path_factory, rows, cut, mangle) -> None:
    body = "\n".join(",".join(r) for r in rows) + "\n"
    text = HEADER + body
    if mangle:
        text = text[: len(HEADER) - cut] + text[len(HEADER) - cut + cut // 2 :]
    path = tmp_path_factory.getbasetemp() / "RunSummary_20200218.ecsv"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        summary = read_run_summary(path, max_subruns=10000)
    except InputError as err:
        _one_line(err)
        return
    ids = [r.run for r in summary.runs]
    assert len(ids) == len(set(ids))
    for record in summary.runs:
        assert 0 <= record.run < 1_000_000
        assert 0 <= record.declared_subruns <= 10000
        assert isinstance(record.run_type, str) and record.run_type


@FUZZ
@given(rows=st.lists(st.tuples(cell, cell, cell, cell), max_size=6))
def test_run_catalog_fuzz(tmp_path_factory, rows) -> None:
    header = (
        HEADER.replace("n_subruns, datatype: int64", "source_name, datatype: string")
        .replace("run_type, datatype: string", "source_ra, datatype: float64")
        .replace("run_start, datatype: int64", "source_dec, datatype: float64")
        .replace("run_id,n_subruns,run_type,run_start", "run_id,source_name,source_ra,source_dec")
    )
    path = tmp_path_factory.getbasetemp() / "RunCatalog_20200218.ecsv"
    path.write_text(header + "\n".join(",".join(r) for r in rows) + "\n")
    try:
        sources, _ = read_run_catalog(path)
    except InputError as err:
        _one_line(err)
        return
    for source in sources.values():
        assert "\n" not in source.name and "\x00" not in source.name


# --- config --------------------------------------------------------------------------
SECTIONS = {
    "paths": ["base", "r0", "dl1", "state", "unknown"],
    "production": ["prod_id", "dl1_prod_id", "bogus"],
    "night": ["streams", "max_subruns", "calibration_lookback_nights"],
    "slurm": ["account", "max_pending_jobs", "data", "calibration"],
    "executor": ["kind", "local"],
    "retry": ["max_attempts", "memory_factor", "memory_cap", "time_cap"],
    "console": ["theme", "keys", "refresh_seconds"],
    "weird": ["x"],
}
ALL_KEYS = sorted({key for keys in SECTIONS.values() for key in keys})
value = st.recursive(
    st.one_of(
        st.none().map(lambda _: ""),
        st.booleans(),
        st.integers(-5, 10**6),
        st.floats(allow_nan=True),
        st.sampled_from([*NASTY, "6GB", "01:15:00", "auto", "local", "slurm", "v0.1"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["memory", "time", "partition", "cpus", "zz"]), children, max_size=3
        ),
    ),
    max_leaves=6,
)


@FUZZ
@given(
    data=st.dictionaries(
        st.sampled_from(list(SECTIONS)),
        st.dictionaries(st.sampled_from(ALL_KEYS), value, max_size=4),
        max_size=5,
    )
)
def test_config_fuzz(data) -> None:
    data = dict(data)
    data.setdefault("paths", {})
    if isinstance(data["paths"], dict):
        data["paths"].setdefault("base", "/tmp")
    try:
        config = build_config(data, Path("fuzz.toml"), check_paths=False)
    except ConfigError as err:
        _one_line(err)
        assert str(err).startswith("fuzz.toml")
        return
    assert isinstance(config, Config)
    assert config.night.streams >= 1 and config.retry.max_attempts >= 1
    assert ".." not in str(config.production.prod_id).split("/")


# --- history -------------------------------------------------------------------------
record = st.fixed_dictionaries(
    {
        "run": st.one_of(st.integers(), st.text(max_size=3)),
        "subrun": st.integers(),
        "step": st.one_of(st.text(max_size=10), st.integers()),
        "prod_id": st.text(max_size=5),
        "start": st.text(max_size=5),
        "end": st.text(max_size=5),
        "rc": st.one_of(st.integers(), st.floats(), st.text(max_size=2), st.none()),
    },
    optional={"peak_rss": st.integers(), "extra": st.text(max_size=4)},
)


@FUZZ
@given(
    lines=st.lists(
        st.one_of(
            record.map(json.dumps),
            st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
            st.text(max_size=30),
        ),
        max_size=6,
    )
)
def test_history_fuzz(tmp_path_factory, lines) -> None:
    path = tmp_path_factory.getbasetemp() / "history.jsonl"
    path.write_bytes("\n".join(lines).encode("utf-8", errors="surrogateescape"))
    for item in read_history(path):
        assert isinstance(item.rc, int) and isinstance(item.step, str)


# --- scheduler output ----------------------------------------------------------------
jobid = st.one_of(
    st.integers(0, 10**7).map(str),
    st.builds(lambda j, i: f"{j}_{i}", st.integers(0, 10**6), st.integers(0, 30000)),
    st.builds(
        lambda j, a, b: f"{j}_[{a}-{b}%4]",
        st.integers(0, 10**6),
        st.integers(0, 50),
        st.integers(0, 60),
    ),
    st.builds(lambda j: f"{j}.batch", st.integers(0, 10**6)),
    st.text(max_size=12),
)
state = st.one_of(
    st.sampled_from(
        [
            "COMPLETED",
            "FAILED",
            "CANCELLED by 0",
            "RUNNING",
            "PENDING",
            "OUT_OF_MEMORY",
            "TIMEOUT",
            "NODE_FAIL",
        ]
    ),
    st.text(max_size=10),
)
sacct_line = st.builds(
    lambda *cols: "|".join(cols),
    jobid,
    st.text(max_size=8),
    state,
    st.sampled_from(["0:0", "1:0", "0:9", "x", ""]),
    st.text(max_size=5),
    st.sampled_from(["00:01.5", "1-02:03:04", "", "x:y"]),
    st.sampled_from(["1234K", "2G", "", "12.5M", "junk"]),
    st.text(max_size=5),
    st.sampled_from(["2026-11-30T06:47:54", "Unknown", "", "2026-13-x"]),
    st.text(max_size=10),
)


@FUZZ
@given(lines=st.lists(st.one_of(sacct_line, st.text(max_size=60)), max_size=8))
def test_sacct_and_squeue_fuzz(lines) -> None:
    text = "\n".join(lines)
    for parsed in (parse_sacct(text), parse_squeue(text)):
        for (job, index), task in parsed.tasks.items():
            assert job.isdigit() and task.job_id == job
            assert index is None or index >= 0
            assert task.state == "UNKNOWN" or task.state.replace("_", "").isalpha()
            assert task.state.isupper()


# --- the plan's invariants -----------------------------------------------------------
run_row = st.tuples(
    st.integers(1, 6),  # run (small: collisions and duplicates happen)
    st.integers(0, 5),  # declared subruns
    st.sampled_from(["DATA", "DRS4", "PEDCALIB", "ERROR", "EDATA"]),
)


@settings(
    max_examples=2_000, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(
    rows=st.lists(run_row, min_size=1, max_size=7),
    disk=st.dictionaries(st.integers(1, 6), st.sets(st.integers(0, 6), max_size=5), max_size=6),
)
def test_plan_invariants_fuzz(tmp_path_factory, rows, disk) -> None:
    """Whatever the RunSummary and the disk say: every DATA run with R0 on disk is planned
    exactly once with exactly its subruns on disk, every declared subrun the disk lacks is
    awaited (a declared run with no file at all too: awaited, no job), the calibration
    sequence comes first, and nothing excluded is planned."""
    from osa_core.config import load_config
    from osa_core.plan import build_plan
    from tests.conftest import NIGHT, write_config

    base = tmp_path_factory.mktemp("plan")
    summary = base / "monitoring" / "RunSummary" / "RunSummary_20200218.ecsv"
    summary.parent.mkdir(parents=True)
    body = "".join(f"{1000 + r},{n},{kind},1581977000000000000\n" for r, n, kind in rows)
    summary.write_text(HEADER + body)
    r0 = base / "R0" / "20200218"
    r0.mkdir(parents=True)
    for run, subruns in disk.items():
        for subrun in subruns:
            (r0 / f"LST-1.1.Run{1000 + run:05d}.{subrun:04d}.fits.fz").write_bytes(b"")
    config = load_config(write_config(base))
    try:
        plan = build_plan(config, NIGHT, use_cache=False, write_cache=False)
    except InputError as err:
        _one_line(err)  # duplicates in the RunSummary, say: refused with one line
        return
    data = [s for s in plan.sequences if s.kind == "DATA"]
    runs = [s.run for s in data]
    assert len(runs) == len(set(runs))
    declared = {1000 + r: n for r, n, kind in rows if kind == "DATA"}
    on_disk = {1000 + r for r, subruns in disk.items() if subruns}
    if plan.calibration is not None:
        assert {s.run for s in plan.data_sequences} == set(declared) & on_disk
        assert {s.run for s in plan.awaited_runs} == {
            run for run, n in declared.items() if n > 0 and run not in on_disk
        }
        assert plan.sequences[0].kind == "CALIBRATION"
    else:
        assert plan.problems
    for sequence in data:
        files = set(disk.get(sequence.run - 1000, ()))
        assert sequence.subruns == tuple(sorted(files))
        missing = set(range(declared[sequence.run])) - files
        assert sequence.awaited == tuple(sorted(missing))
    assert not set(runs) & {e.run for e in plan.excluded}


# --- through the osa command, as a user runs it ----------------------------------------
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    rows=st.lists(st.lists(cell, min_size=0, max_size=6), max_size=5),
    config_value=st.sampled_from([*NASTY, "6GB", "-3", "true", "[1, 2]"]),
    key=st.sampled_from(["[slurm.data]\nmemory", "[night]\nstreams", "[production]\nprod_id"]),
)
def test_fuzz_through_the_osa_command(tmp_path_factory, rows, config_value, key) -> None:
    """A sample of the generated inputs through `osa sequencer --simulate` as a subprocess:
    an error is one line on stderr with a non-zero exit code, never a traceback."""
    import subprocess
    import sys

    base = tmp_path_factory.mktemp("cli")
    summary = base / "monitoring" / "RunSummary" / "RunSummary_20200218.ecsv"
    summary.parent.mkdir(parents=True)
    summary.write_text(
        HEADER + "\n".join(",".join(r) for r in rows) + "\n", errors="surrogateescape"
    )
    value = (
        json.dumps(config_value) if config_value not in ("true", "[1, 2]", "-3") else config_value
    )
    (base / "osa.toml").write_text(f'[paths]\nbase = "."\n{key} = {value}\n')
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "osa_core.cli.main",
            "-c",
            str(base / "osa.toml"),
            "sequencer",
            "--date",
            "2020-02-18",
            "--simulate",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in result.stderr + result.stdout
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("osa: error: "), result.stderr
        assert result.returncode in (2, 3, 6)
