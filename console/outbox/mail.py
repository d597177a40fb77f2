"""The mail channel: send each queued mail (store/outgoing.py) exactly once over SMTP
(console.replies.smtp), retry while the server is away; the poller's sender is console.outbox.runner.

- A row is claimed ('sending') in a transaction before any byte goes out, so two senders never send
  one row; whoever claims it (the `reply` command at once, else the poller) records the outcome.
- Temporary failures (connection refused, 4xx) put it back as pending with capped exponential
  backoff, until [smtp] give_up_after; a permanent one (5xx) fails it for good, with the server's words.
- An answer lost after the mail was handed over, or a sender that died mid-send, leaves it 'expired':
  shown on the ticket, sent again only when a person asks (outgoing.requeue).
- A mail the server accepted whose outcome the database cannot take (the disk is full) is said so in
  one line, noted in the sender's journal (console.outbox.journal) and settled as sent by the next
  owner of the outbox: never sent again.
- With [smtp] save_to a copy is APPENDed to that IMAP folder after the send is recorded: a failed copy
  is noted, never a reason to send again.
"""
from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from store.db import Database

from console import timefmt
from console.clock import Clock
from console.config import Config, SmtpConfig
from console.outbox import journal, lifecycle
from console.outbox.runner import Runner
from console.replies import smtp
from store import StoreError, audit, outgoing, write
from store.times import parse_iso

log = logging.getLogger("support_console.mail")

POLLER, CLI = "poller:", "cli:"
BATCH = 20


def _smtp(cfg: Config) -> SmtpConfig:
    if cfg.smtp is None:  # every caller checks first; this narrows the type
        raise ValueError("[smtp] is not configured")
    return cfg.smtp


def sender_id(kind: str) -> str:
    return lifecycle.sender_id(kind)


@dataclass(frozen=True)
class Outcome:
    # "sent" | "queued" (will be retried) | "failed" | "unknown" | "busy" (another sender has it) |
    # "unrecorded" (sent, but the database could not record it: it will not be sent again)
    state: str
    detail: str  # the server's answer or the error, one line
    send_id: int


def send_deadline(cfg: Config, now: datetime) -> datetime:
    # Connect, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA: each may take up to the timeout.
    return now + timedelta(seconds=_smtp(cfg).timeout_seconds * 8 + 30)


def backoff(cfg: Config, attempts: int) -> timedelta:
    s = _smtp(cfg)
    return lifecycle.backoff(s.backoff_seconds, s.backoff_max_seconds, attempts)


def _retry_at(now: datetime, delay: timedelta) -> datetime:
    # Whole seconds in the store: round up, or the retry comes early and the sender spins until it.
    return lifecycle.ceil_second(now + delay)


def deliver(db: Database, cfg: Config, send: dict, claimed_by: str, clock_now: Callable[[], datetime],
            password: str | None, transport: Callable[..., smtp.Result] | None = None) -> Outcome:
    """Send one claimed row and record what happened. `clock_now` gives the time after the send.
    `transport` stands in for smtp.send (same arguments): the demo's in-process mailbox."""
    if cfg.replicate is not None and transport is None:  # the claim reaches the replica first, as for pages
        from console import replication

        replication.barrier(cfg)  # (best effort: mail goes out either way; `status` shows a lagging replica)
    raw = outgoing.raw_of(db, send)
    book = journal.Journal(cfg.store_path, claimed_by)
    try:
        try:
            mark = book.begin(send["id"])
        except OSError as exc:  # no room even for a line: do not send what could not be accounted for
            return _record_failure(db, cfg, send, claimed_by, clock_now(),
                                   smtp.SmtpError(f"not sent: cannot write the send journal ({exc.strerror})"))
        try:
            result = (transport or smtp.send)(_smtp(cfg), password, send["mail_from"], send["rcpt_to"], raw)
        except smtp.SmtpError as exc:
            book.mark(mark, journal.DONE)
            failed_at, error = clock_now(), exc
            return lifecycle.persist(lambda: _record_failure(db, cfg, send, claimed_by, failed_at, error),
                                     what=f"mail {send['id']}")
        book.mark(mark, journal.ACCEPTED)
        now = clock_now()
        saved = "pending" if _smtp(cfg).save_to else None
        try:
            lifecycle.persist(lambda: _record_sent(db, send, claimed_by, now, result, saved),
                              what=f"mail {send['id']}")
        except (sqlite3.Error, StoreError) as exc:
            line = (f"sent to {_smtp(cfg).host}, but could not be recorded: {_why(exc)}; it will not be sent again")
            log.error("mail %s (#%s %s): %s", send["id"], send["ticket_id"], send["purpose"], line)
            return Outcome("unrecorded", line, send["id"])
        book.mark(mark, journal.DONE)
    finally:
        book.close()
    log.info("mail %s (#%s %s): sent: %s", send["id"], send["ticket_id"], send["purpose"], result.reply)
    if _smtp(cfg).save_to:
        note = save_copy(cfg, raw, now)
        with write(db):
            outgoing.set_saved(db, send["id"], note)
    return Outcome("sent", result.reply + (f"; refused: {'; '.join(result.refused)}" if result.refused else ""),
                   send["id"])


