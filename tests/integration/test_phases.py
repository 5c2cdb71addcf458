"""Today's night, per run: DL1a per subrun, the run's calibration (Cat-B, tail cuts, NSB,
models), DL1b with the run's own cleaning, then the close into per-run trees. Real payload,
real processes, both executors (SLURM on the local cluster in CI); tests/helpers/fake_tool.py
stands in for the lstchain tools (it writes the finder's config and log as lstchain does,
and its "too few interleaved pedestals" failure). The real tools run in test_demo_real.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from osa_core.config import Config, load_config
from osa_core.executors.factory import get_executor
from osa_core.generator import NightSpec, generate_night
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import Plan, build_plan
from osa_core.run_calibration import read_record
from osa_core.snapshot import night_status
from osa_core.status import NightStatus, SequenceStatus
from osa_core.usecases.night import give_up, resubmit_failed, submit_night
from osa_core.usecases.tick import tick
from osa_core.vocabulary import ACTIVE_STATES, JobKind, State
from tests.conftest import NIGHT, fake_steps, write_config

MC_PROD = "20240918_v0.10.12_allsky_"


@pytest.fixture(params=["local", pytest.param("slurm", marks=pytest.mark.slurm)])
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "slurm":
        request.getfixturevalue("slurm_cluster")
    return request.param


def models_tree(base: Path) -> Path:
    """A site-like models tree: two NSB levels, two declination lines each."""
    root = base / "models" / "AllSky"
    for nsb in ("0.14", "0.50"):
        for line in ("dec_2276", "dec_3476"):
            folder = root / f"{MC_PROD}nsb_tuning_{nsb}" / line
            folder.mkdir(parents=True)
            (folder / "cls_gh.sav").write_text("toy")
    return root


def night(
    base: Path, kind: str, extra_args: dict[str, str], extra: str = "", runs: int = 2
) -> Config:
    generate_night(base, NightSpec(night=NIGHT, data_runs=runs, subruns=3))
    root = models_tree(base)
    body = (
        fake_steps(extra_args=extra_args)
        + f'\n[analysis]\nmodels_root = "{root}"\nmc_prod = "{MC_PROD}"\n{extra}'
    )
    return load_config(write_config(base, body, kind=kind, workflow="per_run"))


def wait(config: Config, until, timeout: float = 90) -> NightStatus:  # type: ignore[no-untyped-def]
    plan = build_plan(config, NIGHT)
    executor = get_executor(config)
    deadline = time.monotonic() + timeout
    while True:
        status = night_status(config, plan, executor)
        if until(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.3)


def settled(status: NightStatus) -> bool:
    busy = [s for seq in status.sequences for s in seq.subruns if s.state in ACTIVE_STATES]
    runcal = [
        seq.run_calibration
        for seq in status.data
        if seq.run_calibration and seq.run_calibration.state in ACTIVE_STATES
    ]
    return not busy and not runcal


def one_run_submitted(
    base: Path, kind: str, extra_args: dict[str, str], analysis: str = ""
) -> tuple[Config, Plan, SequenceStatus]:
    """Run 2002 alone, submitted without an armed close, once nothing is active."""
    config = night(base, kind, extra_args, extra=analysis + "\n[closing]\nauto = false\n", runs=1)
    plan = build_plan(config, NIGHT)
    submit_night(config, plan)
    return config, plan, wait(config, settled).sequence(2002)


def test_a_night_in_three_phases_closes_into_per_run_trees(tmp_path: Path, kind: str) -> None:
    """Run 2002's finder decides (10/5, NSB 0.45), run 2003's cannot (too few pedestals):
    2003 falls back to the standard cleaning and says so; the models follow each run's
    NSB; the final trees use each run's own ids."""
    config = night(
        tmp_path,
        kind,
        {"tailcuts": "--fail-runs=2003 --tailcuts=10,5 --nsb=0.45"},
    )
    report = tick(config, NIGHT)
    kinds = [(j["kind"], j["run"]) for j in report.submitted]
    assert kinds == [
        ("CALIBRATION", 2001),
        ("DL1A", 2002),
        ("DL1A", 2003),
        ("RUN_CALIBRATION", 2002),
        ("DL1B", 2002),
        ("RUN_CALIBRATION", 2003),
        ("DL1B", 2003),
    ]
    paths = NightPaths(config, NIGHT)
    status = wait(config, lambda s: paths.night_finished.exists(), timeout=150)
    assert paths.night_finished.exists(), [
        (s.sequence.run, s.state, s.waiting) for s in status.data
    ]
    decided = read_record(paths.run_calibration_record(2002))
    fallback = read_record(paths.run_calibration_record(2003))
    assert decided is not None and fallback is not None
    assert decided.tailcuts.prod_id == "tailcut1005" and decided.tailcuts.nsb == 0.45
    assert not decided.tailcuts.fallback
    assert decided.models.dl2_prod_id == "tailcut1005/nsb_tuning_0.50"
    assert fallback.tailcuts.prod_id == "tailcut84"
    assert fallback.tailcuts.fallback == "6 pedestal events < 100 in every sampled subrun"
    assert "dark-sky models" in fallback.models.reason
    assert fallback.models.dl2_prod_id == "tailcut84/nsb_tuning_0.14"
    # each run's DL1b was made with its own cleaning (the payload's record says which)
    history = paths.history_file(2002, 0).read_text().splitlines()
    dl1ab = [json.loads(line) for line in history if '"step":"dl1ab"' in line][-1]
    assert dl1ab["config"].endswith("dl1ab_Run02002.json")
    # per-run final trees
    assert (paths.final_dl1_of("tailcut1005") / "dl1_LST-1.Run02002.h5").exists()
    assert (paths.final_dl1_of("tailcut84") / "dl1_LST-1.Run02003.h5").exists()
    assert (paths.final_dl2_of("tailcut1005/nsb_tuning_0.50") / "dl2_LST-1.Run02002.h5").exists()
    assert (paths.final_dl2_of("tailcut84/nsb_tuning_0.14") / "dl2_LST-1.Run02003.h5").exists()
    assert "dl1 tailcut1005 dl2 tailcut1005/nsb_tuning_0.50" in paths.night_finished.read_text()
    final = night_status(config, build_plan(config, NIGHT), get_executor(config))
    assert all(seq.state == State.COMPLETED for seq in final.sequences)
    runcal = final.sequence(2003).run_calibration
    assert runcal is not None and "fallback: 6 pedestal events" in runcal.summary()


