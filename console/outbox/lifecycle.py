"""What both outboxes' senders share above the SQL (store/queue.py): who a sender is, how long to wait
before a retry, how far a retry time may lie ahead, and writing an outcome down even while the database
is busy.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from store import StoreError

log = logging.getLogger("support_console.outbox")

T = TypeVar("T")

# How long a sender keeps trying to write down what happened to a send while the database is busy.
# A page that went out must be recorded as sent, never left to expire because of a lock.
BOOKKEEPING_SECONDS = 60.0


def sender_id(kind: str = "") -> str:
    """Who claimed a row: the kind of sender, host, pid and a random part. The pid alone is reused (a
    container's poller is often pid 1 every time), and a restarted poller must not take its dead
    predecessor's half-sent rows for its own."""
    return f"{kind}{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def backoff(base_seconds: float, max_seconds: float, attempts: int) -> timedelta:
    """Capped exponential backoff after the `attempts`-th try failed."""
    return timedelta(seconds=min(max_seconds, base_seconds * 2 ** max(0, attempts - 1)))


def ceil_second(dt: datetime) -> datetime:
    # The store keeps whole seconds (truncating): round up, or a retry comes up to 1 s early and a
    # sub-second backoff becomes no backoff at all.
    return dt if dt.microsecond == 0 else dt.replace(microsecond=0) + timedelta(seconds=1)


def horizon(now: datetime, max_backoff_seconds: float) -> datetime:
    """No retry is ever scheduled further ahead than the longest backoff: a row whose next try lies
    beyond this was scheduled before the wall clock stepped back, and is due now."""
    return now + timedelta(seconds=max_backoff_seconds + 1)


def _busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def persist(write: Callable[[], T], *, what: str, seconds: float = BOOKKEEPING_SECONDS,
            sleep: Callable[[float], None] = time.sleep) -> T:
    """Run `write` (one transaction) until it gets through a busy database, for up to `seconds`: the
    outcome of a send is known and must not be lost (a delivered page recorded as expired). Other errors,
    and a database busy for longer than that, are raised."""
    end = time.monotonic() + seconds
    pause = 0.05
    while True:
        try:
            return write()
        except (sqlite3.OperationalError, StoreError) as exc:
            if not _busy(exc) or time.monotonic() + pause > end:
                raise
            log.warning("database busy while recording %s; trying again", what)
            sleep(pause)
            pause = min(pause * 2, 1.0)
