"""PNG plots of a night's data quality (matplotlib, no display needed).

Why ``Figure`` + ``FigureCanvasAgg`` instead of pyplot: pyplot keeps global state and picks
a GUI backend; the engine may run inside the console or a cron job, so figures are built
and rendered off-screen and forgotten, whatever ``MPLBACKEND`` says.

Two kinds of plots: the night overview (cosmic rate of every subrun against UTC time,
flagged subruns marked, telescope altitude on a second axis) and one figure per run with
the figures the rules look at, each with the limit that applies drawn on it.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from osa_core.dq.rules import Flag

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure
    from numpy.typing import NDArray

    from osa_core.dq.summary import NightDQ

DPI = 100
FLAG_COLOR = "#d62728"
LINE_COLOR = "#1f77b4"
LIMIT_COLOR = "#7f7f7f"
RATE_RULES = ("rate_drop", "rate_jump")

# A matplotlib Axes. Its annotations take floats where its unit conversion takes the
# datetimes plotted here (x values, limits, annotations), so it is not typed as Axes.
TimeAxes: TypeAlias = Any


def _times(values: pd.Series) -> list[dt.datetime | None]:
    return [
        dt.datetime.fromtimestamp(v, dt.timezone.utc) if not math.isnan(v) else None for v in values
    ]


def _figure(width: float, height: float, rows: int = 1) -> tuple[Figure, NDArray[np.object_]]:
    """A figure and its column of ``rows`` axes (``TimeAxes``)."""
    from matplotlib.figure import Figure  # heavy (~0.5 s): only when a plot is drawn

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    return figure, axes


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # heavy: see _figure

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _time_axis(axis: TimeAxes, times: Sequence[dt.datetime | None]) -> None:
    """UTC clock ticks over exactly the data (with a margin; a lone subrun gets a minute)."""
    import matplotlib.dates as mdates  # heavy: see _figure

    known = [t for t in times if t is not None]
    if known:
        pad = max((max(known) - min(known)) * 0.03, dt.timedelta(seconds=30))
        axis.set_xlim(min(known) - pad, max(known) + pad)
    locator = mdates.AutoDateLocator(minticks=5, maxticks=12, tz=dt.timezone.utc)
    axis.xaxis.set_major_locator(locator)
    short = bool(known) and max(known) - min(known) < dt.timedelta(minutes=10)
    clock = "%H:%M:%S" if short else "%H:%M"
    axis.xaxis.set_major_formatter(mdates.DateFormatter(clock, tz=dt.timezone.utc))
    axis.set_xlabel("time (UTC)")


def _mark(axis: TimeAxes, group: pd.DataFrame, column: str, flagged: set[int], label: str) -> None:
    """Red crosses on the flagged subruns of ``column``."""
    rows = group[group["subrun"].isin(flagged)]
    if not rows.empty:
        axis.plot(
            _times(rows["time"]),
            rows[column],
            "x",
            color=FLAG_COLOR,
            markersize=9,
            markeredgewidth=2,
            label=label,
            zorder=5,
            clip_on=False,
        )


def _style(axis: TimeAxes, ylabel: str, values: pd.Series | None = None, empty: str = "") -> None:
    """Label and grid; say so in the panel when it has nothing to show."""
    axis.set_ylabel(ylabel)
    axis.grid(True, alpha=0.3)
    if values is not None and not values.notna().any():
        axis.text(
            0.5,
            0.5,
            empty or "no data",
            transform=axis.transAxes,
            ha="center",
            va="center",
            color=LIMIT_COLOR,
            fontsize=11,
        )


def night_overview(dq: NightDQ) -> bytes:
    """Cosmic rate of every subrun against time, per run; flagged subruns crossed."""
    figure, (axis,) = _figure(11, 4.5)
    subruns = dq.subruns
    flagged = {(f.run, f.subrun) for f in dq.flags if f.rule in RATE_RULES}
    any_flag = False
    known = subruns["time"].dropna()
    span = float(known.max() - known.min()) if len(known) else 0.0
    last_label = -math.inf
    for run, group in subruns.groupby("run"):
        times = _times(group["time"])
        style = "o-" if len(group) > 1 else "o"
        axis.plot(times, group["cosmic_rate"], style, markersize=2.5, linewidth=1, label=None)
        start = float(group["time"].min())
        peak = float(np.nanmax(group["cosmic_rate"])) if group["cosmic_rate"].notna().any() else 0
        if times[0] is not None and start - last_label > span / 30:  # labels must not overlap
            last_label = start
            axis.annotate(
                f"{int(run)}",
                (times[0], peak),
                textcoords="offset points",
                xytext=(0, 6),
                fontsize=8,
            )
        bad = group[[(int(run), int(s)) in flagged for s in group["subrun"]]]
        if not bad.empty:
            any_flag = True
            _mark(axis, bad, "cosmic_rate", set(bad["subrun"]), "")
    _style(axis, "cosmic rate (Hz)")
    top = float(np.nanmax(subruns["cosmic_rate"])) if subruns["cosmic_rate"].notna().any() else 1
    axis.set_ylim(0, 1.15 * top)
    axis.set_title(f"Night {dq.night.isoformat()}: cosmic rate per subrun (run numbers above)")
    altitude = axis.twinx()
    altitude.plot(_times(subruns["time"]), subruns["alt"], ".", color=LIMIT_COLOR, markersize=2)
    altitude.set_ylabel("altitude (°)", color=LIMIT_COLOR)
    altitude.set_ylim(0, 90)
    if any_flag:
        axis.plot([], [], "x", color=FLAG_COLOR, label="rate flag (rate↓ / jump)")
        axis.legend(loc="lower left", fontsize=8)
    _time_axis(axis, _times(subruns["time"]))
    return _png(figure)


def _legend(axis: TimeAxes, offset: float = 1.01) -> None:
    """Legends go right of the panel: they never hide a flagged point."""
    axis.legend(loc="upper left", bbox_to_anchor=(offset, 1.0), fontsize=8, frameon=False)


def run_figure(dq: NightDQ, run: int) -> bytes:
    """Cosmic rate, pedestal charge, flat-field charge, interleaved rates and (when known)
    muon rings along a run, each with the limits of its rule."""
    cfg = dq.config
    group = dq.run_subruns(run)
    flags: list[Flag] = dq.flags_for(run)

    def fired(*rules: str, label: str | None = None) -> set[int]:
        return {
            f.subrun
            for f in flags
            if f.rule in rules and f.subrun is not None and (label is None or f.label == label)
        }

    muons = bool(group["mu_rings"].notna().any())
    figure, axes = _figure(11, 11.5 if muons else 9.5, rows=5 if muons else 4)
    times = _times(group["time"])
    style = "o-" if len(group) > 1 else "o"

    rate = axes[0]
    rate.plot(times, group["cosmic_rate"], style, color=LINE_COLOR, markersize=3, label="subrun")
    median = float(group["cosmic_rate"].median())
    if not math.isnan(median):
        rate.axhline(median, color=LIMIT_COLOR, linestyle="--", linewidth=1, label="run median")
        rate.axhline(
            cfg.rate_drop_fraction * median,
            color=FLAG_COLOR,
            linestyle=":",
            linewidth=1,
            label=f"{cfg.rate_drop_fraction:g} × median\n(rate↓ below)",
        )
    _mark(rate, group, "cosmic_rate", fired(*RATE_RULES), "rate↓ / jump")
    rate.set_ylim(bottom=0)
    _style(rate, "cosmic rate (Hz)")
    _legend(rate)
    known = [t for t in times if t is not None]
    span = f"{min(known):%H:%M}–{max(known):%H:%M} UTC" if known else "time unknown"
    count = f"{len(group)} subrun{'s' if len(group) != 1 else ''}"
    rate.set_title(f"Run {run:05d}  ({count}, {span})")

    pedestal = axes[1]
    pedestal.axhspan(
        cfg.pedestal_std_min,
        cfg.pedestal_std_max,
        color="#2ca02c",
        alpha=0.08,
        label=f"allowed std dev\n{cfg.pedestal_std_min:g}–{cfg.pedestal_std_max:g}",
    )
    pedestal.plot(
        times, group["ped_charge_std"], style, color=LINE_COLOR, markersize=3, label="std dev"
    )
    pedestal.plot(
        times, group["ped_charge_mean"], style, color="#2ca02c", markersize=2, label="mean"
    )
    _mark(pedestal, group, "ped_charge_std", fired("pedestal_std"), "ped σ")
    _style(pedestal, "pedestal charge (p.e.)", group["ped_charge_std"], "no pedestal events")
    _legend(pedestal)

    flatfield = axes[2]
    flatfield.axhspan(
        cfg.flatfield_charge_min,
        cfg.flatfield_charge_max,
        color="#2ca02c",
        alpha=0.08,
        label=f"allowed\n{cfg.flatfield_charge_min:g}–{cfg.flatfield_charge_max:g}",
    )
    flatfield.plot(
        times, group["ff_charge_mean"], style, color=LINE_COLOR, markersize=3, label="mean"
    )
    _mark(flatfield, group, "ff_charge_mean", fired("flatfield_charge"), "FF q")
    _style(flatfield, "flat-field charge (p.e.)", group["ff_charge_mean"], "no flat-field events")
    _legend(flatfield)

    interleaved = axes[3]
    interleaved.plot(times, group["ped_rate"], style, markersize=3, label="pedestal")
    interleaved.plot(times, group["ff_rate"], style, markersize=3, label="flat-field")
    interleaved.axhline(
        cfg.interleaved_rate_min,
        color=FLAG_COLOR,
        linestyle=":",
        linewidth=1,
        label=f"minimum {cfg.interleaved_rate_min:g} Hz",
    )
    _mark(interleaved, group, "ped_rate", fired("interleaved_rate", label="few ped"), "few ped")
    _mark(interleaved, group, "ff_rate", fired("interleaved_rate", label="few FF"), "few FF")
    interleaved.set_ylim(bottom=0)
    _style(interleaved, "interleaved rate (Hz)")
    _legend(interleaved)

    if muons:
        efficiency = axes[4]
        efficiency.plot(
            times, group["mu_efficiency"], style, color=LINE_COLOR, markersize=3, label="efficiency"
        )
        efficiency.axhline(
            cfg.muon_efficiency_min,
            color=FLAG_COLOR,
            linestyle=":",
            linewidth=1,
            label=f"minimum {cfg.muon_efficiency_min:g}\n(run mean)",
        )
        rings = efficiency.twinx()
        rings.bar(
            times, group["mu_rings"], width=8 / 86400, color=LIMIT_COLOR, alpha=0.3, label="rings"
        )
        rings.set_ylabel("rings / subrun", color=LIMIT_COLOR)
        efficiency.set_zorder(rings.get_zorder() + 1)
        efficiency.patch.set_visible(False)
        top = (
            float(np.nanmax(group["mu_efficiency"])) if group["mu_efficiency"].notna().any() else 0
        )
        efficiency.set_ylim(0, max(1.15 * top, 1.25 * cfg.muon_efficiency_min))
        _style(efficiency, "muon efficiency")
        efficiency.plot([], [], "s", color=LIMIT_COLOR, alpha=0.3, label="rings (right)")
        _legend(efficiency, offset=1.07)
    _time_axis(axes[-1], times)
    return _png(figure)
