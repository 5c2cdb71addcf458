"""Shared pieces of the benchmarks: samples, result rows, A/B alternation, measuring commands.

Every benchmark module exposes ``NAME``, ``TITLE``, ``DESCRIPTION`` (markdown for
docs/performance.md) and ``run(ctx) -> list[Row]``. A row compares our figure with the
reference's (lstosa, a plain tool, or a number taken from lstosa's code), says what the goal
is and whether it is met; a missed goal is reported as missed, never tuned away.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
VENV_BIN = Path(sys.executable).parent
NIGHT = dt.date(2024, 3, 15)


@dataclass
class Stat:
    """Samples of one measured quantity (seconds, MB, calls...), summarised by the median."""

    samples: list[float]
    unit: str = "s"

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    def text(self) -> str:
        """``0.81 s (0.74–0.93)``; a single sample has no range."""
        if len(self.samples) == 1:
            return f"{fmt(self.median)} {self.unit}"
        return f"{fmt(self.median)} {self.unit} ({fmt(self.low)}–{fmt(self.high)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "min": self.low,
            "max": self.high,
            "n": len(self.samples),
            "unit": self.unit,
            "samples": self.samples,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Stat | None:
        return cls(list(data["samples"]), data["unit"]) if data else None


def fmt(value: float) -> str:
    """Three significant figures, no exponent for the magnitudes we show."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


@dataclass
class Row:
    """One line of the result table."""

    bench: str
    name: str
    ours: Stat | None = None
    ref: Stat | None = None
    ratio: float | None = None
    ratio_text: str = ""
    goal: str = "—"
    met: bool | None = None
    note: str = ""
    ref_text: str = ""  # replaces the reference column (modelled figures, skipped reference)
    ours_text: str = ""

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "n/a" if self.goal == "—" else "not measured"
        return "met" if self.met else "MISSED"

    def ours_cell(self) -> str:
        return self.ours_text or (self.ours.text() if self.ours else "—")

    def ref_cell(self) -> str:
        return self.ref_text or (self.ref.text() if self.ref else "—")

    def to_dict(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "name": self.name,
            "ours": self.ours.to_dict() if self.ours else None,
            "ours_text": self.ours_cell(),
            "reference": self.ref.to_dict() if self.ref else None,
            "reference_text": self.ref_cell(),
            "ratio": self.ratio,
            "ratio_text": self.ratio_text,
            "goal": self.goal,
            "met": self.met,
            "verdict": self.verdict,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        """Inverse of ``to_dict`` (``bench/run.py --render`` re-renders a saved run)."""
        ours, ref = Stat.from_dict(data["ours"]), Stat.from_dict(data["reference"])
        return cls(
            data["bench"],
            data["name"],
            ours,
            ref,
            data["ratio"],
            data["ratio_text"],
            data["goal"],
            data["met"],
            data["note"],
            ref_text="" if ref and data["reference_text"] == ref.text() else data["reference_text"],
            ours_text="" if ours and data["ours_text"] == ours.text() else data["ours_text"],
        )


def speedup_row(
    bench: str, name: str, ours: Stat, ref: Stat, goal: float | None, note: str = "", word="faster"
) -> Row:
    """Reference / ours: ``9.1× faster``; met when at least ``goal``."""
    ratio = ref.median / ours.median if ours.median > 0 else float("inf")
    return Row(
        bench,
        name,
        ours,
        ref,
        ratio,
        f"{fmt(ratio)}× {word}",
        f"≥ {goal:g}× {word}" if goal is not None else "—",
        (ratio >= goal) if goal is not None else None,
        note,
    )


def slowdown_row(
    bench: str, name: str, ours: Stat, ref: Stat, goal: float | None, note: str = ""
) -> Row:
    """Ours / reference: ``1.3× the reference``; met when at most ``goal``."""
    ratio = ours.median / ref.median if ref.median > 0 else float("inf")
    return Row(
        bench,
        name,
        ours,
        ref,
        ratio,
        f"{fmt(ratio)}× the reference",
        f"≤ {goal:g}×" if goal is not None else "—",
        (ratio <= goal) if goal is not None else None,
        note,
    )


def limit_row(
    bench: str,
    name: str,
    ours: Stat,
    limit: float | None,
    note: str = "",
    ref: Stat | None = None,
    ref_text: str = "",
) -> Row:
    """An absolute goal on our median (``≤ 100 MB``)."""
    return Row(
        bench,
        name,
        ours,
        ref,
        None,
        "",
        f"≤ {limit:g} {ours.unit}" if limit is not None else "—",
        (ours.median <= limit) if limit is not None else None,
        note,
        ref_text,
    )


def skipped_row(bench: str, name: str, reason: str, goal: str = "—") -> Row:
    return Row(bench, name, goal=goal, note=f"not measured: {reason}", ours_text="skipped")


@dataclass
class Context:
    """What every benchmark gets: options, a scratch folder, a progress printer."""

    quick: bool
    scratch: Path
    log: Callable[[str], None]
    options: dict[str, Any] = field(default_factory=dict)

    def reps(self, full: int, quick: int = 1) -> int:
        return quick if self.quick else full

    @contextmanager
    def folder(self, name: str) -> Iterator[Path]:
        """A fresh folder under the scratch dir, removed afterwards (nights can be big)."""
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.scratch))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


