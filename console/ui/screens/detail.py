"""One ticket: header, flags, the message thread as plain text, audit history and pages sent."""
from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from console.safe_text import clean_block, clean_line
from console.ui import format as fmt
from console.ui import keys
from console.ui.data import Detail
from console.ui.widgets.status import StatusBar
from console.ui.widgets.tickets import badge_text, left_text, ticket_level
from store.times import parse_iso


def _section(title: str) -> Text:
    out = Text()
    out.append(f"\n{title}\n", style="bold underline")  # a span, not the Text's base style: the body stays plain
    return out


def head_text(d: Detail, app) -> Text:
    t = d.ticket
    now = app.clock.now()
    secs, lvl = ticket_level(t, now, app.warn_fraction)
    out = Text(no_wrap=False)
    out.append_text(badge_text(t["class"]))
    out.append(f" #{t['id']} ", style="bold")
    out.append(clean_line(t["subject"] or "(no subject)", 200), style="bold")
    out.append("\n")
    out.append("time left ")
    out.append_text(left_text(t, secs, lvl))
    out.append(f"   status {t['status']}   assignee {t['assignee'] or '-'}   version {t['version']}")
    return out


def info_text(d: Detail, app) -> Text:
    t, tz = d.ticket, app.cfg.timezone
    out = Text()
    out.append("Requester  ")
    out.append(clean_line(f"{t['requester_name']} <{t['requester']}>", 120))
    out.append(f"\nReceived   {fmt.local_time(parse_iso(t['received_at']), tz)}")
    out.append(f"\nDue        {fmt.local_time(parse_iso(t['due_at']), tz)}   (Class {t['class']}: "
               f"{fmt.CLASS_NAME[t['class']]})")
    if t["acknowledged_at"]:
        out.append(f"\nAcked      {fmt.local_time(parse_iso(t['acknowledged_at']), tz)} by {t['acknowledged_by']}")
    out.append("\nWhy class  ")
    out.append(clean_line(t["class_reason"] or "-", 160))
    flags = flag_list(d)
    out.append("\nFlags      ")
    if flags:
        for i, f in enumerate(flags):
            out.append((" " if i else "") + f" {f} ", style="bold reverse")
    else:
        out.append("none", style="dim")
    return out


def flag_list(d: Detail) -> list[str]:
    t = d.ticket
    flags = []
    if t["panic_mode"]:
        flags.append("PANIC MODE")
    if t["needs_details"]:
        flags.append("NEEDS DETAILS (call-me only)")
    if t["quarantined"]:
        flags.append("QUARANTINED")
    if any(m["unparseable"] for m in d.messages):
        flags.append("UNPARSEABLE MAIL")
    if any(m["oversize"] for m in d.messages):
        flags.append("OVERSIZE MAIL")
    if any(m["defects"] for m in d.messages):
        flags.append("MAIL DEFECTS")
    return flags


def thread_text(d: Detail, app) -> Text:
    out = _section(f"Messages ({len(d.messages)})")
    for m in d.messages:
        who = clean_line(f"{m['from_name']} <{m['from_addr']}>" if m["from_name"] else m["from_addr"], 100)
        out.append(f"── {fmt.local_time(parse_iso(m['received_at']), app.cfg.timezone)}  {m['kind']}  ", style="bold")
        out.append(who or "(unknown sender)", style="bold")
        out.append("\n")
        out.append("Subject: ")
        out.append(clean_line(m["subject"], 200))
        tags = [k for k in ("unparseable", "oversize") if m[k]]
        if m["defects"]:
            tags.append(f"{len(m['defects'])} defects")
        if m["attachments"]:
            tags.append(f"{len(m['attachments'])} attachments")
        if tags:
            out.append("  [" + ", ".join(tags) + "]", style="bold")
        out.append("\n\n")
        body = clean_block(m["body_text"]) or "(no text)"
        out.append(body)
        out.append("\n\n")
    return out


def audit_text(d: Detail, app) -> Text:
    out = _section(f"History ({len(d.events)})")
    for e in d.events:
        out.append(f"{fmt.local_time(parse_iso(e['at']), app.cfg.timezone, '%d %b %H:%M:%S')}  ")
        out.append(f"{e['actor']:<8} ", style="bold")
        out.append(f"{e['kind']:<14} ")
        detail = {k: v for k, v in e["detail"].items() if v not in ("", None, [], {})}
        out.append(clean_line(json.dumps(detail, sort_keys=True, default=str), 160) if detail else "", style="dim")
        out.append("\n")
    return out


def pages_text(d: Detail, app) -> Text:
    out = _section(f"Pages ({len(d.alerts)})")
    if not d.alerts:
        out.append("none\n", style="dim")
    for a in sorted(d.alerts, key=lambda a: a["id"]):
        out.append(f"{fmt.local_time(parse_iso(a['due_at']), app.cfg.timezone, '%d %b %H:%M:%S')}  ")
        out.append(f"{a['step']:<10} {a['target']:<8} ")
        style = {"sent": "green", "failed": "bold red", "expired": "bold red", "cancelled": "dim"}.get(a["state"], "")
        out.append(f"{a['state']:<9}", style=style)
        out.append(f" tries {a['attempts']}")
        if a["last_error"]:
            out.append("  " + clean_line(a["last_error"], 100), style="dim")
        out.append("\n")
    return out


class DetailScreen(Screen):
    KEY_CONTEXT = keys.DETAIL
    BINDINGS = keys.bindings(keys.DETAIL)

    def __init__(self, ticket_id: int):
        super().__init__()
        self.ticket_id = ticket_id
        self.detail: Detail | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(id="detail-head")
        with VerticalScroll(id="detail-body"):
            yield Static(id="detail-info")
            yield Static(id="detail-thread")
            yield Static(id="detail-audit")
            yield Static(id="detail-pages")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.app.update_status()  # paint the status line now, not at the next tick
        self.query_one("#detail-body").focus()

    def reload(self) -> None:
        from store.db import StoreError

        try:
            self.detail = d = self.app.data.detail(self.ticket_id)
        except StoreError as exc:
            self.app.notify(str(exc), severity="error", markup=False)
            return
        self.query_one("#detail-head", Static).update(head_text(d, self.app))
        self.query_one("#detail-info", Static).update(info_text(d, self.app))
        self.query_one("#detail-thread", Static).update(thread_text(d, self.app))
        self.query_one("#detail-audit", Static).update(audit_text(d, self.app))
        self.query_one("#detail-pages", Static).update(pages_text(d, self.app))
        self.add_class(f"class-{d.ticket['class']}")

    def tick(self) -> None:
        if self.detail is not None:
            self.query_one("#detail-head", Static).update(head_text(self.detail, self.app))

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_scroll_down(self) -> None:
        self.query_one("#detail-body").scroll_down()

    def action_scroll_up(self) -> None:
        self.query_one("#detail-body").scroll_up()

    def action_refresh(self) -> None:
        self.app.refresh_now(force=True)
        self.reload()

    def action_ack(self) -> None:
        self.app.start_action("acknowledge", [self.ticket_id])

    def action_take(self) -> None:
        self.app.start_action("take", [self.ticket_id])

    def action_assign(self) -> None:
        self.app.open_assign([self.ticket_id])

    def action_reclassify(self) -> None:
        self.app.open_reclassify(self.ticket_id)

    def action_resolve(self) -> None:
        self.app.open_resolve(self.ticket_id)
