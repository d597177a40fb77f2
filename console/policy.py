"""Support classes, SLA targets, escalation steps and deadlines.

Pure code: no I/O, no database, no Textual, and no ``datetime.now()``. Every
function that depends on the current time takes ``now`` as a parameter (the
injectable clock of DESIGN.md, invariant 5).

Times
    Every datetime argument must be timezone-aware (any zone); a naive one
    raises ``ValueError``. Every datetime returned is in UTC. Arithmetic is
    always done in UTC, because Python adds and compares two datetimes that
    share a ``ZoneInfo`` by their wall clocks, which is wrong across DST.

Classes (``support-policy.txt``)
    I    non-urgent, first contact within 72 hours
    II   needs an answer quickly, within 8 hours
    III  critical, within 15 minutes; pages primary and secondary at once, and
         the whole team when nobody answers within 10 minutes

Steps
    ``schedule()`` lists the notifications a ticket of a class would produce
    if nobody ever acknowledged it; ``due_steps()`` says which of them fall in a
    polling window; ``next_step_at()`` tells the escalation timer when to wake.
    A step's ``name`` is unique within (ticket, class), so ``(ticket, class,
    name)`` is a natural dedup key for the alert outbox.

Acknowledgement
    Acknowledgement stops the clock, and that is the *caller's* job: once a
    ticket is acknowledged (or resolved) the caller stops asking for steps.
    Nothing here knows about acknowledgement except ``is_breached()``.

Reclassification
    Call the same functions with the new class and the ORIGINAL
    ``received_at``. The new class's steps have their own names, so a ticket
    received 20 minutes ago as Class I and moved to Class III is immediately
    breached, and ``due_steps(after=None)`` returns its page, escalation, breach
    and only the latest repeat.

Business hours
    Off by default. When ``SlaPolicy.business_hours[cls]`` is set, the target,
    the warn point and, for Class III, the escalation delay and the repeats
    are counted in working time (``BusinessHours.add``). The arrival
    notification still goes out at ``received_at``.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime, time, timedelta, UTC
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo

__all__ = [
    "CLASSES",
    "AUDIENCES",
    "STEP_KINDS",
    "BusinessHours",
    "SlaPolicy",
    "Step",
    "deadline",
    "schedule",
    "due_steps",
    "next_step_at",
    "time_left",
    "is_breached",
    "warn_at",
    "parse_duration",
]


CLASSES = ("I", "II", "III")
# "assignee" falls back to primary when the ticket is unassigned; the
# dispatcher resolves that, not this module.
AUDIENCES = ("primary", "secondary", "team", "supervisors", "assignee")
STEP_KINDS = ("notify", "warn", "page", "escalate", "breach", "repeat")

_ONE_DAY = timedelta(days=1)


def _utc(dt: datetime, what: str = "datetime") -> datetime:
    """``dt`` converted to UTC; naive datetimes are refused."""
    if not isinstance(dt, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(dt).__name__}")
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {dt.isoformat()}")
    return dt.astimezone(UTC)


def _check_class(cls: str) -> str:
    if cls not in CLASSES:
        raise ValueError(f"unknown support class {cls!r}; expected one of {', '.join(CLASSES)}")
    return cls


# ---------------------------------------------------------------- business hours


def _check_weekly(weekly: Mapping[int, tuple[time, time]]) -> None:
    if not weekly:
        raise ValueError("business hours need at least one open weekday")
    for day, window in weekly.items():
        if not isinstance(day, int) or not 0 <= day <= 6:
            raise ValueError(f"business hours weekday must be 0 (Mon) to 6 (Sun), got {day!r}")
        try:
            start, end = window
        except (TypeError, ValueError):
            raise ValueError(f"business hours for weekday {day} must be a (start, end) pair") from None
        if not isinstance(start, time) or not isinstance(end, time):
            raise ValueError(f"business hours for weekday {day} must be datetime.time values")
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError("business hours are local times; give them without tzinfo")
        if not (start < end or end == time(0)):
            raise ValueError(
                f"business hours for weekday {day}: end {end:%H:%M} must be after start {start:%H:%M}"
            )


class _HoursFields(NamedTuple):
    tz: ZoneInfo
    weekly: Mapping[int, tuple[time, time]]
    holidays: frozenset[date] = frozenset()


class BusinessHours(_HoursFields):
    """Weekly opening hours in a time zone, minus holidays.

    ``weekly`` maps a weekday (0 = Monday) to a local ``(start, end)``; a
    missing weekday is closed. ``end`` must be later than ``start``, except
    that ``time(0, 0)`` as ``end`` means midnight at the end of that day
    (so ``(time(0), time(0))`` is open all day). Windows never cross midnight.
    ``holidays`` are local dates on which the desk is closed.

    Working time is real elapsed time inside the open windows. A window's
    bounds are local wall-clock times converted to UTC per date, so 09:00 stays
    09:00 local across a DST change, and a window containing a DST change is
    an hour shorter or longer in working time.
    """

    __slots__ = ()

    def __new__(cls, tz: ZoneInfo, weekly: Mapping[int, tuple[time, time]],
                holidays: Iterable[date] = frozenset()) -> BusinessHours:
        _check_weekly(weekly)
        return super().__new__(cls, tz, weekly, frozenset(holidays))

    def _local(self, d: date, t: time) -> datetime:
        # A wall-clock time that falls into a DST gap is taken with fold=0 and
        # normalised through UTC (e.g. 02:30 on a spring-forward night -> 03:30).
        return datetime.combine(d, t, tzinfo=self.tz).astimezone(UTC)

    def window(self, d: date) -> tuple[datetime, datetime] | None:
        """The open window of local date ``d`` in UTC, or ``None`` if closed."""
        hours = self.weekly.get(d.weekday())
        if hours is None or d in self.holidays:
            return None
        start, end = hours
        end_utc = self._local(d + _ONE_DAY, time(0)) if end == time(0) else self._local(d, end)
        return self._local(d, start), end_utc

    def _days_from(self, moment: datetime) -> Iterator[date]:
        d = moment.astimezone(self.tz).date()
        while True:
            yield d
            d += _ONE_DAY

    def add(self, start: datetime, delta: timedelta) -> datetime:
        """The moment (UTC) at which ``delta`` of working time has passed since ``start``.

        Starting outside the hours counts from the next opening. When the
        work runs out exactly at a closing time, that closing time is returned
        (Friday 17:00, not Monday 09:00). ``delta`` of zero returns ``start``.
        """
        cursor = _utc(start, "start")
        if delta < timedelta(0):
            raise ValueError(f"cannot add negative working time {delta}")
        if delta == timedelta(0):
            return cursor
        remaining = delta
        closed_days = 0
        for d in self._days_from(cursor):
            win = self.window(d)
            if win is None:
                closed_days += 1
                if closed_days > 3660:  # ten years without an open day
                    raise ValueError("business hours never open (every day is a holiday?)")
                continue
            closed_days = 0
            open_at, close_at = win
            cursor = max(cursor, open_at)
            if cursor >= close_at:
                continue
            available = close_at - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
            cursor = close_at
        raise AssertionError("unreachable")  # pragma: no cover

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time between ``start`` and ``end`` (negative if ``end`` < ``start``)."""
        a, b = _utc(start, "start"), _utc(end, "end")
        if b < a:
            return -self.elapsed(b, a)
        total = timedelta(0)
        for d in self._days_from(a):
            win = self.window(d)
            if win is not None:
                lo, hi = max(a, win[0]), min(b, win[1])
                if hi > lo:
                    total += hi - lo
            if self._local(d + _ONE_DAY, time(0)) >= b:
                break
        return total

    def is_open(self, moment: datetime) -> bool:
        m = _utc(moment, "moment")
        win = self.window(m.astimezone(self.tz).date())
        return win is not None and win[0] <= m < win[1]


