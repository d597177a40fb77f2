"""The mail outbox: send each queued mail exactly once, retry while the server is away, and the poller's
sender thread.

- A row is claimed ('sending') in a transaction before any byte goes out, so two senders never send
  one row; whoever claims it (the `reply` command at once, else the poller) records the outcome.
- Temporary failures (connection refused, 4xx) put it back as pending with capped exponential
  backoff, until [smtp] give_up_after; a permanent one (5xx) fails it for good, with the server's words.
- An answer lost after the mail was handed over, or a sender that died mid-send, leaves it 'expired':
  shown on the ticket, sent again only when a person asks (outgoing.requeue).
- With [smtp] save_to a copy is APPENDed to that IMAP folder after the send is recorded: a failed copy
  is noted, never a reason to send again.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from collections.abc import Callable

from sqlite_utils import Database

from console import timefmt
from console.clock import Clock
from console.config import Config
from console.replies import smtp
from store import audit, open_db, outgoing, write
from store.db import data_version
from store.times import parse_iso

log = logging.getLogger("support_console.mail")

POLLER, CLI = "poller:", "cli:"
CHANGE_CHECK_SECONDS = 0.25
RECHECK_SECONDS = 60.0
BATCH = 20


def sender_id(kind: str) -> str:
    """Who claimed a row: the kind of sender, host, pid and a random part (a pid alone is reused)."""
    return f"{kind}{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Outcome:
    state: str  # "sent" | "queued" (will be retried) | "failed" | "unknown" | "busy" (another sender has it)
    detail: str  # the server's answer or the error, one line
    send_id: int


def send_deadline(cfg: Config, now: datetime) -> datetime:
    # Connect, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA: each may take up to the timeout.
    return now + timedelta(seconds=cfg.smtp.timeout_seconds * 8 + 30)


def backoff(cfg: Config, attempts: int) -> timedelta:
    s = cfg.smtp
    return timedelta(seconds=min(s.backoff_max_seconds, s.backoff_seconds * 2 ** max(0, attempts - 1)))


def _retry_at(now: datetime, delay: timedelta) -> datetime:
    at = now + delay
    # Whole seconds in the store: round up, or the retry comes early and the sender spins until it.
    return at if at.microsecond == 0 else at.replace(microsecond=0) + timedelta(seconds=1)


def deliver(db: Database, cfg: Config, send: dict, claimed_by: str, clock_now: Callable[[], datetime],
            password: str | None, transport: Callable[..., smtp.Result] | None = None) -> Outcome:
    """Send one claimed row and record what happened. `clock_now` gives the time after the send.
    `transport` stands in for smtp.send (same arguments): the demo's in-process mailbox."""
    raw = outgoing.raw_of(db, send)
    try:
        result = (transport or smtp.send)(cfg.smtp, password, send["mail_from"], send["rcpt_to"], raw)
    except smtp.SmtpError as exc:
        return _record_failure(db, cfg, send, claimed_by, clock_now(), exc)
    now = clock_now()
    saved = "pending" if cfg.smtp.save_to else None
    with write(db):
        outgoing.mark_sent(db, send["id"], claimed_by, now, reply=result.reply, refused=result.refused, saved=saved)
        audit.add_event(db, send["ticket_id"], f"{send['purpose']}_sent", "mail", now, send=send["id"],
                        message=send["message_row"], to=send["rcpt_to"], reply=result.reply, refused=result.refused)
    log.info("mail %s (#%s %s): sent: %s", send["id"], send["ticket_id"], send["purpose"], result.reply)
    if cfg.smtp.save_to:
        note = save_copy(cfg, raw, now)
        with write(db):
            outgoing.set_saved(db, send["id"], note)
    return Outcome("sent", result.reply + (f"; refused: {'; '.join(result.refused)}" if result.refused else ""),
                   send["id"])


def _record_failure(db: Database, cfg: Config, send: dict, claimed_by: str, now: datetime,
                    exc: smtp.SmtpError) -> Outcome:
    error = str(exc)
    purpose, tid = send["purpose"], send["ticket_id"]
    with write(db):
        if exc.kind == smtp.TEMPORARY:
            age = now - parse_iso(send["retry_since"] or send["created_at"])  # since queued, or sent again
            if age < cfg.smtp.give_up_after:
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
        state = {"sent": "sent", "failed": "failed", "expired": "unknown", "pending": "queued"}.get(row["state"], "busy")
        return Outcome(state, row["smtp_reply"] or row["last_error"] or "", send_id)
    ok, password = _password(db, cfg, rows, me, now)
    if not ok:
        row = outgoing.get_send(db, send_id)
        return Outcome("queued" if row["state"] == "pending" else "failed", row["last_error"] or "", send_id)
    return deliver(db, cfg, rows[0], me, clock.now, password, transport)


