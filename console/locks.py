"""Single-owner locks: one poller per mailbox, one dispatcher per outbox.

flock() is released by the kernel when a process dies, even by SIGKILL, so a crashed poller
never blocks its successor and no lease needs to time out.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from datetime import datetime, UTC
from pathlib import Path


from store.db import FILE_MODE, StoreError
from store.errors import EX_LOCKED, WillPass


class LockHeld(WillPass):
    """Another poller owns this mailbox or the outbox."""

    exit_code = EX_LOCKED


class LockUnusable(StoreError):
    """The lock file cannot be opened by this account (another account created it)."""


class FileLock:
    def __init__(self, path: Path, what: str):
        self.path, self.what = path, what
        self._fd: int | None = None

    def acquire(self) -> FileLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except PermissionError:
            owner = _owner(self.path)
            raise LockUnusable(f"cannot open the lock file {self.path} ({owner}); run the poller as that account, "
                               f"or remove the file while no poller runs") from None
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, FILE_MODE)  # not the umask's 0644: no world access beside the mail, the desk's group may
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 500).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise LockHeld(f"{self.what} is already owned by {holder} (lock file {self.path})") from None
        os.ftruncate(fd, 0)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {stamp}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _owner(path: Path) -> str:
    try:
        import pwd

        return "owned by " + pwd.getpwuid(path.stat().st_uid).pw_name
    except (ImportError, KeyError, OSError):
        return "not writable here"


def mailbox_lock(db_path: Path, account: str, folder: str) -> FileLock:
    slug = hashlib.sha256(f"{account}\0{folder}".encode()).hexdigest()[:12]
    return FileLock(Path(f"{db_path}.poller-{slug}.lock"), f"mailbox {account}/{folder}")


def outbox_lock(db_path: Path) -> FileLock:
    return FileLock(Path(f"{db_path}.outbox.lock"), "the alert outbox")
