"""The guards between a new ticket and its automatic mail (a receipt, a details request), after the rules
of receipts.refusal(): the sender must be authentic by our MTA's Authentication-Results (when
[replies] trusted_authserv_id is set), must not have had one within receipt_window (counted per mailbox:
+tags removed, case folded), and the desk-wide caps per hour and per recipient domain must not be
reached. Called inside intake's transaction, so what this batch queued counts too."""
from __future__ import annotations

from datetime import datetime, timedelta

from store.db import Database

from console.config import Config
from console.replies import authres, receipts
from store import automatic

HOUR = timedelta(hours=1)
AUTHENTICATION, CAP = "authentication", "cap"


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    """The header fields of a stored mail, in order, unfolded and decoded as intake decodes them."""
    from console.decoding import FOLD, raw_to_str
    from console.replies.desk import header_fields as parse_head

    return [(str(name), FOLD.sub("", raw_to_str(value))) for name, value in parse_head(raw).raw_items()]


def authentication(db: Database, cfg: Config, ticket: dict) -> authres.Verdict | None:
    """Our MTA's verdict on the sender of the ticket's first mail; None when no authserv-id is trusted."""
    ident = cfg.replies.trusted_authserv_id
    if not ident:
        return None
    raw = automatic.first_raw(db, ticket["id"])
    try:
        results = authres.trusted_results(header_fields(raw), ident)
    except Exception as exc:  # noqa: BLE001 - hostile mail never costs the ticket: the mail is withheld
        return authres.Verdict(False, f"its header could not be read ({type(exc).__name__})")
    return authres.judge(results, ticket["requester"] or "", ident)


def had_one_recently(db: Database, sender: str, since: datetime) -> bool:
    """Whether the sender's mailbox (any +tag, any case) had an automatic mail at or after `since`."""
    me = receipts.mailbox_of(sender)
    sent = automatic.recipients_in_domain_since(db, receipts.domain_of(sender), since)
    return any(receipts.mailbox_of(a) == me for a in sent)


def withheld(db: Database, cfg: Config, ticket: dict, now: datetime) -> tuple[str, str] | None:
    """(cause, why) when the automatic mail must not go: not authenticated, or a cap reached; else None."""
    verdict = authentication(db, cfg, ticket)
    if verdict is not None and not verdict.ok:
        return AUTHENTICATION, f"sender not authenticated: {verdict.why}"
    r = cfg.replies
    domain = receipts.domain_of(ticket["requester"] or "")
    why = receipts.cap_refusal(last_hour=automatic.queued_since(db, now - HOUR),
                               last_hour_domain=len(automatic.recipients_in_domain_since(db, domain, now - HOUR)),
                               domain=domain, per_hour=r.automatic_per_hour, per_domain=r.automatic_per_domain_per_hour)
    return (CAP, why) if why else None
