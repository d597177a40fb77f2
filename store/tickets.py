"""Ticket rows. Updates check `version` so a write made against a stale read is refused."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from collections.abc import Iterable

from store.db import Database

from store.db import StaleWrite, StoreError, inserted_id
from store.times import iso

COLUMNS = (
    "id", "class", "class_reason", "status", "subject", "requester", "requester_name", "received_at",
    "due_at", "acknowledged_at", "acknowledged_by", "assignee", "resolved_at", "panic_mode",
    "needs_details", "quarantined", "automated", "step_cursor", "next_step_at", "version", "created_at", "updated_at",
    "last_message_at", "merged_into", "split_from", "first_contact", "clock_from", "clock_no",
)
_SELECT = "SELECT " + ", ".join(f"t.{c}" for c in COLUMNS)


class NoSuchTicket(StoreError):
    pass


def _row(cols: Iterable[str], values) -> dict[str, Any]:
    return dict(zip(cols, values, strict=False))


def create_ticket(
    db: Database,
    *,
    cls: str,
    class_reason: str,
    subject: str,
    requester: str,
    requester_name: str,
    received_at: datetime,
    due_at: datetime,
    next_step_at: datetime | None,
    now: datetime,
    needs_details: bool = False,
    quarantined: bool = False,
    automated: bool = False,
) -> int:
    return inserted_id(db.execute(
        "INSERT INTO tickets (class, class_reason, subject, requester, requester_name, received_at, due_at,"
        " next_step_at, needs_details, quarantined, automated, created_at, updated_at, last_message_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [cls, class_reason, subject, requester, requester_name, iso(received_at), iso(due_at), iso(next_step_at),
         int(needs_details), int(quarantined), int(automated), iso(now), iso(now), iso(received_at)],
    ))


def get_ticket(db: Database, ticket_id: int) -> dict[str, Any]:
    row = db.execute(f"{_SELECT} FROM tickets t WHERE t.id = ?", [ticket_id]).fetchone()
    if row is None:
        raise NoSuchTicket(f"no ticket #{ticket_id}")
    return _row(COLUMNS, row)


def list_tickets(
    db: Database,
    *,
    open_only: bool = False,
    cls: str | None = None,
    ids: Iterable[int] | None = None,
    with_counts: bool = True,
) -> list[dict[str, Any]]:
    where: list[str] = []
    params: list[Any] = []
    if open_only:
        where.append("t.status IN ('new', 'acknowledged')")  # what the status index serves
    if cls:
        where.append("t.class = ?")
        params.append(cls)
    if ids is not None:
        ids = list(ids)
        where.append(f"t.id IN ({','.join('?' * len(ids))})")
        params.extend(ids)
    cols = list(COLUMNS)
    select = _SELECT
    if with_counts:
        select += ", (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id) AS message_count"
        cols.append("message_count")
    sql = f"{select} FROM tickets t"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY t.id"
    return [_row(cols, r) for r in db.execute(sql, params).fetchall()]


def update_ticket(db: Database, ticket_id: int, changes: dict[str, Any], now: datetime,
                  expected_version: int | None = None) -> dict[str, Any]:
    """Apply `changes` (column -> value, datetimes allowed) and bump the version.

    With `expected_version`, the update happens only if nobody changed the ticket
    since it was read; otherwise StaleWrite and nothing is written.
    """
    changes = {k: (iso(v) if isinstance(v, datetime) else v) for k, v in changes.items()}
    bad = set(changes) - set(COLUMNS) - {"class"}
    if bad or "id" in changes or "version" in changes:
        raise ValueError(f"cannot update columns {sorted(bad)}")
    sets = ", ".join(f'"{k}" = ?' for k in changes)
    params = list(changes.values()) + [iso(now), ticket_id]
    sql = f"UPDATE tickets SET {sets}{', ' if sets else ''}version = version + 1, updated_at = ? WHERE id = ?"
    if expected_version is not None:
        sql += " AND version = ?"
        params.append(expected_version)
    cur = db.execute(sql, params)
    if cur.rowcount == 0:
        current = get_ticket(db, ticket_id)  # raises NoSuchTicket if it is gone
        raise StaleWrite(
            f"ticket #{ticket_id} was changed by someone else (version {current['version']}, "
            f"you had {expected_version}); reload and try again"
        )
    return get_ticket(db, ticket_id)


def add_participants(db: Database, ticket_id: int, addresses: Iterable[str]) -> None:
    """Lower-cased, once each, mail addresses only; ones already there are skipped. One statement with one
    bound parameter (a JSON list), however many addresses."""
    rows = sorted({a.strip().lower() for a in addresses if a and "@" in a})
    if rows:
        db.execute("INSERT OR IGNORE INTO ticket_participants (ticket_id, address)"
                   " SELECT ?, value FROM json_each(?)", [ticket_id, json.dumps(rows)])


def touch_last_message(db: Database, ticket_id: int, at: datetime) -> None:
    """A plain reply changes nothing an operator acts on: no version bump, so their edit does not go stale."""
    db.execute("UPDATE tickets SET last_message_at = max(coalesce(last_message_at, ''), ?) WHERE id = ?",
               [iso(at), ticket_id])


def is_participant(db: Database, ticket_id: int, address: str) -> bool:
    return db.execute(
        "SELECT 1 FROM ticket_participants WHERE ticket_id = ? AND address = ?", [ticket_id, address.lower()]
    ).fetchone() is not None


def ticket_exists(db: Database, ticket_id: int) -> bool:
    return db.execute("SELECT 1 FROM tickets WHERE id = ?", [ticket_id]).fetchone() is not None


def set_steps(db: Database, ticket_id: int, cursor: str | None, next_step_at: str | None) -> None:
    """Escalation bookkeeping (ISO text): no version bump, so a console's pending edit does not go stale."""
    db.execute("UPDATE tickets SET step_cursor = ?, next_step_at = ? WHERE id = ?", [cursor, next_step_at, ticket_id])


def next_step_due(db: Database) -> str | None:
    """The earliest escalation step time over all open, unacknowledged tickets."""
    # Unary + keeps SQLite off the status index: the partial next_step_at index answers this at once.
    row = db.execute(
        "SELECT next_step_at FROM tickets WHERE next_step_at IS NOT NULL AND +status = 'new'"
        " ORDER BY next_step_at LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def tickets_with_steps_due(db: Database, now: datetime) -> list[dict[str, Any]]:
    rows = db.execute(
        f"{_SELECT} FROM tickets t WHERE t.next_step_at IS NOT NULL AND +t.status = 'new' AND t.next_step_at <= ?"
        " ORDER BY t.next_step_at",
        [iso(now)],
    ).fetchall()
    return [_row(COLUMNS, r) for r in rows]