def test_a_failed_run_calibration_is_resubmitted_alone(tmp_path: Path, kind: str) -> None:
    flag = tmp_path / "catb-fails"
    flag.touch()
    config, plan, seq = one_run_submitted(
        tmp_path, kind, {"catb": f"--fail-file={flag}"}, "catb_required = true\n"
    )
    assert seq.run_calibration is not None and seq.run_calibration.state == State.FAILED
    assert all(s.state == State.WAITING for s in seq.subruns)  # DL1a done, DL1b cannot start
    assert "run calibration failed" in seq.waiting
    flag.unlink()
    report = resubmit_failed(config, plan, runs=[2002])
    assert [(j.kind, j.purpose) for j in report.jobs] == [
        (JobKind.RUN_CALIBRATION, "resubmit"),
        (JobKind.DL1B, "submit"),
    ]
    assert report.jobs[1].dependencies == (report.jobs[0].job_id,)
    status = wait(config, lambda s: s.sequence(2002).state == State.COMPLETED)
    assert status.sequence(2002).state == State.COMPLETED
    # no subrun ran its DL1a twice
    entries = Journal(NightPaths(config, NIGHT).journal).read().of_kind(JobKind.DL1A)
    assert len(entries) == 1


def test_a_dl1a_failure_holds_the_run_calibration_until_given_up(tmp_path: Path, kind: str) -> None:
    config, plan, seq = one_run_submitted(tmp_path, kind, {"r0_to_dl1": "--fail-subruns=1"})
    runcal = seq.run_calibration
    assert runcal is not None and runcal.state == State.WAITING
    assert "held: subrun(s) 1 failed in r0_to_dl1" in runcal.reason
    assert "held: subrun(s) 1 failed in r0_to_dl1" in seq.waiting
    assert seq.subruns[1].state == State.FAILED
    # cron retries the subrun once (a science failure may be transient), and chains the run
    # calibration (and DL1b after it) after exactly that retry
    report = tick(config, NIGHT, auto_close=False)
    assert [(j["kind"], j["indices"]) for j in report.resubmitted] == [(JobKind.DL1A, [1])]
    retry_id = report.resubmitted[0]["job_id"]
    chained = [(j["kind"], j["dependencies"]) for j in report.submitted]
    assert chained[0] == (JobKind.RUN_CALIBRATION, [retry_id])
    assert chained[1] == (JobKind.DL1B, [report.submitted[0]["job_id"]])
    status = wait(config, settled)
    assert "held: subrun(s) 1 failed in r0_to_dl1" in status.sequence(2002).waiting
    # the same failure twice: not retried, and the run is not calibrated without subrun 1
    # behind the operator's back
    report = tick(config, NIGHT, auto_close=False)
    assert report.not_retried and not report.submitted and not report.resubmitted
    give_up(config, plan, 2002, [1], "R0 file corrupt")
    report = tick(config, NIGHT, auto_close=False)
    chained = [(j["kind"], j["indices"], j["dependencies"]) for j in report.submitted]
    assert chained[0] == (JobKind.RUN_CALIBRATION, [], [])
    assert chained[1][0] == JobKind.DL1B and chained[1][1] == [0, 2]
    status = wait(config, lambda s: s.sequence(2002).state == State.COMPLETED)
    counts = status.sequence(2002).counts
    assert counts == {"COMPLETED": 2, "GIVEN_UP": 1}
