"""The engine's vocabulary: the states of a task and the kinds of job, each said once.

Every face (status, retry policy, readiness, console, CLI tables, ``--json``) asks these
groups instead of keeping its own list of "failed" or "active" states: a state added here
is drawn, counted and retried the same way everywhere. Members are ``str`` subclasses, so
they compare equal to the plain text SLURM prints and serialise to JSON as that text.

Nothing here imports anything of the engine: it is the bottom layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class _Word(str, Enum):
    """A ``str`` enum whose ``str()`` and f-string form is the bare value on every Python."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class State(_Word):
    """The state of one task (an array element or a plain job), or of a subrun.

    The scheduler's states are SLURM's own words (``squeue``/``sacct``), which the local
    executor uses too. The engine's own states say what the scheduler cannot know.
    """

    # --- waiting or working (the scheduler has it) -------------------------------------
    PENDING = "PENDING"  #: queued: resources, a dependency or the pending cap hold it
    RUNNING = "RUNNING"  #: a process is working on it
    REQUEUED = "REQUEUED"  #: SLURM put it back in the queue (node failure, preemption)
    RESIZING = "RESIZING"  #: SLURM is changing its allocation
    SUSPENDED = "SUSPENDED"  #: paused by an administrator
    CONFIGURING = "CONFIGURING"  #: nodes are being booted for it
    COMPLETING = "COMPLETING"  #: its processes are exiting
    REQUEUE_HOLD = "REQUEUE_HOLD"  #: requeued and held
    REQUEUE_FED = "REQUEUE_FED"  #: requeued by a federation
    SIGNALING = "SIGNALING"  #: being signalled
    STAGE_OUT = "STAGE_OUT"  #: staging out its files
    STOPPED = "STOPPED"  #: stopped by a signal, still allocated
    RESV_DEL_HOLD = "RESV_DEL_HOLD"  #: held because its reservation was deleted
    # --- ended well ----------------------------------------------------------------------
    COMPLETED = "COMPLETED"  #: exit code 0 (for a subrun: every step in its history done)
    # --- ended badly (the scheduler says so) --------------------------------------------
    FAILED = "FAILED"  #: non-zero exit code
    CANCELLED = "CANCELLED"  #: scancel, or a dependency that can never be satisfied
    TIMEOUT = "TIMEOUT"  #: its time limit was reached
    OUT_OF_MEMORY = "OUT_OF_MEMORY"  #: its memory limit was reached
    NODE_FAIL = "NODE_FAIL"  #: its node died
    PREEMPTED = "PREEMPTED"  #: another job took its resources
    BOOT_FAIL = "BOOT_FAIL"  #: its node could not boot
    DEADLINE = "DEADLINE"  #: its deadline passed
    REVOKED = "REVOKED"  #: a federation sibling ran it
    SPECIAL_EXIT = "SPECIAL_EXIT"  #: a special exit value requeued and held it
    # --- the engine's own words -----------------------------------------------------------
    NOT_SUBMITTED = "NOT_SUBMITTED"  #: planned, never submitted
    AWAITED = "AWAITED"  #: listed in the RunSummary, its files not on disk (yet)
    WAITING = "WAITING"  #: work left, nothing submitted for it: waits on another part
    LOST = "LOST"  #: submitted, the scheduler answers and has no such job (or reused its id)
    GIVEN_UP = "GIVEN_UP"  #: an operator decided it will not be processed (journaled)
    UNKNOWN = "UNKNOWN"  #: the scheduler did not answer, or does not show it yet
    PARTIAL = "PARTIAL"  #: a sequence whose subruns are in mixed final states

    @classmethod
    def parse(cls, text: str) -> State:
        """A scheduler's word (``CANCELLED by 0`` included) as a state; UNKNOWN otherwise."""
        word = text.strip().split(" ")[0].rstrip("+").upper()
        try:
            return cls(word)
        except ValueError:
            return cls.UNKNOWN

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATES

    @property
    def is_failed(self) -> bool:
        return self in FAILED_STATES

    @property
    def is_finished(self) -> bool:
        return self in FINISHED_STATES


