"""Pure text for the console: class metadata, time-left cells, urgency levels, history in words.

No Textual, no database, no clock: callers pass values in. Colour is never the only signal: every
level also has text ("III", "BREACHED", "!"). Colours themselves live in the theme (console/ui/theme.py);
here a class or a level only names its CSS class.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from console import timefmt
from console.timefmt import local_time  # noqa: F401 - the console's screens read it from here
from console.safe_text import clean_line
from store.rows import Event


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


def _names(targets: str | Iterable[object] | None) -> str:
    if isinstance(targets, str):
        return clean_line(targets, 60)
    return ", ".join(clean_line(str(t), 20) for t in (targets or [])) or "nobody"


STEP_WORDS = {"arrival": "paged {targets} (arrival)", "warn": "warned {targets} (80 % of the target)",
              "escalate": "escalated to the whole team ({targets})", "breach": "BREACHED: paged {targets}"}


def event_words(e: Event) -> str:
    """One audit event as a sentence: "paged bob, cy (arrival)", "ann assigned it to dee (was bob)"."""
    d, actor, kind = e.get("detail") or {}, clean_line(e["actor"], 20), e["kind"]
    if kind == "alert_due":
        step = str(d.get("step", ""))
        if step.startswith("repeat"):
            return f"still breached: paged {_names(d.get('targets'))} again"
        return STEP_WORDS.get(step, "paged {targets} (" + clean_line(step, 20) + ")").format(
            targets=_names(d.get("targets")))
    if kind == "created":
        why = f": {clean_line(str(d['reason']), 80)}" if d.get("reason") else ""
        return f"ticket opened as Class {d.get('cls', '?')}{why}"
    if kind == "acknowledged":
        extra = " (after the deadline)" if d.get("breached") else ""
        return f"{actor} acknowledged it{extra}" + _cancelled(d)
    if kind == "taken":
        return f"{actor} took it" + (f" (was {clean_line(d['previous'], 20)})" if d.get("previous") else "")
    if kind == "assigned":
        was = f" (was {clean_line(d['previous'], 20)})" if d.get("previous") else ""
        return f"{actor} assigned it to {clean_line(str(d.get('assignee')), 20)}{was}"
    if kind == "reclassified":
        why = f": {clean_line(str(d['reason']), 80)}" if d.get("reason") else ""
        panic = ", panic mode recorded" if d.get("panic") else ""
        return f"{actor} moved it from Class {d.get('previous')} to Class {d.get('to')}{why}{panic}"
    if kind == "resolved":
        note = f": {clean_line(str(d['note']), 80)}" if d.get("note") else ""
        return f"{actor} resolved it{note}" + _cancelled(d)
    if kind == "reopened":
        by = f" by mail from {clean_line(str(d['by']), 60)}" if d.get("by") else ""
        return f"{actor} reopened it" + by if actor != "intake" else f"reopened{by}"
    if kind == "imported":
        return ("filed from the mailbox's history at its first sync: "
                + ("already overdue, not paged (the supervisors got a summary)" if d.get("overdue")
                   else "not paged on arrival; its later steps page as usual"))
    if kind == "stand_down_due":
        return f"{actor} told {_names(d.get('targets'))} to stand down"
    if kind == "page_reply_received":
        # A staff member's answer to an email page: it acknowledged, or it is kept as their message.
        person, by = clean_line(str(d.get("person") or "?"), 20), clean_line(str(d.get("by") or "no address"), 60)
        outcome = "acknowledged" if d.get("acknowledged") else clean_line(str(d.get("note") or ""), 120)
        return f"{person}'s page answered by mail from {by} (message {d.get('message')}): {outcome}"
    if kind == "reply_received":
        return f"the customer wrote again ({clean_line(str(d.get('by') or ''), 60)})"
    mail = mail_event_words(kind, actor, d)
    if mail is not None:
        return mail
    if kind == "steps_collapsed":
        return f"{', '.join(map(str, d.get('skipped') or []))} came due together: sent only {d.get('sent')}"
    if kind.endswith("_received"):
        return f"{kind.removesuffix('_received')} received: {clean_line(str(d.get('subject') or ''), 80)}"
    rest = ", ".join(f"{k} {clean_line(str(v), 40)}" for k, v in sorted(d.items()) if v not in ("", None, [], {}))
    return f"{actor} {kind.replace('_', ' ')}" + (f" ({rest})" if rest else "")


MAIL_PURPOSES = {"reply": "the reply", "receipt": "the receipt", "details": "the details request"}
MAIL_WORDS = {
    "queued": "{noun} to {to} was queued",
    "sent": "{noun} went out ({reply})",
    "delayed": "{noun} is delayed: {error}; retrying",
    "failed": "{noun} FAILED: {error}; not resent",
    "unknown": "{noun} was cut short: it may or may not have gone out; not resent",
    "resent": "{actor} sent {noun} again",
    "skipped": "{noun} was not sent: {reason}",
    "withheld": "{noun} was WITHHELD: {reason}",  # a cap, a sender not authenticated (issue 20)
}


def mail_event_words(kind: str, actor: str, d: dict) -> str | None:
    """The desk's own mail in the history: "ann replied to carl@x (cc dora@x)", "the reply went out
    (250 ok)", "the reply FAILED: 550 ...; not resent". None for any other event."""
    if kind == "note_added":
        return f"{actor} added an internal note"
    purpose, _, what = kind.rpartition("_")
    if purpose not in MAIL_PURPOSES or what not in MAIL_WORDS:
        return None
    field = lambda key, n: clean_line(str(d.get(key) or ""), n)  # noqa: E731 - text from mail and servers
    to = field("to", 60)
    if (purpose, what) == ("reply", "queued"):
        cc = f" (cc {', '.join(clean_line(str(a), 40) for a in d['cc'])})" if d.get("cc") else ""
        tpl = f" with the template {field('template', 40)}" if d.get("template") else ""
        left = f"; Cc left off: {'; '.join(clean_line(str(x), 80) for x in d['left_off'])}" if d.get("left_off") else ""
        return f"{actor} replied to {to}{cc}{tpl}{left}"
    return MAIL_WORDS[what].format(noun=MAIL_PURPOSES[purpose], to=to, actor=actor, reply=field("reply", 60),
                                   error=field("error", 100), reason=field("reason", 80))


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


def _cancelled(d: dict) -> str:
    n = d.get("cancelled_pages") or 0
    return f"; {n} unsent page{'s' if n != 1 else ''} cancelled" if n else ""


def page_words(a: dict[str, Any]) -> str:
    """One outbox row: "breach to ann: sent", "arrival to bob: failed after 3 tries (timeout)"."""
    state, tries = a["state"], a.get("attempts") or 0
    what = f"{clean_line(a['step'], 20)} to {clean_line(a['target'], 20)}: {state}"
    if state in ("failed", "expired") and tries:
        what += f" after {tries} tr{'ies' if tries != 1 else 'y'}"
    if a.get("last_error") and state != "sent":
        what += f" ({clean_line(a['last_error'], 80)})"
    if a.get("carried_by"):
        what += f" (carried by page {a['carried_by']})"
    elif a.get("silenced_by"):
        what += f" ({'held by' if state == 'silenced' else 'released by'} silence {a['silenced_by']})"
    return what


def size_words(n: int | None) -> str:
    n = n or 0
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"