# ---------------------------------------------------------------- policy


# Read-only, so that every policy built without targets can share them.
_DEFAULT_TARGETS: Mapping[str, timedelta] = MappingProxyType(
    {"I": timedelta(hours=72), "II": timedelta(hours=8), "III": timedelta(minutes=15)})
_NO_HOURS: Mapping[str, BusinessHours | None] = MappingProxyType({})


class _SlaFields(NamedTuple):
    targets: Mapping[str, timedelta]
    escalate_after: timedelta
    repeat_every: timedelta
    warn_fraction: float
    business_hours: Mapping[str, BusinessHours | None]


class SlaPolicy(_SlaFields):
    """First-contact targets and Class III escalation timing.

    If ``escalate_after`` is not earlier than the Class III target, the
    separate "escalate" step is dropped: the breach step already reaches the
    whole team.
    """

    __slots__ = ()

    def __new__(cls, targets: Mapping[str, timedelta] = _DEFAULT_TARGETS,
                escalate_after: timedelta = timedelta(minutes=10), repeat_every: timedelta = timedelta(minutes=5),
                warn_fraction: float = 0.8,
                business_hours: Mapping[str, BusinessHours | None] = _NO_HOURS) -> SlaPolicy:
        missing = [c for c in CLASSES if c not in targets]
        if missing:
            raise ValueError(f"SLA targets missing for class {', '.join(missing)}")
        for cls_, target in targets.items():
            _check_class(cls_)
            if not isinstance(target, timedelta) or target <= timedelta(0):
                raise ValueError(f"SLA target for class {cls_} must be a positive duration, got {target!r}")
        if escalate_after <= timedelta(0):
            raise ValueError(f"escalate_after must be positive, got {escalate_after}")
        if repeat_every <= timedelta(0):
            raise ValueError(f"repeat_every must be positive, got {repeat_every}")
        if not 0 < warn_fraction < 1:
            raise ValueError(f"warn_fraction must be between 0 and 1 (exclusive), got {warn_fraction}")
        for cls_, bh in business_hours.items():
            _check_class(cls_)
            if bh is not None and not isinstance(bh, BusinessHours):
                raise ValueError(f"business_hours[{cls_!r}] must be BusinessHours or None")
        return super().__new__(cls, targets, escalate_after, repeat_every, warn_fraction, business_hours)

    def target(self, cls: str) -> timedelta:
        return self.targets[_check_class(cls)]

    def hours(self, cls: str) -> BusinessHours | None:
        return self.business_hours.get(_check_class(cls))

    def _add(self, cls: str, start: datetime, delta: timedelta) -> datetime:
        """``start + delta``, in working time when the class has business hours."""
        bh = self.hours(cls)
        return bh.add(start, delta) if bh is not None else _utc(start) + delta


