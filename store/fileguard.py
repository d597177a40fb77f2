"""Storage faults made loud: the database deleted, replaced or missing, its WAL deleted, a lock held too long.

SQLite keeps working on a file that was unlinked or renamed over while it is open, and a process that
opens the path afterwards sees another file (or none, and creates an empty one). So:

- a long-running process (the poller, a console) keeps a `Guard`: every cycle it compares the path's
  device and inode, and its WAL's, with those it opened, and stops with one line when they differ;
- `refuse_to_create` keeps anyone from building a new, empty database where a desk's database was:
  a missing database with the desk's other files beside it (the ack key, the locks, a WAL) was deleted
  or moved, and the way back is a restore, never a fresh start by accident;
- `Connection` turns SQLite's "database is locked" and "disk I/O error" into `DatabaseUnavailable`, one
  line that says what is wrong and that the command can be tried again (exit 75 at the CLI).
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
from datetime import datetime, UTC
from pathlib import Path
from typing import NamedTuple

from store.db import DatabaseFault, DatabaseMissing, DatabaseUnavailable

__all__ = ["DatabaseFault", "DatabaseMissing", "DatabaseUnavailable", "Guard", "desk_state", "refuse_to_create",
           "set_aside"]

def ack_key_path(db_path: Path) -> Path:
    """The acknowledge-link key beside the database (console.ack.keyfile makes and reads it)."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".ackkey")


def desk_state(path: Path) -> list[Path]:
    """The files a desk keeps beside its database (present ones only): they show a database was here."""
    d, name = path.parent, path.name
    try:
        entries = list(d.iterdir())
    except OSError:
        return []
    beside = (f"{name}-wal", f"{name}-shm", ack_key_path(path).name, f"{name}.outbox.lock", f".{name}-litestream")
    found = []
    for p in entries:
        n = p.name
        if n in beside or (n.startswith(f"{name}.poller-") and n.endswith(".lock")):
            found.append(p)
    return sorted(found)


def refuse_to_create(path: Path) -> None:
    """Raise DatabaseMissing when `path` does not exist but the desk's other files do."""
    if path.exists():
        return
    state = desk_state(path)
    if state:
        names = ", ".join(p.name for p in state)
        raise DatabaseMissing(
            f"database {path} is missing, but this desk's other files are beside it ({names}): it was deleted or "
            f"moved, and a new empty database would forget every ticket and acknowledgement. Put it back (a backup, "
            f"or `support-console restore --from URL` with [replicate]), or start an empty desk on purpose with "
            f"`support-console init --database`")


def set_aside(path: Path, stamp: str | None = None) -> list[Path]:
    """Rename the leftovers of a database that is gone (its WAL and shared memory, the ack key, Litestream's
    state) to NAME.old-STAMP, so a new database starts clean. Lock files stay: they carry no state."""
    stamp = stamp or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for p in desk_state(path):
        if p.name.endswith(".lock"):
            continue
        target = p.with_name(f"{p.name}.old-{stamp}")
        p.rename(target)
        moved.append(target)
    return moved


class _FileId(NamedTuple):
    dev: int
    ino: int


def _file_id(path: Path) -> _FileId | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return _FileId(st.st_dev, st.st_ino)


class FileWatch:
    """The database's identity (device and inode, and its WAL's) as first seen; `check` says when the path
    no longer leads to that file. Holds no connection: cheap enough for a console's once-a-second tick."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.db_id = _file_id(self.path)
        self.wal_id = _file_id(Path(f"{self.path}-wal"))
        self.fault: str | None = None
        self.kind: str | None = None

    def check(self) -> str | None:
        """A one-line description of what happened to the database, or None while it is the file we opened."""
        if self.fault is not None or self.db_id is None:
            return self.fault
        now_db = _file_id(self.path)
        if now_db is None:
            self.kind, self.fault = "deleted", f"database {self.path} was deleted while in use"
        elif now_db != self.db_id:
            self.kind, self.fault = "replaced", f"database {self.path} was replaced by another file while in use"
        elif self.wal_id is not None:
            now_wal = _file_id(Path(f"{self.path}-wal"))
            if now_wal is None:
                self.kind, self.fault = "wal", f"the write-ahead log {self.path}-wal was deleted while in use"
            elif now_wal != self.wal_id:
                self.kind, self.fault = "wal", f"the write-ahead log {self.path}-wal was replaced while in use"
        elif _file_id(Path(f"{self.path}-wal")) is not None:  # first seen without a WAL: watch the one now there
            self.wal_id = _file_id(Path(f"{self.path}-wal"))
        return self.fault


class Guard(FileWatch):
    """Watches that the database at `path` is still the file this process opened.

    It holds its own connection, opened after the process's others and checked against the path before
    and after, so that when the file is deleted or replaced it can still read the old one: `rescue` copies
    that to NAME.saved-STAMP (nothing the desk knew is lost), or, for a deleted WAL, checkpoints the
    changes still in it into the database file.
    """

    def __init__(self, path: str | Path):  # not FileWatch.__init__: the ids are read once the file is open
        self.path = Path(path)
        before = _file_id(self.path)
        self.conn = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True, timeout=15, check_same_thread=False,
                                    isolation_level=None)
        # The first read opens the WAL and the shared memory: from now on this connection sees the file it
        # opened, whatever happens to the names.
        self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        self.db_id = _file_id(self.path)
        self.wal_id = _file_id(Path(f"{self.path}-wal"))
        if before is None or before != self.db_id:
            self.close()
            raise DatabaseFault(f"database {self.path} changed while it was being opened; start again")
        self.fault: str | None = None
        self.kind: str | None = None

    def rescue(self) -> str:
        """After a fault: keep what this process still sees, and say where it is and what to do next."""
        if self.kind in ("deleted", "replaced"):
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            saved = self.path.with_name(f"{self.path.name}.saved-{stamp}")
            try:
                fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds mail: never world-readable
                os.close(fd)
                dest = sqlite3.connect(str(saved))
                try:
                    self.conn.backup(dest)
                finally:
                    dest.close()
                with contextlib.suppress(OSError):  # no -wal/-shm beside the copy: it is a plain file
                    for extra in (f"{saved}-wal", f"{saved}-shm"):
                        os.unlink(extra)
            except (OSError, sqlite3.Error) as exc:
                return f"Could not save its last state ({exc}); restore from the replica or a backup"
            if self.kind == "deleted":
                return (f"Its last state is saved as {saved}: stop every support-console process, then "
                        f"`mv {saved} {self.path}` and start the poller again")
            return (f"The database it was using is saved as {saved}; find out which file is the desk's before "
                    f"starting the poller again")
        if self.kind == "wal":
            try:
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error as exc:
                return f"Could not copy its changes into the database ({exc}); restore from the replica or a backup"
            return ("The changes it held were copied into the database; once every support-console process "
                    "has stopped, start the poller again")
        return ""

    def close(self) -> None:
        # A database that moved is not checkpointed or cleaned up by SQLite at close: nothing at the path is
        # touched, whatever file is there now.
        self.conn.close()
