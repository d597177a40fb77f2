"""Silences (maintenance windows): a supervisor holds the pages of matching tickets until a time at most a
day ahead. Tickets keep their clocks; only their pages wait, as alert rows in state 'silenced' that name
the silence (alerts.silenced_by). When a silence ends (its time, or `silence end`), it is released once:
the held pages of tickets still unacknowledged wait again, and the pages sender tells each person about
them in one page (console/outbox/silences.py).

Which ticket a silence matches is decided by console.outbox.silences.matches (pure); this module only
reads and writes rows.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from store.db import Database

from store import outbox, queue
from store.times import iso

KINDS = ("sender", "domain", "subject")
COLUMNS = ("id", "kind", "pattern", "reason", "created_by", "created_at", "ends_at", "ended_at", "ended_by",
           "released_at")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM silences"


def _rows(cur) -> list[dict[str, Any]]:
    return [dict(zip(COLUMNS, r, strict=True)) for r in cur.fetchall()]


def add(db: Database, *, kind: str, pattern: str, reason: str, by: str, now: datetime, ends_at: datetime) -> int:
    cur = db.execute("INSERT INTO silences (kind, pattern, reason, created_by, created_at, ends_at)"
                     " VALUES (?, ?, ?, ?, ?, ?)", [kind, pattern, reason, by, iso(now), iso(ends_at)])
    return int(cur.lastrowid or 0)


def get(db: Database, silence_id: int) -> dict[str, Any] | None:
    rows = _rows(db.execute(f"{_SELECT} WHERE id = ?", [silence_id]))
    return rows[0] if rows else None


def active(db: Database, now: datetime) -> list[dict[str, Any]]:
    """Silences holding pages now: not ended by hand, not past their time (answered by the partial index)."""
    return _rows(db.execute(f"{_SELECT} WHERE released_at IS NULL AND ends_at > ? AND ended_at IS NULL"
                            " ORDER BY id", [iso(now)]))


def listing(db: Database, now: datetime, *, limit: int = 200) -> list[dict[str, Any]]:
    """Active silences first, then the most recent ended ones; each with `active` and `held` (its pages held
    or released) and `quiet` (its tickets with pages held now)."""
    rows = _rows(db.execute(f"{_SELECT} ORDER BY (ended_at IS NULL AND ends_at > ?) DESC, id DESC LIMIT ?",
                            [iso(now), limit]))
    for r in rows:
        r["active"] = r["ended_at"] is None and r["ends_at"] > (iso(now) or "")
        r["held"], r["quiet"] = db.execute(
            "SELECT count(*), count(DISTINCT CASE WHEN state = 'silenced' THEN ticket_id END) FROM alerts"
            " WHERE silenced_by = ?", [r["id"]]).fetchone()
    return rows


def end(db: Database, silence_id: int, by: str, now: datetime) -> bool:
    """End an active silence now. False when it had ended already."""
    return db.execute("UPDATE silences SET ended_at = ?, ended_by = ? WHERE id = ? AND ended_at IS NULL"
                      " AND ends_at > ?", [iso(now), by, silence_id, iso(now)]).rowcount == 1


def next_end(db: Database) -> str | None:
    """When the next silence not yet released ends (what the scheduler wakes for)."""
    return db.execute("SELECT min(coalesce(ended_at, ends_at)) FROM silences WHERE released_at IS NULL").fetchone()[0]


def to_release(db: Database, now: datetime) -> list[dict[str, Any]]:
    """Silences that have ended and whose held pages have not been released yet."""
    return _rows(db.execute(f"{_SELECT} WHERE released_at IS NULL AND (ended_at IS NOT NULL OR ends_at <= ?)"
                            " ORDER BY id", [iso(now)]))


def release(db: Database, silence_id: int, now: datetime) -> int:
    """Mark the silence released; its held pages of tickets still unacknowledged wait again, due now, and
    keep naming it. Held pages of tickets answered meanwhile, or of a class the ticket no longer has (it was
    reclassified), stay 'silenced' (they were never needed).
    Returns the number of pages released. Call inside store.write()."""
    if db.execute("UPDATE silences SET released_at = ? WHERE id = ? AND released_at IS NULL",
                  [iso(now), silence_id]).rowcount != 1:
        return 0
    return db.execute(
        "UPDATE alerts SET state = 'pending', next_attempt_at = ?, updated_at = ?, claimed_by = NULL"
        " WHERE silenced_by = ?"
        " AND state = 'silenced' AND EXISTS (SELECT 1 FROM tickets t WHERE t.id = alerts.ticket_id"
        " AND t.status = 'new' AND t.class = alerts.cls)", [iso(now), iso(now), silence_id]).rowcount


def due_ticket_pages(db: Database, now: datetime, horizon: datetime | None = None) -> list[dict[str, Any]]:
    """Pages of tickets (not stand-downs) waiting and due now (as the claim counts due: store.queue), with their
    ticket's requester and subject: what an active silence may hold before the claim."""
    rows = db.execute(
        "SELECT a.id, a.ticket_id, t.requester, t.subject FROM alerts a JOIN tickets t ON t.id = a.ticket_id"
        f" WHERE {queue.due_condition(outbox.PAGES, 'a')} AND a.step != 'standdown'",
        queue.due_params(now, horizon)).fetchall()
    return [dict(zip(("id", "ticket_id", "requester", "subject"), r, strict=True)) for r in rows]


