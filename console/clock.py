"""The one clock. Logic takes `now` from a Clock; tests inject a frozen one."""
from __future__ import annotations

from datetime import datetime, timedelta, UTC
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """Moves only when told to."""

    def __init__(self, at: datetime):
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta | float) -> None:
        self._at += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)

