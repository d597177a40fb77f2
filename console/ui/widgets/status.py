"""The header: who is acting, open tickets per class, breached, on call now, and the health of
intake, the scheduler and the outbox (console.health, the same assessment as `support-console status`)."""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

from console.health import Health
from console.safe_text import clean_line
from console.ui import format as fmt
from console.ui import styles as st
from store.times import parse_iso

if TYPE_CHECKING:
    from console.alerts.oncall import OnCall


def intake_words(h: Health, now: datetime) -> Content:
    c = h.intake
    if c.state in ("ingest only",):
        return st.muted("intake by MTA pipe")
    sync = parse_iso(c.detail.get("last_sync_at")) if c.detail else None
    age = fmt.age((now - sync).total_seconds()) if sync else None
    if not c.ok:
        words = {"never run": "intake never ran", "stale": "intake STALE", "error": "intake FAILING"}.get(
            c.state, f"intake {c.state.upper()}")
        name = (c.detail or {}).get("name")  # the failing mailbox, when the desk names its mailboxes
        if name and words.startswith("intake "):
            words = f"intake {clean_line(str(name), 20)} {words[len('intake '):]}"
        return st.alarm(f" {words}" + (f" {age}" if age else "") + " ")
    return st.good(f"intake {clean_line(c.state, 14)}" + (f" {age}" if age else ""))


def scheduler_words(h: Health) -> Content:
    c = h.scheduler
    if not c.ok:
        age = c.detail.get("age_seconds") if c.detail else None
        return st.alarm(f" scheduler {c.state.upper()}" + (f" {fmt.age(age)}" if age is not None else "") + " ")
    return st.good("scheduler ok")


def outbox_words(h: Health) -> Content:
    d = h.outbox.detail
    out = Content(f"outbox {d.get('pending', 0)} pending")
    failed = d.get("failed", 0) + d.get("expired", 0)
    if failed:
        out = out + Content(" ") + st.alarm(f" {failed} failed ")
    return out


def status_text(*, operator: str, counts: dict[str, int], breached: int, oncall: OnCall | None,
                health: Health | None, now: datetime, tz: tzinfo, role: str | None,
                silences: tuple[int, int] = (0, 0)) -> Content:
    parts: list[Content | str] = [st.bold(" " + now.astimezone(tz).strftime("%H:%M:%S %Z")),
                                  f"  {clean_line(operator, 20)}" + (f" ({role})" if role else "") + "   "]
    for cls in fmt.CLASSES:
        parts += [st.badge(cls), Content.styled(f" {counts.get(cls, 0)}  ", f"bold ${fmt.CLASSES[cls].css}")]
    parts.append(st.alarm(f" {breached} BREACHED ") if breached else st.muted("0 breached"))
    parts.append("\n on call ")
    if oncall is None:
        parts.append(st.muted("no rotation"))
    else:
        parts += [st.bold(clean_line(oncall.primary or "-", 20)), " / " + clean_line(oncall.secondary or "-", 20)]
    if health is not None:
        parts += [" │ ", intake_words(health, now), " / ", scheduler_words(health), " / ", outbox_words(health)]
    if silences[0]:
        parts += [" │ ", silence_words(*silences)]
    return st.join(*parts)


def silence_words(active: int, quiet: int) -> Content:
    """"1 silence, 41 tickets quiet": pages are being held (a supervisor's silence), said while it lasts."""
    return st.alarm(f" {active} silence{'' if active == 1 else 's'}, {quiet} ticket{'' if quiet == 1 else 's'} quiet ")


class StatusBar(Static):
    def set_status(self, text: Content) -> None:
        self.update(text)
