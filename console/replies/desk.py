"""Writing to the customer and to the ticket: what the CLI and the console call.

- draft_reply(): the composer's starting text (the customer's last message quoted, the signature),
  or a template filled in, with the headers the reply will have.
- send_reply(): store the reply in the thread (kind 'outgoing') and its outbox row in one
  transaction, and make first contact: a new ticket is acknowledged by the actor and its escalation
  stops. It queues; delivery.send_now() (or the poller) sends.
- add_note(): an internal note (kind 'note'), never sent.
- resend(): a person sends again a mail that failed or was cut short (never done by itself).
- queue_automatic(): a receipt or a "we need details" request, inside the caller's transaction; never
  first contact.
"""
from __future__ import annotations

import dataclasses
import email.parser
import email.policy
from dataclasses import dataclass
from datetime import datetime
from email.utils import getaddresses

from store.db import Database

from console import actions
from console.config import Config, SmtpConfig
from console.identity import as_actor
from console.replies import compose, templates
from console.safe_text import clean_block, clean_line
from store import audit, mailbox, messages, outgoing, tickets, write
from store.times import parse_iso

MAX_HEADER_BYTES = 2 * 1024 * 1024  # enough for thousands of Cc addresses, so that their count is told right
MAX_NOTE_CHARS = 100_000
MAX_CC = 100_000  # Cc addresses read from the customer's mail (a reply copies at most [replies] max_cc)
MAX_CC_FIELD = MAX_HEADER_BYTES


class NotSetUp(actions.ActionRefused):
    """Replies need an [smtp] table."""


@dataclass(frozen=True)
class Draft:
    ticket_id: int
    version: int  # the ticket's version when drafted: pass it to send_reply to refuse a stale send
    to: str  # "Name <address>"
    cc: tuple[str, ...]
    subject: str
    body: str
    template: str | None = None
    notes: tuple[str, ...] = ()  # said on the review screen: Cc addresses left off and why, too many Cc


@dataclass(frozen=True)
class Queued:
    send_id: int
    message_row: int
    ticket: dict  # after the reply (acknowledged if it was new)
    acknowledged: bool  # this reply made first contact
    mail: compose.Outgoing


def require_smtp(cfg: Config) -> SmtpConfig:
    if cfg.smtp is None:
        raise NotSetUp("replies are not set up: add an [smtp] table (host, from, ...) to the config")
    return cfg.smtp


def desk_from(db: Database, cfg: Config, ticket_id: int) -> str:
    """Who the desk writes as on this ticket: the From of the mailbox it came in on ([[imap]] from), else
    [smtp] from."""
    assert cfg.smtp is not None
    source = mailbox.ticket_source(db, ticket_id) if len(cfg.imaps) > 1 or any(m.from_header for m in cfg.imaps) \
        else None
    box = next((m for m in cfg.imaps if source and (m.account, m.folder) == source), None)
    return box.from_header if box is not None and box.from_header else cfg.smtp.from_header


def own_addresses(cfg: Config) -> frozenset[str]:
    """The desk's addresses and the staff's: never a customer, never Cc'd."""
    return cfg.desk_addresses | cfg.staff_addresses


def header_fields(raw: bytes):
    """The header of a mail (an email.message.Message), read from at most MAX_HEADER_BYTES."""
    head = raw[:MAX_HEADER_BYTES]
    return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)


def thread(db: Database, ticket_id: int, own: frozenset[str] = frozenset()) -> list[compose.ThreadMessage]:
    """The ticket's messages as compose needs them; the customer's last message carries its Cc."""
    stored = messages.messages_for(db, ticket_id)
    out = [compose.ThreadMessage(kind=m["kind"], message_id=m["message_id"], from_addr=m["from_addr"] or "",
                                 from_name=m["from_name"] or "", refs=tuple(m["refs"] or ()),
                                 body_text=m["body_text"] or "",
                                 at=parse_iso(m["sent_date"]) or parse_iso(m["received_at"]))
           for m in stored]
    last = compose.customer_last(out, own)
    if last is not None:
        i = next(i for i, m in enumerate(out) if m is last)
        h = header_fields(messages.raw_message(db, stored[i]["id"]))
        out[i] = dataclasses.replace(last, cc=cc_addresses([v for k, v in h.raw_items() if k.lower() == "cc"]))
    return out


def cc_addresses(values: list[str]) -> tuple[str, ...]:
    """The addresses of raw Cc values, as received: 8-bit text decoded as intake decodes it (UTF-8, else
    cp1252), never through the email package's str() of a header, which puts U+FFFD in place of 8-bit."""
    from console.decoding import raw_to_str

    out: list[str] = []
    for v in values:
        text = " ".join(raw_to_str(v).split())
        if len(text) > MAX_CC_FIELD:
            text = text[:MAX_CC_FIELD]
        out.extend(a.lower() for _, a in getaddresses([text]) if a)
        if len(out) >= MAX_CC:
            break
    return tuple(out[:MAX_CC])


