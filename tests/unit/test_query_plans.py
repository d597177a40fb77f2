"""The queries the console, `status` and the scheduler run on a timer read through indexes, never a whole
table: each costs the same with years of history as on the first day (issue 22).

Every statement a store function really runs is captured (sqlite3's trace callback gives it with its
parameters inlined) and its plan is read with EXPLAIN QUERY PLAN. A `SCAN` of a history table, or a
sort of all its rows, fails the test, so a later change cannot make one of these queries linear again
without noticing. Checked twice: as SQLite plans without statistics (the desk never runs ANALYZE) and
with them (a `PRAGMA optimize` or an operator's ANALYZE must not change the answer)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from console import actions
from console.intake.pipeline import Incoming, file_messages
from store import console_reads, messages, reports, silences, tickets, write
from tests.factories import T0, mail

HISTORY_TABLES = {"tickets", "messages", "events", "alerts", "message_raw"}


def _desk(db, cfg, n: int = 40) -> None:
    """n tickets through intake, each acknowledged; a customer reply on every third; most resolved."""
    for i in range(n):
        now = T0 + timedelta(minutes=10 * i)
        to = "urgent@desk.example" if i % 5 == 0 else "support@desk.example"
        [filed] = file_messages(db, cfg, [Incoming(mail(frm=f"c{i}@cust.example", to=to, subject=f"Printer {i} broken",
                                                       body=f"Müller's printer number {i} is broken again.",
                                                       message_id=f"<n{i}@cust.example>"))], now)
        tid = filed.ticket_id
        actions.acknowledge(db, cfg, tid, "bob", now + timedelta(minutes=1))
        if i % 3 == 0:
            file_messages(db, cfg, [Incoming(mail(frm=f"c{i}@cust.example", subject=f"Re: [#{tid}] Printer {i} broken",
                                                  body="Still broken.", message_id=f"<r{i}@cust.example>"))],
                          now + timedelta(minutes=2))
        if i < n - 10:
            actions.resolve(db, cfg, tid, "bob", now + timedelta(minutes=3))
    with write(db):  # an active silence holding a page, so the header's count reads what it reads in use
        sid = silences.add(db, kind="domain", pattern="cust.example", reason="work", by="ann", now=T0,
                           ends_at=T0 + timedelta(days=30))
        db.execute("UPDATE alerts SET state = 'silenced', silenced_by = ? WHERE id = (SELECT max(id) FROM alerts)",
                   [sid])


def _traced(db, call) -> list[str]:
    seen: list[str] = []
    db.conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        db.conn.set_trace_callback(None)
    return [q for q in seen if q.lstrip().upper().startswith(("SELECT", "WITH"))]


def _plan(db, sql: str) -> list[str]:
    return [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]


def _aliases(sql: str) -> set[str]:
    """Names a history table goes by in this statement (itself and any alias)."""
    names = set(HISTORY_TABLES)
    for table, alias in re.findall(r"\b(?:FROM|JOIN)\s+(\w+)\s+(?:AS\s+)?(\w+)", sql, flags=re.IGNORECASE):
        if table in HISTORY_TABLES and alias.upper() not in {"WHERE", "JOIN", "ON", "INDEXED", "ORDER", "GROUP",
                                                               "LEFT", "INNER", "USING", "LIMIT"}:
            names.add(alias)
    return names


# Partial indexes that hold only rows in a rare state (a ticket with a step to come, a panic-mode ticket):
# reading one whole costs what that state holds, never the history.
RARE_STATE_INDEXES = {"tickets_next_step", "tickets_panic"}


def whole_table_reads(db, sql: str) -> list[str]:
    """The plan lines of `sql` that read a history table whole: a SCAN of it, with or without an index.
    Two scans are bounded and allowed: of a rare-state partial index, and an index walked in the order
    asked for that stops at the statement's LIMIT (no sort of everything first)."""
    names = _aliases(sql)
    plan = _plan(db, sql)
    sorted_all = any("TEMP B-TREE FOR ORDER BY" in p for p in plan)
    limited = re.search(r"\bLIMIT\s+\d+\s*$", sql) is not None and not sorted_all
    bad = []
    for line in plan:
        m = re.match(r"SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?", line)
        if not m or m.group(1) not in names:
            continue
        if m.group(2) in RARE_STATE_INDEXES or (limited and m.group(2)):
            continue
        bad.append(line)
    return bad


