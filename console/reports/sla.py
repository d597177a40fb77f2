"""The SLA report: is the promise kept? Computed from stored events, never from a ticket's state today.

The unit is a first-contact *clock*: every ticket has one from its arrival; a call-me ticket whose customer
answered the details request has a second one from that answer. A clock belongs to the period in which it
started (in the desk's time zone); what happened to it is read from its events up to the report's `as_of`.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from store.db import Database

from console import policy as pol
from store import reports as store_reports
from store.errors import UsageError
from store.outbox import STANDDOWN
from store.times import iso, parse_iso as _parse_iso

CONTACTED = ("reply", "ack", "details")  # kinds of first contact that count as contact made


def parse_iso(text: str | None) -> datetime | None:
    """store.times' ISO text in UTC, read with fromisoformat (strptime costs ten times more, and a year's
    report reads hundreds of thousands of times)."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return _parse_iso(text)
    return dt if dt.tzinfo is pol.UTC else dt.replace(tzinfo=pol.UTC) if dt.tzinfo is None else dt.astimezone(pol.UTC)


class PeriodError(UsageError):
    """A period that cannot be read; the message says why (a usage error: exit 64)."""


@dataclass(frozen=True)
class Period:
    start: date  # local, inclusive
    end: date    # local, exclusive
    tz: ZoneInfo

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.start, time(0), self.tz).astimezone(pol.UTC)

    @property
    def end_utc(self) -> datetime:
        return datetime.combine(self.end, time(0), self.tz).astimezone(pol.UTC)

    def before(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - (self.end - self.start), self.start, self.tz)

    def label(self) -> str:
        y, w, _ = self.start.isocalendar()
        if self.end - self.start == timedelta(days=7) and self.start.isoweekday() == 1:
            return f"{y}-W{w:02d} ({self.start.isoformat()} to {(self.end - timedelta(days=1)).isoformat()})"
        return f"{self.start.isoformat()} to {(self.end - timedelta(days=1)).isoformat()}"

    def weeks(self) -> list[Period]:
        """The ISO weeks (Monday to Monday) this period touches, each cut to the period."""
        out, d = [], self.start - timedelta(days=self.start.weekday())
        while d < self.end:
            out.append(Period(max(d, self.start), min(d + timedelta(days=7), self.end), self.tz))
            d += timedelta(days=7)
        return out


def week_period(spec: str, tz: ZoneInfo) -> Period:
    """"2026-W49" -> that ISO week, Monday 00:00 to the next Monday 00:00 in the desk's zone."""
    try:
        y, w = spec.upper().split("-W")
        start = date.fromisocalendar(int(y), int(w), 1)
    except ValueError:
        raise PeriodError(f"--week must look like 2026-W49, not {spec!r}") from None
    return Period(start, start + timedelta(days=7), tz)


def last_week(now: datetime, tz: ZoneInfo) -> Period:
    """The last whole ISO week before `now` in the desk's zone."""
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    return Period(monday - timedelta(days=7), monday, tz)


def dates_period(start: str, end: str, tz: ZoneInfo) -> Period:
    """--from DATE --to DATE: both days included."""
    try:
        a, b = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise PeriodError(f"--from and --to take dates like 2026-12-01, not {start!r} / {end!r}") from None
    if b < a:
        raise PeriodError(f"--to ({end}) is before --from ({start})")
    if (b - a).days > 3660:
        raise PeriodError("a report covers ten years at most")
    return Period(a, b + timedelta(days=1), tz)


