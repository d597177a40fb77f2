"""The escalation scheduler and dispatcher of the poller.

It sleeps until the exact next step or retry time, a wake-up from intake, or a change by another
process (PRAGMA data_version, checked every 0.25 s); then it writes due alerts and claims them for a
small pool of senders, so a hung pager service never delays scheduling or mail.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from console import health, timefmt
from console.alerts import audience as aud
from console.alerts import dispatch, escalation
from console.clock import Clock
from console.config import Config
from console.safe_text import clean_line
from store import heartbeat, open_db, outbox, tickets, write
from store.db import data_version
from store.times import parse_iso

log = logging.getLogger("support_console.scheduler")

HEARTBEAT_SECONDS = 5.0
CHANGE_CHECK_SECONDS = 0.25
RECHECK_SECONDS = 60.0  # longest sleep without a full cycle when nothing is due and nothing changed


class Scheduler:
    """Escalation and dispatch; owns the outbox while the outbox lock is held."""

    def __init__(self, cfg: Config, clock: Clock, stop: threading.Event, *, workers: int = 4):
        self.cfg, self.clock, self.stop = cfg, clock, stop
        self.wake = threading.Event()
        self.me = dispatch.sender_id()
        self.workers = workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="send")
        # Heartbeat pings get their own thread: a slow monitor must not hold a sender that _dispatch counts free.
        self.ping_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ping")
        self._inflight: set[int] = set()
        self._lock = threading.Lock()
        self._last_beat = 0.0
        self.db = open_db(cfg.store_path)

    def start_up(self) -> int:
        """We own the outbox now: anything left 'sending' by a dead process is expired, not resent."""
        with write(self.db):
            n = outbox.expire_orphans(self.db, self.clock.now(), claimed_by=self.me)
        if n:
            log.warning("%d page(s) were cut short by a crash and are marked expired (not resent)", n)
        return n

    def cycle(self) -> None:
        now = self.clock.now()
        with write(self.db):
            escalation.run_due(self.db, self.cfg, now)
            outbox.expire_orphans(self.db, now)
            intake_pages(self.db, self.cfg, now)
        self._dispatch(now)
        self.beat()

    def _dispatch(self, now) -> int:
        with self._lock:
            free = self.workers - len(self._inflight)
        # Only as many as there are idle senders: a claimed row's send deadline is running. The rest
        # stay pending; a finishing sender wakes us to claim more.
        rows = dispatch.claim(self.db, self.cfg, now, self.me, limit=free)
        for alert in rows:
            with self._lock:
                self._inflight.add(alert["id"])
            self.pool.submit(self._send, alert)
        return len(rows)

    def _send(self, alert: dict) -> None:
        db = _thread_db(self.cfg.store_path)
        try:
            dispatch.deliver(db, self.cfg, alert, self.clock.now)
        except Exception:  # noqa: BLE001 - logged; the row stays 'sending' and expires, never resent blindly
            log.exception("dispatch of alert %s crashed", alert["id"])
        finally:
            with self._lock:
                self._inflight.discard(alert["id"])
            self.wake.set()

    def beat(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_beat < HEARTBEAT_SECONDS:
            return
        self._last_beat = time.monotonic()
        now = self.clock.now()
        with write(self.db):
            heartbeat.beat(self.db, health.SCHEDULER, now, pid=os.getpid(), host=socket.gethostname(),
                           mailbox=(self.cfg.imap.account + "/" + self.cfg.imap.folder) if self.cfg.imap else None)
        if self.cfg.alerts.heartbeat_url:
            self.ping_pool.submit(_ping, self.cfg.alerts.heartbeat_url)

    def seconds_until_next(self) -> float:
        """Until the next step or retry; at most RECHECK_SECONDS (a safety net, e.g. for clock jumps)."""
        candidates = [tickets.next_step_due(self.db), outbox.next_attempt_due(self.db, self.cfg.alerts.max_attempts)]
        now = self.clock.now()
        waits = [(parse_iso(c) - now).total_seconds() for c in candidates if c]
        return max(0.0, min(waits + [RECHECK_SECONDS]))

    def run(self) -> None:
        version = data_version(self.db)
        while not self.stop.is_set():
            try:
                self.cycle()
                wait = self.seconds_until_next()
            except Exception:  # noqa: BLE001 - keep scheduling; a DB hiccup must not stop the pager
                log.exception("scheduler cycle failed; retrying")
                self.stop.wait(1.0)
                continue
            deadline = time.monotonic() + wait
            while not self.stop.is_set():
                mono = time.monotonic()
                left = deadline - mono
                if left <= 0:
                    break
                beat_in = self._last_beat + HEARTBEAT_SECONDS - mono
                if beat_in <= 0:
                    # Liveness only: nothing came due, so no full cycle (its queries are O(open tickets)).
                    try:
                        self.beat()
                    except Exception:  # noqa: BLE001
                        log.exception("heartbeat failed")
                        self._last_beat = time.monotonic()
                    continue
                if self.wake.wait(min(left, CHANGE_CHECK_SECONDS, beat_in)):
                    self.wake.clear()
                    break
                v = data_version(self.db)
                if v != version:  # another process acted (ack, reclassify, ingest): recompute now
                    version = v
                    break

    def drain(self, timeout: float) -> None:
        """Wait for the sends in flight. Unless stopping, keep claiming rows that are due meanwhile
        (`poll --once`: the senders take only a few rows at a time)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.stop.is_set():
                self._dispatch(self.clock.now())
            with self._lock:
                if not self._inflight:
                    return
            time.sleep(0.05)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.ping_pool.shutdown(wait=False, cancel_futures=True)


