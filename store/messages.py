"""Stored mail: raw bytes first, parsed fields beside them, and where each copy was fetched from.

The raw bytes of mail that came in live in a table of their own, message_raw, zlib-compressed when that
makes them smaller: the messages table holds only what lists, threads and searches read, so its rows pack
densely and no scan of it reads mail. raw_message() gives the bytes back exactly as they were stored.
Mail the desk wrote (kind 'outgoing') keeps its bytes in messages.raw, where store.outgoing.raw_of reads
them to send; RAW_INLINE_KINDS goes once that reads through raw_message()."""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import zlib
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from collections.abc import Iterable

if TYPE_CHECKING:
    from store.db import Database

from store.db import inserted_id
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
    " attachments, in_reply_to, refs, search_extra)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Search: the full-text index (messages_fts, FTS5 with the unicode61 tokenizer, which lowers case and removes
# accents) covers these columns; sqlite-utils' triggers keep it in step with every insert, in its transaction.
FTS_COLUMNS = ("subject", "from_addr", "from_name", "body_text", "search_extra")
FTS_TOKENIZE = "unicode61 remove_diacritics 2"
SEARCH_BODY_CHARS = 1_000_000  # of a body, folded for search_extra: the work per message is bounded
_WORD = re.compile(r"[^\W_]+")


def search_fold(s: str) -> str:
    """console.fold's folding (store may not import console): compatibility forms decomposed, accents
    dropped, case folded, so "Grüße", "GRUSSE" and "grusse" are one word."""
    decomposed = unicodedata.normalize("NFKD", s)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def search_extra(*texts: str) -> str:
    """The folded form of each non-ASCII word, once: what unicode61 alone does not fold ("Grüße" ->
    "grusse", "ﬁle" -> "file"). Indexed beside the text, so a search for either spelling finds the mail.
    Mostly empty: ASCII words need nothing more."""
    words: dict[str, None] = {}
    for text in texts:
        if text and not text.isascii():
            for word in _WORD.findall(unicodedata.normalize("NFC", text)):
                if not word.isascii():
                    words.update(dict.fromkeys(_WORD.findall(search_fold(word))))
    return " ".join(words)


def message_columns(fields: dict[str, Any], raw_sha256: str, size: int, key: str | None = None) -> tuple:
    """The columns of a messages row that follow from the mail alone, in _INSERT_MESSAGE's order after `raw`."""
    get = fields.get
    defects, recipients, attachments, refs = (
        _encode(list(v)) if (v := get(k)) else "[]"
        for k in ("defects", "recipients", "attachments", "refs")
    )
    message_id = get("message_id")
    from_addr, from_name, subject, body = (get(k) or "" for k in ("from_addr", "from_name", "subject", "body_text"))
    return (message_id, raw_sha256, key or dedup_key(raw_sha256, message_id), size, int(bool(get("oversize"))),
            int(bool(get("unparseable"))), defects, from_addr, from_name, recipients, subject, get("sent_date"), body,
            attachments, get("in_reply_to"), refs,
            search_extra(subject, from_addr, from_name, body[:SEARCH_BODY_CHARS]))


RAW_INLINE_KINDS = frozenset({"outgoing"})
COMPRESS_AT_LEAST = 256  # bytes: below this zlib saves nothing worth a decompression
_FAST_ABOVE = 1024 * 1024  # bytes: a huge mail is compressed at zlib's fastest level (bounded work)


def pack_raw(raw: bytes) -> tuple[str, bytes]:
    """(codec, stored bytes): zlib when it makes the mail smaller, else the bytes as they are."""
    if len(raw) >= COMPRESS_AT_LEAST:
        packed = zlib.compress(raw, 1 if len(raw) > _FAST_ABOVE else 6)
        if len(packed) < len(raw):
            return "zlib", packed
    return "", raw


def unpack_raw(codec: str, data: bytes) -> bytes:
    return zlib.decompress(data) if codec == "zlib" else bytes(data)


def add_message(db: Database, *, ticket_id: int | None, kind: str, received_at: str, now: str, source: str,
                raw: bytes, columns: tuple) -> int:
    """One messages row and its raw bytes (times already ISO text; `columns` from message_columns), in the
    caller's transaction. Returns its id."""
    inline = kind in RAW_INLINE_KINDS
    params = (ticket_id, kind, received_at, now, source, raw if inline else b"") + columns
    row = inserted_id(db.execute(_INSERT_MESSAGE, params))
    if not inline:
        codec, data = pack_raw(raw)
        db.execute("INSERT INTO message_raw (message_id, codec, raw) VALUES (?, ?, ?)", [row, codec, data])
    return row


def insert_message(db: Database, *, raw: bytes, raw_sha256: str, ticket_id: int | None, kind: str,
                   fields: dict[str, Any], received_at: datetime, now: datetime, source: str,
                   key: str | None = None) -> int:
    return add_message(db, ticket_id=ticket_id, kind=kind, received_at=iso(received_at) or "", now=iso(now) or "",
                       source=source, raw=raw, columns=message_columns(fields, raw_sha256, len(raw), key))


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
        # INDEXED BY: with statistics the planner may otherwise scan every message for a few ids.
        "SELECT id, message_id, ticket_id, kind, from_addr FROM messages INDEXED BY messages_message_id"
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
    """A message's bytes exactly as stored (b"" for no such message), wherever they are kept."""
    row = db.execute("SELECT r.codec, r.raw, m.raw FROM messages m LEFT JOIN message_raw r ON r.message_id = m.id"
                     " WHERE m.id = ?", [message_row]).fetchone()
    if row is None:
        return b""
    return unpack_raw(row[0], row[1]) if row[1] is not None else bytes(row[2])


def count_messages(db: Database) -> int:
    return db.execute("SELECT count(*) FROM messages").fetchone()[0]


def rekey_all(db: Database) -> int:
    """Recompute every message's dedup key from its raw bytes (a migration after the key changed).
    Two stored rows that now collide keep their old keys: they were filed apart and stay apart."""
    changed = 0
    # One message in memory at a time: a desk's database holds gigabytes of mail.
    apart = db["message_raw"].exists()  # m103 runs this on a schema from before m2203 moved the bytes
    for row_id, message_id in db.execute("SELECT id, message_id FROM messages").fetchall():
        raw = raw_message(db, row_id) if apart else bytes(
            db.execute("SELECT raw FROM messages WHERE id = ?", [row_id]).fetchone()[0])
        key = dedup_key(content_sha256(raw), message_id)
        cur = db.execute("UPDATE OR IGNORE messages SET dedup_key = ? WHERE id = ?", [key, row_id])
        changed += cur.rowcount
    return changed