#: The scheduler still has it: queued or working. Nothing may be decided about its result.
ACTIVE_STATES: frozenset[State] = frozenset(
    {
        State.PENDING,
        State.RUNNING,
        State.REQUEUED,
        State.RESIZING,
        State.SUSPENDED,
        State.CONFIGURING,
        State.COMPLETING,
        State.REQUEUE_HOLD,
        State.REQUEUE_FED,
        State.SIGNALING,
        State.STAGE_OUT,
        State.STOPPED,
        State.RESV_DEL_HOLD,
    }
)
#: Ended without its work done: what "resubmit failed" resubmits and the retry policy
#: classifies. LOST is here: a lost job's subruns need to run again.
FAILED_STATES: frozenset[State] = frozenset(
    {
        State.FAILED,
        State.CANCELLED,
        State.TIMEOUT,
        State.OUT_OF_MEMORY,
        State.NODE_FAIL,
        State.PREEMPTED,
        State.BOOT_FAIL,
        State.DEADLINE,
        State.REVOKED,
        State.SPECIAL_EXIT,
        State.LOST,
    }
)
#: Nothing left to do: the night may close over these.
FINISHED_STATES: frozenset[State] = frozenset({State.COMPLETED, State.GIVEN_UP})
#: The scheduler will not change these any more (its record is final).
FINAL_STATES: frozenset[State] = (FAILED_STATES - {State.LOST}) | {State.COMPLETED}


class JobKind(_Word):
    """What a job does; the journal, job names and the status group jobs by it."""

    CALIBRATION = "CALIBRATION"  #: the night's Cat-A calibration (DRS4 baseline + PEDCALIB)
    GAIN_SELECTION = "GAIN_SELECTION"  #: per subrun, before anything reads it: R0 → R0G
    DATA = "DATA"  #: per subrun, one array per run: R0 → DL1a → DL1b → datacheck (fixed cleaning)
    DL1A = "DL1A"  #: phase 1, per subrun: R0 → DL1a, muons, interleaved pedestal/flat-field
    RUN_CALIBRATION = "RUN_CALIBRATION"  #: phase 2, per run: Cat-B, tail cuts, NSB, models
    DL1B = "DL1B"  #: phase 3, per subrun: DL1a → DL1b with the run's cleaning → datacheck
    CLOSE_RUNS = "CLOSE_RUNS"  #: per run, one array over runs: merges, run datacheck, DL2
    CLOSE_NIGHT = "CLOSE_NIGHT"  #: once: longterm check, provenance, move, manifest

    @property
    def tag(self) -> str:
        """Three letters for job names (``osa_20200218_dat_02008``)."""
        return _TAGS[self]

    @property
    def is_close(self) -> bool:
        return self in (JobKind.CLOSE_RUNS, JobKind.CLOSE_NIGHT)

    @property
    def per_subrun(self) -> bool:
        """An array with one task per subrun of a run."""
        return self in (JobKind.GAIN_SELECTION, JobKind.DATA, JobKind.DL1A, JobKind.DL1B)


_TAGS = {
    JobKind.CALIBRATION: "cal",
    JobKind.GAIN_SELECTION: "gsl",
    JobKind.DATA: "dat",
    JobKind.DL1A: "dla",
    JobKind.RUN_CALIBRATION: "rca",
    JobKind.DL1B: "dlb",
    JobKind.CLOSE_RUNS: "clo",
    JobKind.CLOSE_NIGHT: "clo",
}


def job_id_key(job_id: str) -> tuple[int, int, str]:
    """Sort key for job ids: numeric ids in numeric order (``9`` before ``10``), anything
    else after them in text order. The one ordering of job ids used everywhere."""
    head = job_id.split("_")[0]
    if head.isdigit():
        return (0, int(head), job_id)
    return (1, 0, job_id)


def sorted_job_ids(job_ids: Iterable[str]) -> list[str]:
    """Distinct job ids, in ``job_id_key`` order."""
    return sorted({str(j) for j in job_ids}, key=job_id_key)
