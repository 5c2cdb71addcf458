"""The fault trials' check against SLURM's own accounting (``sacct --duplicates``): every
job the journal says was submitted is in accounting, and no analysis task ran under two
job ids (a duplicate submission).

Jobs are ours when their comment carries a token of the night's journal (every ``sbatch``
is preceded by an ``intent`` record with that token, so a job submitted but never
journaled is found too); names are not used, as other nights and other users' tests on
the shared cluster use the same names. ``--duplicates`` lists every record of a job SLURM
requeued (a requeue keeps the job id: not a duplicate) and of an id used twice."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from osa_core.executors.slurm_parse import PLACEHOLDER_NAMES
from osa_core.journal import JournalView, Submission

FIELDS = "JobID,JobName,State,Start,Submit,Comment"
ANALYSIS_KINDS = ("CALIBRATION", "DATA", "DL1A", "RUN_CALIBRATION", "DL1B")


@dataclass(frozen=True)
class Row:
    job_id: str
    index: str  # "" for a plain job
    name: str
    state: str
    started: bool
    comment: str

    @property
    def token(self) -> str:
        return _field(self.comment, "token")

    @property
    def kind(self) -> str:
        return _field(self.comment, "kind")


def _field(comment: str, key: str) -> str:
    for part in comment.split(";"):
        name, _, value = part.partition("=")
        if name.rpartition(":")[2] == key:
            return value
    return ""


def read_accounting(since: str) -> str:
    """Every record (``--duplicates``) of every user's job submitted since ``since``."""
    done = subprocess.run(
        ["sacct", "-D", "-a", "-X", "--parsable2", "--noheader", "-S", since, "-o", FIELDS],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def parse_rows(output: str) -> list[Row]:
    rows = []
    for line in output.splitlines():
        cols = line.split("|")
        if len(cols) < 6:
            continue
        job, name, state, start, _submit = cols[:5]
        job_id, _, index = job.partition("_")
        if not job_id.isdigit() or index.startswith("["):  # a folded pending range
            continue
        started = start.strip() not in ("", "Unknown", "None")
        rows.append(Row(job_id, index, name, state, started, "|".join(cols[5:])))
    return rows


def _is(sub: Submission, row: Row) -> bool:
    """The record is this submission's job: its token, or, before slurmdbd has the job's
    comment (a job submitted while slurmdbd was down has none until it ends), its name."""
    return row.token == sub.token or (not row.token and row.name == sub.name)


def _overlap(a: tuple[int, ...] | None, b: tuple[int, ...] | None) -> bool:
    return a is None or b is None or bool(set(a) & set(b))


def forgotten(view: JournalView, output: str) -> list[str]:
    """Journaled jobs SLURM forgot (a controller killed within ~1 s of their ``sbatch``):
    no record of theirs in accounting, their id unused since or taken by another job."""
    by_id: dict[str, list[Row]] = defaultdict(list)
    for row in parse_rows(output):
        by_id[row.job_id].append(row)
    return [
        s.job_id for s in view.submissions if not any(_is(s, r) for r in by_id.get(s.job_id, []))
    ]


def accounting_problems(
    view: JournalView, output: str, work_done: Callable[[Submission], bool] = lambda _: False
) -> list[str]:
    """What accounting contradicts in the journal (empty: nothing).

    A journaled job SLURM forgot (killed controller) is accepted when its id was taken by
    another job since (the next ``sbatch`` gets it: the histories say whether its work was
    done, or it was resubmitted), when the journal shows its work submitted again, or when
    ``work_done`` says the histories hold its work (it ran before SLURM forgot it: slurmd
    ran it while the restarted slurmctld and a killed slurmdbd kept no record; nothing
    needs submitting again, seen in the trials); nothing in accounting for it otherwise
    fails, and so does accounting returning no record at all for a night with
    submissions."""
    rows = parse_rows(output)
    problems = []
    if not rows and view.submissions:
        problems.append(f"accounting returned nothing for {len(view.submissions)} submitted jobs")
    by_id: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_id[row.job_id].append(row)
    for position, sub in enumerate(view.submissions):
        if by_id.get(sub.job_id):
            continue  # ours, or its id taken by another job after SLURM forgot ours
        again = [
            s
            for s in view.submissions[position + 1 :]
            if s.run == sub.run and s.kind == sub.kind and _overlap(s.indices, sub.indices)
        ]
        if not again and not work_done(sub):
            problems.append(
                f"job {sub.job_id} ({sub.kind} run {sub.run}, journaled as submitted) has no "
                "record in accounting, and its work was not submitted again"
            )
    tokens = {str(e.get("token")) for e in view.entries if e.get("action") == "intent"}
    tokens |= {s.token for s in view.submissions}
    ran: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in rows:
        if row.name in PLACEHOLDER_NAMES:
            continue  # a ghost of an array task under its raw id (after kill -9), not a job
        if row.token in tokens and row.kind in ANALYSIS_KINDS and row.started:
            ran[(row.name, row.index or "-")].add(row.job_id)
    for (name, index), jobs in sorted(ran.items()):
        if len(jobs) > 1:
            problems.append(f"duplicate: {name} task {index} ran as jobs {sorted(jobs)}")
    return problems
