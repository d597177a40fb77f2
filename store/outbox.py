"""The alert outbox: one row per (ticket, class, step, target), written with whatever made it due.

States: pending -> sending -> sent; sending -> failed (retried with backoff until the last try);
sending -> expired when the sender died mid-send (never re-fired blindly: an operator decides);
pending/failed -> cancelled when the ticket is acknowledged or resolved first.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from collections.abc import Iterable

from sqlite_utils import Database

from store.db import StoreError
from store.times import iso

COLUMNS = (
    "id", "dedup_key", "ticket_id", "cls", "step", "audience", "target", "urgent", "title", "body", "state",
    "due_at", "created_at", "next_attempt_at", "attempts", "send_deadline", "sent_at", "last_error",
    "claimed_by", "updated_at",
)
# next_attempt_at of a 'failed' row that gets no more tries (given up, or nobody to page). A time
# rather than a flag: claim_due() and the scheduler's sleep need no special case, and `attempts`
# stays the true number of tries the console shows.
NEVER = "9999-12-31T23:59:59Z"
# The step of a stand-down notice ("#N acknowledged by Bob, stand down"): not a page, so acknowledging
# or resolving never cancels one, and it is never counted as someone having been paged.
STANDDOWN = "standdown"


def _rows(cur) -> list[dict[str, Any]]:
    return [dict(zip(COLUMNS, r, strict=False)) for r in cur.fetchall()]


def add_alert(db: Database, *, dedup_key: str, ticket_id: int | None, cls: str | None, step: str, audience: str,
              target: str, urgent: bool, title: str, body: str, due_at: datetime, now: datetime) -> int | None:
    """Insert unless the dedup key exists. Returns the new id, or None for a duplicate."""
    cur = db.execute(
        """INSERT OR IGNORE INTO alerts (dedup_key, ticket_id, cls, step, audience, target, urgent, title, body,
               state, due_at, created_at, next_attempt_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)""",
        [dedup_key, ticket_id, cls, step, audience, target, int(urgent), title, body, iso(due_at), iso(now),
         iso(now), iso(now)],
    )
    return cur.lastrowid if cur.rowcount else None


def next_attempt_due(db: Database, max_attempts: int | None = None) -> str | None:
    """When the next claimable row is due (None when there is none).

    Rows out of attempts do not count; before, a parked row's past next_attempt_at made the
    scheduler's sleep zero, so it spun at 100 % CPU after a page was given up.
    """
    sql = ("SELECT min(next_attempt_at) FROM alerts WHERE state IN ('pending', 'failed')"
           " AND next_attempt_at IS NOT NULL AND next_attempt_at < ?")
    params: list[Any] = [NEVER]
    if max_attempts is not None:
        sql += " AND attempts < ?"
        params.append(max_attempts)
    return db.execute(sql, params).fetchone()[0]


def claim_due(db: Database, now: datetime, *, send_deadline: datetime, claimed_by: str, max_attempts: int,
              limit: int = 100) -> list[dict[str, Any]]:
    """Move due rows to 'sending'. Call inside store.write() so two dispatchers never claim one row."""
    rows = _rows(db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM alerts WHERE state IN ('pending', 'failed') AND attempts < ?"
        " AND next_attempt_at <= ? ORDER BY urgent DESC, next_attempt_at, id LIMIT ?",
        [max_attempts, iso(now), limit],
    ))
    for r in rows:
        db.execute(
            "UPDATE alerts SET state = 'sending', attempts = attempts + 1, send_deadline = ?, claimed_by = ?,"
            " updated_at = ? WHERE id = ?",
            [iso(send_deadline), claimed_by, iso(now), r["id"]],
        )
        r["attempts"] += 1
        r["state"] = "sending"
    return rows


def record_results(db: Database, alert_id: int, now: datetime, results: Iterable[dict[str, Any]]) -> None:
    for res in results:
        db.execute(
            "INSERT INTO alert_results (alert_id, at, service, ok, status, elapsed, error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [alert_id, iso(now), res["service"], int(bool(res["ok"])), res["status"], res.get("elapsed"),
             res.get("error")],
        )


def finish(db: Database, alert_id: int, now: datetime, *, ok: bool, error: str | None = None,
           retry_at: datetime | None = None) -> None:
    """After a send: 'sent', or 'failed' (retry_at=None means no more tries)."""
    if ok:
        db.execute(
            "UPDATE alerts SET state = 'sent', sent_at = ?, last_error = NULL, updated_at = ? WHERE id = ?"
            " AND state = 'sending'",
            [iso(now), iso(now), alert_id],
        )
    else:
        # A failed row with no retry time is parked: it stays 'failed' and visible, never claimed again
        # until an operator resends it (requeue).
        db.execute(
            "UPDATE alerts SET state = 'failed', last_error = ?, next_attempt_at = ?, updated_at = ?"
            " WHERE id = ? AND state = 'sending'",
            [error, iso(retry_at) if retry_at else NEVER, iso(now), alert_id],
        )


def expire(db: Database, alert_id: int, now: datetime, error: str) -> None:
    """A send that timed out: it may or may not have gone out, so it is not retried blindly."""
    db.execute("UPDATE alerts SET state = 'expired', last_error = ?, updated_at = ? WHERE id = ? AND state = 'sending'",
               [error, iso(now), alert_id])


def delivered_services(db: Database, alert_id: int) -> frozenset[str]:
    """The target names that already accepted this alert (never sent it again)."""
    rows = db.execute("SELECT service FROM alert_results WHERE alert_id = ? AND ok = 1", [alert_id]).fetchall()
    return frozenset(r[0] for r in rows)


def target_key(db: Database) -> str:
    """The random key (hex) of this database's target names; written by migration m302."""
    return db.execute("SELECT value FROM settings WHERE name = 'target_key'").fetchone()[0]


