"""From a token to what it may do now: the page it names, its ticket, and whether it still works.

Shared by the link server and the email-reply path, so both refuse the same things.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.db import Database

from console.ack import keyfile, tokens
from console.ack.tokens import InvalidToken
from console.config import Config
from store import outbox
from store import tickets as store_tickets
from store.times import parse_iso

__all__ = ["InvalidToken", "Resolved", "resolve"]


@dataclass(frozen=True)
class Resolved:
    claim: tokens.Claim
    alert: dict
    ticket: dict
    state: str  # "valid" | "used" (acknowledged or resolved) | "expired"
    merged_from: int | None = None  # the page was for this ticket, since merged into `ticket`


# Merging into a merged ticket is refused, but the ticket merged into can be merged on later: a few steps.
_MERGE_STEPS = 8


def resolve(db: Database, cfg: Config, token: str, now: datetime) -> Resolved:
    """InvalidToken unless the desk signed this token for a page it sent to a person still on staff;
    keyfile.KeyFileError when the key cannot be read (nothing can be verified then)."""
    key = keyfile.load(keyfile.key_path(cfg.store_path))
    if key is None:
        raise InvalidToken  # no key yet: no token was ever signed here
    claim = tokens.read(key, token)
    alert = outbox.get_alert(db, claim.alert_id)
    if (alert is None or alert["ticket_id"] != claim.ticket_id or alert["target"] != claim.handle
            or alert["step"] == outbox.STANDDOWN or parse_iso(alert["created_at"]) != claim.issued
            or cfg.person(claim.handle) is None):
        raise InvalidToken  # signed, but not for a page of this database (or the person left the staff)
    try:
        ticket = store_tickets.get_ticket(db, claim.ticket_id)
    except store_tickets.NoSuchTicket:
        raise InvalidToken from None
    # A page for a ticket merged since acknowledges the ticket its mail went to, which pages on.
    merged_from = ticket["id"] if ticket.get("merged_into") else None
    for _ in range(_MERGE_STEPS):
        if not ticket.get("merged_into"):
            break
        try:
            ticket = store_tickets.get_ticket(db, ticket["merged_into"])
        except store_tickets.NoSuchTicket:
            break
    if ticket["status"] != "new":
        state = "used"
    elif claim.expired(now):
        state = "expired"
    else:
        state = "valid"
    return Resolved(claim, alert, ticket, state, merged_from)