class Step(NamedTuple):
    name: str  # unique within (ticket, class): "arrival", "warn", "escalate", "breach", "repeat-1", ...
    cls: str
    at: datetime  # UTC
    kind: str  # "notify", "warn", "page", "escalate", "breach", "repeat"
    audience: tuple[str, ...]
    urgent: bool  # True = page (high priority), False = notice


def deadline(cls: str, received_at: datetime, policy: SlaPolicy) -> datetime:
    """When first contact is due (UTC)."""
    return policy._add(cls, _utc(received_at, "received_at"), policy.target(cls))


def warn_at(cls: str, received_at: datetime, policy: SlaPolicy) -> datetime:
    """The warning point: ``warn_fraction`` of the target (UTC)."""
    return policy._add(cls, _utc(received_at, "received_at"), policy.target(cls) * policy.warn_fraction)


_III_REPEAT_AUDIENCE = ("team", "supervisors")


def _fixed_steps(cls: str, received_at: datetime, policy: SlaPolicy) -> list[Step]:
    """The finite, non-repeat part of a class's schedule, in time order."""
    received = _utc(received_at, "received_at")
    due = deadline(cls, received, policy)
    if cls == "III":
        steps = [Step("arrival", cls, received, "page", ("primary", "secondary"), True)]
        esc = policy._add(cls, received, policy.escalate_after)
        if esc < due:
            steps.append(Step("escalate", cls, esc, "escalate", ("team",), True))
        steps.append(Step("breach", cls, due, "breach", _III_REPEAT_AUDIENCE, True))
        return steps
    warn = warn_at(cls, received, policy)
    if cls == "II":
        return [
            Step("arrival", cls, received, "notify", ("primary", "secondary"), False),
            Step("warn", cls, warn, "warn", ("primary", "secondary"), False),
            Step("breach", cls, due, "breach", ("primary", "secondary", "supervisors"), True),
        ]
    return [
        Step("warn", cls, warn, "warn", ("assignee",), False),
        Step("breach", cls, due, "breach", ("assignee", "supervisors"), True),
    ]


