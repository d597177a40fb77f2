"""`reply`, `note`, `show` and `check` as real processes, with a real SMTP server (aiosmtpd), a real
Dovecot and real pollers: the reply's headers, first contact, an outage delivered exactly once, a 5xx
shown and not resent, a crash mid-send, receipts (automated mail, the rate limit, a backlog), the
customer's answer threading back, save_to, and the SMTP login of `check`."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, UTC

import pytest

from tests.integration import alerts_helpers as h
from tests.integration.helpers import cli_env, mail, query, run_cli, scalar, wait_until
from tests.servers.certs import make_certs, openssl_unavailable_reason
from tests.servers.receivers import SMTPSink

pytestmark = pytest.mark.integration

DESK_FROM = "Example Support <support@desk.example>"
SMTP_PASSWORD_ENV = "SC_TEST_SMTP_PASSWORD"


def write_conf(tmp_path, sink=None, *, dovecot=None, smtp=None, replies=None, staff_extra=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = h.config_dict(tmp_path / "support.db", dovecot=dovecot)
    if sink is not None:
        data["smtp"] = {"host": "127.0.0.1", "port": sink.port, "security": "none", "from": DESK_FROM,
                        "timeout_seconds": 5, "backoff_seconds": 0.5, "backoff_max_seconds": 1.0} | (smtp or {})
    if replies:
        data["replies"] = replies
    for person in data["staff"]:
        person.update((staff_extra or {}).get(person["handle"], {}))
    path = tmp_path / "config.toml"
    path.write_text(h.to_toml(data))
    return path


def customer_mail(i=1, *, subject="Printer broken", frm="carl@cust.example", to=h.SUPPORT, extra="", body=None,
                  date=None) -> bytes:
    return mail(i, subject=subject, frm=frm, name="Carl Customer", to=to, msgid=f"<c{i}.{time.time_ns()}@cust.example>",
                extra=extra, body=body, date=date or datetime.now(UTC))


def ingest(conf, raw: bytes) -> int:
    r = run_cli(conf, "ingest", input=raw, check=True)
    return int(r.stdout.split("#")[1].rstrip(")\n"))


def show(conf, tid) -> dict:
    return json.loads(run_cli(conf, "show", str(tid), "--json", check=True).stdout)


def sends(db) -> list[dict]:
    return query(db, "SELECT * FROM mail_outbox ORDER BY id", dicts=True)


def one_line(r) -> str:
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


# --- replies from the command line -------------------------------------------------------------------

def test_reply_without_smtp_says_so_in_one_line(tmp_path):
    conf = write_conf(tmp_path)
    tid = ingest(conf, customer_mail())
    r = run_cli(conf, "reply", str(tid), "--body-file", "-", input=b"Hello", actor="bob")
    assert r.returncode == 78
    assert one_line(r) == ("support-console: replies are not set up: add an [smtp] table (host, from, ...) "
                           "to the config")
    assert scalar(tmp_path / "support.db", "SELECT count(*) FROM messages WHERE kind = 'outgoing'") == 0


def test_reply_is_sent_threaded_and_is_first_contact(tmp_path, smtp_sink):
    conf = write_conf(tmp_path, smtp_sink, staff_extra={"bob": {"signature": "Bob Example\nExample Support"}})
    raw = customer_mail(extra="Cc: Dora <dora@cust.example>\r\nReferences: <root@cust.example>", subject="Re: Printer")
    tid = ingest(conf, raw)
    r = run_cli(conf, "reply", str(tid), "--body-file", "-", input=b"Hello Carl,\n\nWhich model is it?\n", actor="bob",
                check=True)
    assert r.stdout.startswith(f"#{tid}: reply sent to carl@cust.example (cc dora@cust.example): 250 ")
    assert f"#{tid} acknowledged by bob, pages stopped" in r.stdout
    [rec] = smtp_sink.wait_for(1)
    m = rec.message
    their_id = raw.split(b"Message-ID: ")[1].split(b"\r\n")[0].decode()
    assert m["In-Reply-To"] == their_id
    assert m["References"].split() == ["<root@cust.example>", their_id]
    assert m["Subject"] == f"Re: [#{tid}] Printer" and m["From"] == m["Reply-To"] == DESK_FROM
    assert m["To"] == "Carl Customer <carl@cust.example>" and m["Cc"] == "dora@cust.example"
    assert m["Message-ID"].startswith(f"<t{tid}.") and m["Date"] is not None and m["Auto-Submitted"] is None
    assert m.get_content().replace("\r\n", "\n") == ("Hello Carl,\n\nWhich model is it?\n\n-- \nBob Example\n"
                                                   "Example Support\n")
    t = show(conf, tid)
    assert (t["status"], t["acknowledged_by"], t["assignee"]) == ("acknowledged", "bob", "bob")
    [new, out] = t["messages"]
    assert (new["kind"], out["kind"]) == ("new", "outgoing")
    assert out["message_id"] == m["Message-ID"].strip("<>") and out["delivery"]["state"] == "sent"


def test_show_json_holds_outgoing_mail_and_notes_in_order(tmp_path, smtp_sink):
    conf = write_conf(tmp_path, smtp_sink)
    first = customer_mail(1)
    tid = ingest(conf, first)
    run_cli(conf, "note", str(tid), "--body-file", "-", input=b"Looks like the fuser.", actor="cy", check=True)
    run_cli(conf, "reply", str(tid), "--body-file", "-", input=b"Is it the fuser?", actor="bob", check=True)
    their_id = first.split(b"Message-ID: ")[1].split(b"\r\n")[0].decode()
    ingest(conf, customer_mail(2, subject="Re: Printer broken", extra=f"In-Reply-To: {their_id}"))
    r = run_cli(conf, "note", str(tid), "--body-file", "-", input=b"Ordered a fuser.", actor="bob", check=True)
    assert "note added" in r.stdout and "never sent" in r.stdout
    t = show(conf, tid)
    assert [(m["kind"], m["body_text"].split("\n")[0]) for m in t["messages"]] == [
        ("new", "body of message 1"), ("note", "Looks like the fuser."), ("outgoing", "Is it the fuser?"),
        ("reply", "body of message 2"), ("note", "Ordered a fuser.")]
    assert [m["id"] for m in t["messages"]] == sorted(m["id"] for m in t["messages"])
    assert len(smtp_sink.records) == 1  # notes are never sent
    assert t["message_count"] == 5
    text = run_cli(conf, "show", str(tid), check=True).stdout
    assert "Mail sent:" in text and "reply    sent" in text


def test_reply_with_a_template_on_a_call_me_ticket(tmp_path, smtp_sink):
    conf = write_conf(tmp_path, smtp_sink)
    tid = ingest(conf, customer_mail(subject="call me", body="I have a problem, please call me at 555-1212."))
    assert show(conf, tid)["needs_details"]
    run_cli(conf, "reply", str(tid), "--template", "details", actor="bob", check=True)
    [rec] = smtp_sink.wait_for(1)
    body = rec.message.get_content()
    assert "describe the problem" in body and f"request #{tid}" in body and "Hello Carl Customer" in body
    assert rec.message["Auto-Submitted"] is None  # sent by a person: first contact
    r = run_cli(conf, "reply", str(tid), "--template", "detials", actor="bob")
    assert r.returncode == 64 and "did you mean details?" in one_line(r)


def test_bad_input_is_one_line_and_sends_nothing(tmp_path, smtp_sink):
    conf = write_conf(tmp_path, smtp_sink)
    tid = ingest(conf, customer_mail())
    cases = [
        (("reply", str(tid), "--body-file", "-"), b"   \n", "the reply is empty"),
        (("reply", str(tid), "--body-file", str(tmp_path / "nope.txt")), None, "cannot read"),
        (("reply", str(tid), "--body-file", "-"), b"\xff\xfe", "not UTF-8"),
        (("reply", "999", "--body-file", "-"), b"x", "no ticket #999"),
        (("reply", str(tid), "--body-file", "-", "--template", "details"), b"x", "give one of"),
        (("reply", str(tid), "--resend", "1"), None, "no outgoing mail 1"),
        (("reply", str(tid)), None, "give the reply with --body-file"),  # stdin is not a terminal
        (("note", str(tid), "--body-file", "-"), b"", "the note is empty"),
    ]
    for args, stdin, words in cases:
        r = run_cli(conf, *args, input=stdin, actor="bob")
        assert r.returncode != 0 and words in one_line(r), (args, r.stderr)
    r = run_cli(conf, "reply", str(tid), "--body-file", "-", input=b"x", actor="mallory")
    assert r.returncode == 77 and "'mallory' is not on the staff list" in one_line(r)  # a refusal of permission
    assert smtp_sink.transactions == []
    assert scalar(tmp_path / "support.db", "SELECT count(*) FROM messages") == 1


# --- the outbox ------------------------------------------------------------------------------------------

def test_an_smtp_outage_then_the_reply_goes_out_exactly_once(tmp_path, smtp_sink, pollers):
    conf = write_conf(tmp_path, smtp_sink)
    db = tmp_path / "support.db"
    tid = ingest(conf, customer_mail())
    smtp_sink.stop()
    r = run_cli(conf, "reply", str(tid), "--body-file", "-", input=b"Hello", actor="bob", check=True)
    assert "queued, not sent yet" in r.stdout and "connection refused" in r.stdout
    assert "no poller is running" in r.stdout
    assert h.tickets(db)[0]["status"] == "acknowledged"  # the reply is the contact, queued or not
    poller = pollers.start(conf)
    wait_until(lambda: (sends(db)[0]["attempts"] or 0) >= 3, 20, "three tries while the server is down",
               alive=poller.alive)
    assert sends(db)[0]["state"] in ("pending", "sending")
    smtp_sink.start()  # back, on the same port
    wait_until(lambda: sends(db)[0]["state"] == "sent", 20, "the reply sent", alive=poller.alive)
    assert len(smtp_sink.wait_for(1)) == 1
    run_cli(conf, "reply", str(tid), "--body-file", "-", input=b"And again", actor="bob", check=True)
    smtp_sink.wait_for(2)
    assert poller.stop() == 0
    assert len(smtp_sink.transactions) == 2  # each reply once
    kinds = [e["kind"] for e in show(conf, tid)["events"]]
    assert kinds.count("reply_delayed") == 1 and kinds.count("reply_sent") == 2


def test_a_5xx_is_shown_on_the_ticket_and_not_resent(tmp_path, smtp_sink):
    conf = write_conf(tmp_path, smtp_sink)
    tid = ingest(conf, customer_mail())
    smtp_sink.data_reply = "550 5.7.1 Relaying denied"
    r = run_cli(conf, "reply", str(tid), "--body-file", "-", input=b"Hello", actor="bob")
    assert r.returncode == 1
    line = one_line(r)
    assert "the mail to carl@cust.example failed" in line and "550 5.7.1 Relaying denied" in line
    assert "not resent" in line
    for _ in range(2):
        run_cli(conf, "poll", "--once", check=True)
    assert len(smtp_sink.transactions) == 1
    t = show(conf, tid)
    out = next(m for m in t["messages"] if m["kind"] == "outgoing")
    assert out["delivery"]["state"] == "failed" and "550 5.7.1" in out["delivery"]["last_error"]
    assert "reply_failed" in [e["kind"] for e in t["events"]]
    text = run_cli(conf, "show", str(tid), check=True).stdout
    assert "FAILED" in text and f"reply {tid} --resend {out['delivery']['id']}" in text
    smtp_sink.data_reply = "250 2.0.0 Ok"  # the desk fixed its relay: a person sends it again
    r = run_cli(conf, "reply", str(tid), "--resend", str(out["delivery"]["id"]), actor="bob", check=True)
    assert "reply sent to carl@cust.example" in r.stdout
    assert [rec.message["Message-ID"] for rec in smtp_sink.records] == [f"<{out['message_id']}>"]


def test_a_send_cut_short_by_a_crash_is_shown_not_resent(tmp_path, pollers):
    sink = SMTPSink()
    sink.start()
    try:
        conf = write_conf(tmp_path, sink)
        db = tmp_path / "support.db"
        tid = ingest(conf, customer_mail())
        sink.stop()
        run_cli(conf, "reply", str(tid), "--body-file", "-", input=b"Hello", actor="bob", check=True)  # queued
        sink.delay = 60  # takes the mail, never gets round to answering
        sink.start()
        first = pollers.start(conf)
        wait_until(lambda: sink.transactions, 20, "the poller handing the mail over", alive=first.alive)
        first.kill()  # SIGKILL mid-send
        assert sends(db)[0]["state"] == "sending"
        sink.delay = 0
        second = pollers.start(conf)
        wait_until(lambda: sends(db)[0]["state"] == "expired", 20, "the cut-short send expired", alive=second.alive)
        assert second.stop() == 0
        assert len(sink.transactions) == 1
        text = run_cli(conf, "show", str(tid), check=True).stdout
        assert "EXPIRED" in text and "not resent" in text
        r = run_cli(conf, "reply", str(tid), "--resend", "999", actor="bob")
        assert r.returncode == 1 and "no outgoing mail 999" in one_line(r)
    finally:
        sink.stop()


# --- receipts, with IMAP intake ---------------------------------------------------------------------------

def test_receipts_follow_every_rule(tmp_path, dovecot, smtp_sink):
    conf = write_conf(tmp_path, smtp_sink, dovecot=dovecot, replies={"receipt": True, "receipt_window": "1h"})
    db = tmp_path / "support.db"
    # history: in the mailbox before the desk first connects
    c = dovecot.client()
    yesterday = datetime.now(UTC) - timedelta(days=1)
    for i in (1, 2):
        c.append("INBOX", customer_mail(i, frm=f"old{i}@cust.example", date=yesterday), msg_time=yesterday)
    c.logout()
    run_cli(conf, "poll", "--once", check=True)
    assert len(h.tickets(db)) == 2 and sends(db) == []

    dovecot.append(customer_mail(3, frm="new@cust.example", subject="Class II: printer broken"))
    dovecot.append(customer_mail(4, frm="robot@monitor.example", to=h.URGENT, subject="DNS down",
                                 extra="Auto-Submitted: auto-generated"))
    dovecot.append(customer_mail(5, frm="list@cust.example", extra="List-Id: <users.cust.example>"))
    dovecot.append(customer_mail(6, frm="new@cust.example", subject="and another thing"))
    dovecot.append(customer_mail(7, frm="support@desk.example", subject="our own"))
    run_cli(conf, "poll", "--once", check=True)
    [rec] = smtp_sink.wait_for(1)
    assert rec.rcpt_tos == ["new@cust.example"]
    m = rec.message
    assert (m["Auto-Submitted"], m["Precedence"], m["X-Auto-Response-Suppress"]) == ("auto-replied", "auto_reply",
                                                                                     "All")
    new = next(t for t in h.tickets(db) if t["subject"] == "Class II: printer broken")
    assert f"request #{new['id']} (Class II)" in m.get_content()
    assert new["status"] == "new"  # a receipt is not first contact
    assert [s["to_addr"] for s in sends(db)] == ["new@cust.example"]
    reasons = sorted(e["detail"]["reason"] for t in h.tickets(db) for e in show(conf, t["id"])["events"]
                     if e["kind"] == "receipt_skipped")
    # monitoring mail to urgent@ is a ticket (flagged automated), and never gets a receipt
    assert reasons == ["already had an automatic mail within replies.receipt_window",
                       "automated mail (Auto-Submitted: auto-generated)", "automated mail (List-Id)"]
    assert not any(t["requester"] == "support@desk.example" for t in h.tickets(db))  # our own mail: no ticket
    run_cli(conf, "poll", "--once", check=True)
    assert len(smtp_sink.transactions) == 1


def test_the_customers_answer_threads_back_through_imap(tmp_path, dovecot, smtp_sink):
    conf = write_conf(tmp_path, smtp_sink, dovecot=dovecot)
    dovecot.append(customer_mail(1, subject="Printer broken"))
    run_cli(conf, "poll", "--once", check=True)
    [t] = h.tickets(tmp_path / "support.db")
    run_cli(conf, "reply", str(t["id"]), "--body-file", "-", input=b"Which model?", actor="bob", check=True)
    [rec] = smtp_sink.wait_for(1)
    # a colleague answers from another address, new subject, no tag: only our Message-ID ties it
    dovecot.append(customer_mail(2, frm="dora@cust.example", subject="model number",
                                 extra=f"In-Reply-To: {rec.message['Message-ID']}"))
    run_cli(conf, "poll", "--once", check=True)
    assert len(h.tickets(tmp_path / "support.db")) == 1
    kinds = [(m["kind"], m["from_addr"]) for m in show(conf, t["id"])["messages"]]
    assert kinds == [("new", "carl@cust.example"), ("outgoing", "support@desk.example"), ("reply", "dora@cust.example")]


def test_save_to_appends_the_sent_mail_to_an_imap_folder(tmp_path, dovecot, smtp_sink):
    dovecot.create_folder("Sent")
    conf = write_conf(tmp_path, smtp_sink, dovecot=dovecot, smtp={"save_to": "Sent"})
    tid = ingest(conf, customer_mail())
    run_cli(conf, "reply", str(tid), "--body-file", "-", input=b"Hello", actor="bob", check=True)
    [rec] = smtp_sink.wait_for(1)
    c = dovecot.client()
    c.select_folder("Sent", readonly=True)
    [uid] = c.search(["ALL"])
    data = c.fetch([uid], [b"BODY.PEEK[]", b"FLAGS"])[uid]
    c.logout()
    assert bytes(data[b"BODY[]"]) == rec.content and b"\\Seen" in data[b"FLAGS"]
    assert sends(tmp_path / "support.db")[0]["saved"] == "saved"


# --- check ------------------------------------------------------------------------------------------------

def test_check_logs_in_to_smtp_and_sends_nothing(tmp_path):
    sink = SMTPSink(password="right")
    sink.start()
    try:
        conf = write_conf(tmp_path, sink, smtp={"username": "desk", "password_env": SMTP_PASSWORD_ENV})
        env = cli_env(**{SMTP_PASSWORD_ENV: "right"})
        r = run_cli(conf, "check", env=env)
        assert f"smtp: ok (127.0.0.1:{sink.port} none, AUTH as desk, from support@desk.example" in r.stdout, r.stdout
        assert sink.logins == [("desk", True)]
        bad = run_cli(conf, "check", env=env | {SMTP_PASSWORD_ENV: "Wr0ng-Smtp-Pw"})
        assert bad.returncode == 1 and "smtp: FAILED: SMTP login failed for user 'desk'" in bad.stdout
        assert "Wr0ng-Smtp-Pw" not in bad.stdout + bad.stderr and "Traceback" not in bad.stdout + bad.stderr
        sink.stop()
        down = run_cli(conf, "check", env=env)
        assert down.returncode == 1
        assert f"smtp: FAILED: SMTP server 127.0.0.1:{sink.port}: connection refused" in down.stdout
        assert sink.transactions == []
    finally:
        sink.stop()


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_check_verifies_the_servers_certificate(tmp_path, security):
    if openssl_unavailable_reason():
        pytest.skip(openssl_unavailable_reason())
    certs = make_certs(tmp_path / "certs")
    sink = SMTPSink(**({"tls_context": certs.server_context(), "require_starttls": True} if security == "starttls"
                       else {"ssl_context": certs.server_context()}))
    sink.start()
    try:
        trusted = write_conf(tmp_path, sink, smtp={"security": security, "ca_file": str(certs.ca)})
        r = run_cli(trusted, "check")
        assert f"smtp: ok (127.0.0.1:{sink.port} {security}" in r.stdout, r.stdout
        untrusted = write_conf(tmp_path / "untrusted", sink, smtp={"security": security})
        r = run_cli(untrusted, "check")
        assert r.returncode == 1 and "smtp: FAILED" in r.stdout and "certificate not trusted" in r.stdout, r.stdout
        # and a reply over the verified connection
        tid = ingest(trusted, customer_mail())
        run_cli(trusted, "reply", str(tid), "--body-file", "-", input=b"Hello", actor="bob", check=True)
        assert len(sink.wait_for(1)) == 1
    finally:
        sink.stop()


def test_reply_and_note_on_a_terminal_open_the_editor_on_the_draft(tmp_path, smtp_sink):
    import os
    import pty
    import subprocess
    import sys

    from tests.integration.helpers import CLI, REPO

    conf = write_conf(tmp_path, smtp_sink, staff_extra={"bob": {"signature": "Bob"}})
    tid = ingest(conf, customer_mail(body="It prints nothing."))
    editor = tmp_path / "editor.py"  # stands in for $EDITOR: writes the answer above the quoted draft
    editor.write_text("import sys\np = sys.argv[1]\ndraft = open(p).read()\n"
                      "open(p, 'w').write('Which model?\\n\\n' + draft)\n")
    env = cli_env(EDITOR=f"{sys.executable} {editor}", TMPDIR=str(tmp_path))

    def on_a_terminal(*args):
        primary, secondary = pty.openpty()
        try:
            p = subprocess.run([*CLI, "--config", str(conf), "--as", "bob", *args], stdin=secondary,
                               capture_output=True, env=env, cwd=REPO, timeout=60)
        finally:
            os.close(primary)
            os.close(secondary)
        assert p.returncode == 0, p.stderr
        return p.stdout.decode()

    assert "reply sent" in on_a_terminal("reply", str(tid))
    [rec] = smtp_sink.wait_for(1)
    body = rec.message.get_content().replace("\r\n", "\n")
    assert body.startswith("Which model?\n\nOn ") and "wrote:\n> It prints nothing.\n" in body
    assert body.endswith("\n-- \nBob\n")
    assert "note added" in on_a_terminal("note", str(tid))
    assert [m["kind"] for m in show(conf, tid)["messages"]] == ["new", "outgoing", "note"]
