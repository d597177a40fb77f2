"""The audit log: every change to a ticket, with who did it."""
from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from store.db import Database, inserted_id
from store.times import iso

if TYPE_CHECKING:  # the row shapes are for the type checker; filing a mail need not build them
    from store.rows import Event


_INSERT_EVENT = "INSERT INTO events (ticket_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)"
_encode = json.JSONEncoder(sort_keys=True, default=str).encode  # one encoder, not one per event


def event_row(ticket_id: int | None, kind: str, actor: str, now: str, detail: dict) -> tuple:
    return (ticket_id, now, actor, kind, _encode(detail))


def add_event(db: Database, ticket_id: int | None, kind: str, actor: str, now: datetime, **detail) -> int:
    return inserted_id(db.execute(_INSERT_EVENT, event_row(ticket_id, kind, actor, iso(now), detail)))


def events_for(db: Database, ticket_id: int) -> list[Event]:
    rows = db.execute(
        "SELECT id, ticket_id, at, actor, kind, detail FROM events WHERE ticket_id = ? ORDER BY id", [ticket_id]
    ).fetchall()
    return [
        {"id": r[0], "ticket_id": r[1], "at": r[2], "actor": r[3], "kind": r[4], "detail": json.loads(r[5])}
        for r in rows
    ]


def has_event(db: Database, ticket_id: int, kind: str) -> bool:
    """Whether the ticket has an event of this kind."""
    return db.execute("SELECT 1 FROM events WHERE ticket_id = ? AND kind = ? LIMIT 1", [ticket_id, kind]).fetchone() \
        is not None
