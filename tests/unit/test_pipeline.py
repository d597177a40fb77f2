"""Filing mail: new tickets, replies, reopen, auto-replies, subject tags, and all-or-nothing batches."""
import json
from datetime import timedelta

import pytest

from console import actions
from console import policy as pol
from console.intake import pipeline
from console.intake.pipeline import Incoming, file_messages
from store import audit, mailbox, messages, outbox, tickets
from store.times import parse_iso
from tests.factories import T0, mail


def file1(db, cfg, raw, now=T0, **kw):
    return file_messages(db, cfg, [Incoming(raw=raw)], now, **kw)[0]


def test_urgent_mail_opens_class_iii_and_pages_on_arrival_in_the_same_commit(db, cfg):
    f = file1(db, cfg, mail(to="urgent@desk.example", subject="DNS down"))
    t = tickets.get_ticket(db, f.ticket_id)
    assert (f.outcome, t["class"], t["status"]) == ("new", "III", "new")
    assert parse_iso(t["due_at"]) - parse_iso(t["received_at"]) == timedelta(minutes=15)
    pages = outbox.list_alerts(db, ticket_id=f.ticket_id)
    # rotation starts with bob on 2026-11-02: primary bob, secondary cy
    assert sorted(p["target"] for p in pages) == ["bob", "cy"]
    assert all(p["state"] == "pending" and p["urgent"] for p in pages)


def test_support_mail_is_class_i_unless_marked(db, cfg):
    a = file1(db, cfg, mail(subject="How do I use USENET news?", message_id="<a@c>"))
    b = file1(db, cfg, mail(subject="Class II: I forgot my password", message_id="<b@c>"))
    assert tickets.get_ticket(db, a.ticket_id)["class"] == "I"
    assert tickets.get_ticket(db, b.ticket_id)["class"] == "II"


def test_reply_joins_its_ticket_and_never_opens_one(db, cfg):
    first = file1(db, cfg, mail(message_id="<root@c>"))
    reply = file1(db, cfg, mail(subject="Re: Help", message_id="<r1@c>", extra="In-Reply-To: <root@c>\r\n"))
    deep = file1(db, cfg, mail(subject="Re: Re: Help", message_id="<r2@c>",
                               extra="References: <root@c> <r1@c>\r\n"))
    assert reply.outcome == deep.outcome == "reply"
    assert reply.ticket_id == deep.ticket_id == first.ticket_id
    assert len(tickets.list_tickets(db)) == 1
    assert tickets.list_tickets(db)[0]["message_count"] == 3


def test_reply_to_resolved_ticket_reopens_with_audit(db, cfg):
    first = file1(db, cfg, mail(message_id="<root@c>"))
    actions.acknowledge(db, cfg, first.ticket_id, "ann", T0)
    actions.resolve(db, cfg, first.ticket_id, "ann", T0)
    again = file1(db, cfg, mail(subject="Re: Help", message_id="<r1@c>", extra="In-Reply-To: <root@c>\r\n"))
    t = tickets.get_ticket(db, first.ticket_id)
    assert again.outcome == "reopened"
    assert t["status"] == "acknowledged" and t["resolved_at"] is None  # contact was made: the clock stays stopped
    kinds = [e["kind"] for e in __import__("store").audit.events_for(db, first.ticket_id)]
    assert "reopened" in kinds


def test_reply_to_a_ticket_resolved_without_contact_reopens_it_new(db, cfg):
    first = file1(db, cfg, mail(message_id="<root@c>"))
    actions.resolve(db, cfg, first.ticket_id, "ann", T0)
    t = tickets.get_ticket(db, first.ticket_id)
    assert (t["first_contact"], t["acknowledged_at"], t["acknowledged_by"]) == ("none", None, None)
    again = file1(db, cfg, mail(subject="Re: Help", message_id="<r1@c>", extra="In-Reply-To: <root@c>\r\n"))
    t = tickets.get_ticket(db, first.ticket_id)
    assert again.outcome == "reopened"
    assert (t["status"], t["first_contact"]) == ("new", None)  # nobody ever made contact: its clock shows again


