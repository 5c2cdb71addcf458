"""The configuration: one TOML file, validated once at start, typed everywhere after.

The schema is the frozen dataclasses below: each key has one definition (type, constraints
as ``Annotated[..., msgspec.Meta(...)]``, default, and its description, from which
docs/configuration.md and ``osa config schema`` are generated). msgspec converts and
validates every value; this module walks the schema itself, table by table and key by
key, so that it always knows which key it is converting and a wrong value gives one line
naming the file, the line and the key, e.g.::

    osa.toml:14: [slurm.data] memory: expected a size like "6GB", got 6

Why dataclasses and not ``msgspec.Struct``: the engine builds changed copies of these
objects with ``dataclasses.replace`` (retry.py raises a job's memory that way), and a Struct
is not a dataclass. msgspec converts into dataclasses all the same, and unknown keys are
refused (with a did-you-mean) by the walk, which is what ``forbid_unknown_fields`` does.

Paths are written relative to ``[paths] base`` (itself relative to the config file's folder)
and resolved here, in one place (``_Loader.resolve``).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import operator
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, NoReturn, Union

import msgspec
from msgspec import Meta

from osa_core.bundled import data_folder
from osa_core.errors import ConfigError
from osa_core.units import Duration, MemorySize

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

ENV_VAR = "OSA_CONFIG"
DEFAULT_CONFIG = Path(str(data_folder("osa_core.defaults", "config") / "osa.toml"))

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ProductionId(str):
    """A production id such as ``v0.12`` or ``tailcut84/nsb_tuning_0.14``.

    Becomes a directory name, so only ``[A-Za-z0-9._-]`` segments joined by ``/``, with no
    ``..`` and no leading dot: it can never escape the night's tree.
    """

    @classmethod
    def parse(cls, value: object) -> ProductionId:
        if not isinstance(value, str) or not _ID_RE.fullmatch(value) or ".." in value.split("/"):
            raise ValueError("not a production id")
        return cls(value)


class Name(str):
    """A plain token (account, partition list item, theme): no path separators or spaces."""

    @classmethod
    def parse(cls, value: object) -> Name:
        if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
            raise ValueError("not a plain name")
        return cls(value)


class MemoryBudget(str):
    """``"auto"`` (80% of the machine's memory) or a size like ``"8GB"``.

    Kept as the text the user wrote: the local executor resolves ``auto`` on the machine
    it runs on, which need not be the one that loaded the config.
    """

    @classmethod
    def parse(cls, value: object) -> MemoryBudget:
        if not isinstance(value, str):
            raise ValueError("not a memory budget")
        if value != "auto":
            MemorySize.parse(value)  # raises ValueError
        return cls(value)


def _parse_path(value: object) -> Path:
    """A path as written (``~`` expanded); made absolute by ``_Loader.resolve`` only."""
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ValueError("not a path")
    return Path(value).expanduser()


class _Custom(NamedTuple):
    """How a type msgspec does not know is read from TOML, named and documented."""

    parse: Callable[[Any], Any]  # raises ValueError on a bad value
    expected: str  # "expected ..." in an error
    name: str  # the type column of docs/configuration.md
    toml: Any  # the TOML form, for the JSON Schema: an annotated ``str``


_CUSTOM: dict[type, _Custom] = {
    MemorySize: _Custom(
        MemorySize.parse,
        'a size like "6GB"',
        "size",
        Annotated[str, Meta(examples=["6GB", "500MB", "2.5G"])],
    ),
    Duration: _Custom(
        Duration.parse,
        'a duration like "01:15:00"',
        "duration",
        Annotated[str, Meta(pattern=r"^\s*(\d+-)?(\d+:)?\d+:\d+\s*$", examples=["01:15:00"])],
    ),
    Path: _Custom(_parse_path, "a path as a string", "path", Annotated[str, Meta(min_length=1)]),
    ProductionId: _Custom(
        ProductionId.parse,
        "an id like v0.12 or tailcut84/nsb_tuning_0.14",
        "production id",
        Annotated[str, Meta(pattern=_ID_RE.pattern)],
    ),
    Name: _Custom(
        Name.parse,
        "a plain name ([A-Za-z0-9._-])",
        "name",
        Annotated[str, Meta(pattern=_NAME_RE.pattern)],
    ),
    MemoryBudget: _Custom(
        MemoryBudget.parse,
        '"auto" or a size like "8GB"',
        '"auto" or size',
        Annotated[str, Meta(examples=["auto", "8GB"])],
    ),
}


def _dec_hook(kind: type, value: Any) -> Any:
    """msgspec's hook for the types of ``_CUSTOM``: their own parser decides."""
    custom = _CUSTOM.get(kind)
    if custom is None:
        raise NotImplementedError(kind)
    return custom.parse(value)


class Expect:
    """The words an error uses for a value that breaks a constraint (``expected ...``), and
    optionally the type's name in the docs' type column.

    An ``Annotated`` extra that msgspec ignores; without one, the words are derived from the
    constraints (``a positive integer``). A plain class: a dataclass costs ~0.6 ms at import.
    """

    __slots__ = ("kind", "text")

    def __init__(self, text: str, kind: str = "string") -> None:
        self.text = text
        self.kind = kind

    def __repr__(self) -> str:
        return f"Expect({self.text!r}, {self.kind!r})"


def _whole(pattern: str) -> str:
    """A msgspec pattern (``re.search``) matching the whole value: Python's ``$`` also
    matches before a final newline, which a single-line value must not end with."""
    return f"^(?:{pattern})$(?!\\n)"


# Types shared by many keys.
PositiveInt = Annotated[int, Meta(ge=1)]
Count = Annotated[int, Meta(ge=0)]
Positive = Annotated[float, Meta(gt=0)]
Fraction = Annotated[float, Meta(gt=0, lt=1)]
Line = Annotated[
    str, Meta(pattern=_whole(r"[^\n\x00]*")), Expect("a single line of text", "string (one line)")
]
Partitions = Annotated[
    str,
    Meta(pattern=_whole(r"([A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*)?")),
    Expect('names like "short,long"', "comma-separated names"),
]
OptionalName = Annotated[
    str,
    Meta(pattern=_whole(r"([A-Za-z0-9][A-Za-z0-9._-]*)?")),
    Expect("a plain name ([A-Za-z0-9._-])", 'name or `""`'),
]
EnvName = Annotated[
    str, Meta(pattern=_whole(r"[A-Za-z_][A-Za-z0-9_]*")), Expect("an environment variable name")
]
StepName = Annotated[
    str, Meta(pattern=_whole(r"[A-Za-z0-9][A-Za-z0-9._-]*")), Expect("a plain step name")
]
_RuleNames = Literal[
    "rate_drop",
    "rate_jump",
    "rate_reference",
    "interleaved_rate",
    "pedestal_std",
    "pedestal_cleaned",
    "flatfield_charge",
    "trigger_tags",
    "ucts_jumps",
    "muon_rings",
    "muon_efficiency",
    "muon_width",
]
RuleName = Annotated[_RuleNames, Expect("a data-quality rule name", "rule")]

# Names of the data-quality rules (osa_core.dq.rules registers one function per name);
# the schema lists them so that ``[dq] disabled_rules`` is checked when the config is loaded.
DQ_RULE_NAMES: tuple[str, ...] = typing.get_args(_RuleNames)


def _doc(text: str) -> Meta:
    """A key's description: docs/configuration.md and the JSON Schema show it."""
    return Meta(description=text)


@dataclass(frozen=True)
class PathsConfig:
    """Where everything lives. Every path is relative to `base` unless absolute; `base` is
    relative to the config file's folder unless absolute, and must exist."""

    base: Annotated[
        Path, _doc("the folder every path is under"), Expect("a folder path as a string")
    ]
    r0: Annotated[
        Path, _doc("raw data, `R0/YYYYMMDD/LST-1.{stream}.Run{run:05d}.{subrun:04d}.fits.fz`")
    ] = Path("R0")
    run_summary: Annotated[Path, _doc("`RunSummary_YYYYMMDD.ecsv`")] = Path("monitoring/RunSummary")
    run_catalog: Annotated[Path, _doc("`RunCatalog_YYYYMMDD.ecsv` (optional per night)")] = Path(
        "monitoring/RunCatalog"
    )
    drive_log: Annotated[Path, _doc("`DrivePosition_log_YYYYMMDD.txt`")] = Path(
        "monitoring/DrivePositioning"
    )
    pixel_calibration: Annotated[Path, _doc("DRS4 baselines and calibration files")] = Path(
        "monitoring/PixelCalibration/Cat-A"
    )
    running_analysis: Annotated[
        Path, _doc("where jobs write during the night (`YYYYMMDD/<prod_id>/`)")
    ] = Path("running_analysis")
    dl1: Annotated[Path, _doc("final DL1 tree (`YYYYMMDD/<prod_id>/<dl1_prod_id>/`)")] = Path("DL1")
    dl2: Annotated[Path, _doc("final DL2 tree (`YYYYMMDD/<prod_id>/<dl2_prod_id>/`)")] = Path("DL2")
    closer: Annotated[Path, _doc("`NightFinished.txt` and the night's manifest")] = Path(
        "OSA/Closer"
    )
    state: Annotated[
        Path, _doc("journal, locks, the local executor's database, plan snapshots")
    ] = Path("OSA/state")
    tailcuts: Annotated[
        Path,
        _doc("the tail-cut finder's `dl1ab_RunNNNNN.json` and log (`YYYYMMDD/<prod_id>/`)"),
    ] = Path("auxiliary/TailCuts")
    catb_calibration: Annotated[
        Path,
        _doc(
            "Cat-B calibration files (`calibration/YYYYMMDD/v<lstchain>/`); the onsite script "
            "writes under `<base>/monitoring/PixelCalibration/Cat-B`, keep them the same"
        ),
    ] = Path("monitoring/PixelCalibration/Cat-B")
    r0g: Annotated[
        Path,
        _doc(
            'gain-selected copies of the raw data (`input_state = "legacy_raw"`): same names as R0'
        ),
    ] = Path("R0G")
    gain_selection: Annotated[
        Path, _doc("gain selection's night flags (`YYYYMMDD/GainSelFinished.txt`) and logs")
    ] = Path("OSA/GainSel")


@dataclass(frozen=True)
class ProductionConfig:
    """Production ids: they name folders of the running and final trees, so they may only
    contain `[A-Za-z0-9._-]` segments joined by `/`."""

    prod_id: Annotated[ProductionId, _doc("software production id (folder under the night)")] = (
        ProductionId("v0.12")
    )
    dl1_prod_id: Annotated[ProductionId, _doc("DL1b cleaning id")] = ProductionId("tailcut84")
    dl2_prod_id: Annotated[ProductionId, _doc("DL2 id")] = ProductionId("tailcut84/nsb_tuning_0.14")
    calibration_version: Annotated[
        ProductionId, _doc("folder of the Cat-A calibration products")
    ] = ProductionId("pro")


@dataclass(frozen=True)
class NightConfig:
    """How a night is read and planned."""

    telescope: Annotated[Name, _doc("telescope tag in sequence names")] = Name("LST1")
    streams: Annotated[PositiveInt, _doc("R0 streams per subrun; fewer on disk is reported")] = 4
    calibration_lookback_nights: Annotated[
        PositiveInt, _doc("nights to look back for a DRS4+PEDCALIB pair")
    ] = 4
    max_subruns: Annotated[
        PositiveInt, _doc("a RunSummary declaring more subruns for a run is rejected as absurd")
    ] = 10000
    filter_wheels: Annotated[
        Count,
        _doc(
            "filter wheels of a calibration run when its products do not say "
            "(`[calibration] filters_by_night` overrides per night)"
        ),
    ] = 52
    workflow: Annotated[
        Literal["per_run", "fixed"],
        _doc(
            "`per_run`: today's night, three phases per run (DL1a; Cat-B + tail cuts + "
            "models; DL1b with the run's own cleaning), see docs/night.md; `fixed`: one job "
            "per subrun with `[analysis] dl1ab_config` for every run"
        ),
    ] = "per_run"
    input_state: Annotated[
        Literal["legacy_raw", "gain_selected", "catA_calibrated"],
        _doc(
            "what the raw data are: `legacy_raw` (both gains: gain selection R0 → R0G first, "
            "then everything reads R0G), `gain_selected` (R0 is read as it is), "
            "`catA_calibrated` (calibrated by the DAQ: no Cat-A calibration job)"
        ),
    ] = "gain_selected"
    end_of_observation: Annotated[
        tuple[Literal["morning", "gain_selection", "runsummary_complete"], ...],
        _doc(
            "when the observation is over, so the night may close (any one suffices): "
            "`morning` (the day after the night, at `morning_utc`), `gain_selection` "
            "(GainSelFinished written), `runsummary_complete` "
            "(`RunSummary_YYYYMMDD.complete` beside the RunSummary, written by the DAQ)"
        ),
    ] = field(default_factory=lambda: ("morning",))
    morning_utc: Annotated[
        str,
        Meta(pattern=_whole(r"([01][0-9]|2[0-3]):[0-5][0-9]")),
        Expect('a time like "08:00"'),
        _doc("UTC time on the day after the night from which its observation is over"),
    ] = "08:00"
    live: Annotated[
        bool,
        _doc(
            "process while the telescope observes (`osa live`, docs/arrival.md): a run not "
            "in the RunSummary yet but in the RunCatalog is a DATA run in progress, and a "
            "subrun is ready once all its streams are there and the next subrun has begun "
            "(or its run ended)"
        ),
    ] = False
    live_poll_seconds: Annotated[
        Positive,
        _doc(
            "`osa live` ticks on file events, and at least this often: a shared file "
            "system (Lustre, NFS) shows other hosts' writes to no watcher"
        ),
    ] = 30.0


@dataclass(frozen=True)
class JobResources:
    """What one array task (or calibration job) asks the scheduler for."""

    partition: Annotated[Partitions, _doc("comma-separated partitions")] = "short,long"
    memory: Annotated[
        MemorySize, _doc("`--mem-per-cpu`; the local executor budgets with it too")
    ] = MemorySize(6 * 1024**3)
    time: Annotated[Duration, _doc("`--time`")] = Duration(4500)
    cpus: Annotated[PositiveInt, _doc("`--cpus-per-task`")] = 1


@dataclass(frozen=True)
class SlurmConfig:
    """SLURM-specific settings."""

    account: Annotated[OptionalName, _doc("`--account` of every job (empty: none)")] = ""
    max_pending_jobs: Annotated[
        PositiveInt, _doc("never have more of our tasks pending than this")
    ] = 2500
    command_timeout: Annotated[
        PositiveInt, _doc("seconds allowed to one `sbatch`/`squeue`/`sacct` call")
    ] = 60
    calibration: Annotated[JobResources, _doc("resources of the calibration job")] = JobResources(
        memory=MemorySize(3 * 1024**3), time=Duration(7200)
    )
    data: Annotated[JobResources, _doc("resources of each data array task")] = JobResources()
    run_calibration: Annotated[
        JobResources, _doc("resources of a run's phase-2 job (Cat-B, tail cuts)")
    ] = JobResources(memory=MemorySize(10 * 1024**3), time=Duration(3600))
    close: Annotated[JobResources, _doc("resources of the closing jobs")] = JobResources(
        memory=MemorySize(4 * 1024**3), time=Duration(3600)
    )


@dataclass(frozen=True)
class LocalExecutorConfig:
    """The embedded executor used when there is no cluster."""

    max_parallel: Annotated[Count, _doc("tasks at once; `0` = number of cores")] = 0
    memory_budget: Annotated[
        MemoryBudget,
        _doc("sum of the memory requests of running tasks; `auto` = 80% of RAM"),
    ] = MemoryBudget("auto")
    enforce_memory: Annotated[
        bool,
        _doc(
            "a task whose memory (PSS of its processes) exceeds its request is killed and "
            "ends `OUT_OF_MEMORY`, as SLURM would"
        ),
    ] = True


@dataclass(frozen=True)
class ExecutorConfig:
    """Which executor runs the jobs."""

    kind: Annotated[
        Literal["auto", "local", "slurm"],
        _doc("`local`, `slurm`, or `auto` (SLURM when `sinfo` answers, else local)"),
    ] = "auto"
    local: Annotated[
        LocalExecutorConfig, _doc("the embedded executor used when there is no cluster")
    ] = LocalExecutorConfig()


@dataclass(frozen=True)
class AnalysisConfig:
    """Inputs of the lstchain tools that the night does not produce. Empty means "not set";
    a set path must exist."""

    lstchain_config: Annotated[
        Path | None, _doc("lstchain JSON config for `lstchain_data_r0_to_dl1`")
    ] = None
    dl1ab_config: Annotated[
        Path | None,
        _doc(
            "the standard cleaning for `lstchain_dl1ab`: every run's with `workflow = "
            '"fixed"`, the fallback of a run whose tail-cut finder cannot decide otherwise'
        ),
    ] = None
    dl2_config: Annotated[Path | None, _doc("config for `lstchain_dl1_to_dl2`")] = None
    models_dir: Annotated[
        Path | None, _doc("one folder of random-forest models for every run's DL2")
    ] = None
    models_root: Annotated[
        Path | None,
        _doc(
            "a models tree laid out as the site does (`<mc_prod><nsb_tuning_X.XX>/dec_<line>/`):"
            " each run's models chosen by its NSB and pointing declination (wins over "
            "`models_dir`)"
        ),
    ] = None
    mc_prod: Annotated[
        Line, _doc("prefix of the NSB folders in `models_root`, e.g. `20240918_v0.10.12_allsky_`")
    ] = ""
    apply_catb: Annotated[
        bool, _doc("make each run's Cat-B calibration and give it to `lstchain_dl1ab`")
    ] = True
    catb_required: Annotated[
        bool,
        _doc(
            "a run whose Cat-B calibration cannot be made fails its phase 2 (else it goes on "
            "with Cat-A only, and says so)"
        ),
    ] = False
    time_calibration_file: Annotated[
        Path | None, _doc("DRS4 time-sampling calibration (`time_calibration.Run*.0000.h5`)")
    ] = None
    systematics_file: Annotated[
        Path | None, _doc("F-factor systematics file (`ffactor_systematics_*.h5`)")
    ] = None
    calibration_config: Annotated[
        Path | None, _doc("config for `onsite_create_calibration_file`")
    ] = None
    payload_mode: Annotated[
        Literal["fork", "exec"],
        _doc(
            "`fork` (import lstchain once per subrun, fork per step) or `exec` (one process "
            "per step)"
        ),
    ] = "fork"
    environment: Annotated[
        dict[EnvName, Line],
        _doc(
            "extra environment variables for the tools, `{base}` in a value is the data base "
            "folder; e.g. `XDG_CONFIG_HOME` pointing at an astropy config with "
            "`auto_download = False` on nodes without internet (the demo does this); the "
            "payload also puts its own `bin/` first on `PATH`, as the onsite scripts start "
            "other tools by name"
        ),
    ] = field(default_factory=dict)


@dataclass(frozen=True)
class StepConfig:
    """Override the argument list of an analysis step (see docs/jobs.md for the step names
    and the placeholders). Used by tests to run orchestration with simple scripts, and by
    experts to change a tool's flags without touching code."""

    command: Annotated[
        tuple[str, ...],
        _doc("list of strings; `{placeholders}` are filled from validated values only"),
    ] = ()
    extra_args: Annotated[
        tuple[str, ...],
        _doc('arguments appended to the (default or given) command, e.g. `["--statistics=40"]`'),
    ] = ()


@dataclass(frozen=True)
class RetryConfig:
    """Retry policy by failure class (applied by `--batch`, offered in the console)."""

    max_attempts: Annotated[
        PositiveInt, _doc("attempts per subrun, all failure classes together")
    ] = 3
    memory_factor: Annotated[Positive, _doc("memory multiplier after an out-of-memory kill")] = 1.5
    memory_cap: Annotated[MemorySize, _doc("never ask for more")] = MemorySize(32 * 1024**3)
    time_factor: Annotated[Positive, _doc("wall-time multiplier after a timeout")] = 1.5
    time_cap: Annotated[Duration, _doc("never ask for more")] = Duration(4 * 3600)
    science_repeats: Annotated[
        PositiveInt,
        _doc("same step failing with the same exit code this many times: stop retrying"),
    ] = 2


@dataclass(frozen=True)
class CalibrationConfig:
    """How the calibration inputs of a night are found (docs/night.md): which versions of
    the Cat-A products may serve, and per-night filter overrides."""

    versions: Annotated[
        Literal["exact", "series", "any"],
        _doc(
            "time-calibration and systematics files from the night's Cat-A version only "
            "(`exact`), the same `vX.Y` series, or any version (closest earlier file wins)"
        ),
    ] = "exact"
    filters_by_night: Annotated[
        dict[str, Count],
        _doc('filter wheels per night, e.g. `"2024-03-15" = 32` (wins over the products)'),
    ] = field(default_factory=dict)


@dataclass(frozen=True)
class ClosingConfig:
    """How a night gets closed."""

    auto: Annotated[
        bool,
        _doc(
            "with every (re)submission of data jobs, also submit the close chained "
            "`afterany` on them: it closes the night seconds after the last subrun ends if "
            "every subrun is done or given up, and exits quietly otherwise (see "
            "docs/closing.md)"
        ),
    ] = True
    keep_dl1a: Annotated[
        Literal["link", "copy"],
        _doc(
            "`link`: a subrun's DL1a is not kept beside its DL1b (which holds the images): "
            "the running tree keeps a link to the final DL1b, as the site does; `copy`: both "
            "are kept"
        ),
    ] = "link"


@dataclass(frozen=True)
class ConsoleConfig:
    """The Textual console."""

    theme: Annotated[Name, _doc("theme name from `themes/`")] = Name("osa-dark")
    refresh_seconds: Annotated[Positive, _doc("status refresh period")] = 10.0
    keys: Annotated[
        dict[str, Line],
        _doc('remap bindings by id, e.g. `resubmit = "R"` (see docs/console.md)'),
    ] = field(default_factory=dict)


@dataclass(frozen=True)
class DQConfig:
    """Data-quality rules: the limits that turn the datacheck figures into flags in
    `osa dq`, the console's DQ screen and the night report (see [dq.md](dq.md) for what each
    figure is and where it is read). Defaults follow the reference values of lstchain's
    `lstchain_longterm_dl1_check` wherever it has one (pedestal std, flat-field charge, muon
    efficiency and width, cosmic rate vs zenith). The rule a key belongs to is named in
    parentheses."""

    rate_drop_fraction: Annotated[
        Fraction,
        _doc(
            "a subrun whose cosmic rate is below this fraction of its run's median rate is "
            "flagged `rate↓` (`rate_drop`: clouds, dew, a trigger problem)"
        ),
    ] = 0.7
    rate_jump_fraction: Annotated[
        Positive,
        _doc(
            "the cosmic rate changing by more than this fraction from one subrun to the "
            "next is flagged `jump` (`rate_jump`)"
        ),
    ] = 0.3
    rate_reference_a: Annotated[
        Positive,
        _doc("reference cosmic rate of a run, `a + b·cos(zenith)` in Hz (`rate_reference`)"),
    ] = 3065.64
    rate_reference_b: Annotated[Positive, _doc("see `rate_reference_a`")] = 3403.23
    rate_reference_tolerance: Annotated[
        Fraction,
        _doc(
            "a run whose cosmic rate differs from the reference by more than this fraction "
            "is flagged `rate≠ref` (whole-run clouds or a wrong threshold)"
        ),
    ] = 0.3
    interleaved_rate_min: Annotated[
        Positive,
        _doc(
            "interleaved pedestal and flat-field events per second below this flag a subrun "
            "`few ped` / `few FF` (`interleaved_rate`; nominal 100 Hz each, 50 Hz before run "
            "2709)"
        ),
    ] = 40.0
    pedestal_std_min: Annotated[
        Positive,
        _doc(
            "camera-averaged pedestal charge std dev (p.e.) below this is flagged `ped σ` "
            "(`pedestal_std`: broken calibration)"
        ),
    ] = 0.2
    pedestal_std_max: Annotated[
        Positive,
        _doc("... and above this (`pedestal_std`: moon, noisy pixels, bad calibration)"),
    ] = 2.5
    pedestal_cleaned_fraction_max: Annotated[
        Fraction,
        _doc(
            "more pedestal events than this fraction surviving the image cleaning is flagged "
            "`ped img` (`pedestal_cleaned`: cosmics tagged as pedestals, or noise)"
        ),
    ] = 0.05
    flatfield_charge_min: Annotated[
        Positive,
        _doc(
            "camera-averaged flat-field charge (p.e.) below this is flagged `FF q` "
            "(`flatfield_charge`; nominal ~69)"
        ),
    ] = 62.0
    flatfield_charge_max: Annotated[Positive, _doc("... and above this")] = 76.0
    wrong_tag_fraction_max: Annotated[
        Fraction,
        _doc(
            "fraction of events whose UCTS or TIB trigger tag contradicts their event type "
            "above which a subrun is flagged `tags` (`trigger_tags`)"
        ),
    ] = 0.01
    ucts_jumps_max: Annotated[
        Count,
        _doc(
            "UCTS timestamp jumps (corrected by lstchain) per subrun above which it is "
            "flagged `ucts` (`ucts_jumps`)"
        ),
    ] = 0
    muon_rings_min: Annotated[
        Count,
        _doc(
            "a run with fewer contained muon rings than this is flagged `no μ` "
            "(`muon_rings`; only when muon files were found)"
        ),
    ] = 1
    muon_efficiency_min: Annotated[
        Positive,
        _doc(
            "mean optical efficiency from muon rings below this is flagged `μ eff` "
            "(`muon_efficiency`)"
        ),
    ] = 0.16
    muon_width_max: Annotated[
        Positive,
        _doc(
            "mean muon ring width (deg) above this is flagged `μ width` (`muon_width`: "
            "defocused mirrors)"
        ),
    ] = 0.08
    disabled_rules: Annotated[
        tuple[RuleName, ...],
        _doc(
            'rule names (in parentheses above) not to evaluate, e.g. `["rate_reference"]` '
            "for a night of tests"
        ),
    ] = ()


# Marks a field that is not a key of the file (where the config was read from).
_NOT_A_KEY = {"toml": False}


@dataclass(frozen=True)
class Config:
    """The whole effective configuration."""

    source: Path = field(metadata=_NOT_A_KEY)
    paths: Annotated[PathsConfig, _doc("where everything lives")]
    production: Annotated[ProductionConfig, _doc("production ids")] = ProductionConfig()
    night: Annotated[NightConfig, _doc("how a night is read")] = NightConfig()
    executor: Annotated[ExecutorConfig, _doc("which executor runs the jobs")] = ExecutorConfig()
    slurm: Annotated[SlurmConfig, _doc("SLURM settings")] = SlurmConfig()
    analysis: Annotated[AnalysisConfig, _doc("inputs of the lstchain tools")] = AnalysisConfig()
    calibration: Annotated[CalibrationConfig, _doc("how calibration inputs are found")] = (
        CalibrationConfig()
    )
    steps: Annotated[
        dict[StepName, StepConfig], _doc("argument lists of analysis steps, by step name")
    ] = field(default_factory=dict)
    retry: Annotated[RetryConfig, _doc("retry policy")] = RetryConfig()
    closing: Annotated[ClosingConfig, _doc("closing a night")] = ClosingConfig()
    console: Annotated[ConsoleConfig, _doc("the console")] = ConsoleConfig()
    dq: Annotated[DQConfig, _doc("data-quality rules")] = DQConfig()


# --- the schema, as the loader and the documentation walk it ----------------------------


class SchemaKey(NamedTuple):
    """One key of a table, read from a dataclass field once (``schema_keys``)."""

    name: str
    hint: Any  # the full annotated type: what msgspec validates a value against
    base: Any  # the type without ``Annotated`` and without ``| None``
    optional: bool  # ``X | None``: written as "" in TOML
    description: str
    default: Any  # dataclasses.MISSING when the key is required
    table: type | None = None  # the key is a nested [table]
    tables: type | None = None  # the key is {name: [table]}, e.g. [steps.<name>]
    mapping: tuple[Any, Any] | None = None  # the key is a table of plain values

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING


def split_annotated(hint: Any) -> tuple[Any, tuple[Any, ...]]:
    """``Annotated[T, a, b]`` -> ``(T, (a, b))``; nested Annotated are already flat."""
    if typing.get_origin(hint) is Annotated:
        return hint.__origin__, tuple(hint.__metadata__)
    return hint, ()


def strip_optional(hint: Any) -> tuple[Any, bool]:
    """``T | None`` -> ``(T, True)``."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(args) == 1 and len(args) < len(typing.get_args(hint)):
            return args[0], True
    return hint, False


@functools.cache
def schema_keys(cls: type) -> tuple[SchemaKey, ...]:
    """The keys of table ``cls`` in declaration order (the file's keys only)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    keys = []
    for spec in dataclasses.fields(cls):
        if spec.metadata.get("toml") is False:
            continue
        hint = hints[spec.name]
        inner, metadata = split_annotated(hint)
        base, optional = strip_optional(inner)
        description = " ".join(
            m.description for m in metadata if isinstance(m, Meta) and m.description
        )
        if spec.default is not dataclasses.MISSING:
            default: Any = spec.default
        elif spec.default_factory is not dataclasses.MISSING:
            default = spec.default_factory()
        else:
            default = dataclasses.MISSING
        extra: dict[str, Any] = {}
        if dataclasses.is_dataclass(base):
            extra["table"] = base
        elif typing.get_origin(base) is dict:
            key_type, value_type = typing.get_args(base)
            if dataclasses.is_dataclass(split_annotated(value_type)[0]):
                extra["tables"] = split_annotated(value_type)[0]
            extra["mapping"] = (key_type, value_type)
        keys.append(SchemaKey(spec.name, hint, base, optional, description, default, **extra))
    return tuple(keys)


# --- loading ------------------------------------------------------------------------------


def find_config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """``--config``, then ``$OSA_CONFIG``, then the installation's ``config/osa.toml``."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return DEFAULT_CONFIG


def load_config(
    explicit: str | os.PathLike[str] | None = None, *, check_paths: bool = True
) -> Config:
    """Find, parse and validate the configuration; raise ``ConfigError`` with one line."""
    path = find_config_path(explicit)
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config: {err.strerror}") from None
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from None
    return build_config(data, path, text, check_paths=check_paths)


def build_config(
    data: dict[str, Any], path: Path, text: str = "", *, check_paths: bool = True
) -> Config:
    """Validate an already-parsed TOML mapping (used by the loader, tests and fuzzing)."""
    loader = _Loader(path, text)
    loader.base = loader.read_base(data)
    config: Config = loader.table(Config, data, "", given={"source": path})
    _check_ranges(config.dq, loader)
    if check_paths:
        _check_paths_exist(config, loader)
    return config


def _check_ranges(dq: DQConfig, loader: _Loader) -> None:
    """What a key's type cannot say: a lower limit must be below its upper limit."""
    for low, high in (
        ("pedestal_std_min", "pedestal_std_max"),
        ("flatfield_charge_min", "flatfield_charge_max"),
    ):
        if getattr(dq, low) >= getattr(dq, high):
            loader.fail("dq", low, f"must be below {high} ({getattr(dq, high)})", getattr(dq, low))


def _check_paths_exist(config: Config, loader: _Loader) -> None:
    """Paths the engine reads but never creates must exist, or we stop at start."""
    if not config.paths.base.is_dir():
        loader.fail("paths", "base", "folder does not exist", str(config.paths.base))
    for key in schema_keys(AnalysisConfig):
        value = getattr(config.analysis, key.name)
        if isinstance(value, Path) and not value.exists():
            loader.fail("analysis", key.name, "file or folder does not exist", str(value))


_NOTHING = object()  # "no value to show" in an error


class _Loader:
    """Walks the schema over a TOML mapping, table by table, reporting the first problem.

    Each value is converted by msgspec against its key's annotated type; the walk itself
    handles what belongs to the file rather than to one value: unknown keys, missing keys,
    defaults of nested tables, ``""`` for an unset optional path, and making paths absolute.
    """

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.folder = path.resolve().parent
        self.lines = text.splitlines()
        self.base = Path()

    # --- errors ---------------------------------------------------------------------
    def fail(self, section: str, key: str, message: str, value: Any = _NOTHING) -> NoReturn:
        line = self._line_of(section, key)
        where = f"{self.path.name}:{line}" if line else self.path.name
        table = f"[{section}] " if section else ""
        got = "" if value is _NOTHING else f", got {_show(value)}"
        raise ConfigError(f"{where}: {table}{key}: {message}{got}")

    def _line_of(self, section: str, key: str) -> int | None:
        """Line of ``key`` in table ``[section]``, else of the table's header (for a missing
        key), else None. Best effort from the text: tomllib keeps no positions."""
        current = ""
        key_re = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        header_re = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
        header_line = None
        for number, line in enumerate(self.lines, start=1):
            header = header_re.match(line)
            if header:
                current = header.group(1).replace(" ", "").replace('"', "")
                if current == f"{section}.{key}" or (not section and current == key):
                    return number
                if current == section:
                    header_line = header_line or number
                continue
            if current == section and key_re.match(line):
                return number
        return header_line

    def reject(self, section: str, key: str, hint: Any, value: Any) -> NoReturn:
        """Explain why ``value`` does not fit ``hint``, from the schema (not msgspec's text).

        A value of the wrong kind is told the kind (``expected an integer``); a value of the
        right kind that breaks a constraint is told the constraint (``a positive integer``).
        A list of names is explained by its first unknown name.
        """
        inner, _ = strip_optional(split_annotated(hint)[0])
        if typing.get_origin(inner) is tuple and isinstance(value, list):
            item_hint = typing.get_args(inner)[0]
            item_type, metadata = split_annotated(item_hint)
            if typing.get_origin(item_type) is Literal:
                noun = next((m.kind for m in metadata if isinstance(m, Expect)), "value")
                for item in value:
                    if isinstance(item, str) and not _fits(item_hint, item):
                        close = _did_you_mean(item_hint, item)
                        self.fail(section, key, f"unknown {noun} {item!r}{close}")
        got = f", got {_show(value)}{_did_you_mean(hint, value)}"
        self.fail(section, key, f"expected {describe(hint, value)}{got}")

    # --- walking --------------------------------------------------------------------
    def read_base(self, data: dict[str, Any]) -> Path:
        """``[paths] base`` first: every other path hangs from it."""
        paths = data.get("paths", {})
        if not isinstance(paths, dict):
            self.fail("", "paths", "expected a table", paths)
        key = next(k for k in schema_keys(PathsConfig) if k.name == "base")
        if "base" not in paths:
            self.fail("paths", "base", f"missing ({key.description})")
        base = self.value("paths", key, paths["base"])
        return Path(base)

    def resolve(self, section: str, key: str, path: Path) -> Path:
        """The one place a path is made absolute: ``[paths] base`` against the config
        file's folder, every other path against base."""
        if (section, key) == ("paths", "base"):
            return path if path.is_absolute() else (self.folder / path).resolve()
        return path if path.is_absolute() else self.base / path

    def value(self, section: str, key: SchemaKey, value: Any) -> Any:
        """One plain value of the file, converted and validated by msgspec."""
        if key.optional and value == "":
            return None  # TOML has no null: "" leaves an optional path unset
        try:
            converted = msgspec.convert(value, type=key.hint, dec_hook=_dec_hook)
        except msgspec.ValidationError:
            self.reject(section, key.name, key.hint, value)
        if isinstance(converted, Path):
            return self.resolve(section, key.name, converted)
        return converted

    def table(
        self,
        cls: type,
        data: Any,
        section: str,
        defaults: Any = None,
        given: Mapping[str, Any] | None = None,
    ) -> Any:
        """Table ``[section]`` as a ``cls``. Keys not written take their value from
        ``defaults`` (the parent's default for this table, so ``[slurm.calibration]``
        keeps its own defaults) or else from ``cls``."""
        if not isinstance(data, dict):
            parent, _, name = section.rpartition(".")
            self.fail(parent, name, "expected a table", data)
        keys = schema_keys(cls)
        known = [key.name for key in keys]
        for name in data:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
                self.fail(section, name, f"unknown key ({hint})")
        values = dict(given or {})
        for key in keys:
            sub = f"{section}.{key.name}" if section else key.name
            default = key.default if defaults is None else getattr(defaults, key.name)
            if key.table is not None:
                fallback = None if default is dataclasses.MISSING else default
                values[key.name] = self.table(key.table, data.get(key.name, {}), sub, fallback)
            elif key.name not in data:
                if default is dataclasses.MISSING:
                    self.fail(section, key.name, f"missing ({key.description})")
                if isinstance(default, Path):  # defaults are base-relative too
                    default = self.resolve(section, key.name, default)
                values[key.name] = default
            elif key.mapping is not None:
                values[key.name] = self.mapping(section, key, data[key.name])
            else:
                values[key.name] = self.value(section, key, data[key.name])
        return cls(**values)

    def mapping(self, section: str, key: SchemaKey, data: Any) -> dict[str, Any]:
        """A table whose keys the user names (``[analysis.environment]``, ``[steps.*]``)."""
        sub = f"{section}.{key.name}" if section else key.name
        if not isinstance(data, dict):
            self.fail(section, key.name, "expected a table", data)
        assert key.mapping is not None
        key_hint, value_hint = key.mapping
        entry = SchemaKey("", value_hint, value_hint, False, "", dataclasses.MISSING)
        out: dict[str, Any] = {}
        for name, value in data.items():
            if not _fits(key_hint, name):
                self.fail(sub, name, f"expected {describe(key_hint)}")
            if key.tables is not None:
                out[name] = self.table(key.tables, value, f"{sub}.{name}")
            else:
                out[name] = self.value(sub, entry._replace(name=name), value)
        return out


def _fits(hint: Any, value: Any) -> bool:
    try:
        msgspec.convert(value, type=hint, dec_hook=_dec_hook)
    except msgspec.ValidationError:
        return False
    return True


def describe(hint: Any, value: Any = _NOTHING) -> str:
    """What ``hint`` accepts, in the words of an error or of the docs' type column.

    With ``value``: a value of the right kind that broke a constraint is told the
    constraint (``Expect``, or words for the bound it broke); otherwise the kind.
    """
    inner, metadata = split_annotated(hint)
    inner, _ = strip_optional(inner)
    expect = [m.text for m in metadata if isinstance(m, Expect)]
    if expect and inner in _CUSTOM:  # a custom type has no constraint but its own parser
        return expect[-1]
    if value is not _NOTHING and not _fits(inner, value):
        return _kind(inner)
    if expect:
        return expect[-1]
    if inner in (int, float):
        return _bounds(hint, value)
    return _kind(inner)


def _kind(hint: Any) -> str:
    """The kind of value a type takes, ignoring constraints."""
    if hint in _CUSTOM:
        return _CUSTOM[hint].expected
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(str(choice) for choice in typing.get_args(hint))
    if origin is tuple:
        return "a list of strings"
    if origin is dict:
        return "a table"
    words = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return words.get(hint, getattr(hint, "__name__", str(hint)))


def _bounds(hint: Any, value: Any = _NOTHING) -> str:
    """``a positive integer``, ``a fraction below 1``, ... from msgspec's view of the
    constraints: all of them, or with ``value`` only the first one it breaks."""
    import msgspec.inspect as mi

    info = mi.type_info(hint)
    if isinstance(info, mi.Metadata):
        info = info.type
    if not isinstance(info, (mi.IntType, mi.FloatType)):
        return _kind(hint)
    noun = "an integer" if isinstance(info, mi.IntType) else "a number"
    tests = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}
    bounds = [(name, getattr(info, name)) for name in tests if getattr(info, name) is not None]
    if value is not _NOTHING:
        broken = [(name, limit) for name, limit in bounds if not tests[name](value, limit)]
        bounds = broken[:1] or bounds
    words = {
        ("an integer", (("ge", 1),)): "a positive integer",
        ("an integer", (("ge", 0),)): "a non-negative integer",
        ("a number", (("gt", 0),)): "a positive number",
        ("a number", (("lt", 1),)): "a fraction below 1",
        ("a number", (("gt", 0), ("lt", 1))): "a fraction between 0 and 1",
    }
    signs = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
    default = " and ".join([noun] + [f"{signs[name]} {limit}" for name, limit in bounds])
    return words.get((noun, tuple(bounds)), default)


def _did_you_mean(hint: Any, value: Any) -> str:
    """For a string that is nearly one of the choices of a ``Literal``."""
    inner = split_annotated(hint)[0]
    if typing.get_origin(inner) is not Literal or not isinstance(value, str):
        return ""
    choices = [str(choice) for choice in typing.get_args(inner)]
    close = difflib.get_close_matches(value, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _show(value: Any) -> str:
    """Show a value as it looks in TOML, so the user recognises what they wrote."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string, newlines escaped
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return repr(value)


# --- writing ------------------------------------------------------------------------------


def config_to_dict(config: Config) -> dict[str, Any]:
    """The effective configuration as plain TOML-able data (for ``osa config show``):
    sizes, durations and paths as text, an unset optional path as ``""``."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        return "" if value is None else value

    data: dict[str, Any] = plain(msgspec.to_builtins(config, enc_hook=str))
    return data


def config_to_toml(data: Mapping[str, Any]) -> str:
    """``config_to_dict``'s mapping (possibly edited) as TOML text that loads back.

    ``source`` is left out: it says where a config was read, it is not a key of the file.
    """
    import tomli_w

    return tomli_w.dumps({key: value for key, value in data.items() if key != "source"})
