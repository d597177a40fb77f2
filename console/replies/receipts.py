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


def check_line(replies) -> str | None:
    """`check`'s line on automatic mail ([replies] config): a warning when it goes out with no check of
    who the sender is; None when there is no automatic mail."""
    if not (replies.receipt or replies.details_request):
        return None
    if replies.trusted_authserv_id:
        return (f"replies: automatic mail only to senders that pass DMARC at {replies.trusted_authserv_id}; "
                f"at most {replies.automatic_per_hour} an hour, {replies.automatic_per_domain_per_hour} to one domain")
    return forgery_warning(replies)


def forgery_warning(replies) -> str | None:
    """The warning when automatic mail goes out with no check of who the sender is."""
    if not (replies.receipt or replies.details_request) or replies.trusted_authserv_id:
        return None
    return ("replies: WARNING: receipts can be forged: without replies.trusted_authserv_id (your receiving MTA's "
            "id in Authentication-Results) anyone can make the desk write to any address by forging From; "
            f"at most {replies.automatic_per_hour} an hour, {replies.automatic_per_domain_per_hour} to one domain")


def mailbox_of(addr: str) -> str:
    """The mailbox an address reaches, for counting: the +tag removed and case folded
    (VICTIM+7@Bank.test and victim+8@bank.test are one person's)."""
    local, at, domain = (addr or "").strip().rpartition("@")
    if not at:
        return addr.casefold()
    return f"{local.split('+', 1)[0].casefold()}@{domain.casefold()}"


def domain_of(addr: str) -> str:
    return (addr or "").rpartition("@")[2].strip().lower()  # as the outbox stores addresses


def cap_refusal(*, last_hour: int, last_hour_domain: int, domain: str, per_hour: int, per_domain: int) -> str | None:
    """Why the desk-wide caps stop one more automatic mail now, or None."""
    if last_hour >= per_hour:
        return f"the desk sent {last_hour} automatic mails in the last hour (replies.automatic_per_hour = {per_hour})"
    if last_hour_domain >= per_domain:
        return (f"the desk sent {last_hour_domain} automatic mails to {domain} in the last hour "
                f"(replies.automatic_per_domain_per_hour = {per_domain})")
    return None
