"""Which new tickets get an automatic mail: a receipt, or the "we need details" request. Pure.

Never to:
- automated mail: any Auto-Submitted other than "no", Precedence bulk/list/junk (or auto_reply), a
  List-Id, an empty Return-Path, a MAILER-DAEMON or postmaster sender, X-Auto-Response-Suppress asking
  for no automatic answers, X-Autoreply/X-Autorespond (RFC 3834 and the practice around it);
- the desk's own addresses, or the staff's;
- mail that arrived before the desk first read the mailbox (a newly connected mailbox's history);
- a sender who already had an automatic mail within [replies] receipt_window (the caller looks that
  up last, since it takes a query).

An automatic mail is never first contact: the ticket stays new and its escalation runs on.
"""
from __future__ import annotations

from datetime import datetime
from email.message import Message
from typing import Collection

_BULK = {"bulk", "list", "junk", "auto_reply", "auto-reply"}
_ROBOTS = {"mailer-daemon", "postmaster"}
_SUPPRESS = {"all", "autoreply", "oof"}


def _token(value: str | None) -> str:
    v = (value or "").strip().lower()
    for sep in (";", "(", " ", "\t"):
        v = v.split(sep, 1)[0]
    return v.strip("\"'")


def automated(headers: Message, sender: str) -> str | None:
    """Why this mail looks machine-made (the header that says so), or None."""
    def values(name: str) -> list[str]:
        return [str(v) for v in (headers.get_all(name) or [])]

    for v in values("auto-submitted"):
        if _token(v) and _token(v) != "no":
            return f"Auto-Submitted: {_token(v)}"
    for v in values("precedence"):
        if _token(v) in _BULK:
            return f"Precedence: {_token(v)}"
    if values("list-id"):
        return "List-Id"
    for v in values("return-path"):
        if "".join(v.split()) == "<>":
            return "empty Return-Path"
    local = (sender or "").lower().rpartition("@")[0]
    if local in _ROBOTS:
        return f"sender {local}"
    for v in values("x-auto-response-suppress"):
        if {_token(p) for p in v.split(",")} & _SUPPRESS:
            return f"X-Auto-Response-Suppress: {v.strip()[:40]}"
    for name in ("x-autoreply", "x-autorespond"):
        if values(name):
            return name
    return None


def refusal(*, sender: str, automated_reason: str | None, own: Collection[str], arrived: datetime,
            history_before: datetime | None) -> str | None:
    """Why this new ticket gets no automatic mail, or None. `history_before`: when the desk first read the
    mailbox the mail came from (None: it came through `ingest`, or it is the mailbox's first mail)."""
    if automated_reason:
        return f"automated mail ({automated_reason})"
    if not sender or "@" not in sender:
        return "no sender address"
    if sender.lower() in own:
        return "our own address"
    if history_before is not None and arrived < history_before:
        return "history of a newly connected mailbox"
    return None
