"""Single-owner locks: one poller per mailbox, one dispatcher per outbox.

flock() is released by the kernel when a process dies, even by SIGKILL, so a crashed poller
never blocks its successor and no lease needs to time out.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from datetime import datetime, timezone
from pathlib import Path


class LockHeld(Exception):
    pass


class FileLock:
    def __init__(self, path: Path, what: str):
        self.path, self.what, self._fd = path, what, None

    def acquire(self) -> "FileLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 500).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise LockHeld(f"{self.what} is already owned by {holder} (lock file {self.path})") from None
        os.ftruncate(fd, 0)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {stamp}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def mailbox_lock(db_path: Path, account: str, folder: str) -> FileLock:
    slug = hashlib.sha256(f"{account}\0{folder}".encode()).hexdigest()[:12]
    return FileLock(Path(f"{db_path}.poller-{slug}.lock"), f"mailbox {account}/{folder}")


def outbox_lock(db_path: Path) -> FileLock:
    return FileLock(Path(f"{db_path}.outbox.lock"), "the alert outbox")
