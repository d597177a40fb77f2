"""UTC timestamps as fixed-width ISO 8601 text, so they sort as strings."""
from __future__ import annotations

from datetime import datetime, UTC
from functools import lru_cache
from typing import overload

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@overload
def iso(dt: datetime) -> str: ...
@overload
def iso(dt: None) -> None: ...
@overload
def iso(dt: datetime | None) -> str | None: ...


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        raise ValueError("naive datetime given to the store; all times must be aware")
    return _iso(dt)


@lru_cache(maxsize=4096)  # a batch formats the same `now` and arrival times many times over
def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime(FORMAT)


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return parse_required(text)


def parse_required(text: str) -> datetime:
    """A time the schema requires (a NOT NULL column, such as a ticket's received_at and due_at)."""
    return datetime.strptime(text, FORMAT).replace(tzinfo=UTC)
