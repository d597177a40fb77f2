"""Pure text helpers for the console: countdowns, badges, urgency levels, ages.

No Textual, no database, no clock: callers pass numbers in. Colour names live here too so every
part of the UI (rows, badges, detail, header) uses the same ones; colour is never the only signal,
so every level also has text ("III", "BREACHED", "!").
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

CLASS_COLOR = {"III": "#e5484d", "II": "#f5a524", "I": "#3b82f6"}
CLASS_NAME = {"III": "critical", "II": "urgent", "I": "normal"}
LEVELS = ("ok", "warn", "breached", "acked")


def seconds_left(due_at: datetime, now: datetime) -> int:
    """Whole seconds until `due_at`, rounded down, so any overdue moment is negative."""
    return math.floor((due_at - now).total_seconds())


def _span(s: int) -> str:
    if s >= 86400:
        d, rem = divmod(s, 86400)
        return f"{d}d {rem // 3600}h"
    if s >= 3600:
        h, rem = divmod(s, 3600)
        m, sec = divmod(rem, 60)
        return f"{h}:{m:02d}:{sec:02d}"
    m, sec = divmod(s, 60)
    return f"{m}:{sec:02d}"


def countdown(seconds: int | float | None) -> str:
    """`14:59` under an hour, `7:59:12` under a day, `2d 23h` beyond; `-3:12 BREACHED` once overdue."""
    if seconds is None:
        return "-"
    s = math.floor(seconds)
    if s < 0:
        return f"-{_span(-s)} BREACHED"
    return _span(s)


def level(seconds: int | float | None, target_seconds: float, warn_fraction: float = 0.8) -> str:
    """'breached' past the deadline, 'warn' once `warn_fraction` of the target has elapsed, else 'ok'.

    `seconds` None means the clock is stopped (acknowledged): 'acked'.
    """
    if seconds is None:
        return "acked"
    if seconds < 0:
        return "breached"
    if target_seconds > 0 and (target_seconds - seconds) >= warn_fraction * target_seconds:
        return "warn"
    return "ok"


def countdown_cell(seconds: int | float | None, lvl: str) -> str:
    """The countdown column's text: the warn level carries a '!' so it reads without colour."""
    text = countdown(seconds)
    if lvl == "warn":
        return f"{text} !"
    if lvl == "acked":
        return "ack'd"
    return text


def badge(cls: str) -> str:
    """Class badge text, fixed width, readable in monochrome."""
    return f"{cls:^5}"


def age(seconds: float | None) -> str:
    """A short age such as `4s`, `3m 05s`, `2h 10m`, `3d 4h`; `never` for None."""
    if seconds is None:
        return "never"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {(s % 3600) // 60:02d}m"
    return f"{s // 86400}d {(s % 86400) // 3600}h"


def target_seconds(received_at: datetime, due_at: datetime) -> float:
    return max(1.0, (due_at - received_at).total_seconds())


def local_time(dt: datetime | None, tz, fmt: str = "%a %d %b %H:%M %Z") -> str:
    if dt is None:
        return "-"
    return dt.astimezone(tz).strftime(fmt)


def span(td: timedelta) -> str:
    return _span(abs(math.floor(td.total_seconds())))
