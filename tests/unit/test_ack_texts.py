"""What pages and stand-down notices say (console/ack/texts.py): enough to act on, the title within 160."""
from __future__ import annotations

from datetime import timedelta

from console import policy as pol
from console.ack import texts
from store.times import iso
from tests.ack_helpers import ack_cfg
from tests.integration.alerts_helpers import T0

M = timedelta(minutes=1)


def ticket(**kw):
    t = {"id": 12, "class": "III", "subject": "DNS service is down", "requester": "carl@cust.example",
         "requester_name": "Carl", "received_at": iso(T0), "due_at": iso(T0 + 15 * M), "assignee": None,
         "last_message_at": iso(T0), "acknowledged_at": None}
    t.update(kw)
    return t


def step(kind="escalate"):
    return pol.Step(name=kind, cls="III", at=T0 + 10 * M, kind=kind, audience=("team",), urgent=True)


def test_the_title_says_who_has_it_how_long_and_whether_the_customer_wrote_again(tmp_path):
    cfg = ack_cfg(tmp_path)
    title, body = texts.page_text(ticket(), step(), T0 + 10 * M, cfg)
    assert title == "[Class III] #12 ESCALATED: DNS service is down (unassigned, 10m00s ago)"
    title, body = texts.page_text(ticket(assignee="cy", last_message_at=iso(T0 + 4 * M)), step(), T0 + 10 * M, cfg)
    assert title == "[Class III] #12 ESCALATED: DNS service is down (assigned cy, 10m00s ago, customer wrote again)"
    assert "Assigned to: Cy Example" in body
    assert "Arrived 10m00s ago" in body and "First contact due in 5m00s" in body
    assert "The customer wrote again (last Mon 16:04 UTC)." in body
    assert "support-console ack 12" in body


def test_a_long_subject_is_cut_so_the_essentials_fit_in_160(tmp_path):
    cfg = ack_cfg(tmp_path)
    long = "Checkout is down for every customer " * 12
    title, _ = texts.page_text(ticket(subject=long, last_message_at=iso(T0 + M)), step("breach"),
                               T0 + 16 * M, cfg)
    assert len(title) <= texts.TITLE_LIMIT
    assert title.startswith("[Class III] #12 BREACHED: Checkout is down")
    assert title.endswith("… (unassigned, 16m00s ago, customer wrote again)")


def test_mail_text_is_one_clean_line(tmp_path):
    cfg = ack_cfg(tmp_path)
    title, body = texts.page_text(ticket(subject="down\r\nBcc: x@y\x1b[31m red", requester_name="\x07Carl\nX"),
                                  step("page"), T0, cfg)
    assert "\n" not in title and "\x1b" not in title and "\x07" not in body
    assert title.startswith("[Class III] #12 NEW: down Bcc: x@y")


def test_stand_down_names_the_ticket_and_who_acknowledged(tmp_path):
    cfg = ack_cfg(tmp_path)
    title, body = texts.standdown_text(ticket(), "bob", "acknowledged", T0 + 3 * M, cfg)
    assert title == "#12 acknowledged by Bob Example, stand down"
    assert "DNS service is down" in body and "Mon 16:03 UTC" in body
