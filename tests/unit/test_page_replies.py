"""Acknowledging by replying to an email page (console/intake/page_replies.py, hooked into intake's filing).

Real SQLite file and the real intake pipeline; the page's subject comes from console.ack.links as it
would be sent. Through a real Dovecot and `ingest`: tests/integration/test_ack_email.py."""
from __future__ import annotations

from datetime import timedelta

import pytest

from console.ack import links, tokens
from console.intake import page_replies
from console.outbox import pages
from console.outbox.pages import SendReport
from console.intake.pipeline import Incoming, file_messages
from store import audit, messages, outbox, tickets
from tests.ack_helpers import EMAILS, ack_cfg, mark_sent, reply_to_page
from tests.integration.alerts_helpers import T0, URGENT, mail

M = timedelta(minutes=1)


@pytest.fixture
def cfg(tmp_path):
    return ack_cfg(tmp_path, at=T0)


def page_subject(db, cfg, target="bob", i=1):
    """(ticket id, the subject of the email page `target` got)."""
    [f] = file_messages(db, cfg, [Incoming(raw=mail(i, to=URGENT, date_=T0), received_at=T0)], T0)
    mark_sent(db, T0, f.ticket_id)
    row = next(r for r in outbox.list_alerts(db, ticket_id=f.ticket_id) if r["target"] == target)
    sent = []
    pages.send_page(row, ["mailto://127.0.0.1?to=x%40phone.example"], cfg,
                    lambda t, b, u: sent.append(t) or SendReport("sent", []))
    return f.ticket_id, sent[0]


def file_one(db, cfg, raw, at):
    [f] = file_messages(db, cfg, [Incoming(raw=raw, received_at=at)], at)
    return f


def test_a_reply_saying_ack_acknowledges_as_the_person_paged(db, cfg):
    tid, subject = page_subject(db, cfg)
    before = len(tickets.list_tickets(db))
    f = file_one(db, cfg, reply_to_page(subject, frm=EMAILS["bob"], body="\r\nAck!\r\non it"), T0 + 2 * M)
    assert (f.outcome, f.ticket_id) == ("page-reply", tid)
    t = tickets.get_ticket(db, tid)
    assert (t["status"], t["acknowledged_by"], t["assignee"]) == ("acknowledged", "bob", "bob")
    assert len(tickets.list_tickets(db)) == before  # never a ticket of its own
    ev = {e["kind"]: e["detail"] for e in audit.events_for(db, tid)}
    assert ev["acknowledged"]["via"] == "email reply" and ev["acknowledged"]["message"] == f.message_row
    assert ev["page_reply_received"]["acknowledged"] is True
    [m] = [m for m in messages.messages_for(db, tid) if m["id"] == f.message_row]
    assert m["kind"] == "reply" and m["from_addr"] == EMAILS["bob"]
    # cy, also paged, is told to stand down.
    assert [(r["target"], r["step"]) for r in outbox.list_alerts(db, ticket_id=tid, states=["pending"])] == [
        ("cy", "standdown")]


@pytest.mark.parametrize("body", [
    "Can't right now, driving", "", "on my way back",
    "Sorry, I can't ack this, I'm boarding a plane", "Do not ack yet - still investigating",
    "Ack, on it",  # the first line is more than the word
    "Thank you for your e-mail.\r\nThis is to acknowledge receipt of your e-mail; I am on leave until Monday.",
    "looking\r\nack",  # "ack" on the second line: the first line decides
])
def test_a_reply_whose_first_line_is_not_ack_is_kept_as_the_staff_members_message(db, cfg, body):
    # The quoted page below it says "ack" twice; only the first line of the reply's own text counts.
    tid, subject = page_subject(db, cfg)
    f = file_one(db, cfg, reply_to_page(subject, frm=EMAILS["bob"], body=body), T0 + M)
    assert (f.outcome, f.ticket_id) == ("page-reply", tid)
    t = tickets.get_ticket(db, tid)
    assert (t["status"], t["acknowledged_at"]) == ("new", None)
    assert not outbox.list_alerts(db, ticket_id=tid, states=["pending"])  # nobody told to stand down
    [ev] = [e for e in audit.events_for(db, tid) if e["kind"] == "page_reply_received"]
    assert ev["detail"]["acknowledged"] is False and '"ack"' in ev["detail"]["note"]
    assert ev["detail"]["person"] == "bob" and ev["detail"]["message"] == f.message_row
    # The reply is on the ticket, as bob's message, with its own text.
    [m] = [m for m in messages.messages_for(db, tid) if m["id"] == f.message_row]
    assert (m["kind"], m["from_addr"]) == ("reply", EMAILS["bob"])
    assert body.replace("\r\n", "\n").split("\n")[0] in m["body_text"]


