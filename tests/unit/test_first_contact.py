"""First contact recorded for what it was (issue 24 items 1 and 2), through the real actions, intake and
replies on a real SQLite file with a frozen clock. Nothing is sent: mail stays queued in the outbox."""
from datetime import timedelta

import pytest

from console import actions
from console.intake.pipeline import Incoming, file_messages
from console.poller import sync_staff
from console.replies import desk
from store import audit, open_db, outbox, tickets
from store.times import iso
from tests.factories import T0, desk_config, mail

SMTP = {"host": "127.0.0.1", "port": 9, "security": "none", "from": "Example Support <support@desk.example>"}
CALL_ME = "Hi,\n\nI have a problem, please call me at 555-1212 to talk about it.\n\nThanks,\nCarl"


@pytest.fixture
def cfg(tmp_path):
    c = desk_config(tmp_path, smtp=SMTP)
    sync_staff(c)
    return c


@pytest.fixture
def db(cfg):
    d = open_db(cfg.store_path)
    yield d
    d.close()


def new(db, cfg, at=T0, **kw):
    return file_messages(db, cfg, [Incoming(raw=mail(**kw))], at)[0].ticket_id


def last(db, tid, kind):
    return [e for e in audit.events_for(db, tid) if e["kind"] == kind][-1]["detail"]


def test_a_reply_an_ack_and_a_resolve_without_contact_are_recorded_as_such(db, cfg):
    a, b, c = (new(db, cfg, message_id=f"<m{i}@cust.example>", subject=f"Help {i}") for i in range(3))
    desk.send_reply(db, cfg, a, "We are on it.", "bob", T0 + timedelta(minutes=5))
    actions.acknowledge(db, cfg, b, "cy", T0 + timedelta(minutes=6))
    actions.resolve(db, cfg, c, "ann", T0 + timedelta(minutes=7))
    assert [tickets.get_ticket(db, t)["first_contact"] for t in (a, b, c)] == ["reply", "ack", "none"]
    assert last(db, a, "acknowledged")["contact"] == "reply" and last(db, b, "acknowledged")["contact"] == "ack"
    t = tickets.get_ticket(db, c)
    assert (t["acknowledged_at"], t["acknowledged_by"]) == (None, None)  # resolved, never acknowledged
    assert last(db, c, "resolved")["contact"] == "none" and last(db, c, "resolved")["due_at"] == t["due_at"]


def test_sending_the_receipt_by_hand_is_not_first_contact(db, cfg):
    tid = new(db, cfg, to="urgent@desk.example", subject="DNS down")
    assert {a["state"] for a in outbox.list_alerts(db, ticket_id=tid)} == {"pending"}
    d = desk.draft_reply(db, cfg, tid, "bob", template="receipt")
    q = desk.send_reply(db, cfg, tid, d.body, "bob", T0 + timedelta(minutes=1), template="receipt")
    t = tickets.get_ticket(db, tid)
    assert not q.acknowledged and (t["status"], t["first_contact"]) == ("new", None)
    assert {a["state"] for a in outbox.list_alerts(db, ticket_id=tid)} == {"pending"}  # the pages go on
    assert last(db, tid, "reply_queued")["contact"] == "none"
    assert "not first contact" in desk.what_sending_records("none", t)
    assert "first contact (a reply by mail)" in desk.what_sending_records(desk.contact_of(cfg, None), t)


def test_the_signature_is_added_once_and_defaults_to_the_name(db, cfg):
    tid = new(db, cfg)
    body = desk.draft_reply(db, cfg, tid, "bob", template="working-on-it").body
    assert body.count("Bob") == 1 and body.rstrip().endswith("-- \nBob")


