"""What is due: turn policy steps into outbox rows, inside the caller's transaction.

Each ticket carries `step_cursor` (steps up to this time are already in the outbox) and
`next_step_at` (when to look again), so the scheduler asks SQLite for min(next_step_at)
and sleeps exactly until then instead of sweeping.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from store.db import Database

from console import policy as pol
from console.ack import texts
from console.alerts import audience as aud
from console.config import Config
from store import audit, outbox, tickets
from store.times import iso, parse_iso

def page_text(ticket: dict, step: pol.Step, now: datetime, cfg: Config) -> tuple[str, str]:
    return texts.page_text(ticket, step, now, cfg)  # what a page says lives with acting on it: console.ack


def advance(db: Database, ticket: dict, cfg: Config, now: datetime) -> list[int]:
    """Write the outbox rows for the ticket's steps that came due, and move its cursor.

    Several steps due at once (a reclassification, a poller that was down) collapse into the
    latest: its audience contains the earlier ones', so nobody is paged four times for one event.
    """
    if ticket["status"] != "new":
        _set_steps(db, ticket["id"], ticket["step_cursor"], None)
        return []
    received = clock_start(ticket)
    cursor = parse_iso(ticket["step_cursor"])
    due = pol.due_steps(ticket["class"], received, cfg.sla, after=cursor, now=now)
    created: list[int] = []
    if due:
        step = due[-1]
        if len(due) > 1:
            audit.add_event(db, ticket["id"], "steps_collapsed", "poller", now,
                            skipped=[s.name for s in due[:-1]], sent=step.name)
        created = write_step(db, ticket, step, cfg, now)
    _set_steps(db, ticket["id"], now, pol.next_step_at(ticket["class"], received, cfg.sla, after=now))
    return created


def clock_start(ticket: dict) -> datetime:
    """When the ticket's running first-contact clock started: its arrival, or the customer's answer to a
    details request (a call-me ticket's second clock)."""
    start = parse_iso(ticket.get("clock_from") or ticket["received_at"])
    assert start is not None
    return start


def _clock_tag(ticket: dict) -> str:
    # A second clock's steps have the first one's names: its pages need keys of their own.
    n = ticket.get("clock_no") or 1
    return f"c{n}:" if n > 1 else ""


def write_step(db: Database, ticket: dict, step: pol.Step, cfg: Config, now: datetime) -> list[int]:
    title, body = page_text(ticket, step, now, cfg)
    targets = aud.resolve(db, cfg, step.audience, ticket.get("assignee"), now)
    created = []
    for audience_name, handle in targets:
        alert_id = outbox.add_alert(
            db, dedup_key=f"t{ticket['id']}:{_clock_tag(ticket)}{ticket['class']}:{step.name}:{handle}",
            ticket_id=ticket["id"],
            cls=ticket["class"], step=step.name, audience=audience_name, target=handle, urgent=step.urgent,
            title=title, body=body, due_at=step.at, now=now,
        )
        if alert_id:
            created.append(alert_id)
    audit.add_event(db, ticket["id"], "alert_due", "poller", now, step=step.name, step_kind=step.kind,
                    targets=[h for _, h in targets] or "nobody configured")
    return created


def _set_steps(db: Database, ticket_id: int, cursor: datetime | str | None, next_at: datetime | None) -> None:
    # Bookkeeping only: no version bump, so a console's pending edit is not made stale by the poller.
    if isinstance(cursor, datetime):
        cursor = iso(cursor)
    if next_at is not None and next_at.microsecond:
        # Stored in whole seconds: round up, or the scheduler wakes before the step and spins until it.
        next_at = next_at.replace(microsecond=0) + timedelta(seconds=1)
    tickets.set_steps(db, ticket_id, cursor, iso(next_at))


def imported(db: Database, ticket: dict, cfg: Config, now: datetime) -> None:
    """A ticket filed from a mailbox's history at its first sync: nothing is paged for the steps that came
    due before now (the first-sync summary tells the supervisors). Its later steps come as usual, unless it
    is already past its deadline: then the summary is its page (a year of history would otherwise repeat
    "STILL BREACHED" every few minutes for every old Class III)."""
    received, due = parse_iso(ticket["received_at"]), parse_iso(ticket["due_at"])
    assert received is not None and due is not None
    overdue = due <= now
    next_at = None if overdue else pol.next_step_at(ticket["class"], received, cfg.sla, after=now)
    _set_steps(db, ticket["id"], now, next_at)
    audit.add_event(db, ticket["id"], "imported", "intake", now, overdue=overdue)


def run_due(db: Database, cfg: Config, now: datetime) -> list[int]:
    """Materialise every step due by `now`. Call inside store.write()."""
    created: list[int] = []
    for t in tickets.tickets_with_steps_due(db, now):
        created += advance(db, t, cfg, now)
    return created


def stop(db: Database, ticket_id: int, now: datetime, reason: str) -> int:
    """First contact made (or resolved): no more steps, and unsent pages are cancelled."""
    _set_steps(db, ticket_id, now, None)
    return outbox.cancel_for_ticket(db, ticket_id, now, reason)


def restart(db: Database, ticket: dict, cfg: Config, now: datetime | None = None,
            reason: str = "reclassified", *, skip_arrival: bool = False) -> int:
    """After a reclassification: the new class's steps count from the original arrival, and unsent
    pages of the old class are cancelled (the new class's schedule replaces them). Returns how many.
    `skip_arrival`: the new class's arrival notice is not sent (those it would reach were paged already)."""
    cancelled = 0
    if now is not None:
        cancelled = outbox.cancel_for_ticket(db, ticket["id"], now, reason, except_cls=ticket["class"])
    if ticket["status"] != "new":
        _set_steps(db, ticket["id"], ticket["step_cursor"], None)
        return cancelled
    received = clock_start(ticket)
    if skip_arrival:  # the cursor at the arrival: only later steps (the warning, the breach) are due
        _set_steps(db, ticket["id"], received, pol.next_step_at(ticket["class"], received, cfg.sla, after=received))
    else:
        _set_steps(db, ticket["id"], None, pol.first_step_at(ticket["class"], received, cfg.sla))
    return cancelled

