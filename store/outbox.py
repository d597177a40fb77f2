"""The alert outbox: one row per (ticket, class, step, target), written with whatever made it due.

States: pending -> sending -> sent; sending -> failed (retried with backoff until the last try);
sending -> expired when the sender died mid-send (never re-fired blindly: an operator decides);
pending/failed -> cancelled when the ticket is acknowledged or resolved first.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from collections.abc import Iterable

from store.db import Database

from store import queue
from store.queue import NEVER
from store.times import iso

COLUMNS = (
    "id", "dedup_key", "ticket_id", "cls", "step", "audience", "target", "urgent", "title", "body", "state",
    "due_at", "created_at", "next_attempt_at", "attempts", "send_deadline", "sent_at", "last_error",
    "claimed_by", "updated_at", "carried_by", "silenced_by",
)
# A 'failed' row that gets no more tries (given up, or nobody to page) waits until queue.NEVER: a time
# rather than a flag, so `attempts` stays the true number of tries the console shows.
PAGES = queue.Queue("alerts", COLUMNS, ("pending", "failed"), "alert")
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
    if max_attempts is None:
        return queue.next_due(db, PAGES)
    return queue.next_due(db, PAGES, where="attempts < ?", params=[max_attempts])


# The order pages go out in when more are due than can be sent at once. A storm must never delay the
# page that matters, so: pages before notices; then first pages of tickets (arrival, and intake
# trouble) before escalations, repeats and stand-downs of tickets already paged; within that, in rounds
# per group and person (a ticket's group: the sender's domain, and whether the mail was automated),
# counting the pages of that group the person got in the last RECENT: a monitoring storm that has
# already paged bob 100 times waits while a customer's first ticket pages him; then mail from people
# before machine mail; then people in turn; then time.
# The recent pages are read through alerts_recent by name: left to itself, SQLite reads them through
# alerts_state, which holds every page ever sent (INDEXED BY fails loudly if the index goes).
RECENT = timedelta(minutes=10)
_GROUP = """CASE WHEN t.id IS NULL THEN 'step:' || a.step
                 ELSE lower(substr(t.requester, instr(t.requester, '@') + 1)) || ':' || t.automated END"""
_PRIORITY = f"""
    WITH due AS (
        SELECT a.id, a.target, a.urgent, a.next_attempt_at, a.claimed_by IS NULL AS never_tried,
               coalesce(t.automated, 0) AS machine,
               CASE WHEN a.step = 'arrival' OR (a.ticket_id IS NULL AND a.urgent = 1) THEN 0 ELSE 1 END AS tier,
               {_GROUP} AS grp
        FROM alerts a LEFT JOIN tickets t ON t.id = a.ticket_id
        WHERE {queue.due_condition(PAGES, "a")} AND a.attempts < ?
    ), recent AS (
        SELECT a.target, {_GROUP} AS grp, count(*) AS n
        FROM alerts a INDEXED BY alerts_recent LEFT JOIN tickets t ON t.id = a.ticket_id
        WHERE a.state IN ('sent', 'sending') AND a.updated_at >= ?
        GROUP BY 1, 2
    )
    SELECT id, never_tried FROM (
        SELECT d.id, d.urgent, d.tier, d.next_attempt_at, d.never_tried, d.machine,
               coalesce(r.n, 0) + row_number() OVER (PARTITION BY d.urgent, d.tier, d.grp, d.target
                                                     ORDER BY d.next_attempt_at, d.id) AS round,
               row_number() OVER (PARTITION BY d.urgent, d.tier, d.target ORDER BY d.next_attempt_at, d.id) AS in_turn
        FROM due d LEFT JOIN recent r ON r.target = d.target AND r.grp = d.grp)
    ORDER BY urgent DESC, tier, round, machine, in_turn, next_attempt_at, id LIMIT ?"""


def claim_due(db: Database, now: datetime, *, send_deadline: datetime, claimed_by: str, max_attempts: int,
              limit: int = 100, horizon: datetime | None = None) -> list[dict[str, Any]]:
    """Move due rows to 'sending', in the order of _PRIORITY. Call inside store.write() so two
    dispatchers never claim one row. A row due beyond `horizon` counts as due (queue.due_condition).
    Each row says whether this is its first try (`first_try`): a retry or resend is the same page."""
    chosen = db.execute(_PRIORITY, [*queue.due_params(now, horizon), max_attempts, iso(now - RECENT), limit]
                        ).fetchall()
    if not chosen:
        return []
    ids = [r[0] for r in chosen]
    queue.mark_claimed(db, PAGES, ids, now, claimed_by=claimed_by, send_deadline=send_deadline)
    by_id = {r["id"]: r for r in _rows(db.execute(
        f"{PAGES.select} WHERE id IN ({','.join('?' * len(ids))})", ids))}
    return [{**by_id[i], "first_try": bool(first)} for i, first in chosen]


_TICKET_GROUP = "lower(substr(t.requester, instr(t.requester, '@') + 1)) || ':' || t.automated"


def last_group_page(db: Database, alert: dict[str, Any], since: datetime, batch: list[int]) -> str | None:
    """When `alert`'s person was last paged (after `since`) for another ticket of the same sender group
    (not counting the rows claimed with it, `batch`)."""
    return db.execute(
        f"SELECT max(a.updated_at) FROM alerts a JOIN tickets t ON t.id = a.ticket_id"
        f" WHERE a.state IN ('sent', 'sending') AND a.updated_at > ? AND a.target = ? AND a.ticket_id != ?"
        f" AND a.step != ? AND {_TICKET_GROUP} = (SELECT {_TICKET_GROUP} FROM tickets t WHERE t.id = ?)"
        f" AND a.id NOT IN ({','.join('?' * len(batch)) or 'NULL'})",
        [iso(since), alert["target"], alert["ticket_id"], STANDDOWN, alert["ticket_id"], *batch]).fetchone()[0]


def hold(db: Database, alert: dict[str, Any], until: datetime) -> None:
    """Give a claimed row back, due at `until` (the end of its group's bundle window), as if not tried."""
    db.execute("UPDATE alerts SET state = ?, attempts = attempts - 1, send_deadline = NULL, next_attempt_at = ?,"
               " claimed_by = ? WHERE id = ? AND state = 'sending'",
               ["pending" if alert.get("first_try") else "failed", iso(until),
                None if alert.get("first_try") else alert["claimed_by"], alert["id"]])


def carry(db: Database, carrier: dict[str, Any], now: datetime, batch: list[int]) -> list[dict[str, Any]]:
    """Every other due page of the carrier's sender group to its person (waiting, or claimed in this
    `batch`) becomes 'bundled', carried by `carrier`. Returns those rows with their tickets' requester."""
    ids = [i for i in batch if i != carrier["id"]]
    rows = db.execute(
        f"SELECT a.id, a.ticket_id, a.cls, a.due_at, t.requester FROM alerts a JOIN tickets t ON t.id = a.ticket_id"
        f" WHERE a.target = ? AND a.ticket_id != ? AND a.step != ? AND a.id != ?"
        f" AND {_TICKET_GROUP} = (SELECT {_TICKET_GROUP} FROM tickets t WHERE t.id = ?)"
        f" AND ((a.state IN ('pending', 'failed') AND a.next_attempt_at <= ?)"
        f"      OR (a.state = 'sending' AND a.id IN ({','.join('?' * len(ids)) or 'NULL'})))"
        " ORDER BY a.ticket_id",
        [carrier["target"], carrier["ticket_id"], STANDDOWN, carrier["id"], carrier["ticket_id"], iso(now), *ids],
    ).fetchall()
    for r in rows:
        db.execute("UPDATE alerts SET state = 'bundled', carried_by = ?, sent_at = ?, updated_at = ? WHERE id = ?",
                   [carrier["id"], iso(now), iso(now), r[0]])
    return [dict(zip(("id", "ticket_id", "cls", "due_at", "requester"), r, strict=True)) for r in rows]


def due_groups(db: Database, target: str, now: datetime, batch: list[int]) -> int:
    """How many sender groups the person's ticket pages due now come from: waiting and never tried, or
    claimed in this `batch`."""
    return db.execute(
        f"SELECT count(DISTINCT {_TICKET_GROUP}) FROM alerts a JOIN tickets t ON t.id = a.ticket_id"
        f" WHERE a.target = ? AND a.step != ? AND ((a.state IN ('pending', 'failed') AND a.next_attempt_at <= ?"
        f" AND a.claimed_by IS NULL) OR (a.state = 'sending' AND a.id IN ({','.join('?' * len(batch)) or 'NULL'})))",
        [target, STANDDOWN, iso(now), *batch]).fetchone()[0]


def carry_all(db: Database, carrier: dict[str, Any], now: datetime, batch: list[int]) -> list[dict[str, Any]]:
    """Every other ticket page to the carrier's person that is due now (waiting and never tried, or claimed in
    this `batch`), whatever its sender, becomes 'bundled', carried by `carrier`. Returns those rows with their
    tickets' requester."""
    ids = [i for i in batch if i != carrier["id"]]
    rows = db.execute(
        f"SELECT a.id, a.ticket_id, a.cls, a.due_at, t.requester FROM alerts a JOIN tickets t ON t.id = a.ticket_id"
        f" WHERE a.target = ? AND a.id != ? AND a.step != ?"
        f" AND ((a.state IN ('pending', 'failed') AND a.claimed_by IS NULL AND a.next_attempt_at <= ?)"
        f"      OR (a.state = 'sending' AND a.id IN ({','.join('?' * len(ids)) or 'NULL'})))"
        " ORDER BY a.ticket_id",
        [carrier["target"], carrier["id"], STANDDOWN, iso(now), *ids],
    ).fetchall()
    for r in rows:
        db.execute("UPDATE alerts SET state = 'bundled', carried_by = ?, sent_at = ?, updated_at = ? WHERE id = ?",
                   [carrier["id"], iso(now), iso(now), r[0]])
    return [dict(zip(("id", "ticket_id", "cls", "due_at", "requester"), r, strict=True)) for r in rows]


def last_standdown(db: Database, target: str, since: datetime, batch: list[int]) -> str | None:
    """When the person was last sent a stand-down notice (after `since`; not counting the rows of `batch`)."""
    return db.execute(
        f"SELECT max(updated_at) FROM alerts WHERE state IN ('sent', 'sending') AND updated_at > ? AND target = ?"
        f" AND step = ? AND id NOT IN ({','.join('?' * len(batch)) or 'NULL'})",
        [iso(since), target, STANDDOWN, *batch]).fetchone()[0]


def carry_standdowns(db: Database, carrier: dict[str, Any], now: datetime, batch: list[int]) -> list[dict[str, Any]]:
    """Every other stand-down notice to the carrier's person that is due now (waiting and never tried, or claimed
    in this `batch`) becomes 'bundled', carried by `carrier`. Returns those rows (id, ticket_id, title)."""
    ids = [i for i in batch if i != carrier["id"]]
    rows = db.execute(
        f"SELECT id, ticket_id, title FROM alerts WHERE target = ? AND id != ? AND step = ?"
        f" AND ((state IN ('pending', 'failed') AND claimed_by IS NULL AND next_attempt_at <= ?)"
        f"      OR (state = 'sending' AND id IN ({','.join('?' * len(ids)) or 'NULL'})))"
        " ORDER BY ticket_id",
        [carrier["target"], carrier["id"], STANDDOWN, iso(now), *ids]).fetchall()
    for r in rows:
        db.execute("UPDATE alerts SET state = 'bundled', carried_by = ?, sent_at = ?, updated_at = ? WHERE id = ?",
                   [carrier["id"], iso(now), iso(now), r[0]])
    return [dict(zip(("id", "ticket_id", "title"), r, strict=True)) for r in rows]


def carried_tickets(db: Database, alert_id: int) -> list[int]:
    """The tickets a bundle page carried besides its own (answered by the alerts_carried index)."""
    rows = db.execute("SELECT DISTINCT ticket_id FROM alerts WHERE carried_by = ? AND ticket_id IS NOT NULL"
                      " ORDER BY ticket_id", [alert_id]).fetchall()
    return [r[0] for r in rows]


def set_text(db: Database, alert_id: int, title: str, body: str) -> None:
    """The words of a page as it is sent (its ages and countdowns are those of the moment it goes out)."""
    db.execute("UPDATE alerts SET title = ?, body = ? WHERE id = ?", [title, body, alert_id])


def record_results(db: Database, alert_id: int, now: datetime, results: Iterable[dict[str, Any]]) -> None:
    for res in results:
        db.execute(
            "INSERT INTO alert_results (alert_id, at, service, ok, status, elapsed, error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [alert_id, iso(now), res["service"], int(bool(res["ok"])), res["status"], res.get("elapsed"),
             res.get("error")],
        )


