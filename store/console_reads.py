"""Reads for the console: ticket rows with what the list shows, what changed since a look, message
previews that never load a whole huge body, text search, and new pages. No writes here.

A ticket row carries, beside its columns:
  message_count   messages filed on the ticket
  customer_wrote  1 when a reply came in after the desk last acted on the ticket (any event by a
                  person rather than by intake or the poller), else 0
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from store.db import Database

from store import messages, tickets

SYSTEM_ACTORS = ("intake", "poller")
OPEN_STATES = ("new", "acknowledged")
_SEARCH_WORD = re.compile(r"[^\W_]+")
ROW_COLUMNS = list(tickets.COLUMNS) + ["message_count", "customer_wrote"]
_SELECT_TICKETS = "SELECT " + ", ".join(f"t.{c}" for c in tickets.COLUMNS) + " FROM tickets t"
_OPEN = f"t.status IN ({', '.join(repr(s) for s in OPEN_STATES)})"  # the status index serves this, not != 'resolved'


def _rows(db: Database, cur) -> list[dict[str, Any]]:
    """Ticket rows with their message count and customer_wrote, from two grouped reads over just these
    tickets (by index), not two correlated subqueries per row."""
    rows = [dict(zip(tickets.COLUMNS, r, strict=False)) for r in cur.fetchall()]
    if not rows:
        return rows
    ids = json.dumps([r["id"] for r in rows])
    mail = {r[0]: (r[1], r[2]) for r in db.execute(
        "SELECT ticket_id, count(*), max(CASE WHEN kind = 'reply' THEN received_at END) FROM messages"
        " WHERE ticket_id IN (SELECT value FROM json_each(?)) GROUP BY ticket_id", [ids]).fetchall()}
    acted = dict(db.execute(
        "SELECT ticket_id, max(at) FROM events WHERE ticket_id IN (SELECT value FROM json_each(?))"
        f" AND actor NOT IN ({', '.join('?' * len(SYSTEM_ACTORS))}) GROUP BY ticket_id",
        [ids, *SYSTEM_ACTORS]).fetchall())
    for r in rows:
        count, last_reply = mail.get(r["id"], (0, None))
        r["message_count"] = count
        r["customer_wrote"] = int(last_reply is not None and last_reply > (acted.get(r["id"]) or ""))
    return rows


def open_ticket_rows(db: Database) -> list[dict[str, Any]]:
    return _rows(db, db.execute(f"{_SELECT_TICKETS} WHERE {_OPEN} ORDER BY t.id"))


def resolved_ticket_rows(db: Database, limit: int = 500) -> list[dict[str, Any]]:
    """The most recently resolved tickets, newest first (read in that order from the tickets_resolved index)."""
    # INDEXED BY: without it the planner takes the status index and sorts every resolved ticket ever.
    return _rows(db, db.execute(f"{_SELECT_TICKETS} INDEXED BY tickets_resolved WHERE t.status = 'resolved'"
                                " ORDER BY t.resolved_at DESC, t.id DESC LIMIT ?", [int(limit)]))


def resolved_ticket_ids(db: Database, limit: int = 500) -> list[int]:
    """The ids resolved_ticket_rows() would give, newest first, from the index alone."""
    return [r[0] for r in db.execute("SELECT id FROM tickets INDEXED BY tickets_resolved WHERE status = 'resolved'"
                                     " ORDER BY resolved_at DESC, id DESC LIMIT ?", [int(limit)]).fetchall()]


def ticket_row(db: Database, ticket_id: int) -> dict[str, Any] | None:
    rows = _rows(db, db.execute(f"{_SELECT_TICKETS} WHERE t.id = ?", [ticket_id]))
    return rows[0] if rows else None


def watermarks(db: Database) -> dict[str, Any]:
    """The highest ids and update time: what a later changed_ticket_rows() compares against."""
    row = db.execute(
        "SELECT (SELECT max(id) FROM tickets), (SELECT max(updated_at) FROM tickets),"
        " (SELECT max(id) FROM messages), (SELECT max(id) FROM events), (SELECT max(id) FROM alerts)"
    ).fetchone()
    return {"ticket": row[0] or 0, "updated_at": row[1] or "", "message": row[2] or 0, "event": row[3] or 0,
            "alert": row[4] or 0}


def changed_ticket_rows(db: Database, marks: dict[str, Any], updated_since: str) -> list[dict[str, Any]]:
    """Tickets (open or not) that may have changed since `marks` (from watermarks()): updated at or after
    `updated_since`, new, or with a message or an audit event above the marks. A reply that changes
    nothing an operator acts on does not bump updated_at, so messages and events are looked at too.
    Each part is a range of an index (tickets_updated, or a table's own ids: NOT INDEXED keeps the planner
    from walking a whole index instead), so the cost follows what changed, not the history."""
    return _rows(db, db.execute(
        f"{_SELECT_TICKETS} WHERE t.id IN ("
        "SELECT id FROM tickets WHERE updated_at >= ?1 UNION SELECT id FROM tickets NOT INDEXED WHERE id > ?2"
        " UNION SELECT ticket_id FROM messages WHERE id > ?3 AND ticket_id IS NOT NULL"
        " UNION SELECT ticket_id FROM events WHERE id > ?4 AND ticket_id IS NOT NULL) ORDER BY t.id",
        [updated_since, marks["ticket"], marks["message"], marks["event"]]))


ALERT_COLUMNS = ("id", "ticket_id", "cls", "step", "audience", "target", "urgent", "title", "state", "due_at",
                 "created_at", "sent_at", "attempts", "last_error", "carried_by", "silenced_by")


def alerts_after(db: Database, after_id: int, limit: int = 500) -> list[dict[str, Any]]:
    """Outbox rows written after `after_id`, oldest first."""
    return [dict(zip(ALERT_COLUMNS, r, strict=False)) for r in db.execute(
        # NOT INDEXED: the rowid range, always (with statistics the planner may walk a whole index instead).
        f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts NOT INDEXED WHERE id > ? ORDER BY id LIMIT ?",
        [after_id, int(limit)]).fetchall()]


def recent_alerts(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    """The newest outbox rows with each one's latest delivery result, newest first."""
    cols = ALERT_COLUMNS + ("result_status", "result_at")
    return [dict(zip(cols, r, strict=False)) for r in db.execute(
        f"SELECT {', '.join('a.' + c for c in ALERT_COLUMNS)},"
        " (SELECT r.status FROM alert_results r WHERE r.alert_id = a.id ORDER BY r.id DESC LIMIT 1),"
        " (SELECT r.at FROM alert_results r WHERE r.alert_id = a.id ORDER BY r.id DESC LIMIT 1)"
        " FROM alerts a NOT INDEXED WHERE a.id <= (SELECT max(id) FROM alerts) ORDER BY a.id DESC LIMIT ?",
        [int(limit)]).fetchall()]


