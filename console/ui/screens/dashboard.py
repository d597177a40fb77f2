"""The ticket list: open tickets by time left, live countdowns, filters, search, marks."""
from __future__ import annotations

import time

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Input, RichLog, Static

from console.safe_text import clean_line
from console.ui import keys
from console.ui.screens.dialogs import FilterDialog
from console.ui.widgets.status import StatusBar
from console.ui.widgets.tickets import TicketTable, left_text, row_cells, ticket_level

SORTS = ("time", "id", "class")
SORT_LABELS = {"time": "time left", "id": "id", "class": "class"}
_RANK = {"III": 0, "II": 1, "I": 2}


@dataclass
class View:
    cls: str | None = None
    mine: bool = False
    unassigned: bool = False
    breached: bool = False
    search: str = ""
    search_ids: set[int] = field(default_factory=set)
    sort: str = "time"

    def active(self) -> bool:
        return bool(self.cls or self.mine or self.unassigned or self.breached or self.search)


FIRST_PAGE = 200  # rows built before the first paint; the rest are added straight after it


class DashboardScreen(Screen):
    KEY_CONTEXT = keys.DASHBOARD
    BINDINGS = keys.bindings(keys.DASHBOARD)

    def __init__(self) -> None:
        super().__init__()
        self.view = View()
        self._table: TicketTable | None = None
        self._order: list[int] = []
        self._shown: dict[int, tuple[str, str]] = {}  # id -> (countdown text, level) on screen
        self._keys: dict[int, tuple] = {}  # id -> sort key of the shown rows

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(id="viewbar")
        table = self._table = TicketTable(id="tickets")
        table.on_viewport = self.refresh_visible
        yield table
        yield Input(placeholder="search subject, requester, body: ⏎ apply, esc clear", id="search")
        if self.app.page_sink is not None:
            log = RichLog(id="pages", markup=False, wrap=False, max_lines=500)
            log.border_title = "Pages sent to desk://"
            yield log
        yield Footer()

    def on_mount(self) -> None:
        self.app.ensure_loaded()
        self.call_after_refresh(self._painted)  # registered first: runs right after the first frame
        self.sync()
        self.app.update_status()
        self.table.focus()

    def _painted(self) -> None:
        if self.app.first_paint_at is None:
            self.app.first_paint_at = time.perf_counter()

    @property
    def table(self) -> TicketTable:
        return self._table  # kept from compose(): no DOM query per tick, and none after teardown

    # -- rows ------------------------------------------------------------------------------------
    def _sort_key(self, t: dict[str, Any]):
        acked = 1 if t.get("acknowledged_at") else 0
        if self.view.sort == "id":
            return (t["id"],)
        if self.view.sort == "class":
            return (_RANK.get(t["class"], 9), acked, t["due_at"], t["id"])
        return (acked, t["due_at"], t["id"])

    def _passes(self, t: dict[str, Any], now: datetime) -> bool:
        v, app = self.view, self.app
        if v.cls and t["class"] != v.cls:
            return False
        if v.mine and t.get("assignee") != app.operator:
            return False
        if v.unassigned and t.get("assignee"):
            return False
        if v.breached and ticket_level(t, now, app.warn_fraction)[1] != "breached":
            return False
        if v.search:
            q = v.search.lower()
            if not (t["id"] in v.search_ids or q in (t.get("subject") or "").lower()
                    or q in (t.get("requester") or "").lower() or q in (t.get("requester_name") or "").lower()
                    or q == str(t["id"]) or q == f"#{t['id']}"):
                return False
        return True

    def sync(self, changed: set[int] | None = None, reorder: bool = False) -> None:
        """Bring the table in line with app.tickets, diffing by row key; never clear and rebuild.

        `changed`: only these tickets changed (a poll); None: check every ticket (a new filter).
        Rows are re-sorted only when a sort key changed or rows came or went.
        """
        app = self.app
        now = app.clock.now()
        table = self.table
        tickets, shown, keys = app.tickets, self._shown, self._keys
        keep_key = table.cursor_key()
        keep_row = table.cursor_row
        candidates = tickets.keys() | shown.keys() if changed is None else changed
        new_rows = []
        with app.batch_update():
            for tid in candidates:
                t = tickets.get(tid)
                want = t is not None and self._passes(t, now)
                if not want:
                    if tid in shown:
                        table.remove_row(str(tid))
                        del shown[tid]
                        keys.pop(tid, None)
                        reorder = True
                    continue
                key = self._sort_key(t)
                if tid not in shown:
                    new_rows.append((key, tid, t))
                    keys[tid] = key
                elif changed is not None:
                    self._redraw(tid, now)
                    if keys.get(tid) != key:
                        keys[tid] = key
                        reorder = True
            if new_rows:
                empty = not shown
                new_rows.sort(key=lambda r: r[0])  # on a first load the rows go in already in order
                if empty and len(new_rows) > FIRST_PAGE:
                    # Paint the most urgent screenful first; the long tail follows right after the paint.
                    later = [tid for _, tid, _ in new_rows[FIRST_PAGE:]]
                    new_rows = new_rows[:FIRST_PAGE]
                    for tid in later:
                        keys.pop(tid, None)
                    self.call_after_refresh(self.sync, set(later))
                built = []
                for key, tid, t in new_rows:
                    secs, lvl = ticket_level(t, now, app.warn_fraction)
                    built.append((tid, row_cells(t, secs, lvl, tid in app.marked), lvl))
                table.add_rows_bulk([(str(tid), cells) for tid, cells, _ in built])
                for tid, cells, lvl in built:
                    shown[tid] = (cells[3].plain, lvl)
                if empty:
                    self._order = [tid for tid, _, _ in built]
                elif self._order and new_rows[0][0] > keys[self._order[-1]]:
                    self._order.extend(tid for tid, _, _ in built)  # all sort after the shown rows: appended
                else:
                    reorder = True
            if reorder or len(self._order) != len(shown):
                order = sorted(shown, key=keys.__getitem__)
                if order != self._order:
                    rank = {tid: n for n, tid in enumerate(order)}
                    table.sort("id", key=rank.__getitem__)
                    self._order = order
            if keep_key is not None and int(keep_key) in shown:
                if table.get_row_index(keep_key) != table.cursor_row:
                    table.move_cursor(row=table.get_row_index(keep_key))
            elif table.row_count:
                table.move_cursor(row=min(keep_row, table.row_count - 1))
        self.show_viewbar()
        self.refresh_visible(now)

    def resort(self) -> None:
        """A new sort mode: every key changes."""
        self._keys = {tid: self._sort_key(self.app.tickets[tid]) for tid in self._shown}
        self.sync(reorder=True)

    def _redraw(self, tid: int, now: datetime) -> None:
        app, table = self.app, self.table
        t = app.tickets[tid]
        secs, lvl = ticket_level(t, now, app.warn_fraction)
        cells = row_cells(t, secs, lvl, tid in app.marked)
        for (key, *_), value in zip(table.columns.items(), cells):
            table.update_cell(str(tid), key, value)
        self._shown[tid] = (cells[3].plain, lvl)

    def refresh_visible(self, now: datetime | None = None) -> None:
        """The once-a-second work: only the countdown cells of the rows on screen, only when they change."""
        app = self.app
        table = self.table
        if table is None or not table.is_attached:  # a timer firing while the app shuts down
            return
        now = now or app.clock.now()
        tickets, shown = app.tickets, self._shown
        with app.batch_update():
            for key in table.visible_keys():
                tid = int(key)
                t = tickets.get(tid)
                if t is None:
                    continue
                secs, lvl = ticket_level(t, now, app.warn_fraction)
                old = shown.get(tid)
                if old is not None and old[1] != lvl:
                    self._redraw(tid, now)  # the row's shading changes: every cell
                    continue
                cell = left_text(t, secs, lvl)
                if old is None or old[0] != cell.plain:
                    table.update_cell(key, "left", cell)
                    shown[tid] = (cell.plain, lvl)
        if self.view.breached:
            wanted = sum(1 for t in tickets.values() if self._passes(t, now))
            if wanted != len(shown):
                self.sync()

    def show_viewbar(self) -> None:
        v, app = self.view, self.app
        t = Text(no_wrap=True)
        t.append(f" {len(self._shown)} of {len(app.tickets)} open", style="bold")
        t.append(f"  sort: {SORT_LABELS[v.sort]}")
        parts = []
        if v.cls:
            parts.append(f"Class {v.cls}")
        if v.mine:
            parts.append("mine")
        if v.unassigned:
            parts.append("unassigned")
        if v.breached:
            parts.append("breached")
        if parts:
            t.append("  filter: " + ", ".join(parts), style="bold")
        if v.search:
            t.append("  search: ")
            t.append(v.search, style="bold")  # plain Text: typed text is never markup
        if app.marked:
            t.append(f"  marked: {len(app.marked)} (o reassigns all, esc clears)", style="bold reverse")
        self.query_one("#viewbar", Static).update(t)

    def selected_id(self) -> int | None:
        key = self.table.cursor_key()
        return int(key) if key is not None else None

    # -- movement --------------------------------------------------------------------------------
    def action_cursor_down(self) -> None:
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table.action_cursor_up()

    def action_cursor_top(self) -> None:
        self.table.move_cursor(row=0)

    def action_cursor_bottom(self) -> None:
        self.table.move_cursor(row=max(0, self.table.row_count - 1))

    def on_data_table_row_selected(self, event: TicketTable.RowSelected) -> None:
        event.stop()
        self.action_open_detail()

    def action_open_detail(self) -> None:
        tid = self.selected_id()
        if tid is not None:
            from console.ui.screens.detail import DetailScreen

            self.app.push_screen(DetailScreen(tid))

    # -- filters, search, sort, marks --------------------------------------------------------------
    def action_class_filter(self, cls: str) -> None:
        if cls:
            self.view.cls = None if self.view.cls == cls else cls
        else:
            self.view = View(sort=self.view.sort)
            self.query_one("#search", Input).value = ""
        self.sync()

    def action_filter(self) -> None:
        def apply(choice: str | None) -> None:
            if choice is None:
                return
            v = self.view
            if choice == "all":
                self.view = View(sort=v.sort, search=v.search, search_ids=v.search_ids)
            elif choice in ("I", "II", "III"):
                v.cls = None if v.cls == choice else choice
            else:
                setattr(v, choice, not getattr(v, choice))
            self.sync()

        self.app.push_screen(FilterDialog(), apply)

    def action_sort(self) -> None:
        self.view.sort = SORTS[(SORTS.index(self.view.sort) + 1) % len(SORTS)]
        self.resort()
        self.app.notify(f"Sorted by {SORT_LABELS[self.view.sort]}", timeout=2)

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.add_class("-open")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "search":
            return
        self.apply_search(event.value)
        self.table.focus()

    def apply_search(self, text: str) -> None:
        text = text.strip()
        self.view.search = text
        self.view.search_ids = self.app.data.search_bodies(text) if text else set()
        box = self.query_one("#search", Input)
        box.value = text
        box.set_class(bool(text), "-open")
        self.sync()

    def action_unmark(self) -> None:
        box = self.query_one("#search", Input)
        if box.has_focus:
            box.value = ""
        if self.app.marked:
            marked = set(self.app.marked)
            self.app.marked.clear()
            now = self.app.clock.now()
            for tid in marked & set(self._shown):
                self._redraw(tid, now)
        elif self.view.search:
            self.apply_search("")
        box.remove_class("-open")
        self.table.focus()
        self.show_viewbar()

    def action_mark(self) -> None:
        tid = self.selected_id()
        if tid is None:
            return
        self.app.marked.symmetric_difference_update({tid})
        self._redraw(tid, self.app.clock.now())
        self.table.action_cursor_down()
        self.show_viewbar()

    def action_refresh(self) -> None:
        self.app.refresh_now(force=True)

    # -- actions -----------------------------------------------------------------------------------
    def _one(self) -> int | None:
        tid = self.selected_id()
        if tid is None:
            self.app.notify("No ticket selected", severity="warning")
        return tid

    def action_ack(self) -> None:
        if (tid := self._one()) is not None:
            self.app.start_action("acknowledge", [tid])

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

    def add_page(self, title: str, body: str, at: str) -> None:
        for log in self.query("#pages"):
            line = Text(f"{at}  ", style="dim")
            line.append(title, style="bold")
            line.append("  " + " / ".join(clean_line(x, 120) for x in body.splitlines()[:2]))
            log.write(line)
