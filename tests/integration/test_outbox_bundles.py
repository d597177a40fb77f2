"""Bundling per person and sender group (issue 19 item 1): a 300-mail storm is a handful of pages per
person, and every page of it is accounted for. The real scheduler and pages sender, a real HTTP
receiver, a real SQLite file, and an injected clock stepped through half an hour (no sleeping).
"""
from __future__ import annotations

import collections
import threading
from datetime import timedelta

import pytest

from console.actions import acknowledge
from console.scheduler import Scheduler
from console.clock import FrozenClock
from console.config import from_dict
from console.intake.pipeline import Incoming, file_messages
from console.poller import sync_staff
from store import open_db, outbox
from tests.integration import alerts_helpers as h

pytestmark = pytest.mark.integration

T0 = h.T0


def storm_desk(tmp_path, http_receiver):
    data = h.config_dict(tmp_path / "support.db", at=T0, notify={x: [http_receiver.url(f"/{x}")] for x in h.HANDLES})
    data["staff"].append({"handle": "dee", "name": "Dee Example", "role": "staff",
                          "notify": [http_receiver.url("/dee")]})
    data["oncall"]["rotation"] = ["bob", "cy", "ann", "dee"]
    cfg = from_dict(data)
    sync_staff(cfg)
    return cfg, open_db(cfg.store_path)


def step(s: Scheduler) -> None:
    """One second of the poller: the scheduler's turn, then the sender until nothing more can go now."""
    s.cycle()
    s.pages.drain(30)


def test_a_storm_of_300_is_a_few_pages_per_person_and_nothing_is_lost(tmp_path, http_receiver):
    cfg, db = storm_desk(tmp_path, http_receiver)
    clock = FrozenClock(T0)
    s = Scheduler(cfg, clock, threading.Event(), workers=1)
    per_person: dict[int, collections.Counter] = {}
    try:
        s.start_up()
        for second in range(30 * 60 + 1):
            if second < 60:  # 300 Class III mails from one monitoring sender in the first minute
                for k in range(5):
                    i = second * 5 + k + 1
                    raw = h.mail(i, frm="nagios@monitor.example", subject=f"PROBLEM host{i} DOWN", date_=clock.now())
                    file_messages(db, cfg, [Incoming(raw=raw, received_at=clock.now())], clock.now())
            step(s)
            if second in (120, 600, 900, 1800):
                per_person[second] = collections.Counter(h.path_of(r) for r in http_receiver.records)
            clock.advance(1)
    finally:
        s.close()
    print({k: dict(v) for k, v in per_person.items()})
    assert max(per_person[120].values()) <= 5
    assert max(per_person[1800].values()) <= 30
    assert set(per_person[1800]) == {"ann", "bob", "cy", "dee"}
    rows = outbox.list_alerts(db)
    by_id = {r["id"]: r for r in rows}
    # Every page is accounted for: sent, or carried by a page that was sent, or waiting for its bundle.
    assert {r["state"] for r in rows} <= {"sent", "bundled", "pending"}
    assert all(by_id[r["carried_by"]]["state"] == "sent" for r in rows if r["state"] == "bundled")
    arrivals = collections.Counter(r["ticket_id"] for r in rows if r["step"] == "arrival"
                                   and r["state"] in ("sent", "bundled"))
    assert len(arrivals) == 300 and set(arrivals.values()) == {2}  # primary and secondary for each ticket
    # A bundle says what it carries.
    bundles = [r for r in rows if r["state"] == "sent" and any(x["carried_by"] == r["id"] for x in rows)]
    assert bundles and all(" more Class III in 2m: #" in b["title"] for b in bundles)
    assert len(http_receiver.records) == len([r for r in rows if r["state"] == "sent"])
    # Whoever heard of a ticket only through a bundle hears that it was acknowledged.
    carried = next(r for r in rows if r["state"] == "bundled" and r["target"] == "dee")
    acknowledge(db, cfg, carried["ticket_id"], "ann", clock.now())
    told = [r["target"] for r in outbox.list_alerts(db, ticket_id=carried["ticket_id"]) if r["step"] == "standdown"]
    assert "dee" in told


def test_a_new_sender_still_pages_at_once_during_a_storm(tmp_path, http_receiver):
    cfg, db = storm_desk(tmp_path, http_receiver)
    clock = FrozenClock(T0)
    s = Scheduler(cfg, clock, threading.Event(), workers=1)
    try:
        s.start_up()
        for i in range(20):
            raw = h.mail(i + 1, frm="nagios@monitor.example", date_=clock.now())
            file_messages(db, cfg, [Incoming(raw=raw, received_at=clock.now())], clock.now())
            step(s)
            clock.advance(1)
        n = len(http_receiver.records)
        raw = h.mail(99, frm="carl@cust.example", subject="Checkout down", date_=clock.now())
        [f] = file_messages(db, cfg, [Incoming(raw=raw, received_at=clock.now())], clock.now())
        step(s)
    finally:
        s.close()
    late = http_receiver.records[n:]
    assert sorted(h.path_of(r) for r in late if f"#{f.ticket_id} " in r.body["title"]) == ["bob", "cy"]
    assert n <= 4  # the storm so far: one page each for bob and cy, and the held ones wait for the window
    assert timedelta(0) < cfg.alerts.bundle_window
