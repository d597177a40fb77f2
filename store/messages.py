"""Stored mail: raw bytes first, parsed fields beside them, and where each copy was fetched from."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from collections.abc import Iterable

if TYPE_CHECKING:
    from sqlite_utils import Database

from store.times import iso

PUBLIC_COLUMNS = (
    "id", "ticket_id", "kind", "message_id", "sha256", "size", "oversize", "unparseable", "defects",
    "from_addr", "from_name", "recipients", "subject", "sent_date", "body_text", "attachments",
    "in_reply_to", "refs", "received_at", "stored_at", "source",
)
_JSON_COLUMNS = {"defects", "recipients", "attachments", "refs"}
_encode = json.JSONEncoder(default=str).encode

# Header fields that relays and delivery add on the way: the same mail delivered twice, or once per
# recipient, differs only in these. The dedup key ignores them (and line endings).
TRACE_FIELDS = frozenset({"received", "delivered-to", "x-original-to", "return-path", "authentication-results",
                          "x-envelope-to", "x-envelope-from", "envelope-to", "x-delivered-to"})
TRACE_PREFIXES = ("arc-", "x-spam-")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LINE = re.compile(rb"[^\n]*\n|[^\n]+")


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _is_trace(line: bytes) -> bool:
    name = line.split(b":", 1)[0].strip().lower()
    try:
        text = name.decode("ascii")
    except UnicodeDecodeError:
        return False
    return text in TRACE_FIELDS or text.startswith(TRACE_PREFIXES)


def content_sha256(raw: bytes) -> str:
    """The hash of a message without its trace fields and with LF line endings: what stays the same
    when a relay adds a Received line or a per-recipient pipe a Delivered-To. Linear in the size."""
    m = _HEADER_END.search(raw)
    head, body = (raw[:m.start()], raw[m.end():]) if m else (raw, None)
    h = hashlib.sha256()
    skipping = False
    for line in _LINE.findall(head.replace(b"\r\n", b"\n")):
        line = line if line.endswith(b"\n") else line + b"\n"
        if line[:1] in (b" ", b"\t"):  # a continuation belongs to the field above it
            if not skipping:
                h.update(line)
            continue
        skipping = _is_trace(line)
        if not skipping:
            h.update(line)
    if body is not None:
        h.update(b"\n" + body.replace(b"\r\n", b"\n"))
    return h.hexdigest()


def dedup_key(content_sha: str, message_id: str | None) -> str:
    # The same content is the same message; a reused Message-ID with other content is not.
    return f"{content_sha}|{message_id or ''}"


_INSERT_MESSAGE = (
    "INSERT INTO messages (ticket_id, kind, received_at, stored_at, source, raw, message_id, sha256, dedup_key,"
    " size, oversize, unparseable, defects, from_addr, from_name, recipients, subject, sent_date, body_text,"
    " attachments, in_reply_to, refs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def message_columns(fields: dict[str, Any], raw_sha256: str, size: int, key: str | None = None) -> tuple:
    """The columns of a messages row that follow from the mail alone, in _INSERT_MESSAGE's order after `raw`."""
    get = fields.get
    defects, recipients, attachments, refs = (
        _encode(list(v)) if (v := get(k)) else "[]"
        for k in ("defects", "recipients", "attachments", "refs")
    )
    message_id = get("message_id")
    return (message_id, raw_sha256, key or dedup_key(raw_sha256, message_id), size, int(bool(get("oversize"))),
            int(bool(get("unparseable"))), defects, get("from_addr") or "", get("from_name") or "", recipients,
            get("subject") or "", get("sent_date"), get("body_text") or "", attachments, get("in_reply_to"), refs)


def add_message(db: Database, *, ticket_id: int | None, kind: str, received_at: str, now: str, source: str,
                raw: bytes, columns: tuple) -> int:
    """One messages row (times already ISO text; `columns` from message_columns). Returns its id."""
    return db.execute(_INSERT_MESSAGE, (ticket_id, kind, received_at, now, source, raw) + columns).lastrowid


def insert_message(db: Database, *, raw: bytes, raw_sha256: str, ticket_id: int | None, kind: str,
                   fields: dict[str, Any], received_at: datetime, now: datetime, source: str,
                   key: str | None = None) -> int:
    return add_message(db, ticket_id=ticket_id, kind=kind, received_at=iso(received_at), now=iso(now), source=source,
                       raw=raw, columns=message_columns(fields, raw_sha256, len(raw), key))


