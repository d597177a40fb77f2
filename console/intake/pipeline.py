"""Raw bytes -> stored message -> ticket, reply or auto-reply, in one transaction per batch.

Each message is analysed (parsed, classified) before the write lock is taken, then filed inside a
savepoint of the batch's transaction, which also moves the mailbox watermark: a crash leaves all of a
batch or none of it. A message whose filing fails for a reason that lies in the message (an SQLite limit,
a parser bug, a RecursionError) is kept raw as a quarantined ticket and the batch goes on; only
infrastructure failures (disk, locks, permissions) stop the batch, to be retried whole.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from store.db import Database

from console import log_later, policy as pol
from console.config import Config
from console.intake import desk_mail, threads
from console.intake.analysis import Analysis, analyze
from console.safe_text import clean_line
from store import audit, mailbox, messages, tickets, write
from store.db import StoreError
from store.times import iso, parse_iso, parse_required

log = log_later.Logger("support_console.intake")  # logging is loaded at the first line (an MTA's ingest)

# SQLite primary result codes that say the database, not the message, is the problem: retry the batch.
# PERM, BUSY, LOCKED, NOMEM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB
_INFRASTRUCTURE_CODES = {3, 5, 6, 7, 8, 10, 11, 13, 14, 15, 26}
# A message the server would not give is asked for again after this, doubling up to the maximum: a fixed
# file (an admin's chown) is filed within minutes, and a broken one costs the server one FETCH an hour.
# A server's received time further than this from what is possible (clock_skew) is not believed.
CLOCK_SKEW = timedelta(minutes=5)
RETRY_UNREADABLE = timedelta(minutes=2)
RETRY_UNREADABLE_MAX = timedelta(hours=1)


class Incoming(NamedTuple):
    raw: bytes
    received_at: datetime | None = None  # INTERNALDATE; None means "now"
    uid: int | None = None
    history: bool = False  # already in the mailbox when the desk first read it: no page, no receipt
    retried: bool = False  # a message the server would not give before (an unreadable placeholder's)
    not_before: datetime | None = None  # it arrived after this (clock_skew); None: not known


class Filed(NamedTuple):
    # "new" | "reply" | "reopened" | "autoreply" | "bounce" | "duplicate" | "quarantined" | "page-reply" |
    # "unreadable" (a placeholder) | "joined" (an original that arrived after its reply)
    outcome: str
    ticket_id: int | None
    message_row: int
    uid: int | None = None


def _escalation():
    # Imported when a step is due (a Class III's arrival page): most mail needs none of the on-call and
    # audience code, and `ingest` starts one process a mail.
    from console.alerts import escalation

    return escalation


def max_bytes(cfg: Config) -> int:
    return cfg.imap.max_message_bytes if cfg.imap else 25 * 1024 * 1024


def is_infrastructure(exc: BaseException) -> bool:
    """Whether a failure lies in the machinery (retry later) rather than in the message being filed."""
    if isinstance(exc, (OSError, StoreError)):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, sqlite3.Error) and code is not None:
        return code & 0xFF in _INFRASTRUCTURE_CODES
    return isinstance(exc, (sqlite3.OperationalError, sqlite3.InterfaceError)) and any(
        w in str(exc).lower() for w in ("locked", "busy", "disk", "readonly", "unable to open"))


def file_messages(db: Database, cfg: Config, items: list[Incoming], now: datetime, *, source: str = "ingest",
                  mailbox_key: tuple[str, str, int] | None = None, last_uid: int | None = None,
                  unreadable: Sequence[tuple[int, str]] = (), move_watermark: bool = True) -> list[Filed]:
    """Store and file a batch. With mailbox_key=(account, folder, uidvalidity) each item's uid is recorded
    as a source and the watermark moves to `last_uid` (or the highest uid) in the same commit.
    `unreadable`: [(uid, the server's answer)] for messages the server would not give; each becomes a
    placeholder ticket, retried later (RETRY_UNREADABLE), and the watermark moves past it.
    `move_watermark=False`: these messages are filed ahead of others below them (urgent mail first); their
    sources are recorded, the watermark stays."""
    analyses = _mailbox_class(cfg, mailbox_key, [_analyze(item.raw, cfg) for item in items])
    staff = cfg.staff_addresses
    out: list[Filed] = []
    with write(db):
        for item, a in zip(items, analyses, strict=True):
            filed = _file_guarded(db, cfg, item, a, now, source, mailbox_key, staff)
            skew = clock_skew(item, now)
            if skew and filed.ticket_id is not None and filed.outcome not in ("duplicate", "unreadable"):
                assert item.received_at is not None
                audit.add_event(db, filed.ticket_id, "received_time_replaced", "intake", now, message=filed.message_row,
                                server_time=iso(item.received_at), used=iso(now.replace(microsecond=0)),
                                why=f"the server's received time is {skew}")
                log.warning("message %s: the server's received time %s is %s; using %s", filed.message_row,
                            iso(item.received_at), skew, iso(now))
            if item.retried and mailbox_key is not None and item.uid is not None:
                _recovered(db, cfg, mailbox_key, item.uid, filed, now)
            out.append(filed)
        if mailbox_key is not None:
            for uid, answer in unreadable:
                out.append(_placeholder(db, cfg, mailbox_key, uid, answer, now, source))
            top = max([last_uid or 0, *(i.uid for i in items if i.uid is not None), *(u for u, _ in unreadable)])
            account, folder, uidvalidity = mailbox_key
            current = mailbox.get_watermark(db, account, folder)
            # move_watermark=False: mail filed out of order (urgent first), with unfiled mail below it
            if move_watermark and top and (current is None or current[0] != uidvalidity or current[1] < top):
                mailbox.set_watermark(db, account, folder, uidvalidity, top, now)
    return out


def _mailbox_class(cfg: Config, mailbox_key: tuple[str, str, int] | None,
                   analyses: list[Analysis | BaseException]) -> list[Analysis | BaseException]:
    """A mailbox with `class` set ([[imap]] class = "III": a mailbox that is urgent@) makes every new mail
    in it that class, whatever address it was sent to."""
    if mailbox_key is None:
        return analyses
    box = next((m for m in cfg.imaps if (m.account, m.folder) == mailbox_key[:2]), None)
    if box is None or box.mail_class is None:
        return analyses
    cls = box.mail_class
    return [a if isinstance(a, BaseException) else
            a._replace(cls=cls, urgent=a.urgent or cls == "III",
                                reason=f"every mail in mailbox {box.label} is Class {cls}")
            for a in analyses]


def _analyze(raw: bytes, cfg: Config) -> Analysis | BaseException:
    try:
        return analyze(raw, cfg.routing, max_bytes(cfg))
    except Exception as exc:  # noqa: BLE001 - parse never raises; anything else is filed as quarantined
        return exc


def _file_guarded(db, cfg, item: Incoming, a: Analysis | BaseException, now, source, mailbox_key, staff) -> Filed:
    if isinstance(a, BaseException):
        failure = a
    else:
        try:
            with write(db):  # a savepoint: a failure takes back only this message's rows
                return _file_one(db, cfg, item, a, now, source, mailbox_key, staff)
        except Exception as exc:  # noqa: BLE001 - sorted below: infrastructure stops the batch
            if is_infrastructure(exc):
                raise
            failure = exc
    log.warning("could not file a message (%s: %s); kept raw as a quarantined ticket",
                type(failure).__name__, str(failure)[:200])
    with write(db):
        return _quarantine(db, cfg, item, a if isinstance(a, Analysis) else None, failure, now, source, mailbox_key)


def _source(db, mailbox_key: tuple[str, str, int] | None, item: Incoming, row: int, now: datetime) -> None:
    if mailbox_key is not None and item.uid is not None:
        messages.add_source(db, *mailbox_key, item.uid, row, iso(now))


def _arrival(item: Incoming, now: datetime) -> datetime:
    # The customer's clock starts when the server got the mail; never in our future.
    t = item.received_at
    if t is None or t.tzinfo is None or t > now or clock_skew(item, now):
        return now.replace(microsecond=0)
    return t.replace(microsecond=0)


def clock_skew(item: Incoming, now: datetime) -> str | None:
    """Why the server's received time of this mail cannot be right, or None. Pure.

    More than CLOCK_SKEW ahead of the desk's clock; or behind the time before which it cannot have
    arrived (`not_before`: intake's last sync that reached the end of the mailbox, when this mail was not
    there yet) by more than CLOCK_SKEW. Then the server's clock is wrong (or the time was set by hand), and
    the time intake saw the mail stands in: a new Class III is never born breached by a wrong clock."""
    t = item.received_at
    if t is None or t.tzinfo is None:
        return None
    if t > now + CLOCK_SKEW:
        return "ahead of the desk's clock"
    if item.not_before is not None and t < item.not_before - CLOCK_SKEW:
        return "before intake's last look at the mailbox, which did not hold it yet"
    return None


def _file_one(db, cfg, item: Incoming, a: Analysis, now, source, mailbox_key: tuple[str, str, int] | None,
              staff) -> Filed:
    if mailbox_key is not None and item.uid is not None:
        known = messages.find_source(db, *mailbox_key, item.uid)
        if known is not None:
            return Filed("duplicate", known[1], known[0], item.uid)
    dup = messages.find_duplicate(db, a.key)
    if dup is not None:
        _source(db, mailbox_key, item, dup[0], now)
        if dup[1] is not None:
            _raise_class(db, cfg, dup[1], a, now, history=item.history)
        return Filed("duplicate", dup[1], dup[0], item.uid)

    received = _arrival(item, now)
    # A staff reply to an email page: kept with its ticket, acknowledges it if it says so, never a ticket.
    page = _page_reply(db, cfg, item, a, received, now, source)
    if page is not None:
        _source(db, mailbox_key, item, page.message_row, now)
        return Filed(page.outcome, page.ticket_id, page.message_row, item.uid)
    thread = threads.find_ticket(db, a.thread_ids, a.tag, a.sender, staff)
    own = desk_mail.own_mail(cfg, a.sender, item.raw)  # the desk's own mail coming back: never a ticket
    if own is not None or (a.auto is not None and (thread.ticket_id is not None or not a.urgent)):
        # Auto-replies and bounces never open a ticket and never count as contact; attached if they thread.
        kind = a.auto or "autoreply"
        row = messages.add_message(db, ticket_id=thread.ticket_id, kind=kind, received_at=iso(received),
                                   now=iso(now), source=source, raw=item.raw, columns=a.columns)
        if thread.ticket_id is not None:
            audit.add_event(db, thread.ticket_id, f"{kind}_received", "intake", now, message=row,
                            matched=thread.reason.value, subject=a.subject, **({"own": own} if own else {}))
        _source(db, mailbox_key, item, row, now)
        return Filed(kind, thread.ticket_id, row, item.uid)
    if thread.ticket_id is not None:
        return _reply(db, cfg, item, a, thread, thread.ticket_id, received, now, source, mailbox_key)
    early = threads.find_early_reply(db, a.message_id, a.sender, staff)
    if early is not None:
        return _original_joins(db, cfg, item, a, early, received, now, source, mailbox_key)
    # New mail; also machine mail to an urgent address (monitoring): never suppressed, flagged "automated".
    return _new_ticket(db, cfg, item, a, thread, received, now, source, mailbox_key)


def _page_reply(db, cfg, item: Incoming, a: Analysis, received, now, source):
    """page_replies.intercept() for a subject that may carry a page's tag; ordinary mail never loads it."""
    if "[ack:" not in (a.subject or "").lower():
        return None
    from console.intake import page_replies

    return page_replies.intercept(db, cfg, raw=item.raw, subject=a.subject, columns=a.columns,
                                  received_at=received, now=now, source=source)


def _new_ticket(db, cfg, item, a: Analysis, thread: threads.Thread, received, now, source, mailbox_key) -> Filed:
    first_step = pol.first_step_at(a.cls, received, cfg.sla)
    ticket_id = tickets.create_ticket(
        db, cls=a.cls, class_reason=a.reason, subject=a.subject, requester=a.sender, requester_name=a.sender_name,
        received_at=received, due_at=pol.deadline(a.cls, received, cfg.sla), next_step_at=first_step, now=now,
        needs_details=a.needs_details, quarantined=a.flagged, automated=a.auto is not None,
    )
    row = messages.add_message(db, ticket_id=ticket_id, kind="new", received_at=iso(received), now=iso(now),
                               source=source, raw=item.raw, columns=a.columns)
    tickets.add_participants(db, ticket_id, a.participants)
    audit.add_event(db, ticket_id, "created", "intake", now, message=row, cls=a.cls, reason=a.reason,
                    received_at=iso(received), due_at=iso(pol.deadline(a.cls, received, cfg.sla)),
                    **({"automated": a.auto} if a.auto else {}))
    if thread.reason in (threads.Reason.TAG_REFUSED, threads.Reason.HEADER_REFUSED):
        audit.add_event(db, ticket_id, "thread_refused", "intake", now, reason=thread.reason.value,
                        referred=thread.referred, detail=threads.describe(thread, a.sender))
    _source(db, mailbox_key, item, row, now)
    if item.history:  # a mailbox's history is not an emergency: one summary at the end of its first sync
        _escalation().imported(db, tickets.get_ticket(db, ticket_id), cfg, now)
        return Filed("new", ticket_id, row, item.uid)
    # Steps already due (a Class III's arrival page) go into the outbox in this same transaction.
    if first_step is not None and first_step <= now:
        _escalation().advance(db, tickets.get_ticket(db, ticket_id), cfg, now)
    desk_mail.on_new_ticket(db, cfg, ticket_id, received, now, automated=a.machine, mailbox_key=mailbox_key)
    return Filed("new", ticket_id, row, item.uid)


def _reply(db, cfg, item, a: Analysis, thread: threads.Thread, ticket_id: int, received, now, source,
           mailbox_key) -> Filed:
    row = messages.add_message(db, ticket_id=ticket_id, kind="reply", received_at=iso(received), now=iso(now),
                               source=source, raw=item.raw, columns=a.columns)
    t = tickets.get_ticket(db, ticket_id)
    changes: dict = {}
    outcome = "reply"
    if t["status"] == "resolved":
        # A reply reopens: the first-contact clock is not restarted (contact was made); one resolved
        # without contact comes back new, its clock still running from where it started.
        changes.update(status="acknowledged" if t["acknowledged_at"] else "new", resolved_at=None)
        if not t["acknowledged_at"]:
            changes["first_contact"] = None
        outcome = "reopened"
        audit.add_event(db, ticket_id, "reopened", "intake", now, message=row, by=a.sender)
    if a.damaged:
        changes["quarantined"] = 1
    if changes:
        changes["last_message_at"] = max(received, parse_iso(t["last_message_at"]) or received)
        tickets.update_ticket(db, ticket_id, changes, now)
    else:
        tickets.touch_last_message(db, ticket_id, received)
    if thread.reason is threads.Reason.DESK_ID:
        tickets.add_participants(db, ticket_id, [a.sender])  # someone our own mail reached answers it
    audit.add_event(db, ticket_id, "reply_received", "intake", now, message=row, matched=thread.reason.value,
                    by=a.sender)
    if outcome == "reply" and t["needs_details"] and a.sender not in cfg.staff_addresses:
        from console.intake import details_answer

        details_answer.maybe_start_clock(db, cfg, t["id"], received, now, message=row)
    _source(db, mailbox_key, item, row, now)
    return Filed(outcome, ticket_id, row, item.uid)


def _original_joins(db, cfg, item: Incoming, a: Analysis, ticket_id: int, received, now, source,
                    mailbox_key) -> Filed:
    """An original that arrives after a reply to it (a reply-all that reached the desk first and opened a
    ticket): it joins that ticket, which takes its subject and requester, so the thread is one ticket. The
    ticket keeps its number, its clock (the customer's first mail to arrive started it) and its pages."""
    row = messages.add_message(db, ticket_id=ticket_id, kind="new", received_at=iso(received), now=iso(now),
                               source=source, raw=item.raw, columns=a.columns)
    t = tickets.get_ticket(db, ticket_id)
    changes: dict = {"last_message_at": max(received, parse_iso(t["last_message_at"]) or received)}
    if a.sender:
        changes.update(subject=a.subject[:500], requester=a.sender, requester_name=a.sender_name)
    tickets.update_ticket(db, ticket_id, changes, now)
    tickets.add_participants(db, ticket_id, a.participants)
    audit.add_event(db, ticket_id, "original_joined", "intake", now, message=row, by=a.sender,
                    previous_subject=t["subject"], previous_requester=t["requester"])
    _source(db, mailbox_key, item, row, now)
    _raise_class(db, cfg, ticket_id, a, now)  # the original may have gone to urgent@ when the reply did not
    return Filed("joined", ticket_id, row, item.uid)


def _raise_class(db, cfg, ticket_id: int, a: Analysis, now: datetime, history: bool = False) -> None:
    """Another copy of a filed mail (the same content, delivered again or once per recipient) may carry what
    the first did not: a Bcc to urgent@ arrives as a copy whose Delivered-To is the urgent address."""
    if a.auto is not None and not a.urgent:
        return
    t = tickets.get_ticket(db, ticket_id)
    if t["status"] == "resolved" or pol.CLASSES.index(a.cls) <= pol.CLASSES.index(t["class"]):
        return
    received = parse_required(t["received_at"])
    t = tickets.update_ticket(db, ticket_id, {"class": a.cls, "class_reason": a.reason,
                                              "due_at": pol.deadline(a.cls, received, cfg.sla)}, now)
    audit.add_event(db, ticket_id, "reclassified", "intake", now, to=a.cls, reason=f"another copy: {a.reason}")
    _escalation().restart(db, t, cfg, now, reason="reclassified by intake")
    t = tickets.get_ticket(db, ticket_id)
    step_at = parse_iso(t["next_step_at"])
    if history:  # a copy from a first sync's history: raised, but not paged (issue 19)
        _escalation().imported(db, t, cfg, now)
    elif step_at is not None and step_at <= now:
        _escalation().advance(db, t, cfg, now)


def _quarantine(db, cfg, item: Incoming, a: Analysis | None, exc: BaseException, now, source, mailbox_key) -> Filed:
    """Keep what could not be filed as a flagged ticket with its raw bytes, and say why."""
    why = clean_line(f"could not be filed: {type(exc).__name__}: {exc}", 300)  # shown as a defect
    sha = messages.sha256(item.raw)
    # Keyed by content like every message, so a copy with one more Received: line is the same mail.
    key = a.key if a is not None else messages.dedup_key(messages.content_sha256(item.raw), None)
    dup = messages.find_duplicate(db, key)
    if dup is not None:  # the same mail failed before and was kept then
        _source(db, mailbox_key, item, dup[0], now)
        return Filed("duplicate", dup[1], dup[0], item.uid)
    received = _arrival(item, now)
    cls = a.cls if a is not None else cfg.routing.default_class
    first_step = pol.first_step_at(cls, received, cfg.sla)
    subject = (a.subject if a is not None else "")[:500] or "(could not be filed)"
    sender = (a.sender if a is not None else "")[:320]
    ticket_id = tickets.create_ticket(
        db, cls=cls, class_reason=a.reason if a is not None else "not analysed", subject=subject,
        requester=sender, requester_name="", received_at=received, due_at=pol.deadline(cls, received, cfg.sla),
        next_step_at=first_step, now=now, quarantined=True,
    )
    columns = messages.message_columns({"subject": subject, "from_addr": sender, "defects": [why],
                                        "unparseable": a is None}, sha, len(item.raw), key)
    row = messages.add_message(db, ticket_id=ticket_id, kind="new", received_at=iso(received), now=iso(now),
                               source=source, raw=item.raw, columns=columns)
    audit.add_event(db, ticket_id, "created", "intake", now, message=row, cls=cls, quarantined=why)
    _source(db, mailbox_key, item, row, now)
    if first_step is not None and first_step <= now:
        try:
            with write(db):
                _escalation().advance(db, tickets.get_ticket(db, ticket_id), cfg, now)
        except Exception as page_exc:  # noqa: BLE001 - the ticket is kept either way; its page retries later
            if is_infrastructure(page_exc):
                raise
            log.warning("#%s: its first page could not be queued now (%s); the scheduler retries",
                        ticket_id, type(page_exc).__name__)
    return Filed("quarantined", ticket_id, row, item.uid)


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed FETCH an unreadable message is asked for again."""
    return min(RETRY_UNREADABLE_MAX, RETRY_UNREADABLE * (2 ** max(0, min(attempts - 1, 16))))


def _placeholder(db, cfg: Config, mailbox_key: tuple[str, str, int], uid: int, answer: str, now: datetime,
                 source: str) -> Filed:
    """A ticket that stands for a message the server would not give: visible and flagged, with the
    server's answer, so a person knows mail is waiting; the message itself is fetched again later."""
    account, folder, uidvalidity = mailbox_key
    known = mailbox.get_unreadable(db, account, folder, uidvalidity, uid)
    if known is not None:  # the same UID refused again (a batch retried after a crash): one placeholder
        return Filed("unreadable", known["ticket_id"], 0, uid)
    answer = clean_line(answer, 300)
    cls = cfg.routing.default_class
    received = now.replace(microsecond=0)
    why = f"the IMAP server would not give this message (UID {uid} in {folder}): {answer}"
    log.warning("%s: UID %d could not be fetched (%s); a placeholder ticket stands for it and it is retried",
                folder, uid, answer)
    ticket_id = tickets.create_ticket(
        db, cls=cls, class_reason="unreadable on the server: class not known yet",
        subject=f"(unreadable message: UID {uid} in {clean_line(folder, 100)})", requester="", requester_name="",
        received_at=received, due_at=pol.deadline(cls, received, cfg.sla),
        next_step_at=pol.first_step_at(cls, received, cfg.sla), now=now, quarantined=True)
    key = f"unreadable:{account}/{folder}/{uidvalidity}/{uid}"
    columns = messages.message_columns({"subject": f"(unreadable message: UID {uid})", "defects": [why],
                                        "unparseable": True}, messages.sha256(b""), 0, key)
    row = messages.add_message(db, ticket_id=ticket_id, kind="new", received_at=iso(received), now=iso(now),
                               source=source, raw=b"", columns=columns)
    mailbox.add_unreadable(db, account, folder, uidvalidity, uid, ticket_id=ticket_id, answer=answer, now=now,
                           next_try_at=now + retry_delay(1))
    audit.add_event(db, ticket_id, "created", "intake", now, message=row, cls=cls, unreadable=why)
    return Filed("unreadable", ticket_id, row, uid)


def _recovered(db, cfg: Config, mailbox_key: tuple[str, str, int], uid: int, filed: Filed, now: datetime) -> None:
    """An unreadable message was read at last and filed as any mail is: its placeholder points there and,
    being only a stand-in, is resolved."""
    account, folder, uidvalidity = mailbox_key
    row = mailbox.get_unreadable(db, account, folder, uidvalidity, uid)
    if row is None or row["state"] != "waiting":
        return
    mailbox.close_unreadable(db, account, folder, uidvalidity, uid, state="filed", now=now,
                             message_row=filed.message_row)
    placeholder = row["ticket_id"]
    if placeholder is None or placeholder == filed.ticket_id:
        return
    target = f"#{filed.ticket_id}" if filed.ticket_id is not None else "unfiled mail"
    cancelled = _escalation().stop(db, placeholder, now, f"the message was read and filed as {target}")
    t = tickets.get_ticket(db, placeholder)
    if t["status"] != "resolved":
        tickets.update_ticket(db, placeholder, {"status": "resolved", "resolved_at": now}, now)
    audit.add_event(db, placeholder, "unreadable_recovered", "intake", now, uid=uid, filed_as=filed.ticket_id,
                    message=filed.message_row, outcome=filed.outcome, cancelled_pages=cancelled)
    if filed.ticket_id is not None:
        audit.add_event(db, filed.ticket_id, "unreadable_recovered", "intake", now, uid=uid, placeholder=placeholder,
                        message=filed.message_row)