def template_names(cfg: Config) -> list[str]:
    return templates.names(cfg.replies.templates)


def _agent_name(cfg: Config, actor: str) -> str:
    person = cfg.person(actor)
    return person.name if person and person.name else actor


def template_text(cfg: Config, name: str, ticket: dict, actor: str) -> str:
    t = templates.load(cfg.replies.templates, name)
    return templates.render(t, templates.values(ticket, _agent_name(cfg, actor), cfg.timezone))


def _signature(cfg: Config, actor: str) -> str | None:
    """The person's signature, else their name: templates end without one, so it is added once."""
    person = cfg.person(actor)
    if person is not None and person.signature:
        return person.signature
    return _agent_name(cfg, actor)


def contact_of(cfg: Config, template: str | None) -> str:
    """What sending a reply records as first contact: "reply", "details" (a details request) or "none"
    (a template that is not first contact, such as the receipt). A reply written by hand is a reply."""
    return templates.contact_of(cfg.replies.templates, template)


def what_sending_records(contact: str, ticket: dict) -> str:
    """One sentence for the review screen: what sending this reply will record on the ticket."""
    n = ticket["id"]
    if ticket["status"] != "new":
        return ""
    if contact == "none":
        return f"Sending it is not first contact: #{n} stays new, its clock runs on and its pages go on."
    if contact == "details":
        return (f"Sending it records a details request as first contact: #{n}'s call-me mail is answered and its "
                "pages stop; the customer's answer starts a new first-contact clock.")
    return f"Sending it makes first contact (a reply by mail): #{n} becomes acknowledged by you and its pages stop."


def draft_reply(db: Database, cfg: Config, ticket_id: int, actor: str, *, template: str | None = None) -> Draft:
    """The composer's starting point. With a template its text comes first; otherwise the customer's
    last message is quoted. The agent's signature ends it."""
    require_smtp(cfg)
    t = tickets.get_ticket(db, ticket_id)
    own = own_addresses(cfg)
    msgs = thread(db, ticket_id, own)
    last = compose.customer_last(msgs, own)
    if template is not None:
        body = compose.with_signature(template_text(cfg, template, t, actor), _signature(cfg, actor)) + "\n"
    else:
        body = compose.draft_body(last, _signature(cfg, actor), cfg.timezone)
    chosen = compose.copies(last, (t["requester"] or "").lower(), own)
    notes = chosen.notes
    if len(chosen.cc) > cfg.replies.max_cc:
        notes += (f"{len(chosen.cc):,} Cc addresses, more than replies.max_cc ({cfg.replies.max_cc}): sending will "
                  f"be refused; to copy all of them: support-console reply {ticket_id} --cc-all",)
    name = clean_line(t["requester_name"] or "", 100)
    return Draft(ticket_id=ticket_id, version=t["version"], to=f"{name} <{t['requester']}>" if name else t["requester"],
                 cc=chosen.cc, subject=compose.reply_subject(t["subject"], ticket_id), body=body, template=template,
                 notes=notes)


def _queue(db: Database, cfg: Config, t: dict, body: str, *, purpose: str, actor: str, automatic: bool,
           now: datetime, source: str, cc_all: bool = False) -> tuple[int, int, compose.Outgoing]:
    own = own_addresses(cfg)
    mail = compose.build(ticket_id=t["id"], subject=t["subject"], thread=thread(db, t["id"], own),
                         to_addr=t["requester"], to_name=t["requester_name"], desk_from=desk_from(db, cfg, t["id"]),
                         body=body, now=now, tz=cfg.timezone, own=own, automatic=automatic, cc=not automatic,
                         max_cc=None if cc_all else cfg.replies.max_cc)
    row = outgoing.add_message(db, ticket_id=t["id"], kind="outgoing", raw=mail.raw, message_id=mail.message_id,
                               from_addr=mail.from_addr, from_name=mail.from_name, recipients=mail.recipients,
                               subject=mail.subject, body_text=mail.body, in_reply_to=mail.in_reply_to,
                               refs=mail.references, now=now, source=source)
    send = outgoing.add_send(db, message_row=row, ticket_id=t["id"], purpose=purpose, actor=actor, automatic=automatic,
                             mail_from=mail.from_addr, to_addr=mail.to_addr, rcpt_to=mail.recipients, now=now)
    return row, send, mail


