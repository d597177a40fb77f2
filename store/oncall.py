"""On-call overrides (the rotation itself lives in the config)."""
from __future__ import annotations

from datetime import datetime

from store.db import Database

from store.db import inserted_id
from store.times import iso, parse_iso


def add_override(db: Database, *, start: datetime, end: datetime, position: str, handle: str, actor: str,
                 now: datetime) -> int:
    cur = db.execute(
        'INSERT INTO oncall_overrides (start, "end", position, handle, created_by, created_at)'
        " VALUES (?, ?, ?, ?, ?, ?)",
        [iso(start), iso(end), position, handle, actor, iso(now)],
    )
    return inserted_id(cur)


def overrides_active_or_future(db: Database, now: datetime) -> list[dict]:
    rows = db.execute(
        'SELECT id, start, "end", position, handle, created_by FROM oncall_overrides WHERE "end" > ? ORDER BY start',
        [iso(now)],
    ).fetchall()
    return [{"id": r[0], "start": parse_iso(r[1]), "end": parse_iso(r[2]), "position": r[3], "handle": r[4],
             "created_by": r[5]} for r in rows]
