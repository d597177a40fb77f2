"""Fixtures for the console tests: a seeded SQLite file, a frozen clock, an app factory."""
from __future__ import annotations

import asyncio
import inspect
from datetime import datetime, timedelta, UTC

import pytest

import store
from console import policy as pol
from console.clock import FrozenClock
from console.config import from_dict
from store import audit, heartbeat, messages, outbox, staff, tickets



@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests with asyncio.run (no async plugin needed; Pilot is asyncio)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**args))
        return True
    return None


NOW = datetime(2026, 1, 5, 17, 0, 0, tzinfo=UTC)  # Monday 10:00 in Phoenix

CFG = {
    "timezone": "America/Phoenix",
    "routing": {"urgent": ["urgent@example.com"], "support": ["support@example.com"]},
    "staff": [
        {"handle": "ann", "name": "Ann Example", "role": "supervisor", "notify": ["json://127.0.0.1:9/ann"]},
        {"handle": "bob", "name": "Bob Baker", "role": "staff"},
        {"handle": "cy", "name": "Cy Young", "role": "staff"},
        {"handle": "dee", "name": "Dee Dee", "role": "staff"},
    ],
    "oncall": {"rotation": ["ann", "bob", "cy"], "handoff": "mon 09:00", "start": "2026-01-05"},
}

# (class, received seconds ago, subject, requester, assignee, acknowledged)
SEED = [
    ("III", 870, "Checkout is down for all EU customers", "ops@bigshop.example", None, False),
    ("III", 1200, "Payment API returns 500 on every call", "cto@fintech.example", None, False),
    ("II", 7200, "Invoice export stuck since this morning", "accounts@acme.example", "bob", False),
    ("I", 86400, "Question about the CSV import format", "lee@small.example", "cy", False),
    ("I", 10800, "Feature request: dark mode", "kim@studio.example", None, False),
    ("II", 3600, "Password reset mails arrive late", "it@school.example", "ann", True),
]


def message_fields(subject: str, sender: str, body: str, **kw) -> dict:
    return {"message_id": kw.get("message_id"), "from_addr": sender, "from_name": kw.get("name", ""),
            "subject": subject, "body_text": body, "recipients": ["support@example.com"],
            "in_reply_to": kw.get("in_reply_to"), "defects": kw.get("defects", [])}


def add_ticket(db, cfg, cls, ago, subject, requester, assignee=None, acked=False, now=NOW, body=None,
               received=None) -> int:
    rec = received or (now - timedelta(seconds=ago))
    with store.write(db):
        tid = tickets.create_ticket(db, cls=cls, class_reason=f"mail to {'urgent' if cls == 'III' else 'support'}@",
                                    subject=subject, requester=requester, requester_name="", received_at=rec,
                                    due_at=pol.deadline(cls, rec, cfg.sla), next_step_at=None, now=now)
        raw = f"Subject: {subject}\r\n\r\n{body or subject}".encode("utf-8", "surrogateescape")
        fields = message_fields(subject, requester, body or f"Hello,\n\n{subject}.\n")
        messages.insert_message(db, raw=raw, raw_sha256=messages.sha256(raw + str(tid).encode()), ticket_id=tid,
                                kind="new", fields=fields, received_at=rec, now=now, source="test")
        audit.add_event(db, tid, "created", "poller", rec, cls=cls)
        changes = {}
        if assignee:
            changes["assignee"] = assignee
        if acked:
            changes.update(status="acknowledged", acknowledged_at=now - timedelta(minutes=5), acknowledged_by=assignee)
        if changes:
            tickets.update_ticket(db, tid, changes, now)
    return tid


@pytest.fixture
def cfg():
    return from_dict(CFG)


@pytest.fixture
def clock():
    return FrozenClock(NOW)


@pytest.fixture
def seeded(tmp_path, cfg):
    """(db path, ids in SEED order)."""
    path = tmp_path / "desk.db"
    db = store.open_db(path)
    with store.write(db):
        staff.sync_staff(db, [(s.handle, s.name, s.role) for s in cfg.staff])
        heartbeat.beat(db, "scheduler", NOW - timedelta(seconds=4), pid=1, host="desk")
    ids = []
    for cls, ago, subject, requester, assignee, acked in SEED:
        body = None
        if "dark mode" in subject:
            body = "Hi!\nCould the console get a dark mode? My kangaroo keeps squinting.\n"
        ids.append(add_ticket(db, cfg, cls, ago, subject, requester, assignee, acked, body=body))
    first = ids[0]
    with store.write(db):
        raw = b"reply"
        messages.insert_message(db, raw=raw, raw_sha256=messages.sha256(raw), ticket_id=first, kind="reply",
                                fields=message_fields("Re: Checkout is down for all EU customers",
                                                      "ops@bigshop.example",
                                                      "Still down. Orders are failing with HTTP 502.\n"
                                                      "Please call me at 555-1212.", name="Ops Team"),
                                received_at=NOW - timedelta(minutes=5), now=NOW, source="test")
        outbox.add_alert(db, dedup_key=f"t{first}:III:arrival:ann", ticket_id=first, cls="III", step="arrival",
                         audience="primary", target="ann", urgent=True, title="[Class III] NEW",
                         body="page", due_at=NOW - timedelta(seconds=870), now=NOW - timedelta(seconds=870))
        outbox.add_alert(db, dedup_key=f"t{first}:III:arrival:bob", ticket_id=first, cls="III", step="arrival",
                         audience="secondary", target="bob", urgent=True, title="[Class III] NEW",
                         body="page", due_at=NOW - timedelta(seconds=870), now=NOW - timedelta(seconds=870))
        audit.add_event(db, first, "alert_due", "poller", NOW - timedelta(seconds=870), step="arrival",
                        targets=["ann", "bob"])
    db.conn.close()
    return path, ids


@pytest.fixture
def make_app(seeded, cfg, clock):
    from console.ui.app import ConsoleApp

    path, _ = seeded

    def make(operator: str = "ann", **kw):
        return ConsoleApp(path, cfg, operator, clock, **kw)

    return make


@pytest.fixture
def db(seeded):
    conn = store.open_db(seeded[0])
    yield conn
    conn.conn.close()
