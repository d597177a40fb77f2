"""Public shapes of tickets and messages: the JSON contract of `tickets --json` and `show --json`."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from console import policy as pol
from console.safe_text import clean_block, clean_line
from store.times import parse_iso

TICKET_FIELDS = (
    "id", "class", "status", "subject", "requester", "requester_name", "received_at", "due_at",
    "acknowledged_at", "acknowledged_by", "assignee", "breached", "panic_mode", "needs_details", "quarantined",
    "automated", "message_count", "resolved_at", "class_reason", "version", "seconds_left",
    "merged_into", "split_from", "first_contact",
)


def ticket_public(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    due = parse_iso(row["due_at"])
    assert due is not None  # due_at is NOT NULL
    # the clock stopped at first contact, or (resolved without contact) when it was resolved
    acked = parse_iso(row["acknowledged_at"]) or parse_iso(row.get("resolved_at"))
    out = {k: row.get(k) for k in TICKET_FIELDS if k in row}
    out["breached"] = pol.is_breached(due, now, acked)
    out["seconds_left"] = None if acked else int(pol.time_left(due, now).total_seconds())
    if row.get("merged_into"):  # its clock went with its mail to the ticket it was merged into
        out["breached"], out["seconds_left"] = False, None
    for k in ("panic_mode", "needs_details", "quarantined", "automated"):
        out[k] = bool(row.get(k))
    out.setdefault("message_count", 0)
    return out


def message_public(m: dict[str, Any]) -> dict[str, Any]:
    """Message fields made safe for a terminal (the raw bytes stay in the database)."""
    out = dict(m)
    for k in ("subject", "from_name", "from_addr"):
        out[k] = clean_line(out.get(k) or "")
    out["body_text"] = clean_block(out.get("body_text") or "")
    return out
