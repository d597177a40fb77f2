"""Merge, unmerge and split (console/shaping.py) on a real SQLite file, with mail filed by the real intake
pipeline and a frozen clock. ann is a supervisor; bob and cy are staff."""
from __future__ import annotations

from datetime import timedelta

import pytest

from console import actions, shaping
from console.actions import ActionRefused, PermissionRefused
from console.intake.pipeline import Incoming, file_messages
from store import audit, messages, outbox, tickets
from store.times import parse_iso
from tests.factories import T0, mail

M = timedelta(minutes=1)


def file(db, cfg, raw: bytes, at) -> int:
    [filed] = file_messages(db, cfg, [Incoming(raw=raw, received_at=at)], at)
    assert filed.ticket_id is not None
    return filed.ticket_id


def new(db, cfg, at, n: int, *, frm="carl@cust.example", to="support@desk.example", subject=None, body=None) -> int:
    return file(db, cfg, mail(frm=frm, to=to, subject=subject or f"Problem {n}", body=body or f"Problem {n} here.",
                              message_id=f"<p{n}@cust.example>"), at)


def reply(db, cfg, at, n: int, to_id: str, *, frm="carl@cust.example", subject="Re: it", to="support@desk.example",
          body="More.") -> int:
    return file(db, cfg, mail(frm=frm, to=to, subject=subject, body=body, message_id=f"<r{n}@cust.example>",
                              extra=f"In-Reply-To: {to_id}\r\n"), at)


def send_pending(db, at) -> None:
    """What the dispatcher does after a good send (the unit tests do not run apprise)."""
    from store import write

    with write(db):
        for row in outbox.claim_due(db, at, send_deadline=at + M, claimed_by="test", max_attempts=9):
            outbox.finish(db, row["id"], at, ok=True)


def kinds(db, tid):
    return [(m["id"], m["kind"]) for m in messages.messages_for(db, tid)]


def test_merge_moves_mail_and_history_keeps_the_strictest_class_and_earliest_deadline(db, cfg):
    a = new(db, cfg, T0, 1)  # Class I, due in 72 h
    b = new(db, cfg, T0 + 5 * M, 2, to="urgent@desk.example")  # Class III, paged at once
    send_pending(db, T0 + 5 * M)
    assert outbox.paged_targets(db, b)
    a_msgs, b_msgs = kinds(db, a), kinds(db, b)
    b_events = [e["id"] for e in audit.events_for(db, b)]
    now = T0 + 6 * M
    t = shaping.merge(db, cfg, a, [b], "ann", now)
    assert t["class"] == "III"
    assert t["due_at"] == "2026-11-02T16:20:00Z"
    assert t["received_at"] == "2026-11-02T16:05:00Z"  # steps count from the Class III mail's arrival
    assert sorted(kinds(db, a)) == sorted(a_msgs + b_msgs)
    assert set(b_events) <= {e["id"] for e in audit.events_for(db, a)}
    merged = tickets.get_ticket(db, b)
    assert (merged["merged_into"], merged["status"]) == (a, "resolved")
    assert kinds(db, b) == []
    # b's unsent pages are cancelled and those paged stand down, naming the target
    b_alerts = outbox.list_alerts(db, ticket_id=b)
    assert not [x for x in b_alerts if x["state"] == "pending" and x["step"] != outbox.STANDDOWN]
    downs = [x for x in b_alerts if x["step"] == outbox.STANDDOWN]
    # #a still awaits first contact: those paged for #b are told to follow #a, whose steps go on from #b's
    # clock without a second arrival page
    assert downs and all(x["title"] == f"#{b} merged into #{a} by Ann: follow #{a}" for x in downs)
    assert "still awaits first contact, due by Mon 02 Nov 09:20 MST" in downs[0]["body"]
    assert not [x for x in outbox.list_alerts(db, ticket_id=a) if x["step"] == "arrival"]
    assert tickets.get_ticket(db, a)["next_step_at"] == "2026-11-02T16:15:00Z"  # the team at 10 minutes
    assert [e["kind"] for e in audit.events_for(db, b)][-1] == "merged_into"
    assert [e["kind"] for e in audit.events_for(db, a)][-1] == "merged"


