"""Which ticket a reply belongs to. Headers first; a subject tag only from a known participant."""
from __future__ import annotations

from collections.abc import Sequence

from sqlite_utils import Database

from store import messages, tickets


def find_ticket(db: Database, ids: Sequence[str], tag: int | None, sender: str) -> tuple[int | None, str]:
    """(ticket id, how it was found) or (None, why not), from the mail's analysis.reference_ids(), its
    analysis.subject_tag() and the sender's address."""
    found = messages.tickets_for_message_ids(db, ids)
    if found:
        return found[0], "in-reply-to/references"
    if tag is not None and tickets.ticket_exists(db, tag):
        # A bare [#42] is trivially forged: it only counts from someone already on that ticket.
        if sender and tickets.is_participant(db, tag, sender):
            return tag, "subject tag from a participant"
        return None, f"subject tag [#{tag}] ignored: {sender or 'sender'} is not a participant"
    return None, "no thread reference"
