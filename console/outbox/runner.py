"""The one sender loop, for pages and for mail alike (a channel says how a row is sent).

It sleeps until the next row is due, a wake-up (new rows from the scheduler or intake, a sender that
finished), a change by another process (PRAGMA data_version, checked every 0.25 s) or the stop event;
then it expires what was cut short and claims as many due rows as it has idle senders, in the order
the store chooses (pages: first pages and other senders' tickets before a storm's repeats). While every
sender is busy it does not touch the database at all: a finishing sender wakes it.

A claimed row's send deadline is running, so only what can be sent at once is claimed.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from store.db import Database

from console.clock import Clock
from console.config import Config
from console.outbox import lifecycle
from store import open_db, write
from store.db import data_version
from store.times import parse_iso

log = logging.getLogger("support_console.outbox")

CHANGE_CHECK_SECONDS = 0.25
RECHECK_SECONDS = 60.0  # longest sleep when nothing is due and nothing changed (a safety net)


class Channel(Protocol):
    """How one outbox's rows are sent: console.outbox.pages (apprise) and console.outbox.mail (SMTP)."""

    cfg: Config  # replaced on a reload (SIGHUP)
    name: str  # the noun for logs: "page(s)", "mail(s)"
    kind: str  # the prefix of this channel's sender ids
    workers: int  # rows sent at the same time
    batch: int  # rows one sender takes in turn (mail: one password lookup per batch)

    def start_up(self, db: Database, me: str, now: datetime) -> int: ...
    def orphans_due(self, db: Database, now: datetime) -> bool: ...
    def expire_orphans(self, db: Database, now: datetime) -> int: ...
    def claim(self, db: Database, now: datetime, me: str, limit: int) -> list[dict[str, Any]]: ...
    def next_due(self, db: Database) -> str | None: ...
    def horizon_seconds(self) -> float: ...
    def send(self, db: Database, rows: list[dict[str, Any]], me: str, now: Callable[[], datetime],
             stop: threading.Event) -> None: ...


class Runner:
    """Sends one outbox's rows; owns that outbox while the poller holds the outbox lock."""

    def __init__(self, channel: Channel, db_path: Path, clock: Clock, stop: threading.Event):
        self.channel, self.clock, self.stop = channel, clock, stop
        self.db_path = Path(db_path)
        self.me = lifecycle.sender_id(channel.kind)
        self.wake = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=channel.workers, thread_name_prefix=channel.kind.rstrip(":"))
        self.thread: threading.Thread | None = None
        self._jobs = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self.db = open_db(self.db_path)

    @property
    def cfg(self) -> Config:
        return self.channel.cfg

    @cfg.setter
    def cfg(self, new: Config) -> None:  # a reload: the next send uses it
        self.channel.cfg = new

    def start_up(self) -> int:
        """What another sender of this kind left 'sending' was cut short: expired, never resent."""
        with write(self.db):
            n = self.channel.start_up(self.db, self.me, self.clock.now())
        if n:
            log.warning("%d %s cut short by a crash and marked expired (not resent)", n, self.channel.name)
        return n

    def idle_senders(self) -> int:
        with self._lock:
            return self.channel.workers - self._jobs

    def _expire(self, now: datetime) -> None:
        if self.channel.orphans_due(self.db, now):  # a read first: most turns have nothing to expire
            with write(self.db):
                self.channel.expire_orphans(self.db, now)

    def _claim(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        if limit <= 0 or self.seconds_until_next() > 0:  # nothing due: no write transaction
            return []
        with write(self.db):
            return self.channel.claim(self.db, now, self.me, limit)

    def dispatch(self) -> int:
        """Claim what the idle senders can send now and hand it to them. How many rows."""
        now = self.clock.now()
        self._expire(now)
        free = self.idle_senders()
        rows = self._claim(now, free * self.channel.batch)
        size = self.channel.batch
        for i in range(0, len(rows), size):
            with self._lock:
                self._jobs += 1
            self.pool.submit(self._job, rows[i:i + size])
        return len(rows)

    def cycle(self) -> int:
        """Send one batch of what is due now in this thread (tests, `poll --once`). How many were tried."""
        now = self.clock.now()
        self._expire(now)
        rows = self._claim(now, self.channel.batch)
        if rows:
            self.channel.send(self.db, rows, self.me, self.clock.now, self.stop)
        return len(rows)

    def _job(self, rows: list[dict[str, Any]]) -> None:
        try:
            self.channel.send(self._thread_db(), rows, self.me, self.clock.now, self.stop)
        except Exception:  # noqa: BLE001 - logged; the rows stay 'sending' and expire, never resent blindly
            log.exception("sending %s %s crashed", self.channel.name, [r["id"] for r in rows])
        finally:
            with self._lock:
                self._jobs -= 1
            self.wake.set()

    def _thread_db(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = open_db(self.db_path, migrate=False)
        return db

    def seconds_until_next(self) -> float:
        """Until the next row is due; RECHECK_SECONDS while every sender is busy (a finishing one wakes
        the loop) or when nothing waits."""
        if self.idle_senders() <= 0:
            return RECHECK_SECONDS
        due = parse_iso(self.channel.next_due(self.db))
        if due is None:
            return RECHECK_SECONDS
        wait = (due - self.clock.now()).total_seconds()
        if wait > self.channel.horizon_seconds():
            return 0.0  # scheduled before the wall clock stepped back: due now (see lifecycle.horizon)
        return max(0.0, min(wait, RECHECK_SECONDS))

    def run(self) -> None:
        version = data_version(self.db)
        while not self.stop.is_set():
            try:
                self.dispatch()
                wait = self.seconds_until_next()
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the sender for good
                log.exception("%s sender cycle failed; retrying", self.channel.kind.rstrip(":"))
                self.stop.wait(1.0)
                continue
            deadline = time.monotonic() + wait
            while not self.stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if self.wake.wait(min(left, CHANGE_CHECK_SECONDS)):
                    self.wake.clear()
                    break
                v = data_version(self.db)
                if v != version:  # another process queued or changed rows
                    version = v
                    break

    def start(self) -> Runner:
        self.thread = threading.Thread(target=self.run, name=self.channel.kind.rstrip(":") or "sender", daemon=True)
        self.thread.start()
        return self

    def drain(self, timeout: float | None) -> None:
        """Wait for the sends in flight. Unless stopping, keep claiming rows that are due meanwhile
        (`poll --once`: the senders take only a few rows at a time)."""
        end = None if timeout is None else time.monotonic() + timeout
        while end is None or time.monotonic() < end:
            if not self.stop.is_set():
                self.dispatch()
            with self._lock:
                if not self._jobs:
                    return
            time.sleep(0.05)

    def close(self) -> None:
        """After the owner set the stop event: wait for the loop and the sends in flight."""
        self.wake.set()
        if self.thread is not None and self.thread.ident is not None:
            self.thread.join(timeout=5)
        self.pool.shutdown(wait=True, cancel_futures=True)
