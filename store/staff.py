"""Who may act, mirrored from the config's [[staff]] so every process checks the same roles.

Every process that loads the config rewrites the mirror (CLI commands before they act, the console
at start, the poller at start and on SIGHUP), so an open console sees a demotion or a removal as
soon as anyone has loaded the new config.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from store.db import Database

from store.rows import StaffRow

_COLS = "handle, name, role, active"


def _row(r: tuple[Any, ...]) -> StaffRow:
    return {"handle": r[0], "name": r[1], "role": r[2], "active": bool(r[3])}


def sync_staff(db: Database, people: Iterable[tuple[str, str, str]]) -> None:
    """Upsert (handle, name, role) as active; everyone else is marked gone. Gone people are kept:
    old tickets and events name them."""
    handles = []
    for handle, name, role in people:
        handles.append(handle)
        db.execute(
            "INSERT INTO staff (handle, name, role, active) VALUES (?, ?, ?, 1)"
            " ON CONFLICT (handle) DO UPDATE SET name = excluded.name, role = excluded.role, active = 1",
            [handle, name, role],
        )
    db.execute(f"UPDATE staff SET active = 0 WHERE active = 1 AND handle NOT IN ({','.join('?' * len(handles))})",
               handles)


def get_staff(db: Database, handle: str) -> StaffRow | None:
    """The person, gone or not (check `active`)."""
    row = db.execute(f"SELECT {_COLS} FROM staff WHERE handle = ?", [handle]).fetchone()
    return _row(row) if row else None


def all_staff(db: Database) -> list[StaffRow]:
    """Everyone in the current config (people gone from it stay in the table, marked inactive)."""
    return [_row(r) for r in db.execute(f"SELECT {_COLS} FROM staff WHERE active = 1 ORDER BY handle").fetchall()]