@dataclass
class Clock:
    """One first-contact clock and what its events say happened to it."""
    ticket_id: int
    clock: int
    started_at: datetime
    cls: str
    due_at: datetime
    contact: str | None = None           # "reply" | "ack" | "details" | "none"; None: still open
    contact_at: datetime | None = None
    contact_by: str | None = None
    assignee: str | None = None          # who owned it at its deadline (or at contact, if before)
    resolved: bool = False
    panic: bool = False
    reached: set[str] = field(default_factory=set)  # Class III steps paged: "escalate", "breach"
    owners: list[tuple[datetime, str | None]] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return self.contact in CONTACTED and self.contact_at is not None and self.contact_at <= self.due_at

    def breached(self, as_of: datetime) -> bool:
        """No contact by the deadline, and the deadline has passed (by `as_of`, or when it was closed)."""
        if self.met:
            return False
        if self.contact is not None and self.contact_at is not None:
            return self.contact_at > self.due_at
        return self.due_at < as_of

    def late(self, as_of: datetime) -> timedelta:
        return (self.contact_at or as_of) - self.due_at

    def owner_at(self, moment: datetime) -> str | None:
        who = None
        for at, handle in self.owners:
            if at > moment:
                break
            who = handle
        return who


def _handle(actor: str) -> str:
    # "ann as bob" acted for bob: bob owns what was done
    return actor.rsplit(" as ", 1)[-1]


def _clock_from(start: store_reports.ClockStart, events: list[store_reports.ReportEvent], sla: pol.SlaPolicy,
                as_of: datetime) -> Clock:
    started = parse_iso(start["started_at"])
    assert started is not None
    cls = start["cls"]
    due = parse_iso(start["due_at"]) or pol.deadline(cls, started, sla)
    c = Clock(start["ticket_id"], start["clock"], started, cls, due)
    merged = False
    for e in events:
        at = parse_iso(e["at"])
        assert at is not None
        if at > as_of:
            break
        d, kind = e["detail"], e["kind"]
        if kind == "reclassified":
            if d.get("to") in pol.CLASSES and d.get("to") != c.cls and c.contact is None:
                c.cls = d["to"]
                c.due_at = parse_iso(d.get("due_at")) or pol.deadline(c.cls, started, sla)
            c.panic = c.panic or bool(d.get("panic"))
        elif kind in ("taken", "assigned"):
            c.owners.append((at, d.get("assignee") or _handle(e["actor"])))
        elif kind == "alert_due" and c.contact is None:
            if d.get("step") in ("escalate", "breach"):
                c.reached.add(d["step"])
        elif kind == "acknowledged" and c.contact is None:
            c.contact, c.contact_at = d.get("contact") or "ack", at
            c.contact_by = d.get("by") or _handle(e["actor"])
            c.due_at = parse_iso(d.get("due_at")) or c.due_at
            if not c.owners or c.owners[-1][1] is None:
                c.owners.append((at, d.get("assignee") or c.contact_by))
        elif kind == "resolved":
            c.resolved = True
            if c.contact is None:  # resolved without contact: recorded as none (older events said nothing)
                c.contact, c.contact_at = "none", at
                c.due_at = parse_iso(d.get("due_at")) or c.due_at
        elif kind == "merged_into" and c.contact is None:  # merged into another ticket: no contact of its own
            c.contact, c.contact_at, merged = "none", at, True
        elif kind == "unmerged" and merged:  # restored as it was: its clock runs on
            c.contact, c.contact_at, merged = None, None, False
    c.assignee = c.owner_at(min(c.due_at, c.contact_at or c.due_at))
    if c.assignee is None and c.owners:
        c.assignee = c.owners[0][1]
    return c


def clocks(db: Database, period: Period, sla: pol.SlaPolicy, as_of: datetime) -> list[Clock]:
    """The clocks started in the period, each with what its events say happened by `as_of`."""
    starts = store_reports.clock_starts(db, iso(period.start_utc), iso(period.end_utc))
    ids = {s["ticket_id"] for s in starts}
    by_ticket: dict[int, list[store_reports.ReportEvent]] = {}
    for e in store_reports.events_for_tickets(db, ids, iso(as_of)):
        by_ticket.setdefault(e["ticket_id"], []).append(e)
    out = []
    for s in starts:
        evs = by_ticket.get(s["ticket_id"], [])
        # A ticket's events split at each clock_started: clock n reads only its own part.
        parts: list[list[store_reports.ReportEvent]] = [[]]
        for e in evs:
            if e["kind"] == "clock_started":
                parts.append([])
            else:
                parts[-1].append(e)
        idx = s["clock"] - 1
        out.append(_clock_from(s, parts[idx] if idx < len(parts) else [], sla, as_of))
    return out


