"""``osa console`` and ``osa serve``: the console in a terminal, or in a browser.

Textual is imported only when the console starts, so the ``osa`` CLI stays fast and the
engine never depends on it.
"""

from __future__ import annotations

import argparse
import shlex
import sys


def add_console(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-d",
        "--date",
        metavar="YYYY-MM-DD",
        help="night to open (default: the night that started last evening)",
    )
    parser.add_argument(
        "--read-only", action="store_true", help="watch only: every action is disabled"
    )
    parser.add_argument("--theme", help="theme name (themes/*.toml)")
    parser.add_argument(
        "--campaign",
        metavar="NAME",
        help="open on a reprocessing campaign: its nights, totals, throughput and ETA "
        "(enter opens a night, under the campaign's production id)",
    )


def _night(args: argparse.Namespace):
    from osa_core.paths import parse_night
    from osa_core.usecases.tick import default_night

    return parse_night(args.date) if args.date else default_night()


def build_app(args: argparse.Namespace):
    """The console for these arguments (not started). With ``--campaign``, the engine works
    on the campaign's own config (its production id): the nights opened from the campaign
    screen are the campaign's, not the nightly production's."""
    from osa_core.config import load_config
    from osa_core.errors import InputError
    from osa_tui.app import OsaApp
    from osa_tui.engine import Engine

    config = load_config(args.config)
    campaign = None
    if getattr(args, "campaign", None):
        from osa_core.campaign import load_campaign

        if args.date:
            raise InputError("--campaign and --date: choose one (enter opens a campaign night)")
        campaign = load_campaign(config, args.campaign)
        config = load_config(campaign.config_path)
    night = _night(args)  # with a campaign, replaced by the night opened with enter
    engine = Engine(config, read_only=args.read_only)
    return OsaApp(engine, night, theme=args.theme, campaign=campaign)


def run_console(args: argparse.Namespace) -> int:
    build_app(args).run()
    return 0


def add_serve(parser: argparse.ArgumentParser) -> None:
    add_console(parser)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default: localhost only; see docs/serve.md)",
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--prefix",
        metavar="PATH",
        default="",
        help="path under which a reverse proxy publishes it (e.g. /osa): the page's "
        "addresses and the token redirect use it (default: relative addresses)",
    )
    parser.add_argument(
        "--allow-origin",
        metavar="URL",
        action="append",
        default=[],
        help="also accept the console's websocket from this origin (e.g. "
        "https://proxy.site, for a proxy that rewrites Host); repeatable",
    )


def serve_command(args: argparse.Namespace) -> list[str]:
    """The ``osa console`` each browser tab runs (``--read-only`` included: the engine of
    that console then refuses every mutating action)."""
    command = [sys.executable, "-m", "osa_core.cli.main"]
    if args.config:
        command += ["--config", args.config]
    command += ["console"]
    if args.date:
        command += ["--date", args.date]
    if args.read_only:
        command.append("--read-only")
    if args.theme:
        command += ["--theme", args.theme]
    if args.campaign:
        command += ["--campaign", args.campaign]
    return command


def run_serve(args: argparse.Namespace) -> int:
    from osa_tui.serve import OsaServer, new_token

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: serving on {args.host}: anyone who reaches this port and has the token "
            "can act on the night; prefer localhost behind SSH (docs/serve.md)",
            file=sys.stderr,
        )
    title = "osa-console" + (" (read-only)" if args.read_only else "")
    server = OsaServer(
        shlex.join(serve_command(args)),
        token=new_token(),
        host=args.host,
        port=args.port,
        prefix=args.prefix,
        allow_origins=tuple(args.allow_origin),
        title=title,
    )
    server.serve()
    return 0
