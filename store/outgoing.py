"""Mail the desk writes: outgoing messages and notes in the thread, and the mail outbox that sends them.

An outgoing mail is a messages row of kind 'outgoing' (its raw bytes are exactly what is sent) plus a
mail_outbox row, written in one transaction. A note is a messages row of kind 'note' and nothing else.

Outbox states: pending -> sending -> sent; sending -> pending again after a temporary failure (4xx,
connection refused), with next_attempt_at; sending -> failed on a permanent one (5xx), never retried;
sending -> expired when the sender died or the server's answer was lost mid-send: it may or may not
have gone out, so it is shown and only an operator sends it again (requeue).
"""
from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any
from collections.abc import Iterable

from store.db import Database

from store.db import StoreError, inserted_id
from store import messages, queue
from store.messages import content_sha256, dedup_key, sha256
from store.times import iso

COLUMNS = (
    "id", "message_row", "ticket_id", "purpose", "actor", "automatic", "mail_from", "to_addr", "rcpt_to", "state",
    "attempts", "next_attempt_at", "send_deadline", "claimed_by", "created_at", "sent_at", "last_error",
    "smtp_reply", "refused", "saved", "updated_at", "retry_since",
)
MAIL = queue.Queue("mail_outbox", COLUMNS, ("pending",), "outgoing mail")
_SELECT = MAIL.select
_JSON = ("rcpt_to", "refused")


def _row(values) -> dict[str, Any]:
    d = dict(zip(COLUMNS, values, strict=False))
    for k in _JSON:
        d[k] = json.loads(d[k])
    d["automatic"] = bool(d["automatic"])
    return d


def add_message(db: Database, *, ticket_id: int | None, kind: str, raw: bytes, message_id: str | None, from_addr: str,
                from_name: str, recipients: Iterable[str], subject: str, body_text: str, in_reply_to: str | None,
                refs: Iterable[str], now: datetime, source: str) -> int:
    """A messages row written by the desk ('outgoing' or 'note'). Its dedup key is the one intake computes
    for the same bytes, so a copy that comes back in (a Bcc, a Sent folder that is watched) is a duplicate."""
    digest = sha256(raw)
    # A note has no Message-ID: its key only has to be unique (two equal notes are two notes).
    key = dedup_key(content_sha256(raw), message_id) if message_id else f"{kind}|{digest}|{secrets.token_hex(8)}"
    fields = {"message_id": message_id, "from_addr": from_addr, "from_name": from_name, "recipients": list(recipients),
              "subject": subject, "sent_date": iso(now), "body_text": body_text, "in_reply_to": in_reply_to,
              "refs": list(refs)}
    return messages.insert_message(db, raw=raw, raw_sha256=digest, ticket_id=ticket_id, kind=kind, fields=fields,
                                   received_at=now, now=now, source=source, key=key)


def add_send(db: Database, *, message_row: int, ticket_id: int | None, purpose: str, actor: str, automatic: bool,
             mail_from: str, to_addr: str, rcpt_to: list[str], now: datetime) -> int:
    """The outbox row of an outgoing message, due at once."""
    return inserted_id(db.execute(
        "INSERT INTO mail_outbox (message_row, ticket_id, purpose, actor, automatic, mail_from, to_addr, rcpt_to,"
        " state, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
        [message_row, ticket_id, purpose, actor, int(automatic), mail_from, to_addr.lower(), json.dumps(rcpt_to),
         iso(now), iso(now), iso(now)],
    ))


def get_send(db: Database, send_id: int) -> dict[str, Any]:
    row = db.execute(f"{_SELECT} WHERE id = ?", [send_id]).fetchone()
    if row is None:
        raise StoreError(f"no outgoing mail {send_id}")
    return _row(row)


def failures_since(db: Database, since: datetime) -> list[dict[str, Any]]:
    """Mail that failed (5xx) or was cut short since `since`, oldest first: for the console's toasts."""
    rows = db.execute(f"{_SELECT} WHERE state IN ('failed', 'expired') AND updated_at >= ? ORDER BY updated_at, id",
                      [iso(since)]).fetchall()
    return [_row(r) for r in rows]


def raw_of(db: Database, send: dict[str, Any]) -> bytes:
    return messages.raw_message(db, send["message_row"])


def claim(db: Database, now: datetime, *, claimed_by: str, send_deadline: datetime, send_id: int | None = None,
          limit: int = 20, horizon: datetime | None = None) -> list[dict[str, Any]]:
    """Move due pending rows (or the one row `send_id`, if it is pending) to 'sending'. Call inside
    store.write(), so that two senders never claim one row. A row due beyond `horizon` counts as due
    (queue.due_condition)."""
    if send_id is not None:
        rows = db.execute(f"{_SELECT} WHERE id = ? AND state = 'pending'", [send_id]).fetchall()
    else:
        rows = queue.due_rows(db, MAIL, now, horizon, limit=limit)
    out = [_row(r) for r in rows]
    queue.mark_claimed(db, MAIL, [r["id"] for r in out], now, claimed_by=claimed_by, send_deadline=send_deadline)
    for r in out:
        r.update(state="sending", attempts=r["attempts"] + 1, claimed_by=claimed_by)
    return out


def _finish(db: Database, send_id: int, claimed_by: str, sets: str, params: list) -> bool:
    # An 'expired' row is still ours to finish: a poller that started meanwhile may have expired it,
    # but what happened to it is known now.
    return queue.settle(db, MAIL, send_id, sets, params, claimed_by=claimed_by, states=("sending", "expired"))


