"""`silence add|list|end`: hold the pages of a sender, a domain or a subject for a while (supervisors)."""
from __future__ import annotations

import argparse

from console.cli import common
from console.cli.errors import UsageError


def add(args: argparse.Namespace) -> int:
    from console import policy as pol, silencing
    from console.actions import sync_staff

    cfg = common.setup(args)
    sync_staff(cfg)
    kind, pattern = next((k, v) for k, v in (("sender", args.sender), ("domain", args.domain),
                                             ("subject", args.subject)) if v is not None)
    try:
        length = pol.parse_duration(args.length)
    except ValueError as exc:
        raise UsageError(f"--for: {exc}") from None
    s = silencing.add(common.db(cfg), cfg, kind=kind, pattern=pattern, length=length, reason=args.reason,
                      actor=common.actor(args, cfg), now=common.clock().now())
    print(f"silence {s['id']}: pages for {kind} {s['pattern']} held until {common.local(cfg, s['ends_at'])}"
          f" (end it early: support-console silence end {s['id']})")
    return 0


def listing(args: argparse.Namespace) -> int:
    from store import silences

    cfg = common.setup(args)
    rows = silences.listing(common.db(cfg), common.clock().now())
    if args.json:
        common.print_json(rows)
        return 0
    if not rows:
        print("no silences")
        return 0
    from console.safe_text import clean_line

    for s in rows:
        when = (f"until {common.local(cfg, s['ends_at'])}" if s["active"]
                else f"ended {common.local(cfg, s['ended_at'] or s['ends_at'])}")
        print(f"{s['id']:>4} {'active' if s['active'] else 'ended ':6} {s['kind']:7} "
              f"{clean_line(s['pattern'], 50):30} {when}  held {s['held']}  by {s['created_by']}: "
              f"{clean_line(s['reason'], 80)}")
    return 0


def end(args: argparse.Namespace) -> int:
    from console import silencing
    from console.actions import sync_staff

    cfg = common.setup(args)
    sync_staff(cfg)
    s, released = silencing.end(common.db(cfg), cfg, args.id, common.actor(args, cfg), common.clock().now())
    print(f"silence {s['id']} ended; {released} held page(s) of unacknowledged tickets go out now,"
          " one page per person")
    return 0
