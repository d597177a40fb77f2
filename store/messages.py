"""Stored mail: raw bytes first, parsed fields beside them, and where each copy was fetched from."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from sqlite_utils import Database

from store.times import iso

PUBLIC_COLUMNS = (
    "id", "ticket_id", "kind", "message_id", "sha256", "size", "oversize", "unparseable", "defects",
    "from_addr", "from_name", "recipients", "subject", "sent_date", "body_text", "attachments",
    "in_reply_to", "refs", "received_at", "stored_at", "source",
)
_JSON_COLUMNS = {"defects", "recipients", "attachments", "refs"}
_encode = json.JSONEncoder(default=str).encode  # json.dumps(v, default=str) builds an encoder per call


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def dedup_key(raw_sha256: str, message_id: str | None) -> str:
    # The same bytes are the same message; a reused Message-ID with other bytes is not.
    return f"{raw_sha256}|{message_id or ''}"


def tickets_for_message_ids(db: Database, message_ids: Iterable[str]) -> list[int]:
    """Tickets holding any of these Message-IDs, most recent message first."""
    ids = [m for m in dict.fromkeys(message_ids) if m]
    if not ids:
        return []
    rows = db.execute(
        f"SELECT DISTINCT ticket_id FROM messages WHERE message_id IN ({','.join('?' * len(ids))})"
        " AND ticket_id IS NOT NULL ORDER BY id DESC",
        ids,
    ).fetchall()
    return [r[0] for r in rows]


_INSERT_MESSAGE = (
    "INSERT INTO messages (id, ticket_id, kind, received_at, stored_at, source, raw, message_id, sha256, dedup_key,"
    " size, oversize, unparseable, defects, from_addr, from_name, recipients, subject, sent_date, body_text,"
    " attachments, in_reply_to, refs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def message_columns(fields: dict[str, Any], raw_sha256: str, size: int) -> tuple:
    """The columns of a messages row that follow from the mail alone, in _INSERT_MESSAGE's order after `raw`.
    Intake computes them in its parsing stage, off the write path."""
    get = fields.get
    defects, recipients, attachments, refs = (
        _encode(list(v)) if (v := get(k)) else "[]"
        for k in ("defects", "recipients", "attachments", "refs")
    )
    message_id = get("message_id")
    return (message_id, raw_sha256, dedup_key(raw_sha256, message_id), size, int(bool(get("oversize"))),
            int(bool(get("unparseable"))), defects, get("from_addr") or "", get("from_name") or "", recipients,
            get("subject") or "", get("sent_date"), get("body_text") or "", attachments, get("in_reply_to"), refs)


def dedup_key_of(columns: tuple) -> str:
    """The dedup key among message_columns()."""
    return columns[2]


def message_row(row_id: int | None, ticket_id: int | None, kind: str, received_at: str, now: str, source: str,
                raw: bytes, columns: tuple) -> tuple:
    """One messages row for insert_rows/insert_row (times already ISO text; `columns` from message_columns)."""
    return (row_id, ticket_id, kind, received_at, now, source, raw) + columns


def insert_rows(db: Database, rows: list[tuple]) -> None:
    db.conn.executemany(_INSERT_MESSAGE, rows)


def insert_row(db: Database, row: tuple) -> int:
    return db.execute(_INSERT_MESSAGE, row).lastrowid


def insert_message(db: Database, *, raw: bytes, raw_sha256: str, ticket_id: int | None, kind: str,
                   fields: dict[str, Any], received_at: datetime, now: datetime, source: str) -> int:
    columns = message_columns(fields, raw_sha256, len(raw))
    return insert_row(db, message_row(None, ticket_id, kind, iso(received_at), iso(now), source, raw, columns))


def known_sources(db: Database, account: str, folder: str, uidvalidity: int, uids: list[int]) -> dict[int, int]:
    """uid -> stored message row, for the uids of a batch already recorded (one query for the batch)."""
    if not uids:
        return {}
    rows = db.execute(
        "SELECT uid, message_row FROM message_sources WHERE account = ? AND folder = ? AND uidvalidity = ?"
        " AND uid BETWEEN ? AND ?",
        [account, folder, uidvalidity, min(uids), max(uids)],
    ).fetchall()
    wanted = set(uids)
    return {uid: row for uid, row in rows if uid in wanted}


def known_dedup_keys(db: Database, keys: list[str]) -> dict[str, tuple[int, int | None]]:
    """dedup key -> (message row, ticket id) for the keys of a batch already stored (one query per 500)."""
    out: dict[str, tuple[int, int | None]] = {}
    keys = list(dict.fromkeys(keys))
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        for key, row, ticket in db.execute(
            f"SELECT dedup_key, id, ticket_id FROM messages WHERE dedup_key IN ({','.join('?' * len(chunk))})", chunk
        ).fetchall():
            out[key] = (row, ticket)
    return out


_INSERT_SOURCE = ("INSERT OR IGNORE INTO message_sources (account, folder, uidvalidity, uid, message_row, seen_at)"
                  " VALUES (?, ?, ?, ?, ?, ?)")


def insert_source_rows(db: Database, rows: list[tuple]) -> None:
    """(account, folder, uidvalidity, uid, message_row, seen_at) rows."""
    db.conn.executemany(_INSERT_SOURCE, rows)


def _public(cols, values) -> dict[str, Any]:
    d = dict(zip(cols, values))
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
