"""Issue 11's items 2-6 against the hostile corpus (tests/hostile): no urgent mail stranded, dropped,
hijacked or stuck behind a bad one."""
from __future__ import annotations

import json
import sqlite3
import time

import pytest

from console import actions
from console.intake import analysis, pipeline
from console.intake.parse import parse_message
from console.intake.pipeline import Incoming, file_messages
from store import audit, messages, outbox, tickets
from tests import hostile as H
from tests.factories import T0

KEY = ("acct", "INBOX", 1)


def file1(db, cfg, raw, uid=None, now=T0):
    return file_messages(db, cfg, [Incoming(raw=raw, uid=uid)], now, mailbox_key=KEY if uid else None)[0]


def events(db, ticket_id, kind):
    return [e["detail"] for e in audit.events_for(db, ticket_id) if e["kind"] == kind]


# --- 2. one bad message never stops intake ---------------------------------------------------------

def test_300000_references_file_like_any_reply(db, cfg):
    f = file1(db, cfg, H.many_references())
    assert f.outcome == "new" and not tickets.get_ticket(db, f.ticket_id)["quarantined"]
    refs = messages.messages_for(db, f.ticket_id)[0]["refs"]
    assert len(refs) == 100 and refs[0] == "r0@thread.example" and refs[-1] == "r299999@thread.example"


def test_a_message_that_cannot_be_filed_is_quarantined_and_the_batch_goes_on(db, cfg, monkeypatch):
    real = messages.add_message

    def too_many(db_, **kw):
        if "poison" in kw["columns"][12]:  # the body text: what the quarantined copy no longer holds
            raise sqlite3.OperationalError("too many SQL variables")  # an SQLite limit the message hit
        return real(db_, **kw)

    monkeypatch.setattr(messages, "add_message", too_many)
    batch = [H.message(msgid="<a@c>", body="before"), H.message(msgid="<p@c>", subject="poison", body="poison"),
             H.message(to=H.DESK_URGENT, msgid="<u@c>", subject="DNS down")]
    filed = file_messages(db, cfg, [Incoming(raw=r, uid=i + 1) for i, r in enumerate(batch)], T0, mailbox_key=KEY)
    monkeypatch.setattr(messages, "add_message", real)
    assert [f.outcome for f in filed] == ["new", "quarantined", "new"]
    bad = tickets.get_ticket(db, filed[1].ticket_id)
    assert bad["quarantined"] and bad["subject"] == "poison"
    kept = messages.messages_for(db, bad["id"])[0]
    assert messages.raw_message(db, kept["id"]) == batch[1]
    assert any("too many SQL variables" in d for d in kept["defects"])
    assert tickets.get_ticket(db, filed[2].ticket_id)["class"] == "III"
    assert sorted(p["target"] for p in outbox.list_alerts(db, ticket_id=filed[2].ticket_id)) == ["bob", "cy"]
    # the next poll finds them all known: the batch does not fail twice
    again = file_messages(db, cfg, [Incoming(raw=r, uid=i + 1) for i, r in enumerate(batch)], T0, mailbox_key=KEY)
    assert [f.outcome for f in again] == ["duplicate"] * 3
    # and the same poison delivered again by another route is the same quarantined message
    assert file1(db, cfg, batch[1]).outcome == "duplicate"


def test_a_parser_crash_is_quarantined_too(db, cfg, monkeypatch):
    def boom(raw, routing, max_bytes):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(pipeline, "analyze", boom)
    raw = H.message(msgid="<r@c>")
    f = file1(db, cfg, raw, uid=1)
    assert f.outcome == "quarantined" and tickets.get_ticket(db, f.ticket_id)["quarantined"]
    assert messages.raw_message(db, f.message_row) == raw  # kept whole
    # The same mail delivered again through one more relay is a duplicate, not a second ticket.
    again = file1(db, cfg, H.with_trace(raw, "Received: from relay2.example by mx.desk.example"), uid=2)
    assert again.outcome == "duplicate" and again.ticket_id == f.ticket_id


@pytest.mark.parametrize("exc", [sqlite3.OperationalError("database is locked"), OSError(28, "No space left"),
                                 sqlite3.OperationalError("attempt to write a readonly database")])
