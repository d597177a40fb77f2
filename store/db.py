"""Opening the database and running short write transactions.

Poller, CLI and consoles share one file, so: WAL, a busy timeout, and
BEGIN IMMEDIATE for writes (a deferred transaction that later upgrades to a
write lock can fail with SQLITE_BUSY without waiting).
"""
from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import stat
from pathlib import Path
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from store.errors import NeedsFixing, WillPass

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_S = 15.0
# The database holds customer mail: its owner and the desk's group (consoles of staff accounts, an MTA's
# pipe user) may read and write it, nobody else. SQLite gives -wal and -shm the database file's mode.
FILE_MODE = 0o660


class StoreError(NeedsFixing):
    """A problem the user can act on; the message is safe to print."""


class StaleWrite(StoreError):
    """The row changed since the caller read it; nothing was written."""


class DatabaseUnavailable(WillPass, sqlite3.OperationalError):
    """The database cannot be used for a moment: locked by another process past the busy timeout, or
    failing I/O (a deleted WAL). Try again later: exit 75 (EX_TEMPFAIL) at the CLI.

    It is also an sqlite3.OperationalError, with the same sqlite_errorcode, so code that retries on
    SQLite's own errors keeps doing so."""


class DatabaseBusy(DatabaseUnavailable):
    """Another process holds the database past the busy timeout; it will let go."""


class DatabaseMissing(StoreError):
    """No database where the desk's other files say there was one; nothing was created."""


class DatabaseFault(StoreError):
    """The database file was deleted or replaced, or its WAL deleted, under a running process."""


# SQLite primary result codes that mean "the file is there but cannot be used now" rather than "this
# statement is wrong": busy/locked, read-only (a database moved under an open connection), I/O errors,
# disk full, cannot open.
_UNAVAILABLE = {5: "busy", 6: "locked", 8: "read-only", 10: "I/O", 13: "full", 14: "cannot open"}


def unavailable(exc: sqlite3.Error, path: str) -> DatabaseUnavailable | None:
    """SQLite's error as a DatabaseUnavailable with a one-line explanation, or None for other errors."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    if primary is None:  # no code (old Python): recognise the messages
        low = text.lower()
        primary = 5 if "locked" in low or "busy" in low else 10 if "disk i/o" in low else None
    if primary not in _UNAVAILABLE:
        return None
    if primary in (5, 6):
        why = (f"database {path} is locked: another process has held it for longer than {BUSY_TIMEOUT_S:g}s "
               f"({text}); try again shortly")
    elif primary == 10 and path and _wal_lost(path):
        why = (f"database {path} cannot be read: its write-ahead log {path}-wal was deleted while another process "
               f"(the poller?) has the database open ({text}); stop every support-console process using it, then "
               f"start the poller again")
    elif primary == 8 and code == 8 | (4 << 8):
        why = f"database {path} was moved or deleted while open ({text}); stop and check the file"
    elif primary == 13:
        why = f"database {path}: the disk is full ({text}); free space and try again"
    else:
        why = f"database {path} is unavailable ({text}); try again shortly"
    err = (DatabaseBusy if primary in (5, 6) else DatabaseUnavailable)(why)
    if isinstance(code, int):
        err.sqlite_errorcode = code
        err.sqlite_errorname = getattr(exc, "sqlite_errorname", "")
    return err


_last_opened = ""  # the database this process opened last: what an error from elsewhere is about


def translate(exc: sqlite3.Error) -> Exception:
    """The error a person can act on for one of sqlite3's, or `exc` itself when it is none of these."""
    if isinstance(exc, (NeedsFixing, WillPass)):
        return exc
    return unavailable(exc, _last_opened) or exc


def _wal_lost(path: str) -> bool:
    """The shared memory is there (someone has the database open) but the WAL is gone or shorter than its own
    32-byte header: it was deleted, and whoever opened it since got an empty new one."""
    if not os.path.exists(f"{path}-shm"):
        return False
    try:
        return os.path.getsize(f"{path}-wal") < 32
    except OSError:
        return True


