"""Shared by the tests that put the outbox's real queries to SQLite's planner (tests/unit/test_outbox_plans.py,
tests/unit/test_silence_plans.py): old history to hide among, the plans of the statements traced, and the
work a read does, which must not grow with the history."""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from store import write
from store.times import iso
from tests.factories import T0


def old_pages(db, n: int, targets: Iterable[str], *, key: str = "older", days: int = 30) -> None:
    """n pages sent `days` ago for ticket 900000 (which the caller made), to each of `targets` in turn."""
    people = list(targets)
    old = iso(T0 - timedelta(days=days))
    with write(db):
        db.conn.executemany(
            "INSERT INTO alerts (dedup_key, ticket_id, cls, step, target, title, body, state, due_at, created_at,"
            " next_attempt_at, attempts, sent_at, updated_at) VALUES (?, 900000, 'III', 'arrival', ?, 't', 'b',"
            " 'sent', ?, ?, ?, 1, ?, ?)", [(f"{key}{i}", people[i % len(people)], old, old, old, old, old)
                                           for i in range(n)])


def plans(db, statements: list[str], tables: str = "alerts|mail_outbox") -> dict[str, list[str]]:
    """Each traced read or write of `tables` (a regex alternation), with its plan's lines."""
    out = {}
    for sql in statements:
        head = sql.lstrip().split(None, 1)[0].upper()
        if head not in ("SELECT", "UPDATE", "WITH", "DELETE") or not re.search(rf"\b({tables})\b", sql):
            continue
        out[sql] = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]
    return out


def work(db, sql: str) -> int:
    """SQLite's virtual machine steps (in hundreds) to run a read to the end: what an index saves."""
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    db.conn.set_progress_handler(tick, 100)
    try:
        db.execute(sql).fetchall()
    finally:
        db.conn.set_progress_handler(None, 0)
    return steps


def grown_with_history(db, statements: Iterable[str], more_history) -> dict[str, tuple[int, int]]:
    """The reads among `statements` whose work more than doubles once `more_history()` has added ten times
    the history: a plan can name an index and still read every old page (alerts_state for 'sent')."""
    reads = [sql for sql in statements if sql.lstrip().upper().startswith(("SELECT", "WITH"))]
    before = {sql: work(db, sql) for sql in reads}
    more_history()
    return {sql[:300]: (before[sql], after) for sql in reads if (after := work(db, sql)) > 2 * before[sql] + 20}
