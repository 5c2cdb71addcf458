"""The demo night: real LST-1 data where it exists, generated data where it does not.

Night 2020-02-18 under a folder of the user's choice: a DRS4 run and a PEDCALIB run
(generated, 4 streams), the real 50-event LST-1 run 2008 (fetched once from the package
registry into a cache, never committed), and two generated DATA runs. Plus what no tool
makes: RunSummary, drive log, neutral time-sampling and F-factor files, lstchain configs,
an offline astropy config, toy random-forest models for DL2 (labelled as toys) laid out as
the site's AllSky tree (two NSB tunings x two declination lines), a RunCatalog giving each
DATA run its pointing, and the demo's ``osa.toml`` (from config/demo.toml with
``base = "."``). Building is idempotent: what exists is kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from osa_core.config import DEFAULT_CONFIG, load_config
from osa_core.demo import auxiliary as aux
from osa_core.demo import r0_writer as rw
from osa_core.fsio import atomic_writer, write_text_atomic

NIGHT = dt.date(2020, 2, 18)
FOLDER = "20200218"
DEMO_TEMPLATE = DEFAULT_CONFIG.parent / "demo.toml"
UTC = dt.timezone.utc


#: Interleaved pedestals per generated DATA subrun: ``lstchain_find_tailcuts`` skips every
#: subrun with fewer than 100 and needs at least two usable subruns per run (with one, the
#: spread of the subrun values it divides by is 0 and it rejects the run).
TAILCUT_FINDER_MIN_PEDESTALS = 100
#: ``--statistics`` for the Cat-B calibration of the demo: pedestal and flat-field events per
#: calibration sample (production: 2500, i.e. 25 s of 100 Hz interleaved events). Samples
#: run on across the subruns of a run; a run with fewer events of either type writes no
#: calibration and the tool fails. With :data:`DATA_SUBRUN_FLATFIELDS` equal to it, every
#: generated subrun closes one Cat-B sample.
CAT_B_STATISTICS = 50
#: Composition of every generated DATA subrun: the showers DL1/DL2 are about (48, as
#: before), the pedestals the tail-cut finder needs, and one Cat-B sample of flat-fields
#: (an interleaved flat-field costs ~0.17 s in lstchain_data_r0_to_dl1, a pedestal ~0.09 s,
#: a shower ~0.015 s: the flat-fields are kept to what Cat-B needs).
DATA_SUBRUN_SHOWERS = 48
DATA_SUBRUN_PEDESTALS = TAILCUT_FINDER_MIN_PEDESTALS
DATA_SUBRUN_FLATFIELDS = CAT_B_STATISTICS
DATA_SUBRUN_EVENTS = DATA_SUBRUN_SHOWERS + DATA_SUBRUN_PEDESTALS + DATA_SUBRUN_FLATFIELDS
#: The toy AllSky tree (``[analysis] models_root``): two NSB tunings and two declination
#: lines, so that the per-run choice is visible. The finder puts the dark run 2009 (8/4,
#: +0.13 p.e./ns) at 0.14 and the moonlit 2010 (10/5, +0.46) at 0.50; the fallback run 2008
#: (no NSB measured) at the dark 0.14. The lines bracket the site latitude as the real
#: ones do (+22.76 and +34.76 deg).
TOY_NSB_LEVELS = (0.14, 0.50)
TOY_DEC_LINES = ("dec_2276", "dec_3476")


@dataclass(frozen=True)
class DemoRun:
    """One generated run of the demo night.

    ``pedestals``/``flatfields``: interleaved events per subrun (DATA runs only);
    ``nsb_rate_ghz``: night-sky background of a DATA run, p.e./ns per pixel.
    """

    run: int
    kind: str
    subruns: int
    events: int
    start: dt.datetime
    pedestals: int | None = None
    flatfields: int | None = None
    nsb_rate_ghz: float = 0.0


def demo_runs() -> list[DemoRun]:
    """The generated runs. The two DATA runs differ in sky brightness so that the tail-cut
    finder has something to decide: 2009 is a dark field (standard 8/4 cuts), 2010 a
    moonlit one (0.25 p.e./ns: 10/5 cuts)."""

    def data(run: int, subruns: int, start: dt.datetime, nsb_rate_ghz: float) -> DemoRun:
        return DemoRun(
            run=run,
            kind="DATA",
            subruns=subruns,
            events=DATA_SUBRUN_EVENTS,
            start=start,
            pedestals=DATA_SUBRUN_PEDESTALS,
            flatfields=DATA_SUBRUN_FLATFIELDS,
            nsb_rate_ghz=nsb_rate_ghz,
        )

    return [
        DemoRun(2005, "DRS4", 1, rw.MIN_DRS4_EVENTS, dt.datetime(2020, 2, 18, 20, 40, tzinfo=UTC)),
        DemoRun(2006, "PEDCALIB", 1, 100, dt.datetime(2020, 2, 18, 20, 50, tzinfo=UTC)),
        data(2009, 3, dt.datetime(2020, 2, 18, 21, 25, tzinfo=UTC), rw.DEFAULT_NSB_RATE_GHZ),
        data(2010, 2, dt.datetime(2020, 2, 18, 21, 45, tzinfo=UTC), 0.25),
    ]


REAL_RUN_START = dt.datetime(2020, 2, 18, 21, 2, 21, tzinfo=UTC)


def default_cache() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "osa-console"


def demo_config_text(template: Path = DEMO_TEMPLATE) -> str:
    """config/demo.toml, re-based on the demo folder itself."""
    lines = []
    for line in template.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("base ="):
            line = 'base = "."'
        lines.append(line)
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def output_to(log: Path) -> Iterator[None]:
    """Send this process's stdout/stderr (file descriptors, so C++ libraries too: the zfits
    writer and the tools are chatty) to ``log`` for the duration."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log, "ab") as handle:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def build_demo_night(
    base: Path, cache: Path | None = None, say: Callable[[str], None] = print
) -> Path:
    """Write the demo night under ``base``; return the path of its ``osa.toml``. The
    libraries' own chatter goes to ``config/demo-build.log``."""
    base = base.resolve()
    base.mkdir(parents=True, exist_ok=True)
    return _build(base, cache, say)


