"""The desk's silence actions, shared by the CLI (`silence add|list|end`) and the console's dialog: who may
(supervisors), the one-line refusals, and an audit event for each, in one short transaction. What a silence
holds and how it ends is console/outbox/silences.py."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from store.db import Database

from console.actions import PermissionRefused, acting
from console.config import Config
from console.identity import as_actor
from console.outbox import silences
from store import audit, write
from store import silences as store
from store.errors import NeedsFixing


class NoSuchSilence(NeedsFixing):
    """`silence end ID` for an id that names no silence."""


def add(db: Database, cfg: Config, *, kind: str, pattern: str, length: timedelta, reason: str, actor: str,
        now: datetime, ticket_id: int | None = None) -> dict[str, Any]:
    """Start a silence (supervisors only): pages of matching tickets are held until now + `length` (at most
    a day). `ticket_id`: the ticket it was started from, for the audit trail. Returns the silence."""
    text = silences.validate(kind, pattern, length, reason)
    with write(db):
        person = acting(db, cfg, actor)
        who = as_actor(actor)
        if person["role"] != "supervisor":
            raise PermissionRefused(f"{who.handle} may not silence pages: supervisors only")
        silence_id = store.add(db, kind=kind, pattern=text, reason=reason.strip(), by=who.recorded, now=now,
                               ends_at=now + length)
        audit.add_event(db, ticket_id, "silence_added", who.recorded, now, silence=silence_id, target=kind,
                        pattern=text, reason=reason.strip(), ends_at=(now + length).isoformat())
        found = store.get(db, silence_id)
        assert found is not None
        return found


def end(db: Database, cfg: Config, silence_id: int, actor: str, now: datetime) -> tuple[dict[str, Any], int]:
    """End a silence now (supervisors only). Its held pages of tickets still unacknowledged are released at
    once, as one page per person. Returns the silence and how many pages were released."""
    with write(db):
        person = acting(db, cfg, actor)
        who = as_actor(actor)
        if person["role"] != "supervisor":
            raise PermissionRefused(f"{who.handle} may not end a silence: supervisors only")
        found = store.get(db, silence_id)
        if found is None:
            raise NoSuchSilence(f"no silence {silence_id} (see: support-console silence list)")
        if not store.end(db, silence_id, who.recorded, now):
            raise NoSuchSilence(f"silence {silence_id} has already ended")
        released = store.release(db, silence_id, now)
        audit.add_event(db, None, "silence_ended", who.recorded, now, silence=silence_id, pages=released)
        return {**found, "ended_at": now.isoformat(), "ended_by": who.recorded}, released
