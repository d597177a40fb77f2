"""Reading the desk: `tickets`, `show`, `unfiled` and `raw`."""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from console.cli import common
from console.cli.errors import CommandFailed

if TYPE_CHECKING:
    from console.config import Config


def tickets(args: argparse.Namespace) -> int:
    from console.safe_text import clean_line
    from console.views import ticket_public
    from store import tickets as store_tickets

    cfg = common.setup(args)
    now = common.clock().now()
    rows = [ticket_public(r, now) for r in store_tickets.list_tickets(common.db(cfg), open_only=args.open,
                                                                      cls=args.cls)]
    if args.json:
        common.print_json(rows)
        return 0
    if not rows:
        print("no tickets")
        return 0
    print(f"{'ID':>5}  {'CLASS':5} {'STATUS':12} {'DUE':16} {'LEFT':>8}  {'ASSIGNEE':10} {'REQUESTER':24} SUBJECT")
    for t in rows:
        flags = ("!" if t["breached"] else "") + ("?" if t["needs_details"] else "") + ("P" if t["panic_mode"] else "")
        print(f"{t['id']:>5}  {t['class']:5} {t['status']:12} {common.local(cfg, t['due_at']):16} "
              f"{common.left(t['seconds_left']):>8}  {(t['assignee'] or '-')[:10]:10} "
              f"{clean_line(t['requester'], 24):24} {flags + ' ' if flags else ''}{clean_line(t['subject'], 60)}")
    return 0


def show(args: argparse.Namespace) -> int:
    from console.cli.replies import with_delivery
    from console.views import message_public, ticket_public
    from store import audit, messages, outbox, tickets as store_tickets

    cfg = common.setup(args)
    db = common.db(cfg)
    tid = common.ticket_id(args.ticket)
    row = store_tickets.list_tickets(db, ids=[tid])
    if not row:
        raise CommandFailed(f"no ticket #{tid}")
    t = ticket_public(row[0], common.clock().now())
    t["messages"] = with_delivery(db, [message_public(m) for m in messages.messages_for(db, tid)])
    t["events"] = audit.events_for(db, tid)
    t["alerts"] = outbox.list_alerts(db, ticket_id=tid)
    if args.json:
        common.print_json(t)
    else:
        _print_ticket(cfg, t)
    return 0


def _print_ticket(cfg: Config, t: dict) -> None:
    from console.cli.replies import print_delivery

    msgs = t["messages"]
    print(f"#{t['id']}  Class {t['class']}  {t['status']}  {'BREACHED ' if t['breached'] else ''}"
          f"due {common.local(cfg, t['due_at'])} ({common.left(t['seconds_left'])})")
    print(f"Subject:   {msgs[0]['subject'] if msgs else ''}")
    print(f"Requester: {t['requester']}   Assignee: {t['assignee'] or '-'}")
    flags = [f for f in ("needs_details", "panic_mode", "quarantined") if t[f]]
    if flags:
        print("Flags:     " + ", ".join(flags))
    for m in msgs:
        print(f"\n--- message {m['id']}: {m['kind']} from {m['from_name']} <{m['from_addr']}> "
              f"at {common.local(cfg, m['received_at'])}")
        if m["defects"]:
            print("    defects: " + "; ".join(map(str, m["defects"]))[:300])
        print(m["body_text"][:4000])
    print("\nHistory:")
    for e in t["events"]:
        print(f"  {common.local(cfg, e['at'])}  {e['actor']:10} {e['kind']}  {json.dumps(e['detail'])[:120]}")
    if t["alerts"]:
        print("\nPages:")
        for a in t["alerts"]:
            how = (f"  carried by page {a['carried_by']}" if a.get("carried_by") else
                   f"  {'held by' if a['state'] == 'silenced' else 'released by'} silence {a['silenced_by']}"
                   if a.get("silenced_by") else "")
            print(f"  {a['id']:>5} {a['state']:9} {a['step']:10} -> {a['target']}{how}")
    print_delivery(msgs, lambda at: common.local(cfg, at))


def unfiled(args: argparse.Namespace) -> int:
    from console.views import message_public
    from store import messages

    cfg = common.setup(args)
    rows = [message_public(m) for m in messages.unfiled_messages(common.db(cfg))]
    if args.json:
        common.print_json(rows)
        return 0
    if not rows:
        print("no unfiled mail")
    for m in rows:
        print(f"{m['id']:>6}  {m['kind']:9} {common.local(cfg, m['received_at'])}  {m['from_addr'][:30]:30} "
              f"{m['subject'][:60]}")
    return 0


def raw(args: argparse.Namespace) -> int:
    from console.safe_text import clean_block
    from store import messages

    cfg = common.setup(args)
    data = messages.raw_message(common.db(cfg), args.message)
    if not data:
        raise CommandFailed(f"no message {args.message}")
    if sys.stdout.isatty():
        # Mail is untrusted: on a terminal, show it with control sequences removed (pipe it for the bytes).
        print(clean_block(data.decode("utf-8", "replace")))
    else:
        sys.stdout.buffer.write(data)
    return 0
