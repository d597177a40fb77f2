"""The pages sender when the desk is busiest (issue 19 item 3, item 7's first bullet): through the real
scheduler and pages sender (console.outbox.runner) to a real HTTP receiver, on a real SQLite file and
an injected clock.
"""
from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import pytest

from console.scheduler import Scheduler
from console.ack import texts
from console.clock import FrozenClock
from console.config import from_dict
from console.intake.pipeline import Incoming, file_messages
from console.outbox import pages, runner
from console.poller import sync_staff
from store import open_db, outbox, tickets, write
from tests.integration import alerts_helpers as h

pytestmark = pytest.mark.integration

T0 = h.T0


def make(tmp_path, http_receiver, **alerts):
    """A desk paging this test's receiver. Bundling is off (bundle_window 0s): these tests are about the
    order pages go out in, one by one (test_outbox_bundles.py has bundles)."""
    alerts.setdefault("bundle_window", "0s")
    notify = {x: [http_receiver.url(f"/{x}")] for x in h.HANDLES}
    cfg = from_dict(h.config_dict(tmp_path / "support.db", notify=notify, at=T0, alerts=alerts))
    sync_staff(cfg)
    return cfg, open_db(cfg.store_path)


def file_urgent(db, cfg, i: int, sender: str, now, **kw) -> int:
    raw = h.mail(i, to=h.URGENT, frm=sender, date_=now, **kw)
    [f] = file_messages(db, cfg, [Incoming(raw=raw, received_at=now)], now)
    return f.ticket_id


def test_a_genuine_class_iii_is_not_queued_behind_a_storm(tmp_path, http_receiver):
    """30 monitoring tickets (60 pages) are due when a customer's Class III arrives: with 4 senders its
    two pages are in the first four sent, not the last two."""
    cfg, db = make(tmp_path, http_receiver)
    clock = FrozenClock(T0)
    for i in range(30):
        file_urgent(db, cfg, i + 1, "nagios@monitor.example", clock.now(), subject=f"PROBLEM host{i} DOWN")
    genuine = file_urgent(db, cfg, 99, "carl@cust.example", clock.now(), subject="Checkout is down")
    s = Scheduler(cfg, clock, threading.Event(), workers=4)
    try:
        s.start_up()
        s.cycle()
        s.drain(60)
    finally:
        s.close()
    records = http_receiver.wait_for(62, timeout=30)
    firsts = [r.body["title"] for r in records[:4]]
    assert sum(f"#{genuine} " in t for t in firsts) == 2, firsts
    assert len(records) == 62


def test_a_storm_already_going_out_yields_to_a_new_sender_one_page_at_a_time(tmp_path, http_receiver):
    """Senders free up one at a time during a storm: each claim must still put the customer's first."""
    cfg, db = make(tmp_path, http_receiver)
    clock = FrozenClock(T0)
    for i in range(20):
        file_urgent(db, cfg, i + 1, "nagios@monitor.example", clock.now())
    s = Scheduler(cfg, clock, threading.Event(), workers=1)
    try:
        s.start_up()
        for _ in range(6):  # the storm is going out
            assert s.pages.cycle() == 1
        genuine = file_urgent(db, cfg, 99, "carl@cust.example", clock.now())
        for _ in range(2):  # the next two senders to free up take the customer's pages
            assert s.pages.cycle() == 1
    finally:
        s.close()
    records = http_receiver.wait_for(8)
    assert [f"#{genuine} " in r.body["title"] for r in records[6:]] == [True, True]