def test_infrastructure_failures_stop_the_batch_to_be_retried_whole(db, cfg, monkeypatch, exc):
    def fail(db_, **kw):
        raise exc

    monkeypatch.setattr(messages, "add_message", fail)
    with pytest.raises(type(exc)):
        file_messages(db, cfg, [Incoming(raw=H.message(), uid=1)], T0, mailbox_key=KEY)
    assert messages.count_messages(db) == 0 and tickets.list_tickets(db) == []


def test_sqlite_error_codes_decide_what_is_infrastructure():
    for code, infra in ((5, True), (8, True), (13, True), (10 | (3 << 8), True), (1, False), (18, False),
                        (19, False)):
        exc = sqlite3.OperationalError("x")
        exc.sqlite_errorcode = code
        assert pipeline.is_infrastructure(exc) is infra, code
    assert not pipeline.is_infrastructure(RecursionError())


# --- 3. bounded work per message -------------------------------------------------------------------

BOUNDED = [H.many_encoded_words, H.huge_header, H.many_references, H.many_addresses, H.many_parts,
           H.quoted_semicolons, H.unclosed_scripts, lambda: H.deep_html(3000)]


@pytest.mark.parametrize("build", BOUNDED, ids=lambda b: getattr(b, "__name__", "deep_html_3000"))
def test_no_message_takes_more_than_about_2s_of_cpu_to_file(db, cfg, build):
    raw = build()
    t0 = time.process_time()
    f = file1(db, cfg, raw)
    cpu = time.process_time() - t0
    assert f.ticket_id is not None
    assert cpu < 2.0, f"{cpu:.2f}s of CPU"  # the quadratic versions took 18 s and more


def test_encoded_words_are_decoded_up_to_the_cap():
    m = parse_message(H.many_encoded_words(80_000))
    assert m.subject.startswith("caf\u00e9caf\u00e9") and m.subject.count("caf\u00e9") == 1000
    assert any("encoded words" in d for d in m.defects)
    assert parse_message(H.message(subject="=?utf-8?b?w4lsw6k=?= =?utf-8?q?_ok?=")).subject == "\u00c9l\u00e9 ok"


def test_text_beyond_deep_html_nesting_is_kept_and_the_customers_mark_counts(db, cfg):
    m = parse_message(H.deep_html(300))
    assert "Class III: the database is down" in m.body_text
    assert any("tags stripped" in d for d in m.defects)
    f = file1(db, cfg, H.deep_html(300))
    assert tickets.get_ticket(db, f.ticket_id)["class"] == "III"
    shallow = parse_message(H.deep_html(20))  # inscriptis keeps it: no fallback, no defect
    assert "Class III" in shallow.body_text and not shallow.defects


def test_participants_are_capped(db, cfg):
    f = file1(db, cfg, H.many_addresses())
    n = db.execute("SELECT count(*) FROM ticket_participants WHERE ticket_id = ?", [f.ticket_id]).fetchone()[0]
    assert n == analysis.MAX_PARTICIPANTS


# --- 4. mail to routing.urgent is never silently suppressed -----------------------------------------

@pytest.mark.parametrize("header, frm", [
    ("Auto-Submitted: auto-generated", "Nagios <nagios@mon.example>"),
    ("X-Auto-Response-Suppress: All", "Nagios <nagios@mon.example>"),
    ("Precedence: list", "Nagios <nagios@mon.example>"),
    ("X-Monitor: 1", "postmaster@mon.example"),
])
def test_machine_mail_to_urgent_opens_a_class_iii_ticket_flagged_automated(db, cfg, header, frm):
    f = file1(db, cfg, H.monitoring_alert(header, frm))
    assert f.outcome == "new"
    t = tickets.get_ticket(db, f.ticket_id)
    assert (t["class"], t["automated"], t["status"]) == ("III", 1, "new")
    assert sorted(p["target"] for p in outbox.list_alerts(db, ticket_id=t["id"])) == ["bob", "cy"]  # paged


def test_a_bounce_to_urgent_that_matches_no_ticket_is_shown_as_a_flagged_ticket(db, cfg):
    f = file1(db, cfg, H.bounce_to_urgent())
    t = tickets.get_ticket(db, f.ticket_id)
    assert t["automated"] and t["class"] == "III"


