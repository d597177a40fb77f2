"""The IMAP watermark: (account, folder) -> (UIDVALIDITY, last committed UID)."""
from __future__ import annotations

from datetime import datetime

from store.db import Database

from store.times import iso


def get_watermark(db: Database, account: str, folder: str) -> tuple[int, int] | None:
    row = db.execute(
        "SELECT uidvalidity, last_uid FROM mailboxes WHERE account = ? AND folder = ?", [account, folder]
    ).fetchone()
    return (row[0], row[1]) if row else None


def set_watermark(db: Database, account: str, folder: str, uidvalidity: int, last_uid: int, now: datetime) -> None:
    db.execute(
        """INSERT INTO mailboxes (account, folder, uidvalidity, last_uid, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (account, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity,
               last_uid = excluded.last_uid, updated_at = excluded.updated_at""",
        [account, folder, uidvalidity, last_uid, iso(now)],
    )


def add_unreadable(db: Database, account: str, folder: str, uidvalidity: int, uid: int, *, ticket_id: int,
                   answer: str, now: datetime, next_try_at: datetime) -> None:
    db.execute(
        "INSERT OR IGNORE INTO unreadable (account, folder, uidvalidity, uid, ticket_id, answer, first_failed_at,"
        " last_tried_at, next_try_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [account, folder, uidvalidity, uid, ticket_id, answer, iso(now), iso(now), iso(next_try_at)],
    )


def get_unreadable(db: Database, account: str, folder: str, uidvalidity: int, uid: int) -> dict | None:
    cur = db.execute("SELECT * FROM unreadable WHERE account = ? AND folder = ? AND uidvalidity = ? AND uid = ?",
                     [account, folder, uidvalidity, uid])
    row = cur.fetchone()
    return dict(zip([c[0] for c in cur.description], row, strict=True)) if row else None


def unreadable_due(db: Database, account: str, folder: str, uidvalidity: int, now: datetime,
                   limit: int = 50) -> list[dict]:
    """Placeholders of this mailbox view whose next try has come, the oldest try first."""
    cur = db.execute(
        "SELECT * FROM unreadable WHERE account = ? AND folder = ? AND uidvalidity = ? AND state = 'waiting'"
        " AND next_try_at <= ? ORDER BY next_try_at, uid LIMIT ?", [account, folder, uidvalidity, iso(now), limit])
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def unreadable_waiting(db: Database, account: str, folder: str) -> int:
    return db.execute("SELECT count(*) FROM unreadable WHERE account = ? AND folder = ? AND state = 'waiting'",
                      [account, folder]).fetchone()[0]


def retry_unreadable_later(db: Database, account: str, folder: str, uidvalidity: int, uid: int, *, answer: str,
                           now: datetime, next_try_at: datetime) -> None:
    db.execute(
        "UPDATE unreadable SET attempts = attempts + 1, answer = ?, last_tried_at = ?, next_try_at = ?"
        " WHERE account = ? AND folder = ? AND uidvalidity = ? AND uid = ?",
        [answer, iso(now), iso(next_try_at), account, folder, uidvalidity, uid],
    )


def close_unreadable(db: Database, account: str, folder: str, uidvalidity: int, uid: int, *, state: str,
                     now: datetime, message_row: int | None = None) -> None:
    """state: 'filed' (read at last; message_row is where it went) or 'gone' (no longer on the server)."""
    db.execute(
        "UPDATE unreadable SET state = ?, filed_message = ?, last_tried_at = ?, next_try_at = NULL,"
        " attempts = attempts + 1 WHERE account = ? AND folder = ? AND uidvalidity = ? AND uid = ?",
        [state, message_row, iso(now), account, folder, uidvalidity, uid],
    )


def ticket_source(db: Database, ticket_id: int) -> tuple[str, str] | None:
    """(account, folder) of the mailbox the ticket's first fetched message came from; None for a ticket
    born from `ingest` or the console."""
    row = db.execute(
        "SELECT s.account, s.folder FROM message_sources s JOIN messages m ON m.id = s.message_row "
        "WHERE m.ticket_id = ? ORDER BY m.id, s.seen_at LIMIT 1", [ticket_id]).fetchone()
    return (row[0], row[1]) if row else None
