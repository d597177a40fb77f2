"""`report sla`: is the promise kept? The SLA report for a period, in the desk's time zone."""
from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from console.cli import common
from console.cli.errors import UsageError

if TYPE_CHECKING:
    from console.config import Config
    from console.reports.sla import Period


def period_of(args: argparse.Namespace, cfg: Config, now: datetime) -> Period:
    from console.reports import sla

    if args.week and (args.date_from or args.date_to):
        raise UsageError("give --week or --from/--to, not both")
    if args.week:
        return sla.week_period(args.week, cfg.timezone)
    if args.date_from or args.date_to:
        if not (args.date_from and args.date_to):
            raise UsageError("--from and --to go together (both days are included)")
        return sla.dates_period(args.date_from, args.date_to, cfg.timezone)
    return sla.last_week(now, cfg.timezone)


def report(args: argparse.Namespace) -> int:
    if args.which != "sla":  # the panic report lives with the commands that load the pager's code
        from console.cli import checks

        return checks.report(args)
    return sla(args)


def sla(args: argparse.Namespace) -> int:
    from console.reports import render, sla as sla_report

    cfg = common.setup(args)
    now = common.clock().now()
    period = period_of(args, cfg, now)
    report = sla_report.build(common.db(cfg), period, cfg.sla, now, by=args.by)
    if args.json:
        out = render.json_text(report)
    elif args.csv:
        out = render.csv_text(report)
    elif args.html:
        out = render.html_text(report)
    else:
        out = render.text(report)
    sys.stdout.write(out)
    return 0
