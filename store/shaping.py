"""Merging and splitting tickets: the rows that move, and the record of each merge that unmerge undoes.

A merge moves rows (messages, events) by id and records those ids, so unmerge moves back exactly them and
nothing that arrived on the target since. Every function runs inside the caller's transaction.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from store.db import Database

from store import messages

_encode = json.JSONEncoder(sort_keys=True, default=str).encode

# How far a chain of merges is followed (a ticket merged into one that was merged in turn); merging into a
# merged ticket is refused, so chains are short, but a bound keeps a damaged database from looping.
MAX_CHAIN = 20

MERGE_COLUMNS = ("id", "target", "ticket", "at", "actor", "ticket_before", "target_before", "moved_messages",
                 "moved_events", "added_participants", "undone_at", "undone_by", "cancelled_alerts")


def merge_target(db: Database, ticket_id: int) -> int:
    """The ticket that mail for `ticket_id` joins: itself, or the one it was merged into (followed)."""
    seen = ticket_id
    for _ in range(MAX_CHAIN):
        row = db.execute("SELECT merged_into FROM tickets WHERE id = ?", [seen]).fetchone()
        if row is None or row[0] is None:
            return seen
        seen = row[0]
    return seen


def message_ids(db: Database, ticket_id: int) -> list[int]:
    return [r[0] for r in db.execute("SELECT id FROM messages WHERE ticket_id = ? ORDER BY id", [ticket_id])]


def event_ids(db: Database, ticket_id: int) -> list[int]:
    return [r[0] for r in db.execute("SELECT id FROM events WHERE ticket_id = ? ORDER BY id", [ticket_id])]


def participants(db: Database, ticket_id: int) -> list[str]:
    return [r[0] for r in db.execute("SELECT address FROM ticket_participants WHERE ticket_id = ?"
                                     " ORDER BY address", [ticket_id])]


def move_messages(db: Database, ids: Iterable[int], source: int, to: int) -> int:
    """Move these messages (still on `source`) to ticket `to`; those no longer on `source` stay put."""
    return db.execute("UPDATE messages SET ticket_id = ? WHERE ticket_id = ? AND id IN"
                      " (SELECT value FROM json_each(?))", [to, source, _encode(list(ids))]).rowcount


def move_events(db: Database, ids: Iterable[int], source: int, to: int) -> int:
    return db.execute("UPDATE events SET ticket_id = ? WHERE ticket_id = ? AND id IN"
                      " (SELECT value FROM json_each(?))", [to, source, _encode(list(ids))]).rowcount


def remove_participants(db: Database, ticket_id: int, addresses: Iterable[str]) -> None:
    db.execute("DELETE FROM ticket_participants WHERE ticket_id = ? AND address IN (SELECT value FROM json_each(?))",
               [ticket_id, _encode(list(addresses))])


def refresh_last_message(db: Database, ticket_id: int) -> None:
    """last_message_at from the customer's mail the ticket holds now (after messages moved in or out)."""
    db.execute("UPDATE tickets SET last_message_at = coalesce((SELECT max(received_at) FROM messages"
               " WHERE ticket_id = ? AND kind IN ('new', 'reply')), received_at) WHERE id = ?", [ticket_id, ticket_id])


def record_merge(db: Database, *, target: int, ticket: int, at: str, actor: str, ticket_before: dict[str, Any],
                 target_before: dict[str, Any], moved_messages: list[int], moved_events: list[int],
                 added_participants: list[str], cancelled_alerts: list[int]) -> int:
    cur = db.execute(
        "INSERT INTO merges (target, ticket, at, actor, ticket_before, target_before, moved_messages, moved_events,"
        " added_participants, cancelled_alerts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [target, ticket, at, actor, _encode(ticket_before), _encode(target_before), _encode(moved_messages),
         _encode(moved_events), _encode(added_participants), _encode(cancelled_alerts)],
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def open_merge(db: Database, ticket_id: int) -> dict[str, Any] | None:
    """The merge (not undone) that made `ticket_id` a merged ticket, with its JSON decoded."""
    row = db.execute(f"SELECT {', '.join(MERGE_COLUMNS)} FROM merges WHERE ticket = ? AND undone_at IS NULL"
                     " ORDER BY id DESC LIMIT 1", [ticket_id]).fetchone()
    if row is None:
        return None
    out = dict(zip(MERGE_COLUMNS, row, strict=True))
    for k in ("ticket_before", "target_before", "moved_messages", "moved_events", "added_participants",
              "cancelled_alerts"):
        out[k] = json.loads(out[k])
    return out


def close_merge(db: Database, merge_id: int, at: str, actor: str) -> None:
    db.execute("UPDATE merges SET undone_at = ?, undone_by = ? WHERE id = ?", [at, actor, merge_id])


def merged_into_this(db: Database, ticket_id: int) -> list[int]:
    """The tickets merged into `ticket_id` now (not unmerged)."""
    return [r[0] for r in db.execute("SELECT id FROM tickets WHERE merged_into = ? ORDER BY id", [ticket_id])]


def split_off(db: Database, ticket_id: int) -> list[int]:
    """The tickets split from `ticket_id`."""
    return [r[0] for r in db.execute("SELECT id FROM tickets WHERE split_from = ? ORDER BY id", [ticket_id])]


def message_head(db: Database, message_id: int) -> dict[str, Any] | None:
    """What splitting needs to know of a message: its ticket, kind, sender and arrival, and its raw bytes."""
    row = db.execute("SELECT id, ticket_id, kind, from_addr, received_at FROM messages WHERE id = ?",
                     [message_id]).fetchone()
    if row is None:
        return None
    return {"id": row[0], "ticket_id": row[1], "kind": row[2], "from_addr": row[3], "received_at": row[4],
            "raw": messages.raw_message(db, message_id)}


def later_from(db: Database, ticket_id: int, sender: str, received_at: str, after_id: int) -> list[int]:
    """The sender's own later mail on the ticket (new mail and replies, not auto-replies or the desk's)."""
    return [r[0] for r in db.execute(
        "SELECT id FROM messages WHERE ticket_id = ? AND lower(from_addr) = lower(?) AND kind IN ('new', 'reply')"
        " AND (received_at > ? OR (received_at = ? AND id > ?)) ORDER BY received_at, id",
        [ticket_id, sender, received_at, received_at, after_id])]


def set_message_kind(db: Database, message_id: int, kind: str) -> None:
    db.execute("UPDATE messages SET kind = ? WHERE id = ?", [kind, message_id])


def first_message(db: Database, ticket_id: int) -> int | None:
    row = db.execute("SELECT id FROM messages WHERE ticket_id = ? AND kind != 'note' ORDER BY received_at, id"
                     " LIMIT 1", [ticket_id]).fetchone()
    return row[0] if row else None


def unsent_alerts(db: Database, ticket_id: int) -> list[int]:
    """The ticket's pages not sent yet (what cancelling its pages would cancel)."""
    return [r[0] for r in db.execute("SELECT id FROM alerts WHERE ticket_id = ? AND state IN ('pending', 'failed')"
                                     " AND step != 'standdown' ORDER BY id", [ticket_id])]


def still_cancelled(db: Database, ids: Iterable[int]) -> list[int]:
    return [r[0] for r in db.execute("SELECT id FROM alerts WHERE state = 'cancelled' AND id IN"
                                     " (SELECT value FROM json_each(?)) ORDER BY id", [_encode(list(ids))])]
