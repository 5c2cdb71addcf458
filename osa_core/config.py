"""The configuration: one TOML file, validated once at start, typed everywhere after.

Why a schema of dataclasses: every key has one definition (type, default, doc in
docs/configuration.md), unknown keys are rejected with a did-you-mean, and a wrong value
gives one line naming the file, the line and the key, e.g.::

    osa.toml:14: [slurm.data] memory: expected a size like "6GB", got 6

Paths are written relative to ``[paths] base`` (itself relative to the config file's folder)
and resolved here, in one place.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from osa_core.errors import ConfigError
from osa_core.units import Duration, MemorySize

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

ENV_VAR = "OSA_CONFIG"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "osa.toml"

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ProductionId(str):
    """A production id such as ``v0.12`` or ``tailcut84/nsb_tuning_0.14``.

    Becomes a directory name, so only ``[A-Za-z0-9._-]`` segments joined by ``/``, with no
    ``..`` and no leading dot: it can never escape the night's tree.
    """


class Name(str):
    """A plain token (account, partition list item, theme): no path separators or spaces."""


@dataclass(frozen=True)
class PathsConfig:
    """Where everything lives; each path relative to ``base`` unless absolute."""

    base: Path
    r0: Path = Path("R0")
    run_summary: Path = Path("monitoring/RunSummary")
    run_catalog: Path = Path("monitoring/RunCatalog")
    drive_log: Path = Path("monitoring/DrivePositioning")
    pixel_calibration: Path = Path("monitoring/PixelCalibration/Cat-A")
    running_analysis: Path = Path("running_analysis")
    dl1: Path = Path("DL1")
    dl2: Path = Path("DL2")
    closer: Path = Path("OSA/Closer")
    state: Path = Path("OSA/state")
    tailcuts: Path = Path("auxiliary/TailCuts")
    catb_calibration: Path = Path("monitoring/PixelCalibration/Cat-B")


@dataclass(frozen=True)
class ProductionConfig:
    """Production ids: they name folders of the running and final trees."""

    prod_id: ProductionId = ProductionId("v0.12")
    dl1_prod_id: ProductionId = ProductionId("tailcut84")
    dl2_prod_id: ProductionId = ProductionId("tailcut84/nsb_tuning_0.14")
    calibration_version: ProductionId = ProductionId("pro")


@dataclass(frozen=True)
class NightConfig:
    """How a night is read and planned."""

    telescope: Name = Name("LST1")
    streams: int = 4
    calibration_lookback_nights: int = 4
    max_subruns: int = 10000
    filter_wheels: int = 52
    workflow: str = "per_run"


@dataclass(frozen=True)
class JobResources:
    """What one array task (or calibration job) asks the scheduler for."""

    partition: str = "short,long"
    memory: MemorySize = MemorySize(6 * 1024**3)
    time: Duration = Duration(4500)
    cpus: int = 1


@dataclass(frozen=True)
class SlurmConfig:
    """SLURM-specific settings."""

    account: str = ""
    max_pending_jobs: int = 2500
    command_timeout: int = 60
    calibration: JobResources = JobResources(memory=MemorySize(3 * 1024**3), time=Duration(7200))
    data: JobResources = JobResources()
    run_calibration: JobResources = JobResources(
        memory=MemorySize(10 * 1024**3), time=Duration(3600)
    )
    close: JobResources = JobResources(memory=MemorySize(4 * 1024**3), time=Duration(3600))


@dataclass(frozen=True)
class LocalExecutorConfig:
    """The embedded executor used when there is no cluster."""

    max_parallel: int = 0
    memory_budget: str = "auto"
    enforce_memory: bool = True


@dataclass(frozen=True)
class ExecutorConfig:
    """Which executor runs the jobs: ``auto`` picks SLURM when ``sinfo`` answers."""

    kind: str = "auto"
    local: LocalExecutorConfig = LocalExecutorConfig()


@dataclass(frozen=True)
class AnalysisConfig:
    """Inputs of the lstchain tools that are not produced by the night itself."""

    lstchain_config: Path | None = None
    dl1ab_config: Path | None = None
    dl2_config: Path | None = None
    models_dir: Path | None = None
    time_calibration_file: Path | None = None
    systematics_file: Path | None = None
    calibration_config: Path | None = None
    apply_catb: bool = True
    catb_required: bool = False
    models_root: Path | None = None
    mc_prod: str = ""
    payload_mode: str = "fork"
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StepConfig:
    """One analysis step: the argument-list template the payload runs."""

    command: tuple[str, ...] = ()
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetryConfig:
    """Retry policy by failure class (applied by ``--batch``, offered in the console)."""

    max_attempts: int = 3
    memory_factor: float = 1.5
    memory_cap: MemorySize = MemorySize(32 * 1024**3)
    time_factor: float = 1.5
    time_cap: Duration = Duration(4 * 3600)
    science_repeats: int = 2


@dataclass(frozen=True)
class CalibrationConfig:
    """How the calibration inputs of a night are found (docs/night.md)."""

    versions: str = "exact"
    filters_by_night: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ClosingConfig:
    """How a night gets closed."""

    auto: bool = True
    keep_dl1a: str = "link"


@dataclass(frozen=True)
class ConsoleConfig:
    """The Textual console."""

    theme: str = "osa-dark"
    refresh_seconds: float = 10.0
    keys: dict[str, str] = field(default_factory=dict)


# Names of the data-quality rules (osa_core.dq.rules registers one function per name);
# listed here so that ``[dq] disabled_rules`` is checked when the config is loaded.
DQ_RULE_NAMES = (
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
)


@dataclass(frozen=True)
class DQConfig:
    """Data-quality rules: the limits that turn datacheck figures into flags (docs/dq.md).

    Defaults follow the reference values of ``lstchain_longterm_dl1_check`` where it has
    one (pedestal std, flat-field charge, muon efficiency and width, cosmic rate vs zenith).
    """

    rate_drop_fraction: float = 0.7
    rate_jump_fraction: float = 0.3
    rate_reference_a: float = 3065.64
    rate_reference_b: float = 3403.23
    rate_reference_tolerance: float = 0.3
    interleaved_rate_min: float = 40.0
    pedestal_std_min: float = 0.2
    pedestal_std_max: float = 2.5
    pedestal_cleaned_fraction_max: float = 0.05
    flatfield_charge_min: float = 62.0
    flatfield_charge_max: float = 76.0
    wrong_tag_fraction_max: float = 0.01
    ucts_jumps_max: int = 0
    muon_rings_min: int = 1
    muon_efficiency_min: float = 0.16
    muon_width_max: float = 0.08
    disabled_rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    """The whole effective configuration."""

    source: Path
    paths: PathsConfig
    production: ProductionConfig = ProductionConfig()
    night: NightConfig = NightConfig()
    executor: ExecutorConfig = ExecutorConfig()
    slurm: SlurmConfig = SlurmConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    steps: dict[str, StepConfig] = field(default_factory=dict)
    retry: RetryConfig = RetryConfig()
    closing: ClosingConfig = ClosingConfig()
    console: ConsoleConfig = ConsoleConfig()
    dq: DQConfig = DQConfig()


# Constraints that a type alone cannot say. (section, key) -> check returning an error or None.
_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("executor", "kind"): ("auto", "local", "slurm"),
    ("analysis", "payload_mode"): ("fork", "exec"),
    ("night", "workflow"): ("per_run", "fixed"),
    ("calibration", "versions"): ("exact", "series", "any"),
    ("closing", "keep_dl1a"): ("link", "copy"),
}
_POSITIVE_INTS = {
    "streams",
    "calibration_lookback_nights",
    "max_subruns",
    "cpus",
    "max_attempts",
    "science_repeats",
    "max_pending_jobs",
    "command_timeout",
}


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
    reader = _Reader(path, text)
    if "paths" not in data or "base" not in (data.get("paths") or {}):
        raise ConfigError(f"{path.name}: [paths] base: missing (the folder every path is under)")
    base_raw = data["paths"]["base"]
    if not isinstance(base_raw, str) or not base_raw:
        reader.fail("paths", "base", "expected a folder path as a string", base_raw)
    base = Path(base_raw).expanduser()
    if not base.is_absolute():
        base = (path.resolve().parent / base).resolve()
    reader.base = base
    config = reader.build(Config, {**data, "source": str(path)}, section="")
    _check_values(config, reader)
    if check_paths:
        _check_paths_exist(config, reader)
    return config


_PARTITIONS_RE = re.compile(r"^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$")


def _check_values(config: Config, reader: _Reader) -> None:
    """Checks a type alone cannot express; they run on every load."""
    for kind in ("calibration", "data", "close"):
        partition = getattr(config.slurm, kind).partition
        if partition and not _PARTITIONS_RE.match(partition):
            reader.fail(f"slurm.{kind}", "partition", 'expected names like "short,long"', partition)
    if config.slurm.account and not _NAME_RE.match(config.slurm.account):
        reader.fail(
            "slurm", "account", "expected a plain name ([A-Za-z0-9._-])", config.slurm.account
        )
    budget = config.executor.local.memory_budget
    if budget != "auto":
        try:
            MemorySize.parse(budget)
        except ValueError:
            reader.fail(
                "executor.local", "memory_budget", 'expected "auto" or a size like "8GB"', budget
            )
    for name in config.analysis.environment:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            reader.fail("analysis.environment", name, "expected an environment variable name")
    for name in config.steps:
        if not _NAME_RE.match(name):
            reader.fail("steps", name, "expected a plain step name")
    _check_dq(config.dq, reader)


def _check_dq(dq: DQConfig, reader: _Reader) -> None:
    """Fractions are fractions, ranges are ordered, disabled rules exist."""
    for key in (
        "rate_drop_fraction",
        "rate_reference_tolerance",
        "pedestal_cleaned_fraction_max",
        "wrong_tag_fraction_max",
    ):
        if getattr(dq, key) >= 1:
            reader.fail("dq", key, "expected a fraction below 1", getattr(dq, key))
    for low, high in (
        ("pedestal_std_min", "pedestal_std_max"),
        ("flatfield_charge_min", "flatfield_charge_max"),
    ):
        if getattr(dq, low) >= getattr(dq, high):
            reader.fail("dq", low, f"must be below {high} ({getattr(dq, high)})", getattr(dq, low))
    for name in dq.disabled_rules:
        if name not in DQ_RULE_NAMES:
            close = difflib.get_close_matches(name, DQ_RULE_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            reader.fail("dq", "disabled_rules", f"unknown rule {name!r}{hint}")


def _check_paths_exist(config: Config, reader: _Reader) -> None:
    """Paths the engine reads but never creates must exist, or we stop at start."""
    if not config.paths.base.is_dir():
        reader.fail("paths", "base", "folder does not exist", str(config.paths.base))
    for spec in dataclasses.fields(AnalysisConfig):
        value = getattr(config.analysis, spec.name)
        if isinstance(value, Path) and not value.exists():
            reader.fail("analysis", spec.name, "file or folder does not exist", str(value))


class _Reader:
    """Converts a TOML mapping into the dataclass tree, reporting the first problem."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.base = Path()

    def fail(
        self, section: str, key: str, message: str, value: Any = dataclasses.MISSING
    ) -> typing.NoReturn:
        line = self._line_of(section, key)
        where = f"{self.path.name}:{line}" if line else self.path.name
        table = f"[{section}] " if section else ""
        got = "" if value is dataclasses.MISSING else f", got {_show(value)}"
        raise ConfigError(f"{where}: {table}{key}: {message}{got}")

    def _line_of(self, section: str, key: str) -> int | None:
        """Best-effort line number of ``key`` inside table ``[section]`` (tomllib has none)."""
        current = ""
        key_re = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        header_re = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
        for number, line in enumerate(self.lines, start=1):
            header = header_re.match(line)
            if header:
                current = header.group(1).replace(" ", "")
                if current == f"{section}.{key}" or (not section and current == key):
                    return number
                continue
            if current == section and key_re.match(line):
                return number
        return None

    def build(self, cls: type, data: Any, section: str) -> Any:
        if not isinstance(data, dict):
            parent, _, key = section.rpartition(".")
            self.fail(parent, key, "expected a table", data)
        hints = typing.get_type_hints(cls)
        known = {spec.name for spec in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = (
                    f" (did you mean {close[0]!r}?)"
                    if close
                    else f" (known: {', '.join(sorted(known))})"
                )
                self.fail(section, key, f"unknown key{hint}")
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            if spec.name not in data:
                default = spec.default
                if isinstance(default, Path) and not default.is_absolute() and spec.name != "base":
                    values[spec.name] = self.base / default  # defaults are base-relative too
                continue
            sub = f"{section}.{spec.name}" if section else spec.name
            values[spec.name] = self.convert(
                hints[spec.name], data[spec.name], section, spec.name, sub
            )
        try:
            return cls(**values)
        except TypeError as err:  # a required key is missing
            missing = str(err).split("argument")[-1].strip(": '")
            self.fail(section, missing, "missing")

    def convert(self, hint: Any, value: Any, section: str, key: str, sub: str) -> Any:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (Union, types.UnionType) and type(None) in args:
            if value == "":
                return None
            inner = next(arg for arg in args if arg is not type(None))
            return self.convert(inner, value, section, key, sub)
        if dataclasses.is_dataclass(hint):
            return self.build(hint, value, sub)
        if origin is dict:
            if not isinstance(value, dict):
                self.fail(section, key, "expected a table", value)
            value_type = args[1]
            return {
                str(k): self.convert(value_type, v, sub, str(k), f"{sub}.{k}")
                for k, v in value.items()
            }
        if origin is tuple:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                self.fail(section, key, "expected a list of strings", value)
            return tuple(value)
        return self.scalar(hint, value, section, key)

    def scalar(self, hint: Any, value: Any, section: str, key: str) -> Any:
        choices = _CHOICES.get((section, key))
        try:
            if hint is MemorySize:
                return MemorySize.parse(value)
            if hint is Duration:
                return Duration.parse(value)
        except ValueError as err:
            self.fail(section, key, str(err).split(", got")[0], value)
        if hint is Path:
            if key == "base" or key == "source":
                return Path(value) if key == "source" else self.base
            if not isinstance(value, str) or not value:
                self.fail(section, key, "expected a path as a string", value)
            path = Path(value).expanduser()
            return path if path.is_absolute() else self.base / path
        if hint is bool:
            if not isinstance(value, bool):
                self.fail(section, key, "expected true or false", value)
            return value
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(section, key, "expected an integer", value)
            if key in _POSITIVE_INTS and value < 1:
                self.fail(section, key, "expected a positive integer", value)
            if value < 0:
                self.fail(section, key, "expected a non-negative integer", value)
            return value
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(section, key, "expected a number", value)
            if value <= 0:
                self.fail(section, key, "expected a positive number", value)
            return float(value)
        if not isinstance(value, str):
            self.fail(section, key, "expected a string", value)
        if "\n" in value or "\x00" in value:
            self.fail(section, key, "must be a single line", value)
        if hint is ProductionId:
            if not _ID_RE.match(value) or ".." in value.split("/"):
                self.fail(
                    section, key, "expected an id like v0.12 or tailcut84/nsb_tuning_0.14", value
                )
            return ProductionId(value)
        if hint is Name and not _NAME_RE.match(value):
            self.fail(section, key, "expected a plain name ([A-Za-z0-9._-])", value)
        if choices and value not in choices:
            self.fail(section, key, f"expected one of {', '.join(choices)}", value)
        return hint(value) if hint in (Name,) else value


def _show(value: Any) -> str:
    """Show a value as it looks in TOML, so the user recognises what they wrote."""
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def config_to_dict(config: Config) -> dict[str, Any]:
    """The effective configuration as plain TOML-able data (for ``osa config show``)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if isinstance(value, (MemorySize, Duration)):
            return str(value)
        if isinstance(value, Path):
            return str(value)
        if value is None:
            return ""
        return value

    return plain(config)
