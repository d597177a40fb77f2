"""The queries that silences, bursts and stand-down bundles add to every claim (console/outbox/pages.py,
console/outbox/silences.py) are answered by indexes too: none scans the alerts table, which keeps every
page ever sent. The statements are collected as the real scheduler and pages sender run them (sqlite3's
trace callback) on a real SQLite file with a page history, as test_outbox_plans does (tests/plan_helpers.py)."""
from __future__ import annotations

import re
import threading
from datetime import timedelta

from apprise.decorators import notify

from console import actions, silencing
from console.scheduler import Scheduler
from console.clock import FrozenClock
from console.intake.pipeline import Incoming, file_messages
from console.poller import sync_staff
from store import open_db, outbox, write
from store.times import iso
from tests.factories import T0, desk_config
from tests.factories import mail as a_mail
from tests.plan_helpers import grown_with_history, old_pages, plans

SENT: list[str] = []


@notify(on="silenceplan")
def _ok(body, title, notify_type, *args, **kwargs):
    SENT.append(title)
    return True


STAFF = [{"handle": h, "name": h.title(), "role": "supervisor" if h == "ann" else "staff",
          "notify": [f"silenceplan://{h}"]} for h in ("ann", "bob", "cy")]
SMTP = {"host": "127.0.0.1", "port": 9, "security": "none", "from": "Support <support@desk.example>"}
TABLE = re.compile(r"\bSCAN (alerts|a|b)\b")  # the aliases the store's queries give the table


def history(db, n: int) -> None:
    """n old pages, sent long ago, of one old resolved ticket."""
    with write(db):
        db.execute("INSERT INTO tickets (id, class, received_at, due_at, created_at, updated_at, status)"
                   " VALUES (900000, 'III', ?, ?, ?, ?, 'resolved')", [iso(T0 - timedelta(days=90))] * 4)
    old_pages(db, n, ["bob"], key="old", days=60)


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
    found = plans(db, statements, "alerts")
    for words in ("silenced", "count(DISTINCT", "state = 'bundled'", "SELECT id, ticket_id, title FROM alerts",
                  "SELECT max(updated_at) FROM alerts"):
        assert any(words in sql for sql in found), words
    scans = {sql: plan for sql, plan in found.items() if any(TABLE.search(line) for line in plan)}
    assert scans == {}
    assert grown_with_history(db, found, lambda: old_pages(db, 30_000, [s["handle"] for s in STAFF])) == {}
