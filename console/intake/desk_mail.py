"""Intake's side of replies, as two small hooks for console/intake/pipeline.py:

- own_mail(): mail that carries our loop header (X-Loop: one of the desk's addresses) or comes
  from one of the desk's own addresses is the desk's own mail coming back: it never opens a ticket.
  It is filed the way auto-replies are (kept, attached to a ticket when it threads, never contact).
- on_new_ticket(): with [replies] receipt = true a new ticket's requester gets a receipt; with
  details_request = true call-me-only mail gets the "we need details" request instead. Both follow
  the rules of receipts.py, and both are queued in the transaction that creates the ticket.

A customer's answer to our mail threads by the Message-IDs the desk generated: they are stored with
the outgoing messages (kind 'outgoing'), which intake's reference lookup finds (console.intake.threads).
"""
from __future__ import annotations

import re
from datetime import datetime

from store.db import Database

from console import log_later
from console.config import Config
from store import audit, outgoing, tickets, write
from store.db import file_of
from store.times import parse_iso

log = log_later.Logger("support_console.mail")  # logging is loaded at the first line (an MTA's ingest)

_HEADER_SCAN = 64 * 1024
_LOOP = re.compile(rb"^x-loop:[ \t]*([^\r\n]*)", re.IGNORECASE | re.MULTILINE)
_END_OF_HEADER = re.compile(rb"\r?\n\r?\n")
_first_seen: dict[tuple[str, str, str], datetime] = {}  # (database file, account, folder): never changes once set


def own_mail(cfg: Config, sender: str, raw: bytes) -> str | None:
    """Why this mail is the desk's own (its sender, or our loop header), or None."""
    own = cfg.desk_addresses
    if sender and sender.lower() in own:
        return f"from the desk's own address {sender.lower()}"
    head = raw[:_HEADER_SCAN]
    end = _END_OF_HEADER.search(head)
    if end is not None:
        head = head[:end.start()]
    for m in _LOOP.finditer(head):
        value = m.group(1).decode("ascii", "replace").strip().lower().strip("<>")
        if value in own:
            return f"our loop header (X-Loop: {value})"
    return None


def _history_before(db: Database, mailbox_key: tuple | None) -> datetime | None:
    if mailbox_key is None:
        return None
    account, folder = mailbox_key[0], mailbox_key[1]
    path = file_of(db)
    key = (path, account, folder)
    if key in _first_seen:
        return _first_seen[key]
    at = parse_iso(outgoing.first_seen(db, account, folder))
    if at is not None and path:
        _first_seen[key] = at
    return at


def on_new_ticket(db: Database, cfg: Config, ticket_id: int, received: datetime, now: datetime, *,
                  automated: str | None = None, mailbox_key: tuple | None = None) -> int | None:
    """Queue the automatic mail a new ticket is owed, if any; inside intake's transaction. `automated`:
    why intake judged the mail machine-made (its Analysis.machine). Returns the outbox row or None."""
    r = cfg.replies
    if cfg.smtp is None or not (r.receipt or r.details_request):
        return None
    t = tickets.get_ticket(db, ticket_id)
    purpose = "details" if r.details_request and t["needs_details"] else "receipt" if r.receipt else None
    if purpose is None:
        return None
    from console.replies import compose, desk, guard, receipts, templates  # only for a desk that sends receipts

    history = _history_before(db, mailbox_key)
    if history is not None and received < history:
        return None  # a newly connected mailbox's history: the common case of a first sync, and quietly
    why = receipts.refusal(sender=t["requester"], automated_reason=automated, own=desk.own_addresses(cfg))
    if why is None and guard.had_one_recently(db, t["requester"], now - r.receipt_window):
        why = "already had an automatic mail within replies.receipt_window"
    if why is not None:
        audit.add_event(db, ticket_id, f"{purpose}_skipped", "intake", now, reason=why)
        return None
    held = guard.withheld(db, cfg, t, now)  # a sender not authenticated, a cap: nothing sent, counted by status
    if held is not None:
        log.info("#%s: %s withheld: %s", ticket_id, purpose, held[1])
        audit.add_event(db, ticket_id, f"{purpose}_withheld", "intake", now, cause=held[0], reason=held[1])
        return None
    try:
        with write(db):  # a savepoint: a mail that cannot be written leaves nothing half-done
            return desk.queue_automatic(db, cfg, t, purpose, now).send_id
    except (compose.ComposeError, templates.TemplateError) as exc:
        # Never a reason to refuse the mail itself: intake goes on, the ticket says why.
        log.warning("#%s: no %s: %s", ticket_id, purpose, exc)
        audit.add_event(db, ticket_id, f"{purpose}_skipped", "intake", now, reason=str(exc))
        return None