def test_subject_tag_counts_only_from_a_participant(db, cfg):
    first = file1(db, cfg, mail(frm="carl@cust.example", message_id="<root@c>"))
    tag = f"[#{first.ticket_id}]"
    own = file1(db, cfg, mail(frm="carl@cust.example", subject=f"more info {tag}", message_id="<x1@c>"))
    stranger = file1(db, cfg, mail(frm="mallory@evil.example", subject=f"pwn {tag}", message_id="<x2@c>"))
    assert own.outcome == "reply" and own.ticket_id == first.ticket_id
    assert stranger.outcome == "new" and stranger.ticket_id != first.ticket_id


def test_auto_reply_and_bounce_never_open_tickets_but_are_kept(db, cfg):
    first = file1(db, cfg, mail(message_id="<root@c>"))
    auto = file1(db, cfg, mail(subject="Out of office", message_id="<ooo@c>",
                               extra="Auto-Submitted: auto-replied\r\nIn-Reply-To: <root@c>\r\n"))
    orphan = file1(db, cfg, mail(frm="MAILER-DAEMON@mx.example", subject="Undelivered", message_id="<b@c>",
                                 body="Your message could not be delivered."))
    assert auto.outcome == "autoreply" and auto.ticket_id == first.ticket_id
    assert orphan.outcome == "bounce" and orphan.ticket_id is None
    assert len(tickets.list_tickets(db)) == 1
    assert [m["kind"] for m in messages.unfiled_messages(db)] == ["bounce"]
    # an auto-reply is not first contact
    assert tickets.get_ticket(db, first.ticket_id)["status"] == "new"


def test_call_me_only_mail_is_flagged(db, cfg):
    f = file1(db, cfg, mail(subject="call me", body="I have a problem, please call me at 555-1212."))
    assert tickets.get_ticket(db, f.ticket_id)["needs_details"] == 1


def test_same_bytes_twice_stored_once_across_sources(db, cfg):
    raw = mail()
    key_a, key_b = ("acct", "INBOX", 1), ("acct", "INBOX", 2)
    a = file_messages(db, cfg, [Incoming(raw=raw, uid=5)], T0, mailbox_key=key_a)[0]
    b = file_messages(db, cfg, [Incoming(raw=raw, uid=1)], T0, mailbox_key=key_b)[0]
    assert (a.outcome, b.outcome) == ("new", "duplicate")
    assert b.message_row == a.message_row
    assert messages.count_messages(db) == 1
    assert db.execute("SELECT count(*) FROM message_sources").fetchone()[0] == 2
    assert mailbox.get_watermark(db, "acct", "INBOX") == (2, 1)


def test_batch_is_all_or_nothing(db, cfg, monkeypatch):
    good = Incoming(raw=mail(message_id="<g@c>"), uid=1)
    boom = Incoming(raw=mail(message_id="<b@c>"), uid=2)
    real = pipeline._file_one

    def fail_on_second(db_, cfg_, item, *a, **kw):
        if item.uid == 2:
            raise OSError("disk full")
        return real(db_, cfg_, item, *a, **kw)

    monkeypatch.setattr(pipeline, "_file_one", fail_on_second)
    with pytest.raises(OSError):
        file_messages(db, cfg, [good, boom], T0, mailbox_key=("acct", "INBOX", 9))
    assert messages.count_messages(db) == 0
    assert tickets.list_tickets(db) == []
    assert mailbox.get_watermark(db, "acct", "INBOX") is None
    assert outbox.list_alerts(db) == []


def test_arrival_time_is_internaldate_but_never_in_the_future(db, cfg):
    early = file_messages(db, cfg, [Incoming(raw=mail(message_id="<e@c>"), received_at=T0 - timedelta(hours=1))],
                          T0)[0]
    future = file_messages(db, cfg, [Incoming(raw=mail(message_id="<f@c>"), received_at=T0 + timedelta(hours=1))],
                           T0)[0]
    assert tickets.get_ticket(db, early.ticket_id)["received_at"] == "2026-11-02T15:00:00Z"
    late = tickets.get_ticket(db, future.ticket_id)
    assert late["received_at"] == "2026-11-02T16:00:00Z"
    # the deadline follows the clamped arrival, not the future INTERNALDATE the parsing stage saw
    assert parse_iso(late["due_at"]) == pol.deadline("I", T0, cfg.sla)


