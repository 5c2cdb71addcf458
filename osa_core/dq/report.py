"""The night's data-quality report: one self-contained HTML file with PNG plots.

Why self-contained: the report is mailed, attached to the e-logbook and opened from the
final tree years later; the PNGs are embedded (base64) so the HTML alone shows
everything, and are also written beside it for whoever wants a single plot.

Where: before the night is closed, in the running tree's close folder
(``close/dq/``), which finalising moves with the products to ``DL1/.../datacheck/dq/``;
once the night is finished, directly there. Every file is written atomically, so a reader
never sees half a report and a crash leaves the previous one.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
from pathlib import Path

from osa_core.dq.plots import night_overview, run_figure
from osa_core.dq.render import grouped_flags, subrun_ranges, utc, worst_flag
from osa_core.dq.rules import Flag
from osa_core.dq.summary import NightDQ
from osa_core.fsio import atomic_writer, write_text_atomic
from osa_core.paths import NightPaths

CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1150px;
       color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
.bad { color: #c62828; font-weight: 600; } .ok { color: #2e7d32; }
.note { color: #8a6d00; } .dim { color: #777; font-size: 0.85em; }
img { max-width: 100%; border: 1px solid #eee; }
"""


def report_dir(paths: NightPaths) -> Path:
    """``close/dq`` while the night is open, the final tree's ``datacheck/dq`` after."""
    if paths.night_finished.exists():
        return paths.final_night_dl1 / "datacheck" / "dq"
    return paths.close_dir / "dq"


def report_name(paths: NightPaths) -> str:
    return f"dq_report_{paths.folder}.html"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float, digits: int = 0, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * scale:.{digits}f}"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def _runs_table(dq: NightDQ) -> str:
    summary = dq.flag_summary()
    head = (
        "<tr><th>Run</th><th>Subruns</th><th class=l>UTC</th><th>Alt °</th>"
        "<th>Cosmic rate Hz</th><th>Ped rate Hz</th><th>FF rate Hz</th><th>Ped σ p.e.</th>"
        "<th>FF p.e.</th><th>&gt;30 p.e. ‰</th><th>Wrong tags %</th><th>μ rings</th>"
        "<th>μ eff.</th><th class=l>Source</th><th class=l>Flags</th></tr>"
    )
    rows = []
    for row in dq.runs.to_dict("records"):
        run = int(row["run"])
        fired = {f.rule for f in dq.flags_for(run)}

        def cell(text: str, *rules: str, fired: set[str] = fired) -> str:
            return f"<td class=bad>{text}</td>" if fired & set(rules) else f"<td>{text}</td>"

        flags = summary.get(run, "")
        rows.append(
            "<tr>"
            f'<td><a href="#run{run}">{run:05d}</a></td><td>{row["subruns"]}</td>'
            f"<td class=l>{utc(row['start'])}–{utc(row['end'])}</td><td>{_num(row['alt'])}</td>"
            + cell(_num(row["cosmic_rate"]), "rate_reference", "rate_drop")
            + cell(_num(row["ped_rate"]), "interleaved_rate")
            + cell(_num(row["ff_rate"]), "interleaved_rate")
            + cell(_num(row["ped_charge_std"], 2), "pedestal_std")
            + cell(_num(row["ff_charge_mean"], 1), "flatfield_charge")
            + f"<td>{_num(row['cosmics_frac30'], 2, 1000)}</td>"
            + cell(_num(row["wrong_tag_fraction"], 1, 100), "trigger_tags")
            + cell(_num(row["mu_rings"]), "muon_rings")
            + cell(_num(row["mu_efficiency"], 3), "muon_efficiency")
            + f"<td class=l>{_esc(row['source'])}</td>"
            + (f"<td class='l bad'>{_esc(flags)}</td>" if flags else "<td class='l ok'>ok</td>")
            + "</tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _flags_table(flags: list[Flag]) -> str:
    if not flags:
        return "<p class=ok>No flag.</p>"
    rows = []
    for run, _rule, members in grouped_flags(flags):
        subruns = sorted({f.subrun for f in members if f.subrun is not None})
        where = "run" if not subruns else f"{len(subruns)}: {subrun_ranges(subruns, limit=8)}"
        if len(subruns) == 1:
            where = f"subrun {subruns[0]}"
        worst = worst_flag(members)
        labels = " / ".join(sorted({f.label for f in members}))
        rows.append(
            f"<tr><td>{run:05d}</td><td class='l bad'>{_esc(labels)}</td>"
            f"<td class=l>{_esc(where)}</td><td class=l>{_esc(worst.message)}</td>"
            f"<td class='l dim'>[dq] {_esc(worst.key)}</td></tr>"
        )
    head = (
        "<tr><th>Run</th><th class=l>Flag</th><th class=l>Subruns</th>"
        "<th class=l>Worst case</th><th class=l>Limit set by</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def render_html(dq: NightDQ, images: dict[str, bytes]) -> str:
    """The report as one HTML string (``images``: name -> PNG bytes, embedded)."""
    night = dq.night.isoformat()
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>LST-1 data quality {night}</title><style>{CSS}</style></head><body>",
        f"<h1>LST-1 data quality, night {night}</h1>",
        f"<p class=dim>Generated {now} by osa-console from lstchain datacheck files "
        f"({dq.stats.files_read + dq.stats.files_cached} files). Rules and limits: "
        "docs/dq.md, config section [dq].</p>",
    ]
    for note in dq.notes:
        parts.append(f"<p class=note>⚠ {_esc(note)}</p>")
    if not dq.available:
        parts.append("</body></html>")
        return "\n".join(parts)
    flagged = len({f.run for f in dq.flags})
    parts += [
        f"<p><b>{len(dq.runs)}</b> runs, <b>{len(dq.subruns)}</b> subruns, "
        + (f"<span class=bad>{flagged} run(s) flagged</span>" if flagged else "no flag")
        + ".</p>",
        "<h2>Runs</h2>",
        _runs_table(dq),
        "<h2>Flags</h2>",
        _flags_table(dq.flags),
        "<h2>Cosmic rate over the night</h2>",
        _img(images["night"], "cosmic rate over the night"),
    ]
    for run in dq.run_numbers():
        parts.append(f'<h2 id="run{run}">Run {run:05d}</h2>')
        parts.append(_flags_table(dq.flags_for(run)))
        if f"run{run}" in images:
            parts.append(_img(images[f"run{run}"], f"run {run}"))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(dq: NightDQ, paths: NightPaths) -> Path:
    """Write the HTML report and its PNGs (atomically); return the HTML path."""
    folder = report_dir(paths)
    images: dict[str, bytes] = {}
    if dq.available:
        images["night"] = night_overview(dq)
        for run in dq.run_numbers():
            images[f"run{run}"] = run_figure(dq, run)
    for name, png in images.items():
        label = "night" if name == "night" else f"Run{int(name[3:]):05d}"
        with atomic_writer(folder / f"dq_{paths.folder}_{label}.png", "wb") as handle:
            handle.write(png)
    target = folder / report_name(paths)
    write_text_atomic(target, render_html(dq, images))
    return target
