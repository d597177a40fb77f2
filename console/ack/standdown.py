"""Stand down: once a ticket is acknowledged (by any path), everyone paged for it so far hears so.

Called inside the acknowledging transaction, so the notices are outbox rows committed with the
acknowledgement itself (they go out even if the process that acknowledged exits at once), one per
person, with a dedup key per ticket, person and acknowledgement.
"""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from console.ack import texts
from console.config import Config
from store import audit, outbox
from store.times import iso


def notify(db: Database, cfg: Config, ticket: dict, actor: str, now: datetime,
           verb: str = "acknowledged") -> list[int]:
    """Queue "#N <verb> by <actor>, stand down" for each person paged for the ticket, except the actor."""
    tid = ticket["id"]
    title, body = texts.standdown_text(ticket, actor, verb, now, cfg)
    since = ticket.get("acknowledged_at") or iso(now)
    created, told = [], []
    for target in outbox.paged_targets(db, tid):
        if target == actor:
            continue
        alert_id = outbox.add_alert(
            db, dedup_key=f"t{tid}:{outbox.STANDDOWN}:{since}:{target}", ticket_id=tid, cls=ticket["class"],
            step=outbox.STANDDOWN, audience="paged", target=target, urgent=False, title=title, body=body,
            due_at=now, now=now,
        )
        if alert_id:
            created.append(alert_id)
            told.append(target)
    if told:
        audit.add_event(db, tid, "stand_down_due", actor, now, targets=told)
    return created