def _seconds(td: timedelta) -> int:
    return int(td.total_seconds())


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: list[float]) -> float | None:
    """The 90th percentile by nearest rank: the smallest value at least 90 % of the values do not exceed."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def time_to_contact(c: Clock, sla: pol.SlaPolicy) -> timedelta | None:
    """From the clock's start to first contact, in working time when the class has business hours."""
    if c.contact not in CONTACTED or c.contact_at is None:
        return None
    bh = sla.hours(c.cls)
    return bh.elapsed(c.started_at, c.contact_at) if bh is not None else c.contact_at - c.started_at


def class_figures(cs: list[Clock], sla: pol.SlaPolicy, as_of: datetime) -> dict[str, Any]:
    times = [t.total_seconds() for c in cs if (t := time_to_contact(c, sla)) is not None]
    met = sum(1 for c in cs if c.met)
    breached = [c for c in cs if c.breached(as_of)]
    decided = met + len(breached)
    still_open = [c for c in cs if c.contact is None and not c.resolved]
    oldest = min(still_open, key=lambda c: c.started_at) if still_open else None
    return {
        "tickets_in": len(cs),
        "met": met,
        "met_pct": round(100 * met / decided, 1) if decided else None,
        "breached": len(breached),
        "closed_without_contact": sum(1 for c in cs if c.contact == "none" and not c.breached(as_of)),
        "median_seconds": median(times),
        "p90_seconds": p90(times),
        "contacts": {k: sum(1 for c in cs if c.contact == k) for k in (*CONTACTED, "none")},
        "still_open": len(still_open),
        "oldest_open": None if oldest is None else {
            "ticket": oldest.ticket_id, "since": iso(oldest.started_at),
            "age_seconds": _seconds(as_of - oldest.started_at)},
    }


def class_iii_figures(cs: list[Clock], pages: list[store_reports.Page], sla: pol.SlaPolicy) -> dict[str, Any]:
    iii = [c for c in cs if c.cls == "III"]
    starts: dict[int, list[tuple[datetime, int]]] = {}
    for c in iii:
        starts.setdefault(c.ticket_id, []).append((c.started_at, c.clock))
    # A page is one step of one clock of one ticket, however many people (or a bundle) it reached: counted
    # once. It belongs to the ticket's latest clock started by then (a call-me ticket's second clock has
    # steps of the same names). A stand-down notice asks nothing of anyone and is not a page.
    sent = set()
    for p in pages:
        if p["cls"] != "III" or p["state"] != "sent" or p["step"] == STANDDOWN or p["ticket_id"] not in starts:
            continue
        at = parse_iso(p["created_at"])
        owner = [n for start, n in sorted(starts[p["ticket_id"]]) if at is not None and start <= at]
        if owner:
            sent.add((p["ticket_id"], owner[-1], p["step"]))
    acks = [t.total_seconds() for c in iii if (t := time_to_contact(c, sla)) is not None]
    return {"tickets_in": len(iii), "pages_sent": len(sent), "ack_median_seconds": median(acks),
            "ack_p90_seconds": p90(acks), "reached_team": sum(1 for c in iii if "escalate" in c.reached),
            "reached_breach": sum(1 for c in iii if "breach" in c.reached)}


def people_figures(cs: list[Clock], sla: pol.SlaPolicy, as_of: datetime) -> list[dict[str, Any]]:
    people: dict[str, dict[str, Any]] = {}

    def row(h: str) -> dict[str, Any]:
        return people.setdefault(h, {"person": h, "first_contacts": 0, "times": [], "breaches": 0})

    for c in cs:
        if c.contact in CONTACTED and c.contact_by:
            r = row(c.contact_by)
            r["first_contacts"] += 1
            if (t := time_to_contact(c, sla)) is not None:
                r["times"].append(t.total_seconds())
        if c.breached(as_of):
            row(c.assignee or "(unassigned)")["breaches"] += 1
    out = []
    for h in sorted(people):
        r = people[h]
        out.append({"person": h, "first_contacts": r["first_contacts"], "median_seconds": median(r["times"]),
                    "breaches_while_assigned": r["breaches"]})
    return out