class Connection(sqlite3.Connection):
    """SQLite's connection, whose "database is locked" and "disk I/O error" say what they mean
    (DatabaseUnavailable) wherever they happen: in the store's functions and in sqlite-utils'."""

    db_path = ""  # set by open_db: the file the messages name

    def execute(self, *args, **kwargs):
        try:
            return super().execute(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise unavailable(exc, self._path()) or exc from None

    def executemany(self, *args, **kwargs):
        try:
            return super().executemany(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise unavailable(exc, self._path()) or exc from None

    def executescript(self, *args, **kwargs):
        try:
            return super().executescript(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise unavailable(exc, self._path()) or exc from None

    def commit(self) -> None:
        try:
            super().commit()
        except sqlite3.OperationalError as exc:
            raise unavailable(exc, self._path()) or exc from None

    def _path(self) -> str:
        return self.db_path


class Database:
    """The desk's database: one SQLite connection, in SQLite's own autocommit mode (a write outside write()
    commits at once, as sqlite-utils' execute() makes it; write() opens every transaction itself).

    The store's functions run their SQL on it directly. sqlite-utils does the rest (the migrations, setting up
    the full-text index, tables by name: `db["messages"]`, `db.query(...)`) on the same connection, and is
    imported the first time one of those is used: filing a mail needs only SQL, and an MTA starts an `ingest`
    process for each mail (bench/bench_intake.py measures it)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._utils: sqlite_utils.Database | None = None

    @property
    def utils(self) -> sqlite_utils.Database:
        """sqlite-utils' Database on this connection (no plugins: the desk uses none, and finding them reads
        every installed package's entry points)."""
        if self._utils is None:
            import sqlite_utils

            self._utils = sqlite_utils.Database(self.conn, execute_plugins=False)
        return self._utils

    def execute(self, sql: str, parameters: Any = None) -> sqlite3.Cursor:
        return self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)

    def executescript(self, sql: str) -> sqlite3.Cursor:
        return self.utils.executescript(sql)  # sqlite-utils' keeps an open transaction open

    def close(self) -> None:
        self.conn.close()

    def __getitem__(self, table: str) -> Any:
        return self.utils[table]

    def __getattr__(self, name: str) -> Any:  # the rest of sqlite-utils' Database: query, table_names, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.utils, name)


def open_db(path: str | Path, *, migrate: bool = True, create: bool = False) -> Database:
    """Open (and migrate) the desk's database. A missing one is created only for a new desk: when the desk's
    other files (ack key, locks, WAL) are beside it, it was deleted or moved, and DatabaseMissing says how
    to restore it; `create=True` (`init --database`) starts afresh on purpose."""
    path = Path(path)
    if str(path) != ":memory:":
        if not path.parent.exists():
            raise StoreError(f"database directory does not exist: {path.parent}")
        if not create:
            from store.fileguard import refuse_to_create

            refuse_to_create(path)
        prepare_files(path)
        global _last_opened
        _last_opened = str(path)
    with _setup_lock(path):
        try:
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False, factory=Connection,
                                   isolation_level=None)
            if isinstance(conn, Connection):
                conn.db_path = str(path)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            # FULL: a committed message survives power loss, not only a crash.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            # As sqlite-utils sets it: a row replaced by INSERT OR REPLACE fires its delete triggers (the
            # full-text index's among them).
            conn.execute("PRAGMA recursive_triggers = ON")
        except DatabaseUnavailable:
            raise
        except sqlite3.Error as exc:
            known = unavailable(exc, str(path))
            if known is not None:
                raise known from None
            raise StoreError(f"cannot open database {path}: {exc}") from None
        db = Database(conn)
        if migrate:
            from store import schema

            with _retry_locked():
                if schema.pending(conn):  # read without sqlite-utils: up to date, it is not imported
                    schema.migrations.apply(db.utils)
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
    except DatabaseUnavailable:
        raise
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
        with _savepoint(conn):
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


_savepoints = itertools.count()  # savepoint names, unique in the process


@contextlib.contextmanager
def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    name = f"nested_{next(_savepoints)}"
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        if conn.in_transaction:  # an error may have ended the whole transaction, savepoints and all
            conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            conn.execute(f"RELEASE SAVEPOINT {name}")
        raise
    else:
        conn.execute(f"RELEASE SAVEPOINT {name}")


def data_version(db: Database) -> int:
    """Changes when *another* connection commits: a cheap 'anything new?' check."""
    return db.conn.execute("PRAGMA data_version").fetchone()[0]


def file_of(db: Database) -> str:
    """The path of the database file behind this connection ("" for an in-memory one)."""
    return db.execute("PRAGMA database_list").fetchone()[2] or ""


def inserted_id(cursor: sqlite3.Cursor) -> int:
    """The rowid an INSERT just made. sqlite3 types `lastrowid` as optional (None before any INSERT); after a
    successful INSERT into a rowid table it is always set."""
    rowid = cursor.lastrowid
    assert rowid is not None, "inserted_id follows an INSERT"
    return rowid
