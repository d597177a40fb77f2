"""The OAuth2 token file: kept like the ack key, beside the database, never in it.

`<database>.tokens` (for `support.db`: `support.db.tokens`) holds one entry per mailbox or SMTP identity,
as JSON: what the provider's library needs to refresh (msal's serialized cache, or a refresh token), who
signed in and when. Mode 0600, owned by the account that runs the poller; a file others can read is refused
(chmod 600 it), never silently used. A backup or copy of the database alone carries no token.

Every change is written whole to a temporary file, fsynced, and renamed over the old one (then the
directory is fsynced), so a crash leaves the old file or the new one, never half of either. Changes are
made under an exclusive lock on `<database>.tokens.lock`: the poller refreshing and a supervisor's
`auth login` never interleave, and a refresh token a provider rotates is saved before anyone uses it.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from console.private_file import read_private, write_private
from store.errors import NeedsFixing

VERSION = 1


class TokenFileError(NeedsFixing):
    """The token file exists but cannot be used; the message says why and what to do (never a token)."""


def token_path(store_path: Path) -> Path:
    store_path = Path(store_path)
    return store_path.with_name(store_path.name + ".tokens")


class TokenStore:
    def __init__(self, path: Path, owner_of: Path | None = None):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        # The file belongs to the account that runs the poller: the one owning the database (else its directory).
        self.owner_of = owner_of

    @classmethod
    def beside(cls, store_path: Path) -> TokenStore:
        return cls(token_path(store_path), owner_of=Path(store_path))

    def _owner(self) -> tuple[int, int] | None:
        """(uid, gid) the file must have, or None when there is nothing to go by."""
        if self.owner_of is None:
            return None
        for p in (self.owner_of, self.owner_of.parent):
            try:
                st = os.stat(p)
            except OSError:
                continue
            return st.st_uid, st.st_gid
        return None

    def _hand_over(self, fd: int, what: Path) -> None:
        """root (a supervisor with sudo) writes the file for the poller's account; anyone else must be it."""
        owner = self._owner()
        if owner is None or owner[0] == os.geteuid():
            return
        if os.geteuid() == 0:
            os.fchown(fd, *owner)
            return
        raise TokenFileError(f"{what} must belong to the account that runs the poller (uid {owner[0]}, the owner "
                             f"of {self.owner_of}); run this command as that account (sudo -u ...)")

    # --- reading ---------------------------------------------------------------------------------

    def read(self) -> dict[str, dict[str, Any]]:
        """Every entry by name; {} when there is no file yet."""
        raw = read_private(self.path, "the token file", TokenFileError)
        if raw is None:
            return {}
        # (A file another account owns is read all the same when we may: root checking a desk's status.)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("mailboxes"), dict):
            raise TokenFileError(f"the token file {self.path} is damaged; delete it and sign in again "
                                 "(support-console auth login)")
        return data["mailboxes"]

    def entry(self, name: str) -> dict[str, Any] | None:
        return self.read().get(name)

    def stamp(self) -> tuple[int, int] | None:
        """Changes when the file is replaced (each write renames a new file into place)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    # --- writing ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive against every other process that changes or refreshes tokens of this desk."""
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise TokenFileError(f"cannot open {self.lock_path}: {exc.strerror}") from None
        try:
            self._hand_over(fd, self.lock_path)
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def put(self, name: str, entry: dict[str, Any] | None) -> None:
        """Replace (or with None remove) one entry. Call under locked()."""
        entries = self.read()
        if entry is None:
            entries.pop(name, None)
        else:
            entries[name] = entry
        self._write({"version": VERSION, "mailboxes": entries})

    def _write(self, data: dict[str, Any]) -> None:
        write_private(self.path, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"), "the token file",
                      TokenFileError, replace=True, prepare=lambda fd: self._hand_over(fd, self.path))
