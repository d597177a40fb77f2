"""Which new tickets get an automatic mail: a receipt, or the "we need details" request. Pure.

Never to:
- automated mail, as intake judges it (console.intake.autoreply.why_automatic: Auto-Submitted, Precedence,
  an empty Return-Path, MAILER-DAEMON or postmaster, a delivery report, X-Auto-Response-Suppress,
  X-Autoreply), and mail with a List-Id (a receipt would go to the whole list);
- the desk's own addresses, or the staff's;
- mail that arrived before the desk first read the mailbox (a newly connected mailbox's history);
- a sender who already had an automatic mail within [replies] receipt_window (the caller looks that
  up last, since it takes a query).

An automatic mail is never first contact: the ticket stays new and its escalation runs on.
"""
from __future__ import annotations

from collections.abc import Collection

def refusal(*, sender: str, automated_reason: str | None, own: Collection[str]) -> str | None:
    """Why this new ticket gets no automatic mail, or None. (A newly connected mailbox's history is
    skipped by the caller before it gets here, without a word: it is the whole of a first sync.)"""
    if automated_reason:
        return f"automated mail ({automated_reason})"
    if not sender or "@" not in sender:
        return "no sender address"
    if sender.lower() in own:
        return "our own address"
    return None
