"""Who may act, mirrored from the config's [[staff]] so every process checks the same roles."""
from __future__ import annotations

from typing import Iterable

from sqlite_utils import Database


def sync_staff(db: Database, people: Iterable[tuple[str, str, str]]) -> None:
    """Upsert (handle, name, role). People removed from the config are kept: old tickets name them."""
    for handle, name, role in people:
        db.execute(
            "INSERT INTO staff (handle, name, role) VALUES (?, ?, ?)"
            " ON CONFLICT (handle) DO UPDATE SET name = excluded.name, role = excluded.role",
            [handle, name, role],
        )


def get_staff(db: Database, handle: str) -> dict | None:
    row = db.execute("SELECT handle, name, role FROM staff WHERE handle = ?", [handle]).fetchone()
    return {"handle": row[0], "name": row[1], "role": row[2]} if row else None


def all_staff(db: Database) -> list[dict]:
    return [{"handle": r[0], "name": r[1], "role": r[2]}
            for r in db.execute("SELECT handle, name, role FROM staff ORDER BY handle").fetchall()]
