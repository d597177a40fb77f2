"""Snapshots of the history and pages in words (issue 25 item 3).

Update the baselines with `pytest tests/ui/test_words_snapshots.py --snapshot-update`, then look at the SVG.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

import store
from console import actions
from store import audit, messages, outbox
from tests.ui.conftest import NOW, message_fields

pytestmark = pytest.mark.ui


@pytest.fixture
def storied(seeded, cfg):
    """Ticket #2 (Class III) with a history of every common kind, written as the desk writes them."""
    path, ids = seeded
    tid = ids[1]
    assert tid == 2
    db = store.open_db(path)
    at = NOW - timedelta(minutes=19)  # before ticket #1's own pages come due: the claims below take only these
    with store.write(db):
        audit.add_event(db, tid, "steps_collapsed", "poller", at, skipped=["arrival"], sent="escalate")
        audit.add_event(db, tid, "alert_due", "poller", at, step="escalate", step_kind="escalate",
                        targets=["ann", "bob", "cy", "dee"])
        for who in ("ann", "bob", "cy", "dee"):
            a = outbox.add_alert(db, dedup_key=f"t{tid}:III:escalate:{who}", ticket_id=tid, cls="III", step="escalate",
                                 audience="team", target=who, urgent=True, title="ESCALATED", body="page", due_at=at,
                                 now=at)
            outbox.claim_due(db, at, send_deadline=at + timedelta(seconds=30), claimed_by="t", max_attempts=5)
            outbox.finish(db, a, at + timedelta(seconds=2), ok=(who != "dee"), error="HTTP 503")
        raw = b"Subject: Re: Payment API\r\n\r\nlogs attached"
        fields = message_fields("Re: Payment API returns 500 on every call", "cto@fintech.example",
                                "Here are the logs.") | {"attachments": [{"filename": "api.log",
                                                                         "content_type": "text/plain", "size": 2048}]}
        m = messages.insert_message(db, raw=raw, raw_sha256=messages.sha256(raw), ticket_id=tid, kind="reply",
                                    fields=fields, received_at=at + timedelta(minutes=1), now=at, source="test")
        audit.add_event(db, tid, "reply_received", "intake", at + timedelta(minutes=1), message=m,
                        by="cto@fintech.example")
    # From a page link: the stand-downs to those paged are queued with it.
    actions.acknowledge(db, cfg, tid, "ann", NOW - timedelta(minutes=2), via={"via": "page link", "page": 1})
    db.conn.close()
    return path, ids


async def _to_history(pilot) -> None:
    await pilot.pause()
    pilot.app.open_ticket(2)  # the storied ticket (SEED's second)
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.press("G")
    await pilot.pause()


def test_history_and_pages_in_words(snap_compare, make_app, storied):
    assert snap_compare(make_app("ann", live=False), terminal_size=(120, 36), run_before=_to_history)
