"""``osa`` entry point: parses arguments, loads the config once, dispatches, maps errors.

Every expected failure is an ``OsaError`` and ends as one line on stderr with the exit code
of ``osa_core.errors.ExitCode``; so does any ``OSError`` (a filesystem that refuses: exit 6,
naming the path); anything else is a bug and keeps its traceback.
Sub-commands import their modules lazily so ``osa --help`` and a planning tick stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from osa_core.errors import ExitCode, OsaError, filesystem_error
from osa_core.fsio import SHARED_UMASK

# command -> (module, help). Each module exposes add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "sequencer": ("osa_core.cli.sequencer", "plan the night (and submit it unless told not to)"),
    "status": ("osa_core.cli.status", "per-sequence / per-subrun status of a night"),
    "resubmit": ("osa_core.cli.resubmit", "resubmit exactly the failed subruns"),
    "cancel": ("osa_core.cli.simple:cancel", "cancel the night's active jobs"),
    "give-up": ("osa_core.cli.simple:give_up", "give up subruns (with a reason)"),
    "journal": ("osa_core.cli.simple:journal", "the operator journal of a night"),
    "dq": ("osa_core.cli.dq", "data quality: datacheck figures, sparklines, flags, report"),
    "close": ("osa_core.cli.close", "close the night: merge, DL2, final tree, provenance"),
    "provenance": ("osa_core.cli.close:provenance", "where does this product come from?"),
    "console": ("osa_tui.cli:console", "the operator console (Textual)"),
    "serve": ("osa_tui.cli:serve", "the console in a browser (localhost by default)"),
    "config": ("osa_core.cli.config_cmd", "show or validate the configuration"),
    "campaign": ("osa_core.cli.campaign", "reprocessing campaigns: create, run, status"),
    "demo": ("osa_core.cli.demo", "build the demo night and process it end to end here"),
    "generate-night": ("osa_core.cli.generate", "write a synthetic night tree (tests, bench)"),
    "simulate-daq": ("osa_core.cli.simulate_daq", "write a night over time, as the DAQ does"),
    "live": ("osa_core.cli.live", "process a night while it is observed: a tick per change"),
}


def _function(target: str, verb: str) -> Callable[..., Any]:
    """``module`` -> module.add_arguments / module.run; ``module:name`` -> add_name/run_name."""
    module_name, _, name = target.partition(":")
    module = importlib.import_module(module_name)
    attribute = f"{verb}_{name}" if name else ("add_arguments" if verb == "add" else "run")
    function: Callable[..., Any] = getattr(module, attribute)
    return function


_VALUE_OPTIONS = {"-c", "--config", "--date"}


def requested_command(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (skipping global options and their values)."""
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        if token in _VALUE_OPTIONS:
            skip = True
        elif not token.startswith("-"):
            return token
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that command's arguments are built (its module is
    the only one imported: a cron tick does not pay for the console's imports)."""
    parser = argparse.ArgumentParser(
        prog="osa", description="LST-1 onsite analysis: plan, run, watch and close a night."
    )
    parser.add_argument(
        "-c",
        "--config",
        help="config TOML (else $OSA_CONFIG, else the installation's config/osa.toml)",
    )
    parser.add_argument(
        "--batch", action="store_true", help="one headless cron tick of a night (see docs/batch.md)"
    )
    parser.add_argument(
        "--date",
        dest="batch_date",
        metavar="YYYY-MM-DD",
        help="with --batch: the night (default: the night that started yesterday evening)",
    )
    parser.add_argument(
        "--json", dest="batch_json", action="store_true", help="with --batch: JSON output"
    )
    parser.add_argument(
        "--no-close",
        action="store_true",
        help="with --batch: do not close the night even when ready",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        command_parser.set_defaults(_module=module_name)
        if only is None or name == only:
            _function(module_name, "add")(command_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # What osa writes sets its own modes (osa_core.fsio); this umask also makes what others
    # create for us shareable by the night's group: SLURM's job logs (sbatch passes the
    # umask to the job) and the analysis tools' outputs.
    os.umask(SHARED_UMASK)
    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = requested_command(argv)
    parser = build_parser(only=wanted if wanted in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.batch:
        return _run_guarded(lambda: _batch(args))
    if not getattr(args, "command", None):
        parser.print_help()
        return ExitCode.BAD_INPUT
    return _run_guarded(lambda: int(_function(args._module, "run")(args) or 0))


def _batch(args: argparse.Namespace) -> int:
    from osa_core.cli.batch import run_batch

    return run_batch(args)


def _run_guarded(body: Callable[[], int | None]) -> int:
    try:
        return int(body() or 0)
    except OsaError as err:
        print(f"osa: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("osa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return ExitCode.OK
    except OSError as err:  # one not raised by osa_core.fsio: the path it names, if any
        failure = filesystem_error(err)
        print(f"osa: error: {failure}", file=sys.stderr)
        return failure.exit_code


if __name__ == "__main__":
    sys.exit(main())
