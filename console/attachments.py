"""Attachments of stored mail: find one's bytes in the raw message and write them to a file.

Never opened or run: the bytes go to a new file with permissions 0600 (mail is hostile and private),
and an existing file is never overwritten.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from console.intake.parse import attachment_payloads
from console.safe_text import clean_line

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(filename: str, fallback: str) -> str:
    """A file name made of letters, digits, dots, dashes and underscores only (no path, no leading dot)."""
    name = _UNSAFE.sub("_", clean_line(filename or "")).strip("._") [:100]
    return name or fallback


def find_payload(raw: bytes, index: int) -> bytes | None:
    """The decoded bytes of the message's attachment number `index` (0-based, in the order intake recorded
    them in messages.attachments): the same MIME walk as intake's, so what it listed is what is saved."""
    payloads = attachment_payloads(raw, max_size=len(raw) + 1)  # filed already: no size cap here
    return payloads[index] if 0 <= index < len(payloads) else None


def write_new(path: str | Path, data: bytes) -> Path:
    """Write `data` to a new file (0600). Raises FileExistsError rather than overwrite anything."""
    path = Path(path).expanduser()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path
