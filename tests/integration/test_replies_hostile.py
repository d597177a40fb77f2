"""The hostile outgoing corpus (tests/hostile/outgoing.py) through intake and then `reply`, receipts and
details requests into an aiosmtpd sink (issue 20): the exact headers and envelope that arrive.

Real parts: the CLI as a process (`ingest`, `reply`, `poll --once`, `show`, `status`), a real SQLite file,
aiosmtpd with and without SMTPUTF8. Floods are filed as one intake batch in this process (through
console.intake.pipeline, as a poll files them), then sent by `poll --once`."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from console.config import load
from console.intake.pipeline import Incoming, file_messages
from store import open_db
from tests.hostile import outgoing as hostile
from tests.integration import alerts_helpers as h
from tests.integration.helpers import query, run_cli
from tests.servers.receivers import SMTPSink

pytestmark = pytest.mark.integration

DESK_FROM = "Example Support <support@desk.example>"
REPLY_FIELDS = ["From", "Reply-To", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "X-Loop",
                "Content-Type", "Content-Transfer-Encoding", "MIME-Version"]
AUTO_FIELDS = REPLY_FIELDS[:9] + ["Auto-Submitted", "Precedence", "X-Auto-Response-Suppress"] + REPLY_FIELDS[9:]


def write_conf(tmp_path, sink, replies=None):
    data = h.config_dict(tmp_path / "support.db")
    data["smtp"] = {"host": "127.0.0.1", "port": sink.port, "security": "none", "from": DESK_FROM,
                    "timeout_seconds": 5, "backoff_seconds": 0.5, "backoff_max_seconds": 1.0}
    if replies:
        data["replies"] = replies
    path = tmp_path / "config.toml"
    path.write_text(h.to_toml(data))
    return path


def ingest(conf, raw: bytes) -> int:
    r = run_cli(conf, "ingest", input=raw, check=True)
    return int(r.stdout.split("#")[1].rstrip(")\n"))


def reply(conf, tid: int, *extra: str):
    return run_cli(conf, "reply", str(tid), "--body-file", "-", *extra, input=b"We are on it.", actor="bob")


def head(content: bytes) -> bytes:
    return content.split(b"\r\n\r\n", 1)[0]


def fields(content: bytes) -> list[str]:
    return [ln.split(b":", 1)[0].decode() for ln in head(content).split(b"\r\n") if ln[:1] not in (b" ", b"\t")]


def field(content: bytes, name: str) -> str:
    unfolded = head(content).decode("utf-8").replace("\r\n ", " ").split("\r\n")
    [value] = [ln.split(": ", 1)[1] for ln in unfolded if ln.split(":", 1)[0] == name]
    return value


def as_shown(value: str) -> str:
    """A header value as a reader shows it (our base64 words decoded, RFC 2047 6.2 blanks dropped)."""
    import base64

    word = r"=\?utf-8\?b\?([A-Za-z0-9+/=]*)\?="
    value = re.sub(rf"({word})\s+(?={word})", r"\1", value)
    return re.sub(word, lambda m: base64.b64decode(m.group(1)).decode("utf-8"), value)


def show(conf, tid) -> dict:
    return json.loads(run_cli(conf, "show", str(tid), "--json", check=True).stdout)


def events(conf, tid, kind) -> list[dict]:
    return [e["detail"] for e in show(conf, tid)["events"] if e["kind"] == kind]


def one_line(r) -> str:
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


# --- 1. no stored text becomes a header ---------------------------------------------------------------

INJECTION_CASES = {
    "double subject": hostile.double_subject, "triple subject": hostile.triple_subject,
    "double name": hostile.double_name, "triple name": hostile.triple_name,
    "double reply-to": hostile.double_reply_to,
}


def test_double_and_triple_encoding_go_out_as_the_literal_text_in_receipts_and_replies(tmp_path, smtp_sink):
    conf = write_conf(tmp_path, smtp_sink, replies={"receipt": True})
    tids = {}
    for i, (name, build) in enumerate(INJECTION_CASES.items()):
        tids[name] = ingest(conf, build().replace(b"carl@cust.example", f"carl{i}@cust.example".encode()))
    run_cli(conf, "poll", "--once", check=True)  # sends the receipts intake queued
    receipts = smtp_sink.wait_for(len(tids))
    for tid in tids.values():
        assert reply(conf, tid).returncode == 0
    replies = smtp_sink.wait_for(2 * len(tids))[len(tids):]
    for rec in receipts + replies:
        automatic = rec in receipts
        assert fields(rec.content) == (AUTO_FIELDS if automatic else REPLY_FIELDS), rec.content[:2000]
        assert len(rec.rcpt_tos) == 1 and re.fullmatch(r"carl\d@cust\.example", rec.rcpt_tos[0])
        assert rec.mail_from == "support@desk.example"
        assert field(rec.content, "Reply-To") == DESK_FROM and field(rec.content, "X-Loop") == "support@desk.example"
        # In the header only inside our base64 words; a receipt's body may quote the subject, as plain text.
        assert b"attacker" not in head(rec.content) and b"evil.test" not in head(rec.content)
        assert head(rec.content).isascii() and all(len(ln) <= 78 for ln in head(rec.content).split(b"\r\n"))
        assert rec.message.get_content_type() == "text/plain"
        assert rec.message["Content-Type"] == 'text/plain; charset="utf-8"'
    by_tid = {int(re.search(r"\[#(\d+)\]", as_shown(field(r.content, "Subject"))).group(1)): r for r in replies}
    for name, tid in tids.items():
        t = show(conf, tid)
        rec = by_tid[tid]
        # what the console showed is what a reader of the reply sees, byte for byte once decoded
        assert as_shown(field(rec.content, "Subject")).startswith(f"Re: [#{tid}]")
        assert t["subject"] in as_shown(field(rec.content, "Subject")) or len(t["subject"]) > 180, name
        if "name" in name:
            assert as_shown(field(rec.content, "To")) == f"{t['requester_name'][:99]}… <{t['requester']}>" \
                or as_shown(field(rec.content, "To")) == f"{t['requester_name']} <{t['requester']}>"
            assert t["requester_name"].startswith("=?utf-8?")  # the inner encoded word, decoded once
    assert show(conf, tids["double subject"])["subject"] == f"Help {hostile.INNER}"


def test_an_unwritable_cc_is_left_off_and_the_reply_goes_to_the_others(tmp_path, smtp_sink):
    conf = write_conf(tmp_path, smtp_sink)
    tid = ingest(conf, hostile.double_cc())
    r = reply(conf, tid)
    assert r.returncode == 0, r.stderr
    assert "1 Cc left off" in r.stdout
    [rec] = smtp_sink.wait_for(1)
    assert rec.rcpt_tos == ["carl@cust.example", "dora@cust.example", "ok7@cust.example", "eve@cust.example"]
    assert field(rec.content, "Cc") == "dora@cust.example, ok7@cust.example, eve@cust.example"
    assert fields(rec.content) == REPLY_FIELDS[:3] + ["Cc"] + REPLY_FIELDS[3:]
    assert b"Bcc" not in rec.content and b"victim" not in rec.content
    [queued] = events(conf, tid, "reply_queued")
    assert queued["left_off"] == ["=?utf-8?q?x=0d=0abcc=3a_victim@bank.test?=: cannot be written safely "
                                  "(it holds encoded-word syntax (=? ?=))"]


# --- 3. recipients a person can see ------------------------------------------------------------------

def test_3000_cc_are_refused_in_one_line_and_sent_with_cc_all(tmp_path, smtp_sink):
    conf = write_conf(tmp_path, smtp_sink)
    tid = ingest(conf, hostile.many_cc(3000))
    r = reply(conf, tid)
    assert r.returncode == 1
    assert one_line(r) == (f"support-console: #{tid}: the customer's last mail had 3,000 Cc addresses, more than "
                           f"replies.max_cc (20); nothing was sent (to copy all of them: support-console reply {tid} "
                           "--cc-all)")
    assert smtp_sink.transactions == []
    assert query(tmp_path / "support.db", "SELECT count(*) FROM mail_outbox")[0][0] == 0
    assert show(conf, tid)["status"] == "new"  # no first contact either
    r = reply(conf, tid, "--cc-all")
    assert r.returncode == 0, r.stderr
    [rec] = smtp_sink.wait_for(1, timeout=60)
    assert len(rec.rcpt_tos) == 3001 and rec.rcpt_tos[0] == "carl@cust.example"
    assert rec.rcpt_tos[-1] == "p2999@cc49.example" and len(rec.message["Cc"].addresses) == 3000


def test_non_ascii_addresses_with_smtputf8(tmp_path):
    with SMTPSink(smtputf8=True) as sink:
        conf = write_conf(tmp_path, sink, replies={"receipt": True})
        tid = ingest(conf, hostile.non_ascii_sender())
        t = show(conf, tid)
        assert t["requester"] == "jürgen@exämple.test" and not t.get("quarantined")  # as received
        run_cli(conf, "poll", "--once", check=True)
        [receipt] = sink.wait_for(1)
        assert receipt.rcpt_tos == ["jürgen@exämple.test"] and "SMTPUTF8" in receipt.mail_options
        assert reply(conf, tid).returncode == 0
        tid2 = ingest(conf, hostile.non_ascii_cc())
        assert reply(conf, tid2).returncode == 0
        rec, rec2 = sink.wait_for(3)[1:]
    assert as_shown(field(rec.content, "To")) == "Jürgen <jürgen@exämple.test>"
    assert rec.rcpt_tos == ["jürgen@exämple.test"] and "SMTPUTF8" in rec.mail_options
    assert rec2.rcpt_tos == ["carl@cust.example", "jörg@exämple.test", "dora@cust.example"]
    assert field(rec2.content, "Cc") == "jörg@exämple.test, dora@cust.example"
    assert "\ufffd" not in (rec.content + rec2.content).decode("utf-8")


@pytest.fixture
def sink_without_smtputf8():
    with SMTPSink(smtputf8=False) as sink:
        yield sink


def test_non_ascii_addresses_without_smtputf8_are_left_off_with_the_reason(tmp_path, sink_without_smtputf8):
    smtp_sink = sink_without_smtputf8
    conf = write_conf(tmp_path, smtp_sink)
    tid = ingest(conf, hostile.non_ascii_cc())
    assert reply(conf, tid).returncode == 0
    [rec] = smtp_sink.wait_for(1)
    assert rec.rcpt_tos == ["carl@cust.example", "dora@cust.example"] and "SMTPUTF8" not in rec.mail_options
    assert field(rec.content, "Cc") == "dora@cust.example" and rec.content.isascii()
    [mail] = [m for m in show(conf, tid)["messages"] if m["kind"] == "outgoing"]
    assert mail["delivery"]["refused"] == [f"jörg@exämple.test: left off: SMTP server 127.0.0.1:{smtp_sink.port} "
                                           "does not offer SMTPUTF8, which a non-ASCII address needs"]
    tid = ingest(conf, hostile.idn_cc())
    assert reply(conf, tid).returncode == 0
    rec = smtp_sink.wait_for(2)[1]
    assert rec.rcpt_tos == ["carl@cust.example", "ann@xn--exmple-cua.test"] and rec.content.isascii()
    assert field(rec.content, "Cc") == "ann@xn--exmple-cua.test"
    tid = ingest(conf, hostile.non_ascii_sender())
    r = reply(conf, tid)
    assert r.returncode == 1 and "does not offer SMTPUTF8, which a non-ASCII address needs (the requester's, " \
        "jürgen@exämple.test); nothing was sent" in one_line(r)
    assert len(smtp_sink.transactions) == 2


# --- 2. automatic mail only to real senders, never in floods -----------------------------------------

def file_batch(conf, raws: list[bytes]) -> None:
    """One intake batch, as a poll files it."""
    cfg = load(conf)
    db = open_db(cfg.store_path)
    try:
        file_messages(db, cfg, [Incoming(raw) for raw in raws], datetime.now(UTC))
    finally:
        db.close()


def withheld(db) -> list[dict]:
    return [json.loads(d) for (d,) in query(db, "SELECT detail FROM events WHERE kind = 'receipt_withheld'")]


def test_forged_senders_get_no_receipt_past_the_desk_wide_cap(tmp_path, smtp_sink):
    conf = write_conf(tmp_path, smtp_sink, replies={"receipt": True, "automatic_per_hour": 30})
    file_batch(conf, [hostile.forged_sender(i) for i in range(60)])
    r = run_cli(conf, "check")
    assert "replies: WARNING: receipts can be forged" in r.stdout
    run_cli(conf, "poll", "--once", check=True)
    assert len(smtp_sink.wait_for(30)) == 30
    held = withheld(tmp_path / "support.db")
    assert len(held) == 30 and {d["cause"] for d in held} == {"cap"}
    assert held[0]["reason"] == "the desk sent 30 automatic mails in the last hour (replies.automatic_per_hour = 30)"
    status = json.loads(run_cli(conf, "status", "--json").stdout)
    assert status["outbox"]["mail_withheld"] == 30
    assert "30 automatic mail(s) withheld" in run_cli(conf, "status").stdout
    assert len(smtp_sink.transactions) == 30


def test_with_a_trusted_authserv_id_forged_senders_get_nothing(tmp_path, smtp_sink):
    conf = write_conf(tmp_path, smtp_sink, replies={"receipt": True, "trusted_authserv_id": hostile.AUTHSERV})
    file_batch(conf, [*(hostile.forged_sender(i) for i in range(20)), hostile.forged_authentication_results(),
                      hostile.forged_only_by_sender("other.test"), hostile.authenticated()])
    assert "WARNING" not in run_cli(conf, "check").stdout
    run_cli(conf, "poll", "--once", check=True)
    [rec] = smtp_sink.wait_for(1)
    assert rec.rcpt_tos == ["carl@cust.example"]  # the one our MTA passed
    held = withheld(tmp_path / "support.db")
    assert len(held) == 22 and {d["cause"] for d in held} == {"authentication"}
    reasons = {d["reason"] for d in held}
    assert f"sender not authenticated: dmarc=fail at {hostile.AUTHSERV}" in reasons
    assert (f"sender not authenticated: no Authentication-Results from {hostile.AUTHSERV} (the sender is not "
            "authenticated)") in reasons
    assert json.loads(run_cli(conf, "status", "--json").stdout)["outbox"]["mail_withheld"] == 22


def test_a_plus_address_flood_gets_one_receipt(tmp_path, smtp_sink):
    conf = write_conf(tmp_path, smtp_sink, replies={"receipt": True, "automatic_per_domain_per_hour": 500,
                                                    "automatic_per_hour": 500})
    file_batch(conf, [hostile.plus_flood(i) for i in range(200)])
    run_cli(conf, "poll", "--once", check=True)
    [rec] = smtp_sink.wait_for(1)
    assert rec.rcpt_tos == ["victim+0@bank.test"]
    skipped = [json.loads(d)["reason"] for (d,) in query(tmp_path / "support.db",
                                                         "SELECT detail FROM events WHERE kind = 'receipt_skipped'")]
    assert skipped == ["already had an automatic mail within replies.receipt_window"] * 199
    assert len(smtp_sink.transactions) == 1


def test_the_per_domain_cap(tmp_path, smtp_sink):
    conf = write_conf(tmp_path, smtp_sink, replies={"receipt": True, "details_request": True,
                                                    "automatic_per_domain_per_hour": 3})
    raws = [hostile.message(frm=f"user{i}@bank.test", msgid=f"<d{i}@bank.test>",
                            body="Please call me at 555-1212." if i % 2 else "Our printer is broken.")
            for i in range(6)]
    file_batch(conf, [*raws, hostile.message(frm="carl@cust.example", msgid="<other@cust.example>")])
    run_cli(conf, "poll", "--once", check=True)
    sent = smtp_sink.wait_for(4)
    assert sorted(r.rcpt_tos[0] for r in sent) == ["carl@cust.example", "user0@bank.test", "user1@bank.test",
                                                   "user2@bank.test"]
    kinds = [k for (k,) in query(tmp_path / "support.db", "SELECT kind FROM events WHERE kind LIKE '%_withheld'")]
    assert sorted(kinds) == ["details_withheld", "details_withheld", "receipt_withheld"]
    assert len(smtp_sink.transactions) == 4
