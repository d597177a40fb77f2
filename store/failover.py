"""What a restore onto a standby host changes in the restored copy (console.replication.restore)."""
from __future__ import annotations

from datetime import datetime

from store.db import Database

from store.db import write
from store.times import iso


def expire_pages_in_flight(db: Database, now: datetime, reason: str) -> list[int]:
    """Pages the old host had claimed ('sending') become 'expired': they may have gone out. Pending ones
    stay: the old host sends a page only once its claim has reached the replica, so a page that is
    pending here was not sent, and the standby sends it. Returns the ids expired."""
    with write(db):
        ids = [r[0] for r in db.execute("SELECT id FROM alerts WHERE state = 'sending' ORDER BY id")]
        db.conn.executemany("UPDATE alerts SET state = 'expired', last_error = ?, updated_at = ? WHERE id = ?",
                            [(reason, iso(now), i) for i in ids])
    return ids


def ticket_count(db: Database) -> int:
    return db.execute("SELECT count(*) FROM tickets").fetchone()[0]


def last_write(db: Database) -> str | None:
    """The newest heartbeat in the database: the poller writes one every few seconds, so this is about
    the moment the copy was taken."""
    return db.execute("SELECT max(at) FROM heartbeats").fetchone()[0]


def record_restore(db: Database, url: str, now: datetime) -> None:
    with write(db):
        db.execute("INSERT INTO settings (name, value) VALUES ('restored_from', ?)"
                   " ON CONFLICT (name) DO UPDATE SET value = excluded.value", [f"{url} at {iso(now)}"])