def _record_sent(db: Database, send: dict, claimed_by: str, now: datetime, result: smtp.Result,
                 saved: str | None) -> None:
    with write(db):
        outgoing.mark_sent(db, send["id"], claimed_by, now, reply=result.reply, refused=result.refused, saved=saved)
        audit.add_event(db, send["ticket_id"], f"{send['purpose']}_sent", "mail", now, send=send["id"],
                        message=send["message_row"], to=send["rcpt_to"], reply=result.reply, refused=result.refused)


def _why(exc: BaseException) -> str:
    text = str(exc)
    if "full" in text.lower():
        return "disk full"
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _record_failure(db: Database, cfg: Config, send: dict, claimed_by: str, now: datetime,
                    exc: smtp.SmtpError) -> Outcome:
    error = str(exc)
    purpose, tid = send["purpose"], send["ticket_id"]
    with write(db):
        if exc.kind == smtp.TEMPORARY:
            since = parse_iso(send["retry_since"] or send["created_at"]) or now  # since queued, or sent again
            age = now - since
            if age < _smtp(cfg).give_up_after:
                at = _retry_at(now, backoff(cfg, send["attempts"]))
                outgoing.mark_retry(db, send["id"], claimed_by, now, error=error, at=at)
                if send["attempts"] == 1:  # once, not on every retry of a long outage
                    audit.add_event(db, tid, f"{purpose}_delayed", "mail", now, send=send["id"], error=error)
                log.warning("mail %s (#%s %s): %s; retrying at %s", send["id"], tid, purpose, error, at)
                return Outcome("queued", error, send["id"])
            error = f"gave up after {timefmt.span(age)} of temporary failures; last: {error}"
        if exc.kind == smtp.UNKNOWN:
            outgoing.mark_unknown(db, send["id"], claimed_by, now, error=error + "; not resent")
            audit.add_event(db, tid, f"{purpose}_unknown", "mail", now, send=send["id"], error=error)
            log.error("mail %s (#%s %s): %s", send["id"], tid, purpose, error)
            return Outcome("unknown", error, send["id"])
        outgoing.mark_failed(db, send["id"], claimed_by, now, error=error)
        audit.add_event(db, tid, f"{purpose}_failed", "mail", now, send=send["id"], error=error)
    log.error("mail %s (#%s %s): failed: %s", send["id"], tid, purpose, error)
    return Outcome("failed", error, send["id"])


def _password(db: Database, cfg: Config, sends: list[dict], claimed_by: str, now: datetime) -> tuple[bool, str | None]:
    """(ok, password); when it cannot be had, every claimed row goes back to wait (a temporary failure)."""
    try:
        return True, smtp.secret_for(cfg)  # a password, or an access token fresh for this batch
    except smtp.SmtpError as exc:
        for s in sends:
            _record_failure(db, cfg, s, claimed_by, now, exc)
        return False, None


def send_now(db: Database, cfg: Config, send_id: int, clock: Clock, *, wait_for_other: float = 5.0,
             transport: Callable[..., smtp.Result] | None = None) -> Outcome:
    """Try a queued mail at once (the `reply` command, the console). If another sender (the poller) got
    to it first, wait up to `wait_for_other` seconds for its outcome, then say what is known."""
    me = sender_id(CLI)
    now = clock.now()
    with write(db):
        rows = outgoing.claim(db, now, claimed_by=me, send_deadline=send_deadline(cfg, now), send_id=send_id)
    if not rows:
        end = time.monotonic() + wait_for_other
        row = outgoing.get_send(db, send_id)
        while row["state"] == "sending" and time.monotonic() < end:
            time.sleep(0.05)
            row = outgoing.get_send(db, send_id)
        known = {"sent": "sent", "failed": "failed", "expired": "unknown", "pending": "queued"}
        state = known.get(row["state"], "busy")
        return Outcome(state, row["smtp_reply"] or row["last_error"] or "", send_id)
    ok, password = _password(db, cfg, rows, me, now)
    if not ok:
        row = outgoing.get_send(db, send_id)
        return Outcome("queued" if row["state"] == "pending" else "failed", row["last_error"] or "", send_id)
    return deliver(db, cfg, rows[0], me, clock.now, password, transport)


