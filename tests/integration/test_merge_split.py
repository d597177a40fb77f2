"""Merge and split through real intake (issue 25 items 1 and 2): mail comes in by `ingest` (as from an MTA) or
from a real Dovecot by `poll --once`; pages go out through the real scheduler and apprise json:// to a real
HTTP receiver on loopback. bob is primary and cy secondary; ann is the supervisor."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration import alerts_helpers as h
from tests.integration.helpers import mail as plain_mail

pytestmark = pytest.mark.integration

CARL = "carl1@cust1.example"


def show(conf, tid: int) -> dict:
    return json.loads(h.cli(conf, "show", str(tid), "--json").stdout)


def test_merged_tickets_stand_down_later_mail_joins_the_target_and_unmerge_restores(tmp_path, http_receiver):
    # Pages one by one (no bundling): each ticket's own pages are what this test follows.
    conf = h.write_config(tmp_path, notify={x: [http_receiver.url(f"/{x}")] for x in h.HANDLES},
                          alerts={"bundle_window": "0s"})
    db = tmp_path / "support.db"
    h.cli(conf, "ingest", input=h.mail(1, subject="DNS service is down"))
    h.cli(conf, "ingest", input=h.mail(2, frm=CARL, subject="Still no DNS"))  # the same outage, mailed again
    h.cli(conf, "poll", "--once")
    assert len(http_receiver.wait_for(4, timeout=10)) == 4  # each ticket paged bob and cy
    a, b = (t["id"] for t in h.tickets(db))
    b_before = show(conf, b)

    r = h.cli(conf, "--as", "bob", "merge", str(a), str(b), check=False)
    assert (r.returncode, r.stderr.count("\n")) == (77, 1), r.stderr
    h.cli(conf, "--as", "ann", "merge", str(a), str(b))
    h.cli(conf, "poll", "--once")
    downs = sorted((h.path_of(x), x.body["title"]) for x in http_receiver.wait_for(6, timeout=10)[4:])
    # #a still awaits first contact: those paged for #b are told to follow it (#a's pages go on)
    assert downs == [("bob", f"#{b} merged into #{a} by Ann Example: follow #{a}"),
                     ("cy", f"#{b} merged into #{a} by Ann Example: follow #{a}")]
    assert len(show(conf, a)["messages"]) == 2  # #b's mail is on #a now
    assert show(conf, b)["merged_into"] == a and show(conf, b)["messages"] == []

    # The customer answers the mail of the merged ticket, and once more by its subject tag: both join #a.
    b_msgid = f"<{b_before['messages'][0]['message_id']}>"
    h.cli(conf, "ingest", input=plain_mail("r1", frm=CARL, to=h.URGENT, subject="Re: Still no DNS",
                                           msgid="<r1@cust1.example>", extra=f"In-Reply-To: {b_msgid}"))
    h.cli(conf, "ingest", input=plain_mail("r2", frm=CARL, to=h.URGENT, subject=f"Re: [#{b}] any news?",
                                           msgid="<r2@cust1.example>"))
    target = show(conf, a)
    assert {"r1@cust1.example", "r2@cust1.example"} <= {m["message_id"] for m in target["messages"]}
    assert len(h.tickets(db)) == 2  # no new ticket, and #b was not reopened
    assert show(conf, b)["status"] == "resolved"

    h.cli(conf, "--as", "ann", "unmerge", str(b))
    after = show(conf, b)
    assert after["merged_into"] is None
    for k in ("class", "status", "received_at", "due_at", "acknowledged_at", "assignee"):
        assert after[k] == b_before[k], k
    assert [m["id"] for m in after["messages"]] == [m["id"] for m in b_before["messages"]]
    assert [e["kind"] for e in after["events"]][-1] == "unmerged"


def test_a_split_ticket_is_paged_on_its_own_clock(desk, dovecot, http_receiver, tmp_path):
    """A Class I ticket whose customer's reply, sent to urgent@ 16 minutes ago, raised a second, urgent
    problem: split off, it is a Class III ticket that breached a minute ago, and the real scheduler pages
    the team and the supervisors for that breach at once."""
    conf = desk()
    db = tmp_path / "support.db"
    h.cli(conf, "poll", "--once")  # the desk has read the mailbox before: this mail is new, not its history
    now = datetime.now(UTC)
    c = dovecot.client()
    try:
        c.append("INBOX", plain_mail(1, frm=CARL, subject="Question about our invoice", msgid="<q1@cust1.example>"),
                 msg_time=now - timedelta(hours=1))
        c.append("INBOX", plain_mail(2, frm=CARL, to=h.URGENT, subject="Re: Question about our invoice",
                                     msgid="<q2@cust1.example>", extra="In-Reply-To: <q1@cust1.example>",
                                     body="Also: our mail server is down since a minute ago!\r\n"),
                 msg_time=now - timedelta(minutes=16))
    finally:
        c.logout()
    h.cli(conf, "poll", "--once")
    [a] = h.tickets(db)
    assert a["class"] == "I"
    first, second = show(conf, a["id"])["messages"]
    assert not h.alerts(db)  # a Class I ticket pages nobody at arrival

    out = h.cli(conf, "--as", "ann", "split", str(a["id"]), str(second["id"])).stdout
    new = [t for t in h.tickets(db) if t["id"] != a["id"]]
    assert len(new) == 1 and f"#{new[0]['id']} split from #{a['id']}" in out
    t = show(conf, new[0]["id"])
    assert (t["class"], t["split_from"], t["received_at"]) == ("III", a["id"], second["received_at"])
    arrived = h.parse_iso(second["received_at"])
    assert h.parse_iso(t["due_at"]) == arrived + timedelta(minutes=15)  # from the mail's arrival, not the split
    assert [m["id"] for m in t["messages"]] == [second["id"]]
    assert show(conf, a["id"])["split_into"] == [t["id"]]
    assert [e["kind"] for e in show(conf, a["id"])["events"]][-1] == "split_to"

    h.cli(conf, "poll", "--once")
    pages = h.alerts(db, ticket_id=t["id"])
    assert {p["step"] for p in pages} == {"breach"}
    assert sorted(p["target"] for p in pages) == ["ann", "bob", "cy"]
    got = http_receiver.wait_for(3, timeout=10)
    assert sorted(h.path_of(r) for r in got) == ["ann", "bob", "cy"]
    assert all(f"#{t['id']}" in r.body["title"] for r in got)
