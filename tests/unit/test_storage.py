"""Storage that fits (issue 22): raw mail kept apart from the message metadata, compressed, and given back
byte for byte by everything that reads it; a migration moves an existing database."""
from __future__ import annotations

import os
import zlib
from datetime import timedelta

from console.intake.pipeline import Incoming, file_messages
from store import console_reads, messages, open_db, write
from store.schema import migrations
from tests.factories import T0, mail


def test_filed_mail_is_kept_apart_compressed_and_read_back_exactly(db, cfg):
    text = mail(body="Our printer is broken. " * 200)
    noise = mail(subject="noise", message_id="<noise@cust.example>").rstrip(b"\r\n") + os.urandom(3000)
    filed = file_messages(db, cfg, [Incoming(text), Incoming(noise)], T0)
    rows = [f.message_row for f in filed]
    stored = dict(db.execute("SELECT message_id, codec FROM message_raw").fetchall())
    assert stored == {rows[0]: "zlib", rows[1]: ""}  # random bytes do not shrink: kept as they are
    packed = db.execute("SELECT length(raw) FROM message_raw WHERE message_id = ?", [rows[0]]).fetchone()[0]
    assert packed < len(text) / 5
    assert db.execute("SELECT count(*) FROM messages WHERE length(raw) > 0").fetchone()[0] == 0
    assert messages.raw_message(db, rows[0]) == text and messages.raw_message(db, rows[1]) == noise
    assert messages.raw_message(db, 999) == b""


def test_the_desk_mail_stays_where_the_sender_reads_it(db, cfg):
    """store.outgoing.raw_of reads messages.raw for kind 'outgoing' until it reads through raw_message()."""
    from store import outgoing

    [filed] = file_messages(db, cfg, [Incoming(mail())], T0)
    raw = b"From: support@desk.example\r\nSubject: Re: [#1] Help\r\n\r\nWe are on it.\r\n"
    with write(db):
        row = outgoing.add_message(db, ticket_id=filed.ticket_id, kind="outgoing", raw=raw, message_id="out@desk",
                                   from_addr="support@desk.example", from_name="", recipients=["carl@cust.example"],
                                   subject="Re: [#1] Help", body_text="We are on it.", in_reply_to=None, refs=[],
                                   now=T0, source="desk:ann")
        send = outgoing.add_send(db, message_row=row, ticket_id=filed.ticket_id, purpose="reply", actor="ann",
                                 automatic=False, mail_from="support@desk.example", to_addr="carl@cust.example",
                                 rcpt_to=["carl@cust.example"], now=T0)
    assert outgoing.raw_of(db, outgoing.get_send(db, send)) == raw == messages.raw_message(db, row)


def test_the_migration_moves_existing_mail_and_search_still_works(tmp_path):
    path = tmp_path / "old.db"
    db = open_db(path, migrate=False)
    migrations.apply(db, stop_before="m2203_raw_apart")
    raws = {}
    with write(db):  # as the code before m2203 stored mail: raw bytes in the messages row
        db.execute("INSERT INTO tickets (class, received_at, due_at, created_at, updated_at)"
                   " VALUES ('I', 'x', 'x', 'x', 'x')")
        for i, kind in enumerate(("new", "reply", "outgoing")):
            raw = mail(subject=f"Grüße {i}", body=f"Die Straße ist gesperrt, Nachricht {i}. " * 20,
                       message_id=f"<m{i}@cust.example>")
            cols = messages.message_columns({"subject": f"Grüße {i}", "body_text": f"Die Straße ist gesperrt {i}"},
                                            messages.sha256(raw), len(raw))
            raws[db.execute(
                "INSERT INTO messages (ticket_id, kind, received_at, stored_at, source, raw, message_id, sha256,"
                " dedup_key, size, oversize, unparseable, defects, from_addr, from_name, recipients, subject,"
                " sent_date, body_text, attachments, in_reply_to, refs, search_extra) VALUES (1, ?, 'x', 'x', 'test',"
                " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [kind, raw, *cols]).lastrowid] = (kind, raw)
    db.conn.close()
    db = open_db(path)
    assert migrations.pending(db) == []
    for row, (kind, raw) in raws.items():
        assert messages.raw_message(db, row) == raw
        inline = bytes(db.execute("SELECT raw FROM messages WHERE id = ?", [row]).fetchone()[0])
        assert inline == (raw if kind == "outgoing" else b"")
    packed = db.execute("SELECT codec, raw FROM message_raw WHERE message_id = 1").fetchone()
    assert packed[0] == "zlib" and zlib.decompress(packed[1]) == raws[1][1]
    assert console_reads.tickets_with_text(db, "strasse gesperrt 2") == {1}
    # the full-text index's update trigger is back after the migration set it aside
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'messages_au'"
                      ).fetchone()[0] == 1
    with write(db):
        db.execute("UPDATE messages SET body_text = 'Kangaroo' WHERE id = 1")
    assert console_reads.tickets_with_text(db, "kangaroo") == {1}
    assert console_reads.tickets_with_text(db, "gesperrt 0") == set()


def test_raw_command_and_thread_read_through_the_store(db, cfg, capsys):
    from console import cli

    raw = mail(body="Printer on fire.\r\n" * 50)
    [filed] = file_messages(db, cfg, [Incoming(raw)], T0 - timedelta(minutes=1))
    cfg_path = cfg.store_path.parent / "config.toml"
    cfg_path.write_text(f'timezone = "UTC"\n[store]\npath = "{cfg.store_path}"\n')
    assert cli.main(["--config", str(cfg_path), "raw", str(filed.message_row)]) == 0
    assert "Printer on fire." in capsys.readouterr().out
