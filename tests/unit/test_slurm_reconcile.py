"""Reconciling sacct (the record) with squeue (the controller's live view), on output lines
in the exact formats the SLURM executor asks for (22.05, as printed by the local cluster:
``sacct --duplicates``, ``squeue -r``)."""

from __future__ import annotations

from osa_core.executors.slurm_parse import parse_sacct, parse_squeue, reconcile

SACCT = "\n".join(
    [
        # a calibration job slurmdbd recorded but the controller lost (killed -9 right after)
        "15000|osa_20200218_cal_02001|PENDING|0:0|0|00:00:00||None|2026-11-30T06:00:00|n=2020-02-18",
        # a data array the controller knows: task 0 ran, task 1 is RUNNING in both
        "15001_0|osa_20200218_dat_02002|COMPLETED|0:0|3|00:00.100||None|2026-11-30T06:00:01|n=2020-02-18",
        "15001_1|osa_20200218_dat_02002|RUNNING|0:0|2|00:00:00||None|2026-11-30T06:00:01|n=2020-02-18",
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


def test_squeue_gives_the_live_reason_of_a_pending_task() -> None:
    """sacct's Reason of a pending task is stale or cut (seen with a maintenance
    reservation: sacct ``ReqNodeNotAvail``, squeue the whole reason)."""
    sacct = parse_sacct(
        "320_[0-1]|osa_20200218_dat_02002|PENDING|0:0|0|00:00:00||ReqNodeNotAvail"
        "|2026-11-30T06:49:44|n=2020-02-18"
    ).tasks
    squeue = parse_squeue(
        "320_0|PENDING|ReqNodeNotAvail, Reserved for maintenance|osa_20200218_dat_02002|n=1\n"
        "320_1|PENDING|ReqNodeNotAvail, Reserved for maintenance|osa_20200218_dat_02002|n=1"
    ).tasks
    merged = reconcile(sacct, squeue, squeue_answered=True)
    assert {t.reason for t in merged.values()} == {"ReqNodeNotAvail, Reserved for maintenance"}


# ``sacct --duplicates`` of a job whose node was set DOWN while it ran (SLURM 22.05: the
# NODE_FAIL record, its batch step, then the requeued run), and of an id another job took
# after a crash (other name and comment: not a requeue).
REQUEUED = "\n".join(
    [
        "304|osa_20200218_cal_02001|NODE_FAIL|0:0|2|00:00:00||None|2026-11-30T06:47:51|n=1",
        "304.batch|batch|CANCELLED||2|00:00:00|1080K||2026-11-30T06:47:52|",
        "304|osa_20200218_cal_02001|PENDING|0:0|0|00:00:00||BeginTime|2026-11-30T06:47:54|n=1",
        "305|osa_20200218_cal_02001|PENDING|0:0|0|00:00:00||None|2026-11-30T06:50:00|n=lost",
        "305|osa_20200218_dat_02002|RUNNING|0:0|1|00:00:00||None|2026-11-30T06:50:02|n=2",
    ]
)


def test_a_requeued_task_is_its_newest_run_and_says_what_ended_the_one_before() -> None:
    parsed = parse_sacct(REQUEUED)
    assert parsed.tasks[("304", None)].state == "PENDING"
    assert parsed.requeued == {("304", None): "NODE_FAIL"}
    assert parsed.tasks[("305", None)].name == "osa_20200218_dat_02002"  # not a requeue
    squeue = parse_squeue("304|PENDING|BeginTime|osa_20200218_cal_02001|n=1")
    merged = reconcile(parsed.tasks, squeue.tasks, squeue_answered=True, requeued=parsed.requeued)
    assert merged[("304", None)].reason == "requeued after NODE_FAIL (BeginTime)"


def test_the_newest_record_wins_in_whatever_order_sacct_lists_them() -> None:
    lines = REQUEUED.splitlines()
    parsed = parse_sacct("\n".join([lines[2], lines[0], lines[4], lines[3]]))
    assert parsed.tasks[("304", None)].state == "PENDING"
    assert parsed.requeued == {("304", None): "NODE_FAIL"}
    assert parsed.tasks[("305", None)].state == "RUNNING"


def test_an_ended_record_queued_again_is_a_requeue() -> None:
    """Array tasks of a node set DOWN: for seconds sacct -D has only the NODE_FAIL record
    while squeue already has them PENDING again (SLURM 22.05, seen here)."""
    parsed = parse_sacct(
        "363_0|osa_20200218_dat_02002|NODE_FAIL|0:0|2|00:00:00||None|2026-11-30T07:01:01|n=1"
    )
    squeue = parse_squeue("363_0|PENDING|BeginTime|osa_20200218_dat_02002|n=1").tasks
    merged = reconcile(parsed.tasks, squeue, squeue_answered=True, requeued=parsed.requeued)
    assert merged[("363", 0)].state == "PENDING"
    assert merged[("363", 0)].reason == "requeued after NODE_FAIL (BeginTime)"
    # a task still COMPLETING after it failed is not a requeue
    squeue = parse_squeue("363_0|COMPLETING|None|osa_20200218_dat_02002|n=1").tasks
    merged = reconcile(parsed.tasks, squeue, squeue_answered=True)
    assert merged[("363", 0)].reason == ""


def test_an_operators_requeue() -> None:
    """``scontrol requeue`` / ``requeuehold`` of running array tasks (22.05, seen here):
    the run's record ends REQUEUED (alone at first), the task is PENDING again."""
    comment = "osa:night=2020-02-18;kind=DATA;run=2002;attempt=1;token=fdbdadc4f77b"
    sacct = parse_sacct(
        f"374_0|osa_20200218_dat_02002|REQUEUED|Dependency|0|0|||2026-11-30T07:02:25|{comment}\n"
        f"374_1|osa_20200218_dat_02002|REQUEUED|JobHeldUser|0|0|||2026-11-30T07:02:25|{comment}\n"
        f"374_1|osa_20200218_dat_02002|PENDING|JobHeldUser|0|0|||2026-11-30T07:02:27|{comment}"
    )
    squeue = parse_squeue(
        f"374_0|PENDING|BeginTime|osa_20200218_dat_02002|{comment}\n"
        f"374_1|PENDING|job requeued in held state|osa_20200218_dat_02002|{comment}"
    ).tasks
    merged = reconcile(sacct.tasks, squeue, squeue_answered=True, requeued=sacct.requeued)
    assert merged[("374", 0)].reason == "requeued (BeginTime)"
    assert merged[("374", 1)].reason == "requeued (job requeued in held state)"