PREVIEW_COLUMNS = ("id", "kind", "from_addr", "from_name", "subject", "received_at", "size", "oversize",
                   "unparseable", "defects", "attachments")


def message_previews(db: Database, ticket_id: int, chars: int, start: int = 0) -> list[dict[str, Any]]:
    """A ticket's messages in order, each with only `chars` characters of its body from `start` on
    (`body_text`; a body shorter than `start` is given from its beginning) and the body's full length
    (`body_length`): a 20 MB body is never read whole."""
    import json

    rows = db.execute(
        f"SELECT {', '.join(PREVIEW_COLUMNS)}, substr(body_text, CASE WHEN length(body_text) > ?1 THEN ?1 + 1"
        " ELSE 1 END, ?2), length(body_text), CASE WHEN length(body_text) > ?1 THEN ?1 ELSE 0 END FROM messages"
        " WHERE ticket_id = ?3 ORDER BY received_at, id", [int(start), int(chars), ticket_id]).fetchall()
    out = []
    for r in rows:
        m = dict(zip(PREVIEW_COLUMNS, r, strict=False))
        m["body_text"], m["body_length"], m["body_start"] = r[-3] or "", r[-2] or 0, r[-1] or 0
        m["defects"] = json.loads(m["defects"] or "[]")
        m["attachments"] = json.loads(m["attachments"] or "[]")
        m["oversize"], m["unparseable"] = bool(m["oversize"]), bool(m["unparseable"])
        out.append(m)
    return out


def latest_message_preview(db: Database, ticket_id: int, chars: int) -> dict[str, Any] | None:
    """The newest message of a ticket with the first `chars` characters of its body."""
    row = db.execute(
        "SELECT id, kind, from_addr, from_name, received_at, substr(body_text, 1, ?) FROM messages"
        " WHERE ticket_id = ? ORDER BY received_at DESC, id DESC LIMIT 1", [int(chars), ticket_id]).fetchone()
    if row is None:
        return None
    return dict(zip(("id", "kind", "from_addr", "from_name", "received_at", "body_text"), row, strict=False))


MAX_SEARCH_WORDS = 16  # of a search: the work per search is bounded


def search_match(text: str) -> str | None:
    """The FTS5 query for what someone typed: every word, folded as console.fold does, and the last one
    also as the beginning of a word (so "mül" finds Müller while it is being typed). None when the text
    has no word at all."""
    words = _SEARCH_WORD.findall(messages.search_fold(unicodedata.normalize("NFC", text)))[:MAX_SEARCH_WORDS]
    if not words:
        return None
    return " AND ".join(f'"{w}"' for w in words) + "*"


def tickets_with_text(db: Database, text: str, within: Iterable[int] | None = None) -> set[int]:
    """Tickets with a message whose subject, sender or body holds every word of `text`, ignoring case and
    accents, the last word possibly only begun; through the full-text index (messages_fts).

    With `within` (the tickets a list shows), only matches among those tickets, and the index is read only
    from their oldest message on: a common word that matches years of mail costs the mail since the oldest
    ticket on the list, not the history. Without it, every match is read."""
    match = search_match(text)
    if match is None:
        return set()
    if within is not None:
        ids = json.dumps(sorted(set(within)))
        (oldest,) = db.execute("SELECT min(id) FROM messages WHERE ticket_id IN (SELECT value FROM json_each(?))",
                               [ids]).fetchone()
        if oldest is None:
            return set()
        rows = db.execute(
            "SELECT DISTINCT m.ticket_id FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
            " WHERE messages_fts MATCH ?1 AND messages_fts.rowid >= ?2"
            " AND m.ticket_id IN (SELECT value FROM json_each(?3))", [match, oldest, ids]).fetchall()
    else:
        rows = db.execute(
            "SELECT DISTINCT m.ticket_id FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
            " WHERE messages_fts MATCH ? AND m.ticket_id IS NOT NULL", [match]).fetchall()
    return {r[0] for r in rows}


def ticket_ids_with_subject(db: Database, fragment: str) -> list[int]:
    """Tickets whose subject contains `fragment` (for seeding screenshots and tests)."""
    return [r[0] for r in db.execute("SELECT id FROM tickets WHERE subject LIKE ? ORDER BY id",
                                     [f"%{fragment}%"]).fetchall()]
