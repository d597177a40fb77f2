"""Opening the database and running short write transactions.

Poller, CLI and consoles share one file, so: WAL, a busy timeout, and
BEGIN IMMEDIATE for writes (a deferred transaction that later upgrades to a
write lock can fail with SQLITE_BUSY without waiting).
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import sys
from pathlib import Path
from collections.abc import Iterator

from sqlite_utils import Database

from store.errors import NeedsFixing, WillPass

BUSY_TIMEOUT_S = 15.0
# The database holds customer mail: its owner and the desk's group (consoles of staff accounts, an MTA's
# pipe user) may read and write it, nobody else. SQLite gives -wal and -shm the database file's mode.
FILE_MODE = 0o660


class StoreError(NeedsFixing):
    """A problem the user can act on; the message is safe to print."""


class StaleWrite(StoreError):
    """The row changed since the caller read it; nothing was written."""


class DatabaseBusy(WillPass):
    """Another process holds the database past the busy timeout; it will let go."""


class DatabaseUnavailable(WillPass):
    """The database cannot be read or written for now (a disk error, its write-ahead log gone)."""


_opened: set[Path] = set()  # the database files this process opened, to explain a later disk error


def translate(exc: sqlite3.Error) -> Exception:
    """The error a person can act on for one of sqlite3's, or `exc` itself when it is none of these."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return DatabaseBusy(f"the database is busy (another process holds its lock: {text}); try again in a "
                            f"moment")
    if "disk I/O error" in text:
        for path in sorted(_opened):
            why = _missing_wal(path)
            if why:
                return DatabaseUnavailable(why)
        return DatabaseUnavailable(f"the database cannot be read or written now ({text}): check the disk and "
                                   f"that its files are still in place; try again in a moment")
    return exc


def _missing_wal(path: Path) -> str | None:
    """Why a WAL database gives "disk I/O error": its -wal file was deleted while a process had it open.
    The shared-memory index (-shm) then still counts frames (mxFrame, a native u32 at byte 16 of its header)
    that the -wal file, missing or recreated empty by the next opener, does not have."""
    wal = Path(f"{path}-wal")
    try:
        with open(f"{path}-shm", "rb") as f:
            header = f.read(20)
        wal_size = wal.stat().st_size if wal.exists() else 0
    except OSError:
        return None
    if len(header) == 20 and int.from_bytes(header[16:20], sys.byteorder) > 0 and wal_size == 0:
        return (f"the database's write-ahead log {path}-wal was deleted while a process had it open; restart the "
                f"poller and close the consoles (the last to close writes it back), then try again")
    return None


def open_db(path: str | Path, *, migrate: bool = True) -> Database:
    path = Path(path)
    if str(path) != ":memory:":
        if not path.parent.exists():
            raise StoreError(f"database directory does not exist: {path.parent}")
        prepare_files(path)
        _opened.add(path.resolve())
    with _setup_lock(path):
        try:
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            # FULL: a committed message survives power loss, not only a crash.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            known = translate(exc)
            if isinstance(known, WillPass):
                raise known from None
            raise StoreError(f"cannot open database {path}: {exc}") from None
        # No sqlite-utils plugins: the desk uses none, and finding them scans every installed package's
        # entry points (importlib.metadata) in each process, one `ingest` per mail included.
        db = Database(conn, execute_plugins=False)
        if migrate:
            from store.schema import migrations

            with _retry_locked():
                if migrations.pending(db):
                    migrations.apply(db)
    return db


@contextlib.contextmanager
def _setup_lock(path: Path) -> Iterator[None]:
    """Processes opening the database set it up one at a time: two `ingest`s an MTA starts at once for one
    mail's two recipients would otherwise both create the schema (sqlite-utils' migrations are not safe
    against that). The lock is a flock() on the database's directory, which every account using the
    database can open. Not on the database file: closing any descriptor of that file drops the process's
    fcntl() locks on it, SQLite's own, and a commit can then be lost to another connection's checkpoint."""
    if str(path) == ":memory:":
        yield
        return
    import fcntl

    import time

    fd = os.open(path.parent, os.O_RDONLY)
    try:
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:  # never a hang: the MTA retries later
                    raise DatabaseBusy(f"database {path} is busy: another process has been setting it up for "
                                     f"{BUSY_TIMEOUT_S:g}s") from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # releases the lock


def _owner(st: os.stat_result) -> str:
    try:
        import pwd

        return pwd.getpwuid(st.st_uid).pw_name
    except (ImportError, KeyError):
        return f"uid {st.st_uid}"


def _me() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return f"uid {os.geteuid()}"


def prepare_files(path: Path) -> None:
    """Create the database file without world access (before SQLite does, with 0644), take world access
    away from files that have it, and say plainly when this account cannot write them."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        pass
    except PermissionError:
        st = path.parent.stat()
        raise StoreError(f"cannot create the database in {path.parent} (owned by {_owner(st)}, mode "
                         f"{stat.S_IMODE(st.st_mode):04o}): {_me()} may not write there; run the command as "
                         f"{_owner(st)}, or give {_me()} write access to the directory") from None
    else:
        os.fchmod(fd, FILE_MODE)  # not narrowed by the umask: the desk's group needs write access
        os.close(fd)
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        if st.st_uid == os.geteuid() and st.st_mode & 0o007:
            os.chmod(p, stat.S_IMODE(st.st_mode) & ~0o007)
        if not os.access(p, os.R_OK | os.W_OK):
            raise StoreError(
                f"database file {p} is owned by {_owner(st)} (mode {stat.S_IMODE(st.st_mode):04o}) and {_me()} "
                f"cannot write it; fix: chown {_me()} {path} {path}-wal {path}-shm, or give them a group both "
                f"accounts share (chgrp GROUP ...; chmod 660 ...)")
    if not os.access(path.parent, os.W_OK | os.X_OK) and not Path(f"{path}-wal").exists():
        st = path.parent.stat()
        raise StoreError(f"{_me()} cannot create {path.name}-wal and -shm in {path.parent} (owned by "
                         f"{_owner(st)}); give {_me()} write access to that directory")


@contextlib.contextmanager
def _retry_locked() -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:
        known = translate(exc)
        raise (known if known is not exc else StoreError(f"cannot set up the database: {exc}")) from None


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


def file_of(db: Database) -> str:
    """The path of the database file behind this connection ("" for an in-memory one)."""
    return db.execute("PRAGMA database_list").fetchone()[2] or ""
