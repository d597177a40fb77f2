"""The store: schema through migrations, WAL, stale-write refusal, watermark, dedup keys."""
import sqlite3
import threading

import pytest

from store import StaleWrite, open_db, write
from store import audit, mailbox, messages, tickets
from store.schema import migrations

from tests.factories import T0


def new_ticket(db, **kw):
    args = dict(cls="I", class_reason="test", subject="s", requester="r@x", requester_name="R", received_at=T0,
                due_at=T0, next_step_at=None, now=T0)
    args.update(kw)
    with write(db):
        return tickets.create_ticket(db, **args)


def test_migrations_applied_once_and_wal_on(db, cfg):
    assert migrations.pending(db) == []
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    again = open_db(cfg.store_path)  # reopening does not re-run anything
    assert [m.name for m in migrations.applied(again)] == [m.name for m in migrations.applied(db)]


def test_stale_write_is_refused_and_nothing_changes(db):
    tid = new_ticket(db)
    t = tickets.get_ticket(db, tid)
    with write(db):
        tickets.update_ticket(db, tid, {"assignee": "bob"}, T0, expected_version=t["version"])
    with pytest.raises(StaleWrite, match="changed by someone else"), write(db):
        tickets.update_ticket(db, tid, {"assignee": "cy"}, T0, expected_version=t["version"])
    assert tickets.get_ticket(db, tid)["assignee"] == "bob"


def test_write_rolls_back_everything_on_error(db):
    with pytest.raises(RuntimeError), write(db):
        tid = tickets.create_ticket(db, cls="I", class_reason="", subject="x", requester="", requester_name="",
                                    received_at=T0, due_at=T0, next_step_at=None, now=T0)
        audit.add_event(db, tid, "created", "test", T0)
        mailbox.set_watermark(db, "acct", "INBOX", 7, 42, T0)
        raise RuntimeError("crash before commit")
    assert tickets.list_tickets(db) == []
    assert mailbox.get_watermark(db, "acct", "INBOX") is None
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_watermark_upsert(db):
    with write(db):
        mailbox.set_watermark(db, "a", "INBOX", 1, 10, T0)
        mailbox.set_watermark(db, "a", "INBOX", 2, 3, T0)
    assert mailbox.get_watermark(db, "a", "INBOX") == (2, 3)


def test_dedup_key_is_unique_but_message_id_alone_is_not(db):
    raw1, raw2 = b"Message-ID: <x@y>\r\n\r\none", b"Message-ID: <x@y>\r\n\r\ntwo"
    with write(db):
        for raw in (raw1, raw2):
            messages.insert_message(db, raw=raw, raw_sha256=messages.sha256(raw), ticket_id=None, kind="autoreply",
                                    fields={"message_id": "x@y"}, received_at=T0, now=T0, source="test")
    assert messages.count_messages(db) == 2
    with pytest.raises(sqlite3.IntegrityError), write(db):
        messages.insert_message(db, raw=raw1, raw_sha256=messages.sha256(raw1), ticket_id=None, kind="autoreply",
                                fields={"message_id": "x@y"}, received_at=T0, now=T0, source="test")


def test_concurrent_writers_wait_instead_of_failing(cfg, db):
    tid = new_ticket(db)
    errors = []

    def bump(n):
        conn = open_db(cfg.store_path)
        try:
            for _ in range(n):
                with write(conn):
                    t = tickets.get_ticket(conn, tid)
                    tickets.update_ticket(conn, tid, {"subject": t["subject"] + "."}, T0)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=bump, args=(50,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert tickets.get_ticket(db, tid)["subject"] == "s" + "." * 200


def test_message_kinds_migration_keeps_every_row_and_allows_outgoing_and_note(tmp_path):
    from sqlite_utils import Database

    path = tmp_path / "old.db"
    old = Database(sqlite3.connect(path))
    migrations.apply(old, stop_before="m102_message_kinds")
    raw = b"Message-ID: <x@y>\r\n\r\nbody"
    with write(old):  # the columns of that schema: today's insert_message writes today's
        mid = old.execute("INSERT INTO messages (ticket_id, kind, message_id, sha256, dedup_key, raw, size,"
                          " received_at, stored_at, source) VALUES (NULL, 'bounce', 'x@y', ?, ?, ?, ?, ?, ?, 'test')",
                          [messages.sha256(raw), messages.dedup_key(messages.sha256(raw), "x@y"), raw, len(raw),
                           "2026-11-02T16:00:00Z", "2026-11-02T16:00:00Z"]).lastrowid
        messages.add_source(old, "acct", "INBOX", 1, 7, mid, "2026-11-02T16:00:00Z")
    with pytest.raises(sqlite3.IntegrityError), write(old):
        old.execute("UPDATE messages SET kind = 'outgoing'")
    old.conn.close()
    db = open_db(path)  # applies m102 and later
    assert [m.name for m in migrations.pending(db)] == []
    # m103 re-keyed the old row by content (trace fields ignored), as intake keys new mail
    assert db.execute("SELECT dedup_key FROM messages WHERE id = ?", [mid]).fetchone()[0] == \
        messages.dedup_key(messages.content_sha256(raw), "x@y")
    assert messages.raw_message(db, mid) == raw
    assert messages.find_source(db, "acct", "INBOX", 1, 7) == (mid, None)
    with write(db):
        db.execute("UPDATE messages SET kind = 'outgoing'")
        db.execute("UPDATE messages SET kind = 'note'")
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                        " AND tbl_name = 'messages'")}
    assert {"messages_ticket", "messages_message_id"} <= indexes
