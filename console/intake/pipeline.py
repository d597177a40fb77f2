"""Raw bytes -> stored message -> ticket, reply or auto-reply, in one transaction per batch.

Parsing happens before the write lock is taken (it never raises); the transaction then holds
the message rows, ticket rows, audit events, due alerts and the mailbox watermark together,
so a crash leaves either all of a batch or none of it.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from console import policy as pol
from console.alerts import escalation
from console.config import Config, Routing
from console.intake import autoreply, callme, classify, threads
from console.intake.parse import ParsedMail, parse_message
from store import audit, mailbox, messages, tickets, write
from store.times import iso, parse_iso


@dataclass
class Incoming:
    raw: bytes
    received_at: datetime | None = None  # INTERNALDATE; None means "now"
    uid: int | None = None


@dataclass
class Filed:
    outcome: str  # "new" | "reply" | "reopened" | "autoreply" | "bounce" | "duplicate"
    ticket_id: int | None
    message_row: int
    uid: int | None = None


def _arrival(item: Incoming, now: datetime) -> datetime:
    # The customer's clock starts when the server got the mail; never in our future.
    t = item.received_at
    if t is None or t.tzinfo is None or t > now:
        return now.replace(microsecond=0)
    return t.replace(microsecond=0)


def _json(values) -> str:
    return json.dumps(list(values), default=str)


def _fields(mail: ParsedMail) -> dict:
    d = {
        "message_id": mail.message_id, "from_addr": mail.from_addr, "from_name": mail.from_name,
        "subject": mail.subject, "body_text": mail.body_text, "in_reply_to": mail.in_reply_to,
        "sent_date": iso(mail.date) if mail.date else None, "recipients": _json(mail.recipients),
        "refs": _json(mail.references), "defects": _json(mail.defects), "oversize": mail.oversize,
        "unparseable": mail.unparseable,
        "attachments": _json([dataclasses.asdict(a) for a in mail.attachments]),
    }
    return d


@dataclass
class Analysis:
    """Everything about one message that needs no database: parsed fields, hash, auto-reply kind,
    class and flags. Pure, so a big sync can compute it in another process (see intake/watch.py)."""
    mail: ParsedMail
    digest: str
    auto: str | None
    verdict: classify.Classification
    needs_details: bool
    fields: dict


def analyze(raw: bytes, routing: Routing, max_bytes: int) -> Analysis:
    mail = parse_message(raw, max_bytes)
    # The headers view is only needed for auto-reply detection; a plain dict keeps Analysis picklable.
    mail = dataclasses.replace(mail, headers=dict(mail.headers))
    return Analysis(
        mail=mail, digest=messages.sha256(raw), auto=autoreply.auto_kind(mail),
        verdict=classify.classify(mail.recipients, mail.subject, mail.body_text, urgent=routing.urgent,
                                  support=routing.support, default_class=routing.default_class),
        needs_details=callme.needs_details(mail.subject, mail.body_text), fields=_fields(mail),
    )


def analyze_batch(raws: list[bytes], routing: Routing, max_bytes: int) -> list[Analysis]:
    return [analyze(r, routing, max_bytes) for r in raws]


def max_bytes(cfg: Config) -> int:
    return cfg.imap.max_message_bytes if cfg.imap else 25 * 1024 * 1024


def file_messages(db: Database, cfg: Config, items: list[Incoming], now: datetime, *, source: str = "ingest",
                  mailbox_key: tuple[str, str, int] | None = None, last_uid: int | None = None,
                  analyses: list[Analysis] | None = None) -> list[Filed]:
    """Store and file a batch. With mailbox_key=(account, folder, uidvalidity) each item's uid is
    recorded as a source and the watermark moves to `last_uid` (or the highest uid) in the same commit.
    `analyses` (one per item) may come precomputed; otherwise they are computed here, before the
    write lock is taken."""
    if analyses is None:
        analyses = analyze_batch([i.raw for i in items], cfg.routing, max_bytes(cfg))
    out: list[Filed] = []
    with write(db):
        # What the batch already has, in two queries rather than two per message.
        seen = Seen(
            sources=messages.known_sources(db, *mailbox_key, [i.uid for i in items if i.uid is not None])
            if mailbox_key is not None else {},
            keys=messages.known_dedup_keys(db, [messages.dedup_key(a.digest, a.mail.message_id) for a in analyses]),
        )
        for item, analysis in zip(items, analyses, strict=True):
            out.append(_file_one(db, cfg, item, analysis, now, source, mailbox_key, seen))
        if mailbox_key is not None:
            uids = [i.uid for i in items if i.uid is not None]
            top = max([last_uid or 0, *uids])
            if top:
                account, folder, uidvalidity = mailbox_key
                current = mailbox.get_watermark(db, account, folder)
                if current is None or current[0] != uidvalidity or current[1] < top:
                    mailbox.set_watermark(db, account, folder, uidvalidity, top, now)
    return out


@dataclass
class Seen:
    """What a batch found already stored, kept current as the batch files its own messages."""
    sources: dict[int, int]  # uid -> message row
    keys: dict[str, tuple[int, int | None]]  # dedup key -> (message row, ticket id)


def _file_one(db: Database, cfg: Config, item: Incoming, a: Analysis, now: datetime, source: str,
              mailbox_key: tuple[str, str, int] | None, seen: Seen) -> Filed:
    if item.uid is not None and item.uid in seen.sources:
        return Filed("duplicate", None, seen.sources[item.uid], item.uid)
    key = messages.dedup_key(a.digest, a.mail.message_id)
    dup = seen.keys.get(key)
    if dup is not None:
        _record_source(db, mailbox_key, item.uid, dup[0], now)
        return Filed("duplicate", dup[1], dup[0], item.uid)
    filed = _file_new(db, cfg, item, a, now, source, mailbox_key)
    seen.keys[key] = (filed.message_row, filed.ticket_id)
    if item.uid is not None:
        seen.sources[item.uid] = filed.message_row
    return filed


def _file_new(db: Database, cfg: Config, item: Incoming, a: Analysis, now: datetime, source: str,
              mailbox_key: tuple[str, str, int] | None) -> Filed:
    mail, digest, fields = a.mail, a.digest, a.fields

    received = _arrival(item, now)
    if a.auto is not None:
        # Auto-replies and bounces never open a ticket and never count as contact; attach if we can.
        ticket_id, how = threads.find_ticket(db, mail, bounce=(a.auto == "bounce"))
        row = messages.insert_message(db, raw=item.raw, raw_sha256=digest, ticket_id=ticket_id, kind=a.auto,
                                      fields=fields, received_at=received, now=now, source=source)
        if ticket_id is not None:
            audit.add_event(db, ticket_id, f"{a.auto}_received", "intake", now, message=row, matched=how,
                            subject=mail.subject)
        _record_source(db, mailbox_key, item.uid, row, now)
        return Filed(a.auto, ticket_id, row, item.uid)

    ticket_id, how = threads.find_ticket(db, mail)
    if ticket_id is not None:
        return _reply(db, cfg, item, mail, fields, digest, ticket_id, how, received, now, source, mailbox_key)

    verdict = a.verdict
    due = pol.deadline(verdict.cls, received, cfg.sla)
    first_step = escalation.first_step_at(verdict.cls, received, cfg)
    flagged = mail.unparseable or mail.oversize or bool(mail.defects and not mail.body_text)
    ticket_id = tickets.create_ticket(
        db, cls=verdict.cls, class_reason=verdict.reason, subject=mail.subject, requester=mail.from_addr,
        requester_name=mail.from_name, received_at=received, due_at=due,
        next_step_at=first_step, now=now, needs_details=a.needs_details, quarantined=flagged,
    )
    row = messages.insert_message(db, raw=item.raw, raw_sha256=digest, ticket_id=ticket_id, kind="new",
                                  fields=fields, received_at=received, now=now, source=source)
    tickets.add_participants(db, ticket_id, [mail.from_addr, *_customer_cc(mail, cfg)])
    audit.add_event(db, ticket_id, "created", "intake", now, message=row, cls=verdict.cls, reason=verdict.reason,
                    note=how if how != "no thread reference" else "")
    if threads.subject_tag(mail.subject) is not None and how.startswith("subject tag"):
        audit.add_event(db, ticket_id, "thread_refused", "intake", now, detail=how)
    _record_source(db, mailbox_key, item.uid, row, now)
    # Steps already due (a Class III's arrival page) go into the outbox in this same transaction.
    if first_step is not None and first_step <= now:
        escalation.advance(db, tickets.get_ticket(db, ticket_id), cfg, now)
    return Filed("new", ticket_id, row, item.uid)


def _reply(db, cfg, item, mail, fields, digest, ticket_id, how, received, now, source, mailbox_key) -> Filed:
    row = messages.insert_message(db, raw=item.raw, raw_sha256=digest, ticket_id=ticket_id, kind="reply",
                                  fields=fields, received_at=received, now=now, source=source)
    t = tickets.get_ticket(db, ticket_id)
    changes = {"last_message_at": max(received, parse_iso(t["last_message_at"]) or received)}
    outcome = "reply"
    if t["status"] == "resolved":
        # A reply reopens: the first-contact clock is not restarted (contact was made).
        changes.update(status="acknowledged" if t["acknowledged_at"] else "new", resolved_at=None)
        outcome = "reopened"
        audit.add_event(db, ticket_id, "reopened", "intake", now, message=row, by=mail.from_addr)
    if mail.unparseable or mail.oversize:
        changes["quarantined"] = 1
    if outcome == "reopened" or "quarantined" in changes:
        tickets.update_ticket(db, ticket_id, changes, now)
    else:
        # A plain reply changes nothing an operator acts on, so it must not make their edit stale.
        db.execute("UPDATE tickets SET last_message_at = ? WHERE id = ?", [iso(changes["last_message_at"]), ticket_id])
    tickets.add_participants(db, ticket_id, [mail.from_addr])
    audit.add_event(db, ticket_id, "reply_received", "intake", now, message=row, matched=how, by=mail.from_addr)
    _record_source(db, mailbox_key, item.uid, row, now)
    return Filed(outcome, ticket_id, row, item.uid)


def _customer_cc(mail: ParsedMail, cfg: Config) -> list[str]:
    desk = set(cfg.routing.urgent) | set(cfg.routing.support)
    return [a for a in mail.recipients if a not in desk]


def _record_source(db, mailbox_key, uid, row, now) -> None:
    if mailbox_key is not None and uid is not None:
        messages.record_source(db, *mailbox_key, uid, row, now)