def save_copy(cfg: Config, raw: bytes, now: datetime) -> str:
    """APPEND the sent mail to [smtp] save_to (seen). 'saved', or 'failed: why'."""
    from console.intake import imap

    if cfg.imap is None:
        return "failed: no [imap] mailbox to append to"
    try:
        client = imap.connect(cfg.imap, imap.secret(cfg.store_path, cfg.imap))
    except imap.IntakeError as exc:
        return f"failed: {exc}"
    try:
        client.append(_smtp(cfg).save_to, raw, flags=[b"\\Seen"], msg_time=now)
        return "saved"
    except Exception as exc:  # noqa: BLE001 - a copy is a courtesy: note it and go on
        return f"failed: cannot append to {_smtp(cfg).save_to!r} ({type(exc).__name__}: {str(exc)[:200]})"
    finally:
        with contextlib.suppress(Exception):
            client.logout()


class MailChannel:
    """Mail for console.outbox.runner: one sender, a batch at a time (one password lookup per batch,
    and a mail server is not hit by several connections from one desk)."""

    name, kind, workers, batch = "mail(s)", POLLER, 1, BATCH

    def __init__(self, cfg: Config):
        self.cfg = cfg

    def start_up(self, db: Database, me: str, now: datetime) -> int:
        """The poller owns the outbox now (it holds the outbox lock): mail a journal says was accepted is
        sent; what another poller left 'sending' was cut short by a crash and is expired, not resent. A
        `reply` command may be sending right now, so its rows expire only when their deadline passes."""
        journal.settle(db, self.cfg.store_path, now, keep=me)
        return outgoing.expire_orphans(db, now, owner_prefix=POLLER, me=me)

    def orphans_due(self, db: Database, now: datetime) -> bool:
        return outgoing.orphans_due(db, now)

    def expire_orphans(self, db: Database, now: datetime) -> int:
        journal.settle(db, self.cfg.store_path, now)
        return outgoing.expire_orphans(db, now)

    def claim(self, db: Database, now: datetime, me: str, limit: int) -> list[dict[str, Any]]:
        return outgoing.claim(db, now, claimed_by=me, send_deadline=send_deadline(self.cfg, now), limit=limit,
                              horizon=lifecycle.horizon(now, _smtp(self.cfg).backoff_max_seconds))

    def next_due(self, db: Database) -> str | None:
        return outgoing.next_attempt_due(db)

    def horizon_seconds(self) -> float:
        return _smtp(self.cfg).backoff_max_seconds + 1

    def send(self, db: Database, rows: list[dict[str, Any]], me: str, now: Callable[[], datetime],
             stop: threading.Event) -> None:
        ok, password = _password(db, self.cfg, rows, me, now())
        for i, row in enumerate(rows):
            if not ok:
                break
            if stop.is_set():
                # Stopping: give back what was not tried rather than leave it to expire.
                with write(db):
                    for r in rows[i:]:
                        outgoing.mark_retry(db, r["id"], me, now(), error=r["last_error"] or "", at=now())
                break
            deliver(db, self.cfg, row, me, now, password)


class MailSender(Runner):
    """The poller's mail sender: sleeps until the next retry, a change by another process (a `reply`, a
    new receipt from intake) or the stop event; then claims what is due and sends it."""

    def __init__(self, cfg: Config, clock: Clock, stop: threading.Event):
        super().__init__(MailChannel(cfg), cfg.store_path, clock, stop)


def start(cfg: Config, clock: Clock, stop: threading.Event) -> MailSender | None:
    """The poller's mail sender, running in a thread of its own (`.thread`); None without [smtp]."""
    if cfg.smtp is None:
        return None
    sender = MailSender(cfg, clock, stop)
    sender.start_up()
    sender.start()
    return sender


def run_once(cfg: Config, clock: Clock) -> int:
    """`poll --once`: expire what a crash left, then send everything due now. How many were tried."""
    if cfg.smtp is None:
        return 0
    sender = MailSender(cfg, clock, threading.Event())
    try:
        sender.start_up()
        total = n = sender.cycle()
        while n == BATCH:
            n = sender.cycle()
            total += n
        return total
    finally:
        sender.close()
        sender.db.close()