def test_a_details_request_answers_the_call_me_mail_and_the_answer_starts_the_clock(db, cfg):
    tid = new(db, cfg, to="urgent@desk.example", subject="Please call me", body=CALL_ME, message_id="<c1@cust.example>")
    t = tickets.get_ticket(db, tid)
    assert t["needs_details"] and t["class"] == "III"
    asked = T0 + timedelta(minutes=3)
    d = desk.draft_reply(db, cfg, tid, "bob", template="details")
    desk.send_reply(db, cfg, tid, d.body, "bob", asked, template="details")
    t = tickets.get_ticket(db, tid)
    assert (t["status"], t["first_contact"]) == ("acknowledged", "details")
    assert "details request" in desk.what_sending_records("details", {**t, "status": "new"})
    answered = T0 + timedelta(hours=2)
    raw = mail(subject=f"Re: [#{tid}] Please call me", body="Our DNS server is down since nine; all mail bounces.",
               message_id="<c2@cust.example>", extra="In-Reply-To: <c1@cust.example>\r\n")
    f = file_messages(db, cfg, [Incoming(raw=raw, received_at=answered)], answered + timedelta(seconds=5))[0]
    assert f.ticket_id == tid
    t = tickets.get_ticket(db, tid)
    assert (t["needs_details"], t["status"], t["first_contact"], t["clock_no"]) == (0, "new", None, 2)
    assert t["clock_from"] == iso(answered) and t["due_at"] == iso(answered + timedelta(minutes=15))
    started = last(db, tid, "clock_started")
    assert (started["received_at"], started["due_at"], started["clock"]) == (iso(answered), t["due_at"], 2)
    # Class III: the answer pages the primary and secondary at once, as a new ticket's arrival would
    fresh = [a for a in outbox.list_alerts(db, ticket_id=tid) if a["state"] == "pending"]
    assert {(a["step"], a["target"]) for a in fresh} == {("arrival", "bob"), ("arrival", "cy")}
    # and its escalation runs from the answer: the whole team at 10 minutes after it
    assert t["next_step_at"] == iso(answered + timedelta(minutes=10))


def test_an_answer_without_a_details_request_does_not_restart_the_clock(db, cfg):
    tid = new(db, cfg, subject="Please call me", body=CALL_ME, message_id="<c1@cust.example>")
    raw = mail(subject="Re: Please call me", body="It is the printer.", message_id="<c2@cust.example>",
               extra="In-Reply-To: <c1@cust.example>\r\n")
    file_messages(db, cfg, [Incoming(raw=raw)], T0 + timedelta(hours=1))
    t = tickets.get_ticket(db, tid)
    assert (t["needs_details"], t["clock_no"], t["clock_from"]) == (1, 1, None)


def test_the_history_says_what_the_first_contact_was(db, cfg):
    from console.ui.format import event_words

    tid = new(db, cfg, subject="Please call me", body=CALL_ME, message_id="<c1@cust.example>")
    desk.send_reply(db, cfg, tid, "Details please.", "bob", T0 + timedelta(minutes=5), template="details")
    raw = mail(subject="Re: Please call me", body="The printer prints blank pages.", message_id="<c2@cust.example>",
               extra="In-Reply-To: <c1@cust.example>\r\n")
    file_messages(db, cfg, [Incoming(raw=raw)], T0 + timedelta(hours=1))
    other = new(db, cfg, message_id="<o@cust.example>", subject="Spam")
    actions.resolve(db, cfg, other, "ann", T0 + timedelta(hours=2))
    words = [event_words(e) for e in audit.events_for(db, tid) + audit.events_for(db, other)]
    assert "acknowledged by bob: the call-me mail answered by a details request" in words
    assert any(w.startswith("the customer answered the details request: a Class I first-contact clock started, "
                            "due 2026-11-05 17:00 UTC") for w in words)
    assert "ann resolved it without contact" in words


def test_an_answer_to_the_automatic_details_request_starts_the_clock_too(tmp_path):
    c = desk_config(tmp_path, smtp=SMTP, replies={"details_request": True})
    sync_staff(c)
    d = open_db(c.store_path)
    try:
        tid = new(d, c, subject="Please call me", body=CALL_ME, message_id="<c1@cust.example>")
        assert audit.has_event(d, tid, "details_queued")
        assert tickets.get_ticket(d, tid)["status"] == "new"  # sent by itself: not first contact
        answered = T0 + timedelta(hours=3)
        raw = mail(subject="Re: Please call me", body="The printer prints blank pages.",
                   message_id="<c2@cust.example>", extra="In-Reply-To: <c1@cust.example>\r\n")
        file_messages(d, c, [Incoming(raw=raw, received_at=answered)], answered)
        t = tickets.get_ticket(d, tid)
        assert (t["needs_details"], t["clock_no"], t["due_at"]) == (0, 2, iso(answered + timedelta(hours=72)))
    finally:
        d.close()


def test_a_ticket_resolved_without_contact_is_never_breached_afterwards(db, cfg):
    from console.views import ticket_public

    tid = new(db, cfg)
    actions.resolve(db, cfg, tid, "ann", T0 + timedelta(hours=1))  # before its 72-hour deadline
    out = ticket_public(tickets.get_ticket(db, tid), T0 + timedelta(days=30))
    assert (out["breached"], out["first_contact"]) == (False, "none")
