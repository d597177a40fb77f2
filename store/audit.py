"""The audit log: every change to a ticket, with who did it."""
from __future__ import annotations

import json
from datetime import datetime

from sqlite_utils import Database

from store.times import iso


def add_event(db: Database, ticket_id: int | None, kind: str, actor: str, now: datetime, **detail) -> int:
    cur = db.execute(
        "INSERT INTO events (ticket_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)",
        [ticket_id, iso(now), actor, kind, json.dumps(detail, sort_keys=True, default=str)],
    )
    return cur.lastrowid


def events_for(db: Database, ticket_id: int) -> list[dict]:
    rows = db.execute(
        "SELECT id, ticket_id, at, actor, kind, detail FROM events WHERE ticket_id = ? ORDER BY id", [ticket_id]
    ).fetchall()
    return [
        {"id": r[0], "ticket_id": r[1], "at": r[2], "actor": r[3], "kind": r[4], "detail": json.loads(r[5])}
        for r in rows
    ]
