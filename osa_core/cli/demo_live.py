"""``osa demo --live``: the demo night written over time while ``osa live`` processes it.

The night is built as ``osa demo`` builds it, set aside, and replayed by the DAQ simulator
(``osa_core.demo.replay``) in a thread of this process; ``osa live`` runs beside it as its
own process (as it runs on site), and the console (``osa console``, a process too: the
engine's CLI never imports Textual) shows the subruns going from awaited to done. Quitting
the console stops both. With ``--no-console`` it waits for the night to close instead.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from rich.console import Console

from osa_core.errors import InputError

#: what the replayed night's configuration changes in the demo's (docs/arrival.md)
LIVE_KEYS = {
    "night": {
        "live": True,
        "live_poll_seconds": 5.0,
        "end_of_observation": ["runsummary_complete"],
    },
    "console": {"refresh_seconds": 2.0},
}


def live_config(config_path: Path) -> Path:
    """``osa-live.toml`` beside the demo's ``osa.toml``: the same night, processed live."""
    import tomli_w
    import tomllib  # Python >= 3.11 (the demo needs lstchain, which needs it too)

    from osa_core.fsio import write_text_atomic

    data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    for table, keys in LIVE_KEYS.items():
        data.setdefault(table, {}).update(keys)
    target = config_path.with_name("osa-live.toml")
    write_text_atomic(target, tomli_w.dumps(data))
    return target


def osa_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "osa_core.cli.main", "--config", str(config), *args]


def run_live(args: argparse.Namespace, out: Console) -> int:
    from osa_core.config import load_config
    from osa_core.demo.night import NIGHT, build_demo_night
    from osa_core.demo.replay import demo_replay, stage_demo_night
    from osa_core.paths import NightPaths

    if not args.pace > 0:
        raise InputError(f"--pace: must be positive, got {args.pace}")
    base: Path = args.dir if args.dir != Path("osa-demo") else Path("osa-demo-live")
    if base.exists():
        shutil.rmtree(base)  # a replay starts from an empty night
    started = time.monotonic()
    out.print(f"[bold]osa demo --live[/]: night {NIGHT} under {base.resolve()}")
    config_path = build_demo_night(base, args.cache, say=lambda text: out.print(f"  · {text}"))
    live_path = live_config(config_path)
    config = load_config(live_path, check_paths=False)
    paths = NightPaths(config, NIGHT)
    staged = stage_demo_night(base, paths)
    events = base / "daq.log"
    out.print(
        f"  · replaying {len(staged.spec.runs())} runs at {args.pace:g} s per subrun "
        f"(log {events}); `osa live` log {base / 'live.log'}"
    )

    def log_event(event: object) -> None:
        with events.open("a", encoding="utf-8") as handle:
            handle.write(f"{time.monotonic() - started:8.1f} s {event}\n")

    simulator = demo_replay(staged, paths, args.pace, on_event=log_event)
    with (base / "live.log").open("ab") as log:
        daemon = subprocess.Popen(
            osa_command(live_path, "live", "--date", NIGHT.isoformat()),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    daq = threading.Thread(target=simulator.run, name="daq", daemon=True)
    daq.start()
    try:
        if args.no_console:
            daemon.wait(timeout=args.timeout)
        else:
            subprocess.run(osa_command(live_path, "console", "--date", NIGHT.isoformat()))
    except subprocess.TimeoutExpired:
        out.print(f"[bold red]not closed after {args.timeout:.0f} s[/]")
    finally:
        if daemon.poll() is None:
            daemon.terminate()
            daemon.wait(timeout=30)
    elapsed = (time.monotonic() - started) / 60
    if paths.night_finished.exists():
        out.print(f"[bold green]live demo night processed and closed in {elapsed:.1f} min[/]")
        return 0
    out.print(
        f"live demo stopped after {elapsed:.1f} min, the night not closed "
        f"({'the DAQ still writing' if daq.is_alive() else 'the DAQ done'}): "
        f"osa -c {live_path} status --date {NIGHT}"
    )
    return 0 if not args.no_console else 1
