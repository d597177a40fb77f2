"""On-call overrides: a supervisor puts someone on call for a while. Stored with an audit event."""
from __future__ import annotations

from datetime import datetime, timedelta

from store.db import Database

from console.actions import ActionRefused, PermissionRefused, acting, person_now
from console.config import Config
from console.identity import as_actor
from store import audit, oncall as store_oncall, write


def parse_local(text: str, cfg: Config, now: datetime) -> datetime:
    """'2026-12-01 09:00' in the desk's time zone, or a duration from now such as '8h'."""
    from console.policy import parse_duration

    try:
        return now + parse_duration(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ActionRefused(f"not a time: {text!r} (use 'YYYY-MM-DD HH:MM' or a duration like 8h)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=cfg.timezone)
    return dt


def add_override(db: Database, cfg: Config, *, handle: str, position: str, start: datetime, end: datetime,
                 actor: str, now: datetime) -> int:
    with write(db):
        if acting(db, cfg, actor)["role"] != "supervisor":
            raise PermissionRefused("only a supervisor may change who is on call")
        if person_now(db, cfg, handle) is None:
            raise ActionRefused(f"{handle!r} is not on the staff list")
        if end <= start:
            raise ActionRefused("the override must end after it starts")
        if end - start > timedelta(days=60):
            raise ActionRefused("an override may last at most 60 days; change [oncall] rotation instead")
        who = as_actor(actor).recorded
        oid = store_oncall.add_override(db, start=start, end=end, position=position, handle=handle, actor=who,
                                        now=now)
        audit.add_event(db, None, "oncall_override", who, now, handle=handle, position=position,
                        start=start.isoformat(), end=end.isoformat(), override=oid)
        return oid
