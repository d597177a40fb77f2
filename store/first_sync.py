"""A mailbox's first sync: which of its UIDs are history, and what the history held (console.intake.first_sync)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.db import Database

from store.times import iso


@dataclass(frozen=True)
class FirstSync:
    account: str
    folder: str
    uidvalidity: int
    history_top: int  # UIDs up to this one were in the mailbox when the desk first read it
    started_at: str
    summarised_at: str | None  # None while its history is still being filed

    def is_history(self, uidvalidity: int, uid: int | None) -> bool:
        return (self.summarised_at is None and uid is not None and uidvalidity == self.uidvalidity
                and uid <= self.history_top)


def get(db: Database, account: str, folder: str) -> FirstSync | None:
    row = db.execute("SELECT account, folder, uidvalidity, history_top, started_at, summarised_at FROM first_syncs"
                     " WHERE account = ? AND folder = ?", [account, folder]).fetchone()
    return FirstSync(*row) if row else None


def start(db: Database, account: str, folder: str, uidvalidity: int, history_top: int, now: datetime) -> FirstSync:
    db.execute("INSERT OR IGNORE INTO first_syncs (account, folder, uidvalidity, history_top, started_at)"
               " VALUES (?, ?, ?, ?, ?)", [account, folder, uidvalidity, history_top, iso(now)])
    fs = get(db, account, folder)
    assert fs is not None
    return fs


def finish(db: Database, account: str, folder: str, now: datetime) -> None:
    db.execute("UPDATE first_syncs SET summarised_at = ? WHERE account = ? AND folder = ? AND summarised_at IS NULL",
               [iso(now), account, folder])


def imported(db: Database, fs: FirstSync) -> list[dict]:
    """The tickets its history opened: id, class, status, due_at (one row each)."""
    rows = db.execute(
        "SELECT t.id, t.class, t.status, t.due_at FROM tickets t WHERE t.id IN ("
        " SELECT m.ticket_id FROM message_sources s JOIN messages m ON m.id = s.message_row AND m.kind = 'new'"
        " WHERE s.account = ? AND s.folder = ? AND s.uidvalidity = ? AND s.uid <= ?) ORDER BY t.id",
        [fs.account, fs.folder, fs.uidvalidity, fs.history_top]).fetchall()
    return [{"id": r[0], "class": r[1], "status": r[2], "due_at": r[3]} for r in rows]
