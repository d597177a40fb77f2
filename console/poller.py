"""The headless loop: IMAP intake (IDLE push, poll fallback), escalation scheduling, dispatch, heartbeat.

Threads, each with its own SQLite connection: intake (the caller's thread: IDLE, fetch, commit, then
wake the scheduler), the scheduler (console.alerts.scheduler) and its senders.
No Textual here: this runs on servers without a terminal.
"""
from __future__ import annotations

import logging
import signal
import threading

from console.alerts.scheduler import Scheduler
from console.clock import Clock
from console.config import Config
from console.intake.watch import Intake
from console.locks import LockHeld, mailbox_lock, outbox_lock
from console.replies import delivery
from store import open_db, write
from store import staff as store_staff

log = logging.getLogger("support_console.poller")


def sync_staff(cfg: Config) -> None:
    db = open_db(cfg.store_path)
    with write(db):
        store_staff.sync_staff(db, [(s.handle, s.name, s.role) for s in cfg.staff])
    db.close()


def run(cfg: Config, clock: Clock, *, once: bool = False) -> int:
    """The `poll` command. Returns the exit status."""
    sync_staff(cfg)
    locks = []
    try:
        if cfg.imap is not None:
            locks.append(mailbox_lock(cfg.store_path, cfg.imap.account, cfg.imap.folder).acquire())
        try:
            locks.append(outbox_lock(cfg.store_path).acquire())
            owns_outbox = True
        except LockHeld as exc:
            if cfg.imap is None:
                raise
            log.info("%s; this poller only takes in mail", exc)
            owns_outbox = False
        stop = threading.Event()
        scheduler = Scheduler(cfg, clock, stop) if owns_outbox else None
        if scheduler:
            scheduler.start_up()
        if once:
            return _run_once(cfg, clock, stop, scheduler)
        return _run_forever(cfg, clock, stop, scheduler)
    finally:
        for lk in reversed(locks):
            lk.release()


def _run_once(cfg, clock, stop, scheduler) -> int:
    if cfg.imap is not None:
        Intake(cfg, clock, stop).once()
    if scheduler:
        scheduler.cycle()
        delivery.run_once(cfg, clock)  # replies (issue 14): the mail outbox, under the same outbox lock
        scheduler.drain(cfg.alerts.send_timeout_seconds + 5)
        scheduler.beat(force=True)
        scheduler.close()
    return 0


def _run_forever(cfg, clock, stop, scheduler) -> int:
    def on_signal(signum, frame):  # noqa: ARG001
        log.info("signal %d: stopping", signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    threads = []
    if scheduler:
        t = threading.Thread(target=scheduler.run, name="scheduler", daemon=True)
        t.start()
        threads.append(t)
        threads.extend(filter(None, [delivery.start_thread(cfg, clock, stop)]))  # replies (issue 14): mail outbox
    links = None
    if scheduler and cfg.alerts.ack_base_url:  # acknowledge links: their own thread; a failure is only logged
        from console.ack import server as ack_server  # aiohttp: loaded only where links are served

        links = ack_server.start(cfg, clock)
    try:
        if cfg.imap is not None:
            intake = Intake(cfg, clock, stop, on_commit=(lambda n: scheduler.wake.set()) if scheduler else None)
            intake.run()
        else:
            while not stop.wait(1.0):
                pass
    finally:
        stop.set()
        if links:
            links.stop()
        if scheduler:
            scheduler.wake.set()
            for t in threads:
                t.join(timeout=5)
            scheduler.drain(5)
            scheduler.close()
    return 0


