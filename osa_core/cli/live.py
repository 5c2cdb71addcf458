"""``osa live``: tick a night on every change while the telescope observes (docs/arrival.md).

Prints the tick lines as ``osa --batch`` does, and a summary at the end; exits 0 once the
night is closed, or on Ctrl-C / SIGTERM (a tick's problem is printed, and the next change
ticks again: a live night is never abandoned for one).
"""

from __future__ import annotations

import argparse
import signal
import threading

from osa_core.cli.common import add_date, config_of, night_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_date(parser)


def run(args: argparse.Namespace) -> int:
    from osa_core.usecases.live import live_loop
    from osa_core.usecases.tick import TickReport

    config = config_of(args)
    night = night_of(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    previous: list[str] = []

    def show(report: TickReport) -> None:
        """The tick's lines, unless they say what the previous tick said (a quiet night
        ticks every poll: its log should not repeat itself 120 times an hour)."""
        said = [line.split(" ", 2)[-1] for line in report.lines]  # without time and night
        if said != previous:
            for line in report.lines:
                print(line, flush=True)
        previous[:] = said

    try:
        stats = live_loop(config, night, stop=stop, report=show)
    except KeyboardInterrupt:
        return 0
    cost = sorted(stats.seconds)
    median = cost[len(cost) // 2] if cost else 0.0
    print(
        f"live: {stats.ticks} ticks ({stats.by_event} on file events, {stats.by_poll} on the "
        f"poll), median {median * 1000:.0f} ms",
        flush=True,
    )
    return 0
