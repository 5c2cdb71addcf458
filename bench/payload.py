"""Row 4: per-subrun overhead of the job payload, ours vs lstosa's ``datasequence`` path.

Why: every subrun task of a night (up to 10,000) pays its orchestration overhead; the
lstchain tools spend ~4 s importing ctapipe each, and lstosa's jobs start a ``datasequence``
wrapper (itself importing lstchain) plus three separate tool processes.

What counts as overhead: everything but the tools' own analysis. Each lstchain tool is run
with ``--help``, so it imports what it needs and exits: that import is part of the
overhead (it is paid per process), the analysis is not.

- ours: ``python -m osa_core.payload ... data --run R --subrun 0`` with the three steps
  configured as the real tools plus ``--help``. In ``fork`` mode (the default) the payload
  imports the tools once, then forks one child per step; in ``exec`` mode it starts one
  process per step. Each step's expected outputs are pre-created as *directories*: the
  payload's stale-output clean-up cannot unlink a directory (it skips it) and its output
  check sees them, so all three steps run and are recorded exactly as in a real task.
- lstosa: its wrapper ``datasequence -s`` for the same subrun (``run_lstosa_datasequence``:
  the command from the job script its sequencer wrote, in simulate mode, tools not run)
  plus the three tools it would spawn, each ``lstchain_xxx --help`` as its own process
  (the same tools, from our venv). The sum is the reference.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from common import (
    NIGHT,
    VENV_BIN,
    Context,
    Measured,
    Row,
    Stat,
    alternate,
    check,
    fmt,
    lstosa_available,
    measure,
    our_env,
    speedup_row,
    write_config,
)

NAME = "payload"
TITLE = "Per-subrun overhead of a job"
DESCRIPTION = """\
**Per-subrun overhead** — what a subrun task costs besides lstchain's own analysis. Each
lstchain tool runs with `--help`: it imports ctapipe/lstchain and exits, so its import
(paid once per process) counts, the analysis does not. *Ours*: `python -m osa_core.payload
--config C --date D data --run R --subrun 0 ...` with `[steps.r0_to_dl1] command =
["lstchain_data_r0_to_dl1", "--help"]` (likewise `lstchain_dl1ab`, `lstchain_check_dl1`),
in `fork` mode (default: the tools are imported once, one forked child per step) and in
`exec` mode (one process per step). The steps' expected outputs are pre-created as
directories (the payload's stale-output clean-up skips directories, its output check sees
them), so all three steps run and are recorded in the history as in a real task; the
history is deleted before each run. *lstosa*: its per-subrun wrapper `datasequence -s`
(the command from the job script its sequencer wrote for that run, simulate mode: tools
not run) plus the three tools its job would spawn, each `lstchain_xxx --help` as its own
process (the same tools, from our venv); the sum is the reference. Wall time under
`/usr/bin/time -v`, alternated fork / exec / lstosa, 3 rounds after one unmeasured
warm-up (ours in fork mode, lstosa's `datasequence`).
"""

TOOLS = ("lstchain_data_r0_to_dl1", "lstchain_dl1ab", "lstchain_check_dl1")
STEPS = ("r0_to_dl1", "dl1ab", "datacheck")


def _config(base: Path, mode: str) -> str:
    pairs = zip(STEPS, TOOLS, strict=True)
    steps = "\n".join(f'[steps.{step}]\ncommand = ["{tool}", "--help"]\n' for step, tool in pairs)
    body = f'[executor]\nkind = "local"\n\n[analysis]\npayload_mode = "{mode}"\n\n{steps}'
    return str(write_config(base, body, f"osa-{mode}.toml"))


def _prepare_outputs(config_path: str, run: int) -> Path:
    """Make every step runnable; return the subrun's history file.

    Outputs are pre-created as directories (they survive the payload's clean-up and pass
    its output check); inputs that are not outputs of an earlier step (R0, calibration
    files...) are created as empty files. Both come from the payload's own step plans.
    """
    from osa_core.config import load_config
    from osa_core.paths import NightPaths
    from osa_core.steps import SubrunContext

    config = load_config(config_path)
    context = SubrunContext(config, NIGHT, run, 0, NIGHT, 2000, 2001)
    plans = [context.step(step) for step in STEPS]
    for plan in plans:
        for output in plan.outputs:
            output.mkdir(parents=True, exist_ok=True)
    for plan in plans:
        for path in plan.inputs:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
    paths = NightPaths(config, NIGHT)
    paths.history_dir.mkdir(parents=True, exist_ok=True)
    return paths.history_file(run, 0)


def _ours(config_path: str, run: int, history: Path, mode: str) -> Measured:
    history.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "osa_core.payload",
        "--config",
        config_path,
        "--date",
        NIGHT.isoformat(),
        "data",
        "--run",
        str(run),
        "--subrun",
        "0",
        "--calibration-night",
        NIGHT.isoformat(),
        "--drs4-run",
        "2000",
        "--pedcal-run",
        "2001",
    ]
    result = check(measure(cmd, env=our_env(), cwd=history.parent), f"payload ({mode})")
    records = [json.loads(line) for line in history.read_text().splitlines()]
    if [(r["step"], r["rc"], r["mode"]) for r in records] != [(s, 0, mode) for s in STEPS]:
        raise RuntimeError(f"payload ({mode}) did not run the three steps: {records}")
    return result


def _tools() -> list[Measured]:
    return [check(measure([str(VENV_BIN / tool), "--help"], env=our_env()), tool) for tool in TOOLS]


def _lstosa(cfg: Path, run: int) -> dict[str, Any]:
    from lstosa_ref import run_lstosa_datasequence

    wrapper = run_lstosa_datasequence(cfg, NIGHT, run=run)
    tools = _tools()
    return {
        "wall": wrapper["wall_s"] + sum(t.wall for t in tools),
        "cpu": (wrapper["cpu_s"] or 0) + sum(t.cpu or 0 for t in tools),
        "wrapper": wrapper["wall_s"],
        "tools": sum(t.wall for t in tools),
    }


def run(ctx: Context) -> list[Row]:
    from osa_core.generator import NightSpec, generate_night

    with_ref, why_not = lstosa_available()
    if ctx.quick:
        with_ref, why_not = False, "--quick runs without lstosa"
    reps = ctx.reps(3, 1)
    run_number = 2002
    with ctx.folder("payload") as base:
        if with_ref:
            from lstosa_ref import prepare_lstosa_night, run_lstosa_sequencer

            cfg = prepare_lstosa_night(base, NIGHT, runs=1, subruns=2)
            run_lstosa_sequencer(cfg, NIGHT, expected_data_runs=1)  # writes the job scripts
        else:
            generate_night(base, NightSpec(night=NIGHT, data_runs=1, subruns=2))
        fork_cfg, exec_cfg = _config(base, "fork"), _config(base, "exec")
        history = _prepare_outputs(fork_cfg, run_number)
        runners: dict[str, Any] = {
            "fork": lambda: _ours(fork_cfg, run_number, history, "fork"),
        }
        if not ctx.quick:
            runners["exec"] = lambda: _ours(exec_cfg, run_number, history, "exec")
        if with_ref:
            runners["lstosa"] = lambda: _lstosa(cfg, run_number)
        ctx.log("payload: warm-up")
        runners["fork"]()  # also compiles/caches the three tools' imports
        if with_ref:
            from lstosa_ref import run_lstosa_datasequence

            run_lstosa_datasequence(cfg, NIGHT, run=run_number)
        ctx.log(f"payload: {reps} alternated rounds ({', '.join(runners)})")
        results = alternate(runners, reps)

    fork = Stat([m.wall for m in results["fork"]])
    fork_cpu = Stat([m.cpu for m in results["fork"] if m.cpu is not None])
    rows: list[Row] = []
    if with_ref:
        ref = Stat([r["wall"] for r in results["lstosa"]])
        ref_cpu = Stat([r["cpu"] for r in results["lstosa"]])
        wrapper = Stat([r["wrapper"] for r in results["lstosa"]])
        tools = Stat([r["tools"] for r in results["lstosa"]])
        split = f"lstosa = datasequence {fmt(wrapper.median)} s + 3 tools {fmt(tools.median)} s"
        rows.append(
            speedup_row(
                NAME,
                "per-subrun overhead, payload_mode = fork (default)",
                fork,
                ref,
                3,
                f"{split}; CPU {fmt(fork_cpu.median)} s vs {fmt(ref_cpu.median)} s",
                word="less",
            )
        )
        if "exec" in results:
            exec_stat = Stat([m.wall for m in results["exec"]])
            exec_row = speedup_row(
                NAME,
                "per-subrun overhead, payload_mode = exec",
                exec_stat,
                ref,
                None,
                "exec mode: for tools that are not Python console scripts; no goal",
                word="less",
            )
            rows.append(exec_row)
    else:
        skipped = f"skipped ({why_not})"
        rows.append(
            Row(
                NAME,
                "per-subrun overhead, payload_mode = fork (default)",
                fork,
                goal="≥ 3× less",
                ref_text=skipped,
                note=f"CPU {fmt(fork_cpu.median)} s",
            )
        )
        if "exec" in results:
            rows.append(
                Row(
                    NAME,
                    "per-subrun overhead, payload_mode = exec",
                    Stat([m.wall for m in results["exec"]]),
                    ref_text=skipped,
                )
            )
    return rows