def hold(db: Database, alert_id: int, silence_id: int, now: datetime) -> None:
    db.execute("UPDATE alerts SET state = 'silenced', silenced_by = ?, updated_at = ? WHERE id = ?"
               " AND state IN ('pending', 'failed')", [silence_id, iso(now), alert_id])


def quiet(db: Database, now: datetime) -> tuple[int, int]:
    """(active silences, tickets still unacknowledged whose pages they hold): the console header's words."""
    n = db.execute("SELECT count(*) FROM silences WHERE released_at IS NULL AND ended_at IS NULL AND ends_at > ?",
                   [iso(now)]).fetchone()[0]
    if not n:
        return 0, 0
    tickets = db.execute(
        "SELECT count(DISTINCT a.ticket_id) FROM alerts a JOIN silences s ON s.id = a.silenced_by"
        " JOIN tickets t ON t.id = a.ticket_id WHERE a.state = 'silenced' AND s.released_at IS NULL"
        " AND s.ended_at IS NULL AND s.ends_at > ? AND t.status = 'new'", [iso(now)]).fetchone()[0]
    return n, tickets


def release_bundle(db: Database, carrier: dict[str, Any], now: datetime, batch: list[int]) -> list[dict[str, Any]]:
    """Every other page due now to the carrier's person (waiting, or claimed with it in `batch`) that its
    silence held, or of a ticket it held (a step that came due as it ended), becomes 'bundled', carried by
    `carrier`: one page per person when a silence ends, whatever the senders.
    Returns them with their ticket's requester."""
    ids = [i for i in batch if i != carrier["id"]]
    rows = db.execute(
        "SELECT a.id, a.ticket_id, a.cls, a.due_at, t.requester FROM alerts a JOIN tickets t ON t.id = a.ticket_id"
        " WHERE a.target = ? AND a.id != ? AND a.step != 'standdown'"
        " AND (a.silenced_by = ? OR a.ticket_id IN (SELECT h.ticket_id FROM alerts h WHERE h.silenced_by = ?))"
        " AND ((a.state IN ('pending', 'failed') AND a.next_attempt_at <= ?)"
        f"      OR (a.state = 'sending' AND a.id IN ({','.join('?' * len(ids)) or 'NULL'})))"
        " ORDER BY a.ticket_id",
        [carrier["target"], carrier["id"], carrier["silenced_by"], carrier["silenced_by"], iso(now), *ids]).fetchall()
    for r in rows:
        db.execute("UPDATE alerts SET state = 'bundled', carried_by = ?, sent_at = ?, updated_at = ? WHERE id = ?",
                   [carrier["id"], iso(now), iso(now), r[0]])
    return [dict(zip(("id", "ticket_id", "cls", "due_at", "requester"), r, strict=True)) for r in rows]