def timer_queries(db) -> dict[str, object]:
    """What the console (first paint, change check, resolved view, search, detail), `tickets --open` and the
    scheduler's escalation run, by name."""
    marks = console_reads.watermarks(db)
    return {
        "watermarks": lambda: console_reads.watermarks(db),
        "changed_ticket_rows": lambda: console_reads.changed_ticket_rows(db, marks, "2026-11-02T18:00:00Z"),
        "open_ticket_rows": lambda: console_reads.open_ticket_rows(db),
        "resolved_ticket_rows": lambda: console_reads.resolved_ticket_rows(db, 500),
        "ticket_row": lambda: console_reads.ticket_row(db, 3),
        "alerts_after": lambda: console_reads.alerts_after(db, marks["alert"] - 3),
        "recent_alerts": lambda: console_reads.recent_alerts(db, 200),
        "message_previews": lambda: console_reads.message_previews(db, 3, 100),
        "latest_message_preview": lambda: console_reads.latest_message_preview(db, 3, 100),
        "list_tickets(open_only)": lambda: tickets.list_tickets(db, open_only=True),
        "next_step_due": lambda: tickets.next_step_due(db),
        "tickets_with_steps_due": lambda: tickets.tickets_with_steps_due(db, T0 + timedelta(days=1)),
        "find_duplicate": lambda: messages.find_duplicate(db, "x|<y>"),
        "find_source": lambda: messages.find_source(db, "a", "INBOX", 1, 1),
        "thread_candidates": lambda: messages.thread_candidates(db, ["n1@cust.example"]),
        "messages_for": lambda: messages.messages_for(db, 3),
        "raw_message": lambda: messages.raw_message(db, 3),
        "panic_by_requester_month": lambda: reports.panic_by_requester_month(db),
        "tickets_with_text": lambda: console_reads.tickets_with_text(db, "Müller printer"),
        "tickets_with_text(within)": lambda: console_reads.tickets_with_text(db, "Müller printer", [31, 32, 33]),
        "resolved_ticket_ids": lambda: console_reads.resolved_ticket_ids(db, 500),
        # The console's header and the scheduler's wake-up: silences (issue 19 item 4).
        "silences.quiet": lambda: silences.quiet(db, T0),
        "silences.next_end": lambda: silences.next_end(db),
        "silences.active": lambda: silences.active(db, T0),
        "silences.to_release": lambda: silences.to_release(db, T0),
    }


@pytest.fixture
def desk(db, cfg):
    _desk(db, cfg)
    return db


@pytest.mark.parametrize("analyzed", [False, True], ids=["no-stats", "analyzed"])
def test_timer_queries_never_read_a_history_table_whole(desk, analyzed):
    if analyzed:
        desk.execute("ANALYZE")
    found = {}
    for name, call in timer_queries(desk).items():
        statements = _traced(desk, call)
        assert statements, f"{name} ran no query"
        bad = [(sql[:120], lines) for sql in statements if (lines := whole_table_reads(desk, sql))]
        if bad:
            found[name] = bad
    assert found == {}


def test_the_resolved_view_reads_its_page_in_index_order(desk):
    """Not every resolved ticket ever, sorted: the newest `limit` straight off tickets_resolved."""
    [sql] = [q for q in _traced(desk, lambda: console_reads.resolved_ticket_rows(desk, 5)) if "FROM tickets" in q]
    plan = _plan(desk, sql)
    assert any("tickets_resolved" in line for line in plan), plan
    assert not any("ORDER BY" in line for line in plan), plan


def test_the_check_fails_on_a_whole_table_read(desk):
    """The check itself: the old open-list shape and the old correlated resolved view are caught."""
    assert whole_table_reads(desk, "SELECT id FROM tickets t WHERE t.status != 'resolved' ORDER BY t.id")
    assert whole_table_reads(desk, "SELECT count(*) FROM messages m WHERE m.subject LIKE '%x%'")
    assert not whole_table_reads(desk, "SELECT id FROM tickets t WHERE t.status IN ('new', 'acknowledged')")


def test_rows_carry_message_count_and_customer_wrote(desk):
    """The rows read without correlated subqueries still say how many messages a ticket has and whether the
    customer wrote after the desk last acted."""
    rows = {r["id"]: r for r in console_reads.open_ticket_rows(desk)}
    resolved = {r["id"]: r for r in console_reads.resolved_ticket_rows(desk, 500)}
    assert len(rows) == 10 and len(resolved) == 30
    assert [r["id"] for r in console_reads.resolved_ticket_rows(desk, 3)] == [30, 29, 28]
    # #31 (i = 30) had a reply after its acknowledgement; #32 (i = 31) did not
    assert rows[31]["message_count"] == 2 and rows[31]["customer_wrote"] == 1
    assert rows[32]["message_count"] == 1 and rows[32]["customer_wrote"] == 0
    assert resolved[1]["message_count"] == 2 and resolved[1]["customer_wrote"] == 0  # resolved after the reply
    assert console_reads.ticket_row(desk, 31) == rows[31]


def test_search_reads_the_full_text_index(desk):
    [sql] = _traced(desk, lambda: console_reads.tickets_with_text(desk, "broken"))
    plan = _plan(desk, sql)
    assert any(re.match(r"SCAN messages_fts VIRTUAL TABLE INDEX \d+:M", line) for line in plan), plan