def save_copy(cfg: Config, raw: bytes, now: datetime) -> str:
    """APPEND the sent mail to [smtp] save_to (seen). 'saved', or 'failed: why'."""
    from console.intake import imap

    try:
        client = imap.connect(cfg.imap, imap.secret(cfg.store_path, cfg.imap))
    except imap.IntakeError as exc:
        return f"failed: {exc}"
    try:
        client.append(cfg.smtp.save_to, raw, flags=[b"\\Seen"], msg_time=now)
        return "saved"
    except Exception as exc:  # noqa: BLE001 - a copy is a courtesy: note it and go on
        return f"failed: cannot append to {cfg.smtp.save_to!r} ({type(exc).__name__}: {str(exc)[:200]})"
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001
            pass


class MailSender:
    """The poller's sender: sleeps until the next retry, a change by another process (a `reply`, a new
    receipt from intake) or the stop event; then claims what is due and sends it, one after another."""

    def __init__(self, cfg: Config, clock: Clock, stop: threading.Event):
        self.cfg, self.clock, self.stop = cfg, clock, stop
        self.me = sender_id(POLLER)
        self.db = open_db(cfg.store_path)

    def start_up(self) -> int:
        """The poller owns the outbox now (it holds the outbox lock): what another poller left 'sending'
        was cut short by a crash and is expired, not resent. A `reply` command may be sending right now,
        so its rows expire only when their deadline passes."""
        with write(self.db):
            n = outgoing.expire_orphans(self.db, self.clock.now(), owner_prefix=POLLER, me=self.me)
        if n:
            log.warning("%d mail(s) were cut short by a crash and are marked expired (not resent)", n)
        return n

    def cycle(self) -> int:
        """Send what is due now; returns how many were tried."""
        now = self.clock.now()
        with write(self.db):
            outgoing.expire_orphans(self.db, now)
            rows = outgoing.claim(self.db, now, claimed_by=self.me, send_deadline=send_deadline(self.cfg, now),
                                  limit=BATCH)
        if not rows:
            return 0
        ok, password = _password(self.db, self.cfg, rows, self.me, now)
        for i, row in enumerate(rows):
            if not ok:
                break
            if self.stop.is_set():
                # Stopping: give back what was not tried rather than leave it to expire.
                with write(self.db):
                    for r in rows[i:]:
                        outgoing.mark_retry(self.db, r["id"], self.me, self.clock.now(), error=r["last_error"] or "",
                                            at=self.clock.now())
                break
            deliver(self.db, self.cfg, row, self.me, self.clock.now, password)
        return len(rows)

    def seconds_until_next(self) -> float:
        due = outgoing.next_attempt_due(self.db)
        if due is None:
            return RECHECK_SECONDS
        return max(0.0, min(RECHECK_SECONDS, (parse_iso(due) - self.clock.now()).total_seconds()))

    def run(self) -> None:
        self.start_up()
        version = data_version(self.db)
        while not self.stop.is_set():
            try:
                while self.cycle() == BATCH and not self.stop.is_set():
                    pass
                wait = self.seconds_until_next()
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the mail for good
                log.exception("mail sender cycle failed; retrying")
                self.stop.wait(1.0)
                continue
            deadline = time.monotonic() + wait
            while not self.stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0 or self.stop.wait(min(left, CHANGE_CHECK_SECONDS)):
                    break
                v = data_version(self.db)
                if v != version:
                    version = v
                    break
        self.db.close()


def start(cfg: Config, clock: Clock, stop: threading.Event) -> MailSender | None:
    """The poller's mail sender, running in a thread of its own (`.thread`); None without [smtp]."""
    if cfg.smtp is None:
        return None
    sender = MailSender(cfg, clock, stop)
    sender.thread = threading.Thread(target=sender.run, name="mail", daemon=True)
    sender.thread.start()
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
        sender.db.close()
