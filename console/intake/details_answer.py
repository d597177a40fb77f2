"""The call-me clock: a customer's answer to a details request starts the ticket's first-contact clock.

A call-me-only mail ("please call me at 555-1212") gets no call back; the desk answers it with a details
request (recorded as first contact of kind "details"). When the customer then writes the details, the
real problem arrives: the ticket loses `needs details`, becomes new again, and a first-contact clock for
its class starts from that answer, with the pages and escalation of a new ticket (a Class III answer
pages the primary and secondary at once).
"""
from __future__ import annotations

from datetime import datetime

from store.db import Database

from console import policy as pol
from console.alerts import escalation
from console.config import Config
from store import audit, tickets
from store.times import iso


def asked_for_details(db: Database, ticket: dict) -> bool:
    """Whether the desk asked this ticket's customer for details (by hand, or automatically on arrival)."""
    return ticket.get("first_contact") == "details" or audit.has_event(db, ticket["id"], "details_queued")


def maybe_start_clock(db: Database, cfg: Config, ticket_id: int, answered_at: datetime, now: datetime, *,
                      message: int) -> bool:
    """Inside intake's transaction, after the customer's reply on a `needs details` ticket is stored: if
    the desk had asked for details, start the clock from this answer. Returns whether it did."""
    t = tickets.get_ticket(db, ticket_id)
    if not t["needs_details"] or t["status"] == "resolved" or not asked_for_details(db, t):
        return False
    clock = (t.get("clock_no") or 1) + 1
    due = pol.deadline(t["class"], answered_at, cfg.sla)
    t = tickets.update_ticket(db, ticket_id, {
        "needs_details": 0, "status": "new", "acknowledged_at": None, "acknowledged_by": None, "first_contact": None,
        "clock_from": answered_at, "clock_no": clock, "due_at": due, "step_cursor": None,
        "next_step_at": pol.first_step_at(t["class"], answered_at, cfg.sla),
    }, now)
    audit.add_event(db, ticket_id, "clock_started", "intake", now, message=message, reason="details received",
                    cls=t["class"], received_at=iso(answered_at), due_at=iso(due), clock=clock)
    if t["next_step_at"] and t["next_step_at"] <= iso(now):
        escalation.advance(db, t, cfg, now)  # a Class III answer pages at once, as a new ticket would
    return True
