"""Liveness rows written by pollers and read by consoles."""
from __future__ import annotations

import json
from datetime import datetime

from store.db import Database

from store.times import iso


def beat(db: Database, name: str, now: datetime, *, pid: int, host: str, **detail) -> None:
    db.execute(
        """INSERT INTO heartbeats (name, at, pid, host, detail) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET at = excluded.at, pid = excluded.pid, host = excluded.host,
               detail = excluded.detail""",
        [name, iso(now), pid, host, json.dumps(detail, default=str)],
    )


def heartbeats(db: Database) -> list[dict]:
    return [
        {"name": r[0], "at": r[1], "pid": r[2], "host": r[3], "detail": json.loads(r[4])}
        for r in db.execute("SELECT name, at, pid, host, detail FROM heartbeats ORDER BY name").fetchall()
    ]


def get(db: Database, name: str) -> dict | None:
    """One liveness row, as heartbeats() gives it, or None."""
    r = db.execute("SELECT name, at, pid, host, detail FROM heartbeats WHERE name = ?", [name]).fetchone()
    return {"name": r[0], "at": r[1], "pid": r[2], "host": r[3], "detail": json.loads(r[4])} if r else None
