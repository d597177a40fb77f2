"""What intake knows about a message before it touches the database: parsed fields, dedup key, class,
flags and threading keys. Pure."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from console.intake import autoreply, callme, classify
from console.intake.parse import ParsedMail, parse_message
from store import messages
from store.times import iso

if TYPE_CHECKING:
    from console.config import Routing

_TAG = re.compile(r"\[#(\d{1,9})\]")
MAX_PARTICIPANTS = 50  # who joins a new ticket: the sender and the customer's own Cc, at most this many


def subject_tag(subject: str) -> int | None:
    m = _TAG.search(subject or "")
    return int(m.group(1)) if m else None


def reference_ids(mail: ParsedMail, *, bounce: bool = False) -> tuple[str, ...]:
    """The Message-IDs that may name this mail's ticket, the most telling first."""
    ids = [i for i in (mail.in_reply_to, *reversed(mail.references)) if i]
    if bounce and mail.original_message_id:
        ids.insert(0, mail.original_message_id)
    return tuple(dict.fromkeys(ids))


def _fields(mail: ParsedMail) -> dict:
    return {
        "message_id": mail.message_id, "from_addr": mail.from_addr, "from_name": mail.from_name,
        "subject": mail.subject, "body_text": mail.body_text, "in_reply_to": mail.in_reply_to,
        "sent_date": iso(mail.date) if mail.date else None, "recipients": mail.recipients,
        "refs": mail.references, "defects": mail.defects, "oversize": mail.oversize,
        "unparseable": mail.unparseable, "attachments": [a._asdict() for a in mail.attachments],
    }


class Analysis(NamedTuple):
    key: str  # dedup key: content without trace fields, plus Message-ID
    auto: str | None  # "autoreply" | "bounce" | None
    urgent: bool  # sent to one of routing.urgent
    cls: str
    reason: str  # why this class
    needs_details: bool  # call-me-only mail
    flagged: bool  # a new ticket from it is quarantined: unparseable, oversize, or defects and no text
    damaged: bool  # unparseable or oversize: a reply quarantines its ticket
    subject: str
    sender: str
    sender_name: str
    columns: tuple  # messages.message_columns()
    thread_ids: tuple[str, ...]  # Message-IDs that may name this mail's ticket (reference_ids)
    tag: int | None  # a [#123] subject tag
    participants: tuple[str, ...]  # who joins a new ticket
    machine: str | None = None  # why it is machine-made (autoreply.why_automatic), or a List-Id: no receipt
    message_id: str | None = None


def analyze(raw: bytes, routing: Routing, max_bytes: int) -> Analysis:
    mail = parse_message(raw, max_bytes, route_to=(*routing.urgent, *routing.support))
    key = messages.dedup_key(messages.content_sha256(raw), mail.message_id)
    # Routing reads every recipient (mail.routed); what is stored (mail.recipients) stays capped.
    recipients = (*mail.recipients, *mail.routed)
    verdict = classify.classify(recipients, mail.subject, mail.body_text, urgent=routing.urgent,
                                support=routing.support, default_class=routing.default_class)
    automatic = autoreply.why_automatic(mail)
    auto = automatic[0] if automatic else None
    # A list's post may be a person's (it opens a ticket), but a receipt would go to the whole list.
    machine = automatic[1] if automatic else ("List-Id" if "list-id" in mail.headers else None)
    return Analysis(
        key=key, auto=auto, urgent=classify.is_urgent(recipients, routing.urgent), cls=verdict.cls,
        reason=verdict.reason, needs_details=callme.needs_details(mail.subject, mail.body_text),
        flagged=mail.unparseable or mail.oversize or bool(mail.defects and not mail.body_text),
        damaged=mail.unparseable or mail.oversize, subject=mail.subject, sender=mail.from_addr,
        sender_name=mail.from_name,
        columns=messages.message_columns(_fields(mail), messages.sha256(raw), len(raw), key),
        thread_ids=reference_ids(mail, bounce=(auto == "bounce")), tag=subject_tag(mail.subject),
        participants=_participants(mail, routing), machine=machine, message_id=mail.message_id,
    )


def _participants(mail: ParsedMail, routing: Routing) -> tuple[str, ...]:
    desk = set(routing.urgent) | set(routing.support)
    return tuple(dict.fromkeys(a for a in (mail.from_addr, *mail.recipients) if a and a not in desk))[:MAX_PARTICIPANTS]
