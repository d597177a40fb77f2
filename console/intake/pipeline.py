"""Raw bytes -> stored message -> ticket, reply or auto-reply, in one transaction per batch.

Parsing happens before the write lock is taken (it never raises); the transaction then holds
the message rows, ticket rows, audit events, due alerts and the mailbox watermark together,
so a crash leaves either all of a batch or none of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from console import policy as pol
from console.ack import by_mail
from console.alerts import escalation
from console.config import Config
from console.intake import threads
from console.intake.analysis import Analysis, analyze_batch
from console.replies import inbound
from store import audit, mailbox, messages, tickets, write
from store.times import iso, parse_iso


@dataclass
class Incoming:
    raw: bytes
    received_at: datetime | None = None  # INTERNALDATE; None means "now"
    uid: int | None = None


@dataclass
class Filed:
    outcome: str  # "new" | "reply" | "reopened" | "autoreply" | "bounce" | "duplicate" | "page-reply"
    ticket_id: int | None
    message_row: int
    uid: int | None = None


def _arrival(item: Incoming, now: datetime) -> datetime:
    # The customer's clock starts when the server got the mail; never in our future.
    t = item.received_at
    if t is None or t.tzinfo is None or t > now:
        return now.replace(microsecond=0)
    return t.replace(microsecond=0)


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
        analyses = analyze_batch([i.raw for i in items], cfg.routing, max_bytes(cfg),
                                 [i.received_at for i in items], cfg.sla)
    out: list[Filed] = []
    with write(db):
        # What the batch already has, in two queries rather than two per message.
        seen = Seen(
            sources=messages.known_sources(db, *mailbox_key, [i.uid for i in items if i.uid is not None])
            if mailbox_key is not None else {},
            keys=messages.known_dedup_keys(db, [a.key for a in analyses]),
        )
        rows = Rows(db, iso(now), source, mailbox_key)
        for item, analysis in zip(items, analyses, strict=True):
            out.append(_file_one(db, cfg, item, analysis, now, rows, seen))
        rows.flush()
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


class Rows:
    """The rows of a batch's plain new tickets and messages, inserted together with executemany.

    A batch holds the write lock (BEGIN IMMEDIATE), so ids are taken here as SQLite itself would
    (max + 1), and rows can point at each other before they are written. Anything that reads these
    tables, or writes them another way, calls flush() first, so it sees every earlier row and the
    audit log keeps its order.
    """

    def __init__(self, db: Database, now: str, source: str, mailbox_key: tuple[str, str, int] | None):
        self.db, self.now, self.source, self.mailbox_key = db, now, source, mailbox_key
        self.tickets: list[tuple] = []
        self.messages: list[tuple] = []
        self.participants: list[tuple] = []
        self.events: list[tuple] = []
        self.sources: list[tuple] = []
        self.next_ids: dict[str, int] = {}  # table -> next free id; empty: read max(id) when next needed

    def take_id(self, table: str) -> int:
        """The next id of "tickets" or "messages"."""
        if table not in self.next_ids:
            self.next_ids[table] = (self.db.execute(f"SELECT max(id) FROM {table}").fetchone()[0] or 0) + 1
        self.next_ids[table] += 1
        return self.next_ids[table] - 1

    def message(self, row_id: int, ticket_id: int | None, kind: str, a: Analysis, raw: bytes, received: str) -> None:
        self.messages.append(messages.message_row(row_id, ticket_id, kind, received, self.now, self.source, raw,
                                                  a.columns))

    def event(self, ticket_id: int, kind: str, **detail) -> None:
        self.events.append(audit.event_row(ticket_id, kind, "intake", self.now, detail))

    def source_of(self, uid: int | None, message_row: int) -> None:
        if self.mailbox_key is not None and uid is not None:
            self.sources.append((*self.mailbox_key, uid, message_row, self.now))

    def flush(self) -> None:
        # Parents before children, for the foreign keys.
        db = self.db
        if self.tickets:
            tickets.insert_rows(db, self.tickets)
        if self.messages:
            messages.insert_rows(db, self.messages)
        if self.participants:
            tickets.insert_participant_rows(db, self.participants)
        if self.events:
            audit.insert_rows(db, self.events)
        if self.sources:
            messages.insert_source_rows(db, self.sources)
        for pending in (self.tickets, self.messages, self.participants, self.events, self.sources):
            pending.clear()
        self.next_ids.clear()  # others may insert before the next row of ours


def _file_one(db: Database, cfg: Config, item: Incoming, a: Analysis, now: datetime, rows: Rows,
              seen: Seen) -> Filed:
    if item.uid is not None and item.uid in seen.sources:
        return Filed("duplicate", None, seen.sources[item.uid], item.uid)
    dup = seen.keys.get(a.key)
    if dup is not None:
        rows.source_of(item.uid, dup[0])
        return Filed("duplicate", dup[1], dup[0], item.uid)
    filed = _file_new(db, cfg, item, a, now, rows)
    seen.keys[a.key] = (filed.message_row, filed.ticket_id)
    if item.uid is not None:
        seen.sources[item.uid] = filed.message_row
    return filed


def _find_ticket(db: Database, a: Analysis, rows: Rows) -> tuple[int | None, str]:
    if not a.thread_ids and a.tag is None:
        return None, "no thread reference"  # nothing to look up (most new mail)
    rows.flush()
    return threads.find_ticket(db, a.thread_ids, a.tag, a.sender)


def _file_new(db: Database, cfg: Config, item: Incoming, a: Analysis, now: datetime, rows: Rows) -> Filed:
    received = _arrival(item, now)
    received_iso = iso(received)
    # A staff reply to an email page: kept with its ticket, acknowledges it if it says so, never a ticket.
    page = by_mail.intercept(db, cfg, raw=item.raw, subject=a.subject, columns=a.columns, received_at=received,
                             now=now, source=rows.source, before_write=rows.flush)
    if page is not None:
        rows.source_of(item.uid, page.message_row)
        return Filed(page.outcome, page.ticket_id, page.message_row, item.uid)
    a = inbound.own_mail_as_auto(cfg, a, item.raw)  # replies (issue 14): our own mail never opens a ticket
    if a.auto is not None:
        # Auto-replies and bounces never open a ticket and never count as contact; attach if we can.
        ticket_id, how = _find_ticket(db, a, rows)
        row = rows.take_id("messages")
        rows.message(row, ticket_id, a.auto, a, item.raw, received_iso)
        if ticket_id is not None:
            rows.event(ticket_id, f"{a.auto}_received", message=row, matched=how, subject=a.subject)
        rows.source_of(item.uid, row)
        return Filed(a.auto, ticket_id, row, item.uid)

    ticket_id, how = _find_ticket(db, a, rows)
    if ticket_id is not None:  # found by a lookup, so rows are flushed
        return _reply(db, cfg, item, a, ticket_id, how, received, now, rows)

    if a.timing is not None and a.timing[0] == received_iso:
        _, due_iso, first_step = a.timing
    else:  # parsed without the arrival time, or the arrival was clamped to now
        due_iso = iso(pol.deadline(a.cls, received, cfg.sla))
        first_step = pol.first_step_at(a.cls, received, cfg.sla)
    ticket_id = rows.take_id("tickets")
    rows.tickets.append(tickets.ticket_row(
        ticket_id, cls=a.cls, class_reason=a.reason, subject=a.subject, requester=a.sender,
        requester_name=a.sender_name, received_at=received_iso, due_at=due_iso, next_step_at=iso(first_step),
        now=rows.now, needs_details=a.needs_details, quarantined=a.flagged,
    ))
    row = rows.take_id("messages")
    rows.message(row, ticket_id, "new", a, item.raw, received_iso)
    rows.participants.extend(tickets.participant_rows(ticket_id, a.participants))
    rows.event(ticket_id, "created", message=row, cls=a.cls, reason=a.reason,
               note=how if how != "no thread reference" else "")
    if a.tag is not None and how.startswith("subject tag"):
        rows.event(ticket_id, "thread_refused", detail=how)
    rows.source_of(item.uid, row)
    # Steps already due (a Class III's arrival page) go into the outbox in this same transaction.
    if first_step <= now:
        rows.flush()
        escalation.advance(db, tickets.get_ticket(db, ticket_id), cfg, now)
    # replies (issue 14): a receipt or "we need details" request, queued in this same transaction
    inbound.on_new_ticket(db, cfg, ticket_id, item.raw, received, now, mailbox_key=rows.mailbox_key, flush=rows.flush)
    return Filed("new", ticket_id, row, item.uid)


def _reply(db, cfg, item, a: Analysis, ticket_id, how, received, now, rows: Rows) -> Filed:
    # Rows were flushed by the caller: this path reads and updates the ticket directly.
    row = messages.insert_row(db, messages.message_row(None, ticket_id, "reply", iso(received), rows.now, rows.source,
                                                       item.raw, a.columns))
    t = tickets.get_ticket(db, ticket_id)
    changes = {"last_message_at": max(received, parse_iso(t["last_message_at"]) or received)}
    outcome = "reply"
    if t["status"] == "resolved":
        # A reply reopens: the first-contact clock is not restarted (contact was made).
        changes.update(status="acknowledged" if t["acknowledged_at"] else "new", resolved_at=None)
        outcome = "reopened"
        audit.add_event(db, ticket_id, "reopened", "intake", now, message=row, by=a.sender)
    if a.damaged:
        changes["quarantined"] = 1
    if outcome == "reopened" or "quarantined" in changes:
        tickets.update_ticket(db, ticket_id, changes, now)
    else:
        # A plain reply changes nothing an operator acts on, so it must not make their edit stale.
        db.execute("UPDATE tickets SET last_message_at = ? WHERE id = ?", [iso(changes["last_message_at"]), ticket_id])
    tickets.add_participants(db, ticket_id, [a.sender])
    audit.add_event(db, ticket_id, "reply_received", "intake", now, message=row, matched=how, by=a.sender)
    rows.source_of(item.uid, row)
    return Filed(outcome, ticket_id, row, item.uid)
