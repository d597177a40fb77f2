"""Silences in the pages sender: hold what an active silence matches, and tell each person once when it ends.

- Before each claim, a due page of a ticket (not a stand-down) that an active silence matches becomes
  'silenced', naming the silence: never sent, never lost, shown by `alerts` and the console.
- When a silence ends (its time, or `silence end`), its held pages of tickets still unacknowledged wait
  again (store.silences.release) and, as they are claimed, each person's are carried by one page: "silence
  ended: 41 tickets still unacknowledged: #14 #15 …" (release_text), whatever their senders.

What a silence matches (`matches`) is pure: a sender is an address, a domain is that domain or any below
it, a subject is a case-insensitive substring, or a shell pattern when it holds * or ?.
"""
from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from store.db import Database

from console import policy as pol
from console.ack import texts
from console.config import Config
from console.safe_text import clean_line
from store import silences as store
from store.errors import UsageError
from store.times import parse_iso

LONGEST = timedelta(hours=24)  # a silence must end; a longer window needs a new silence, on purpose
KIND_WORDS = {"sender": "sender", "domain": "domain", "subject": "subject"}


def matches(silence: Mapping[str, Any], requester: str | None, subject: str | None) -> bool:
    """Whether `silence` holds the pages of a ticket from `requester` about `subject`. Pure."""
    pattern = str(silence["pattern"]).strip().lower()
    if not pattern:
        return False
    address = (requester or "").strip().lower()
    if silence["kind"] == "sender":
        return address == pattern
    if silence["kind"] == "domain":
        domain = address.rpartition("@")[2]
        return bool(domain) and (domain == pattern or domain.endswith("." + pattern.lstrip(".")))
    if silence["kind"] == "subject":
        text = (subject or "").lower()
        if "*" in pattern or "?" in pattern:
            return fnmatch.fnmatchcase(text, pattern)
        return pattern in text
    return False


def first_match(active: Sequence[Mapping[str, Any]], requester: str | None, subject: str | None) -> int | None:
    """The id of the oldest active silence that holds this ticket's pages, or None. Pure."""
    return next((int(s["id"]) for s in active if matches(s, requester, subject)), None)


def validate(kind: str, pattern: str, length: timedelta, reason: str) -> str:
    """The pattern as stored, or UsageError with one line: a silence needs a target, a reason, and an end
    within LONGEST. Pure."""
    if kind not in store.KINDS:
        raise UsageError(f"a silence is for a sender, a domain or a subject, not {kind!r}")
    text = clean_line(pattern or "", 200).strip()
    if not text:
        raise UsageError(f"the {kind} to silence is empty")
    if kind == "sender" and "@" not in text:
        raise UsageError(f"not an address: {text!r} (for a whole domain use --domain)")
    if kind == "domain":
        text = text.lstrip("@").lower()
        if "@" in text or "." not in text:
            raise UsageError(f"not a domain: {text!r} (expected e.g. cust.example)")
    if not (reason or "").strip():
        raise UsageError("a silence needs a reason (--reason), so the desk knows why pages are held")
    if length <= timedelta(0):
        raise UsageError("a silence must last some time (e.g. --for 2h)")
    if length > LONGEST:
        raise UsageError(f"a silence lasts at most 24h, not {pol.format_duration(length)}; add a new one when it ends")
    return text


def describe(silence: Mapping[str, Any]) -> str:
    """"domain cust.example" — the words for a silence's target."""
    return f"{KIND_WORDS.get(str(silence['kind']), silence['kind'])} {clean_line(str(silence['pattern']), 80)}"


def hold_due(db: Database, now: datetime, horizon: datetime | None = None) -> int:
    """Hold the due pages that an active silence matches (call in the claiming transaction). Reads only the
    silences table when none is active."""
    active = store.active(db, now)
    if not active:
        return 0
    held = 0
    for page in store.due_ticket_pages(db, now, horizon):
        silence_id = first_match(active, page["requester"], page["subject"])
        if silence_id is not None:
            store.hold(db, page["id"], silence_id, now)
            held += 1
    return held


def release_ended(db: Database, now: datetime) -> list[tuple[dict[str, Any], int]]:
    """Release every silence that has ended: its held pages of unacknowledged tickets wait again. Call inside
    store.write(). Returns (silence, pages released) for each."""
    return [(s, store.release(db, s["id"], now)) for s in store.to_release(db, now)]


def release_text(carrier: Mapping[str, Any], carried: Sequence[Mapping[str, Any]], silence: Mapping[str, Any] | None,
                 cfg: Config) -> tuple[str, str]:
    """The one page a person gets when a silence ends: every ticket of theirs it held that is still
    unacknowledged. Pure."""
    ids = sorted({int(carrier["ticket_id"])} | {int(c["ticket_id"]) for c in carried})
    what = describe(silence) if silence else "a silence"
    shown = " ".join(f"#{i}" for i in ids[:10]) + (" …" if len(ids) > 10 else "")
    senders = Counter(str(c["requester"]) for c in carried)
    top = f" (most from {clean_line(senders.most_common(1)[0][0], 60)})" if senders else ""
    title = texts.fit_title(f"silence on {what} ended: {len(ids)} unacknowledged: ", shown, top)
    dues = [d for d in (parse_iso(c["due_at"]) for c in [carrier, *carried]) if d is not None]
    oldest = min(dues).astimezone(cfg.timezone).strftime("%H:%M") if dues else "-"
    reason = clean_line(str(silence["reason"]), 200) if silence else ""
    body = (f"The silence on {what} ({reason}) has ended. Its pages were held, not lost; these tickets are still"
            f" unacknowledged: {' '.join(f'#{i}' for i in ids)}. Oldest page due {oldest}.\n"
            f"{carrier['title']}\n{carrier['body']}\n"
            "This page's link lists them all and acknowledges every one you may; or one by one: support-console"
            " ack N, or marks and 'A' in the console.")
    return title, body


def bundle_released(db: Database, cfg: Config, carrier: dict[str, Any], now: datetime, batch: list[int]
                    ) -> list[dict[str, Any]]:
    """Carry the person's other released pages on `carrier` and word it (call in the claiming transaction)."""
    carried = store.release_bundle(db, carrier, now, batch)
    silence = store.get(db, int(carrier["silenced_by"]))
    title, body = release_text(carrier, carried, silence, cfg)
    from store import outbox

    outbox.set_text(db, carrier["id"], title, body)
    carrier.update(title=title, body=body)
    return carried