def _repeat(cls: str, due: datetime, n: int, policy: SlaPolicy) -> Step:
    at = policy._add(cls, due, policy.repeat_every * n)
    return Step(f"repeat-{n}", cls, at, "repeat", _III_REPEAT_AUDIENCE, True)


def _repeats_by(cls: str, due: datetime, moment: datetime, policy: SlaPolicy) -> int:
    """How many repeats are due at or before ``moment`` (0 when none)."""
    if moment <= due:
        return 0
    bh = policy.hours(cls)
    span = bh.elapsed(due, moment) if bh is not None else moment - due
    return span // policy.repeat_every


def first_step_at(cls: str, received_at: datetime, policy: SlaPolicy) -> datetime:
    """When a new ticket's first step is due: its arrival (the Class II notice, the Class III page), or
    for Class I the warning. The first step of schedule(), without building it: intake asks this for
    every new mail."""
    received = _utc(received_at, "received_at")
    return warn_at(cls, received, policy) if _check_class(cls) == "I" else received


def schedule(cls: str, received_at: datetime, policy: SlaPolicy) -> Iterator[Step]:
    """Every step of an unacknowledged ticket, in time order.

    Infinite for Class III: after the breach, "repeat-N" every
    ``repeat_every`` until the caller stops (on acknowledgement).
    """
    _check_class(cls)
    fixed = _fixed_steps(cls, received_at, policy)
    yield from fixed
    if cls == "III":
        due = fixed[-1].at
        for n in itertools.count(1):
            yield _repeat(cls, due, n, policy)


def due_steps(
    cls: str,
    received_at: datetime,
    policy: SlaPolicy,
    *,
    after: datetime | None,
    now: datetime,
) -> list[Step]:
    """Steps with ``after < at <= now``, in time order.

    ``after=None`` means from the beginning, the arrival step included.
    Several overdue repeats collapse into only the latest one, so a poller
    that was down for an hour sends one repeat, not twelve. Computed in
    constant work per call (repeats are not enumerated).
    """
    _check_class(cls)
    now_u = _utc(now, "now")
    after_u = _utc(after, "after") if after is not None else None

    def in_window(at: datetime) -> bool:
        return (after_u is None or at > after_u) and at <= now_u

    fixed = _fixed_steps(cls, received_at, policy)
    out = [s for s in fixed if in_window(s.at)]
    if cls == "III":
        due = fixed[-1].at
        n = _repeats_by(cls, due, now_u, policy)
        if n >= 1:
            latest = _repeat(cls, due, n, policy)
            if in_window(latest.at):
                out.append(latest)
    return out


