"""Mail intake against a real Dovecot: bad input, threading, UIDVALIDITY changes.

Every test runs the real `support-console` CLI as a subprocess and looks at the SQLite file.
"""
from __future__ import annotations

import hashlib
import json

import pytest

from tests import corpus
from tests.integration.helpers import (
    count, mail, query, run_cli, scalar, server_flags, server_raws, stored_raw, write_config,
)

pytestmark = pytest.mark.integration

NOT_MAIL = b"this is not mail at all, no colon here\r\njust words\r\n"


def _append_all(dovecot, raws: list[tuple[str, bytes]]) -> tuple[dict[int, tuple[str, bytes]], dict[str, str]]:
    """APPEND each message over one connection: ({uid: (name, raw)}, {name: why refused})."""
    appended, refused = {}, {}
    c = dovecot.client()
    try:
        for name, raw in raws:
            try:
                resp = c.append("INBOX", raw)
            except Exception as exc:  # noqa: BLE001 - Dovecot refuses e.g. zero-byte messages
                refused[name] = str(exc)
                continue
            uid = dovecot._appenduid(resp)
            assert uid is not None, "Dovecot 2.3+ answers APPEND with APPENDUID"
            appended[uid] = (name, raw)
    finally:
        c.logout()
    return appended, refused


def _assert_one_line_ok(r) -> None:
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout


def test_bad_input_corpus_count_in_equals_count_out(dovecot, tmp_path):
    items = corpus.corpus() + [("not-mail", NOT_MAIL)]
    appended, refused = _append_all(dovecot, items)
    # Dovecot refuses only zero-byte messages; everything else must go in.
    assert set(refused) <= {n for n, raw in items if raw == b""}, refused
    assert len(appended) >= len(items) - len(refused)

    cfg = write_config(tmp_path, port=dovecot.port, max_message_size="64KB")
    r = run_cli(cfg, "poll", "--once")
    _assert_one_line_ok(r)
    db = tmp_path / "support.db"

    # Count in = count out: every appended UID is recorded as a source of a stored message.
    uidvalidity = dovecot.uidvalidity()
    sources = dict(query(db, "SELECT uid, message_row FROM message_sources WHERE folder = 'INBOX' AND uidvalidity = ?",
                         [uidvalidity]))
    assert set(sources) == set(appended), (set(appended) - set(sources), set(sources) - set(appended))
    assert scalar(db, "SELECT last_uid FROM mailboxes") == max(appended)

    # Every distinct message (as the server serves it) is stored exactly once, under its own bytes.
    served = server_raws(dovecot)
    assert set(served) == set(appended)
    rows = {row_id: stored_raw(db, row_id) for (row_id,) in query(db, "SELECT id FROM messages")}
    assert len(rows) == len(set(served.values())), "one messages row per distinct raw"
    assert sorted(rows.values()) == sorted(set(served.values()))
    for uid, row in sources.items():
        assert rows[row] == served[uid], f"uid {uid} ({appended[uid][0]}) points at other bytes"
        if served[uid] == appended[uid][1]:  # Dovecot normalises bare CR/LF and NULs; otherwise byte-exact
            assert rows[row] == appended[uid][1]
    shas = {sha for (sha,) in query(db, "SELECT sha256 FROM messages")}
    assert shas == {hashlib.sha256(b).hexdigest() for b in served.values()}

    by_name = {name: uid for uid, (name, _raw) in appended.items()}
    # Identical bytes appended twice: one row, two sources.
    a, b = by_name["same-twice-a"], by_name["same-twice-b"]
    assert sources[a] == sources[b]
    assert scalar(db, "SELECT count(*) FROM message_sources WHERE message_row = ?", [sources[a]]) >= 2
    # A reused Message-ID with other content: two rows.
    ra, rb = by_name["reused-msgid-a"], by_name["reused-msgid-b"]
    assert sources[ra] != sources[rb]
    assert scalar(db, "SELECT count(DISTINCT id) FROM messages WHERE id IN (?, ?) AND message_id = ?",
                  [sources[ra], sources[rb], "reused@example.org"]) == 2

    # Unparseable and oversize mail becomes a visible, flagged (quarantined) ticket with its raw bytes.
    flagged = {"oversize", "not-mail", "garbage"}
    for name in flagged:
        uid = by_name[name]
        msg = query(db, "SELECT ticket_id, kind, unparseable, oversize FROM messages WHERE id = ?",
                    [sources[uid]])[0]
        ticket_id, kind, unparseable, oversize = msg
        raw = stored_raw(db, sources[uid])
        assert kind == "new" and ticket_id is not None, name
        assert (unparseable or oversize), name
        assert scalar(db, "SELECT quarantined FROM tickets WHERE id = ?", [ticket_id]) == 1, name
        assert bytes(raw) == served[uid], name
    for name in ("oversize", "not-mail"):  # these two come back from Dovecot byte for byte
        assert served[by_name[name]] == appended[by_name[name]][1]
        assert stored_raw(db, sources[by_name[name]]) == appended[by_name[name]][1]
    big = query(db, "SELECT oversize, size, body_text FROM messages WHERE id = ?", [sources[by_name["oversize"]]])[0]
    assert big[0] == 1 and big[1] > corpus.SMALL_CAP and big[2] == ""

    # Every message is filed: a ticket for each "new", nothing orphaned, no ticket without a message.
    assert scalar(db, "SELECT count(*) FROM messages WHERE kind IN ('new', 'reply') AND ticket_id IS NULL") == 0
    assert scalar(db, "SELECT count(*) FROM tickets t WHERE NOT EXISTS "
                      "(SELECT 1 FROM messages m WHERE m.ticket_id = t.id)") == 0
    assert scalar(db, "SELECT count(*) FROM messages WHERE kind = 'new'") == count(db, "tickets")

    # The tickets list shows them (flagged ones included) and still parses as JSON.
    r = run_cli(cfg, "tickets", "--json")
    _assert_one_line_ok(r)
    listed = json.loads(r.stdout)
    assert len(listed) == count(db, "tickets")

    # \Seen is never set on the server.
    flags = server_flags(dovecot)
    assert len(flags) == len(appended)
    assert not [u for u, f in flags.items() if b"\\Seen" in f]


