"""The outbox lifecycle that pages (`alerts`) and mail (`mail_outbox`) share, written once.

    pending -> sending -> sent
                       -> waiting again (a retry after a confirmed failure, at next_attempt_at)
                       -> failed (for good) | expired (cut short: it may or may not have gone out)

A row is claimed ('sending', with a send deadline and the claimer's id) in the same write transaction
that chose it, so two senders never send one row. A row still 'sending' after its deadline, or left by
a dead predecessor, becomes 'expired' and is never resent blindly; only a person requeues it.

What differs stays with each table (store/outbox.py, store/outgoing.py): which states wait for a
(re)try, the order of the claim, the columns a finish sets. Time conditions are written so that the
partial indexes of migration m1801 answer every query a sender runs on a timer.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from store.db import Database

from store.db import StoreError
from store.times import iso

# next_attempt_at of a row that gets no more tries (pages given up on): a time rather than a flag, so
# the claim and the senders' sleep need no special case.
NEVER = "9999-12-31T23:59:59Z"


class Queue(NamedTuple):
    table: str
    columns: tuple[str, ...]
    waiting: tuple[str, ...]  # the states a row waits in for its next try
    noun: str  # for messages: "alert", "outgoing mail"

    @property
    def select(self) -> str:
        return f"SELECT {', '.join(self.columns)} FROM {self.table}"

    def states(self) -> str:
        return "(" + ", ".join(f"'{s}'" for s in self.waiting) + ")"


def due_condition(q: Queue, alias: str = "") -> str:
    """Rows waiting whose time has come. Two parameters: now, and the horizon (now + the longest backoff).

    A row whose next try lies beyond the horizon was scheduled before the wall clock stepped back: it is
    due now, so a backward step never delays a retry by more than its backoff."""
    p = f"{alias}." if alias else ""
    return (f"{p}state IN {q.states()} AND ({p}next_attempt_at <= ? OR"
            f" ({p}next_attempt_at > ? AND {p}next_attempt_at < '{NEVER}'))")


def due_params(now: datetime, horizon: datetime | None) -> list[str]:
    """The parameters of due_condition (no horizon: only rows whose time has come)."""
    return [iso(now) or "", (iso(horizon) if horizon is not None else None) or NEVER]


def due_rows(db: Database, q: Queue, now: datetime, horizon: datetime | None, *, where: str = "",
             params: Sequence = (), order: str = "next_attempt_at, id", limit: int = 100) -> list[tuple]:
    sql = f"{q.select} WHERE {due_condition(q)}" + (f" AND {where}" if where else "") + f" ORDER BY {order} LIMIT ?"
    return db.execute(sql, [*due_params(now, horizon), *params, limit]).fetchall()


def mark_claimed(db: Database, q: Queue, ids: Iterable[int], now: datetime, *, claimed_by: str,
                 send_deadline: datetime) -> None:
    """Rows chosen for sending become 'sending'. Call in the transaction that chose them (store.write())."""
    for row_id in ids:
        db.execute(f"UPDATE {q.table} SET state = 'sending', attempts = attempts + 1, send_deadline = ?,"
                   " claimed_by = ?, updated_at = ? WHERE id = ?",
                   [iso(send_deadline), claimed_by, iso(now), row_id])


def settle(db: Database, q: Queue, row_id: int, sets: str, params: Sequence, *, claimed_by: str | None = None,
           states: tuple[str, ...] = ("sending",)) -> bool:
    """Record the outcome of a send (`sets`, SQL assignments with `params`) on a row in one of `states`,
    and only if `claimed_by` (when given) still holds it. Whether the row was changed."""
    sql = f"UPDATE {q.table} SET {sets} WHERE id = ? AND state IN ({', '.join('?' * len(states))})"
    args: list[Any] = [*params, row_id, *states]
    if claimed_by is not None:
        sql += " AND claimed_by = ?"
        args.append(claimed_by)
    return db.execute(sql, args).rowcount == 1


def orphans_due(db: Database, q: Queue, now: datetime) -> bool:
    """Whether a 'sending' row is past its send deadline (a cheap read before expire_orphans' write)."""
    return db.execute(f"SELECT 1 FROM {q.table} WHERE state = 'sending' AND send_deadline < ? LIMIT 1",
                      [iso(now)]).fetchone() is not None


def expire_orphans(db: Database, q: Queue, now: datetime, *, error: str, extra_sets: str = "",
                   owner: str = "", owner_params: Sequence = ()) -> int:
    """'sending' rows past their deadline, or matching `owner` (SQL on claimed_by: a dead predecessor's
    rows), become 'expired' with `error`: they may or may not have gone out."""
    sql = (f"UPDATE {q.table} SET state = 'expired', last_error = ?, updated_at = ?{extra_sets}"
           " WHERE state = 'sending' AND (send_deadline < ?" + (f" OR ({owner})" if owner else "") + ")")
    return db.execute(sql, [error, iso(now), iso(now), *owner_params]).rowcount


def requeue(db: Database, q: Queue, row_id: int, now: datetime, *, allowed: tuple[str, ...], refusal: str,
            extra_sets: str = "", extra_params: Sequence = ()) -> str:
    """A person's deliberate resend: the row waits again from now, with its tries counted afresh.
    `refusal` says why another state cannot be resent ({id} and {state} filled in). Returns the state it had."""
    row = db.execute(f"SELECT state FROM {q.table} WHERE id = ?", [row_id]).fetchone()
    if row is None:
        raise StoreError(f"no {q.noun} {row_id}")
    if row[0] not in allowed:
        raise StoreError(refusal.format(id=row_id, state=row[0]))
    db.execute(f"UPDATE {q.table} SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?"
               f"{extra_sets} WHERE id = ?", [iso(now), iso(now), *extra_params, row_id])
    return row[0]


def next_due(db: Database, q: Queue, *, where: str = "", params: Sequence = ()) -> str | None:
    """When the next waiting row is due (None when none is): what a sender sleeps until."""
    sql = (f"SELECT min(next_attempt_at) FROM {q.table} WHERE state IN {q.states()}"
           f" AND next_attempt_at < '{NEVER}'" + (f" AND {where}" if where else ""))
    return db.execute(sql, list(params)).fetchone()[0]


def count(db: Database, q: Queue, state: str, *, where: str = "", params: Sequence = ()) -> int:
    """Rows in one state (each count answered by the state index, not a scan of the history)."""
    sql = f"SELECT count(*) FROM {q.table} WHERE state = ?" + (f" AND {where}" if where else "")
    return db.execute(sql, [state, *params]).fetchone()[0]


def state_counts(db: Database, q: Queue) -> dict[str, int]:
    return dict(db.execute(f"SELECT state, count(*) FROM {q.table} GROUP BY state").fetchall())
