"""Replies, notes and the mail outbox in-process, against a real SMTP server (aiosmtpd) and a real SQLite
file, with a frozen clock: first contact, exactly-once delivery through an outage, 5xx, lost answers,
crashes, and intake's side (receipts, loops, threading back)."""
import json
from datetime import timedelta

import pytest

from console import actions
from console.clock import FrozenClock
from console.intake.pipeline import Incoming, file_messages
from console.poller import sync_staff
from console.outbox import mail as delivery
from console.replies import desk
from store import audit, messages, open_db, outbox, outgoing, tickets, write
from store.times import iso
from tests.factories import T0, desk_config, mail

pytestmark = pytest.mark.integration

DESK_FROM = "Example Support <support@desk.example>"


def smtp_table(sink, **kw):
    return {"host": "127.0.0.1", "port": sink.port, "security": "none", "from": DESK_FROM, "timeout_seconds": 5,
            "backoff_seconds": 10, "backoff_max_seconds": 40} | kw


@pytest.fixture
def make(tmp_path, smtp_sink):
    """make(smtp=..., replies=..., staff=...) -> (cfg, db) for a desk that sends to this test's sink."""
    made = []

    def _make(smtp=None, **kw):
        cfg = desk_config(tmp_path, smtp=smtp_table(smtp_sink, **(smtp or {})), **kw)
        sync_staff(cfg)
        db = open_db(cfg.store_path)
        made.append(db)
        return cfg, db

    yield _make
    for db in made:
        db.close()


@pytest.fixture
def clock():
    return FrozenClock(T0)


def file1(db, cfg, raw, now=T0, **kw):
    return file_messages(db, cfg, [Incoming(raw=raw)], now, **kw)[0]


def events(db, tid, kind=None):
    return [e for e in audit.events_for(db, tid) if kind is None or e["kind"] == kind]


def sender(cfg, clock):
    import threading

    s = delivery.MailSender(cfg, clock, threading.Event())
    s.start_up()
    return s


# --- a reply ----------------------------------------------------------------------------------------

def test_reply_is_first_contact_and_goes_out_threaded(make, clock, smtp_sink):
    cfg, db = make()
    f = file1(db, cfg, mail(to="urgent@desk.example", subject="DNS down", message_id="<m1@cust.example>",
                            extra="Cc: Dora <dora@cust.example>, support@desk.example\r\n"))
    assert {a["state"] for a in outbox.list_alerts(db, ticket_id=f.ticket_id)} == {"pending"}  # paged on arrival
    q = desk.send_reply(db, cfg, f.ticket_id, "We are looking at it.", "bob", clock.now())
    t = tickets.get_ticket(db, f.ticket_id)
    assert q.acknowledged and (t["status"], t["acknowledged_by"], t["assignee"]) == ("acknowledged", "bob", "bob")
    assert t["next_step_at"] is None  # escalation stopped
    assert {a["state"] for a in outbox.list_alerts(db, ticket_id=f.ticket_id)} == {"cancelled"}
    assert [e["kind"] for e in events(db, f.ticket_id)][-2:] == ["reply_queued", "acknowledged"]

    out = delivery.send_now(db, cfg, q.send_id, clock)
    assert out.state == "sent" and out.detail.startswith("250")
    [rec] = smtp_sink.wait_for(1)
    assert rec.mail_from == "support@desk.example"
    assert rec.rcpt_tos == ["carl@cust.example", "dora@cust.example"]
    m = rec.message
    assert m["Subject"] == f"Re: [#{f.ticket_id}] DNS down" and m["In-Reply-To"] == "<m1@cust.example>"
    assert m["Message-ID"] == f"<{q.mail.message_id}>" and m["Auto-Submitted"] is None
    assert rec.content == outgoing.raw_of(db, outgoing.get_send(db, q.send_id))  # the stored bytes went out
    stored = [x for x in messages.messages_for(db, f.ticket_id) if x["kind"] == "outgoing"]
    assert [x["message_id"] for x in stored] == [q.mail.message_id]
    assert outgoing.get_send(db, q.send_id)["state"] == "sent"
    assert events(db, f.ticket_id)[-1]["kind"] == "reply_sent"


