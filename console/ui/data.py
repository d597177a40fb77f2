"""Loading rows for the console, and noticing what other processes changed.

One `TicketData` per app, holding one read connection guarded by a lock (reads are short and WAL
readers never wait for writers). Writes do not happen here: actions run in thread workers, each
with its own connection (`store.open_db`).

Change detection: `PRAGMA data_version` changes when another connection commits. Only then do we
ask for tickets with `updated_at >= last_seen - slack OR id > max_id` and diff them against the
cache by value; `updated_at` has one-second resolution, hence `>=` and the diff.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import store
from store import audit, heartbeat, messages, outbox, staff as store_staff, tickets
from store.times import iso, parse_iso

_COLS = list(tickets.COLUMNS) + ["message_count"]
_SELECT = ("SELECT " + ", ".join(f"t.{c}" for c in tickets.COLUMNS)
           + ", (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id) FROM tickets t")
SLACK = timedelta(seconds=5)  # rows committed a little late with an older updated_at are still seen


@dataclass
class Changes:
    upserts: dict[int, dict[str, Any]] = field(default_factory=dict)  # open tickets, new or changed
    removed: set[int] = field(default_factory=set)                     # resolved (or deleted)
    new_ids: set[int] = field(default_factory=set)                     # ids never seen before

    def __bool__(self) -> bool:
        return bool(self.upserts or self.removed)


@dataclass
class Stats:
    outbox: dict[str, int] = field(default_factory=dict)
    heartbeat_at: datetime | None = None
    heartbeat_name: str | None = None


@dataclass
class Detail:
    ticket: dict[str, Any]
    messages: list[dict[str, Any]]
    events: list[dict[str, Any]]
    alerts: list[dict[str, Any]]


class TicketData:
    def __init__(self, db_path: Path):
        self.db_path = Path(db_path)
        self._db = store.open_db(self.db_path)
        self._lock = threading.Lock()
        self.cache: dict[int, dict[str, Any]] = {}
        self.max_id = 0
        self.last_seen: str | None = None
        self._dv: int | None = None

    closed = False

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._db.conn.close()

    # -- tickets ---------------------------------------------------------------------------------
    def _note(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            if r["id"] > self.max_id:
                self.max_id = r["id"]
            if self.last_seen is None or r["updated_at"] > self.last_seen:
                self.last_seen = r["updated_at"]

    def load_all(self) -> dict[int, dict[str, Any]]:
        """Every open ticket (the first paint)."""
        with self._lock:
            self._dv = store.data_version(self._db)
            rows = [dict(zip(_COLS, r)) for r in
                    self._db.execute(_SELECT + " WHERE t.status != 'resolved' ORDER BY t.id").fetchall()]
            top = self._db.execute("SELECT max(id), max(updated_at) FROM tickets").fetchone()
        self.cache = {r["id"]: r for r in rows}
        self.max_id = top[0] or 0
        self.last_seen = top[1]
        return dict(self.cache)

    def changed(self) -> bool:
        with self._lock:
            return store.data_version(self._db) != self._dv

    def poll(self, force: bool = False) -> Changes | None:
        """None when nothing was committed since the last look; else what changed among tickets."""
        with self._lock:
            if self.closed:
                return None
            dv = store.data_version(self._db)
            if dv == self._dv and not force:
                return None
            self._dv = dv
            since = parse_iso(self.last_seen) - SLACK if self.last_seen else None
            rows = [dict(zip(_COLS, r)) for r in self._db.execute(
                _SELECT + " WHERE t.updated_at >= ? OR t.id > ?", [iso(since) if since else "", self.max_id]
            ).fetchall()]
        ch = Changes()
        for r in rows:
            tid = r["id"]
            if tid > self.max_id:
                ch.new_ids.add(tid)
            old = self.cache.get(tid)
            if r["status"] == "resolved":
                if old is not None:
                    del self.cache[tid]
                    ch.removed.add(tid)
            elif old != r:
                self.cache[tid] = r
                ch.upserts[tid] = r
        self._note(rows)
        return ch

    # -- everything else ---------------------------------------------------------------------------
    def stats(self) -> Stats:
        with self._lock:
            counts = outbox.state_counts(self._db)
            beats = heartbeat.heartbeats(self._db)
        latest = max(beats, key=lambda b: b["at"], default=None)
        return Stats(outbox=counts, heartbeat_at=parse_iso(latest["at"]) if latest else None,
                     heartbeat_name=latest["name"] if latest else None)

    def detail(self, ticket_id: int) -> Detail:
        with self._lock:
            t = tickets.get_ticket(self._db, ticket_id)
            return Detail(ticket=t, messages=messages.messages_for(self._db, ticket_id),
                          events=audit.events_for(self._db, ticket_id),
                          alerts=outbox.list_alerts(self._db, ticket_id=ticket_id))

    def search_bodies(self, text: str) -> set[int]:
        """Tickets with a message whose subject, sender or body contains `text` (case-insensitive)."""
        pat = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT ticket_id FROM messages WHERE ticket_id IS NOT NULL AND (body_text LIKE ? ESCAPE '\\'"
                " OR subject LIKE ? ESCAPE '\\' OR from_addr LIKE ? ESCAPE '\\' OR from_name LIKE ? ESCAPE '\\')",
                [pat, pat, pat, pat]).fetchall()
        return {r[0] for r in rows}

    def staff(self) -> list[dict]:
        with self._lock:
            return store_staff.all_staff(self._db)

    def oncall(self, cfg, now: datetime):
        from console.alerts import audience

        with self._lock:
            return audience.current(self._db, cfg, now)