def intake_pages(db, cfg: Config, now) -> list[int]:
    """Page the supervisors once when intake has not synced for [alerts] intake_stale_after (one dedup key
    per outage: the time of its last sync), and once more when it has synced again. Call inside write()."""
    beats = heartbeat.heartbeats(db)
    outages = health.intake_outages(beats, now, cfg.alerts.intake_stale_after)
    created: list[int] = []

    def page(step: str, outage: str, title: str, body: str, urgent: bool) -> None:
        for audience_name, handle in aud.resolve(db, cfg, ("supervisors",), None, now):
            alert_id = outbox.add_alert(db, dedup_key=outbox.outage_key(step, outage, handle), ticket_id=None,
                                        cls=None, step=step, audience=audience_name, target=handle, urgent=urgent,
                                        title=title, body=body, due_at=now, now=now)
            if alert_id:
                created.append(alert_id)

    def local(at: str) -> str:  # shown in the desk's zone, like every time
        return timefmt.local_time(parse_iso(at), cfg.timezone)

    stale_now = set()
    for o in outages:
        outage = f"{o.mailbox}|{o.since}"
        stale_now.add(outage)
        what = "SIGN-IN LOST" if o.signed_out else "INTAKE STALE"
        page(outbox.STALE_STEP, outage, f"[support-console] {what}: {clean_line(o.label or o.mailbox, 80)}",
             f"{clean_line(o.summary, 300)}\nMail to the desk is not becoming tickets, and nobody is paged for it."
             "\nCheck the poller: support-console status", True)
    for outage in outbox.unrecovered_outages(db):
        mailbox, since = outage.rsplit("|", 1)
        synced = health.last_sync(beats, mailbox)
        if outage not in stale_now and synced and synced > since:
            name = clean_line(health.label(beats, mailbox) or mailbox, 80)
            page(outbox.RECOVERED_STEP, outage, f"[support-console] intake recovered: {name}",
                 f"Intake of {name} synced again at {local(synced)} (last sync before that: "
                 f"{local(since)}).",
                 False)
    return created


_local = threading.local()


def _thread_db(path: Path):
    db = getattr(_local, "db", None)
    if db is None:
        db = _local.db = open_db(path, migrate=False)
    return db


def _ping(url: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - operator-configured URL
            resp.read(64)
    except Exception as exc:  # noqa: BLE001
        log.warning("heartbeat_url failed: %s", type(exc).__name__)
