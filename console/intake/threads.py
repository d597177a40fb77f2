"""Which ticket a mail belongs to, and why (a reason code, never a sentence to match).

Header threading (In-Reply-To, References, a bounce's original Message-ID) is trusted only as far as its
sender is: a referenced Message-ID joins that ticket when the sender is one of the ticket's participants,
one of the staff, or when the id is one the desk itself generated. Anyone can copy a Message-ID into a
header, so a stranger's "reply" opens a ticket of its own (with an audit event naming the ticket it
referred to). A ``[#N]`` subject tag counts on the same terms, minus the desk id.

Desk-generated ids: mail the desk sends (replies, issue 14) is stored as a messages row of kind
'outgoing' with its Message-ID (a reference to one of those is Reason.DESK_ID), so the sender of such
mail gives it a Message-ID nobody can guess (console.replies.compose) and stores it before, or in the
same transaction as, sending.
"""
from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from typing import NamedTuple

from store.db import Database

from store import messages, shaping, tickets


class Reason(enum.StrEnum):
    NONE = "no-reference"  # nothing to go by (most new mail), or ids we do not hold
    PARTICIPANT = "header-participant"  # a referenced message is on a ticket the sender takes part in
    STAFF = "header-staff"  # the sender is on the staff list
    DESK_ID = "header-desk-id"  # the referenced id is one the desk generated
    TAG_PARTICIPANT = "tag-participant"  # [#N] from a participant (or staff)
    HEADER_REFUSED = "header-not-participant"  # refers to a ticket the sender has no part in
    TAG_REFUSED = "tag-not-participant"  # [#N] from a stranger


class Thread(NamedTuple):
    ticket_id: int | None  # the ticket to join, or None
    reason: Reason
    referred: int | None = None  # the ticket a refused mail referred to


def describe(thread: Thread, sender: str) -> str:
    """One line for the audit log."""
    who = sender or "the sender"
    if thread.reason is Reason.TAG_REFUSED:
        return f"subject tag [#{thread.referred}] ignored: {who} is not a participant"
    if thread.reason is Reason.HEADER_REFUSED:
        return f"reply headers refer to ticket #{thread.referred}, but {who} is not a participant"
    return thread.reason.value


def find_ticket(db: Database, ids: Sequence[str], tag: int | None, sender: str,
                staff: Collection[str] = ()) -> Thread:
    """The ticket for a mail with these reference ids (analysis.reference_ids(), most telling first),
    this subject tag and this sender address; `staff` holds the staff's own addresses. Mail that threads to
    a merged ticket joins the ticket it was merged into (the merged one keeps its participants, so the
    same checks decide)."""
    found = _find_ticket(db, ids, tag, sender, staff)
    if found.ticket_id is not None:
        return found._replace(ticket_id=shaping.merge_target(db, found.ticket_id))
    return found


def _find_ticket(db: Database, ids: Sequence[str], tag: int | None, sender: str, staff: Collection[str]) -> Thread:
    sender = (sender or "").lower()
    is_staff = bool(sender) and sender in staff
    referred = None
    if ids:
        rank = {mid: i for i, mid in enumerate(ids)}
        # The most telling id first; a Message-ID seen from two senders resolves to the sender's own first.
        candidates = sorted(messages.thread_candidates(db, ids),
                            key=lambda c: (rank.get(c.message_id, len(rank)), c.from_addr != sender, -c.row))
        for c in candidates:
            if c.kind == "outgoing":
                return Thread(c.ticket_id, Reason.DESK_ID)
            if is_staff:
                return Thread(c.ticket_id, Reason.STAFF)
            if sender and tickets.is_participant(db, c.ticket_id, sender):
                return Thread(c.ticket_id, Reason.PARTICIPANT)
            referred = referred or c.ticket_id
    if tag is not None and tickets.ticket_exists(db, tag):
        if is_staff or (sender and tickets.is_participant(db, tag, sender)):
            return Thread(tag, Reason.TAG_PARTICIPANT)
        return Thread(None, Reason.TAG_REFUSED, tag)
    if referred is not None:
        return Thread(None, Reason.HEADER_REFUSED, referred)
    return Thread(None, Reason.NONE)


def find_early_reply(db: Database, message_id: str | None, sender: str, staff: Collection[str] = ()) -> int | None:
    """The open ticket that a reply to this mail opened because it arrived first (a reply-all that reached
    the desk before the original), or None. On the same terms as header threading: the original's sender
    must be a participant of that ticket, or one of the staff."""
    if not message_id:
        return None
    sender = (sender or "").lower()
    if not sender:
        return None
    for ticket_id, _ in messages.replies_to(db, message_id):
        t = tickets.get_ticket(db, ticket_id)
        if t["status"] == "resolved":
            continue
        if sender in staff or tickets.is_participant(db, ticket_id, sender):
            return ticket_id
    return None
