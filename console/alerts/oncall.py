"""Who is on call: a weekly rotation plus overrides.

Pure code: no I/O and no clock of its own; ``now`` is always a parameter.
Datetime arguments must be timezone-aware (any zone); results are UTC.

The rotation hands off once a week at a local wall-clock time in
``Rotation.tz`` ("mon 09:00" stays 09:00 local across DST, so a shift that
spans a DST change lasts 167 or 169 hours). In the week that contains the
date ``anchor`` (the config's ``start``; ``init`` writes today), ``handles[0]``
is primary on the whole of that day, whatever its weekday and the time of
day: shift 0 runs from the last handoff at or before the day begins to the
first handoff at or after it ends. When ``anchor`` falls on the handoff's
weekday after the handoff's time of day has begun (``start`` a Monday,
``handoff = "mon 09:00"``), that day's handoff is skipped, so shift 0 lasts
two weeks, one of them before the desk started. Each later handoff moves one
place along: primary ``handles[k % n]``, secondary ``handles[(k + 1) % n]``
(None when the rotation has one person).

An active override (``start <= now < end``) replaces one position. When
several overlap for a position, the one that started latest wins (on a tie,
the one later in the sequence).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, UTC
from collections.abc import Iterable, Sequence
from typing import NamedTuple
from zoneinfo import ZoneInfo

__all__ = ["Rotation", "Override", "OnCall", "POSITIONS", "on_call", "handoffs"]

POSITIONS = ("primary", "secondary")


def _utc(dt: datetime, what: str) -> datetime:
    if not isinstance(dt, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(dt).__name__}")
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {dt.isoformat()}")
    return dt.astimezone(UTC)


class _RotationFields(NamedTuple):
    handles: tuple[str, ...]
    handoff_weekday: int  # 0 = Monday
    handoff_time: time  # local, in tz
    tz: ZoneInfo
    anchor: date = date(2024, 1, 1)  # the shift that covers this whole local day has handles[0] as primary


# Read-only records that check their values when made. NamedTuples rather than frozen dataclasses: a
# dataclass writes and compiles its methods in every process that defines one, and a Class III `ingest`
# defines these before it pages.
class Rotation(_RotationFields):
    __slots__ = ()

    def __new__(cls, handles: Iterable[str], handoff_weekday: int, handoff_time: time, tz: ZoneInfo,
                anchor: date = date(2024, 1, 1)) -> Rotation:
        if isinstance(handles, str):
            raise ValueError("rotation handles must be a sequence of handles, not one string")
        handles = tuple(handles)
        if not handles:
            raise ValueError("on-call rotation needs at least one handle")
        if any(not isinstance(h, str) or not h for h in handles):
            raise ValueError(f"on-call rotation handles must be non-empty strings, got {handles!r}")
        if not isinstance(handoff_weekday, int) or not 0 <= handoff_weekday <= 6:
            raise ValueError(f"handoff weekday must be 0 (Mon) to 6 (Sun), got {handoff_weekday!r}")
        if not isinstance(handoff_time, time) or handoff_time.tzinfo is not None:
            raise ValueError("handoff time must be a local datetime.time without tzinfo")
        return super().__new__(cls, handles, handoff_weekday, handoff_time, tz, anchor)

    def _regular(self, j: int) -> datetime:
        """UTC time of the j-th weekly handoff counted from the handoff weekday on or before ``anchor``."""
        d = self.anchor - timedelta(days=(self.anchor.weekday() - self.handoff_weekday) % 7) + timedelta(weeks=j)
        # fold=0; a handoff inside a DST gap is normalised forward through UTC.
        return datetime.combine(d, self.handoff_time, tzinfo=self.tz).astimezone(UTC)

    def _bounds(self) -> tuple[int, int]:
        """(first, last): the regular handoffs that open and close shift 0, the shift that covers the whole
        local day ``anchor``: the last at or before its midnight, the first at or after the next midnight."""
        day_starts = datetime.combine(self.anchor, time(0), tzinfo=self.tz).astimezone(UTC)
        day_ends = datetime.combine(self.anchor + timedelta(days=1), time(0), tzinfo=self.tz).astimezone(UTC)
        first = 0
        while self._regular(first) > day_starts:
            first -= 1
        last = first + 1
        while self._regular(last) < day_ends:
            last += 1
        return first, last

    def handoff(self, k: int) -> datetime:
        """UTC time of handoff number ``k``: shift k runs from handoff(k) to handoff(k + 1), and shift 0
        covers the whole day ``anchor`` (k may be negative)."""
        first, last = self._bounds()
        return self._regular(first + k if k <= 0 else last + k - 1)

    def week_index(self, now: datetime) -> int:
        """k such that ``handoff(k) <= now < handoff(k + 1)``."""
        now_u = _utc(now, "now")
        k = (now_u.astimezone(self.tz).date() - self.anchor).days // 7
        while self.handoff(k) > now_u:
            k -= 1
        while self.handoff(k + 1) <= now_u:
            k += 1
        return k

    def positions(self, k: int) -> tuple[str, str | None]:
        n = len(self.handles)
        return self.handles[k % n], (self.handles[(k + 1) % n] if n > 1 else None)


class _OverrideFields(NamedTuple):
    start: datetime
    end: datetime
    position: str  # "primary" | "secondary"
    handle: str


class Override(_OverrideFields):
    __slots__ = ()

    def __new__(cls, start: datetime, end: datetime, position: str, handle: str) -> Override:
        if position not in POSITIONS:
            raise ValueError(f"override position must be 'primary' or 'secondary', got {position!r}")
        if not isinstance(handle, str) or not handle:
            raise ValueError("override handle must be a non-empty string")
        if _utc(end, "override end") <= _utc(start, "override start"):
            raise ValueError("override end must be after its start")
        return super().__new__(cls, start, end, position, handle)

    def active(self, now: datetime) -> bool:
        return _utc(self.start, "start") <= now < _utc(self.end, "end")


class OnCall(NamedTuple):
    primary: str | None
    secondary: str | None
    since: datetime  # UTC
    until: datetime  # UTC


def on_call(rotation: Rotation, now: datetime, overrides: Sequence[Override] = ()) -> OnCall:
    """Who is primary and secondary at ``now``.

    ``since``/``until`` are the current shift's handoffs, narrowed by any
    override start or end that falls inside the shift, so the answer holds
    for the whole ``[since, until)`` interval and ``until`` is the next time
    it may change.
    """
    now_u = _utc(now, "now")
    k = rotation.week_index(now_u)
    primary, secondary = rotation.positions(k)
    since, until = rotation.handoff(k), rotation.handoff(k + 1)

    chosen: dict[str, tuple[datetime, int, Override]] = {}
    for i, ov in enumerate(overrides):
        start, end = _utc(ov.start, "override start"), _utc(ov.end, "override end")
        for edge in (start, end):
            if since < edge <= now_u:
                since = edge
            elif now_u < edge < until:
                until = edge
        if start <= now_u < end:
            key = (start, i)
            if ov.position not in chosen or key > chosen[ov.position][:2]:
                chosen[ov.position] = (start, i, ov)
    displaced = primary
    if "primary" in chosen:
        primary = chosen["primary"][2].handle
    if "secondary" in chosen:
        secondary = chosen["secondary"][2].handle
    elif primary == secondary and displaced != primary:
        # The secondary stepped up to primary: the displaced primary backs them up.
        secondary = displaced
    return OnCall(primary=primary, secondary=secondary, since=since, until=until)


def handoffs(rotation: Rotation, now: datetime, count: int = 3) -> list[tuple[datetime, str, str | None]]:
    """The next ``count`` handoffs strictly after ``now``: (UTC time, incoming primary, incoming secondary).

    Rotation only; overrides are not applied.
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    k = rotation.week_index(now)
    return [(rotation.handoff(j), *rotation.positions(j)) for j in range(k + 1, k + 1 + count)]
