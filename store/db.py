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
from pathlib import Path
from collections.abc import Iterator

from sqlite_utils import Database

BUSY_TIMEOUT_S = 15.0
# The database holds customer mail: its owner and the desk's group (consoles of staff accounts, an MTA's
# pipe user) may read and write it, nobody else. SQLite gives -wal and -shm the database file's mode.
FILE_MODE = 0o660


class StoreError(Exception):
    """A problem the user can act on; the message is safe to print."""


class StaleWrite(StoreError):
    """The row changed since the caller read it; nothing was written."""


def open_db(path: str | Path, *, migrate: bool = True) -> Database:
    path = Path(path)
    if str(path) != ":memory:":
        if not path.parent.exists():
            raise StoreError(f"database directory does not exist: {path.parent}")
        prepare_files(path)
    with _setup_lock(path):
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
                    raise StoreError(f"database {path} is busy: another process has been setting it up for "
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


def _group(st: os.stat_result) -> str:
    try:
        import grp

        return grp.getgrgid(st.st_gid).gr_name
    except (ImportError, KeyError):
        return f"gid {st.st_gid}"


def unwritable(p: Path, path: Path, st: os.stat_result, uid: int, gids: set[int], me: str, owner: str,
               group: str) -> str:
    """Why account `me` (uid, groups gids) may not read and write database file p (of database `path`),
    naming the real problem: the mode when the owner or group is already right, else the owner. Pure."""
    mode = stat.S_IMODE(st.st_mode)
    files = f"{path} {path}-wal {path}-shm"
    if st.st_uid == uid:
        return (f"database file {p} is owned by {me}, but its mode {mode:04o} does not let its owner read and "
                f"write it; fix: chmod u+rw {files}")
    if st.st_gid in gids:
        return (f"database file {p} belongs to group {group}, which {me} is in, but its mode {mode:04o} does not "
                f"let the group read and write it; fix: chmod g+rw {files}")
    return (f"database file {p} is owned by {owner}:{group} (mode {mode:04o}) and {me} is neither its owner nor "
            f"in its group; fix: run as {owner}, or chown {me} {files}, or give the files a group both accounts "
            f"share (chgrp GROUP ...; chmod 660 ...)")


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
            raise StoreError(unwritable(p, path, st, os.geteuid(), set(os.getgroups()) | {os.getegid()}, _me(),
                                        _owner(st), _group(st)))
    if not os.access(path.parent, os.W_OK | os.X_OK) and not Path(f"{path}-wal").exists():
        st = path.parent.stat()
        raise StoreError(f"{_me()} cannot create {path.name}-wal and -shm in {path.parent} (owned by "
                         f"{_owner(st)}); give {_me()} write access to that directory")


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


def file_of(db: Database) -> str:
    """The path of the database file behind this connection ("" for an in-memory one)."""
    return db.execute("PRAGMA database_list").fetchone()[2] or ""
