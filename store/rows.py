"""The shapes of the rows the console reads, for the type checker: what each key holds.

Nothing here runs a query; the functions that read these rows (store.tickets, store.console_reads,
store.audit, store.staff) return plain dicts with exactly these keys. Times are store.times ISO text in
UTC; flags are SQLite integers (0 or 1) unless said otherwise. "class" is a Python keyword, hence the
functional syntax for Ticket.
"""
from __future__ import annotations

from typing import Any, TypedDict

# A row of `tickets` (store.tickets.COLUMNS, in that order).
Ticket = TypedDict("Ticket", {
    "id": int,
    "class": str,                  # "I" | "II" | "III"
    "class_reason": str,
    "status": str,                 # "new" | "acknowledged" | "resolved"
    "subject": str,
    "requester": str,
    "requester_name": str,
    "received_at": str,
    "due_at": str,
    "acknowledged_at": str | None,
    "acknowledged_by": str | None,
    "assignee": str | None,
    "resolved_at": str | None,
    "panic_mode": int,
    "needs_details": int,
    "quarantined": int,
    "automated": int,
    "step_cursor": str | None,
    "next_step_at": str | None,
    "version": int,
    "created_at": str,
    "updated_at": str,
    "last_message_at": str | None,
    "merged_into": int | None,     # the ticket this one was merged into (it is resolved meanwhile)
    "split_from": int | None,      # the ticket this one was split from
    "first_contact": str | None,   # "reply" | "ack" | "details" | "none"; None while no clock has stopped
    "clock_from": str | None,      # when the running first-contact clock started; None: at arrival
    "clock_no": int,               # 1, or 2 once the customer answered a details request
})


class ListedTicket(Ticket):
    """A ticket as the console lists it (store.console_reads): its columns and two more."""
    message_count: int
    customer_wrote: int  # 1 when the customer wrote after the desk last acted on the ticket


class MessagePreview(TypedDict):
    """A message of a ticket with part of its body (store.console_reads.message_previews)."""
    id: int
    kind: str                      # "new" | "reply" | "autoreply" | "bounce" | "outgoing" | "note"
    from_addr: str
    from_name: str
    subject: str
    received_at: str
    size: int
    oversize: bool
    unparseable: bool
    defects: list[Any]             # decoded from JSON
    attachments: list[dict[str, Any]]  # each with filename, content_type, size (decoded from JSON)
    body_text: str                 # at most the characters asked for, from body_start on
    body_length: int               # of the whole body
    body_start: int


class Event(TypedDict):
    """An audit event (store.audit.events_for)."""
    id: int
    ticket_id: int | None
    at: str
    actor: str                     # a staff handle, or "intake", "poller", "auto"
    kind: str                      # "created", "acknowledged", "reply_queued", ...
    detail: dict[str, Any]         # decoded from JSON; what it holds depends on `kind`


class StaffRow(TypedDict):
    """A person of the staff mirror (store.staff), written from the config."""
    handle: str
    name: str                      # the config fills in the handle when it gives no name
    role: str                      # "staff" | "supervisor"
    active: bool


class LatestMessage(TypedDict):
    """The newest message of a ticket, its body cut short (store.console_reads.latest_message_preview)."""
    id: int
    kind: str
    from_addr: str
    from_name: str
    received_at: str
    body_text: str | None