def send_reply(db: Database, cfg: Config, ticket_id: int, body: str, actor: str, now: datetime, *,
               template: str | None = None, expected_version: int | None = None, cc_all: bool = False) -> Queued:
    """Queue a reply to the requester (and the customer's Cc) as first contact, recorded as the template
    says (a reply, a details request, or none for a template such as the receipt). `body` is sent as it is
    (the draft already holds the signature). More Cc than [replies] max_cc is refused unless `cc_all`."""
    require_smtp(cfg)
    with write(db):
        t = actions.check_may_act(db, cfg, ticket_id, actor, "reply to", expected_version=expected_version)
        try:
            row, send, mail = _queue(db, cfg, t, body, purpose="reply", actor=actor, automatic=False, now=now,
                                     source=f"desk:{actor}", cc_all=cc_all)
        except compose.ComposeError as exc:
            raise actions.ActionRefused(f"#{ticket_id}: {exc}") from None
        try:
            contact = contact_of(cfg, template)
        except templates.TemplateError as exc:
            raise actions.ActionRefused(f"#{ticket_id}: {exc}") from None
        audit.add_event(db, ticket_id, "reply_queued", as_actor(actor).recorded, now, message=row, send=send,
                        to=mail.to_addr, cc=list(mail.cc), subject=mail.subject, template=template or "",
                        contact=contact,
                        **({"left_off": [f"{a}: {why}" for a, why in mail.left_off]} if mail.left_off else {}))
        acknowledged = t["status"] == "new" and contact != "none"
        if acknowledged:
            # A reply (or a details request) is first contact: the same acknowledgement as `ack`, in this
            # same transaction, recorded for what it was.
            t = actions.acknowledge(db, cfg, ticket_id, actor, now, expected_version=t["version"], contact=contact)
        elif contact == "none":
            t = tickets.get_ticket(db, ticket_id)
        return Queued(send_id=send, message_row=row, ticket=t, acknowledged=acknowledged, mail=mail)


def resend(db: Database, cfg: Config, ticket_id: int, send_id: int, actor: str, now: datetime) -> dict:
    """A person's decision to send again a mail of this ticket that failed or was cut short (the only way
    such a mail goes out again). The same bytes, the same Message-ID: a receiving server that did get
    it the first time can tell. Returns the outbox row, pending again."""
    require_smtp(cfg)
    with write(db):
        actions.check_may_act(db, cfg, ticket_id, actor, "resend mail of")
        row = outgoing.get_send(db, send_id)
        if row["ticket_id"] != ticket_id:
            raise actions.ActionRefused(f"outgoing mail {send_id} is not on ticket #{ticket_id}")
        row = outgoing.requeue(db, send_id, now)
        audit.add_event(db, ticket_id, f"{row['purpose']}_resent", as_actor(actor).recorded, now, send=send_id)
        return row


def add_note(db: Database, cfg: Config, ticket_id: int, body: str, actor: str, now: datetime) -> int:
    """An internal note on the ticket, by any staff member; never sent, never contact. Returns its row."""
    text = clean_block(body)
    if not text.strip():
        raise actions.ActionRefused(f"#{ticket_id}: the note is empty; nothing was added")
    if len(text) > MAX_NOTE_CHARS:
        raise actions.ActionRefused(f"#{ticket_id}: the note is longer than {MAX_NOTE_CHARS:,} characters")
    with write(db):
        actions.check_may_act(db, cfg, ticket_id, actor, "add a note to", any_staff=True)
        person = cfg.person(actor)
        row = outgoing.add_message(db, ticket_id=ticket_id, kind="note", raw=text.encode("utf-8"), message_id=None,
                                   from_addr=(person.email if person and person.email else ""),
                                   from_name=_agent_name(cfg, actor), recipients=(), subject="", body_text=text,
                                   in_reply_to=None, refs=(), now=now, source=f"note:{actor}")
        audit.add_event(db, ticket_id, "note_added", as_actor(actor).recorded, now, message=row)
        return row


def queue_automatic(db: Database, cfg: Config, ticket: dict, purpose: str, now: datetime) -> Queued:
    """A receipt or a "we need details" request for this ticket, in the caller's transaction. Not first
    contact: the ticket is left as it is."""
    smtp = require_smtp(cfg)
    name = templates.RECEIPT if purpose == "receipt" else templates.DETAILS
    t = templates.load(cfg.replies.templates, name)
    signer = smtp.from_name or "Support"
    body = compose.with_signature(templates.render(t, templates.values(ticket, signer, cfg.timezone)), signer) + "\n"
    row, send, mail = _queue(db, cfg, ticket, body, purpose=purpose, actor="auto", automatic=True, now=now,
                             source="desk:auto")
    audit.add_event(db, ticket["id"], f"{purpose}_queued", "intake", now, message=row, send=send, to=mail.to_addr)
    return Queued(send_id=send, message_row=row, ticket=ticket, acknowledged=False, mail=mail)
