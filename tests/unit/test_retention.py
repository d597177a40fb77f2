"""Retention of old pages (issue 22): pages of tickets resolved long ago are pruned a batch at a time,
everything else is kept, and a run costs what it prunes."""
from __future__ import annotations

import threading
from datetime import timedelta

from console import actions, housekeeping
from console.clock import FrozenClock
from console.intake.pipeline import Incoming, file_messages
from store import outbox, retention
from tests.factories import T0, mail


def _urgent(db, cfg, i, at):
    [filed] = file_messages(db, cfg, [Incoming(mail(to="urgent@desk.example", subject=f"Down {i}",
                                                    message_id=f"<u{i}@cust.example>"))], at)
    return filed.ticket_id


def test_pages_of_long_resolved_tickets_go_and_the_rest_stay(db, cfg):
    old = [_urgent(db, cfg, i, T0 + timedelta(minutes=i)) for i in range(5)]
    for tid in old:
        actions.resolve(db, cfg, tid, "ann", T0 + timedelta(hours=1))
    recent = _urgent(db, cfg, 10, T0 + timedelta(days=300))
    actions.resolve(db, cfg, recent, "ann", T0 + timedelta(days=300, hours=1))
    still_open = _urgent(db, cfg, 11, T0 + timedelta(days=399))
    paged = {tid: len(outbox.list_alerts(db, ticket_id=tid)) for tid in [*old, recent, still_open]}
    assert all(paged.values()), paged
    now = T0 + timedelta(days=420)
    assert retention.prune_pages(db, now, tickets=2) == (2, paged[old[0]] + paged[old[1]])
    assert retention.prune_pages(db, now, tickets=2)[0] == 2
    assert retention.prune_pages(db, now, tickets=2)[0] == 1
    assert retention.prune_pages(db, now) == (0, 0)
    assert {tid: len(outbox.list_alerts(db, ticket_id=tid)) for tid in paged} == \
        {**dict.fromkeys(old, 0), recent: paged[recent], still_open: paged[still_open]}
    assert db.execute("SELECT count(*) FROM alert_results WHERE alert_id NOT IN (SELECT id FROM alerts)"
                      ).fetchone()[0] == 0
    assert {e["kind"] for e in actions.audit.events_for(db, old[0])} >= {"created", "resolved"}  # the log stays
    # a later day prunes the one that has aged since, reading on from where the last run stopped
    assert retention.prune_pages(db, now + timedelta(days=300))[0] == 1
    assert outbox.list_alerts(db, ticket_id=recent) == []


def test_a_run_reads_on_from_its_cursor_not_from_the_beginning(db, cfg):
    from tests.unit.test_query_plans import _plan, _traced

    tid = _urgent(db, cfg, 1, T0)
    actions.resolve(db, cfg, tid, "ann", T0 + timedelta(hours=1))
    statements = _traced(db, lambda: retention.prune_pages(db, T0 + timedelta(days=500)))
    [walk] = [q for q in statements if "tickets_resolved" in q]
    plan = _plan(db, walk)
    assert any(line.startswith("SEARCH tickets USING INDEX tickets_resolved (") and "resolved_at>?" in line
               for line in plan), plan


def test_the_poller_housekeeping_prunes_and_logs(db, cfg, caplog):
    tid = _urgent(db, cfg, 1, T0)
    actions.resolve(db, cfg, tid, "ann", T0 + timedelta(hours=1))
    with caplog.at_level("INFO", logger="support_console.housekeeping"):
        n = housekeeping.run_once(cfg, FrozenClock(T0 + timedelta(days=401)), threading.Event())
    assert n > 0 and outbox.list_alerts(db, ticket_id=tid) == []
    assert "pruned" in caplog.text