def test_an_auto_reply_that_threads_stays_off_the_dashboard(db, cfg):
    first = file1(db, cfg, H.monitoring_alert())
    ooo = H.reply_from("Nagios <nagios@mon.example>", "<ooo@mon.example>", "<alert@mon.example>")
    auto = file1(db, cfg, H.with_trace(ooo, "Auto-Submitted: auto-replied").replace(
        b"To: support@desk.example", b"To: urgent@desk.example"))
    assert (auto.outcome, auto.ticket_id) == ("autoreply", first.ticket_id)
    assert len(tickets.list_tickets(db)) == 1
    # and machine mail to support@ that threads nowhere is kept unfiled, as before
    assert file1(db, cfg, H.monitoring_alert().replace(b"To: urgent@", b"To: support@").replace(
        b"alert@", b"alert2@")).ticket_id is None


# --- 5. threading that cannot be hijacked ------------------------------------------------------------

def test_a_strangers_reply_headers_open_a_new_ticket_naming_the_one_referred_to(db, cfg):
    victim = file1(db, cfg, H.message(frm="vic@cust.example", msgid="<v1@cust.example>"))
    actions.resolve(db, cfg, victim.ticket_id, "ann", T0)
    huge = H.reply_from("eve@evil.example", "<e1@evil.example>", "<v1@cust.example>", body="x" * 100_000)
    f = file1(db, cfg, huge)
    assert f.outcome == "new" and f.ticket_id != victim.ticket_id
    t = tickets.get_ticket(db, victim.ticket_id)
    assert t["status"] == "resolved" and not t["quarantined"]  # not reopened, not quarantined
    assert not tickets.is_participant(db, victim.ticket_id, "eve@evil.example")
    [refused] = events(db, f.ticket_id, "thread_refused")
    assert refused["reason"] == "header-not-participant" and refused["referred"] == victim.ticket_id
    # so her [#N] tags are not accepted either
    tag = file1(db, cfg, H.message(frm="eve@evil.example", msgid="<e2@evil.example>",
                                   subject=f"Re: [#{victim.ticket_id}] x"))
    assert tag.ticket_id not in (None, victim.ticket_id)
    assert events(db, tag.ticket_id, "thread_refused")[0]["reason"] == "tag-not-participant"


def test_a_reused_message_id_resolves_to_the_senders_own_message(db, cfg):
    victim = file1(db, cfg, H.message(frm="vic@cust.example", msgid="<v1@cust.example>", body="mine"))
    attacker = file1(db, cfg, H.message(frm="eve@evil.example", msgid="<v1@cust.example>", body="forged copy"))
    assert attacker.ticket_id != victim.ticket_id  # other content: another message
    reply = file1(db, cfg, H.reply_from("vic@cust.example", "<v2@cust.example>", "<v1@cust.example>",
                                        body="my password is hunter2"))
    assert (reply.outcome, reply.ticket_id) == ("reply", victim.ticket_id)


def test_participants_staff_and_desk_ids_may_join(db, cfg, monkeypatch):
    first = file1(db, cfg, H.message(frm="vic@cust.example", msgid="<v1@cust.example>",
                                     extra="Cc: colleague@cust.example\r\n"))
    cc = file1(db, cfg, H.reply_from("colleague@cust.example", "<c1@cust.example>", "<v1@cust.example>"))
    assert (cc.outcome, cc.ticket_id) == ("reply", first.ticket_id)
    stranger = file1(db, cfg, H.reply_from("Bob <bob@desk.example>", "<b0@desk.example>", "<v1@cust.example>"))
    assert stranger.outcome == "new"  # before bob's address is in the config, he is a stranger
    cfg = cfg._replace(staff=tuple(s._replace(email="bob@desk.example") if s.handle == "bob" else s
                                   for s in cfg.staff))
    staff = file1(db, cfg, H.reply_from("Bob <bob@desk.example>", "<b1@desk.example>", "<v1@cust.example>"))
    assert (staff.outcome, staff.ticket_id) == ("reply", first.ticket_id)
    assert events(db, first.ticket_id, "reply_received")[-1]["matched"] == "header-staff"
    # a reply to mail the desk sent (kind 'outgoing', its id unguessable) joins from anyone it reached
    from store import write

    with write(db):
        messages.insert_message(db, raw=b"Message-ID: <desk-Zq8@desk.example>\r\n\r\nhello", raw_sha256="s",
                                ticket_id=first.ticket_id, kind="outgoing",
                                fields={"message_id": "desk-Zq8@desk.example"},
                                received_at=T0, now=T0, source="desk")
    fwd = file1(db, cfg, H.reply_from("boss@cust.example", "<f1@cust.example>", "<desk-Zq8@desk.example>"))
    assert (fwd.outcome, fwd.ticket_id) == ("reply", first.ticket_id)
    assert tickets.is_participant(db, first.ticket_id, "boss@cust.example")


