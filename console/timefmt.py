"""Time left and ages, written one way everywhere: the console, the CLI and the pages.

`28s`, `14m59s`, `4h59m`, `2d23h`: the two largest units, each with its letter, so that no reader
has to guess whether `0:28` means minutes or seconds. Pure: callers pass numbers or timedeltas in.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta


def span(seconds: float | timedelta) -> str:
    """A length of time without a sign: `28s`, `14m59s`, `4h59m`, `2d23h` (rounded down)."""
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    s = abs(math.floor(seconds)) if seconds >= 0 else abs(math.ceil(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def left(seconds: float | timedelta | None) -> str:
    """Time left before a deadline: `14m59s`, or `-3m12s` once it has passed; `-` for none.

    Any overdue moment, even a fraction of a second, reads as negative.
    """
    if seconds is None:
        return "-"
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    s = math.floor(seconds)
    return f"-{span(-s)}" if s < 0 else span(s)


def local_time(dt: datetime | None, tz, fmt: str = "%a %d %b %H:%M %Z") -> str:
    """A stored UTC time as the desk reads it, in its time zone: `Mon 02 Nov 09:00 MST` (`-` for none)."""
    if dt is None:
        return "-"
    return dt.astimezone(tz).strftime(fmt)