def _summary(cs: list[Clock], sla: pol.SlaPolicy, as_of: datetime) -> dict[str, Any]:
    return {cls: class_figures([c for c in cs if c.cls == cls], sla, as_of) for cls in pol.CLASSES}


def build(db: Database, period: Period, sla: pol.SlaPolicy, as_of: datetime, *, by: str = "class") -> dict[str, Any]:
    """The whole report as plain data (what --json prints; text, CSV and HTML are drawn from it)."""
    as_of = min(as_of, datetime.max.replace(tzinfo=pol.UTC))
    cs = clocks(db, period, sla, as_of)
    pages = store_reports.pages_for_tickets(db, {c.ticket_id for c in cs if c.cls == "III"}, iso(as_of))
    prev_period = period.before()
    prev = _summary(clocks(db, prev_period, sla, as_of), sla, as_of)
    classes = _summary(cs, sla, as_of)
    breaches = sorted((c for c in cs if c.breached(as_of)), key=lambda c: (c.started_at, c.ticket_id))
    report: dict[str, Any] = {
        "period": {"label": period.label(), "from": period.start.isoformat(),
                   "to": (period.end - timedelta(days=1)).isoformat(), "timezone": period.tz.key,
                   "from_utc": iso(period.start_utc), "to_utc": iso(period.end_utc)},
        "as_of": iso(as_of),
        "by": by,
        "classes": classes,
        "total": class_figures(cs, sla, as_of),
        "breaches": [{"ticket": c.ticket_id, "class": c.cls, "assignee": c.assignee, "clock": c.clock,
                      "due_at": iso(c.due_at), "late_seconds": _seconds(c.late(as_of)),
                      "contact": c.contact or "open"} for c in breaches],
        "class_iii": class_iii_figures(cs, pages, sla),
        "people": people_figures(cs, sla, as_of),
        "panic": [{"ticket": c.ticket_id, "class": c.cls} for c in cs if c.panic],
        "previous": {"label": prev_period.label(), "classes": prev},
        "change": {cls: _change(classes[cls], prev[cls]) for cls in pol.CLASSES},
    }
    if by == "week":
        report["weeks"] = [{"week": w.label(), "from": w.start.isoformat(), "classes": _summary(part, sla, as_of)}
                           for w, part in _by_week(cs, period)]
    return report


def _by_week(cs: list[Clock], period: Period) -> list[tuple[Period, list[Clock]]]:
    """The clocks of each week of the period (weeks in order)."""
    weeks = period.weeks()
    bounds = [(w.start_utc, w.end_utc) for w in weeks]
    parts: list[list[Clock]] = [[] for _ in weeks]
    for c in cs:
        for i, (a, b) in enumerate(bounds):
            if a <= c.started_at < b:
                parts[i].append(c)
                break
    return list(zip(weeks, parts, strict=True))


def _change(now: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    def diff(k: str) -> float | None:
        a, b = now[k], before[k]
        return None if a is None or b is None else round(a - b, 1)

    return {"tickets_in": now["tickets_in"] - before["tickets_in"], "met_pct": diff("met_pct"),
            "median_seconds": diff("median_seconds"), "breached": now["breached"] - before["breached"]}


def weekly_compliance(db: Database, weeks: int, now: datetime, tz: ZoneInfo,
                      sla: pol.SlaPolicy) -> list[dict[str, Any]]:
    """The console's chart: each of the last `weeks` whole weeks (oldest first) with each class's met %
    and breaches."""
    last = last_week(now, tz)
    first = Period(last.start - timedelta(days=7 * (weeks - 1)), last.end, tz)
    cs = clocks(db, first, sla, now)
    out = []
    for w, part in _by_week(cs, first):
        out.append({"week": w.label(), "from": w.start.isoformat(), "classes": _summary(part, sla, now),
                    "breaches": {cls: [c.ticket_id for c in part if c.cls == cls and c.breached(now)]
                                 for cls in pol.CLASSES}})
    return out
