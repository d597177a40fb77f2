"""The console's actions on the command line, with the same permission checks: `ack`, `take`, `assign`,
`reclassify`, `resolve`, `reopen`, and the page outbox (`alerts`, `alerts --resend`)."""
from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from console.cli import common

if TYPE_CHECKING:
    from store.db import Database

    from console.config import Config
    from console.identity import Actor


class Acting(NamedTuple):
    cfg: Config
    db: Database
    ticket_id: int
    actor: Actor
    now: datetime


def _acting(args: argparse.Namespace) -> Acting:
    from console.actions import sync_staff

    cfg = common.setup(args)
    sync_staff(cfg)
    db = common.db(cfg)
    tid = common.ticket_id(args.ticket)
    return Acting(cfg, db, tid, common.actor(args, cfg), common.clock().now())


def ack(args: argparse.Namespace) -> int:
    from console import actions

    a = _acting(args)
    actions.acknowledge(a.db, a.cfg, a.ticket_id, a.actor, a.now)
    print(f"#{a.ticket_id} acknowledged by {a.actor.recorded}; pages stopped")
    return 0


def take(args: argparse.Namespace) -> int:
    from console import actions

    a = _acting(args)
    actions.take(a.db, a.cfg, a.ticket_id, a.actor, a.now)
    print(f"#{a.ticket_id} is now assigned to {a.actor}")
    return 0


def assign(args: argparse.Namespace) -> int:
    from console import actions

    a = _acting(args)
    actions.assign(a.db, a.cfg, a.ticket_id, args.handle, a.actor, a.now)
    print(f"#{a.ticket_id} assigned to {args.handle}")
    return 0


def reclassify(args: argparse.Namespace) -> int:
    from console import actions

    a = _acting(args)
    t = actions.reclassify(a.db, a.cfg, a.ticket_id, args.cls.upper(), a.actor, a.now, reason=args.reason,
                           panic=args.panic)
    print(f"#{a.ticket_id} is now Class {t['class']}, due {common.local(a.cfg, t['due_at'])}"
          + (" (panic mode recorded)" if args.panic else ""))
    return 0


def resolve(args: argparse.Namespace) -> int:
    from console import actions

    a = _acting(args)
    actions.resolve(a.db, a.cfg, a.ticket_id, a.actor, a.now, note=args.note)
    print(f"#{a.ticket_id} resolved")
    return 0


def reopen(args: argparse.Namespace) -> int:
    from console import actions

    a = _acting(args)
    t = actions.reopen(a.db, a.cfg, a.ticket_id, a.actor, a.now)
    print(f"#{a.ticket_id} reopened ({t['status']})")
    return 0


def alerts(args: argparse.Namespace) -> int:
    from store import outbox

    cfg = common.setup(args)
    db = common.db(cfg)
    if args.resend is not None:
        return _resend(args, cfg, db)
    rows = outbox.list_alerts(db, limit=500)
    if args.json:
        common.print_json(rows)
        return 0
    counts = outbox.state_counts(db)
    print("outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty"))
    for a in rows:
        res = "; ".join(f"{r['service']}={r['status']}" for r in a["results"][-3:])
        print(f"{a['id']:>5} {a['state']:9} #{a['ticket_id'] or '-':<5} {a['step']:10} -> {a['target']:10} "
              f"tries {a['attempts']:<3} {res}{'  ' + a['last_error'] if a['last_error'] else ''}{_why(a)}")
    return 0


def _why(a: dict) -> str:
    """What carried or held a page: a bundle's page, or a silence (held, or released when it ended)."""
    if a.get("carried_by"):
        return f"  carried by page {a['carried_by']}"
    if a.get("silenced_by"):
        return f"  {'held by' if a['state'] == 'silenced' else 'released by'} silence {a['silenced_by']}"
    return ""


def _resend(args: argparse.Namespace, cfg: Config, db: Database) -> int:
    from console import actions

    actor = common.actor(args, cfg)
    actions.sync_staff(cfg)
    actions.resend_page(db, cfg, args.resend, actor, common.clock().now())
    print(f"alert {args.resend} queued to be sent again")
    return 0