def mark_sent(db: Database, send_id: int, claimed_by: str, now: datetime, *, reply: str,
              refused: Iterable[str] = (), saved: str | None = None) -> bool:
    return _finish(db, send_id, claimed_by, "state = 'sent', sent_at = ?, smtp_reply = ?, refused = ?, saved = ?,"
                   " last_error = NULL, updated_at = ?", [iso(now), reply, json.dumps(list(refused)), saved, iso(now)])


def mark_retry(db: Database, send_id: int, claimed_by: str, now: datetime, *, error: str, at: datetime) -> bool:
    return _finish(db, send_id, claimed_by, "state = 'pending', last_error = ?, next_attempt_at = ?, updated_at = ?",
                   [error, iso(at), iso(now)])


def mark_failed(db: Database, send_id: int, claimed_by: str, now: datetime, *, error: str,
                refused: Iterable[str] = ()) -> bool:
    return _finish(db, send_id, claimed_by, "state = 'failed', last_error = ?, refused = ?, next_attempt_at = NULL,"
                   " updated_at = ?", [error, json.dumps(list(refused)), iso(now)])


def mark_unknown(db: Database, send_id: int, claimed_by: str, now: datetime, *, error: str) -> bool:
    return _finish(db, send_id, claimed_by, "state = 'expired', last_error = ?, next_attempt_at = NULL, updated_at = ?",
                   [error, iso(now)])


def set_saved(db: Database, send_id: int, saved: str) -> None:
    db.execute("UPDATE mail_outbox SET saved = ? WHERE id = ?", [saved, send_id])


def expire_orphans(db: Database, now: datetime, *, owner_prefix: str | None = None, me: str | None = None) -> int:
    """'sending' rows whose sender is gone become 'expired' (never resent blindly). A row is orphaned
    when its send deadline has passed or, with `owner_prefix`, when another sender of that kind (the
    previous poller: only one poller sends at a time) claimed it."""
    owner, params = ("", []) if owner_prefix is None else ("claimed_by LIKE ? AND claimed_by != ?",
                                                           [owner_prefix + "%", me or ""])
    return queue.expire_orphans(
        db, MAIL, now, extra_sets=", next_attempt_at = NULL", owner=owner, owner_params=params,
        error="the sender stopped during the send: it may or may not have gone out; not resent")


def orphans_due(db: Database, now: datetime) -> bool:
    return queue.orphans_due(db, MAIL, now)


def requeue(db: Database, send_id: int, now: datetime) -> dict[str, Any]:
    """An operator's deliberate resend of an expired or failed mail."""
    get_send(db, send_id)  # "no outgoing mail N"
    # A person's resend starts afresh: its own backoff, and its own give_up_after from now.
    queue.requeue(db, MAIL, send_id, now, allowed=("expired", "failed"), extra_sets=", retry_since = ?",
                  extra_params=[iso(now)],
                  refusal="outgoing mail {id} is {state}; only expired or failed mail can be sent again")
    return get_send(db, send_id)


def next_attempt_due(db: Database) -> str | None:
    return queue.next_due(db, MAIL)


def settle_sent(db: Database, send_id: int, claimed_by: str, now: datetime, *, reply: str) -> bool:
    """A mail the server accepted whose outcome could not be written at the time (the disk was full):
    settled as sent from the sender's journal (console.outbox.journal), never sent again."""
    return _finish(db, send_id, claimed_by, "state = 'sent', sent_at = coalesce(sent_at, ?), smtp_reply = ?,"
                   " last_error = NULL, next_attempt_at = NULL, updated_at = ?", [iso(now), reply, iso(now)])


def automatic_since(db: Database, address: str, since: datetime) -> bool:
    """Whether an automatic mail (receipt, details request) to `address` was queued at or after `since`."""
    return db.execute(
        "SELECT 1 FROM mail_outbox WHERE automatic = 1 AND to_addr = ? AND created_at >= ? LIMIT 1",
        [address.lower(), iso(since)],
    ).fetchone() is not None


def delivery_by_message(db: Database, message_rows: Iterable[int]) -> dict[int, dict[str, Any]]:
    """message row -> its outbox row, for the outgoing messages among `message_rows`."""
    ids = list(message_rows)
    if not ids:
        return {}
    rows = db.execute(f"{_SELECT} WHERE message_row IN ({','.join('?' * len(ids))})", ids).fetchall()
    return {r["message_row"]: r for r in map(_row, rows)}


def first_seen(db: Database, account: str, folder: str) -> str | None:
    """When the desk first stored mail from this mailbox (its first sync): what arrived before is history."""
    row = db.execute("SELECT min(seen_at) FROM message_sources WHERE account = ? AND folder = ?",
                     [account, folder]).fetchone()
    return row[0] if row else None


def health_counts(db: Database, since: datetime) -> dict[str, int]:
    """For the health assessment: mail waiting to go out, and mail that failed for good or was cut short
    since `since` (and has not been sent again by a person). Each count is answered by the state index."""
    pending = queue.count(db, MAIL, "pending") + queue.count(db, MAIL, "sending")
    failed = sum(queue.count(db, MAIL, s, where="updated_at >= ?", params=[iso(since)]) for s in ("failed", "expired"))
    return {"mail_pending": pending, "mail_failed": failed}
