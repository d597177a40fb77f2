"""The ticket list: open (or resolved) tickets by time left, live countdowns, filters, search, marks,
a preview of the selected ticket when the list is short, and the pages panel."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from textual import getters, work
from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from console.fold import fold
from console.safe_text import clean_block, clean_line
from console.ui import format as fmt
from console.ui import keys
from console.ui import styles as st
from console.ui.screens.dialogs import FilterDialog
from console.ui.widgets.status import StatusBar
from console.ui.shown import ShownTicket
from console.ui.widgets.tickets import RowView, TicketTable
from store.rows import LatestMessage

if TYPE_CHECKING:
    from console.ui.app import ConsoleApp

SORTS = ("time", "id", "class")
SORT_LABELS = {"time": "time left", "id": "id", "class": "class"}
PREVIEW_MIN_LINES = 6  # the list leaves at least this many lines free before a preview shows


@dataclass
class View:
    cls: str | None = None
    mine: bool = False
    unassigned: bool = False
    breached: bool = False
    wrote: bool = False
    search: str = ""
    search_ids: set[int] = field(default_factory=set)
    sort: str = "time"
    resolved: bool = False  # the resolved tickets instead of the open ones

    def filters(self) -> list[str]:
        parts = [f"Class {self.cls}"] if self.cls else []
        parts += [name for name in ("mine", "unassigned", "breached") if getattr(self, name)]
        if self.wrote:
            parts.append("customer wrote")
        return parts


def ticket_level(t: ShownTicket, now: datetime, warn_fraction: float) -> tuple[int | None, str]:
    """(seconds left or None when acknowledged or resolved, level)."""
    if t.get("acknowledged_at") or t["status"] == "resolved":
        return None, "acked"
    secs = fmt.seconds_left(t["_due"], now)
    return secs, fmt.level(secs, fmt.target_seconds(t["_received"], t["_due"]), warn_fraction)


CALL_ME = "call-me only: "  # a ticket whose mail asks for a call and says nothing else (the policy's rule)


def row_view(t: ShownTicket, now: datetime, warn_fraction: float, marked: bool) -> RowView:
    secs, lvl = ticket_level(t, now, warn_fraction)
    info = fmt.class_info(t["class"])
    subject = f"{CALL_ME}{t['_subject']}" if t.get("needs_details") else t["_subject"]
    return RowView(info.css, info.badge, t["id"], fmt.left_cell(secs, lvl), lvl, subject, t["_requester"],
                   t["_assignee"], fmt.status_word(t), marked, bool(t.get("customer_wrote")))


class DashboardScreen(Screen[None]):
    KEY_CONTEXT = keys.DASHBOARD
    BINDINGS = keys.bindings(keys.DASHBOARD)
    if TYPE_CHECKING:  # the app this screen belongs to, for the type checker (Textual's getters.app)
        app = getters.app(ConsoleApp)

    def __init__(self) -> None:
        super().__init__()
        self.view = View()
        self._table: TicketTable | None = None
        self._preview_for: int | None = None
        self._details_key: bool | None = None  # whether the footer shows d now

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(id="viewbar")
        table = self._table = TicketTable(self._row_view, self.app.clock.now, id="tickets")
        yield table
        yield Static(id="preview")
        pages = Static(id="pages")
        pages.border_title = "Pages sent (p hides)"
        yield pages
        yield Input(placeholder="search subject, requester, mail (case and accents ignored); #N jumps to a ticket;"
                                " ⏎ apply, esc clear", id="search")
        yield Footer()

    def on_mount(self) -> None:
        self.app.ensure_loaded()
        self.call_after_refresh(self._painted)
        self.sync()
        self.app.update_status()
        self.table.focus()

    def _painted(self) -> None:
        self.app.painted()

    @property
    def table(self) -> TicketTable:
        # Kept from compose(): no DOM query per tick, and none after teardown.
        if self._table is None:
            raise RuntimeError("the ticket list is made by compose()")
        return self._table

    # -- rows ------------------------------------------------------------------------------------
    def source(self) -> dict[int, ShownTicket]:
        return self.app.resolved if self.view.resolved else self.app.tickets

    def _row_view(self, tid: int, now: datetime) -> RowView | None:
        t = self.source().get(tid)
        if t is None:
            return None
        return row_view(t, now, self.app.warn_fraction, tid in self.app.marked)

    def _sort_key(self, t: ShownTicket) -> tuple[Any, ...]:
        if self.view.resolved:
            resolved = t["_resolved"]
            return (-(resolved.timestamp() if resolved else 0), -t["id"])
        if self.view.sort == "id":
            return (t["id"],)
        if self.view.sort == "class":
            return (fmt.class_info(t["class"]).rank,) + t["_sort"]
        return t["_sort"]

    def _passes(self, t: ShownTicket, now: datetime) -> bool:
        v, app = self.view, self.app
        if v.cls and t["class"] != v.cls:
            return False
        if v.mine and t.get("assignee") != app.operator:
            return False
        if v.unassigned and t.get("assignee"):
            return False
        if v.wrote and not t.get("customer_wrote"):
            return False
        if v.breached and ticket_level(t, now, app.warn_fraction)[1] != "breached":
            return False
        if v.search:
            q = fold(v.search)
            if not (t["id"] in v.search_ids or q in t["_fold"] or q.lstrip("#") == str(t["id"])):
                return False
        return True

    def sync(self, changed: set[int] | None = None) -> None:
        """Bring the list in line with the tickets: one new order, the cursor kept on its ticket."""
        now = self.app.clock.now()
        src = self.source()
        ids = [tid for tid, t in src.items() if self._passes(t, now)]
        ids.sort(key=lambda tid: self._sort_key(src[tid]))
        self.table.empty_text = self._empty_text()
        self.table.now = now
        if ids != self.table.ids:
            self.table.set_rows(ids)
        elif changed:
            self.table.refresh()
        self.show_viewbar()
        self._layout_preview()
        self._update_keys()

    def _selected_needs_details(self) -> bool:
        tid = self.table.cursor_id if self._table is not None else None
        t = self.source().get(tid) if tid is not None else None
        return bool(t and t.get("needs_details") and t["status"] != "resolved")

    def _update_keys(self) -> None:
        """The footer shows d only on a ticket that needs details; redrawn only when that changes."""
        now = self._selected_needs_details()
        if now != self._details_key:
            self._details_key = now
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "details":
            return self._selected_needs_details()
        if action == "merge":
            return bool(self.app.marked)
        if action == "unmerge":
            return self._selected_merged()
        return True

    def _selected_merged(self) -> bool:
        tid = self.selected_id()
        t = self.app.known(tid) if tid is not None else None
        return bool(t and t.get("merged_into"))

    def _empty_text(self) -> str:
        v = self.view
        if v.search:
            return f"no ticket matches {clean_line(v.search, 60)!r}" + (" with these filters" if v.filters() else "")
        if v.filters():
            return "no ticket passes these filters (0 clears them)"
        return "no resolved tickets" if v.resolved else "no open tickets: all quiet"

    def tick(self, now: datetime) -> None:
        """The once-a-second work: the visible rows are drawn again with the new time."""
        if self._table is None or not self._table.is_attached:  # a timer firing while the app shuts down
            return
        self.table.tick(now)
        if self.view.breached:
            self.sync()

    def show_viewbar(self) -> None:
        v, app = self.view, self.app
        shown, total = self.table.row_count, len(self.source())
        parts: list[Content | str] = [st.bold(f" {shown} of {total} {'resolved (v: open)' if v.resolved else 'open'}")]
        parts.append(f"  sort: {'resolved, newest first' if v.resolved else SORT_LABELS[v.sort]}")
        if v.filters():
            parts.append(st.bold("  filter: " + ", ".join(v.filters())))
        if v.search:
            parts += ["  search: ", st.bold(clean_line(v.search, 60))]
            if not shown:
                parts.append(st.alarm(" no match "))
        if app.marked:
            parts.append(Content.styled(f"  marked: {len(app.marked)} (o reassigns all, M merges them into the ticket"
                                        " under the cursor, esc clears)", "bold reverse"))
        self.query_one("#viewbar", Static).update(st.join(*parts))

    def selected_id(self) -> int | None:
        return self.table.cursor_id

    # -- preview below a short list ------------------------------------------------------------------
    def on_resize(self) -> None:
        self._layout_preview()

    def _layout_preview(self) -> None:
        table = self.table
        preview = self.query_one("#preview", Static)
        free = self.size.height - 5 - (9 if self.query_one("#pages").has_class("-shown") else 0)
        short = table.row_count + 1 + PREVIEW_MIN_LINES <= free
        table.set_class(short, "-short")
        if short:
            table.styles.height = max(1, table.row_count) + 1  # the header, and a row saying why it is empty
        else:
            table.styles.height = None  # back to the stylesheet's 1fr
        preview.set_class(short and table.cursor_id is not None, "-shown")
        if short:
            self._want_preview(table.cursor_id)

    def on_ticket_table_highlighted(self, event: TicketTable.Highlighted) -> None:
        self._update_keys()
        if self.query_one("#preview").has_class("-shown"):
            self._want_preview(event.ticket_id)

    def _want_preview(self, tid: int | None) -> None:
        if tid is None or tid == self._preview_for:
            return
        self._preview_for = tid
        self._load_preview(tid)

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def _load_preview(self, tid: int) -> None:
        m = self.app.reads.preview(tid)
        text = preview_text(self.source().get(tid), m)
        self.app.call_from_thread(self._show_preview, tid, text)

    def _show_preview(self, tid: int, text: Content) -> None:
        if tid == self._preview_for and self.is_attached:
            self.query_one("#preview", Static).update(text)

    def on_ticket_table_chosen(self, event: TicketTable.Chosen) -> None:
        self.app.open_ticket(event.ticket_id)

    # -- movement --------------------------------------------------------------------------------
    def action_cursor_down(self) -> None:
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table.action_cursor_up()

    def action_cursor_top(self) -> None:
        self.table.move_cursor(0)

    def action_cursor_bottom(self) -> None:
        self.table.move_cursor(max(0, self.table.row_count - 1))

    def action_open_detail(self) -> None:
        tid = self.selected_id()
        if tid is not None:
            self.app.open_ticket(tid)

    # -- filters, search, sort, marks, views ---------------------------------------------------------
    def action_class_filter(self, cls: str) -> None:
        if cls:
            self.view.cls = None if self.view.cls == cls else cls
        else:
            self.view = View(sort=self.view.sort, resolved=self.view.resolved)
            self.query_one("#search", Input).value = ""
        self.sync()

    def action_filter(self) -> None:
        def apply(choice: str | None) -> None:
            if choice is None:
                return
            v = self.view
            if choice == "all":
                self.view = View(sort=v.sort, search=v.search, search_ids=v.search_ids, resolved=v.resolved)
            elif choice in fmt.CLASSES:
                v.cls = None if v.cls == choice else choice
            else:
                setattr(v, choice, not getattr(v, choice))
            self.sync()

        self.app.push_screen(FilterDialog(), apply)

    def action_sort(self) -> None:
        self.view.sort = SORTS[(SORTS.index(self.view.sort) + 1) % len(SORTS)]
        self.sync()
        self.app.notify(f"Sorted by {SORT_LABELS[self.view.sort]}", timeout=2)

    def action_toggle_resolved(self) -> None:
        self.view.resolved = not self.view.resolved
        self.app.marked.clear()
        if self.view.resolved:
            self.app.load_resolved()
        self.sync()

    def action_pages(self) -> None:
        pages = self.query_one("#pages", Static)
        pages.toggle_class("-shown")
        if pages.has_class("-shown"):
            self.app.load_pages()
        self._layout_preview()

    def show_pages(self, rows: list[dict[str, Any]]) -> None:
        self.query_one("#pages", Static).update(pages_text(rows, self.app.cfg.timezone))

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.add_class("-open")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "search":
            return
        text = event.value.strip()
        if text.startswith("#") and text[1:].isdigit():
            event.input.value = ""
            event.input.remove_class("-open")
            self.table.focus()
            self.app.open_ticket(int(text[1:]))
            return
        self.apply_search(text)
        self.table.focus()

    def apply_search(self, text: str) -> None:
        """Search the list at once (subject, requester); bodies are searched in a worker and added."""
        text = text.strip()
        self.view.search = text
        self.view.search_ids = set()
        box = self.query_one("#search", Input)
        box.value = text
        box.set_class(bool(text), "-open")
        self.sync()
        if text:
            self._search_bodies(text)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def _search_bodies(self, text: str) -> None:
        ids = self.app.reads.search_bodies(text)
        self.app.call_from_thread(self._bodies_found, text, ids)

    def _bodies_found(self, text: str, ids: set[int]) -> None:
        if self.view.search == text and self.is_attached:
            self.view.search_ids = ids
            self.sync()
            if not self.table.row_count:
                self.app.notify(f"No ticket matches {clean_line(text, 60)!r}", severity="warning", timeout=4,
                                markup=False)

    def action_unmark(self) -> None:
        box = self.query_one("#search", Input)
        if box.has_focus:
            box.value = ""
        if self.app.marked:
            self.app.marked.clear()
            self.table.refresh()
        elif self.view.search:
            self.apply_search("")
        box.remove_class("-open")
        self.table.focus()
        self.show_viewbar()

    def action_mark(self) -> None:
        tid = self.selected_id()
        if tid is None or self.view.resolved:
            return
        self.app.marked.symmetric_difference_update({tid})
        self.table.action_cursor_down()
        self.table.refresh()
        self.show_viewbar()
        self.refresh_bindings()  # M (merge) shows while tickets are marked

    def action_refresh(self) -> None:
        self.app.refresh_soon()
        if self.view.resolved:
            self.app.load_resolved()

    # -- actions -----------------------------------------------------------------------------------
    def _one(self) -> int | None:
        tid = self.selected_id()
        if tid is None:
            self.app.notify("No ticket selected", severity="warning")
        return tid

    def action_ack(self) -> None:
        if (tid := self._one()) is not None:
            self.app.start_action("acknowledge", [tid])

    def action_ack_marked(self) -> None:
        """Each marked ticket through the same action as `a`, one by one, each with its own audit event."""
        ids = sorted(self.app.marked)
        if not ids:
            self.app.notify("No tickets marked (space marks one)", severity="warning")
            return
        self.app.start_action("acknowledge", ids)

    def action_take(self) -> None:
        if (tid := self._one()) is not None:
            self.app.start_action("take", [tid])

    def action_assign(self) -> None:
        ids = sorted(self.app.marked) or ([t] if (t := self._one()) is not None else [])
        if ids:
            self.app.open_assign(ids)

    def action_reclassify(self) -> None:
        if (tid := self._one()) is not None:
            self.app.open_reclassify(tid)

    def action_resolve(self) -> None:
        if (tid := self._one()) is not None:
            self.app.open_resolve(tid)

    def action_reopen(self) -> None:
        if (tid := self._one()) is not None:
            self.app.start_action("reopen", [tid])

    def action_merge(self) -> None:
        from console.ui import shaping

        shaping.merge_marked(self.app, self.selected_id())

    def action_unmerge(self) -> None:
        from console.ui import shaping

        if (tid := self._one()) is not None:
            shaping.unmerge(self.app, tid)

    def action_silence(self) -> None:
        if (tid := self._one()) is not None:
            self.app.open_silence(tid)

    def action_reply(self) -> None:
        if (tid := self._one()) is not None:
            self.app.replies.reply_to(tid)

    def action_note(self) -> None:
        if (tid := self._one()) is not None:
            self.app.replies.write_note(tid)

    def action_template_reply(self) -> None:
        if (tid := self._one()) is not None:
            self.app.replies.template_reply(tid)

    def action_details(self) -> None:
        if (tid := self._one()) is not None:
            self.app.replies.ask_for_details(tid)


def preview_text(t: ShownTicket | None, m: LatestMessage | None) -> Content:
    if t is None:
        return Content("")
    head = st.join(st.badge(t["class"]), st.bold(f" #{t['id']} {t['_subject']}"), "\n")
    if m is None:
        return head + st.muted("no messages")
    who = clean_line(m["from_name"] or m["from_addr"] or "(unknown sender)", 60)
    body = clean_block(m["body_text"] or "")
    lines = body.splitlines()[:12]
    return head + st.muted(f"latest: {m['kind']} from {who}\n") + Content("\n".join(lines) or "(no text)")


def pages_text(rows: list[dict[str, Any]], tz: tzinfo) -> Content:
    if not rows:
        return st.muted("no pages sent yet")
    parts: list[Content | str] = []
    for a in rows[:7]:
        when = a.get("sent_at") or a.get("created_at")
        from store.times import parse_iso

        parts.append(st.muted(fmt.local_time(parse_iso(when), tz, "%H:%M:%S") + "  "))
        parts.append(st.bold(f"#{a['ticket_id'] or '-'} "))
        style = {"sent": "$success", "failed": "bold $error", "expired": "bold $error"}.get(a["state"], "")
        parts.append(Content.styled(fmt.page_words(a), style))
        if a.get("title"):
            parts.append(st.muted("  " + clean_line(a["title"], 80)))
        parts.append("\n")
    return st.join(*parts[:-1])
