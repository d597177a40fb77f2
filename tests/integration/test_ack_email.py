"""Acknowledging by replying to an email page (issue 15), end to end: the page goes out through apprise
mailto:// to a real SMTP sink (aiosmtpd); the staff member's reply comes back through a real Dovecot
(and, separately, through `support-console ingest`, as an MTA pipe would deliver it)."""
from __future__ import annotations

import pytest

from console.intake import page_replies
from tests.ack_helpers import EMAILS, reply_to_page, write_ack_config
from tests.integration import alerts_helpers as h
from tests.integration.helpers import query, wait_until
from tests.servers import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def mail_desk(tmp_path, dovecot, http_receiver, smtp_sink):
    """bob is paged by email (to his phone's mail address), cy and ann over HTTP."""
    notify = {x: [http_receiver.url(f"/{x}")] for x in h.HANDLES}
    notify["bob"] = [smtp_sink.mailto_url(to="bob@phone.example", from_="pager@desk.example")]
    port = free_port()
    return write_ack_config(tmp_path, dovecot=dovecot, notify=notify, listen=f"127.0.0.1:{port}",
                            base_url=f"http://127.0.0.1:{port}/ack")


def email_page(smtp_sink):
    [page] = smtp_sink.wait_for(1, timeout=15)
    return page


def test_a_reply_saying_ack_through_dovecot_acknowledges(mail_desk, dovecot, http_receiver, smtp_sink, poller,
                                                         tmp_path):
    db = tmp_path / "support.db"
    poller(mail_desk)
    dovecot.append(h.mail(1, subject="Checkout is down"))
    page = email_page(smtp_sink)
    [t] = h.tickets(db)
    assert page.rcpt_tos == ["bob@phone.example"]
    assert page.message["Reply-To"] == h.SUPPORT  # the desk's mailbox
    token = page_replies.token_in(page.subject)
    assert token and page.subject.startswith(f"[Class III] #{t['id']} NEW: Checkout is down")
    body = page.message.get_body(preferencelist=("plain",)).get_content()
    assert 'reply to this mail with "ack"' in body and f"/ack/{token}" in body
    http_receiver.wait_for(1, timeout=10)  # cy's page
    wait_until(lambda: {a["state"] for a in h.alerts(db)} == {"sent"}, 10, "pages sent")

    dovecot.append(reply_to_page(page.subject, frm=EMAILS["bob"], body="ack\r\nlooking now",
                                 in_reply_to=page.message["Message-ID"]))
    wait_until(lambda: h.tickets(db)[0]["status"] == "acknowledged", 15, "the ticket acknowledged by the reply")
    tickets = h.tickets(db)
    assert len(tickets) == 1 and tickets[0]["acknowledged_by"] == "bob"  # the reply is not a ticket
    kinds = query(db, "SELECT kind, from_addr FROM messages WHERE ticket_id = ? ORDER BY id", [t["id"]])
    assert kinds == [("new", "carl1@cust1.example"), ("reply", EMAILS["bob"])]
    detail = query(db, "SELECT detail FROM events WHERE kind = 'acknowledged'")[0][0]
    assert '"via": "email reply"' in detail
    # cy is told to stand down.
    [notice] = [r for r in http_receiver.wait_for(2, timeout=10) if "stand down" in r.body["title"]]
    assert h.path_of(notice) == "cy" and notice.body["title"] == f"#{t['id']} acknowledged by Bob Example, stand down"


def test_a_reply_through_ingest_acknowledges_and_a_forged_one_is_a_ticket(mail_desk, dovecot, smtp_sink,
                                                                          http_receiver, tmp_path):
    db = tmp_path / "support.db"
    h.cli(mail_desk, "poll", "--once")  # the desk's first sync, of an empty mailbox: what comes after pages
    dovecot.append(h.mail(1, subject="Checkout is down"))
    h.cli(mail_desk, "poll", "--once")  # the ticket, and its pages sent
    page = email_page(smtp_sink)
    [t] = h.tickets(db)

    token = page_replies.token_in(page.subject)
    forged = page.subject.replace(token, token[:-5] + ("AAAAA" if token[-5:] != "AAAAA" else "BBBBB"))
    r = h.cli(mail_desk, "ingest", input=reply_to_page(forged, frm="mallory@evil.example"))
    assert r.stdout.startswith("new (ticket #")  # not a page reply: ordinary mail, a ticket of its own
    assert h.tickets(db)[0]["status"] == "new"

    r = h.cli(mail_desk, "ingest", input=reply_to_page(page.subject, frm=EMAILS["bob"], body="Ack."))
    assert r.stdout.strip() == f"page-reply (ticket #{t['id']})"
    first = h.tickets(db)[0]
    assert (first["status"], first["acknowledged_by"]) == ("acknowledged", "bob")
    h.cli(mail_desk, "poll", "--once")  # sends the stand-down
    notices = [r for r in http_receiver.wait_for(2, timeout=10) if "stand down" in r.body["title"]]
    assert [h.path_of(n) for n in notices] == ["cy"]
