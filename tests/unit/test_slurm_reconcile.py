"""Reconciling sacct (the record) with squeue (the controller's live view), on output lines
in the exact formats the SLURM executor asks for (22.05, as printed by the local cluster)."""

from __future__ import annotations

from osa_core.executors.slurm_parse import parse_sacct, parse_squeue, reconcile

SACCT = "\n".join(
    [
        # a calibration job slurmdbd recorded but the controller lost (killed -9 right after)
        "15000|osa_20200218_cal_02001|PENDING|0:0|0|00:00:00||None|n=2020-02-18",
        # a data array the controller knows: task 0 ran, task 1 is RUNNING in both
        "15001_0|osa_20200218_dat_02002|COMPLETED|0:0|3|00:00.100||None|n=2020-02-18",
        "15001_1|osa_20200218_dat_02002|RUNNING|0:0|2|00:00:00||None|n=2020-02-18",
    ]
)
SQUEUE = "\n".join(
    [
        "15001_0|COMPLETED|None|osa_20200218_dat_02002|n=2020-02-18",
        "15001_1|RUNNING|None|osa_20200218_dat_02002|n=2020-02-18",
    ]
)


def test_an_active_record_the_controller_does_not_know_is_dropped() -> None:
    sacct, squeue = parse_sacct(SACCT).tasks, parse_squeue(SQUEUE).tasks
    merged = reconcile(sacct, squeue, squeue_answered=True)
    assert {key[0] for key in merged} == {"15001"}  # 15000 is not taken for PENDING
    assert merged[("15001", 1)].state == "RUNNING"


def test_without_an_answer_from_squeue_the_record_stands() -> None:
    sacct = parse_sacct(SACCT).tasks
    merged = reconcile(sacct, {}, squeue_answered=False)
    assert merged[("15000", None)].state == "PENDING"


def test_finished_records_purged_from_the_controller_stay() -> None:
    """The controller forgets ended jobs after MinJobAge: their record is the truth."""
    sacct = parse_sacct(SACCT).tasks
    merged = reconcile(sacct, {}, squeue_answered=True)
    assert merged[("15001", 0)].state == "COMPLETED"
    assert ("15001", 1) not in merged and ("15000", None) not in merged
