"""The queries that silences, bursts and stand-down bundles add to every claim (console/outbox/pages.py,
console/outbox/silences.py) are answered by indexes too: none scans the alerts table, which keeps every
page ever sent. The statements are collected as the real scheduler and pages sender run them (sqlite3's
trace callback) on a real SQLite file with a page history, as in test_outbox_plans."""
from __future__ import annotations

import threading
from datetime import timedelta

from console import actions, silencing
from console.scheduler import Scheduler
from console.clock import FrozenClock
from console.intake.pipeline import Incoming, file_messages
from console.poller import sync_staff
from store import open_db, outbox
from tests.factories import T0, desk_config
from tests.factories import mail as a_mail
from tests.unit.test_outbox_plans import SENT, SMTP, STAFF, TABLE, history, plans


def test_silence_burst_and_stand_down_queries_use_indexes(tmp_path):
    cfg = desk_config(tmp_path, staff=STAFF, smtp=SMTP)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    history(db, 3000)
    clock = FrozenClock(T0)
    silence = silencing.add(db, cfg, kind="domain", pattern="quiet.example", length=timedelta(hours=1),
                            reason="planned work", actor="ann", now=T0)
    senders = [f"ops@c{i}.example" for i in range(5)] + ["a@quiet.example", "b@quiet.example"]
    filed = file_messages(db, cfg, [Incoming(raw=a_mail(to="urgent@desk.example", subject=f"down {i}", frm=frm),
                                             received_at=T0) for i, frm in enumerate(senders)], T0)
    statements: list[str] = []
    sched = Scheduler(cfg, clock, threading.Event(), workers=2)
    for conn in (sched.db.conn, sched.pages.db.conn, db.conn):
        conn.set_trace_callback(statements.append)
    try:
        sched.start_up()
        for _ in range(3):
            sched.cycle()
            sched.pages.drain(30)
        for f in filed[:3]:  # stand-downs, the first at once, the rest held for the window
            actions.acknowledge(db, cfg, f.ticket_id, "bob", clock.now())
        for _ in range(3):
            sched.cycle()
            sched.pages.drain(30)
        clock.advance(timedelta(minutes=3))
        silencing.end(db, cfg, silence["id"], "ann", clock.now())
        for _ in range(3):
            sched.cycle()
            sched.pages.drain(30)
    finally:
        for conn in (sched.db.conn, sched.pages.db.conn, db.conn):
            conn.set_trace_callback(None)
        sched.close()
    assert SENT
    states = {r["state"] for r in outbox.list_alerts(db) if r["ticket_id"] != 900000}
    assert {"bundled", "sent"} <= states  # the burst and the release went through these queries for real
    released = [r for r in outbox.list_alerts(db) if r["silenced_by"] == silence["id"]]
    assert released and {r["state"] for r in released} <= {"sent", "bundled"}
    found = plans(db, statements)
    for words in ("silenced", "count(DISTINCT", "state = 'bundled'", "SELECT id, ticket_id, title FROM alerts",
                  "SELECT max(updated_at) FROM alerts"):
        assert any(words in sql for sql in found), words
    scans = {sql: plan for sql, plan in found.items() if any(TABLE.search(line) for line in plan)}
    assert scans == {}
