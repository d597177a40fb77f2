"""Pure text for the console: class metadata, time-left cells, urgency levels, history in words.

No Textual, no database, no clock: callers pass values in. Colour is never the only signal: every
level also has text ("III", "BREACHED", "!"). Colours themselves live in the theme (console/ui/theme.py);
here a class or a level only names its CSS class.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from console import timefmt
from console.timefmt import local_time  # noqa: F401 - the console's screens read it from here
from console.safe_text import clean_line
from console.words import MAIL_PURPOSES, event_words, mail_event_words, page_words  # noqa: F401 - read here


@dataclass(frozen=True)
class ClassInfo:
    code: str   # "III"
    name: str   # "critical"
    rank: int   # 0 sorts first
    css: str    # CSS class and theme variable: "class-iii" -> $class-iii

    @property
    def badge(self) -> str:
        """Fixed width, readable in monochrome."""
        return f"{self.code:^5}"


# The one definition of the three classes (support-policy.txt); everything else looks them up here.
CLASSES: dict[str, ClassInfo] = {
    "III": ClassInfo("III", "critical", 0, "class-iii"),
    "II": ClassInfo("II", "urgent", 1, "class-ii"),
    "I": ClassInfo("I", "normal", 2, "class-i"),
}
UNKNOWN_CLASS = ClassInfo("?", "unknown", 9, "class-i")


def class_info(code: str) -> ClassInfo:
    return CLASSES.get(code, UNKNOWN_CLASS)


def seconds_left(due_at: datetime, now: datetime) -> int:
    """Whole seconds until `due_at`, rounded down, so any overdue moment is negative."""
    return math.floor((due_at - now).total_seconds())


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


def left_cell(seconds: int | float | None, lvl: str) -> str:
    """The time-left column: `14m59s`, `4m10s !` (80 % of the target used), `BREACHED 3m12s`, `ack'd`."""
    if lvl == "acked" or seconds is None:
        return "ack'd"
    if lvl == "breached":
        return f"BREACHED {timefmt.span(seconds)}"
    text = timefmt.left(seconds)
    return f"{text} !" if lvl == "warn" else text


def age(seconds: float | None) -> str:
    """A short age such as `4s`, `3m05s`, `2h10m`; `never` for None."""
    return "never" if seconds is None else timefmt.span(max(0.0, seconds))


def target_seconds(received_at: datetime, due_at: datetime) -> float:
    return max(1.0, (due_at - received_at).total_seconds())


def status_word(t: Mapping[str, Any]) -> str:
    if t.get("merged_into"):
        return f"merged into #{t['merged_into']}"
    word = {"acknowledged": "ack'd"}.get(t["status"], t["status"])
    return ("PANIC " if t.get("panic_mode") else "") + word


# -- what changed, in words -------------------------------------------------------------------------

def describe_change(seen: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """How ticket `now` differs from the version `seen` an operator acted on, e.g.
    "now assigned to dee", "now Class II", "now acknowledged by bob"."""
    parts = []
    if now["status"] != seen["status"]:
        who = now.get("acknowledged_by") if now["status"] == "acknowledged" else None
        parts.append(f"now {now['status']}" + (f" by {clean_line(who, 20)}" if who else ""))
    if now.get("assignee") != seen.get("assignee"):
        parts.append(f"now assigned to {clean_line(now['assignee'], 20)}" if now.get("assignee") else "now unassigned")
    if now["class"] != seen["class"]:
        parts.append(f"now Class {now['class']}")
    if now.get("panic_mode") and not seen.get("panic_mode"):
        parts.append("now in panic mode")
    return ", ".join(parts) or "changed by someone else"


def deadline_note(cls: str, due_at: datetime, now: datetime, *, stands_down: bool = False) -> str:
    """What a reclassification to `cls` means for the deadline, counted from the original arrival.
    `stands_down`: it takes an unacknowledged ticket out of Class III, so those paged are told to stand down."""
    secs = seconds_left(due_at, now)
    told = "; those paged are told to stand down" if stands_down else ""
    if secs < 0:
        pages = "pages go out now" if cls == "III" else "the breach page goes out now"
        return f"Class {cls} counted from arrival: {timefmt.span(-secs)} overdue, {pages}{told}"
    return f"Class {cls} counted from arrival: due in {timefmt.span(secs)}{told}"


def delivery_words(d: dict[str, Any], tz: tzinfo) -> tuple[str, str]:
    """(state word, detail) of one mail the desk sent: ("sent", "10:02:11, 250 2.0.0 Ok"),
    ("FAILED", "550 5.1.1 no such user; not resent"), ("queued", "try 2 at 10:05:00: 451 ...")."""
    state, tries = d["state"], d.get("attempts") or 0
    when = lambda at: local_time(datetime.fromisoformat(at), tz, "%H:%M:%S") if at else "-"  # noqa: E731
    if state == "sent":
        return "sent", f"{when(d.get('sent_at'))}, {clean_line(d.get('smtp_reply') or '', 100)}"
    if state == "failed":
        return "FAILED", f"{clean_line(d.get('last_error') or '', 160)}; not resent"
    if state == "expired":
        return "CUT SHORT", "it may or may not have gone out; not resent"
    if state == "sending":
        return "sending", f"try {tries}"
    error = f": {clean_line(d['last_error'], 120)}" if d.get("last_error") else ""
    return "queued", (f"next try {when(d.get('next_attempt_at'))}{error}" if tries else "not tried yet")


def size_words(n: int | None) -> str:
    n = n or 0
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"

