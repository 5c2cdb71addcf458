"""Parsing what SLURM's CLI prints (pure functions, fuzzed in the tests).

``sacct --parsable2 --duplicates`` rows: allocation rows (``123``, ``123_4``), pending
array rows (``123_[5-9%2]``) and step rows (``123_4.batch``, ``123.extern``) whose MaxRSS we
fold into their task. With ``--duplicates`` a task SLURM requeued (node failure,
preemption, ``scontrol requeue``) has one record per run: the newest (by submit time) is
its state, and the state of the run before is kept as the reason ("requeued after
NODE_FAIL"). ``squeue -r`` rows: one task per line. Anything that does not parse is
dropped (and counted), never turned into a state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from osa_core.executors.api import TaskState
from osa_core.vocabulary import ACTIVE_STATES, FINAL_STATES, State

SACCT_FIELDS = (
    "JobID",
    "JobName",
    "State",
    "ExitCode",
    "ElapsedRaw",
    "TotalCPU",
    "MaxRSS",
    "Reason",
    "Submit",
    "Comment",
)
SQUEUE_FORMAT = "%i|%T|%r|%j|%k"
#: Names slurmdbd shows for a few seconds before it has the job's own (seen here: a job
#: that failed at once is listed as "allocation"): not the job's name, so not evidence.
PLACEHOLDER_NAMES = frozenset({"allocation"})
_JOBID_RE = re.compile(
    r"^(?P<job>[0-9]+)(?:_(?P<index>[0-9]+|\[[0-9,\-%]+\]))?(?:\.(?P<step>[A-Za-z0-9_-]+))?$"
)
_STATE_RE = re.compile(r"^[A-Z][A-Z_]*$")
_SUBMIT_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$")
#: Live states of a task SLURM put back in the queue (what follows a requeue).
_QUEUED_AGAIN = frozenset({State.PENDING, State.REQUEUED, State.REQUEUE_HOLD, State.REQUEUE_FED})
_SIZE_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


@dataclass
class Parsed:
    tasks: dict[tuple[str, int | None], TaskState] = field(default_factory=dict)
    rejected: int = 0
    #: task → the state its run before ended with, for tasks SLURM requeued (sacct -D)
    requeued: dict[tuple[str, int | None], str] = field(default_factory=dict)


def parse_job_id(text: str) -> tuple[str, list[int] | None, str | None] | None:
    """``123_4.batch`` -> ("123", [4], "batch"); ``123_[1-3]`` -> ("123", [1, 2, 3], None)."""
    match = _JOBID_RE.match(text.strip())
    if not match:
        return None
    index = match["index"]
    indices: list[int] | None = None
    if index is not None:
        if index.startswith("["):
            indices = []
            for part in index.strip("[]").split("%")[0].split(","):
                if not part:
                    continue
                low, _, high = part.partition("-")
                start, end = int(low), int(high or low)
                if end < start or end - start > 1_000_000:
                    return None
                indices.extend(range(start, end + 1))
        else:
            indices = [int(index)]
    return match["job"], indices, match["step"]


def parse_state(text: str) -> str | None:
    """``CANCELLED by 0`` -> ``CANCELLED``; anything not an upper-case word -> None."""
    word = text.strip().split(" ")[0].rstrip("+") if text.strip() else ""
    return word if _STATE_RE.match(word) else None


def parse_exit(text: str) -> tuple[int | None, int | None]:
    code, _, sig = text.strip().partition(":")
    if not (code + sig).isascii():
        return None, None
    try:
        return int(code), int(sig) if sig else None
    except ValueError:
        return None, None


def parse_cpu(text: str) -> float | None:
    """TotalCPU: ``[D-][HH:]MM:SS[.mmm]`` -> seconds."""
    text = text.strip()
    if not text:
        return None
    days = 0
    if "-" in text:
        day, _, text = text.partition("-")
        if not day.isdigit():
            return None
        days = int(day)
    parts = text.split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        return None
    if not 1 <= len(values) <= 3 or any(v < 0 for v in values):
        return None
    seconds = 0.0
    for value in values:
        seconds = seconds * 60 + value
    return days * 86400 + seconds


def parse_size(text: str) -> int | None:
    """MaxRSS: ``1234K`` / ``12.5M`` / ``0`` -> bytes."""
    text = text.strip()
    if not text:
        return None
    unit = text[-1].upper()
    try:
        if unit in _SIZE_UNITS:
            return int(float(text[:-1]) * _SIZE_UNITS[unit])
        return int(float(text))
    except ValueError:
        return None


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def parse_sacct(output: str) -> Parsed:
    """Rows of ``sacct --parsable2 --noheader [--duplicates] -o`` SACCT_FIELDS (with step
    rows). Of several records of one task, the newest (Submit; the later row on a tie) is
    its state; an older record of the same job (same name and comment: not another job
    that reused the id) is a run SLURM requeued, and its state is kept in ``requeued``."""
    parsed = Parsed()
    peaks: dict[tuple[str, int | None], int] = {}
    submitted: dict[tuple[str, int | None], str] = {}
    for line in output.splitlines():
        if not line.strip():
            continue
        cols = line.split("|")
        if len(cols) < len(SACCT_FIELDS):
            parsed.rejected += 1
            continue
        # Comment is last and may itself contain '|': join the rest back.
        jobid, name, state_text, exit_text, elapsed, cpu, rss, reason, submit = cols[:9]
        comment = "|".join(cols[9:])
        ident = parse_job_id(jobid)
        state = parse_state(state_text)
        if ident is None or (state is None and ident[2] is None):
            parsed.rejected += 1
            continue
        job, indices, step = ident
        if step is not None:  # a step row: only its MaxRSS matters
            size = parse_size(rss)
            for index in _task_indices(indices):
                if size is not None:
                    peaks[(job, index)] = max(peaks.get((job, index), 0), size)
            continue
        exit_code, signal = parse_exit(exit_text)
        submit = submit.strip() if _SUBMIT_RE.match(submit.strip()) else ""
        for index in _task_indices(indices):
            task = TaskState(
                job_id=job,
                index=index,
                state=State.parse(state or "UNKNOWN"),
                exit_code=exit_code,
                signal=signal or None,
                elapsed=_int_or_none(elapsed),
                cpu=parse_cpu(cpu),
                max_rss=parse_size(rss),
                reason="" if reason.strip() == "None" else reason.strip(),
                name="" if name in PLACEHOLDER_NAMES else name,
                comment=comment,
            )
            key = (job, index)
            known = parsed.tasks.get(key)
            older: TaskState | None
            if known is not None and submit < submitted.get(key, ""):
                older, task = task, known  # sacct listed the newer record first
            else:
                older, submitted[key] = known, submit
            parsed.tasks[key] = task
            if older is not None and _same_job(older, task):
                parsed.requeued[key] = older.state  # its state says how the run ended
    for key, peak in peaks.items():
        peaked = parsed.tasks.get(key)
        if peaked is not None:
            parsed.tasks[key] = replace(peaked, max_rss=max(peaked.max_rss or 0, peak))
    return parsed


def _same_job(a: TaskState, b: TaskState) -> bool:
    """Two records of one job (a requeue), not two jobs that had the same id."""
    return (not a.name or not b.name or a.name == b.name) and a.comment == b.comment


def requeue_reason(previous: str, reason: str) -> str:
    """The reason shown for a task SLURM requeued: what ended its run before, then SLURM's
    reason for the current record (``requeued after NODE_FAIL (BeginTime)``)."""
    note = f"requeued after {previous}" if previous != "REQUEUED" else "requeued"
    return f"{note} ({reason})" if reason else note


def parse_squeue(output: str) -> Parsed:
    """Rows of ``squeue -h -r -t all -o`` SQUEUE_FORMAT."""
    parsed = Parsed()
    for line in output.splitlines():
        if not line.strip():
            continue
        cols = line.split("|")
        if len(cols) < 5:
            parsed.rejected += 1
            continue
        jobid, state_text, reason, name = cols[:4]
        comment = "|".join(cols[4:])
        ident = parse_job_id(jobid)
        state = parse_state(state_text)
        if ident is None or state is None or ident[2] is not None:
            parsed.rejected += 1
            continue
        job, indices, _ = ident
        for index in _task_indices(indices):
            parsed.tasks[(job, index)] = TaskState(
                job_id=job,
                index=index,
                state=State.parse(state),
                reason="" if reason in ("None", "(null)") else reason,
                name=name,
                comment="" if comment == "(null)" else comment,
            )
    return parsed


TaskKey = tuple[str, int | None]


def _task_indices(indices: list[int] | None) -> list[int | None]:
    """The array indices of a row, or ``[None]`` for a plain job."""
    return list(indices) if indices else [None]


def reconcile(
    sacct: dict[TaskKey, TaskState],
    squeue: dict[TaskKey, TaskState],
    squeue_answered: bool = False,
    requeued: dict[TaskKey, str] | None = None,
) -> dict[TaskKey, TaskState]:
    """sacct is the record, squeue the fresher view: squeue wins on the state and the
    reason of tasks it knows (sacct lags by seconds, and its Reason of a pending task is
    stale or cut: ``ReqNodeNotAvail`` where squeue says ``ReqNodeNotAvail, Reserved for
    maintenance``), sacct keeps exit code, times and memory. A task SLURM requeued says so
    in its reason (``requeued``: task → the state its run before ended with).

    When squeue answered, a job sacct calls active (PENDING, RUNNING...) that squeue does
    not list at all is unknown to the controller: an active job is never purged from it.
    That happens after slurmctld is killed with -9: a job submitted just before is lost
    while slurmdbd already recorded it, or an end never reaches slurmdbd. Such a record is
    dropped, so the job is "not seen" (LOST after a while, then retried, unless its
    history shows the work done) and nothing is chained on a job the controller refuses
    ("Job dependency problem")."""
    merged = dict(sacct)
    if squeue_answered:
        live_jobs = {key[0] for key in squeue}
        for key, record in sacct.items():
            if key[0] not in live_jobs and record.state in ACTIVE_STATES:
                del merged[key]
    requeued = dict(requeued or {})
    for key, live in squeue.items():
        known = merged.get(key)
        if known is None:
            merged[key] = live
            continue
        ended = known.state in FINAL_STATES or known.state == State.REQUEUED
        if ended and live.state in _QUEUED_AGAIN and key not in requeued:
            # the controller queued again a task whose run accounting saw end: a requeue
            # whose new record slurmdbd does not have yet (seen for array tasks)
            requeued[key] = known.state
        if known.state != live.state or known.reason != live.reason:
            merged[key] = replace(known, state=live.state, reason=live.reason or known.reason)
    for key, previous in requeued.items():
        task = merged.get(key)
        if task is not None:
            merged[key] = replace(task, reason=requeue_reason(previous, task.reason))
    return merged
