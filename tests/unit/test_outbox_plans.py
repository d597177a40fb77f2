"""Every query the poller's scheduler and senders (and the console's health counts) run on a timer is
answered by an index: none scans the alerts or mail_outbox tables, which keep every page and mail ever
sent. The statements are collected as the real code runs them (sqlite3's trace callback) on a real
SQLite file with a page history, then each is put to EXPLAIN QUERY PLAN.
"""
from __future__ import annotations

import re
import threading
from datetime import timedelta

from apprise.decorators import notify

from console import status
from console.scheduler import Scheduler
from console.clock import FrozenClock
from console.intake.pipeline import Incoming, file_messages
from console.outbox import mail
from console.poller import sync_staff
from store import open_db, write
from store.times import iso
from tests.factories import T0, desk_config
from tests.factories import mail as a_mail
from tests.plan_helpers import grown_with_history, old_pages, plans

SENT: list[str] = []


@notify(on="planok")
def _ok(body, title, notify_type, *args, **kwargs):
    SENT.append(title)
    return True


STAFF = [{"handle": h, "name": h.title(), "role": "supervisor" if h == "ann" else "staff", "notify": [f"planok://{h}"]}
         for h in ("ann", "bob", "cy")]
SMTP = {"host": "127.0.0.1", "port": 9, "security": "none", "from": "Support <support@desk.example>"}
# The aliases the store's queries give the two tables.
TABLE = re.compile(r"\bSCAN (alerts|mail_outbox|a|b)\b")


def history(db, n: int) -> None:
    """n old pages, sent long ago, and n/10 old mails."""
    with write(db):
        db.execute("INSERT INTO tickets (id, class, received_at, due_at, created_at, updated_at, status)"
                   " VALUES (900000, 'III', ?, ?, ?, ?, 'resolved')", [iso(T0 - timedelta(days=90))] * 4)
        old = iso(T0 - timedelta(days=60))
        old_pages(db, n, ["bob"], key="old", days=60)
        db.execute("INSERT INTO messages (id, ticket_id, kind, sha256, dedup_key, raw, size, received_at, stored_at,"
                   " source) VALUES (900000, 900000, 'new', 'x', 'oldmsg', x'00', 1, ?, ?, 'test')", [old, old])
        db.conn.executemany(
            "INSERT INTO messages (id, ticket_id, kind, sha256, dedup_key, raw, size, received_at, stored_at, source)"
            " VALUES (?, 900000, 'outgoing', 'x', ?, x'00', 1, ?, ?, 'test')",
            [(900001 + i, f"out{i}", old, old) for i in range(n // 10)])
        db.conn.executemany(
            "INSERT INTO mail_outbox (message_row, ticket_id, purpose, actor, mail_from, to_addr, state, attempts,"
            " created_at, sent_at, updated_at) VALUES (?, 900000, 'reply', 'bob', 'a@x', 'b@y', 'sent', 1, ?, ?, ?)",
            [(900001 + i, old, old, old) for i in range(n // 10)])


def test_timer_queries_use_indexes_not_scans(tmp_path):
    cfg = desk_config(tmp_path, staff=STAFF, smtp=SMTP)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    history(db, 3000)
    clock = FrozenClock(T0)
    file_messages(db, cfg, [Incoming(raw=a_mail(to="urgent@desk.example", subject="down"), received_at=T0)], T0)

    statements: list[str] = []
    sched = Scheduler(cfg, clock, threading.Event(), workers=2)
    sender = mail.MailSender(cfg, clock, threading.Event())
    for conn in (sched.db.conn, sched.pages.db.conn, sender.db.conn, db.conn):
        conn.set_trace_callback(statements.append)
    try:
        sched.start_up()
        sender.start_up()
        for _ in range(3):  # arrival pages, then (20 min on) the escalation and the breach
            sched.cycle()
            sched.pages.cycle()
            sched.pages.cycle()
            sched.seconds_until_next()
            sched.pages.seconds_until_next()
            sender.cycle()
            sender.seconds_until_next()
            status.health_inputs(db, clock.now(), sent_total=False)  # as the console does
            clock.advance(timedelta(minutes=20))
        from store import outbox, outgoing

        outbox.health_counts(db, clock.now(), sent_total=False)
        outgoing.health_counts(db, clock.now())
        outgoing.failures_since(db, clock.now())
        with write(db):
            outbox.expire_orphans(db, clock.now())
            outgoing.expire_orphans(db, clock.now())
    finally:
        for conn in (sched.db.conn, sched.pages.db.conn, sender.db.conn, db.conn):
            conn.set_trace_callback(None)
        sched.close()
        sender.close()
    assert SENT, "the pages went out (the queries ran for real)"
    found = plans(db, statements)
    assert any("FROM alerts" in s for s in found) and any("mail_outbox" in s for s in found)
    scans = {sql: plan for sql, plan in found.items() if any(TABLE.search(line) for line in plan)}
    assert scans == {}
    assert any("max(" in sql for sql in found), "the bundling reads ran"
    assert grown_with_history(db, found, lambda: old_pages(db, 30_000, [s["handle"] for s in STAFF])) == {}
