"""Attachments of stored mail: find one's bytes in the raw message and write them to a file.

Never opened or run: the bytes go to a new file with permissions 0600 (mail is hostile and private),
and an existing file is never overwritten.
"""
from __future__ import annotations

import email
import email.policy
import os
import re
from pathlib import Path

from console.safe_text import clean_line

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(filename: str, fallback: str) -> str:
    """A file name made of letters, digits, dots, dashes and underscores only (no path, no leading dot)."""
    name = _UNSAFE.sub("_", clean_line(filename or "")).strip("._") [:100]
    return name or fallback


def _parts(raw: bytes):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in msg.walk():
        if part.is_multipart():
            continue
        try:
            data = part.get_payload(decode=True) or b""
        except Exception:  # a damaged part: nothing to save from it
            continue
        if not isinstance(data, bytes):
            continue
        yield clean_line(_filename(part)), part.get_content_type().lower(), data


def _filename(part) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        return ""
    if isinstance(name, str) and "=?" in name:
        from email.header import decode_header, make_header

        try:
            name = str(make_header(decode_header(name)))
        except Exception:
            pass
    return name if isinstance(name, str) else ""


def find_payload(raw: bytes, filename: str, content_type: str, size: int) -> bytes | None:
    """The decoded bytes of the part that intake recorded as (filename, content_type, size)."""
    loose = None
    for name, ctype, data in _parts(raw):
        if name == filename and ctype == content_type:
            if len(data) == size:
                return data
            loose = loose if loose is not None else data
    return loose


def write_new(path: str | Path, data: bytes) -> Path:
    """Write `data` to a new file (0600). Raises FileExistsError rather than overwrite anything."""
    path = Path(path).expanduser()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path
