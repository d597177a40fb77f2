"""The escalation scheduler of the poller.

It sleeps until the exact next step, a wake-up from intake, or a change by another process (PRAGMA
data_version, checked every 0.25 s); then it writes the due pages as outbox rows and wakes the pages
sender (console.outbox.runner with the apprise channel, console.outbox.pages), which sends them with a
small pool of its own, so a hung pager service never delays scheduling. A turn with nothing due only
reads: the write lock is the senders' while a storm goes out.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from console import health, timefmt
from console.alerts import audience as aud
from console.alerts import escalation
from console.clock import Clock
from console.config import Config
from console.outbox import silences
from console.outbox.pages import PagesChannel
from console.outbox.runner import Runner
from console.safe_text import clean_line
from store import audit, heartbeat, open_db, outbox, tickets, write
from store import silences as silence_store
from store.db import data_version
from store.times import iso, parse_iso

log = logging.getLogger("support_console.scheduler")

HEARTBEAT_SECONDS = 5.0
CHANGE_CHECK_SECONDS = 0.25
RECHECK_SECONDS = 60.0  # longest sleep without a full cycle when nothing is due and nothing changed


class Scheduler:
    """Escalation; owns the outbox (and its pages sender, `.pages`) while the outbox lock is held."""

    def __init__(self, cfg: Config, clock: Clock, stop: threading.Event, *, workers: int = 4):
        self._cfg, self.clock, self.stop = cfg, clock, stop
        self.wake = threading.Event()
        # The sender has a stop flag of its own: `stop` may be the poller's liveness beacon, which only
        # this thread may answer.
        self.pages = Runner(PagesChannel(cfg, workers), cfg.store_path, clock, threading.Event())
        self.me = self.pages.me
        # Heartbeat pings get their own thread: a slow monitor must not hold up scheduling.
        self.ping_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ping")
        self._last_beat = 0.0
        self.db = open_db(cfg.store_path)

    @property
    def cfg(self) -> Config:
        return self._cfg

    @cfg.setter
    def cfg(self, new: Config) -> None:  # a reload: the sender takes it too
        self._cfg = new
        self.pages.cfg = new

    def start_up(self) -> int:
        """We own the outbox now: anything left 'sending' by a dead process is expired, not resent."""
        return self.pages.start_up()

    def cycle(self) -> None:
        now = self.clock.now()
        if self._due(now):
            with write(self.db):
                escalation.run_due(self.db, self.cfg, now)
                intake_pages(self.db, self.cfg, now)
        if self._silence_ended(now):
            release_silences(self.db, now)
        self.pages.wake.set()  # what intake filed (its first pages) is due too
        if self.pages.thread is None:  # `poll --once`: no sender thread, so send from here
            self.pages.dispatch()
        self.beat()

    def _due(self, now) -> bool:
        """Whether a step is due or intake is in trouble: reads only, so an idle turn takes no lock."""
        step = tickets.next_step_due(self.db)
        if step is not None and step <= (iso(now) or ""):
            return True
        beats = heartbeat.heartbeats(self.db)
        return bool(health.intake_outages(beats, now, self.cfg.alerts.intake_stale_after)
                    or outbox.unrecovered_outages(self.db))

    def _silence_ended(self, now) -> bool:
        end = silence_store.next_end(self.db)
        return end is not None and end <= (iso(now) or "")

    def beat(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_beat < HEARTBEAT_SECONDS:
            return
        self._last_beat = time.monotonic()
        now = self.clock.now()
        with write(self.db):
            heartbeat.beat(self.db, health.SCHEDULER, now, pid=os.getpid(), host=socket.gethostname(),
                           mailbox=(self.cfg.imap.account + "/" + self.cfg.imap.folder) if self.cfg.imap else None)
        if self.cfg.alerts.heartbeat_url and self._intake_well(now):
            self.ping_pool.submit(_ping, self.cfg.alerts.heartbeat_url)

    def _intake_well(self, now) -> bool:
        """The dead-man's switch speaks for intake too: no ping once intake has not synced for
        intake_stale_after, however often the poller restarts (the outside monitor then raises the alarm)."""
        outages = health.intake_outages(heartbeat.heartbeats(self.db), now, self.cfg.alerts.intake_stale_after)
        if outages and not getattr(self, "_withholding", False):
            log.warning("heartbeat_url: not pinged while intake is stale (%s)", clean_line(outages[0].summary, 200))
        self._withholding = bool(outages)
        return not outages

    def seconds_until_next(self) -> float:
        """Until the next step; at most RECHECK_SECONDS (a safety net, e.g. for clock jumps)."""
        dues = [d for d in (parse_iso(tickets.next_step_due(self.db)), parse_iso(silence_store.next_end(self.db)))
                if d is not None]
        if not dues:
            return RECHECK_SECONDS
        due = min(dues)
        return max(0.0, min((due - self.clock.now()).total_seconds(), RECHECK_SECONDS))

    def run(self) -> None:
        self.pages.start()
        try:
            self._loop()
        finally:
            self.pages.stop.set()
            self.pages.wake.set()

    def _loop(self) -> None:
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
                    # Liveness only: nothing came due, so no full cycle.
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
        """Wait for the pages in flight, sending those that come due meanwhile (`poll --once`)."""
        if self.stop.is_set():
            self.pages.stop.set()
        self.pages.drain(timeout)

    def close(self) -> None:
        self.pages.stop.set()
        self.pages.close()
        self.ping_pool.shutdown(wait=False, cancel_futures=True)


def release_silences(db, now) -> int:
    """Release the silences that have ended, each once, with an audit event: their held pages of tickets still
    unacknowledged go out as one page per person (console.outbox.silences)."""
    released = 0
    with write(db):
        for silence, pages in silences.release_ended(db, now):
            audit.add_event(db, None, "silence_released", "support-console", now, silence=silence["id"],
                            pages=pages, ended_by=silence["ended_by"] or "time")
            released += pages
    if released:
        log.info("%d held page(s) released by ended silence(s)", released)
    return released


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


def _ping(url: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - operator-configured URL
            resp.read(64)
    except Exception as exc:  # noqa: BLE001
        log.warning("heartbeat_url failed: %s", type(exc).__name__)