def next_step_at(cls: str, received_at: datetime, policy: SlaPolicy, *, after: datetime) -> datetime | None:
    """Time of the first step strictly after ``after`` (None when there is none left)."""
    _check_class(cls)
    after_u = _utc(after, "after")
    fixed = _fixed_steps(cls, received_at, policy)
    for s in fixed:
        if s.at > after_u:
            return s.at
    if cls == "III":
        due = fixed[-1].at
        return _repeat(cls, due, _repeats_by(cls, due, after_u, policy) + 1, policy).at
    return None


def time_left(due_at: datetime, now: datetime) -> timedelta:
    """Time until ``due_at``; negative when overdue."""
    return _utc(due_at, "due_at") - _utc(now, "now")


def is_breached(due_at: datetime, now: datetime, acknowledged_at: datetime | None) -> bool:
    """Breached if acknowledged after the deadline, or unacknowledged and ``now`` past it.

    Acknowledging exactly at the deadline is in time.
    """
    due = _utc(due_at, "due_at")
    if acknowledged_at is not None:
        return _utc(acknowledged_at, "acknowledged_at") > due
    return _utc(now, "now") > due


# ---------------------------------------------------------------- durations

_DURATION_RE = re.compile(
    r"(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m)?\s*(?:(?P<s>\d+)\s*s)?",
    re.IGNORECASE,
)


def parse_duration(s: str) -> timedelta:
    """Parse "72h", "15m", "30s", "1h30m", "2d", "1d 2h" (units in d, h, m, s order).

    Raises ValueError with a message saying what is accepted.
    """
    if not isinstance(s, str):
        raise ValueError(f"duration must be a string like '15m' or '1h30m', got {type(s).__name__}")
    text = s.strip()
    m = _DURATION_RE.fullmatch(text)
    if not text or m is None or not any(m.groupdict().values()):
        hint = ""
        if re.fullmatch(r"\d+(\.\d+)?", text):
            hint = " (a unit is required)"
        elif re.search(r"\d\.\d", text):
            hint = " (use whole numbers, e.g. '1h30m' instead of '1.5h')"
        raise ValueError(
            f"invalid duration {s!r}{hint}: expected whole numbers with units d, h, m, s "
            "in that order, e.g. '72h', '15m', '30s', '1h30m', '2d'"
        )
    parts = {k: int(v) if v else 0 for k, v in m.groupdict().items()}
    return timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def format_duration(td: timedelta) -> str:
    """The inverse of parse_duration: timedelta(hours=1, minutes=30) -> "1h30m" (whole seconds)."""
    s = int(td.total_seconds())
    if s <= 0:
        return "0s"
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return "".join(f"{n}{u}" for n, u in ((d, "d"), (h, "h"), (m, "m"), (s, "s")) if n)


_WEEKDAYS = {
    "mon": 0, "monday": 0,
    "tue": 1, "tues": 1, "tuesday": 1,
    "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3,
    "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5,
    "sun": 6, "sunday": 6,
}  # fmt: skip


def parse_handoff(s: str) -> tuple[int, time]:
    """ "mon 09:00" -> (0, time(9, 0)). Day names may be short or long, any case."""
    if not isinstance(s, str):
        raise ValueError(f"handoff must be a string like 'mon 09:00', got {type(s).__name__}")
    m = re.fullmatch(r"\s*([A-Za-z]+)\s+(\d{1,2}):(\d{2})\s*", s)
    problem = "expected a weekday and a 24-hour time, e.g. 'mon 09:00'"
    if m is None:
        raise ValueError(f"invalid handoff {s!r}: {problem}")
    day, hh, mm = m.group(1).lower(), int(m.group(2)), int(m.group(3))
    if day not in _WEEKDAYS:
        raise ValueError(f"invalid handoff {s!r}: unknown weekday {m.group(1)!r} (use mon, tue, ... sun)")
    if hh > 23 or mm > 59:
        raise ValueError(f"invalid handoff {s!r}: {hh:02d}:{mm:02d} is not a valid time of day")
    return _WEEKDAYS[day], time(hh, mm)
