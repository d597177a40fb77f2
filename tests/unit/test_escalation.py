"""Escalation (console/alerts/escalation.py): policy steps -> outbox rows, in the caller's transaction.

Real SQLite file, FrozenClock, tickets made by the intake pipeline from raw bytes. No network: nothing
is dispatched here, we look at the rows the scheduler would send.

Desk (tests/integration/alerts_helpers.py): ann (supervisor), bob, cy; bob primary, cy secondary at T0.
"""
from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from console import actions
from console.alerts import escalation
from console.clock import FrozenClock
from console.config import from_dict
from console.intake.pipeline import Incoming, file_messages
from console.poller import sync_staff
from store import audit, open_db, outbox, tickets, write
from store.times import iso
from tests.integration.alerts_helpers import SUPPORT, T0, URGENT, config_dict, mail

M = timedelta(minutes=1)


def make_cfg(tmp_path, **kw):
    return from_dict(config_dict(tmp_path / "support.db", at=T0, **kw))


@pytest.fixture
def cfg(tmp_path):
    return make_cfg(tmp_path)


@pytest.fixture
def clock():  # the alerts desk's start time (tests/unit/conftest.py provides `db` for this `cfg`)
    return FrozenClock(T0)


def new_ticket(db, cfg, clock, i=1, to=URGENT, subject=None) -> int:
    raw = mail(i, to=to, subject=subject, date_=clock.now())
    [filed] = file_messages(db, cfg, [Incoming(raw=raw, received_at=clock.now())], clock.now())
    assert filed.outcome == "new"
    return filed.ticket_id


def run_due(db, cfg, at):
    with write(db):
        return escalation.run_due(db, cfg, at)


def pages(db, ticket_id=None, **filters):
    rows = outbox.list_alerts(db, ticket_id=ticket_id)
    rows = [r for r in rows if all(r[k] == v for k, v in filters.items())]
    return sorted(rows, key=lambda r: r["id"])


def targets(rows):
    return sorted(r["target"] for r in rows)


# --- arrival ---------------------------------------------------------------------------------


def test_urgent_mail_writes_arrival_pages_for_primary_and_secondary(db, cfg, clock):
    tid = new_ticket(db, cfg, clock, subject="DNS service is down")
    rows = pages(db, tid)
    assert [(r["step"], r["audience"], r["target"]) for r in rows] == [
        ("arrival", "primary", "bob"), ("arrival", "secondary", "cy")]
    for r in rows:
        assert r["state"] == "pending" and r["urgent"] is True
        assert r["due_at"] == iso(T0) and r["next_attempt_at"] == iso(T0)
        assert r["dedup_key"] == f"t{tid}:III:arrival:{r['target']}"
        assert "Class III" in r["title"] and f"#{tid}" in r["title"] and "DNS service is down" in r["title"]
        assert f"support-console ack {tid}" in r["body"]
    t = tickets.get_ticket(db, tid)
    assert t["step_cursor"] == iso(T0)
    assert t["next_step_at"] == iso(T0 + 10 * M)
    kinds = [e["kind"] for e in audit.events_for(db, tid)]
    assert kinds == ["created", "alert_due"]


