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


# ---- a downgrade is a way out of Class III paging too (issue 19 item 8)

def pending_pages(db, tid):
    return sorted((r["cls"], r["step"], r["target"]) for r in outbox.list_alerts(db, ticket_id=tid, states=["pending"])
                  if r["step"] != outbox.STANDDOWN)


def run_due(db, cfg, now):
    from console.alerts import escalation
    from store import write

    with write(db):
        escalation.run_due(db, cfg, now)


def test_a_downgrade_in_panic_mode_stands_everyone_paged_down(db, cfg):
    tid = urgent_ticket(db, cfg)
    mark_sent(db, T0, tid)
    t = actions.reclassify(db, cfg, tid, "I", "ann", T0 + 2 * M, reason="a test mail", panic=True)
    assert (t["class"], t["status"], t["panic_mode"]) == ("I", "new", 1)
    got = notices(db, tid)
    assert [(r["target"], r["title"]) for r in got] == [
        ("bob", f"#{tid} moved to Class I by Ann Example, stand down"),
        ("cy", f"#{tid} moved to Class I by Ann Example, stand down")]
    assert "from Class III to Class I" in got[0]["body"] and "panic mode" in got[0]["body"]
    assert got[0]["urgent"] is False
    ev = [e for e in audit.events_for(db, tid) if e["kind"] == "stand_down_due"]
    assert [e["detail"]["targets"] for e in ev] == [["bob", "cy"]]
    # Its Class III pages are over; the Class I clock runs on (a warning at 80 %, nothing now).
    run_due(db, cfg, T0 + 3 * M)
    assert pending_pages(db, tid) == []


def test_a_downgrade_to_class_ii_sends_no_second_new_notice_but_a_breach_still_pages(tmp_path, db, cfg):
    tid = urgent_ticket(db, cfg)
    mark_sent(db, T0, tid)
    actions.reclassify(db, cfg, tid, "II", "bob", T0 + M)
    assert [r["target"] for r in notices(db, tid)] == ["cy"]  # bob did it
    run_due(db, cfg, T0 + 2 * M)
    assert pending_pages(db, tid) == []  # no "[Class II] NEW" to those just told to stand down
    # An old Class III downgraded after the Class II target has passed: its breach pages at once.
    [f] = file_messages(db, cfg, [Incoming(raw=mail(2, to=URGENT, date_=T0), received_at=T0 - 9 * 60 * M)], T0)
    mark_sent(db, T0, f.ticket_id)
    actions.reclassify(db, cfg, f.ticket_id, "II", "ann", T0 + M)
    run_due(db, cfg, T0 + M)
    assert {(c, s) for c, s, _ in pending_pages(db, f.ticket_id)} == {("II", "breach")}


def test_a_downgrade_before_anyone_was_reached_stands_nobody_down_and_notifies_as_class_ii(db, cfg):
    tid = urgent_ticket(db, cfg)  # its pages still pending: cancelled by the downgrade
    actions.reclassify(db, cfg, tid, "II", "ann", T0)
    assert notices(db, tid) == []
    run_due(db, cfg, T0 + M)
    assert pending_pages(db, tid) == [("II", "arrival", "bob"), ("II", "arrival", "cy")]


@pytest.mark.parametrize("change", ["panic only", "II to I", "acknowledged first"])
def test_no_stand_down_when_class_iii_paging_did_not_just_end(db, cfg, change):
    tid = urgent_ticket(db, cfg)
    mark_sent(db, T0, tid)
    if change == "panic only":  # still Class III: its pages go on
        actions.reclassify(db, cfg, tid, "III", "ann", T0 + M, panic=True)
    elif change == "II to I":
        actions.reclassify(db, cfg, tid, "II", "ann", T0 + M)
        before = notices(db, tid)
        actions.reclassify(db, cfg, tid, "I", "ann", T0 + 2 * M)
        assert notices(db, tid) == before
        return
    else:
        actions.acknowledge(db, cfg, tid, "bob", T0 + M)
        actions.reclassify(db, cfg, tid, "I", "ann", T0 + 2 * M)
        assert [r["title"] for r in notices(db, tid)] == [f"#{tid} acknowledged by Bob Example, stand down"]
        return
    assert notices(db, tid) == []


def test_someone_stood_down_is_told_again_only_if_paged_again(db, cfg):
    tid = urgent_ticket(db, cfg)
    mark_sent(db, T0, tid)
    actions.reclassify(db, cfg, tid, "I", "ann", T0 + M)
    actions.acknowledge(db, cfg, tid, "bob", T0 + 2 * M)
    assert [r["title"].split(" by ")[0] for r in notices(db, tid)] == [f"#{tid} moved to Class I"] * 2
    # Raised to Class III again and paged again: the acknowledgement then stands them down again.
    tid2 = urgent_ticket(db, cfg, i=2)
    mark_sent(db, T0, tid2)
    actions.reclassify(db, cfg, tid2, "I", "ann", T0 + M)
    actions.reclassify(db, cfg, tid2, "III", "ann", T0 + 2 * M)
    run_due(db, cfg, T0 + 2 * M)  # its arrival pages went out before: not again
    assert pending_pages(db, tid2) == []
    run_due(db, cfg, T0 + 11 * M)  # the escalation to the whole team
    mark_sent(db, T0 + 11 * M, tid2)
    actions.acknowledge(db, cfg, tid2, "bob", T0 + 12 * M)
    assert sorted((r["target"], r["title"].split(" by ")[0]) for r in notices(db, tid2)) == [
        ("ann", f"#{tid2} acknowledged"), ("bob", f"#{tid2} moved to Class I"), ("cy", f"#{tid2} acknowledged"),
        ("cy", f"#{tid2} moved to Class I")]