@pytest.mark.parametrize("extra, subject_prefix", [
    ("Auto-Submitted: auto-replied", ""), ("X-Autoreply: yes", ""), ("Precedence: bulk", ""),
    ("", "Automatic reply: "), ("", "Out of Office: "),
])
def test_anything_intake_judges_automatic_is_kept_and_acknowledges_nothing(db, cfg, extra, subject_prefix):
    # Even an auto-reply whose text is just "ack" (a vacation rule someone wrote in a hurry).
    tid, subject = page_subject(db, cfg)
    raw = reply_to_page(subject, frm=EMAILS["bob"], body="ack", extra=extra)
    raw = raw.replace(b"Subject: Re: ", f"Subject: {subject_prefix}Re: ".encode(), 1)
    f = file_one(db, cfg, raw, T0 + M)
    assert (f.outcome, f.ticket_id) == ("page-reply", tid)
    assert tickets.get_ticket(db, tid)["status"] == "new"
    assert [m["kind"] for m in messages.messages_for(db, tid) if m["id"] == f.message_row] == ["autoreply"]
    [ev] = [e for e in audit.events_for(db, tid) if e["kind"] == "page_reply_received"]
    assert ev["detail"]["acknowledged"] is False and "automatic" in ev["detail"]["note"]


def test_only_the_person_paged_can_acknowledge_with_their_token(db, cfg):
    tid, subject = page_subject(db, cfg, target="bob")
    f = file_one(db, cfg, reply_to_page(subject, frm=EMAILS["cy"]), T0 + M)  # cy answers bob's page
    assert f.outcome == "page-reply" and tickets.get_ticket(db, tid)["status"] == "new"
    f = file_one(db, cfg, reply_to_page(subject, frm="carl@cust.example"), T0 + M)  # forwarded to someone
    assert f.outcome == "page-reply" and tickets.get_ticket(db, tid)["status"] == "new"


def test_an_automatic_reply_from_staff_is_kept_but_never_acknowledges(db, cfg):
    tid, subject = page_subject(db, cfg)
    raw = reply_to_page(subject, frm=EMAILS["bob"], body="I am out of the office; ack later.",
                        extra="Auto-Submitted: auto-replied")
    f = file_one(db, cfg, raw, T0 + M)
    assert (f.outcome, f.ticket_id) == ("page-reply", tid)
    assert tickets.get_ticket(db, tid)["status"] == "new"
    assert [m["kind"] for m in messages.messages_for(db, tid) if m["id"] == f.message_row] == ["autoreply"]


def test_an_expired_token_does_not_acknowledge(tmp_path, db):
    cfg = ack_cfg(tmp_path, at=T0, lifetime="30m")
    tid, subject = page_subject(db, cfg)
    f = file_one(db, cfg, reply_to_page(subject, frm=EMAILS["bob"]), T0 + 30 * M)
    assert f.outcome == "page-reply" and tickets.get_ticket(db, tid)["status"] == "new"
    [ev] = [e for e in audit.events_for(db, tid) if e["kind"] == "page_reply_received"]
    assert "expired" in ev["detail"]["note"]


def test_a_second_ack_reply_changes_nothing(db, cfg):
    tid, subject = page_subject(db, cfg)
    file_one(db, cfg, reply_to_page(subject, frm=EMAILS["bob"]), T0 + M)
    f = file_one(db, cfg, reply_to_page(subject, frm=EMAILS["bob"], body="ack ack"), T0 + 2 * M)
    assert f.outcome == "page-reply"
    assert tickets.get_ticket(db, tid)["acknowledged_at"].endswith("16:01:00Z")
    assert [e["kind"] for e in audit.events_for(db, tid)].count("acknowledged") == 1


