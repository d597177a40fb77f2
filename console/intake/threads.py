"""Which ticket a reply belongs to. Headers first; a subject tag only from a known participant."""
from __future__ import annotations

import re
from collections.abc import Sequence

from sqlite_utils import Database

from console.intake.parse import ParsedMail
from store import messages, tickets

_TAG = re.compile(r"\[#(\d{1,9})\]")


def subject_tag(subject: str) -> int | None:
    m = _TAG.search(subject or "")
    return int(m.group(1)) if m else None


def reference_ids(mail: ParsedMail, *, bounce: bool = False) -> tuple[str, ...]:
    """The Message-IDs that may name this mail's ticket, the most telling first."""
    ids = [i for i in (mail.in_reply_to, *reversed(mail.references)) if i]
    if bounce and mail.original_message_id:
        ids.insert(0, mail.original_message_id)
    return tuple(ids)


def find_ticket(db: Database, ids: Sequence[str], tag: int | None, sender: str) -> tuple[int | None, str]:
    """(ticket id, how it was found) or (None, why not), from reference_ids(), the subject_tag() and the
    sender's address."""
    found = messages.tickets_for_message_ids(db, ids)
    if found:
        return found[0], "in-reply-to/references"
    if tag is not None and tickets.ticket_exists(db, tag):
        # A bare [#42] is trivially forged: it only counts from someone already on that ticket.
        if sender and tickets.is_participant(db, tag, sender):
            return tag, "subject tag from a participant"
        return None, f"subject tag [#{tag}] ignored: {sender or 'sender'} is not a participant"
    return None, "no thread reference"