def find_duplicate(db: Database, key: str) -> tuple[int, int | None] | None:
    """(message row, ticket id) of the stored message with this dedup key."""
    row = db.execute("SELECT id, ticket_id FROM messages WHERE dedup_key = ?", [key]).fetchone()
    return (row[0], row[1]) if row else None


def find_source(db: Database, account: str, folder: str, uidvalidity: int, uid: int) -> tuple[int, int | None] | None:
    """(message row, ticket id) already recorded for this mailbox copy."""
    row = db.execute(
        "SELECT s.message_row, m.ticket_id FROM message_sources s JOIN messages m ON m.id = s.message_row"
        " WHERE s.account = ? AND s.folder = ? AND s.uidvalidity = ? AND s.uid = ?",
        [account, folder, uidvalidity, uid],
    ).fetchone()
    return (row[0], row[1]) if row else None


def add_source(db: Database, account: str, folder: str, uidvalidity: int, uid: int, message_row: int,
               now: str) -> None:
    db.execute("INSERT OR IGNORE INTO message_sources (account, folder, uidvalidity, uid, message_row, seen_at)"
               " VALUES (?, ?, ?, ?, ?, ?)", [account, folder, uidvalidity, uid, message_row, now])


class Candidate(NamedTuple):
    row: int
    message_id: str
    ticket_id: int
    kind: str
    from_addr: str


def thread_candidates(db: Database, message_ids: Iterable[str]) -> list[Candidate]:
    """Filed messages holding any of these Message-IDs. One bound parameter (a JSON list), however many."""
    ids = [m for m in dict.fromkeys(message_ids) if m]
    if not ids:
        return []
    rows = db.execute(
        "SELECT id, message_id, ticket_id, kind, from_addr FROM messages"
        " WHERE message_id IN (SELECT value FROM json_each(?)) AND ticket_id IS NOT NULL ORDER BY id DESC",
        [_encode(ids)],
    ).fetchall()
    return [Candidate(*r) for r in rows]


def replies_to(db: Database, message_id: str) -> list[tuple[int, str]]:
    """(ticket id, sender) of filed mail whose In-Reply-To is this Message-ID, the earliest first."""
    return [(r[0], r[1]) for r in db.execute(
        "SELECT ticket_id, from_addr FROM messages WHERE in_reply_to = ? AND ticket_id IS NOT NULL"
        " AND kind IN ('new', 'reply') ORDER BY id LIMIT 20", [message_id]).fetchall()]


def _public(cols, values) -> dict[str, Any]:
    d = dict(zip(cols, values, strict=False))
    for k in _JSON_COLUMNS & d.keys():
        d[k] = json.loads(d[k])
    for k in ("oversize", "unparseable"):
        if k in d:
            d[k] = bool(d[k])
    return d


def messages_for(db: Database, ticket_id: int) -> list[dict[str, Any]]:
    rows = db.execute(
        f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM messages WHERE ticket_id = ? ORDER BY received_at, id", [ticket_id]
    ).fetchall()
    return [_public(PUBLIC_COLUMNS, r) for r in rows]


def unfiled_messages(db: Database) -> list[dict[str, Any]]:
    """Auto-replies and bounces that could not be attached to a ticket: kept and shown, never dropped."""
    rows = db.execute(
        f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM messages WHERE ticket_id IS NULL ORDER BY id"
    ).fetchall()
    return [_public(PUBLIC_COLUMNS, r) for r in rows]


def raw_message(db: Database, message_row: int) -> bytes:
    row = db.execute("SELECT raw FROM messages WHERE id = ?", [message_row]).fetchone()
    return bytes(row[0]) if row else b""


def count_messages(db: Database) -> int:
    return db.execute("SELECT count(*) FROM messages").fetchone()[0]


def rekey_all(db: Database) -> int:
    """Recompute every message's dedup key from its raw bytes (a migration after the key changed).
    Two stored rows that now collide keep their old keys: they were filed apart and stay apart."""
    changed = 0
    # One message in memory at a time: a desk's database holds gigabytes of mail.
    for (row_id,) in db.execute("SELECT id FROM messages").fetchall():
        raw, message_id = db.execute("SELECT raw, message_id FROM messages WHERE id = ?", [row_id]).fetchone()
        key = dedup_key(content_sha256(bytes(raw)), message_id)
        cur = db.execute("UPDATE OR IGNORE messages SET dedup_key = ? WHERE id = ?", [key, row_id])
        changed += cur.rowcount
    return changed
