"""What the guards on automatic mail (receipts, details requests) read: how much went out lately, to whom,
and how much was withheld. Mail that is withheld leaves an audit event of one of WITHHELD_KINDS."""
from __future__ import annotations

from datetime import datetime

from store.db import Database

from store import messages

from store.times import iso

WITHHELD_KINDS = ("receipt_withheld", "details_withheld")


def queued_since(db: Database, since: datetime) -> int:
    """Automatic mails queued at or after `since`, desk-wide."""
    return db.execute("SELECT count(*) FROM mail_outbox WHERE automatic = 1 AND created_at >= ?",
                      [iso(since)]).fetchone()[0]


def recipients_in_domain_since(db: Database, domain: str, since: datetime) -> list[str]:
    """The recipients (as stored, lower-cased) of automatic mails to `domain` queued at or after `since`."""
    suffix = "@" + domain.lower()
    rows = db.execute("SELECT to_addr FROM mail_outbox WHERE automatic = 1 AND created_at >= ?"
                      " AND substr(to_addr, -?) = ?", [iso(since), len(suffix), suffix]).fetchall()
    return [r[0] for r in rows]


def first_raw(db: Database, ticket_id: int) -> bytes:
    """The raw bytes of a ticket's first message (the mail that opened it)."""
    row = db.execute("SELECT id FROM messages WHERE ticket_id = ? ORDER BY id LIMIT 1", [ticket_id]).fetchone()
    return messages.raw_message(db, row[0]) if row else b""


def withheld_since(db: Database, since: datetime) -> int:
    """Automatic mails withheld (a cap, a sender not authenticated) at or after `since`."""
    return db.execute(f"SELECT count(*) FROM events WHERE kind IN ({', '.join('?' * len(WITHHELD_KINDS))})"
                      " AND at >= ?", [*WITHHELD_KINDS, iso(since)]).fetchone()[0]