def test_unmerge_restores_the_ticket_as_it_was(db, cfg):
    a = new(db, cfg, T0, 1)
    b = new(db, cfg, T0 + 5 * M, 2, to="urgent@desk.example")
    a_before, b_before = tickets.get_ticket(db, a), tickets.get_ticket(db, b)
    a_msgs, b_msgs = kinds(db, a), kinds(db, b)
    b_events = [e["id"] for e in audit.events_for(db, b)]
    shaping.merge(db, cfg, a, [b], "ann", T0 + 6 * M)
    later = reply(db, cfg, T0 + 7 * M, 9, "<p2@cust.example>")  # threads to b's mail: joins the target
    assert later == a
    b2 = shaping.unmerge(db, cfg, b, "ann", T0 + 8 * M)
    for k in ("class", "status", "received_at", "due_at", "acknowledged_at", "assignee", "merged_into"):
        assert b2[k] == b_before[k], k
    assert kinds(db, b) == b_msgs
    assert [e["id"] for e in audit.events_for(db, b)][:len(b_events)] == b_events
    a2 = tickets.get_ticket(db, a)
    for k in ("class", "received_at", "due_at"):
        assert a2[k] == a_before[k], k
    assert len(kinds(db, a)) == len(a_msgs) + 1  # the mail that came after the merge stays where it went
    assert b2["next_step_at"] is not None  # its own escalation runs again
    # its arrival pages, unsent when the merge cancelled them, are queued again
    assert {x["state"] for x in outbox.list_alerts(db, ticket_id=b) if x["step"] == "arrival"} == {"pending"}


def test_mail_to_a_merged_ticket_by_tag_joins_the_target(db, cfg):
    a = new(db, cfg, T0, 1)
    b = new(db, cfg, T0 + M, 2)
    shaping.merge(db, cfg, a, [b], "ann", T0 + 2 * M)
    got = file(db, cfg, mail(subject=f"Re: [#{b}] still", message_id="<tag@cust.example>"), T0 + 3 * M)
    assert got == a
    assert tickets.get_ticket(db, b)["status"] == "resolved"  # not reopened by the mail


def test_merge_refusals(db, cfg):
    a = new(db, cfg, T0, 1)
    b = new(db, cfg, T0 + M, 2)
    c = new(db, cfg, T0 + M, 3, frm="dora@other.example")
    with pytest.raises(PermissionRefused, match="only a supervisor may merge"):
        shaping.merge(db, cfg, a, [b], "bob", T0 + 2 * M)
    with pytest.raises(ActionRefused, match="into itself"):
        shaping.merge(db, cfg, a, [a], "ann", T0 + 2 * M)
    with pytest.raises(ActionRefused, match="no ticket #99"):
        shaping.merge(db, cfg, a, [99], "ann", T0 + 2 * M)
    with pytest.raises(shaping.NeedsConfirmation, match="--yes"):
        shaping.merge(db, cfg, a, [c], "ann", T0 + 2 * M)
    assert tickets.get_ticket(db, c)["merged_into"] is None  # nothing written
    shaping.merge(db, cfg, a, [c], "ann", T0 + 2 * M, confirmed=True)
    with pytest.raises(ActionRefused, match=f"merged into #{a}; merge into #{a} instead"):
        shaping.merge(db, cfg, c, [b], "ann", T0 + 3 * M)
    actions.resolve(db, cfg, b, "ann", T0 + 3 * M)
    with pytest.raises(ActionRefused, match="resolved; reopen it first"):
        shaping.merge(db, cfg, b, [a], "ann", T0 + 4 * M)
    with pytest.raises(ActionRefused, match="not merged into another ticket"):
        shaping.unmerge(db, cfg, a, "ann", T0 + 4 * M)


def test_split_makes_a_ticket_with_its_own_class_and_clock(db, cfg):
    a = new(db, cfg, T0, 1)
    reply(db, cfg, T0 + 30 * M, 2, "<p1@cust.example>", body="Unrelated: also, our mail server is down!",
          to="urgent@desk.example")
    reply(db, cfg, T0 + 40 * M, 3, "<p1@cust.example>", body="Any news on the server?")
    msgs = kinds(db, a)
    assert len(msgs) == 3
    second = msgs[1][0]
    now = T0 + 50 * M
    t = shaping.split(db, cfg, a, second, "ann", now, later=True)
    assert t["class"] == "III"  # the mail went to urgent@: classified as intake would
    assert t["received_at"] == "2026-11-02T16:30:00Z" and t["due_at"] == "2026-11-02T16:45:00Z"
    assert t["split_from"] == a
    assert [k for _, k in kinds(db, t["id"])] == ["new", "reply"]
    assert len(kinds(db, a)) == 1
    # paged as a new Class III ticket whose steps came due: collapsed into the latest (the first repeat after
    # the breach at 16:45, due 16:50)
    pending = outbox.list_alerts(db, ticket_id=t["id"])
    assert pending and {x["step"] for x in pending} == {"repeat-1"}
    assert audit.events_for(db, a)[-1]["kind"] == "split_to"
    assert [e for e in audit.events_for(db, t["id"]) if e["kind"] == "split_from"][0]["detail"]["ticket"] == a