def expire_orphans(db: Database, now: datetime, *, claimed_by: str | None = None) -> int:
    """'sending' rows whose sender is gone become 'expired': it may or may not have gone out.

    With claimed_by, every row not claimed by that sender is orphaned (the caller owns the outbox now);
    otherwise only rows past their send deadline.
    """
    if claimed_by is not None:
        cur = db.execute(
            "UPDATE alerts SET state = 'expired', last_error = 'sender stopped during the send; not resent',"
            " updated_at = ? WHERE state = 'sending' AND (claimed_by IS NULL OR claimed_by != ? OR send_deadline < ?)",
            [iso(now), claimed_by, iso(now)],
        )
    else:
        cur = db.execute(
            "UPDATE alerts SET state = 'expired', last_error = 'send deadline passed; not resent', updated_at = ?"
            " WHERE state = 'sending' AND send_deadline < ?",
            [iso(now), iso(now)],
        )
    return cur.rowcount


def cancel_for_ticket(db: Database, ticket_id: int, now: datetime, reason: str, *,
                      except_cls: str | None = None) -> int:
    """Cancel the ticket's unsent pages (those of classes other than `except_cls`, when given)."""
    sql = ("UPDATE alerts SET state = 'cancelled', last_error = ?, updated_at = ?"
           " WHERE ticket_id = ? AND state IN ('pending', 'failed') AND step != ?")
    params: list[Any] = [reason, iso(now), ticket_id, STANDDOWN]
    if except_cls is not None:
        sql += " AND (cls IS NULL OR cls != ?)"
        params.append(except_cls)
    return db.execute(sql, params).rowcount


def get_alert(db: Database, alert_id: int) -> dict[str, Any] | None:
    rows = _rows(db.execute(f"SELECT {', '.join(COLUMNS)} FROM alerts WHERE id = ?", [alert_id]))
    return rows[0] if rows else None


def paged_targets(db: Database, ticket_id: int) -> list[str]:
    """Who may have been paged for this ticket so far, first paged first: a page that went out, is going
    out, or was cut short (it may have arrived), or that any of the target's services accepted."""
    rows = db.execute(
        "SELECT target FROM alerts a WHERE ticket_id = ? AND step != ? AND (state IN ('sent', 'sending', 'expired')"
        " OR EXISTS (SELECT 1 FROM alert_results r WHERE r.alert_id = a.id AND r.ok = 1))"
        " GROUP BY target ORDER BY min(id)",
        [ticket_id, STANDDOWN],
    ).fetchall()
    return [r[0] for r in rows]


def standdown_targets(db: Database, ticket_id: int) -> list[str]:
    """paged_targets() less those already told to stand down since their last page: a person stood down by a
    downgrade is told again at the acknowledgement only if paged again in between."""
    rows = db.execute(
        "SELECT target FROM alerts a WHERE ticket_id = ? AND step != ? AND (state IN ('sent', 'sending', 'expired')"
        " OR EXISTS (SELECT 1 FROM alert_results r WHERE r.alert_id = a.id AND r.ok = 1))"
        " AND a.id > coalesce((SELECT max(s.id) FROM alerts s WHERE s.ticket_id = a.ticket_id AND s.step = ?"
        " AND s.target = a.target AND s.state != 'cancelled'), 0)"
        " GROUP BY target ORDER BY min(id)",
        [ticket_id, STANDDOWN, STANDDOWN],
    ).fetchall()
    return [r[0] for r in rows]