def finish(db: Database, alert_id: int, now: datetime, *, ok: bool, error: str | None = None,
           retry_at: datetime | None = None, claimed_by: str | None = None) -> bool:
    """After a send: 'sent', or 'failed' (retry_at=None means no more tries). With `claimed_by`, a row
    that sender's own deadline expired meanwhile (its bookkeeping waited for a busy database) is still
    its to settle: what happened is known now."""
    states = ("sending", "expired") if claimed_by is not None else ("sending",)
    if ok:
        return queue.settle(db, PAGES, alert_id, "state = 'sent', sent_at = ?, last_error = NULL, updated_at = ?",
                            [iso(now), iso(now)], claimed_by=claimed_by, states=states)
    # A failed row with no retry time is parked: it stays 'failed' and visible, never claimed again
    # until an operator resends it (requeue).
    return queue.settle(db, PAGES, alert_id, "state = 'failed', last_error = ?, next_attempt_at = ?, updated_at = ?",
                        [error, iso(retry_at) if retry_at else NEVER, iso(now)], claimed_by=claimed_by, states=states)


def expire(db: Database, alert_id: int, now: datetime, error: str) -> None:
    """A send that timed out: it may or may not have gone out, so it is not retried blindly."""
    queue.settle(db, PAGES, alert_id, "state = 'expired', last_error = ?, updated_at = ?", [error, iso(now)],
                 states=("sending", "expired"))


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
        return queue.expire_orphans(db, PAGES, now, error="sender stopped during the send; not resent",
                                    owner="claimed_by IS NULL OR claimed_by != ?", owner_params=[claimed_by])
    return queue.expire_orphans(db, PAGES, now, error="send deadline passed; not resent")