def test_arrival_pages_commit_with_the_ticket_or_not_at_all(db, cfg, clock, monkeypatch):
    """Invariant 3: the alert rows are written in the ticket's transaction."""
    real = outbox.add_alert
    calls = {"n": 0}

    def add_then_fail(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:  # the secondary's row
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return real(*a, **kw)

    monkeypatch.setattr(outbox, "add_alert", add_then_fail)
    with pytest.raises(sqlite3.OperationalError, match="injected"):
        new_ticket(db, cfg, clock)
    for table in ("tickets", "messages", "alerts", "events"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    monkeypatch.setattr(outbox, "add_alert", real)
    # Nothing half-done is left behind: the same mail goes through cleanly afterwards.
    tid = new_ticket(db, cfg, clock)
    assert targets(pages(db, tid)) == ["bob", "cy"]


def test_class_one_and_two_do_not_page_at_arrival(db, cfg, clock):
    t1 = new_ticket(db, cfg, clock, 1, to=SUPPORT, subject="How do I use USENET news?")
    t2 = new_ticket(db, cfg, clock, 2, to=SUPPORT, subject="Class II: I forgot my password")
    assert pages(db, t1) == []
    rows = pages(db, t2)
    assert [(r["step"], r["target"], r["urgent"]) for r in rows] == [
        ("arrival", "bob", False), ("arrival", "cy", False)]
    assert tickets.get_ticket(db, t1)["next_step_at"] == iso(T0 + timedelta(hours=72) * 0.8)


# --- run_due ---------------------------------------------------------------------------------


def test_escalate_at_10m_breach_at_15m_then_every_5m(db, cfg, clock):
    tid = new_ticket(db, cfg, clock)
    assert run_due(db, cfg, T0 + 10 * M - timedelta(seconds=1)) == []

    created = run_due(db, cfg, T0 + 10 * M)
    esc = pages(db, tid, step="escalate")
    assert sorted(created) == [r["id"] for r in esc]
    assert targets(esc) == ["ann", "bob", "cy"]  # the whole team
    assert {r["audience"] for r in esc} == {"team"}
    assert all(r["due_at"] == iso(T0 + 10 * M) and "ESCALATED" in r["title"] for r in esc)
    assert tickets.get_ticket(db, tid)["next_step_at"] == iso(T0 + 15 * M)
    assert run_due(db, cfg, T0 + 14 * M) == []  # nothing twice

    run_due(db, cfg, T0 + 15 * M)
    breach = pages(db, tid, step="breach")
    assert targets(breach) == ["ann", "bob", "cy"]  # team + supervisors (ann is both: paged once)
    assert all("BREACHED" in r["title"] and "OVERDUE" not in r["title"] for r in breach)
    assert tickets.get_ticket(db, tid)["next_step_at"] == iso(T0 + 20 * M)

    for n, minute in enumerate((20, 25, 30), start=1):
        assert run_due(db, cfg, T0 + (minute * M) - timedelta(seconds=1)) == []
        run_due(db, cfg, T0 + minute * M)
        rep = pages(db, tid, step=f"repeat-{n}")
        assert targets(rep) == ["ann", "bob", "cy"]
        assert all(r["due_at"] == iso(T0 + minute * M) for r in rep)
        assert all("OVERDUE by" in r["body"] for r in rep)
    steps = [e["detail"]["step"] for e in audit.events_for(db, tid) if e["kind"] == "alert_due"]
    assert steps == ["arrival", "escalate", "breach", "repeat-1", "repeat-2", "repeat-3"]


def test_supervisors_who_are_not_on_the_team_list_get_the_breach(tmp_path, clock):
    """Breach goes to team + supervisors; with ann outside the rotation she still gets it, once."""
    cfg = make_cfg(tmp_path, rotation=("bob", "cy"))
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    tid = new_ticket(db, cfg, clock)
    run_due(db, cfg, T0 + 15 * M)
    assert targets(pages(db, tid, step="breach")) == ["ann", "bob", "cy"]


def test_steps_after_downtime_collapse_into_the_latest(db, cfg, clock):
    tid = new_ticket(db, cfg, clock)
    # The poller was down from T0+1m to T0+32m: escalate, breach, repeat-1..3 all came due.
    created = run_due(db, cfg, T0 + 32 * M)
    rows = pages(db, tid)
    assert {r["step"] for r in rows} == {"arrival", "repeat-3"}
    assert targets(pages(db, tid, step="repeat-3")) == ["ann", "bob", "cy"]
    assert len(created) == 3  # one page per person, not one per missed step
    [ev] = [e for e in audit.events_for(db, tid) if e["kind"] == "steps_collapsed"]
    assert ev["detail"] == {"skipped": ["escalate", "breach"], "sent": "repeat-3"}
    assert tickets.get_ticket(db, tid)["next_step_at"] == iso(T0 + 35 * M)
    run_due(db, cfg, T0 + 35 * M)
    assert targets(pages(db, tid, step="repeat-4")) == ["ann", "bob", "cy"]


def test_run_due_twice_at_the_same_time_writes_nothing_new(db, cfg, clock):
    tid = new_ticket(db, cfg, clock)
    run_due(db, cfg, T0 + 16 * M)
    before = len(pages(db, tid))
    # Even with the cursor rolled back (a crash before the cursor moved), dedup keys hold.
    with write(db):
        db.execute("UPDATE tickets SET step_cursor = ?, next_step_at = ? WHERE id = ?", [iso(T0), iso(T0), tid])
    assert run_due(db, cfg, T0 + 16 * M) == []
    assert len(pages(db, tid)) == before


# --- acknowledgement -------------------------------------------------------------------------


def test_ack_stops_steps_and_cancels_unsent_pages(db, cfg, clock):
    tid = new_ticket(db, cfg, clock)
    run_due(db, cfg, T0 + 10 * M)
    # bob's arrival page went out already; the rest is still waiting.
    sent = pages(db, tid, step="arrival", target="bob")[0]["id"]
    with write(db):
        db.execute("UPDATE alerts SET state = 'sent', sent_at = ? WHERE id = ?", [iso(T0), sent])
    clock.set(T0 + 11 * M)
    actions.acknowledge(db, cfg, tid, "bob", clock.now())
    states = {(r["step"], r["target"]): r["state"] for r in pages(db, tid)}
    assert states.pop(("arrival", "bob")) == "sent"
    assert set(states.values()) == {"cancelled"}
    assert all("acknowledged by bob" in r["last_error"] for r in pages(db, tid, state="cancelled"))
    t = tickets.get_ticket(db, tid)
    assert t["status"] == "acknowledged" and t["next_step_at"] is None
    assert tickets.next_step_due(db) is None
    for minute in (15, 20, 60):
        assert run_due(db, cfg, T0 + minute * M) == []
    [ev] = [e for e in audit.events_for(db, tid) if e["kind"] == "acknowledged"]
    assert ev["actor"] == "bob" and ev["detail"]["cancelled_pages"] == 4 and ev["detail"]["breached"] is False


def test_resolve_also_stops_steps(db, cfg, clock):
    tid = new_ticket(db, cfg, clock)
    actions.resolve(db, cfg, tid, "ann", T0 + M, note="fixed the DNS")
    assert set(r["state"] for r in pages(db, tid)) == {"cancelled"}
    assert run_due(db, cfg, T0 + 20 * M) == []


# --- reclassification ------------------------------------------------------------------------


def test_reclassify_to_three_counts_from_the_original_arrival(db, cfg, clock):
    tid = new_ticket(db, cfg, clock, to=SUPPORT, subject="our link is down")
    assert tickets.get_ticket(db, tid)["class"] == "I"
    clock.set(T0 + 20 * M)
    t = actions.reclassify(db, cfg, tid, "III", "ann", clock.now(), reason="the Internet link is unavailable")
    assert t["class"] == "III"
    assert t["due_at"] == iso(T0 + 15 * M)  # from the original arrival: already breached
    assert "the Internet link is unavailable" in t["class_reason"] and "ann" in t["class_reason"]
    [ev] = [e for e in audit.events_for(db, tid) if e["kind"] == "reclassified"]
    assert ev["actor"] == "ann"
    assert ev["detail"]["previous"] == "I" and ev["detail"]["to"] == "III"
    assert ev["detail"]["reason"] == "the Internet link is unavailable"
    # The scheduler picks it up at once and pages the whole team once (steps collapsed).
    assert t["next_step_at"] == iso(T0)
    run_due(db, cfg, clock.now())
    rows = pages(db, tid)
    assert {r["step"] for r in rows} == {"repeat-1"}
    assert targets(rows) == ["ann", "bob", "cy"]
    [col] = [e for e in audit.events_for(db, tid) if e["kind"] == "steps_collapsed"]
    assert col["detail"]["skipped"] == ["arrival", "escalate", "breach"]
    assert tickets.get_ticket(db, tid)["next_step_at"] == iso(T0 + 25 * M)


def test_reclassify_down_cancels_unsent_pages_of_the_old_class(db, cfg, clock):
    tid = new_ticket(db, cfg, clock)  # Class III: arrival pages pending
    clock.set(T0 + 2 * M)
    t = actions.reclassify(db, cfg, tid, "II", "ann", clock.now(), reason="not system-down")
    assert t["due_at"] == iso(T0 + timedelta(hours=8))
    assert {r["state"] for r in pages(db, tid, cls="III")} == {"cancelled"}
    # Class II's own arrival notice (due at the original arrival) is written on the next run.
    run_due(db, cfg, clock.now())
    assert [(r["step"], r["target"], r["urgent"]) for r in pages(db, tid, cls="II")] == [
        ("arrival", "bob", False), ("arrival", "cy", False)]
    assert run_due(db, cfg, T0 + 20 * M) == []  # no Class III escalation any more
    assert tickets.get_ticket(db, tid)["next_step_at"] == iso(T0 + timedelta(hours=8) * 0.8)


def test_reclassify_acknowledged_ticket_changes_deadline_but_pages_nobody(db, cfg, clock):
    tid = new_ticket(db, cfg, clock, to=SUPPORT)
    actions.acknowledge(db, cfg, tid, "bob", T0 + M)
    t = actions.reclassify(db, cfg, tid, "III", "ann", T0 + 30 * M, reason="it was urgent after all")
    assert t["due_at"] == iso(T0 + 15 * M) and t["next_step_at"] is None
    assert run_due(db, cfg, T0 + 40 * M) == []
    assert pages(db, tid) == []
