"""Opening the database and running short write transactions.

Poller, CLI and consoles share one file, so: WAL, a busy timeout, and
BEGIN IMMEDIATE for writes (a deferred transaction that later upgrades to a
write lock can fail with SQLITE_BUSY without waiting).
"""
from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Iterator

from sqlite_utils import Database

BUSY_TIMEOUT_S = 15.0


class StoreError(Exception):
    """A problem the user can act on; the message is safe to print."""


class StaleWrite(StoreError):
    """The row changed since the caller read it; nothing was written."""


def open_db(path: str | Path, *, migrate: bool = True) -> Database:
    path = Path(path)
    if str(path) != ":memory:":
        if not path.parent.exists():
            raise StoreError(f"database directory does not exist: {path.parent}")
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a committed message survives power loss, not only a crash.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from None
    db = Database(conn)
    if migrate:
        from store.schema import migrations

        with _retry_locked():
            migrations.apply(db)
    return db


@contextlib.contextmanager
def _retry_locked() -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StoreError(f"database is busy or locked: {exc}") from None


@contextlib.contextmanager
def write(db: Database) -> Iterator[Database]:
    """A write transaction that takes the write lock up front (BEGIN IMMEDIATE).

    Nested use becomes a savepoint, so store functions can be composed into
    one transaction by their caller.
    """
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():
            yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def data_version(db: Database) -> int:
    """Changes when *another* connection commits: a cheap 'anything new?' check."""
    return db.conn.execute("PRAGMA data_version").fetchone()[0]