def requeue(db: Database, alert_id: int, now: datetime) -> dict[str, Any]:
    """Operator's explicit resend of an expired, failed or cancelled row. Returns the row as it was."""
    row = db.execute("SELECT state, ticket_id, target, step FROM alerts WHERE id = ?", [alert_id]).fetchone()
    if row is None:
        raise StoreError(f"no alert {alert_id}")
    if row[0] not in ("expired", "failed", "cancelled"):
        raise StoreError(f"alert {alert_id} is {row[0]}; only expired, failed or cancelled alerts can be resent")
    db.execute(
        "UPDATE alerts SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ? WHERE id = ?",
        [iso(now), iso(now), alert_id],
    )
    return {"id": alert_id, "state": row[0], "ticket_id": row[1], "target": row[2], "step": row[3]}


def list_alerts(db: Database, *, ticket_id: int | None = None, states: Iterable[str] | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
    where, params = [], []
    if ticket_id is not None:
        where.append("ticket_id = ?")
        params.append(ticket_id)
    if states:
        states = list(states)
        where.append(f"state IN ({','.join('?' * len(states))})")
        params.extend(states)
    sql = f"SELECT {', '.join(COLUMNS)} FROM alerts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    rows = _rows(db.execute(sql, params))
    by_id = {r["id"]: r for r in rows}
    for r in rows:
        r["results"] = []
        r["urgent"] = bool(r["urgent"])
    if by_id:
        ids = list(by_id)
        for a_id, at, service, ok, status, elapsed, error in db.execute(
            f"SELECT alert_id, at, service, ok, status, elapsed, error FROM alert_results"
            f" WHERE alert_id IN ({','.join('?' * len(ids))}) ORDER BY id", ids
        ).fetchall():
            by_id[a_id]["results"].append(
                {"at": at, "service": service, "ok": bool(ok), "status": status, "elapsed": elapsed, "error": error})
    return rows


def health_counts(db: Database, since: datetime) -> dict[str, int]:
    """What the health assessment needs: rows per state, with 'failed' and 'expired' counting only the
    pages that still matter (given up on a ticket nobody has acknowledged yet, or without a ticket and
    changed since `since`), and 'retrying' the failed rows that will be tried again. An old failed page
    whose ticket has been answered since is history, not a degraded desk."""
    matters = "(t.status = 'new' OR (a.ticket_id IS NULL AND a.updated_at >= ?))"
    row = db.execute(
        f"""SELECT count(*) FILTER (WHERE a.state = 'pending'),
                   count(*) FILTER (WHERE a.state = 'sending'),
                   count(*) FILTER (WHERE a.state = 'failed' AND a.next_attempt_at != ?),
                   count(*) FILTER (WHERE a.state = 'failed' AND a.next_attempt_at = ? AND {matters}),
                   count(*) FILTER (WHERE a.state = 'expired' AND {matters}),
                   count(*) FILTER (WHERE a.state = 'sent')
            FROM alerts a LEFT JOIN tickets t ON t.id = a.ticket_id""",
        [NEVER, NEVER, iso(since), iso(since)],
    ).fetchone()
    return dict(zip(("pending", "sending", "retrying", "failed", "expired", "sent"), row, strict=False))


def state_counts(db: Database) -> dict[str, int]:
    return dict(db.execute("SELECT state, count(*) FROM alerts GROUP BY state").fetchall())


STALE_STEP, RECOVERED_STEP = "intake-stale", "intake-recovered"


def outage_key(step: str, outage: str, handle: str) -> str:
    return f"{step}:{outage}:{handle}"


def unrecovered_outages(db: Database) -> list[str]:
    """The outages (outage_key's middle part) paged as stale and not yet paged as recovered."""
    rows = db.execute(
        "SELECT DISTINCT dedup_key FROM alerts a WHERE step = ? AND NOT EXISTS (SELECT 1 FROM alerts b"
        " WHERE b.step = ? AND b.dedup_key = ? || substr(a.dedup_key, ?))",
        [STALE_STEP, RECOVERED_STEP, RECOVERED_STEP, len(STALE_STEP) + 1],
    ).fetchall()
    return sorted({key[len(STALE_STEP) + 1:].rsplit(":", 1)[0] for (key,) in rows})
