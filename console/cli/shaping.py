"""Shaping tickets on the command line: `merge TARGET TICKET... [--yes]`, `unmerge TICKET`,
`split TICKET MESSAGE [--later]` (console.shaping does the work, with the console's checks)."""
from __future__ import annotations

import argparse

from console.cli import common
from console.cli.errors import UsageError


def _setup(args: argparse.Namespace):  # noqa: ANN202 - (cfg, db, actor, now)
    from console.actions import sync_staff

    cfg = common.setup(args)
    sync_staff(cfg)
    return cfg, common.db(cfg), common.actor(args, cfg), common.clock().now()


def merge(args: argparse.Namespace) -> int:
    from console import shaping

    target = common.ticket_id(args.target)
    ids = [common.ticket_id(t) for t in args.tickets]
    cfg, db, actor, now = _setup(args)
    t = shaping.merge(db, cfg, target, ids, actor, now, confirmed=args.yes)
    print(f"{', '.join(f'#{i}' for i in dict.fromkeys(ids))} merged into #{target} (Class {t['class']}, "
          f"{t['status']}, due {common.local(cfg, t['due_at'])}); undo with: unmerge TICKET")
    return 0


def unmerge(args: argparse.Namespace) -> int:
    from console import shaping

    tid = common.ticket_id(args.ticket)
    cfg, db, actor, now = _setup(args)
    t = shaping.unmerge(db, cfg, tid, actor, now)
    print(f"#{tid} unmerged: Class {t['class']}, {t['status']}, due {common.local(cfg, t['due_at'])}")
    return 0


def split(args: argparse.Namespace) -> int:
    from console import shaping

    tid = common.ticket_id(args.ticket)
    text = args.message.lstrip("#")
    if not text.isdigit():
        raise UsageError(f"not a message id: {args.message!r} (a message `id` from `show {tid} --json`)")
    cfg, db, actor, now = _setup(args)
    t = shaping.split(db, cfg, tid, int(text), actor, now, later=args.later)
    print(f"#{t['id']} split from #{tid}: Class {t['class']}, due {common.local(cfg, t['due_at'])}")
    return 0
