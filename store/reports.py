"""Read-only reports over tickets and their audit events."""
from __future__ import annotations

from sqlite_utils import Database


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