# --- 6. duplicates by content, not by route ------------------------------------------------------------

def test_a_redelivery_with_more_trace_fields_is_the_same_message(db, cfg):
    raw = H.message(msgid="<d1@cust.example>")
    a = file1(db, cfg, raw, uid=1)
    b = file1(db, cfg, H.with_trace(raw, "Received: from relay2 by mx", "Delivered-To: support@desk.example",
                                    "ARC-Seal: i=1; a=rsa-sha256; cv=none", "X-Spam-Score: 0.1"), uid=2)
    c = file1(db, cfg, raw.replace(b"\r\n", b"\n"))  # an MTA pipe hands it over with LF line endings
    assert (a.outcome, b.outcome, c.outcome) == ("new", "duplicate", "duplicate")
    assert b.message_row == c.message_row == a.message_row and len(tickets.list_tickets(db)) == 1


def test_one_mail_to_support_and_urgent_through_a_per_recipient_pipe_is_one_class_iii_ticket(db, cfg):
    raw = H.message(msgid="<both@cust.example>", extra=f"Cc: {H.DESK_URGENT}\r\n", subject="site down")
    a = file1(db, cfg, H.with_trace(raw, "Delivered-To: support@desk.example", "Return-Path: <carl@cust.example>"))
    b = file1(db, cfg, H.with_trace(raw, "Delivered-To: urgent@desk.example", "Return-Path: <carl@cust.example>"))
    assert (a.outcome, b.outcome) == ("new", "duplicate") and len(tickets.list_tickets(db)) == 1
    assert tickets.get_ticket(db, a.ticket_id)["class"] == "III"


def test_a_bcc_to_urgent_arriving_as_the_second_copy_raises_the_ticket_to_class_iii(db, cfg):
    raw = H.message(msgid="<bcc@cust.example>", subject="site down")
    a = file1(db, cfg, H.with_trace(raw, "Delivered-To: support@desk.example"))
    assert tickets.get_ticket(db, a.ticket_id)["class"] == "I"
    b = file1(db, cfg, H.with_trace(raw, "Delivered-To: urgent@desk.example"))
    t = tickets.get_ticket(db, a.ticket_id)
    assert b.outcome == "duplicate" and t["class"] == "III"
    assert sorted(p["target"] for p in outbox.list_alerts(db, ticket_id=t["id"])) == ["bob", "cy"]
    assert events(db, t["id"], "reclassified")[0]["to"] == "III"


def test_a_bcc_to_urgent_in_a_first_syncs_history_raises_the_class_but_pages_nobody(db, cfg):
    raw = H.message(msgid="<bcc-old@cust.example>", subject="site down")
    items = [Incoming(raw=H.with_trace(raw, f"Delivered-To: {to}@desk.example"), uid=uid, history=True)
             for uid, to in ((1, "support"), (2, "urgent"))]
    a, b = file_messages(db, cfg, items, T0, mailbox_key=KEY)
    t = tickets.get_ticket(db, a.ticket_id)
    assert b.outcome == "duplicate" and t["class"] == "III"
    assert outbox.list_alerts(db, ticket_id=t["id"]) == [] and t["next_step_at"] is not None  # due later


def test_a_reused_message_id_with_other_content_is_another_message(db, cfg):
    a = file1(db, cfg, H.message(msgid="<same@cust.example>", body="one"))
    b = file1(db, cfg, H.message(msgid="<same@cust.example>", body="two"))
    assert a.outcome == b.outcome == "new" and a.ticket_id != b.ticket_id


def test_old_dedup_keys_are_recomputed_by_the_migration(db, cfg):
    raw = H.message(msgid="<old@cust.example>")
    f = file1(db, cfg, raw)
    db.execute("UPDATE messages SET dedup_key = ? WHERE id = ?",
               [messages.sha256(raw) + "|old@cust.example", f.message_row])  # as the old key was
    assert messages.rekey_all(db) == 1
    assert file1(db, cfg, H.with_trace(raw, "Received: from x")).outcome == "duplicate"
    assert json.loads(db.execute("SELECT defects FROM messages").fetchone()[0]) == []
