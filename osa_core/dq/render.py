"""Rich renderings of a night's data quality (``osa dq`` and the console's DQ screen).

Layout, in the spirit of osa_core/cli/tables.py: one header line, one row per run with
its key figures and a sparkline of the cosmic rate along the run (flagged subruns in red),
then one line per run and rule that fired, with the subruns it fired on and the worst
value. The table adapts to the width: 80 columns keep run, subruns, rate, sparkline and
flags; wider terminals add time, altitude, pedestal, flat-field and muon figures.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from osa_core.dq.rules import ORDER, Flag
from osa_core.dq.sparkline import bins, sparkline

if TYPE_CHECKING:
    import pandas as pd

    from osa_core.dq.summary import NightDQ

BAD = "bold red"
WARN = "yellow"
OK = "green"
SPARK = "cyan"
RATE_RULES = ("rate_drop", "rate_jump")


def fmt(value: float, digits: int = 0, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * scale:.{digits}f}"


def utc(seconds: float, with_date: bool = False, seconds_too: bool = False) -> str:
    """Unix seconds as UTC ``HH:MM`` (optionally with the date, or the seconds)."""
    if seconds is None or math.isnan(seconds):
        return "-"
    when = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    if with_date:
        return when.strftime("%Y-%m-%d %H:%M")
    return when.strftime("%H:%M:%S" if seconds_too else "%H:%M")


def subrun_ranges(subruns: Iterable[int], limit: int = 5) -> str:
    """``[3, 4, 5, 9]`` -> ``3–5, 9`` (at most ``limit`` ranges, then ``…``)."""
    values = sorted(set(subruns))
    ranges: list[tuple[int, int]] = []
    for value in values:
        if ranges and value == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], value)
        else:
            ranges.append((value, value))
    parts = [f"{a}" if a == b else f"{a}–{b}" for a, b in ranges[:limit]]
    if len(ranges) > limit:
        parts.append("…")
    return ", ".join(parts)


def rate_sparkline(group: pd.DataFrame, flags: list[Flag], width: int) -> Text:
    """The cosmic rate along a run, one character per subrun (or per bin of subruns), with
    gaps for missing subruns and flagged ones in red."""
    if group.empty:
        return Text("")
    first, last = int(group["subrun"].min()), int(group["subrun"].max())
    by_subrun = dict(zip(group["subrun"].astype(int), group["cosmic_rate"], strict=True))
    values = [by_subrun.get(s, math.nan) for s in range(first, last + 1)]
    line = sparkline(values, width=width)
    flagged = {f.subrun for f in flags if f.rule in RATE_RULES and f.subrun is not None}
    text = Text()
    for char, members in zip(line, bins(len(values), width), strict=True):
        bad = any(first + i in flagged for i in members)
        text.append(char, style=BAD if bad else SPARK)
    return text


def worst_flag(flags: list[Flag]) -> Flag:
    """The flag farthest beyond its limit (relative), shown for a group of flags."""

    def distance(flag: Flag) -> float:
        if flag.limit:
            return abs(flag.value - flag.limit) / abs(flag.limit)
        return abs(flag.value)

    return max(flags, key=distance)


def grouped_flags(flags: list[Flag]) -> list[tuple[int, str, list[Flag]]]:
    """(run, rule, flags) in run then rule order."""
    groups: dict[tuple[int, str], list[Flag]] = {}
    for flag in flags:
        groups.setdefault((flag.run, flag.rule), []).append(flag)
    keys = sorted(groups, key=lambda k: (k[0], ORDER[k[1]]))
    return [(run, rule, groups[(run, rule)]) for run, rule in keys]


def flags_table(flags: list[Flag], width: int = 200) -> Table:
    """One row per run and rule: where it fired and its worst case (and, when there is
    room, the ``[dq]`` key that sets the limit). Long messages wrap under themselves."""
    table = Table.grid(padding=(0, 1))
    table.add_column("run", style="bold", no_wrap=True)
    table.add_column("flag", style=BAD, no_wrap=True)
    table.add_column("where", style=WARN, no_wrap=True)
    table.add_column("what", ratio=1)
    for run, _rule, members in grouped_flags(flags):
        worst = worst_flag(members)
        labels = " / ".join(sorted({f.label for f in members}))
        subruns = sorted({f.subrun for f in members if f.subrun is not None})
        if not subruns:
            where = "run"
        elif len(subruns) == 1:
            where = f"subrun {subruns[0]}"
        else:
            where = f"{len(subruns)} subruns {subrun_ranges(subruns, limit=3)}"
        what = Text()
        if len(subruns) > 1:
            what.append(f"worst {worst.subrun}: ", style="dim")
        what.append(worst.message)
        if width >= 120:
            what.append(f"  [dq] {worst.key}", style="dim")
        table.add_row(f"{run:05d}", labels, where, what)
    return table


def _styled(value: str, bad: bool) -> Text:
    return Text(value, style=BAD if bad else "")


def header(dq: NightDQ) -> Group:
    lines = []
    if dq.available:
        flagged = len({f.run for f in dq.flags})
        lines.append(
            Text.assemble(
                ("Data quality ", "bold"),
                (dq.night.isoformat(), "bold cyan"),
                f"  ·  {len(dq.runs)} runs, {len(dq.subruns)} subruns  ·  ",
                (
                    f"{flagged} run{'s' if flagged != 1 else ''} flagged" if flagged else "no flag",
                    BAD if flagged else OK,
                ),
            )
        )
        sources = " · ".join(
            f"{count} run{'s' if count > 1 else ''}: {source}"
            for source, count in dq.runs["source"].value_counts().sort_index().items()
        )
        stats = dq.stats
        lines.append(
            Text(
                f"{sources}  ·  {stats.files_read} files read, {stats.files_cached} cached, "
                f"{stats.seconds:.1f} s",
                style="dim",
            )
        )
    else:
        lines.append(Text.assemble(("Data quality ", "bold"), (dq.night.isoformat(), "bold cyan")))
    for note in dq.notes:
        lines.append(Text(f"! {note}", style=WARN))
    return Group(*lines)


# Width of every column but the sparkline (header or widest expected value).
WIDTHS = {
    "Run": 5,
    "Sub": 4,
    "UTC": 11,
    "Alt°": 4,
    "Rate Hz": 7,
    "Ped σ": 5,
    "FF p.e.": 7,
    ">30pe‰": 6,
    "μ rings": 7,
    "Flags": 14,
}
SEPARATOR = 3  # " │ " between columns


def runs_table(dq: NightDQ, width: int) -> Table:
    """One row per run; columns chosen for ``width`` (see module docstring)."""
    layout = "wide" if width >= 140 else "medium" if width >= 105 else "narrow"
    columns = ["Run", "Sub"]
    if layout == "wide":
        columns += ["UTC", "Alt°"]
    columns += ["Rate Hz", "Cosmic rate per subrun"]
    if layout != "narrow":
        columns += ["Ped σ", "FF p.e."]
    if layout == "wide":
        columns += [">30pe‰", "μ rings"]
    columns.append("Flags")
    summary = dq.flag_summary()
    flags_width = max([WIDTHS["Flags"], *(len(text) for text in summary.values())])
    fixed = sum(WIDTHS[c] for c in columns if c in WIDTHS) - WIDTHS["Flags"]
    used = fixed + SEPARATOR * (len(columns) - 1)
    longest = int(dq.runs["last_subrun"].max() - dq.runs["first_subrun"].min() + 1)
    spark_width = width - used - min(flags_width, 30)
    spark_width = max(8, min(spark_width, 80, max(longest, 8)))
    table = Table(show_edge=False, header_style="bold", pad_edge=False, expand=False)
    for name in columns:
        if name == "Cosmic rate per subrun":
            table.add_column(
                "Cosmic rate / subrun" if spark_width < 22 else name,
                no_wrap=True,
                min_width=spark_width,
                max_width=spark_width,
            )
        else:
            table.add_column(
                name,
                justify="left" if name in ("Flags", "UTC") else "right",
                no_wrap=True,
                overflow="ellipsis",
                min_width=None if name == "Flags" else WIDTHS[name],
            )
    for row in dq.runs.to_dict("records"):
        run = int(row["run"])
        flags = dq.flags_for(run)
        fired = {f.rule for f in flags}
        group = dq.run_subruns(run)
        muon_rules = {"muon_rings", "muon_efficiency", "muon_width"}
        cells: dict[str, RenderableType] = {
            "Run": Text(f"{run:05d}", style="bold"),
            "Sub": str(row["subruns"]),
            "UTC": f"{utc(row['start'])}–{utc(row['end'])}",
            "Alt°": fmt(row["alt"]),
            "Rate Hz": _styled(fmt(row["cosmic_rate"]), "rate_reference" in fired),
            "Cosmic rate per subrun": rate_sparkline(group, flags, spark_width),
            "Ped σ": _styled(fmt(row["ped_charge_std"], 2), "pedestal_std" in fired),
            "FF p.e.": _styled(fmt(row["ff_charge_mean"], 1), "flatfield_charge" in fired),
            ">30pe‰": fmt(row["cosmics_frac30"], 2, 1000.0),
            "μ rings": _styled(fmt(row["mu_rings"]), bool(fired & muon_rules)),
            "Flags": Text(summary.get(run) or "ok", style=BAD if summary.get(run) else OK),
        }
        table.add_row(*(cells[c] for c in columns))
    return table


def night_renderable(dq: NightDQ, width: int) -> Group:
    """Header, runs table and flag lines (what ``osa dq`` prints and the console shows)."""
    parts: list[RenderableType] = [header(dq)]
    if not dq.available:
        return Group(*parts)
    parts += [Text(""), runs_table(dq, width)]
    if dq.flags:
        parts += [Text(""), Text("Flags", style="bold"), flags_table(dq.flags, width)]
    return Group(*parts)


# --- one run in detail ---------------------------------------------------------------------
SERIES = (
    ("cosmic_rate", "cosmic rate", "Hz", 0, "min", RATE_RULES),
    ("ped_charge_std", "pedestal σ", "p.e.", 2, "max", ("pedestal_std",)),
    ("ff_charge_mean", "flat-field q", "p.e.", 1, "mean", ("flatfield_charge",)),
    ("ped_rate", "pedestal rate", "Hz", 0, "min", ("interleaved_rate",)),
    ("cosmics_frac30", ">30 p.e. frac", "‰", 2, "mean", ()),
    ("alt", "altitude", "°", 1, "mean", ()),
)


def run_renderable(dq: NightDQ, run: int, width: int) -> Group:
    """A run: its figures as labelled sparklines, its flags, and one row per subrun."""
    group = dq.run_subruns(run)
    flags = dq.flags_for(run)
    parts: list[RenderableType] = [header(dq), Text("")]
    if group.empty:
        parts.append(Text(f"run {run}: no datacheck", style=WARN))
        return Group(*parts)
    row = dq.runs[dq.runs["run"] == run].to_dict("records")[0]
    parts.append(
        Text.assemble(
            (f"Run {run:05d}", "bold"),
            f"  ·  {row['subruns']} subruns ({row['first_subrun']}–{row['last_subrun']})  ·  "
            f"{utc(row['start'], True)}–{utc(row['end'])} UTC  ·  alt {fmt(row['alt'], 1)}°"
            f" az {fmt(row['az'], 1)}°  ·  {row['source']}",
        )
    )
    first, last = int(group["subrun"].min()), int(group["subrun"].max())
    spark_width = max(10, min(last - first + 1, width - 40))
    for column, label, unit, digits, how, rules in SERIES:
        by_subrun = dict(zip(group["subrun"].astype(int), group[column], strict=True))
        scale = 1000.0 if unit == "‰" else 1.0
        values = [by_subrun.get(s, math.nan) * scale for s in range(first, last + 1)]
        finite = [v for v in values if not math.isnan(v)]
        line = Text(f"{label:>14} ", style="bold")
        if not finite:
            line.append("unknown", style="dim")
        else:
            flagged = {f.subrun for f in flags if f.rule in rules and f.subrun is not None}
            chars = sparkline(values, width=spark_width, low=0.0, how=how)
            for char, members in zip(chars, bins(len(values), spark_width), strict=True):
                bad = any(first + i in flagged for i in members)
                line.append(char, style=BAD if bad else SPARK)
            line.append(f"  {min(finite):.{digits}f}–{max(finite):.{digits}f} {unit}", style="dim")
        parts.append(line)
    if flags:
        parts += [Text(""), Text("Flags", style="bold"), flags_table(flags, width)]
    parts += [Text(""), subrun_table(group, flags)]
    return Group(*parts)


def subrun_table(group: pd.DataFrame, flags: list[Flag]) -> Table:
    """One row per subrun of a run, flagged values in red."""
    by_subrun: dict[int, list[Flag]] = {}
    for flag in flags:
        if flag.subrun is not None:
            by_subrun.setdefault(flag.subrun, []).append(flag)
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    headers = ("Sub", "UTC", "Dur s", "Rate Hz", "Ped Hz", "FF Hz", "Ped σ", "FF pe", ">30‰")
    for name in (*headers, "Tag%", "μ", "Flags"):
        table.add_column(
            name, justify="left" if name in ("UTC", "Flags") else "right", no_wrap=True
        )
    for row in group.to_dict("records"):
        subrun = int(row["subrun"])
        fired = by_subrun.get(subrun, [])
        rules = {f.rule for f in fired}
        table.add_row(
            str(subrun),
            utc(row["time"], seconds_too=True),
            fmt(row["elapsed"], 1),
            _styled(fmt(row["cosmic_rate"]), bool(rules & set(RATE_RULES))),
            _styled(fmt(row["ped_rate"]), "interleaved_rate" in rules),
            _styled(fmt(row["ff_rate"]), "interleaved_rate" in rules),
            _styled(fmt(row["ped_charge_std"], 2), "pedestal_std" in rules),
            _styled(fmt(row["ff_charge_mean"], 1), "flatfield_charge" in rules),
            fmt(row["cosmics_frac30"], 2, 1000.0),
            _styled(fmt(row["wrong_tag_fraction"], 1, 100.0), "trigger_tags" in rules),
            fmt(row["mu_rings"]),
            Text(", ".join(sorted({f.label for f in fired})), style=BAD),
        )
    return table
