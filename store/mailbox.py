"""The IMAP watermark: (account, folder) -> (UIDVALIDITY, last committed UID)."""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

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


def ticket_source(db: Database, ticket_id: int) -> tuple[str, str] | None:
    """(account, folder) of the mailbox the ticket's first fetched message came from; None for a ticket
    born from `ingest` or the console."""
    row = db.execute(
        "SELECT s.account, s.folder FROM message_sources s JOIN messages m ON m.id = s.message_row "
        "WHERE m.ticket_id = ? ORDER BY m.id, s.seen_at LIMIT 1", [ticket_id]).fetchone()
    return (row[0], row[1]) if row else None
