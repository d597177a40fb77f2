"""A mail the SMTP server accepted while the database was full (issue 20 item 5): one line says so, and
the outbox row is settled as sent by the next owner of the outbox, never sent again. A real aiosmtpd
sink and a real SQLite file, made full by SQLite's own page limit (PRAGMA max_page_count).
"""
from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import pytest

from console.clock import FrozenClock
from console.intake.pipeline import Incoming, file_messages
from console.outbox import journal, mail
from console.poller import sync_staff
from console.replies import desk
from store import open_db, outgoing, write
from tests.factories import T0, desk_config
from tests.factories import mail as a_mail

pytestmark = pytest.mark.integration


def fill(db) -> None:
    """Leave the database no room to grow, on this connection: events (the audit trail a send writes)
    are filled until SQLite says the database is full."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages + 2}")
    for size in (2000, 200, 20, 0):  # smaller and smaller, until not even a short row fits
        with pytest.raises(sqlite3.OperationalError, match="full"):
            while True:
                with write(db):
                    db.execute("INSERT INTO events (ticket_id, at, actor, kind, detail)"
                               " VALUES (NULL, 'x', 'x', 'x', ?)", ["x" * size])


def test_a_mail_sent_but_not_recorded_says_so_and_is_never_sent_again(tmp_path, smtp_sink):
    smtp = {"host": "127.0.0.1", "port": smtp_sink.port, "security": "none", "from": "Support <support@desk.example>",
            "timeout_seconds": 5}
    cfg = desk_config(tmp_path, smtp=smtp)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    clock = FrozenClock(T0)
    [f] = file_messages(db, cfg, [Incoming(raw=a_mail())], T0)
    q = desk.send_reply(db, cfg, f.ticket_id, "We are on it.", "bob", clock.now())

    fill(db)
    out = mail.send_now(db, cfg, q.send_id, clock)
    assert out.state == "unrecorded"
    assert out.detail == "sent to 127.0.0.1, but could not be recorded: disk full; it will not be sent again"
    assert len(smtp_sink.wait_for(1)) == 1
    db.close()

    db = open_db(cfg.store_path)  # room again (the limit was that connection's)
    assert outgoing.get_send(db, q.send_id)["state"] == "sending"
    clock.advance(timedelta(hours=1))  # long past its send deadline
    sender = mail.MailSender(cfg, clock, threading.Event())  # the next start
    try:
        sender.start_up()
        assert sender.cycle() == 0
    finally:
        sender.close()
    row = outgoing.get_send(db, q.send_id)
    assert row["state"] == "sent" and row["smtp_reply"] == journal.SETTLED_REPLY
    assert len(smtp_sink.transactions) == 1
    assert not list(journal.directory(cfg.store_path).iterdir())  # settled and tidied
