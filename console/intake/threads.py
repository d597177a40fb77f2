"""Which ticket a reply belongs to. Headers first; a subject tag only from a known participant."""
from __future__ import annotations

import re

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


def find_ticket(db: Database, mail: ParsedMail, *, bounce: bool = False) -> tuple[int | None, str]:
    """(ticket id, how it was found) or (None, why not)."""
    ids = reference_ids(mail, bounce=bounce)
    found = messages.tickets_for_message_ids(db, ids)
    if found:
        return found[0], "in-reply-to/references"
    tag = subject_tag(mail.subject)
    if tag is not None and tickets.ticket_exists(db, tag):
        # A bare [#42] is trivially forged: it only counts from someone already on that ticket.
        if mail.from_addr and tickets.is_participant(db, tag, mail.from_addr):
            return tag, "subject tag from a participant"
        return None, f"subject tag [#{tag}] ignored: {mail.from_addr or 'sender'} is not a participant"
    return None, "no thread reference"