def test_split_refusals(db, cfg):
    a = new(db, cfg, T0, 1)
    b = new(db, cfg, T0, 2)
    first = kinds(db, a)[0][0]
    with pytest.raises(ActionRefused, match="was opened with"):
        shaping.split(db, cfg, a, first, "ann", T0 + M)
    with pytest.raises(ActionRefused, match=f"belongs to #{b}, not #{a}"):
        shaping.split(db, cfg, a, kinds(db, b)[0][0], "ann", T0 + M)
    with pytest.raises(ActionRefused, match="no message 999"):
        shaping.split(db, cfg, a, 999, "ann", T0 + M)
    actions.assign(db, cfg, a, "cy", "ann", T0 + M)
    reply(db, cfg, T0 + 2 * M, 5, "<p1@cust.example>")
    with pytest.raises(PermissionRefused):
        shaping.split(db, cfg, a, kinds(db, a)[-1][0], "bob", T0 + 3 * M)
    assert parse_iso(tickets.get_ticket(db, a)["received_at"]) == T0


def test_a_merged_ticket_is_not_reopened_but_unmerged(db, cfg):
    a = new(db, cfg, T0, 1)
    b = new(db, cfg, T0 + M, 2)
    shaping.merge(db, cfg, a, [b], "ann", T0 + 2 * M)
    with pytest.raises(ActionRefused, match=f"merged into #{a}; unmerge {b}"):
        actions.reopen(db, cfg, b, "ann", T0 + 3 * M)


def test_a_merged_ticket_is_never_shown_breached(db, cfg):
    from console.views import ticket_public

    a = new(db, cfg, T0, 1, to="urgent@desk.example")
    b = new(db, cfg, T0 + M, 2, to="urgent@desk.example")
    shaping.merge(db, cfg, a, [b], "ann", T0 + 2 * M)
    later = T0 + 60 * M  # both deadlines long past; the target carries the obligation
    shown = {t["id"]: ticket_public(t, later) for t in tickets.list_tickets(db)}
    assert shown[a]["breached"] and not shown[b]["breached"] and shown[b]["seconds_left"] is None


def test_merged_into_an_acknowledged_ticket_those_paged_stand_down(db, cfg):
    a = new(db, cfg, T0, 1, to="urgent@desk.example")
    actions.acknowledge(db, cfg, a, "ann", T0 + M)
    b = new(db, cfg, T0 + 2 * M, 2, to="urgent@desk.example")
    send_pending(db, T0 + 2 * M)
    shaping.merge(db, cfg, a, [b], "ann", T0 + 3 * M)
    downs = [x for x in outbox.list_alerts(db, ticket_id=b) if x["step"] == outbox.STANDDOWN]
    assert downs and all(x["title"] == f"#{b} merged into #{a} by Ann, stand down" for x in downs)
    assert tickets.get_ticket(db, a)["status"] == "acknowledged"


def test_the_staffs_own_mail_is_not_split_off(tmp_path):
    from console.poller import sync_staff
    from store import open_db
    from tests.factories import desk_config

    cfg = desk_config(tmp_path, staff=[
        {"handle": "ann", "name": "Ann", "role": "supervisor", "notify": ["json://127.0.0.1:9/ann"],
         "email": "ann@desk.example"}], oncall={"rotation": ["ann"], "handoff": "mon 09:00", "start": "2026-11-02"})
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    try:
        a = new(db, cfg, T0, 1)
        assert reply(db, cfg, T0 + M, 2, "<p1@cust.example>", frm="ann@desk.example") == a
        with pytest.raises(ActionRefused, match="is from the staff"):
            shaping.split(db, cfg, a, kinds(db, a)[-1][0], "ann", T0 + 2 * M)
    finally:
        db.close()
