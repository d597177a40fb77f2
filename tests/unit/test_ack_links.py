"""Links and reply tokens added to a page as it is sent (console/ack/links.py): the outbox row itself
never holds a token; email targets get the token in the subject and the desk's mailbox as Reply-To."""
from __future__ import annotations

import urllib.parse

import pytest

from console.ack import keyfile, links, tokens
from console.outbox import pages
from console.outbox.pages import SendReport
from console.intake.pipeline import Incoming, file_messages
from store import outbox
from tests.ack_helpers import ack_cfg
from tests.integration.alerts_helpers import SUPPORT, T0, URGENT, mail


class Recorder:
    def __init__(self, outcome="sent"):
        self.calls, self.outcome = [], outcome

    def __call__(self, title, body, urls):
        self.calls.append((title, body, urls))
        return SendReport(self.outcome, [{"service": u.split("?")[0], "ok": self.outcome == "sent", "status": "X"}
                                         for u in urls])


def page_row(db, cfg, target="bob"):
    [f] = file_messages(db, cfg, [Incoming(raw=mail(1, to=URGENT, date_=T0), received_at=T0)], T0)
    return next(r for r in outbox.list_alerts(db, ticket_id=f.ticket_id) if r["target"] == target)


@pytest.fixture
def cfg(tmp_path):
    return ack_cfg(tmp_path, at=T0, base_url="https://desk.example/x/ack/")


def token_of(text):
    return text.rsplit("/", 1)[1].split()[0]


def test_a_page_gets_its_link_only_when_sent(db, cfg):
    row = page_row(db, cfg)
    assert "desk.example" not in row["body"] and "ack:" not in row["title"]
    send = Recorder()
    report = pages.send_page(row, ["json://127.0.0.1:9/bob"], cfg, send)
    [(title, body, urls)] = send.calls
    assert title == row["title"] and urls == ["json://127.0.0.1:9/bob"]
    line = body.splitlines()[-1]
    assert line.startswith("Acknowledge from your phone: https://desk.example/x/ack/")
    claim = tokens.read(keyfile.load(keyfile.key_path(cfg.store_path)), token_of(line))
    assert (claim.ticket_id, claim.alert_id, claim.handle) == (row["ticket_id"], row["id"], "bob")
    assert claim.expires - claim.issued == cfg.alerts.ack_link_lifetime
    assert report.outcome == "sent"
    # A retry sends the very same link.
    again = Recorder()
    pages.send_page(row, ["json://127.0.0.1:9/bob"], cfg, again)
    assert again.calls == send.calls


def test_email_targets_carry_the_token_in_the_subject_and_reply_to_the_desk(db, cfg):
    row = page_row(db, cfg)
    send = Recorder()
    mailto = "mailto://u:p@127.0.0.1:2525?mode=insecure&from=pager%40desk.example&to=bob%40phone.example"
    pages.send_page(row, ["json://127.0.0.1:9/bob", mailto], cfg, send)
    [(t1, b1, u1), (t2, b2, u2)] = send.calls
    assert u1 == ["json://127.0.0.1:9/bob"] and t1 == row["title"]
    assert t2.startswith(row["title"] + " [ack:") and t2.endswith("]")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(u2[0]).query)
    assert q["reply"] == [SUPPORT] and q["to"] == ["bob@phone.example"]
    assert 'reply to this mail with "ack"' in b2 and token_of(b1.splitlines()[-1]) in t2


def test_no_reply_token_for_someone_without_an_email_or_a_url_that_sets_reply(tmp_path, db):
    cfg = ack_cfg(tmp_path, at=T0, emails=False, base_url=None)
    row = page_row(db, cfg)
    send = Recorder()
    pages.send_page(row, ["mailto://127.0.0.1?to=bob%40phone.example"], cfg, send)
    assert send.calls == [(row["title"], row["body"], ["mailto://127.0.0.1?to=bob%40phone.example"])]
    assert not keyfile.key_path(cfg.store_path).exists()  # nothing signed, no key made
    assert links.with_reply_to("mailto://h?reply=me%40x.example", SUPPORT) == "mailto://h?reply=me%40x.example"


