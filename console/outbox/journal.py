"""The mail sender's journal: what the SMTP server accepted, kept outside the database.

When the server has taken a mail but the database cannot record it (the disk is full), the mail must
never be sent again. Before each send a fixed-width line "<send id> <sender id> ?" is appended to this
sender's file beside the database, while there is room; once the server accepts the mail its last
byte is overwritten in place with "S" (no new space needed), and with "D" when the database has it.
Whoever owns the mail outbox next (a poller starting, or its sweep of cut-short sends) settles every
"S" line as sent, then removes the files of senders that are gone. The files hold ids only, no mail.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from store.db import Database

from store import outgoing, write
from store.db import FILE_MODE

log = logging.getLogger("support_console.mail")

PENDING, ACCEPTED, DONE = b"?", b"S", b"D"
STALE_SECONDS = 3600.0  # longer than any send takes
SETTLED_REPLY = "accepted by the server; recorded when the database could be written again"


def directory(db_path: Path | str) -> Path:
    return Path(f"{db_path}.sent-journal")


def _name(sender: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "_" for c in sender)


class Journal:
    """One sender's file. Every method is best effort except begin(), whose failure means: do not send."""

    def __init__(self, db_path: Path | str, sender: str):
        self.sender = sender
        self.path = directory(db_path) / _name(sender)
        self._fd: int | None = None
        self._marks: int | None = None  # a second descriptor without O_APPEND: Linux's pwrite() appends on one

    def begin(self, send_id: int) -> int:
        """Note that `send_id` is about to be sent; returns the offset of its status byte. Raises OSError."""
        if self._fd is None:
            self.path.parent.mkdir(mode=0o770, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
            self._marks = os.open(self.path, os.O_WRONLY)
        line = f"{send_id:>12} {self.sender} ?\n".encode()
        os.write(self._fd, line)
        return os.lseek(self._fd, 0, os.SEEK_CUR) - 2

    def mark(self, offset: int, status: bytes) -> bool:
        if self._marks is None:
            return False
        try:
            os.pwrite(self._marks, status, offset)
            return True
        except OSError as exc:
            log.error("cannot update the send journal %s: %s", self.path, exc)
            return False

    def close(self, *, remove_if_done: bool = True) -> None:
        """Close the file; remove it when every line in it is settled in the database."""
        if self._fd is None:
            return
        os.close(self._fd)
        if self._marks is not None:
            os.close(self._marks)
        self._fd = self._marks = None
        if remove_if_done and all(status == DONE for _, _, status in _lines(self.path)):
            self.path.unlink(missing_ok=True)


def _lines(path: Path) -> list[tuple[int, str, bytes]]:
    try:
        data = path.read_bytes()
    except OSError:
        return []
    out = []
    for line in data.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].isdigit():
            out.append((int(parts[0]), parts[1].decode(errors="replace"), parts[2]))
    return out


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def settle(db: Database, db_path: Path | str, now, *, keep: str | None = None) -> int:
    """Record every mail a journal says the server accepted as sent; remove the files of other senders
    (`keep`: this process's own sender id, whose file is in use). Call as the mail outbox's owner.
    How many rows were settled."""
    folder = directory(db_path)
    try:
        files = sorted(folder.iterdir())
    except OSError:
        return 0
    settled = 0
    for path in files:
        lines = _lines(path)
        accepted = [(send_id, sender) for send_id, sender, status in lines if status == ACCEPTED]
        if accepted:
            with write(db):
                for send_id, sender in accepted:
                    settled += outgoing.settle_sent(db, send_id, sender, now, reply=SETTLED_REPLY)
        if keep is not None and path.name == _name(keep):
            continue
        # A "?" line may be a send in flight in another process (a `reply` command): its file stays
        # until that could no longer be so.
        if all(status != PENDING for _, _, status in lines) or _age(path) > STALE_SECONDS:
            path.unlink(missing_ok=True)
    if settled:
        log.warning("%d mail(s) the server had accepted are now recorded as sent (never sent again)", settled)
    return settled