def orphans_due(db: Database, now: datetime) -> bool:
    return queue.orphans_due(db, PAGES, now)


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
        "SELECT target FROM alerts a WHERE ticket_id = ? AND step != ?"
        " AND (state IN ('sent', 'sending', 'expired', 'bundled')"
        " OR EXISTS (SELECT 1 FROM alert_results r WHERE r.alert_id = a.id AND r.ok = 1))"
        " GROUP BY target ORDER BY min(id)",
        [ticket_id, STANDDOWN],
    ).fetchall()
    return [r[0] for r in rows]


def standdown_targets(db: Database, ticket_id: int) -> list[str]:
    """paged_targets() less those already told to stand down since their last page: a person stood down by a
    downgrade is told again at the acknowledgement only if paged again in between."""
    rows = db.execute(
        "SELECT target FROM alerts a WHERE ticket_id = ? AND step != ?"
        " AND (state IN ('sent', 'sending', 'expired', 'bundled')"
        " OR EXISTS (SELECT 1 FROM alert_results r WHERE r.alert_id = a.id AND r.ok = 1))"
        " AND a.id > coalesce((SELECT max(s.id) FROM alerts s WHERE s.ticket_id = a.ticket_id AND s.step = ?"
        " AND s.target = a.target AND s.state != 'cancelled'), 0)"
        " GROUP BY target ORDER BY min(id)",
        [ticket_id, STANDDOWN, STANDDOWN],
    ).fetchall()
    return [r[0] for r in rows]


