"""Stand-down notices (console/ack/standdown.py, called from console/actions.py): once a ticket is
acknowledged by any path, everyone paged for it so far gets one notice through the outbox."""
from __future__ import annotations

from datetime import timedelta

import pytest

from console import actions
from console.intake.pipeline import Incoming, file_messages
from store import audit, outbox
from tests.ack_helpers import ack_cfg, mark_sent
from tests.integration.alerts_helpers import T0, URGENT, mail

M = timedelta(minutes=1)


@pytest.fixture
def cfg(tmp_path):
    return ack_cfg(tmp_path, at=T0)


def urgent_ticket(db, cfg, i=1) -> int:
    [f] = file_messages(db, cfg, [Incoming(raw=mail(i, to=URGENT, date_=T0), received_at=T0)], T0)
    return f.ticket_id


def notices(db, tid):
    return sorted((r for r in outbox.list_alerts(db, ticket_id=tid) if r["step"] == outbox.STANDDOWN),
                  key=lambda r: r["target"])


def test_everyone_paged_but_the_acknowledger_is_told_once(db, cfg):
    tid = urgent_ticket(db, cfg)
    mark_sent(db, T0, tid)  # bob and cy were paged
    actions.acknowledge(db, cfg, tid, "bob", T0 + 2 * M)
    [cy] = notices(db, tid)
    assert cy["target"] == "cy" and cy["state"] == "pending" and cy["urgent"] is False
    assert cy["title"] == f"#{tid} acknowledged by Bob Example, stand down"
    assert cy["dedup_key"].startswith(f"t{tid}:standdown:") and cy["dedup_key"].endswith(":cy")
    ev = [e for e in audit.events_for(db, tid) if e["kind"] == "stand_down_due"]
    assert [e["detail"]["targets"] for e in ev] == [["cy"]]
    # Resolving afterwards neither cancels the notice nor sends a second one.
    actions.resolve(db, cfg, tid, "bob", T0 + 3 * M)
    assert [(r["target"], r["state"]) for r in notices(db, tid)] == [("cy", "pending")]


def test_a_supervisor_acknowledging_tells_both_people_paged(db, cfg):
    tid = urgent_ticket(db, cfg)
    mark_sent(db, T0, tid)
    actions.acknowledge(db, cfg, tid, "ann", T0 + M)
    assert [r["target"] for r in notices(db, tid)] == ["bob", "cy"]


def test_pages_never_sent_are_not_stood_down(db, cfg):
    tid = urgent_ticket(db, cfg)  # pages pending: they get cancelled, nobody was reached
    actions.acknowledge(db, cfg, tid, "bob", T0)
    assert notices(db, tid) == []
    assert {r["state"] for r in outbox.list_alerts(db, ticket_id=tid)} == {"cancelled"}


def test_resolving_an_unacknowledged_ticket_stands_them_down_too(db, cfg):
    tid = urgent_ticket(db, cfg)
    mark_sent(db, T0, tid)
    actions.resolve(db, cfg, tid, "cy", T0 + M)
    [bob] = notices(db, tid)
    assert bob["target"] == "bob" and bob["title"] == f"#{tid} resolved by Cy Example, stand down"


def test_a_refused_acknowledgement_queues_nothing(db, cfg):
    tid = urgent_ticket(db, cfg)
    mark_sent(db, T0, tid)
    actions.assign(db, cfg, tid, "cy", "ann", T0)
    with pytest.raises(actions.ActionRefused):
        actions.acknowledge(db, cfg, tid, "bob", T0 + M)  # assigned to cy: bob may not
    assert notices(db, tid) == []