def test_poll_once_twice_is_idempotent(dovecot, tmp_path):
    dovecot.append_many([mail(i) for i in range(5)])
    cfg = write_config(tmp_path, port=dovecot.port)
    for _ in range(2):
        _assert_one_line_ok(run_cli(cfg, "poll", "--once"))
    db = tmp_path / "support.db"
    assert count(db, "messages") == 5 and count(db, "tickets") == 5 and count(db, "message_sources") == 5


def test_replies_thread_autoreplies_do_not_open_tickets_and_tags_need_a_participant(dovecot, tmp_path):
    alice = "alice@customer.example"
    first = mail("first", frm=alice, subject="Printer broken", msgid="<first@customer.example>",
                 extra="Cc: Carol <carol@customer.example>")
    reply = mail("reply", frm=alice, subject="Re: Printer broken", msgid="<reply@customer.example>",
                 extra="In-Reply-To: <first@customer.example>\nReferences: <first@customer.example>")
    # A colleague the customer copied answers in the thread: a participant, so the headers thread it.
    colleague = mail("colleague", frm="carol@customer.example", subject="Re: Printer broken",
                     msgid="<carol@customer.example>", extra="In-Reply-To: <reply@customer.example>")
    ooo = mail("ooo", frm=alice, subject="Out of office: Re: [#1] Printer broken", msgid="<ooo@customer.example>",
               extra="Auto-Submitted: auto-replied\nIn-Reply-To: <first@customer.example>")
    ooo_unthreaded = mail("ooo2", frm="dave@elsewhere.example", subject="Automatic reply",
                          msgid="<ooo2@elsewhere.example>", extra="Auto-Submitted: auto-replied\nPrecedence: bulk")
    bounce = mail("bounce", frm="MAILER-DAEMON@mx.customer.example", subject="Undelivered Mail Returned to Sender",
                  msgid="<bounce@mx.customer.example>")
    forged = mail("forged", frm="mallory@evil.example", subject="Re: [#1] Printer broken",
                  msgid="<forged@evil.example>")
    tagged = mail("tagged", frm=alice, subject="[#1] still broken", msgid="<tagged@customer.example>")
    # A stranger who copies the thread's Message-IDs into his headers does not join it (nor become a participant).
    hijack = mail("hijack", frm="eve@evil.example", subject="Re: Printer broken", msgid="<hijack@evil.example>",
                  extra="In-Reply-To: <first@customer.example>\nReferences: <first@customer.example>")
    for raw in (first, reply, colleague, ooo, ooo_unthreaded, bounce, hijack):
        dovecot.append(raw)
    cfg = write_config(tmp_path, port=dovecot.port)
    _assert_one_line_ok(run_cli(cfg, "poll", "--once"))
    # The tag tests come in a later sync, when ticket #1 and its participants are committed.
    dovecot.append(forged)
    dovecot.append(tagged)
    _assert_one_line_ok(run_cli(cfg, "poll", "--once"))
    db = tmp_path / "support.db"

    def msg(mid):
        # Message-IDs are stored normalised, without the angle brackets.
        return query(db, "SELECT kind, ticket_id FROM messages WHERE message_id = ?", [mid.strip("<>")])[0]

    assert msg("<first@customer.example>") == ("new", 1)
    assert msg("<reply@customer.example>") == ("reply", 1)
    assert msg("<carol@customer.example>") == ("reply", 1)
    assert msg("<ooo@customer.example>") == ("autoreply", 1)  # attached to the thread, no ticket of its own
    assert msg("<ooo2@elsewhere.example>") == ("autoreply", None)  # kept, unfiled, never a ticket
    assert msg("<bounce@mx.customer.example>") == ("bounce", None)
    assert msg("<tagged@customer.example>") == ("reply", 1)  # a participant's [#1] threads
    kind, forged_ticket = msg("<forged@evil.example>")
    assert kind == "new" and forged_ticket not in (None, 1)  # a stranger's [#1] opens a new ticket
    kind, hijack_ticket = msg("<hijack@evil.example>")
    assert kind == "new" and hijack_ticket not in (None, 1, forged_ticket)
    assert count(db, "tickets") == 3
    for ticket, reason in ((forged_ticket, "tag-not-participant"), (hijack_ticket, "header-not-participant")):
        refused = query(db, "SELECT detail FROM events WHERE ticket_id = ? AND kind = 'thread_refused'", [ticket])
        detail = json.loads(refused[0][0])
        assert detail["reason"] == reason and detail["referred"] == 1 and "not a participant" in detail["detail"]
    assert not query(db, "SELECT 1 FROM ticket_participants WHERE ticket_id = 1 AND address LIKE '%evil.example'")
    # Auto-replies do not count as contact and do not change the ticket.
    t1 = json.loads(run_cli(cfg, "show", "1", "--json").stdout)
    assert t1["status"] == "new" and t1["acknowledged_at"] is None
    assert t1["message_count"] == 5  # first, reply, colleague, ooo, tagged
    assert not [u for u, f in server_flags(dovecot).items() if b"\\Seen" in f]