def test_a_forged_tag_from_a_customer_is_ordinary_mail(db, cfg):
    tid, subject = page_subject(db, cfg)
    tok = page_replies.token_in(subject)
    forged = subject.replace(tok, tok[:10] + ("A" if tok[10] != "A" else "B") + tok[11:])
    f = file_one(db, cfg, reply_to_page(forged, frm="mallory@evil.example"), T0 + M)
    assert f.outcome == "new" and f.ticket_id != tid
    assert tickets.get_ticket(db, tid)["status"] == "new"


def test_a_staff_mail_with_a_token_that_does_not_verify_is_kept_unfiled(db, cfg):
    tid, subject = page_subject(db, cfg)
    other = tokens.make(bytes(32), tokens.read(links.signing_key(cfg), page_replies.token_in(subject)))
    f = file_one(db, cfg, reply_to_page(subject.replace(page_replies.token_in(subject), other), frm=EMAILS["bob"]),
                 T0 + M)
    assert (f.outcome, f.ticket_id) == ("page-reply", None)
    assert [m["id"] for m in messages.unfiled_messages(db)] == [f.message_row]
    assert tickets.get_ticket(db, tid)["status"] == "new"


@pytest.mark.parametrize("body", ["ack", "Ack", "ACK", "ack.", "Ack!", "  ack  ", "*ack*", "ack 👍", "\n\nack\nthanks",
                                  "ack\n\nOn Mon, Desk wrote:\n> support-console ack 1", "ack\r\n-- \r\nBob"])
def test_the_first_line_that_is_the_word_ack_acknowledges(body):
    assert page_replies.says_ack(body)


@pytest.mark.parametrize("body", ["Sorry, I can't ack this, I'm boarding a plane",
                                  "Do not ack yet - still investigating", "ACKNOWLEDGED.", "acked", "ack ack",
                                  "Ack, on it", "no ack", "ackk", "back",
                                  "Thank you for your e-mail. This is to acknowledge receipt of your e-mail.",
                                  "hi\nack", "> ack", ""])
def test_anything_else_does_not(body):
    assert not page_replies.says_ack(body)


def test_own_text_stops_at_the_quoted_page():
    assert page_replies.says_ack("ack\n\nOn Mon, Desk wrote:\n> support-console ack 1")
    assert not page_replies.says_ack("back in 5\n> ack")
    assert not page_replies.says_ack("no\n-----Original Message-----\nReply with ack")
    assert not page_replies.says_ack("later\n\nSent from my phone\nack")
    assert not page_replies.says_ack("hackathon tonight")


def test_an_ack_for_a_page_of_a_ticket_merged_since_acknowledges_the_ticket_it_went_into(db, cfg):
    from console import shaping
    from console.words import event_words

    tid, subject = page_subject(db, cfg)
    [other] = file_messages(db, cfg, [Incoming(raw=mail(2, to=URGENT, date_=T0), received_at=T0)], T0)
    shaping.merge(db, cfg, other.ticket_id, [tid], "ann", T0 + M, confirmed=True)
    f = file_one(db, cfg, reply_to_page(subject, frm=EMAILS["bob"], body="ack"), T0 + 2 * M)
    assert (f.outcome, f.ticket_id) == ("page-reply", other.ticket_id)
    t = tickets.get_ticket(db, other.ticket_id)
    assert (t["status"], t["acknowledged_by"]) == ("acknowledged", "bob")
    assert tickets.get_ticket(db, tid)["merged_into"] == other.ticket_id  # the merged one is left as it was
    ev = {e["kind"]: e for e in audit.events_for(db, other.ticket_id)}
    assert ev["acknowledged"]["detail"]["merged_from"] == tid
    assert f"from a page for #{tid}" in event_words(ev["acknowledged"])
    assert ev["page_reply_received"]["detail"]["note"] == f"#{tid} was merged into #{other.ticket_id}; acknowledged"
    # A second "ack" says what happened to the ticket it went into.
    g = file_one(db, cfg, reply_to_page(subject, frm=EMAILS["bob"], body="ack"), T0 + 3 * M)
    assert g.ticket_id == other.ticket_id
    [*_, last] = [e for e in audit.events_for(db, other.ticket_id) if e["kind"] == "page_reply_received"]
    assert last["detail"]["note"] == (f"#{tid} was merged into #{other.ticket_id};"
                                      f" #{other.ticket_id} was already acknowledged")