def test_one_batch_threads_mail_onto_tickets_it_opened_itself(db, cfg):
    # A later mail of the same batch that refers to a ticket the batch opened finds it, and the audit
    # log keeps arrival order.
    key = ("acct", "INBOX", 4)
    batch = [
        mail(frm="ann@cust.example", message_id="<a@c>"),
        mail(frm="ann@cust.example", subject="Re: Help", message_id="<a2@c>", extra="In-Reply-To: <a@c>\r\n"),
        mail(to="urgent@desk.example", subject="DNS down", message_id="<u@c>"),
        mail(frm="ann@cust.example", subject="more [#1]", message_id="<a3@c>"),
        mail(frm="ann@cust.example", subject="Away", message_id="<o@c>",
             extra="Auto-Submitted: auto-replied\r\nReferences: <a@c>\r\n"),
        mail(frm="bob@cust.example", subject="Printer", message_id="<b@c>"),
    ]
    filed = file_messages(db, cfg, [Incoming(raw=r, uid=i + 1) for i, r in enumerate(batch)], T0, mailbox_key=key)
    assert [(f.outcome, f.ticket_id) for f in filed] == [
        ("new", 1), ("reply", 1), ("new", 2), ("reply", 1), ("autoreply", 1), ("new", 3)]
    assert [e["kind"] for e in audit.events_for(db, 1)] == [
        "created", "reply_received", "reply_received", "autoreply_received"]
    assert sorted(t["id"] for t in tickets.list_tickets(db)) == [1, 2, 3]
    assert sorted(p["target"] for p in outbox.list_alerts(db, ticket_id=2)) == ["bob", "cy"]
    stored = db.execute("SELECT m.id, m.ticket_id, s.uid FROM messages m JOIN message_sources s"
                        " ON s.message_row = m.id ORDER BY s.uid").fetchall()
    assert [(t, uid) for _, t, uid in stored] == [(1, 1), (1, 2), (2, 3), (1, 4), (1, 5), (3, 6)]
    assert [f.message_row for f in filed] == [row for row, _, _ in stored]
    assert tickets.is_participant(db, 3, "bob@cust.example")
    assert mailbox.get_watermark(db, "acct", "INBOX") == (4, 6)


def test_same_bytes_twice_in_one_batch_stored_once(db, cfg):
    raw = mail(message_id="<twice@c>")
    key = ("acct", "INBOX", 3)
    first, second = file_messages(db, cfg, [Incoming(raw=raw, uid=1), Incoming(raw=raw, uid=2)], T0,
                                  mailbox_key=key)
    assert (first.outcome, second.outcome) == ("new", "duplicate")
    assert second.message_row == first.message_row and second.ticket_id == first.ticket_id
    assert messages.count_messages(db) == 1
    assert db.execute("SELECT count(*) FROM message_sources").fetchone()[0] == 2
    # fetched again (a re-poll): both uids are known sources, nothing new
    again = file_messages(db, cfg, [Incoming(raw=raw, uid=1), Incoming(raw=raw, uid=2)], T0, mailbox_key=key)
    assert [f.outcome for f in again] == ["duplicate", "duplicate"]
    assert messages.count_messages(db) == 1


def test_unfiled_and_raw_commands_show_kept_mail(db, cfg, tmp_path, capsys):
    from console.cli import main

    raw = mail(frm="MAILER-DAEMON@mx.example", subject="Undelivered \x1b[31mred", message_id="<b@c>")
    f = file1(db, cfg, raw)
    conf = tmp_path / "config.toml"
    conf.write_text(f'[store]\npath = "{cfg.store_path}"\n')
    assert main(["--config", str(conf), "unfiled", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(m["id"], m["kind"], m["subject"]) for m in listed] == [(f.message_row, "bounce", "Undelivered red")]
    assert main(["--config", str(conf), "raw", str(f.message_row)]) == 0
    assert capsys.readouterr().out.encode() == raw  # not a terminal: the stored bytes, exactly
    assert main(["--config", str(conf), "raw", "999"]) == 1
    assert "no message 999" in capsys.readouterr().err
