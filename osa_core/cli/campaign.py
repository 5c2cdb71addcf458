"""``osa campaign create|run|status``: reprocessing campaigns (see osa_core/campaign.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from osa_core.cli.common import config_of, console, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="campaign_command", required=True)
    create = sub.add_parser("create", help="define a campaign")
    create.add_argument("name")
    create.add_argument("--prod-id", required=True, help="production id of the new products")
    create.add_argument("--dates", type=Path, help="file with one night (YYYY-MM-DD) per line")
    create.add_argument("--from", dest="first", help="first night")
    create.add_argument("--to", dest="last", help="last night")
    create.add_argument(
        "--cap",
        type=int,
        default=2500,
        help="never more of our tasks pending than this (default 2500)",
    )
    create.add_argument("--window", help="start new nights only between HH:MM-HH:MM")
    for name, text in (
        ("run", "one resumable pass (for cron)"),
        ("status", "nights done / running / failed / waiting, throughput"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("name")
        p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    # lazy: `osa --help` and cron's `osa --batch` import every command's module
    from osa_core.campaign import campaign_status, create_campaign, load_campaign, run_campaign

    config = config_of(args)
    out = console()
    if args.campaign_command == "create":
        campaign = create_campaign(
            config,
            args.name,
            args.prod_id,
            dates_file=args.dates,
            first=args.first,
            last=args.last,
            cap=args.cap,
            window=args.window,
        )
        count = sum(1 for _ in campaign.nights())
        out.print(
            f"campaign {campaign.name}: {count} night(s), prod id {campaign.prod_id}, "
            f"cap {campaign.cap} pending; config {campaign.config_path}"
        )
        out.print(f"cron: osa -c {config.source} campaign run {campaign.name}")
        return 0
    campaign = load_campaign(config, args.name)
    if args.campaign_command == "run":
        report = run_campaign(config, campaign)
        if args.json:
            print_json(report.to_dict())
        else:
            out.print(
                f"ticked {len(report.ticked)}, started {len(report.started)}, closed "
                f"{len(report.closed)}"
                + (f"; stopped: {report.stopped_because}" if report.stopped_because else "")
            )
            for line in report.needs_operator:
                out.print(f"[yellow]needs an operator[/] {line}")
        return 3 if report.needs_operator else 0
    status = campaign_status(config, campaign)
    if args.json:
        print_json(status.to_dict())
        return 0
    counts = status.counts
    rate = f"{status.per_hour:.1f} nights/h" if status.per_hour else "-"
    eta = f"{status.eta_hours:.1f} h" if status.eta_hours is not None else "-"
    out.print(
        f"[bold]campaign {status.name}[/] (prod {status.prod_id}) · {status.total} "
        f"nights: {counts.get('done', 0)} done, {counts.get('running', 0)} running, "
        f"{counts.get('needs operator', 0)} need an operator, "
        f"{counts.get('waiting', 0)} waiting · {rate} · ETA {eta}"
    )
    for line in status.problems:
        out.print(f"  [yellow]{line}[/]")
    return 0
