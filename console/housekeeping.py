"""The poller's housekeeping: old pages pruned at a low rate (store.retention), in a thread of its own.

It runs once a while after start and then hourly, a batch of tickets per short write transaction with a
pause between batches, so intake and the scheduler never wait long for the write lock. A failure is
logged and tried again at the next run; it never stops the poller."""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from console.clock import Clock
from console.config import Config
from store import open_db
from store.retention import PAGE_RETENTION, prune_pages

log = logging.getLogger("support_console.housekeeping")

FIRST_RUN_AFTER = 600.0   # seconds after the poller starts: start-up and the first intake go first
EVERY = 3600.0            # seconds between runs
BATCHES_PER_RUN = 50      # of store.retention's batches (200 tickets each)
PAUSE = 0.2               # seconds between batches


def run_once(cfg: Config, clock: Clock, stop: threading.Event, *, keep: timedelta = PAGE_RETENTION) -> int:
    """One run: prune until nothing is left or BATCHES_PER_RUN batches are done. Returns pages deleted."""
    db = open_db(cfg.store_path, migrate=False)
    deleted = 0
    try:
        for _ in range(BATCHES_PER_RUN):
            tickets, pages = prune_pages(db, clock.now(), keep=keep)
            deleted += pages
            if not tickets or stop.wait(PAUSE):
                break
    finally:
        db.close()
    if deleted:
        log.info("pruned %d page(s) of tickets resolved over %d days ago", deleted, keep.days)
    return deleted


def run(cfg: Config, clock: Clock, stop: threading.Event) -> None:
    if stop.wait(FIRST_RUN_AFTER):
        return
    while True:
        try:
            run_once(cfg, clock, stop)
        except Exception:  # noqa: BLE001 - housekeeping never stops the poller; the next run tries again
            log.exception("pruning old pages failed; trying again in an hour")
        if stop.wait(EVERY):
            return


def start(cfg: Config, clock: Clock, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=run, args=(cfg, clock, stop), name="housekeeping", daemon=True)
    thread.start()
    return thread
