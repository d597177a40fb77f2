"""What the SLA report reads: the clocks started in a period and the stored events and pages behind them.

Every figure comes from what was recorded when it happened (the arrival, the first contact and its kind,
the pages, the acknowledgements), never from a ticket's state today. Reads only. Also the panic-mode
billing report.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypedDict

from store.db import Database

# The events the report reads: what changed a clock, its class, its owner, or paged someone for it.
REPORT_EVENT_KINDS = ("clock_started", "acknowledged", "resolved", "reclassified", "taken", "assigned",
                      "alert_due", "merged_into", "unmerged")


# The parts of an event's detail the report reads, extracted by SQLite (a year's report reads hundreds of
# thousands of events: parsing each detail in Python would cost more than the rest of the report).
DETAIL_KEYS = ("contact", "due_at", "by", "assignee", "to", "panic", "step")
_DETAIL_SQL = ", ".join(f"json_extract(detail, '$.{k}')" for k in DETAIL_KEYS)


class ClockStart(TypedDict):
    ticket_id: int
    clock: int           # 1 from the arrival; 2 from the customer's answer to a details request
    started_at: str      # ISO UTC
    cls: str             # the class when the clock started
    due_at: str | None   # the deadline recorded then (None for events older than the report)


class ReportEvent(TypedDict):
    id: int
    ticket_id: int
    at: str
    actor: str
    kind: str
    detail: dict[str, Any]  # only DETAIL_KEYS, those present


class Page(TypedDict):
    ticket_id: int
    cls: str | None
    step: str
    state: str
    created_at: str


def panic_by_requester_month(db: Database) -> list[dict]:
    """Panic-mode tickets per requester and month (of the reclassification that recorded it), for billing.
    CROSS JOIN keeps the panic tickets (a partial index) outside and their events inside: never every event."""
    rows = db.execute(
        """SELECT t.requester, substr(e.at, 1, 7) AS month, count(DISTINCT t.id), group_concat(DISTINCT t.id)
           FROM tickets t CROSS JOIN events e ON e.ticket_id = t.id AND e.kind = 'reclassified'
                AND json_extract(e.detail, '$.panic') = 1
           WHERE t.panic_mode = 1 GROUP BY t.requester, month ORDER BY month, t.requester"""
    ).fetchall()
    return [{"requester": r[0], "month": r[1], "tickets": r[2], "ids": sorted(int(x) for x in str(r[3]).split(","))}
            for r in rows]


def clock_starts(db: Database, start: str, end: str) -> list[ClockStart]:
    """Clocks started in [start, end): arrivals (with the class the created event recorded) and the clocks a
    customer's answer to a details request started."""
    out: list[ClockStart] = []
    for tid, received, cls, due, cls_now in db.execute(
            "SELECT t.id, t.received_at, json_extract(e.detail, '$.cls'), json_extract(e.detail, '$.due_at'),"
            " t.class"
            " FROM tickets t LEFT JOIN events e ON e.ticket_id = t.id AND e.kind = 'created'"
            " WHERE t.received_at >= ? AND t.received_at < ? ORDER BY t.received_at, t.id", [start, end]):
        out.append({"ticket_id": tid, "clock": 1, "started_at": received, "cls": cls or cls_now, "due_at": due})
    for tid, detail in db.execute(
            "SELECT ticket_id, detail FROM events WHERE kind = 'clock_started' AND ticket_id IS NOT NULL"
            " AND json_extract(detail, '$.received_at') >= ? AND json_extract(detail, '$.received_at') < ?"
            " AND at >= ? ORDER BY id", [start, end, start]):
        d = json.loads(detail)
        out.append({"ticket_id": tid, "clock": int(d.get("clock") or 2), "started_at": d["received_at"],
                    "cls": d.get("cls") or "I", "due_at": d.get("due_at")})
    return out


def _chunks(ids: list[int], size: int = 20_000) -> Iterable[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _ranges(ids: list[int], gap: int = 64) -> list[tuple[int, int]]:
    """Sorted ids as runs (lo, hi) with gaps of at most `gap`: a period's tickets are mostly consecutive ids,
    and a range reads the events index in order where a list of ids probes it once per id."""
    out: list[tuple[int, int]] = []
    for i in ids:
        if out and i - out[-1][1] <= gap:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def events_for_tickets(db: Database, ticket_ids: Iterable[int], until: str) -> list[ReportEvent]:
    """The report's events of these tickets up to `until`, in the order they were written."""
    wanted = set(ticket_ids)
    kinds = ",".join("?" * len(REPORT_EVENT_KINDS))
    out: list[ReportEvent] = []
    for lo, hi in _ranges(sorted(wanted)):
        rows = db.execute(
            f"SELECT id, ticket_id, at, actor, kind, {_DETAIL_SQL} FROM events WHERE ticket_id BETWEEN ? AND ?"
            # "+kind", "+at": look the events up by ticket (events_ticket), never by scanning a kind's year
            f" AND +kind IN ({kinds}) AND +at <= ?", [lo, hi, *REPORT_EVENT_KINDS, until])
        out += [{"id": r[0], "ticket_id": r[1], "at": r[2], "actor": r[3], "kind": r[4],
                 "detail": {k: v for k, v in zip(DETAIL_KEYS, r[5:], strict=True) if v is not None}}
                for r in rows if r[1] in wanted]
    out.sort(key=lambda e: e["id"])
    return out


def pages_for_tickets(db: Database, ticket_ids: Iterable[int], until: str) -> list[Page]:
    """The page rows (the outbox) of these tickets created up to `until`."""
    ids = sorted(set(ticket_ids))
    out: list[Page] = []
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            f"SELECT ticket_id, cls, step, state, created_at FROM alerts WHERE ticket_id IN ({marks})"
            " AND +created_at <= ?", [*chunk, until])
        out += [{"ticket_id": r[0], "cls": r[1], "step": r[2], "state": r[3], "created_at": r[4]} for r in rows]
    return out


def digest_queued(db: Database, week: str) -> bool:
    """Whether the weekly digest of this ISO week (e.g. "2026-W49") was queued already."""
    return db.execute("SELECT 1 FROM report_digests WHERE week = ?", [week]).fetchone() is not None


def record_digest(db: Database, week: str, queued_at: str, sends: list[int]) -> bool:
    """Claim the week's digest; False when another process did first (call inside store.write())."""
    cur = db.execute("INSERT OR IGNORE INTO report_digests (week, queued_at, sends) VALUES (?, ?, ?)",
                     [week, queued_at, json.dumps(sends)])
    return cur.rowcount == 1


def set_digest_sends(db: Database, week: str, sends: list[int]) -> None:
    db.execute("UPDATE report_digests SET sends = ? WHERE week = ?", [json.dumps(sends), week])