def test_without_a_base_url_pages_are_as_before(tmp_path, db):
    cfg = ack_cfg(tmp_path, at=T0, base_url=None)
    row = page_row(db, cfg)
    send = Recorder()
    pages.send_page(row, ["json://127.0.0.1:9/bob"], cfg, send)
    assert send.calls == [(row["title"], row["body"], ["json://127.0.0.1:9/bob"])]


def test_a_broken_key_file_never_stops_the_page(db, cfg, caplog):
    path = keyfile.key_path(cfg.store_path)
    path.write_text("x")
    path.chmod(0o644)
    row = page_row(db, cfg)
    send = Recorder()
    assert pages.send_page(row, ["json://127.0.0.1:9/bob"], cfg, send).outcome == "sent"
    assert send.calls == [(row["title"], row["body"], ["json://127.0.0.1:9/bob"])]
    assert "without its acknowledge link" in caplog.text


def test_the_desk_channel_and_stand_down_notices_get_no_link(db, cfg):
    row = page_row(db, cfg)
    for r in ({**row, "target": "@desk"}, {**row, "step": outbox.STANDDOWN}):
        send = Recorder()
        pages.send_page(r, ["json://127.0.0.1:9/x"], cfg, send)
        assert send.calls == [(r["title"], r["body"], ["json://127.0.0.1:9/x"])]


def test_one_report_for_a_row_sent_in_two_calls(tmp_path):
    ok = SendReport("sent", [{"service": "a", "ok": True}])
    bad = SendReport("failed", [{"service": "b", "ok": False}], "failed: b")
    slow = SendReport("timeout", [], "timed out")
    assert pages.merge([ok, ok]).outcome == "sent"
    merged = pages.merge([ok, bad])
    assert merged.outcome == "failed" and [r["service"] for r in merged.results] == ["a", "b"]
    assert pages.merge([bad, slow]).outcome == "timeout"


def test_links_are_served_at_the_path_of_the_base_url(tmp_path):
    for url, prefix in (("https://d.example", "/"), ("https://d.example/", "/"), ("http://d.example/a/b", "/a/b/")):
        assert links.route_prefix(ack_cfg(tmp_path, base_url=url)) == prefix


def test_a_link_for_a_page_of_a_ticket_merged_since_acknowledges_the_ticket_it_went_into(db, cfg):
    from datetime import timedelta

    from console import shaping
    from console.clock import FrozenClock
    from console.web.ack_server import Handlers
    from store import tickets

    row = page_row(db, cfg)
    send = Recorder()
    pages.send_page(row, ["json://127.0.0.1:9/bob"], cfg, send)
    token = token_of(send.calls[0][1].splitlines()[-1])
    [other] = file_messages(db, cfg, [Incoming(raw=mail(2, to=URGENT, date_=T0), received_at=T0)], T0)
    shaping.merge(db, cfg, other.ticket_id, [row["ticket_id"]], "ann", T0, confirmed=True)
    handlers = Handlers(cfg, FrozenClock(T0 + timedelta(minutes=2)))
    try:
        shown = handlers.show(token)
        assert (shown.status, shown.title) == (200, f"#{other.ticket_id} needs first contact")
        assert ("Paged for", f"#{row['ticket_id']}, since merged into #{other.ticket_id}") in shown.facts
        done = handlers.act(token)
        assert (done.status, done.title) == (200, f"#{other.ticket_id} acknowledged by Bob Example")
        t = tickets.get_ticket(db, other.ticket_id)
        assert (t["status"], t["acknowledged_by"]) == ("acknowledged", "bob")
        again = handlers.show(token)
        assert (again.status, again.title) == (410, f"#{other.ticket_id} was already acknowledged")
    finally:
        handlers.pool.shutdown()