def requeue(db: Database, alert_id: int, now: datetime) -> dict[str, Any]:
    """Operator's explicit resend of an expired, failed or cancelled row. Returns the row as it was."""
    row = db.execute("SELECT ticket_id, target, step FROM alerts WHERE id = ?", [alert_id]).fetchone()
    state = queue.requeue(db, PAGES, alert_id, now, allowed=("expired", "failed", "cancelled"),
                          refusal="alert {id} is {state}; only expired, failed or cancelled alerts can be resent")
    return {"id": alert_id, "state": state, "ticket_id": row[0], "target": row[1], "step": row[2]}


def list_alerts(db: Database, *, ticket_id: int | None = None, states: Iterable[str] | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
    where: list[str] = []
    params: list[int | str] = []
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


def health_counts(db: Database, since: datetime, *, sent_total: bool = True) -> dict[str, int]:
    """What the health assessment needs: rows per state, with 'failed' and 'expired' counting only the
    pages that still matter (given up on a ticket nobody has acknowledged yet, or without a ticket and
    changed since `since`), and 'retrying' the failed rows that will be tried again. An old failed page
    whose ticket has been answered since is history, not a degraded desk. Each count is answered by
    an index (the console asks every few seconds, and the table keeps every page ever sent), but for
    `sent_total`, every page ever sent, counted one by one: for `status`, not for a timer."""
    matters = ("(ticket_id IS NULL AND updated_at >= ?"
               " OR EXISTS (SELECT 1 FROM tickets t WHERE t.id = ticket_id AND t.status = 'new'))")
    return {
        "pending": queue.count(db, PAGES, "pending"),
        "sending": queue.count(db, PAGES, "sending"),
        "retrying": queue.count(db, PAGES, "failed", where="next_attempt_at < ?", params=[NEVER]),
        "failed": queue.count(db, PAGES, "failed", where=f"next_attempt_at = ? AND {matters}",
                              params=[NEVER, iso(since)]),
        "expired": queue.count(db, PAGES, "expired", where=matters, params=[iso(since)]),
        **({"sent": queue.count(db, PAGES, "sent")} if sent_total else {}),
    }


def state_counts(db: Database) -> dict[str, int]:
    return queue.state_counts(db, PAGES)


STALE_STEP, RECOVERED_STEP = "intake-stale", "intake-recovered"


def outage_key(step: str, outage: str, handle: str) -> str:
    return f"{step}:{outage}:{handle}"


def unrecovered_outages(db: Database) -> list[str]:
    """The outages (outage_key's middle part) paged as stale and not yet paged as recovered."""
    rows = db.execute(
        "SELECT DISTINCT dedup_key FROM alerts a WHERE ticket_id IS NULL AND step = ? AND NOT EXISTS"
        " (SELECT 1 FROM alerts b WHERE b.dedup_key = ? || substr(a.dedup_key, ?) AND b.step = ?)",
        [STALE_STEP, RECOVERED_STEP, len(STALE_STEP) + 1, RECOVERED_STEP],
    ).fetchall()
    return sorted({key[len(STALE_STEP) + 1:].rsplit(":", 1)[0] for (key,) in rows})