def test_first_pages_go_before_repeats_and_people_take_turns(tmp_path, http_receiver):
    cfg, db = make(tmp_path, http_receiver)
    old = file_urgent(db, cfg, 1, "x@a.example", T0)
    with write(db):
        db.execute("UPDATE alerts SET state = 'sent'")  # its arrival pages went out
        for i in range(6):  # then its repeats came due, older than the next ticket's arrival
            outbox.add_alert(db, dedup_key=f"k{i}", ticket_id=old, cls="III", step=f"repeat-{i + 1}",
                             audience="team", target=("ann", "bob", "cy")[i // 2], urgent=True, title=f"r{i}", body="b",
                             due_at=T0, now=T0)
    new = file_urgent(db, cfg, 2, "y@b.example", T0)
    with write(db):
        rows = outbox.claim_due(db, T0, send_deadline=T0 + timedelta(minutes=1), claimed_by="me", max_attempts=5,
                                limit=5)
    assert [(r["ticket_id"], r["step"]) for r in rows[:2]] == [(new, "arrival"), (new, "arrival")]
    # Then the repeats, one person at a time: ann, bob, cy, not ann's two first.
    assert [r["target"] for r in rows[2:]] == ["ann", "bob", "cy"]


def test_the_scheduler_and_the_sender_sleep_while_every_sender_is_busy(tmp_path, http_receiver):
    cfg, db = make(tmp_path, http_receiver)
    clock = FrozenClock(T0)
    http_receiver.delay = 3.0
    for i in range(3):
        file_urgent(db, cfg, i + 1, f"c{i}@cust{i}.example", clock.now())
    s = Scheduler(cfg, clock, threading.Event(), workers=1)
    try:
        s.start_up()
        s.cycle()
        assert s.pages.idle_senders() == 0
        # Pages are due, but nobody could send them: sleep until a sender finishes (it wakes the loop).
        assert s.pages.seconds_until_next() == runner.RECHECK_SECONDS
        assert s.seconds_until_next() > 0  # the scheduler's own wait is its next step, not the outbox
        # Turns with nothing due (woken by the senders' commits) only read: the write lock stays free.
        statements: list[str] = []
        s.db.conn.set_trace_callback(statements.append)
        s.pages.db.conn.set_trace_callback(statements.append)
        for _ in range(5):
            s.cycle()
            s.pages.dispatch()
        assert not [x for x in statements if x.startswith(("BEGIN", "INSERT", "UPDATE"))], statements
    finally:
        http_receiver.delay = 0
        s.close()


def test_a_failing_page_is_retried_within_its_backoff_after_the_clock_steps_back(tmp_path, http_receiver):
    cfg, db = make(tmp_path, http_receiver, backoff_seconds=5.0, backoff_max_seconds=60.0)
    clock = FrozenClock(T0)
    http_receiver.status_code = 500
    file_urgent(db, cfg, 1, "carl@cust.example", clock.now())
    s = Scheduler(cfg, clock, threading.Event(), workers=2)
    try:
        s.start_up()
        assert s.pages.cycle() == 1  # bob's page fails (and cy's, next)
        assert s.pages.cycle() == 1
        assert {a["state"] for a in outbox.list_alerts(db)} == {"failed"}
        clock.set(T0 - timedelta(hours=1))  # the wall clock steps back an hour
        clock.advance(5)
        http_receiver.status_code = 200
        assert s.pages.seconds_until_next() == 0
        assert s.pages.cycle() == 1 and s.pages.cycle() == 1
    finally:
        s.close()
    assert {a["state"] for a in outbox.list_alerts(db)} == {"sent"}


def test_a_delivered_page_waits_out_a_busy_database_and_is_recorded_as_sent(tmp_path, http_receiver):
    cfg, db = make(tmp_path, http_receiver)
    clock = FrozenClock(T0)
    file_urgent(db, cfg, 1, "carl@cust.example", clock.now())
    [row, _] = pages.claim(db, cfg, clock.now(), "me", limit=2)
    sender_db = open_db(cfg.store_path, migrate=False)
    sender_db.conn.execute("PRAGMA busy_timeout = 100")  # a lock outlasts the busy timeout
    blocker = sqlite3.connect(cfg.store_path, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    release = threading.Timer(1.5, blocker.commit)
    release.start()
    try:
        assert pages.deliver(sender_db, cfg, row, clock.now) == "sent"
    finally:
        release.join()
        blocker.close()
    assert outbox.get_alert(db, row["id"])["state"] == "sent"
    assert len(http_receiver.records) == 1


def test_a_page_says_how_long_ago_as_of_when_it_went_out(tmp_path, http_receiver):
    """Queued at arrival, sent 7 minutes later (the senders were busy): the page says 7m ago."""
    cfg, db = make(tmp_path, http_receiver)
    clock = FrozenClock(T0)
    tid = file_urgent(db, cfg, 1, "carl@cust.example", clock.now())
    queued = [a["title"] for a in outbox.list_alerts(db, ticket_id=tid)]
    clock.advance(timedelta(minutes=7))
    s = Scheduler(cfg, clock, threading.Event(), workers=2)
    try:
        s.start_up()
        s.pages.cycle()
        s.pages.cycle()
    finally:
        s.close()
    records = http_receiver.wait_for(2)
    expected, _ = texts.page_text(tickets.get_ticket(db, tid), pages._step_of(outbox.list_alerts(db)[0]),
                                  clock.now(), cfg)
    assert {r.body["title"] for r in records} == {expected}
    assert "7m" in expected and expected not in queued
    assert {a["title"] for a in outbox.list_alerts(db, ticket_id=tid)} == {expected}  # what `alerts` shows
