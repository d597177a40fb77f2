"""The status line: open tickets per class, breached, on call now, poller health, outbox."""
from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from console.ui import format as fmt

STALE_SECONDS = 30


def status_text(*, operator: str, counts: dict[str, int], breached: int, oncall, stats, now: datetime,
                tz, role: str | None) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(" support-console ", style="bold reverse")
    t.append(f" {operator}" + (f" ({role})" if role else "") + "  ")
    for cls in ("III", "II", "I"):
        color = fmt.CLASS_COLOR[cls]
        fg = "#000000" if cls == "II" else "#ffffff"
        t.append(f" {cls} ", style=f"bold {fg} on {color}")
        t.append(f" {counts.get(cls, 0)}  ", style=f"bold {color}")
    if breached:
        t.append(f" {breached} BREACHED ", style="bold #ffffff on #b4232a")
    else:
        t.append("0 breached", style="dim")
    t.append("\n")
    t.append(" on call ")
    if oncall is None:
        t.append("no rotation", style="dim")
    else:
        t.append(oncall.primary or "-", style="bold")
        t.append(" / ")
        t.append(oncall.secondary or "-")
    t.append("  │ poller ")
    if stats is None or stats.heartbeat_at is None:
        t.append("never seen", style="bold #ffffff on #b4232a")
    else:
        age = (now - stats.heartbeat_at).total_seconds()
        if age > STALE_SECONDS:
            t.append(f"STALE {fmt.age(age)}", style="bold #ffffff on #b4232a")
        else:
            t.append(f"ok {fmt.age(age)}", style="green")
    out = stats.outbox if stats else {}
    t.append("  │ outbox ")
    t.append(f"{out.get('pending', 0) + out.get('sending', 0)} pending", style="")
    t.append(" ")
    failed = out.get("failed", 0) + out.get("expired", 0)
    t.append(f"{failed} failed", style="bold #ffffff on #b4232a" if failed else "dim")
    t.append("  │ " + now.astimezone(tz).strftime("%H:%M:%S %Z"))
    return t


class StatusBar(Static):
    def set_status(self, text: Text) -> None:
        self.update(text)
