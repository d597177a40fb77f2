"""What the desk keeps of old pages: a retention policy, applied a few hundred rows at a time.

Pages (alerts) and their delivery results are the bulk of the outbox and of the per-ticket history that
nothing reads once a ticket is long closed. They are kept while they can still matter (a page that went
unanswered last quarter, a dispute about a breach) and pruned once their ticket has been resolved for
PAGE_RETENTION. What happened stays in the audit log (events: created, acknowledged, resolved, with who
and when); only the pages' texts and per-service results go. Pages without a ticket (intake outages) and
pages of open tickets are never touched.

Each call reads on from a cursor kept in `settings` (resolved_at and id of the last ticket done), so a
run costs what it prunes, not the years already pruned.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from store.db import Database

from store.db import write
from store.times import iso

PAGE_RETENTION = timedelta(days=400)  # a year and a month: last year's review still has its pages
FINAL_STATES = ("sent", "cancelled", "expired", "failed")
_CURSOR = "pages_pruned_through"


def _cursor(db: Database) -> tuple[str, int]:
    row = db.execute("SELECT value FROM settings WHERE name = ?", [_CURSOR]).fetchone()
    if not row:
        return "", 0
    at, _, tid = row[0].rpartition("|")
    return at, int(tid or 0)


def prune_pages(db: Database, now: datetime, *, keep: timedelta = PAGE_RETENTION,
                tickets: int = 200) -> tuple[int, int]:
    """Delete the pages (and their results) of up to `tickets` tickets resolved before now - keep, oldest
    first, in one short write transaction. Returns (tickets looked at, pages deleted); (0, 0) once there is
    nothing left to do."""
    cutoff = iso(now - keep)
    with write(db):
        at, tid = _cursor(db)
        done = db.execute(
            "SELECT id, resolved_at FROM tickets INDEXED BY tickets_resolved WHERE status = 'resolved'"
            " AND (resolved_at, id) > (?, ?) AND resolved_at < ? ORDER BY resolved_at, id LIMIT ?",
            [at, tid, cutoff, int(tickets)]).fetchall()
        if not done:
            return 0, 0
        ids = [r[0] for r in done]
        marks = ", ".join("?" * len(ids))
        states = ", ".join("?" * len(FINAL_STATES))
        pages = [r[0] for r in db.execute(
            f"SELECT id FROM alerts WHERE ticket_id IN ({marks}) AND state IN ({states})", [*ids, *FINAL_STATES])]
        if pages:
            page_marks = ", ".join("?" * len(pages))
            db.execute(f"DELETE FROM alert_results WHERE alert_id IN ({page_marks})", pages)
            db.execute(f"DELETE FROM alerts WHERE id IN ({page_marks})", pages)
        last_id, last_at = done[-1]
        db.execute("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value ="
                   " excluded.value", [_CURSOR, f"{last_at}|{last_id}"])
        return len(done), len(pages)