def test_the_message_and_its_send_row_commit_together(make, clock, monkeypatch):
    cfg, db = make()
    f = file1(db, cfg, mail())
    monkeypatch.setattr(outgoing, "add_send", lambda *a, **kw: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        desk.send_reply(db, cfg, f.ticket_id, "Hello", "bob", clock.now())
    assert db.execute("SELECT count(*) FROM messages WHERE kind = 'outgoing'").fetchone()[0] == 0
    assert tickets.get_ticket(db, f.ticket_id)["status"] == "new"  # nor the acknowledgement


def test_reply_to_an_acknowledged_ticket_keeps_who_made_contact(make, clock, smtp_sink):
    cfg, db = make()
    f = file1(db, cfg, mail())
    actions.acknowledge(db, cfg, f.ticket_id, "bob", clock.now())
    q = desk.send_reply(db, cfg, f.ticket_id, "More news", "bob", clock.now())
    assert not q.acknowledged and tickets.get_ticket(db, f.ticket_id)["acknowledged_by"] == "bob"


def test_reply_permissions_and_stale_versions(make, clock):
    cfg, db = make()
    f = file1(db, cfg, mail())
    actions.take(db, cfg, f.ticket_id, "bob", clock.now())
    with pytest.raises(actions.ActionRefused, match="assigned to bob"):
        desk.send_reply(db, cfg, f.ticket_id, "Hi", "cy", clock.now())
    with pytest.raises(actions.ActionRefused, match="not on the staff list"):
        desk.send_reply(db, cfg, f.ticket_id, "Hi", "mallory", clock.now())
    draft = desk.draft_reply(db, cfg, f.ticket_id, "ann")
    actions.reclassify(db, cfg, f.ticket_id, "II", "ann", clock.now())
    with pytest.raises(actions.ActionRefused, match="changed since you loaded it"):
        desk.send_reply(db, cfg, f.ticket_id, draft.body, "ann", clock.now(), expected_version=draft.version)
    assert db.execute("SELECT count(*) FROM mail_outbox").fetchone()[0] == 0
    desk.send_reply(db, cfg, f.ticket_id, "Hi", "ann", clock.now())  # a supervisor may


def test_without_smtp_replies_are_not_set_up(tmp_path, clock):
    cfg = desk_config(tmp_path)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    f = file1(db, cfg, mail())
    with pytest.raises(desk.NotSetUp, match="not set up"):
        desk.send_reply(db, cfg, f.ticket_id, "Hi", "bob", clock.now())


def test_draft_holds_quote_signature_and_headers(make):
    cfg, db = make(staff=[{"handle": "ann", "name": "Ann", "role": "supervisor", "signature": "Ann\nDesk"}],
                   oncall={"rotation": ["ann"], "handoff": "mon 09:00", "start": "2026-11-02"})
    f = file1(db, cfg, mail(body="It prints nothing.", extra="Cc: dora@cust.example\r\n"))
    d = desk.draft_reply(db, cfg, f.ticket_id, "ann")
    assert d.to == "Carl <carl@cust.example>" and d.cc == ("dora@cust.example",)
    assert d.subject == f"Re: [#{f.ticket_id}] Help"
    assert "wrote:\n> It prints nothing.\n" in d.body and d.body.endswith("-- \nAnn\nDesk\n")
    t = desk.draft_reply(db, cfg, f.ticket_id, "ann", template="details")
    assert t.body.startswith("Hello Carl,") and "describe the problem" in t.body and t.body.endswith("Desk\n")
    assert set(desk.template_names(cfg)) >= {"receipt", "details"}


# --- the outbox ---------------------------------------------------------------------------------------

def test_an_outage_then_exactly_once(make, clock, smtp_sink):
    cfg, db = make()
    f = file1(db, cfg, mail())
    smtp_sink.stop()
    q = desk.send_reply(db, cfg, f.ticket_id, "Hello", "bob", clock.now())
    out = delivery.send_now(db, cfg, q.send_id, clock)
    assert out.state == "queued" and "connection refused" in out.detail
    row = outgoing.get_send(db, q.send_id)
    assert (row["state"], row["attempts"], row["next_attempt_at"]) == ("pending", 1, iso(T0 + timedelta(seconds=10)))
    s = sender(cfg, clock)
    assert s.cycle() == 0 and s.seconds_until_next() == 10  # not before its time
    clock.advance(10)
    assert s.cycle() == 1
    row = outgoing.get_send(db, q.send_id)
    assert (row["state"], row["attempts"], row["next_attempt_at"]) == (
        "pending", 2, iso(clock.now() + timedelta(seconds=20)))
    assert [e["kind"] for e in events(db, f.ticket_id, "reply_delayed")] == ["reply_delayed"]  # once, not per try
    smtp_sink.start()  # the same port again
    clock.advance(20)
    assert s.cycle() == 1
    assert len(smtp_sink.wait_for(1)) == 1
    for _ in range(3):
        clock.advance(60)
        assert s.cycle() == 0
    assert len(smtp_sink.records) == 1 and len(smtp_sink.transactions) == 1
    assert outgoing.get_send(db, q.send_id)["state"] == "sent"


def test_backoff_is_capped_and_the_sender_gives_up_in_the_end(make, clock, smtp_sink):
    cfg, db = make(smtp={"give_up_after": "2m"})
    smtp_sink.stop()
    f = file1(db, cfg, mail())
    q = desk.send_reply(db, cfg, f.ticket_id, "Hello", "bob", clock.now())
    s = sender(cfg, clock)
    waits = []
    while outgoing.get_send(db, q.send_id)["state"] == "pending":
        clock.advance(s.seconds_until_next())
        s.cycle()
        waits.append(int((clock.now() - T0).total_seconds()))
    assert waits == [0, 10, 30, 70, 110, 150]  # at once, then 10, 20, 40, the 40 s cap; given up past 2 minutes
    row = outgoing.get_send(db, q.send_id)
    assert row["state"] == "failed" and row["last_error"].startswith("gave up after 2m30s")
    assert events(db, f.ticket_id)[-1]["kind"] == "reply_failed"
    # An hour later a person sends it again: a fresh start, its own backoff and its own two minutes.
    clock.advance(3600)
    with write(db):
        outgoing.requeue(db, q.send_id, clock.now())
    start, waits = clock.now(), []
    while outgoing.get_send(db, q.send_id)["state"] == "pending":
        clock.advance(s.seconds_until_next())
        s.cycle()
        waits.append(int((clock.now() - start).total_seconds()))
    assert waits == [0, 10, 30, 70, 110, 150]


@pytest.mark.parametrize("answer", ["550 5.7.1 Message refused", "554 5.6.0 Content rejected"])
def test_a_5xx_is_shown_and_never_resent(make, clock, smtp_sink, answer):
    cfg, db = make()
    f = file1(db, cfg, mail())
    smtp_sink.data_reply = answer
    q = desk.send_reply(db, cfg, f.ticket_id, "Hello", "bob", clock.now())
    out = delivery.send_now(db, cfg, q.send_id, clock)
    assert out.state == "failed" and answer in out.detail
    s = sender(cfg, clock)
    for _ in range(3):
        clock.advance(3600)
        assert s.cycle() == 0
    assert len(smtp_sink.transactions) == 1 and smtp_sink.records == []
    row = outgoing.get_send(db, q.send_id)
    assert row["state"] == "failed" and answer in row["last_error"]
    [e] = events(db, f.ticket_id, "reply_failed")
    assert answer in e["detail"]["error"]


def test_a_4xx_is_retried(make, clock, smtp_sink):
    cfg, db = make()
    f = file1(db, cfg, mail())
    smtp_sink.data_reply = "451 4.3.0 Try again later"
    q = desk.send_reply(db, cfg, f.ticket_id, "Hello", "bob", clock.now())
    assert delivery.send_now(db, cfg, q.send_id, clock).state == "queued"
    smtp_sink.data_reply = "250 2.0.0 Ok"
    clock.advance(10)
    assert sender(cfg, clock).cycle() == 1
    assert len(smtp_sink.records) == 1 and outgoing.get_send(db, q.send_id)["state"] == "sent"


def test_recipients_refused_one_by_one(make, clock, smtp_sink):
    cfg, db = make()
    f = file1(db, cfg, mail(extra="Cc: gone@cust.example, later@cust.example\r\n"))
    smtp_sink.rcpt_replies = {"gone@cust.example": "550 5.1.1 No such user", "later@cust.example": "450 4.2.1 Busy"}
    q = desk.send_reply(db, cfg, f.ticket_id, "Hello", "bob", clock.now())
    # one recipient answers 4xx: nobody gets it now, everybody on the retry (exactly once each)
    assert delivery.send_now(db, cfg, q.send_id, clock).state == "queued"
    assert smtp_sink.transactions == []
    smtp_sink.rcpt_replies.pop("later@cust.example")
    clock.advance(10)
    sender(cfg, clock).cycle()
    [rec] = smtp_sink.wait_for(1)
    assert rec.rcpt_tos == ["carl@cust.example", "later@cust.example"]
    row = outgoing.get_send(db, q.send_id)
    assert row["state"] == "sent" and row["refused"] == ["gone@cust.example: RCPT TO gone@cust.example: "
                                                         "550 5.1.1 No such user"]


def test_an_answer_lost_after_data_is_never_resent_blindly(make, clock, smtp_sink):
    cfg, db = make()
    f = file1(db, cfg, mail())
    smtp_sink.drop_after_data = True
    q = desk.send_reply(db, cfg, f.ticket_id, "Hello", "bob", clock.now())
    out = delivery.send_now(db, cfg, q.send_id, clock)
    assert out.state == "unknown" and "may or may not have been delivered" in out.detail
    smtp_sink.drop_after_data = False
    s = sender(cfg, clock)
    clock.advance(3600)
    assert s.cycle() == 0
    assert len(smtp_sink.transactions) == 1
    assert outgoing.get_send(db, q.send_id)["state"] == "expired"
    # a person decides to send it again: then it goes, once more
    with write(db):
        outgoing.requeue(db, q.send_id, clock.now())
    assert s.cycle() == 1 and len(smtp_sink.records) == 1


def test_a_send_cut_short_by_a_crash_is_expired_not_resent(make, clock, smtp_sink):
    cfg, db = make()
    f = file1(db, cfg, mail())
    a = desk.send_reply(db, cfg, f.ticket_id, "First", "bob", clock.now())
    b = desk.send_reply(db, cfg, f.ticket_id, "Second", "bob", clock.now())
    with write(db):  # a dead poller's claim, and a `reply` command's that may still be sending
        outgoing.claim(db, clock.now(), claimed_by="poller:old:1:x", send_deadline=clock.now() + timedelta(hours=1),
                       send_id=a.send_id)
        outgoing.claim(db, clock.now(), claimed_by="cli:host:2:y", send_deadline=clock.now() + timedelta(minutes=5),
                       send_id=b.send_id)
    s = sender(cfg, clock)  # owns the outbox: the old poller's row is orphaned
    assert outgoing.get_send(db, a.send_id)["state"] == "expired"
    assert outgoing.get_send(db, b.send_id)["state"] == "sending"
    clock.advance(timedelta(minutes=6))
    assert s.cycle() == 0
    assert outgoing.get_send(db, b.send_id)["state"] == "expired"
    assert smtp_sink.transactions == []
    assert "not resent" in outgoing.get_send(db, a.send_id)["last_error"]


def test_one_row_is_sent_by_one_sender(make, clock, smtp_sink):
    cfg, db = make()
    f = file1(db, cfg, mail())
    q = desk.send_reply(db, cfg, f.ticket_id, "Hello", "bob", clock.now())
    assert sender(cfg, clock).cycle() == 1  # the poller got there first
    assert delivery.send_now(db, cfg, q.send_id, clock).state == "sent"  # reports, does not send again
    assert len(smtp_sink.transactions) == 1


def test_while_another_sender_has_it_the_command_waits_for_its_outcome(make, clock, smtp_sink):
    import threading

    cfg, db = make()
    f = file1(db, cfg, mail())
    q = desk.send_reply(db, cfg, f.ticket_id, "Hello", "bob", clock.now())
    with write(db):
        outgoing.claim(db, clock.now(), claimed_by="poller:p:1:x", send_deadline=clock.now() + timedelta(minutes=5),
                       send_id=q.send_id)
    assert delivery.send_now(db, cfg, q.send_id, clock, wait_for_other=0).state == "busy"
    other = open_db(cfg.store_path)

    def poller_finishes():
        with write(other):
            outgoing.mark_sent(other, q.send_id, "poller:p:1:x", clock.now(), reply="250 2.0.0 Ok")

    t = threading.Thread(target=poller_finishes)
    t.start()
    out = delivery.send_now(db, cfg, q.send_id, clock, wait_for_other=10)
    t.join()
    other.close()
    assert (out.state, out.detail) == ("sent", "250 2.0.0 Ok") and smtp_sink.transactions == []


def test_a_missing_password_keeps_the_mail_queued(make, clock, smtp_sink, monkeypatch):
    monkeypatch.delenv("SC_TEST_SMTP_PW", raising=False)
    cfg, db = make(smtp={"username": "desk", "password_env": "SC_TEST_SMTP_PW"})
    f = file1(db, cfg, mail())
    q = desk.send_reply(db, cfg, f.ticket_id, "Hello", "bob", clock.now())
    out = delivery.send_now(db, cfg, q.send_id, clock)
    assert out.state == "queued" and "SC_TEST_SMTP_PW is not set" in out.detail
    monkeypatch.setenv("SC_TEST_SMTP_PW", "pw")
    clock.advance(10)
    sender(cfg, clock).cycle()
    [rec] = smtp_sink.wait_for(1)
    assert rec.login == "desk"


# --- notes --------------------------------------------------------------------------------------------

def test_a_note_is_in_the_thread_and_never_sent(make, clock, smtp_sink):
    cfg, db = make()
    f = file1(db, cfg, mail())
    clock.advance(60)
    row = desk.add_note(db, cfg, f.ticket_id, "Called the vendor.\x1b[2J", "cy", clock.now())
    [new, note] = messages.messages_for(db, f.ticket_id)
    assert (note["id"], note["kind"], note["body_text"], note["from_name"]) == (row, "note", "Called the vendor.", "Cy")
    assert tickets.get_ticket(db, f.ticket_id)["status"] == "new"  # a note is not contact
    assert db.execute("SELECT count(*) FROM mail_outbox").fetchone()[0] == 0
    assert sender(cfg, clock).cycle() == 0 and smtp_sink.transactions == []
    with pytest.raises(actions.ActionRefused, match="empty"):
        desk.add_note(db, cfg, f.ticket_id, "  \n", "cy", clock.now())


# --- intake: receipts, loops, threading back ----------------------------------------------------------

RECEIPTS = {"receipt": True, "receipt_window": "1h"}


def receipts_sent(db):
    return db.execute("SELECT to_addr, purpose FROM mail_outbox WHERE automatic = 1 ORDER BY id").fetchall()


def test_a_new_ticket_gets_a_receipt_that_is_not_first_contact(make, clock, smtp_sink):
    cfg, db = make(replies=RECEIPTS)
    f = file1(db, cfg, mail(subject="Class II: printer broken", message_id="<m1@cust.example>"))
    assert receipts_sent(db) == [("carl@cust.example", "receipt")]
    t = tickets.get_ticket(db, f.ticket_id)
    assert t["status"] == "new" and t["next_step_at"] is not None  # the clock runs on
    sender(cfg, clock).cycle()
    [rec] = smtp_sink.wait_for(1)
    m = rec.message
    assert (m["Auto-Submitted"], m["Precedence"], m["X-Auto-Response-Suppress"]) == (
        "auto-replied", "auto_reply", "All")
    assert m["In-Reply-To"] == "<m1@cust.example>" and m["Subject"] == f"Re: [#{f.ticket_id}] Class II: printer broken"
    body = m.get_content()
    assert f"request #{f.ticket_id} (Class II)" in body and "by Mon 02 Nov 2026 17:00 MST" in body
    assert rec.rcpt_tos == ["carl@cust.example"]  # never the Cc
    assert tickets.get_ticket(db, f.ticket_id)["status"] == "new"


@pytest.mark.parametrize("extra,frm", [
    ("Auto-Submitted: auto-generated\r\n", "carl@cust.example"),
    ("Precedence: bulk\r\n", "carl@cust.example"),
    ("List-Id: <users.lists.example>\r\n", "carl@cust.example"),
    ("Return-Path: <>\r\n", "carl@cust.example"),
    ("", "postmaster@cust.example"),
    ("X-Auto-Response-Suppress: DR, NDR\r\n", "carl@cust.example"),
    ("Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n", "carl@cust.example"),
])
def test_no_receipt_to_automated_mail(make, extra, frm):
    cfg, db = make(replies=RECEIPTS)
    [f] = file_messages(db, cfg, [Incoming(raw=mail(frm=frm, to="urgent@desk.example", extra=extra))], T0)
    # Intake opens a Class III ticket for machine mail to urgent@ and flags it (a list's post is a person's);
    # a receipt never goes back.
    assert f.outcome == "new" and bool(tickets.get_ticket(db, f.ticket_id)["automated"]) == ("List-Id" not in extra)
    assert receipts_sent(db) == []
    assert events(db, f.ticket_id, "receipt_skipped")[0]["detail"]["reason"].startswith("automated mail (")


def test_list_mail_opens_a_ticket_but_gets_no_receipt(make):
    cfg, db = make(replies=RECEIPTS)
    f = file1(db, cfg, mail(extra="List-Id: <users.lists.example>\r\n"))
    assert f.outcome == "new" and receipts_sent(db) == []
    [e] = events(db, f.ticket_id, "receipt_skipped")
    assert e["detail"]["reason"] == "automated mail (List-Id)"


def test_one_receipt_per_sender_per_window(make):
    cfg, db = make(replies=RECEIPTS)
    file1(db, cfg, mail(message_id="<a@c>", subject="one"))
    second = file1(db, cfg, mail(message_id="<b@c>", subject="two"), now=T0 + timedelta(minutes=59))
    file1(db, cfg, mail(frm="dora@cust.example", message_id="<c@c>", subject="three"), now=T0 + timedelta(minutes=59))
    file1(db, cfg, mail(message_id="<d@c>", subject="four"), now=T0 + timedelta(minutes=61))
    assert receipts_sent(db) == [("carl@cust.example", "receipt"), ("dora@cust.example", "receipt"),
                                 ("carl@cust.example", "receipt")]
    [e] = events(db, second.ticket_id, "receipt_skipped")
    assert "receipt_window" in e["detail"]["reason"]


def test_no_receipt_for_a_newly_connected_mailboxs_history(make):
    cfg, db = make(replies=RECEIPTS)
    key = ("desk@imap", "INBOX", 7)
    history = [Incoming(raw=mail(frm=f"c{i}@cust.example", message_id=f"<h{i}@c>"), uid=i,
                        received_at=T0 - timedelta(days=i)) for i in range(1, 4)]
    file_messages(db, cfg, history[:2], T0, mailbox_key=key)  # the first sync, in two batches
    file_messages(db, cfg, history[2:], T0 + timedelta(seconds=5), mailbox_key=key)
    assert receipts_sent(db) == []
    fresh = Incoming(raw=mail(frm="new@cust.example", message_id="<n@c>"), uid=9, received_at=T0 + timedelta(minutes=1))
    file_messages(db, cfg, [fresh], T0 + timedelta(minutes=1), mailbox_key=key)
    assert receipts_sent(db) == [("new@cust.example", "receipt")]


def test_mail_intake_marks_as_history_gets_no_receipt_and_no_page_whatever_its_date(make):
    # Issue 19: a first sync's history is known by UID (console.intake.first_sync), not by the received time.
    from store import outbox

    cfg, db = make(replies=RECEIPTS)
    key = ("desk@imap", "INBOX", 7)
    item = Incoming(raw=mail(to="urgent@desk.example", message_id="<h@c>"), uid=1, received_at=T0, history=True)
    [f] = file_messages(db, cfg, [item], T0, mailbox_key=key)
    assert f.outcome == "new" and tickets.get_ticket(db, f.ticket_id)["class"] == "III"
    assert receipts_sent(db) == [] and outbox.list_alerts(db, ticket_id=f.ticket_id) == []
    assert [e["kind"] for e in events(db, f.ticket_id)] == ["created", "imported"]


def test_details_request_on_call_me_only_mail(make, clock, smtp_sink):
    cfg, db = make(replies={"details_request": True})
    call = file1(db, cfg, mail(subject="call me", body="I have a problem, please call me at 555-1212.",
                               message_id="<call@c>"))
    file1(db, cfg, mail(frm="dora@cust.example", subject="Printer", body="The printer on floor 2 jams on every "
                        "page since this morning's update.", message_id="<p@c>"))
    assert receipts_sent(db) == [("carl@cust.example", "details")]
    sender(cfg, clock).cycle()
    [rec] = smtp_sink.wait_for(1)
    assert "describe the problem" in rec.message.get_content() and rec.message["Auto-Submitted"] == "auto-replied"
    assert tickets.get_ticket(db, call.ticket_id)["status"] == "new"


def test_our_own_mail_never_opens_a_ticket(make):
    cfg, db = make(replies=RECEIPTS)
    own = file1(db, cfg, mail(frm="support@desk.example", message_id="<own@c>"))
    looped = file1(db, cfg, mail(frm="carl@cust.example", message_id="<loop@c>",
                                 extra="X-Loop: support@desk.example\r\n"))
    other = file1(db, cfg, mail(frm="carl@cust.example", message_id="<other@c>",
                                extra="X-Loop: helpdesk@elsewhere.example\r\n"))
    assert (own.outcome, own.ticket_id, looped.outcome, looped.ticket_id) == ("autoreply", None, "autoreply", None)
    assert other.outcome == "new"  # another desk's loop header is not ours
    assert len(tickets.list_tickets(db)) == 1 and receipts_sent(db) == [("carl@cust.example", "receipt")]


def test_the_customers_answer_threads_back_without_the_tag(make, clock, smtp_sink):
    cfg, db = make()
    f = file1(db, cfg, mail(subject="Printer broken", message_id="<m1@cust.example>"))
    q = desk.send_reply(db, cfg, f.ticket_id, "Which model?", "bob", clock.now())
    delivery.send_now(db, cfg, q.send_id, clock)
    [rec] = smtp_sink.wait_for(1)
    # a new subject, no [#N], from a colleague's address: only our Message-ID ties it to the ticket
    answer = mail(frm="dora@cust.example", subject="the model number", message_id="<a1@cust.example>",
                  extra=f"In-Reply-To: {rec.message['Message-ID']}\r\n")
    back = file1(db, cfg, answer, now=T0 + timedelta(hours=1))
    assert (back.outcome, back.ticket_id) == ("reply", f.ticket_id)
    deep = mail(frm="carl@cust.example", subject="also", message_id="<a2@cust.example>",
                extra=f"References: <zz@else.example> {rec.message['Message-ID']}\r\n")
    assert file1(db, cfg, deep, now=T0 + timedelta(hours=2)).ticket_id == f.ticket_id


def test_show_json_lists_outgoing_and_notes_in_order(make, clock, smtp_sink):
    from console.cli.replies import with_delivery
    from console.views import message_public

    cfg, db = make()
    f = file1(db, cfg, mail(message_id="<m1@c>"))
    clock.advance(60)
    q = desk.send_reply(db, cfg, f.ticket_id, "Hello", "bob", clock.now())
    delivery.send_now(db, cfg, q.send_id, clock)
    clock.advance(60)
    desk.add_note(db, cfg, f.ticket_id, "internal", "bob", clock.now())
    clock.advance(60)
    file1(db, cfg, mail(subject="Re: thanks", message_id="<m2@c>", extra="In-Reply-To: <m1@c>\r\n"), now=clock.now())
    msgs = with_delivery(db, [message_public(m) for m in messages.messages_for(db, f.ticket_id)])
    assert [m["kind"] for m in msgs] == ["new", "outgoing", "note", "reply"]
    assert msgs[1]["delivery"]["state"] == "sent" and msgs[1]["delivery"]["purpose"] == "reply"
    assert "delivery" not in msgs[2]
    json.dumps(msgs, default=str)


def test_a_ca_file_that_is_not_certificates_is_one_clear_line_and_the_mail_waits(make, clock, smtp_sink, tmp_path):
    junk = tmp_path / "not-a-ca.pem"
    junk.write_text("this is not a certificate\n")  # the config only checks that the file is there
    cfg, db = make(smtp={"security": "starttls", "ca_file": str(junk)})
    f = file1(db, cfg, mail())
    q = desk.send_reply(db, cfg, f.ticket_id, "Hello", "bob", clock.now())
    out = delivery.send_now(db, cfg, q.send_id, clock)
    assert out.state == "queued" and out.detail.startswith(f"smtp.ca_file: cannot read CA certificates from {junk}")
    assert smtp_sink.transactions == []
