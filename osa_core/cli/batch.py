"""The ``osa --batch`` face: log lines for the cron mail, or ``--json``."""

from __future__ import annotations

import argparse
import json
import sys

from osa_core.config import load_config
from osa_core.errors import OsaError, filesystem_error
from osa_core.paths import parse_night
from osa_core.usecases.tick import default_night, tick


def run_batch(args: argparse.Namespace) -> int:
    night = parse_night(args.batch_date) if args.batch_date else default_night()
    try:
        config = load_config(args.config)
        report = tick(config, night, auto_close=not args.no_close)
    except (OsaError, OSError) as caught:
        # an OSError not raised by osa_core.fsio: one line too, exit 6 (docs/batch.md)
        err = caught if isinstance(caught, OsaError) else filesystem_error(caught)
        if args.batch_json:
            json.dump(
                {"night": night.isoformat(), "exit_code": err.exit_code, "error": str(err)},
                sys.stdout,
            )
            sys.stdout.write("\n")
        print(f"osa --batch {night}: {type(err).__name__}: {err}", file=sys.stderr)
        return err.exit_code
    if args.batch_json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for line in report.lines:
            print(line)
    return report.exit_code
