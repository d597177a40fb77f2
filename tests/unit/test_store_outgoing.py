"""The replies' storage: the widened message kinds (a rebuild of a table with data and foreign keys), and
the mail outbox's own rules."""
import sqlite3
from datetime import timedelta

import pytest

from store import open_db, outgoing, write
from store.db import StoreError
from store.schema import migrations
from tests.factories import T0


def test_upgrading_a_database_keeps_its_mail_and_admits_outgoing_and_notes(tmp_path):
    db = open_db(tmp_path / "old.db", migrate=False)
    migrations.apply(db, stop_before="m401_outgoing_and_note_kinds")
    db.execute("INSERT INTO tickets (id, class, received_at, due_at, created_at, updated_at) VALUES (1, 'I', 'a', 'b',"
               " 'c', 'd')")
    db.execute("INSERT INTO messages (id, ticket_id, kind, message_id, sha256, dedup_key, raw, size, received_at,"
               " stored_at, source) VALUES (7, 1, 'new', 'm@x', 's', 'k', x'41', 1, 'r', 's', 'imap')")
    db.execute("INSERT INTO message_sources VALUES ('acct', 'INBOX', 1, 5, 7, 'now')")
    db.conn.commit()
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.execute("INSERT INTO messages (ticket_id, kind, sha256, dedup_key, raw, size, received_at, stored_at, source)"
                   " VALUES (1, 'note', 's', 'k2', x'', 0, 'r', 's', 'x')")
    db.close()

    db = open_db(tmp_path / "old.db")  # the pending migrations run
    assert migrations.pending(db) == []
    assert db.execute("SELECT id, kind, message_id, raw FROM messages").fetchall() == [(7, "new", "m@x", b"A")]
    assert db.execute("SELECT message_row FROM message_sources").fetchall() == [(7,)]
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'messages'")}
    assert {"messages_ticket", "messages_message_id"} <= names  # the indexes came back
    for kind in ("outgoing", "note"):
        db.execute("INSERT INTO messages (ticket_id, kind, sha256, dedup_key, raw, size, received_at, stored_at,"
                   " source) VALUES (1, ?, 's', ?, x'', 0, 'r', 's', 'desk')", [kind, kind])
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.execute("INSERT INTO messages (ticket_id, kind, sha256, dedup_key, raw, size, received_at, stored_at, source)"
                   " VALUES (1, 'spam', 's', 'k3', x'', 0, 'r', 's', 'x')")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        db.execute("INSERT INTO message_sources VALUES ('acct', 'INBOX', 1, 6, 999, 'now')")


def test_the_kind_migration_does_nothing_when_the_check_already_admits_them(tmp_path):
    from store.schema import m401_outgoing_and_note_kinds

    db = open_db(tmp_path / "new.db")
    before = db.execute("SELECT sql FROM sqlite_master WHERE name = 'messages'").fetchone()[0]
    m401_outgoing_and_note_kinds(db)  # a second run (another migration widened it, or a crash before its record)
    assert db.execute("SELECT sql FROM sqlite_master WHERE name = 'messages'").fetchone()[0] == before


def _queued(db, now=T0, to="carl@cust.example", automatic=False):
    with write(db):
        db.execute("INSERT OR IGNORE INTO tickets (id, class, received_at, due_at, created_at, updated_at)"
                   " VALUES (1, 'I', 'a', 'b', 'c', 'd')")
        row = outgoing.add_message(db, ticket_id=1, kind="outgoing", raw=b"mail", message_id=None, from_addr="d@x",
                                   from_name="", recipients=[to], subject="s", body_text="b", in_reply_to=None, refs=(),
                                   now=now, source="desk:x")
        return outgoing.add_send(db, message_row=row, ticket_id=1, purpose="receipt" if automatic else "reply",
                                 actor="x", automatic=automatic, mail_from="d@x", to_addr=to, rcpt_to=[to], now=now)


def test_a_claimed_row_is_claimed_once(db):
    sid = _queued(db)
    with write(db):
        assert [r["id"] for r in outgoing.claim(db, T0, claimed_by="a", send_deadline=T0)] == [sid]
        assert outgoing.claim(db, T0, claimed_by="b", send_deadline=T0) == []
        assert outgoing.claim(db, T0, claimed_by="b", send_deadline=T0, send_id=sid) == []
    with write(db):  # only the claimer finishes it
        assert not outgoing.mark_sent(db, sid, "b", T0, reply="250")
        assert outgoing.mark_sent(db, sid, "a", T0, reply="250")
    assert outgoing.get_send(db, sid)["state"] == "sent"


def test_requeue_only_what_is_expired_or_failed_and_failures_are_listed(db):
    sid = _queued(db)
    with pytest.raises(StoreError, match="only expired or failed"):
        with write(db):
            outgoing.requeue(db, sid, T0)
    with write(db):
        outgoing.claim(db, T0, claimed_by="a", send_deadline=T0)
        outgoing.mark_failed(db, sid, "a", T0 + timedelta(minutes=1), error="550 no")
    assert [r["id"] for r in outgoing.failures_since(db, T0)] == [sid]
    assert outgoing.failures_since(db, T0 + timedelta(minutes=2)) == []
    with write(db):
        assert outgoing.requeue(db, sid, T0)["state"] == "pending"


def test_automatic_mail_window_and_desk_ids(db):
    _queued(db, to="Carl@Cust.example", automatic=True)
    _queued(db, to="dora@cust.example")
    assert outgoing.automatic_since(db, "carl@cust.example", T0)
    assert not outgoing.automatic_since(db, "carl@cust.example", T0 + timedelta(seconds=1))
    assert not outgoing.automatic_since(db, "dora@cust.example", T0 - timedelta(hours=1))  # a person's reply
    assert not outgoing.is_desk_message_id(db, None)