def _build(base: Path, cache: Path | None, say: Callable[[str], None]) -> Path:
    log = base / "config" / "demo-build.log"
    r0_dir = base / "R0" / FOLDER
    monitoring = base / "monitoring"
    aux.write_offline_astropy_config(base / "config" / "xdg")
    env = aux.tool_environment(base / "config" / "xdg")

    runs = demo_runs()
    for run in runs:
        for subrun in range(run.subruns):
            if not (r0_dir / rw.r0_file_name(run.run, subrun, 1)).exists():
                mix = (
                    f", {run.pedestals} pedestals + {run.flatfields} flat-fields interleaved"
                    if run.kind == "DATA"
                    else ""
                )
                say(
                    f"writing R0 run {run.run} subrun {subrun} ({run.kind}, {run.events} "
                    f"events{mix}, 4 streams)"
                )
                with output_to(log):
                    rw.write_r0_subrun(
                        r0_dir,
                        run.run,
                        subrun,
                        run.events,
                        run.kind,
                        run_start=run.start,
                        seed=7,
                        n_pedestals=run.pedestals,
                        n_flatfields=run.flatfields,
                        nsb_rate_ghz=run.nsb_rate_ghz,
                    )
    real_link = r0_dir / rw.r0_file_name(rw.REAL_RUN, 0, 1)
    if not real_link.exists():
        say(
            "fetching the real LST-1 run 2008 (50 events) from the protozfits source "
            "package (cached after the first time)"
        )
        rw.link_real_run(rw.fetch_real_lst_r0(cache or default_cache()), r0_dir)

    summary = monitoring / "RunSummary" / f"RunSummary_{FOLDER}.ecsv"
    if not summary.exists():
        rows = [
            aux.RunSummaryRow(
                r.run, r.subruns, r.kind, r.start, r0_dir / rw.r0_file_name(r.run, 0, 1)
            )
            for r in runs
        ]
        rows.append(aux.RunSummaryRow(rw.REAL_RUN, 1, "DATA", REAL_RUN_START, real_link))
        with output_to(log):
            aux.write_run_summary(summary, sorted(rows, key=lambda r: r.run_id), FOLDER)
    catalog = monitoring / "RunCatalog" / f"RunCatalog_{FOLDER}.ecsv"
    if not catalog.exists():
        _write_catalog(catalog)
    drive = monitoring / "DrivePositioning" / f"DrivePosition_log_{FOLDER}.txt"
    if not drive.exists():
        aux.write_drive_log(
            drive,
            dt.datetime(2020, 2, 18, 20, 30, tzinfo=UTC),
            dt.datetime(2020, 2, 18, 22, 30, tzinfo=UTC),
            azimuth_deg=aux.TOY_POINTING_AZ_DEG,
            zenith_deg=90.0 - aux.TOY_POINTING_ALT_DEG,
        )

    import lstchain  # heavy (it imports ctapipe): only when the demo night is built

    version = f"v{lstchain.__version__}"  # the onsite tools' own version folder (+ "pro")
    time_calibration = aux.time_calibration_path(base, FOLDER, version, 2006)
    if not time_calibration.exists():
        aux.write_time_calibration_file(time_calibration)
    systematics = aux.systematics_path(base, FOLDER, version)
    if not systematics.exists():
        aux.write_systematics_file(systematics)
    configs = base / "config"
    if not (configs / "lstchain_demo_analysis.json").exists():
        with output_to(log):
            aux.write_lstchain_configs(configs)
    models = base / "models" / "toy"
    if not (models / aux.TOY_MODELS_README).exists() or not list(models.glob("*.sav")):
        say("training toy random-forest models for DL2 (TOY MODELS, not for science)")
        with output_to(log):
            aux.train_toy_models(models, config=configs / "lstchain_demo_analysis.json", env=env)
    config_path = base / "osa.toml"
    write_text_atomic(config_path, demo_config_text())
    # the tree goes where the demo's own config says, named as it says (one source of truth)
    analysis = load_config(config_path, check_paths=False).analysis
    if analysis.models_root is None:
        raise ValueError(f"{DEMO_TEMPLATE}: the demo needs [analysis] models_root")
    aux.write_toy_allsky_tree(
        analysis.models_root, models, analysis.mc_prod, TOY_NSB_LEVELS, TOY_DEC_LINES
    )
    return config_path


#: What each DATA run pointed at (RunCatalog ``source_dec`` is the pointing declination the
#: DL2 models are chosen by). Sources high in the La Palma sky (latitude 28.76 deg) at the
#: runs' times: the Crab is what the real run 2008 observed (83 deg altitude); 1ES 0806+524
#: stands at 57 deg at 21:25 UTC and 1ES 0647+250 at 83 deg at 21:45 UTC. With the toy
#: lines of :data:`TOY_DEC_LINES` the Crab and 1ES 0647+250 (+22.0, +25.0) take dec_2276
#: and 1ES 0806+524 (+52.3) takes dec_3476.
CATALOG = (
    (2008, "Crab", 83.63308, 22.0145),
    (2009, "1ES 0806+524", 122.4546, 52.3162),
    (2010, "1ES 0647+250", 102.6938, 25.0499),
)


def _write_catalog(path: Path) -> None:
    from astropy.table import Table  # heavy (~0.4 s): only when the demo night is built

    table = Table(
        rows=list(CATALOG),
        names=["run_id", "source_name", "source_ra", "source_dec"],
    )
    with atomic_writer(path) as handle:
        table.write(handle, format="ascii.ecsv", delimiter=",")
