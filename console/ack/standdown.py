"""Stand down: on every way out of Class III paging, everyone paged for the ticket so far hears so:
acknowledgement (by any path: console, CLI, link, mail, a reply to the customer), resolving a ticket
nobody had acknowledged, and a downgrade (reclassified from Class III to a lower class, panic mode or not).

Called inside the acting transaction, so the notices are outbox rows committed with the action itself
(they go out even if the process that acted exits at once), one per person, with a dedup key per ticket,
person and action. Someone already stood down (by a downgrade) is told again only if paged again since.
"""
from __future__ import annotations

from datetime import datetime

from store.db import Database

from console.ack import texts
from console.config import Config
from store import audit, outbox
from store.times import iso


def notify(db: Database, cfg: Config, ticket: dict, actor: str, now: datetime,
           verb: str = "acknowledged") -> list[int]:
    """Queue "#N <verb> by <actor>, stand down" for each person paged for the ticket, except the actor."""
    title, body = texts.standdown_text(ticket, actor, verb, now, cfg)
    return _queue(db, ticket, actor, now, title, body, ticket.get("acknowledged_at") or iso(now))


def downgraded(db: Database, cfg: Config, ticket: dict, previous: str, actor: str, now: datetime) -> list[int]:
    """A Class III that was never acknowledged moved to a lower class: its pages stop (its new class's
    clock runs on), so those paged hear "#N moved to Class I by Ann, stand down"."""
    title, body = texts.downgrade_text(ticket, previous, actor, now, cfg)
    return _queue(db, ticket, actor, now, title, body, f"to-{ticket['class']}@{iso(now)}")


def _queue(db: Database, ticket: dict, actor: str, now: datetime, title: str, body: str, key: str) -> list[int]:
    tid = ticket["id"]
    created, told = [], []
    for target in outbox.standdown_targets(db, tid):
        if target == actor:
            continue
        alert_id = outbox.add_alert(
            db, dedup_key=f"t{tid}:{outbox.STANDDOWN}:{key}:{target}", ticket_id=tid, cls=ticket["class"],
            step=outbox.STANDDOWN, audience="paged", target=target, urgent=False, title=title, body=body,
            due_at=now, now=now,
        )
        if alert_id:
            created.append(alert_id)
            told.append(target)
    if told:
        audit.add_event(db, tid, "stand_down_due", actor, now, targets=told)
    return created