def alternate(runners: dict[str, Callable[[], Any]], reps: int) -> dict[str, list[Any]]:
    """Run A, B, (C...) ``reps`` times, reversing the order every other round.

    Interleaving spreads the machine's background load over every side; reversing the
    order cancels the advantage of going first (warm caches) or last.
    """
    results: dict[str, list[Any]] = {key: [] for key in runners}
    order = list(runners)
    for round_index in range(reps):
        for key in order if round_index % 2 == 0 else order[::-1]:
            results[key].append(runners[key]())
    return results


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = func()
    return time.perf_counter() - started, value


@dataclass
class Measured:
    """A finished command: wall seconds, CPU seconds, peak RSS (MB), exit code, output."""

    wall: float
    cpu: float | None
    rss_mb: float | None
    returncode: int
    output: str


def measure(
    cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Measured:
    """Run ``cmd`` under ``/usr/bin/time -v`` (peak RSS, CPU) timed with ``perf_counter``."""
    from lstosa_ref import measure_command

    result = measure_command(
        list(cmd), env=env if env is not None else dict(os.environ), cwd=cwd or Path.cwd()
    )
    return Measured(
        result["wall_s"],
        result["cpu_s"],
        result["peak_rss_mb"],
        result["returncode"],
        result["output"],
    )


def check(result: Measured, what: str) -> Measured:
    if result.returncode != 0:
        tail = "\n".join(result.output.splitlines()[-15:])
        raise RuntimeError(f"{what} exited {result.returncode}:\n{tail}")
    return result


def our_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our tools' environment: this venv first on PATH, no config from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if k not in {"OSA_CONFIG", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env.setdefault("MPLBACKEND", "Agg")
    env.update(extra or {})
    return env


def osa_command(*args: str) -> list[str]:
    return [str(VENV_BIN / "osa"), *args]


def write_config(base: Path, body: str, name: str = "osa.toml") -> Path:
    """An osa-console config next to a night: ``[paths] base`` = that folder."""
    path = base / name
    # the benchmarks compare one job per subrun with lstosa's datasequence: the fixed
    # workflow (the per-run phases have rows of their own)
    night = "" if "[night]" in body else '\n[night]\nworkflow = "fixed"\n'
    path.write_text(f'[paths]\nbase = "{base}"\n\n{body}\n{night}')
    return path


def active_tasks(tasks: Sequence[Any]) -> list[Any]:
    """Pending/running tasks, ignoring an array's own record (index None) next to its tasks.

    After a slurmctld restart, ``sacct --duplicates`` can keep a stale ``PENDING`` record
    of the array job itself (observed on the shared test cluster) although every task
    ended; waiting on it would wait forever.
    """
    from osa_core.vocabulary import ACTIVE_STATES

    arrays = {t.job_id for t in tasks if t.index is not None}
    return [
        t
        for t in tasks
        if t.state in ACTIVE_STATES and not (t.index is None and t.job_id in arrays)
    ]


def wait_idle(config: Any, night: dt.date = NIGHT, timeout: float = 300) -> None:
    """Until no task of the night's journal is pending or running on its executor."""
    from osa_core.executors.factory import get_executor
    from osa_core.journal import Journal
    from osa_core.paths import NightPaths

    executor = get_executor(config)
    deadline = time.monotonic() + timeout
    while True:
        ids = Journal(NightPaths(config, night).journal).read().job_ids()
        result = executor.query(ids)
        active = active_tasks(result.tasks)
        if result.reachable and result.complete and not active:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(active)} task(s) still active after {timeout:.0f} s")
        time.sleep(0.5)


def slurm_up() -> tuple[bool, str]:
    """Whether the SLURM controller and accounting answer (the status/load rows need both)."""
    if shutil.which("sinfo") is None or shutil.which("sacct") is None:
        return False, "no SLURM client installed"
    try:
        ping = subprocess.run(["sinfo", "-h"], capture_output=True, text=True, timeout=10)
        acct = subprocess.run(
            ["sacct", "-n", "-X", "-j", "1"], capture_output=True, text=True, timeout=10
        )
    except subprocess.TimeoutExpired:
        return False, "SLURM does not answer within 10 s"
    if ping.returncode != 0:
        return False, "no SLURM cluster up (scripts/slurm-local up)"
    if acct.returncode != 0:
        return False, "SLURM accounting (slurmdbd) does not answer"
    return True, ""


def lstosa_available() -> tuple[bool, str]:
    from lstosa_ref import DEFAULT_VENV, LSTOSA_VERSION, _installed_lstosa_version

    if _installed_lstosa_version(DEFAULT_VENV) == LSTOSA_VERSION:
        return True, ""
    return False, f"lstosa {LSTOSA_VERSION} not installed in {DEFAULT_VENV}"


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python, load average, date, tool versions."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = int(line.split()[1]) / 1024**2
                break
    except OSError:
        pass
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))}, kernel {platform.release()}"
    except OSError:
        pass
    versions = {}
    for package in ("osa-console", "lstchain", "textual", "ctapipe"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = "?"
    try:
        slurm = subprocess.run(["sinfo", "-V"], capture_output=True, text=True, timeout=5)
        versions["slurm"] = slurm.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        versions["slurm"] = "not installed"
    from lstosa_ref import DEFAULT_VENV, _installed_lstosa_version

    versions["lstosa (reference)"] = _installed_lstosa_version(DEFAULT_VENV) or "not installed"
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(ram_gb, 1) if ram_gb else None,
        "os": os_name,
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "versions": versions,
    }


def process_memory() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]
