"""The fault trials' accounting check (tests/helpers/accounting.py) can fail: it does when
accounting returns nothing, when it has no record of a journaled job whose work was not
submitted again, and when a task ran under two job ids; a requeue (one job id, several
records in ``sacct --duplicates``) is not a duplicate, and a job SLURM forgot after a
controller crash, resubmitted by osa, is accepted. Rows are in the
format the trials ask for: ``sacct -D -a -X --parsable2 -o JobID,JobName,State,Start,
Submit,Comment``."""

from __future__ import annotations

from osa_core.journal import JournalView
from tests.helpers.accounting import accounting_problems, forgotten

CAL = "osa_20200218_cal_02001"
DAT = "osa_20200218_dat_02002"
T0 = "2026-11-30T07:00:00"


def _comment(kind: str, token: str) -> str:
    return f"osa:night=2020-02-18;kind={kind};run=2002;attempt=1;token={token}"


def _journal(*subs: tuple[str, str, str, int, list[int] | None]) -> JournalView:
    view = JournalView()
    for job_id, token, kind, run, indices in subs:
        view.apply({"action": "intent", "token": token, "run": run, "kind": kind})
        view.apply(
            {
                "action": "submitted",
                "token": token,
                "run": run,
                "kind": kind,
                "job_id": job_id,
                "indices": indices,
                "name": CAL if kind == "CALIBRATION" else DAT,
            }
        )
    return view


JOURNAL = _journal(("10", "tc", "CALIBRATION", 2001, None), ("11", "td", "DATA", 2002, [0, 1]))
GOOD = "\n".join(
    [
        f"10|{CAL}|COMPLETED|{T0}|{T0}|{_comment('CALIBRATION', 'tc')}",
        f"11_0|{DAT}|COMPLETED|{T0}|{T0}|{_comment('DATA', 'td')}",
        f"11_1|{DAT}|NODE_FAIL|{T0}|{T0}|{_comment('DATA', 'td')}",  # requeued by SLURM:
        f"11_1|{DAT}|COMPLETED|{T0}|{T0}|{_comment('DATA', 'td')}",  # the same job id
        # another night's or another user's job of the same name: not ours (no token of ours)
        f"12_0|{DAT}|COMPLETED|{T0}|{T0}|{_comment('DATA', 'someone-else')}",
    ]
)


def test_a_clean_night_passes() -> None:
    assert accounting_problems(JOURNAL, GOOD) == []


def test_accounting_returning_nothing_fails() -> None:
    problems = accounting_problems(JOURNAL, "")
    assert problems[0] == "accounting returned nothing for 2 submitted jobs"
    assert problems[1] == (
        "job 10 (CALIBRATION run 2001, journaled as submitted) has no record in accounting, "
        "and its work was not submitted again"
    )


def test_a_journaled_job_missing_from_accounting_fails() -> None:
    rows = "\n".join(line for line in GOOD.splitlines() if not line.startswith("10|"))
    assert accounting_problems(JOURNAL, rows) == [
        "job 10 (CALIBRATION run 2001, journaled as submitted) has no record in accounting, "
        "and its work was not submitted again"
    ]


def test_a_job_slurm_forgot_after_it_ran_is_accepted_only_with_its_work_recorded() -> None:
    """Seen in the trials (slurmctld and slurmdbd killed while submitting): the calibration
    job ran, its products and history are there, SLURM kept no record of it; nothing had to
    be submitted again. Without its work in the histories, the same journal still fails."""
    rows = "\n".join(line for line in GOOD.splitlines() if not line.startswith("10|"))
    ran = {"10"}
    assert accounting_problems(JOURNAL, rows, lambda sub: sub.job_id in ran) == []
    assert accounting_problems(JOURNAL, rows, lambda sub: False) != []


def test_a_job_slurm_forgot_and_osa_resubmitted_is_accepted() -> None:
    """Seen in the trials: slurmctld killed right after five sbatch; none of the jobs is in
    accounting, the next ids went to the resubmissions, the last id to nobody yet."""
    again = _journal(
        ("10", "tc", "CALIBRATION", 2001, None),
        ("11", "td", "DATA", 2002, [0, 1]),
        ("10", "tc2", "CALIBRATION", 2001, None),
        ("12", "td2", "DATA", 2002, [0, 1]),
    )
    rows = "\n".join(
        [
            f"10|{CAL}|COMPLETED|{T0}|{T0}|{_comment('CALIBRATION', 'tc2')}",
            f"12_0|{DAT}|COMPLETED|{T0}|{T0}|{_comment('DATA', 'td2')}",
            f"12_1|{DAT}|COMPLETED|{T0}|{T0}|{_comment('DATA', 'td2')}",
        ]
    )
    assert accounting_problems(again, rows) == []
    assert forgotten(again, rows) == ["10", "11"]


def test_a_task_run_under_two_job_ids_fails() -> None:
    """A submission that reached SLURM but not the journal, then submitted again: its
    intent's token is in the journal, so the first job is found as ours."""
    journal = _journal(("10", "tc", "CALIBRATION", 2001, None), ("11", "td", "DATA", 2002, [0, 1]))
    journal.apply({"action": "intent", "token": "tlost", "run": 2002, "kind": "DATA"})
    rows = GOOD + f"\n9_1|{DAT}|COMPLETED|{T0}|{T0}|{_comment('DATA', 'tlost')}"
    assert accounting_problems(journal, rows) == [
        f"duplicate: {DAT} task 1 ran as jobs ['11', '9']"
    ]


def test_a_job_cancelled_before_it_started_is_no_duplicate() -> None:
    rows = GOOD + f"\n13_1|{DAT}|CANCELLED by 0|Unknown|{T0}|{_comment('DATA', 'td')}"
    assert accounting_problems(JOURNAL, rows) == []


def test_an_id_another_job_took_is_a_forgotten_job() -> None:
    """slurmctld killed right after sbatch: our job 10 lost (its work may have been done
    before: the histories tell), the id given to another job."""
    rows = GOOD.replace(_comment("CALIBRATION", "tc"), _comment("DATA", "other"))
    assert accounting_problems(JOURNAL, rows) == []
    assert forgotten(JOURNAL, rows) == ["10"]


def test_a_job_submitted_while_slurmdbd_was_down_has_no_comment_yet() -> None:
    """Seen on the cluster: such a job's record has an empty comment until the job ends."""
    rows = GOOD.replace(f"|{_comment('CALIBRATION', 'tc')}", "|")
    assert accounting_problems(JOURNAL, rows) == []


def test_ghost_records_of_array_tasks_are_no_duplicates() -> None:
    """After kill -9, accounting can hold a record of an array task under its raw id, named
    ``allocation`` (seen in the trials: ``501|allocation|COMPLETED|...``)."""
    ghosts = "\n".join(
        f"{job}|allocation|COMPLETED|{T0}|{T0}|{_comment('DATA', 'td')}" for job in ("20", "21")
    )
    assert accounting_problems(JOURNAL, GOOD + "\n" + ghosts) == []
