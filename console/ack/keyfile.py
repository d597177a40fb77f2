"""The desk's signing key for acknowledge links: generated once, kept outside the database.

It lives beside the database as `<database>.ackkey` (for `support.db`: `support.db.ackkey`): the
database's directory is the desk's state, it is where the poller already has to write, and a backup
or copy of the database alone does not carry the key. Mode 0600, owned by the account that runs the
poller; a key file that others can read is refused (chmod 600 it), never silently used.

Only the poller needs it: it signs links when it sends a page and checks them when a link is opened or
a page is answered by mail. A process that cannot read it (an MTA's `ingest` under another account)
treats every token as unverifiable and says so.
"""
from __future__ import annotations

import secrets
from pathlib import Path

from console.private_file import read_private, write_private
from store.errors import NeedsFixing
from store.fileguard import ack_key_path

KEY_BYTES = 32


class KeyFileError(NeedsFixing):
    """The key file exists but cannot be used; the message says why and what to do."""


def key_path(store_path: Path) -> Path:
    return ack_key_path(store_path)


def load(path: Path) -> bytes | None:
    """The key, or None when there is no key file yet."""
    text = read_private(path, "the ack key file", KeyFileError, limit=4096)
    if text is None:
        return None
    try:
        key = bytes.fromhex(text.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"the ack key file {path} is damaged; delete it and restart the poller "
                           "(links already sent stop working)")
    return key


def load_or_create(path: Path) -> bytes:
    """The key, generated on first use. Two processes racing here end up with the same key: each writes
    its own temporary file and links it into place; link() refuses to replace, so the first one wins."""
    key = load(path)
    if key is not None:
        return key
    path = Path(path)
    # link(), not replace(): a key another process made first stays, and both use it.
    write_private(path, (secrets.token_bytes(KEY_BYTES).hex() + "\n").encode("ascii"), "the ack key file",
                  KeyFileError, replace=False, doing="create")
    key = load(path)
    if key is None:
        raise KeyFileError(f"the ack key file {path} vanished while it was created")
    return key