def test_uidvalidity_change_does_not_duplicate(dovecot, tmp_path):
    dovecot.append_many([mail(i) for i in range(3)])
    cfg = write_config(tmp_path, port=dovecot.port)
    r = run_cli(cfg, "poll", "--once")
    _assert_one_line_ok(r)
    db = tmp_path / "support.db"
    old = dovecot.uidvalidity()
    assert query(db, "SELECT uidvalidity, last_uid FROM mailboxes") == [(old, 3)]

    new = old + 1000
    dovecot.set_uidvalidity(new)
    assert dovecot.uidvalidity() == new
    dovecot.append(mail("after", msgid="<after@customer.example>"))
    r = run_cli(cfg, "poll", "--once")
    _assert_one_line_ok(r)
    assert "UIDVALIDITY" in r.stderr  # the rescan is logged

    assert count(db, "messages") == 4
    assert count(db, "tickets") == 4
    assert scalar(db, "SELECT count(*) FROM messages WHERE message_id = 'after@customer.example'") == 1
    assert query(db, "SELECT uidvalidity, last_uid FROM mailboxes") == [(new, 4)]
    # Each message is known under both source keys, and both point at the same row.
    assert scalar(db, "SELECT count(*) FROM message_sources WHERE uidvalidity = ?", [old]) == 3
    assert scalar(db, "SELECT count(*) FROM message_sources WHERE uidvalidity = ?", [new]) == 4
    assert scalar(db, "SELECT count(DISTINCT message_row) FROM message_sources") == 4
    # And a third run after the rescan finds nothing new.
    _assert_one_line_ok(run_cli(cfg, "poll", "--once"))
    assert count(db, "messages") == 4
