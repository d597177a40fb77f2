"""The alert outbox (store/outbox.py) and the dispatcher's bookkeeping (console/outbox/pages.py).

Real SQLite file in tmp_path, a FrozenClock, no network: pages go to in-process apprise channels
(`@notify(on=...)`) that record or refuse them.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from apprise.decorators import notify

from console import scheduler
from console.outbox import pages as dispatch, runner
from console.clock import FrozenClock
from console.config import from_dict
from console.poller import sync_staff
from store import open_db, outbox, write
from store.db import StoreError
from store.times import iso, parse_iso
from tests.integration.alerts_helpers import T0, config_dict

# --- in-process apprise channels: no network --------------------------------------------------

DELIVERED: list[tuple[str, str]] = []
FAIL_NEXT = {"n": 0}


@notify(on="outboxok")
def _ok(body, title, notify_type, *args, **kwargs):
    DELIVERED.append(("outboxok", title))
    return True


@notify(on="outboxflaky")
def _flaky(body, title, notify_type, *args, **kwargs):
    if FAIL_NEXT["n"] > 0:
        FAIL_NEXT["n"] -= 1
        return False
    DELIVERED.append(("outboxflaky", title))
    return True


@notify(on="outboxdown")
def _down(body, title, notify_type, *args, **kwargs):
    return False


@pytest.fixture(autouse=True)
def _reset():
    DELIVERED.clear()
    FAIL_NEXT["n"] = 0


def name(db, url: str) -> str:
    """The stored name of a target: its scheme and a hash keyed by this database."""
    return dispatch.service_name(url, dispatch.target_key(db))


def make_cfg(tmp_path, **alerts):
    notify_urls = {"ann": ["outboxok://ann"], "bob": ["outboxok://bob", "outboxflaky://bob"], "cy": ["outboxdown://cy"]}
    a = {"backoff_seconds": 5.0, "backoff_max_seconds": 60.0, "max_attempts": 4, "send_timeout_seconds": 5.0}
    a.update(alerts)
    return from_dict(config_dict(tmp_path / "support.db", notify=notify_urls, at=T0, alerts=a))


@pytest.fixture
def cfg(tmp_path):
    return make_cfg(tmp_path)


@pytest.fixture
def clock():  # the alerts desk's start time (tests/unit/conftest.py provides `db` for this `cfg`)
    return FrozenClock(T0)


def add(db, clock, key="k1", target="bob", **kw):
    args = dict(dedup_key=key, ticket_id=None, cls="III", step="arrival", audience="primary", target=target,
                urgent=True, title=f"page {key}", body="body", due_at=clock.now(), now=clock.now())
    args.update(kw)
    with write(db):
        return outbox.add_alert(db, **args)


def row(db, alert_id):
    return next(r for r in outbox.list_alerts(db) if r["id"] == alert_id)


def claim(db, clock, cfg, who="me"):
    return dispatch.claim(db, cfg, clock.now(), who)


# --- dedup ----------------------------------------------------------------------------------


def test_same_dedup_key_twice_gives_one_row(db, clock):
    first = add(db, clock, "t1:III:arrival:bob")
    clock.advance(30)
    second = add(db, clock, "t1:III:arrival:bob", title="another title")
    assert first is not None
    assert second is None
    rows = outbox.list_alerts(db)
    assert len(rows) == 1
    assert rows[0]["title"] == "page t1:III:arrival:bob"  # the first write wins, nothing is overwritten
    assert rows[0]["created_at"] == iso(T0)


def test_dedup_key_survives_terminal_states(db, clock, cfg):
    """A sent (or cancelled) page is not recreated by a later write of the same step."""
    a = add(db, clock, "t1:III:arrival:ann", target="ann")
    [c] = claim(db, clock, cfg)
    assert dispatch.deliver(db, cfg, c, clock.now) == "sent"
    assert add(db, clock, "t1:III:arrival:ann", target="ann") is None
    assert outbox.state_counts(db) == {"sent": 1}
    assert row(db, a)["state"] == "sent"


# --- state machine --------------------------------------------------------------------------


def test_claim_moves_to_sending_once(db, clock, cfg):
    a = add(db, clock)
    rows = claim(db, clock, cfg, "sender-1")
    assert [r["id"] for r in rows] == [a]
    r = row(db, a)
    assert r["state"] == "sending" and r["attempts"] == 1 and r["claimed_by"] == "sender-1"
    assert r["send_deadline"] > iso(clock.now())
    # A second dispatcher finds nothing to claim.
    assert claim(db, clock, cfg, "sender-2") == []


def test_pending_row_not_claimed_before_its_time(db, clock, cfg):
    a = add(db, clock, "later")
    with write(db):
        db.execute("UPDATE alerts SET next_attempt_at = ? WHERE id = ?", [iso(clock.now() + timedelta(minutes=1)), a])
    assert claim(db, clock, cfg) == []
    assert outbox.next_attempt_due(db) == iso(clock.now() + timedelta(minutes=1))
    clock.advance(60)
    assert [r["id"] for r in claim(db, clock, cfg)] == [a]


def test_finish_ok_records_sent(db, clock, cfg):
    a = add(db, clock, target="ann")
    [c] = claim(db, clock, cfg)
    clock.advance(2)
    assert dispatch.deliver(db, cfg, c, clock.now) == "sent"
    r = row(db, a)
    assert r["state"] == "sent" and r["sent_at"] == iso(T0 + timedelta(seconds=2)) and r["last_error"] is None
    assert [(x["service"], x["ok"], x["status"]) for x in r["results"]] == [
        (name(db, "outboxok://ann"), True, "SUCCESS")]
    assert r["results"][0]["service"].startswith("outboxok://#")
    assert DELIVERED == [("outboxok", "page k1")]
    assert claim(db, clock, cfg) == []
    assert outbox.next_attempt_due(db) is None


def test_failure_is_retried_after_backoff(db, clock, cfg):
    a = add(db, clock, target="bob")
    FAIL_NEXT["n"] = 1
    [c] = claim(db, clock, cfg)
    assert dispatch.deliver(db, cfg, c, clock.now) == "failed"
    r = row(db, a)
    assert r["state"] == "failed" and r["attempts"] == 1
    assert "outboxflaky" in r["last_error"]
    assert r["next_attempt_at"] == iso(T0 + timedelta(seconds=5))
    # Per-service results: one service took it, the other refused.
    assert {(x["service"], x["ok"]) for x in r["results"]} == {(name(db, "outboxok://bob"), True),
                                                                (name(db, "outboxflaky://bob"), False)}
    clock.advance(4)
    assert claim(db, clock, cfg) == []
    clock.advance(1)
    [c2] = claim(db, clock, cfg)
    assert c2["attempts"] == 2
    assert dispatch.deliver(db, cfg, c2, clock.now) == "sent"
    # The service that already accepted the page is not paged a second time.
    assert DELIVERED == [("outboxok", "page k1"), ("outboxflaky", "page k1")]
    assert row(db, a)["state"] == "sent"


def test_backoff_doubles_and_is_capped(tmp_path):
    cfg = make_cfg(tmp_path, backoff_seconds=5.0, backoff_max_seconds=60.0)
    got = [dispatch.backoff(cfg, n).total_seconds() for n in range(1, 9)]
    assert got == [5, 10, 20, 40, 60, 60, 60, 60]


def test_retry_times_follow_capped_backoff(tmp_path, clock):
    cfg = make_cfg(tmp_path, backoff_seconds=5.0, backoff_max_seconds=12.0, max_attempts=10)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    a = add(db, clock, target="cy")
    waits = []
    for _ in range(5):
        [c] = claim(db, clock, cfg)
        dispatch.deliver(db, cfg, c, clock.now)
        r = row(db, a)
        nxt = r["next_attempt_at"]
        waits.append(parse_iso(nxt) - clock.now())
        clock.set(clock.now() + waits[-1])
    assert [w.total_seconds() for w in waits] == [5, 10, 12, 12, 12]


def test_retry_is_never_earlier_than_backoff(tmp_path):
    """Times are stored in whole seconds: a retry time is rounded up, never down."""
    cfg = make_cfg(tmp_path, backoff_seconds=0.5, backoff_max_seconds=2.0)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    clock = FrozenClock(T0 + timedelta(milliseconds=700))
    a = add(db, clock, target="cy")
    [c] = claim(db, clock, cfg)
    dispatch.deliver(db, cfg, c, clock.now)
    nxt = parse_iso(row(db, a)["next_attempt_at"])
    assert clock.now() + timedelta(seconds=0.5) <= nxt <= clock.now() + timedelta(seconds=1.5)
    assert claim(db, clock, cfg) == []  # not due yet
    clock.set(nxt)
    assert len(claim(db, clock, cfg)) == 1


def test_max_attempts_stays_failed_and_visible(db, clock, cfg):
    a = add(db, clock, target="cy")  # cy's only service always refuses
    for attempt in range(1, cfg.alerts.max_attempts + 1):
        [c] = claim(db, clock, cfg)
        assert c["attempts"] == attempt
        assert dispatch.deliver(db, cfg, c, clock.now) == "failed"
        clock.advance(timedelta(hours=1))
    r = row(db, a)
    assert r["state"] == "failed"
    assert r["attempts"] == cfg.alerts.max_attempts  # the true count, as `alerts` shows it
    assert r["last_error"] and "outboxdown" in r["last_error"]
    assert len(r["results"]) == cfg.alerts.max_attempts
    assert all(not x["ok"] for x in r["results"])
    # Never claimed again, however long we wait ...
    clock.advance(timedelta(days=30))
    assert claim(db, clock, cfg) == []
    # ... and it does not keep the scheduler awake (no busy loop on a parked row).
    assert outbox.next_attempt_due(db, max_attempts=cfg.alerts.max_attempts) is None
    # Still in the list the console and `alerts` show.
    assert outbox.state_counts(db) == {"failed": 1}
    # An operator may resend it; it starts over.
    with write(db):
        outbox.requeue(db, a, clock.now())
    [c] = claim(db, clock, cfg)
    assert c["attempts"] == 1


def test_no_targets_is_final(db, clock, cfg):
    a = add(db, clock, target="nobody-configured")
    [c] = claim(db, clock, cfg)
    assert dispatch.deliver(db, cfg, c, clock.now) == "no-targets"
    clock.advance(timedelta(days=1))
    assert claim(db, clock, cfg) == []
    assert row(db, a)["state"] == "failed"


def test_orphan_expires_after_send_deadline(db, clock, cfg):
    a = add(db, clock)
    [c] = claim(db, clock, cfg, "dead-sender")
    with write(db):
        assert outbox.expire_orphans(db, clock.now()) == 0  # still within its send deadline
    clock.advance(timedelta(seconds=cfg.alerts.send_timeout_seconds + 31))
    with write(db):
        assert outbox.expire_orphans(db, clock.now()) == 1
    r = row(db, a)
    assert r["state"] == "expired" and "not resent" in r["last_error"]
    # Never claimed again by itself.
    clock.advance(timedelta(hours=1))
    assert claim(db, clock, cfg) == []
    # A late finish by the (slow, not dead) sender does not overwrite the verdict.
    with write(db):
        outbox.finish(db, a, clock.now(), ok=True)
    assert row(db, a)["state"] == "expired"


def test_new_owner_expires_other_senders_rows_at_once(db, clock, cfg):
    mine, theirs = add(db, clock, "mine"), add(db, clock, "theirs")
    claim(db, clock, cfg, "old-poller")
    with write(db):
        db.execute("UPDATE alerts SET claimed_by = 'new-poller' WHERE id = ?", [mine])
        assert outbox.expire_orphans(db, clock.now(), claimed_by="new-poller") == 1
    assert row(db, theirs)["state"] == "expired"
    assert row(db, mine)["state"] == "sending"


def test_expired_row_can_be_resent(db, clock, cfg):
    a = add(db, clock, target="ann")
    claim(db, clock, cfg, "old-poller")
    with write(db):
        outbox.expire_orphans(db, clock.now(), claimed_by="new-poller")
        outbox.requeue(db, a, clock.now())
    [c] = claim(db, clock, cfg, "new-poller")
    assert dispatch.deliver(db, cfg, c, clock.now) == "sent"
    assert row(db, a)["state"] == "sent"


@pytest.mark.parametrize("state", ["pending", "sending", "sent"])
def test_requeue_refuses_live_or_sent_rows(db, clock, cfg, state):
    a = add(db, clock, target="ann")
    if state != "pending":
        [c] = claim(db, clock, cfg)
        if state == "sent":
            dispatch.deliver(db, cfg, c, clock.now)
    with pytest.raises(StoreError, match=f"is {state}"), write(db):
        outbox.requeue(db, a, clock.now())


def test_cancel_leaves_sent_and_sending_rows(db, clock, cfg):
    with write(db):
        db.execute("INSERT INTO tickets (id, class, received_at, due_at, created_at, updated_at)"
                   " VALUES (1, 'III', ?, ?, ?, ?)", [iso(T0)] * 4)
    sent = add(db, clock, "a", target="ann", ticket_id=1)
    [c] = claim(db, clock, cfg)
    dispatch.deliver(db, cfg, c, clock.now)
    sending = add(db, clock, "b", target="bob", ticket_id=1)
    claim(db, clock, cfg)
    pending = add(db, clock, "c", target="cy", ticket_id=1)
    with write(db):
        assert outbox.cancel_for_ticket(db, 1, clock.now(), "acknowledged by ann") == 1
    assert [row(db, i)["state"] for i in (sent, sending, pending)] == ["sent", "sending", "cancelled"]


def test_scheduler_sleeps_until_next_retry_not_on_parked_rows(tmp_path, clock):
    """The scheduler's wait: exact next retry time; a parked (given up) row must not make it spin."""
    cfg = make_cfg(tmp_path, max_attempts=1)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    import threading

    s = scheduler.Scheduler(cfg, clock, threading.Event(), workers=1)
    try:
        a = add(db, clock, target="cy")
        assert s.pages.seconds_until_next() == 0  # due now
        [c] = claim(db, clock, cfg)
        dispatch.deliver(db, cfg, c, clock.now)  # the only attempt fails: parked
        assert row(db, a)["state"] == "failed"
        assert s.pages.seconds_until_next() == runner.RECHECK_SECONDS
        b = add(db, clock, "later", target="ann")
        with write(db):
            db.execute("UPDATE alerts SET next_attempt_at = ? WHERE id = ?",
                       [iso(clock.now() + timedelta(seconds=2)), b])
        assert s.pages.seconds_until_next() == 2
    finally:
        s.close()


def test_restarted_poller_with_the_same_pid_still_expires_its_predecessors_rows(db, clock, cfg, monkeypatch):
    """In a container the poller may be pid 1 every time: the sender id must still differ."""
    import os
    import threading

    monkeypatch.setattr(os, "getpid", lambda: 1)
    a = add(db, clock)
    old = scheduler.Scheduler(cfg, clock, threading.Event(), workers=1)
    claim(db, clock, cfg, old.me)
    old.close()
    new = scheduler.Scheduler(cfg, clock, threading.Event(), workers=1)
    try:
        assert new.me != old.me
        assert new.start_up() == 1
        assert row(db, a)["state"] == "expired"
    finally:
        new.close()
