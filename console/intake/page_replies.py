"""Acknowledging by replying to an email page.

An email page's subject carries `[ack:<token>]` and its Reply-To is the desk's mailbox (console.ack.links),
so the answer comes back through intake. Intake asks `intercept()` first about every new mail:

- a mail whose subject carries a token this desk signed is a reply to a page. It is kept with that
  ticket (its raw bytes, like any mail) and never opens a ticket. It acknowledges the ticket when it
  comes from the address (`[[staff]] email`) of the person the page was for, is not automatic (as intake
  judges mail: autoreply.why_automatic), arrived before the token expired, and the first line of its own
  text (above the quoted page) is the word "ack" and nothing else. Anything else is kept on the ticket as
  that person's message ("Sorry, I can't ack this, boarding", "Do not ack yet") and acknowledges nothing:
  a false acknowledgement stops every page, a missed one only lets the next page come;
- a mail from a staff address with something like a token that does not verify is kept unfiled
  (`support-console unfiled`), not made a ticket;
- anything else is not ours: intake files it as usual (a customer cannot open a ticket by faking a tag).

The From address alone proves little (it is easily forged); the token is what proves the page was
received, the address only that it was answered by the person it was for.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from store.db import Database

from console.ack import keyfile, tokens, verify
from console.config import Config
from console.intake import autoreply
from console.intake.parse import DEFAULT_MAX_SIZE, parse_message
from store import audit, messages
from store.db import StoreError
from store.times import iso

log = logging.getLogger("support_console.ack")

OUTCOME = "page-reply"
_TAG = re.compile(r"\[(?i:ack):(" + tokens.PATTERN + r")\]")
# The whole first line of the reply's own text: "ack", in any case, with punctuation or an emoji around it.
_ACK_LINE = re.compile(r"[\W_]*ack[\W_]*", re.IGNORECASE)
# Where the reply's own text ends and the quoted page begins, in the shapes mail apps write it.
_QUOTE_START = re.compile(
    r"^\s*(>|.*\bwrote:\s*$|-{2,}\s*original message|_{5,}\s*$|from:\s|sent from my\b|--\s*$)",
    re.IGNORECASE)
OWN_TEXT_LIMIT = 2000  # characters of a reply looked at for "ack"


@dataclass(frozen=True)
class PageReply:
    ticket_id: int | None  # None: kept unfiled (the token could not be verified)
    message_row: int
    acknowledged: bool
    note: str  # why it did or did not acknowledge
    outcome: str = OUTCOME


def token_in(subject: str | None) -> str | None:
    m = _TAG.search(subject or "")
    return m.group(1) if m else None


def own_text(body: str) -> str:
    """The reply's own words: the lines before the quoted page, a signature or a client's footer."""
    out = []
    for line in (body or "")[:OWN_TEXT_LIMIT * 2].splitlines():
        if _QUOTE_START.match(line):
            break
        out.append(line)
    return "\n".join(out)[:OWN_TEXT_LIMIT]


def first_line(body: str) -> str:
    """The first line of the reply's own text that is not blank ("" when there is none)."""
    return next((line.strip() for line in own_text(body).splitlines() if line.strip()), "")


def says_ack(body: str) -> bool:
    """Whether the reply's first line of its own text is the word "ack" ("Ack.", "ACK!"), and nothing else:
    "Sorry, I can't ack this", "Do not ack yet" and "...to acknowledge receipt of your mail" are not."""
    return bool(_ACK_LINE.fullmatch(first_line(body)))


def intercept(db: Database, cfg: Config, *, raw: bytes, subject: str, columns: tuple, received_at: datetime,
              now: datetime, source: str) -> PageReply | None:
    """A staff reply to a page: store it (with `columns`, intake's messages.message_columns() of `raw`),
    acknowledge if it says so, and return what happened. None: not a reply to a page; file it as usual.

    Runs inside intake's write transaction. It never raises for anything in the mail."""
    token = token_in(subject)
    if token is None:
        return None
    max_bytes = cfg.imap.max_message_bytes if cfg.imap else DEFAULT_MAX_SIZE
    mail = parse_message(raw, max_bytes)
    sender = mail.from_addr
    staff = cfg.by_email(sender) if sender else None
    resolved, why = None, ""
    try:
        resolved = verify.resolve(db, cfg, token, received_at)
    except verify.InvalidToken:
        why = "the token in its subject is not valid"
    except keyfile.KeyFileError as exc:
        why = f"cannot verify its token: {exc}"
        log.warning("a reply to a page from %s cannot be checked: %s", sender or "an unknown sender", exc)
    if resolved is None and staff is None:
        return None
    automatic = autoreply.why_automatic(mail)  # intake's one judgement of machine mail
    kind = automatic[0] if automatic else "reply"
    # The reply joins the ticket the page's ticket was merged into, if it was: its mail and pages are there.
    ticket_id = resolved.ticket["id"] if resolved else None
    row = messages.add_message(db, ticket_id=ticket_id, kind=kind, received_at=iso(received_at), now=iso(now),
                               source=source, raw=raw, columns=columns)
    if resolved is None:
        audit.add_event(db, None, "page_reply_unverified", "intake", now, message=row, by=sender, why=why)
        return PageReply(None, row, False, why)

    claim, tid, acknowledged = resolved.claim, resolved.ticket["id"], False
    merged = f"#{resolved.merged_from} was merged into #{tid}; " if resolved.merged_from else ""
    if automatic is not None:
        note = f"an automatic {'reply' if kind == 'autoreply' else 'bounce'} ({automatic[1]}), not an acknowledgement"
    elif staff is None or staff.handle != claim.handle:
        note = f"sent from {sender or 'no address'}, not from {claim.handle}'s own address: not an acknowledgement"
    elif resolved.state == "used":
        note = f"{merged}#{tid} was already {resolved.ticket['status']}"
    elif resolved.state == "expired":
        note = "the page's token had expired: acknowledge in the console or with `support-console ack`"
    elif not says_ack(mail.body_text):
        note = 'kept as a message: its first line is not "ack"'
    else:
        from console import actions  # actions -> standdown -> outbox: imported only when acting

        try:
            actions.acknowledge(db, cfg, tid, claim.handle, now,
                                via={"via": "email reply", "page": claim.alert_id, "message": row,
                                     **({"merged_from": resolved.merged_from} if resolved.merged_from else {})})
            acknowledged, note = True, f"{merged}acknowledged"
        except (actions.ActionRefused, StoreError) as exc:  # the reason, recorded
            note = str(exc)
    audit.add_event(db, tid, "page_reply_received", "intake", now, message=row, by=sender,
                    page=claim.alert_id, person=claim.handle, acknowledged=acknowledged, note=note)
    return PageReply(tid, row, acknowledged, note)
