"""Acknowledging by replying to an email page (console/ack/by_mail.py, hooked into intake's filing).

Real SQLite file and the real intake pipeline; the page's subject comes from console.ack.links as it
would be sent. Through a real Dovecot and `ingest`: tests/integration/test_ack_email.py."""
from __future__ import annotations

from datetime import timedelta

import pytest

from console.ack import by_mail, links, tokens
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
    f = file_one(db, cfg, reply_to_page(subject, frm=EMAILS["bob"], body="Ack, on it"), T0 + 2 * M)
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


@pytest.mark.parametrize("body", ["Can't right now, driving", "", "on my way back"])
def test_a_reply_without_ack_in_its_own_words_does_not_acknowledge(db, cfg, body):
    # The quoted page below it says "ack" twice; only the reply's own text counts.
    tid, subject = page_subject(db, cfg)
    f = file_one(db, cfg, reply_to_page(subject, frm=EMAILS["bob"], body=body), T0 + M)
    assert (f.outcome, f.ticket_id) == ("page-reply", tid)
    assert tickets.get_ticket(db, tid)["status"] == "new"
    [ev] = [e for e in audit.events_for(db, tid) if e["kind"] == "page_reply_received"]
    assert ev["detail"]["acknowledged"] is False and '"ack"' in ev["detail"]["note"]


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
    tok = by_mail.token_in(subject)
    forged = subject.replace(tok, tok[:10] + ("A" if tok[10] != "A" else "B") + tok[11:])
    f = file_one(db, cfg, reply_to_page(forged, frm="mallory@evil.example"), T0 + M)
    assert f.outcome == "new" and f.ticket_id != tid
    assert tickets.get_ticket(db, tid)["status"] == "new"


def test_a_staff_mail_with_a_token_that_does_not_verify_is_kept_unfiled(db, cfg):
    tid, subject = page_subject(db, cfg)
    other = tokens.make(bytes(32), tokens.read(links.signing_key(cfg), by_mail.token_in(subject)))
    f = file_one(db, cfg, reply_to_page(subject.replace(by_mail.token_in(subject), other), frm=EMAILS["bob"]),
                 T0 + M)
    assert (f.outcome, f.ticket_id) == ("page-reply", None)
    assert [m["id"] for m in messages.unfiled_messages(db)] == [f.message_row]
    assert tickets.get_ticket(db, tid)["status"] == "new"


def test_own_text_stops_at_the_quoted_page():
    assert by_mail.says_ack("ack\n\nOn Mon, Desk wrote:\n> support-console ack 1")
    assert by_mail.says_ack("ACKNOWLEDGED.")
    assert not by_mail.says_ack("back in 5\n> ack")
    assert not by_mail.says_ack("no\n-----Original Message-----\nReply with ack")
    assert not by_mail.says_ack("later\n\nSent from my phone\nack")
    assert not by_mail.says_ack("hackathon tonight")
