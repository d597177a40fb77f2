"""Acknowledge tokens: which ticket, which person, which page, until when; signed with the desk's key.

Pure code: no clock, no files. A token is base64url (no padding) of

    version (1 byte) | ticket id | alert id | issued | expires (4 bytes each, big-endian) | handle (UTF-8)
    | HMAC-SHA256(key, domain + all of the above), first 16 bytes

The handle and ids are readable by whoever holds the link (they are on the page it opens anyway);
nothing in it can be changed without the key. `issued` is the page's own creation time, so a token
also names one row of one database: the same ids in a database made afresh do not match.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from datetime import datetime, UTC

VERSION = 1
_DOMAIN = b"support-console ack link v1\0"  # a signature made for anything else never verifies here
_HEAD = struct.Struct(">BIIII")
_SIG = 16  # bytes of the HMAC kept: 128 bits is far beyond guessing through a rate-limited form
MAX_HANDLE = 64
# What a token can look like at all; used by the HTTP route and to find one in a mail subject.
PATTERN = r"[A-Za-z0-9_-]{30,160}"
_SHAPE = re.compile(PATTERN)


class InvalidToken(Exception):
    """Not a token this desk signed (malformed, altered or forged). Says nothing more on purpose."""


@dataclass(frozen=True)
class Claim:
    ticket_id: int
    alert_id: int
    handle: str
    issued: datetime
    expires: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires


def _sign(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, _DOMAIN + body, hashlib.sha256).digest()[:_SIG]


def _secs(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("token times must be timezone-aware")
    return int(dt.timestamp())


def make(key: bytes, claim: Claim) -> str:
    handle = claim.handle.encode("utf-8")
    if not handle or len(handle) > MAX_HANDLE:
        raise ValueError(f"handle must be 1-{MAX_HANDLE} bytes")
    body = _HEAD.pack(VERSION, claim.ticket_id, claim.alert_id, _secs(claim.issued), _secs(claim.expires)) + handle
    return base64.urlsafe_b64encode(body + _sign(key, body)).rstrip(b"=").decode("ascii")


def read(key: bytes, token: str) -> Claim:
    """The claim of a token signed with `key`, expired or not; InvalidToken otherwise."""
    if not isinstance(token, str) or not _SHAPE.fullmatch(token):
        raise InvalidToken
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken from None
    if len(data) < _HEAD.size + 1 + _SIG or base64.urlsafe_b64encode(data).rstrip(b"=").decode() != token:
        raise InvalidToken  # too short, or a second spelling of the same bytes (stray low bits)
    body, sig = data[:-_SIG], data[-_SIG:]
    if not hmac.compare_digest(sig, _sign(key, body)):
        raise InvalidToken
    version, ticket_id, alert_id, issued, expires = _HEAD.unpack_from(body)
    if version != VERSION:
        raise InvalidToken
    try:
        handle = body[_HEAD.size:].decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidToken from None
    return Claim(ticket_id, alert_id, handle, datetime.fromtimestamp(issued, UTC),
                 datetime.fromtimestamp(expires, UTC))
