"""The ticket list: a Line API widget that draws only the rows on screen.

Textual's DataTable measures every cell of every new row on the UI thread and removes rows one at a
time in linear time each: with 10,000 open tickets here, adding the rows then measuring them took
about 1 s, clearing and refilling for a new filter another 1 s, and removing 500 rows 3 s, all with
the clock and the keys stopped. This widget keeps only an ordered list of ticket ids; a new order (a
filter, a sort, a resolved ticket) is one list, and a frame renders the 30-odd visible lines from
the tickets themselves. It uses Textual's public Line API (ScrollView, render_line, Strip,
component classes for the colours).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from collections.abc import Callable
from typing import Any, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip


class RowView(NamedTuple):
    """What one row shows; built by the owner of the data from a ticket and the current time."""
    cls_css: str       # "class-iii"
    badge: str         # " III "
    tid: int
    left: str          # "14m59s !"
    level: str         # "ok" | "warn" | "breached" | "acked"
    subject: str       # already one clean line
    requester: str
    assignee: str
    status: str
    marked: bool
    customer_wrote: bool


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


GAP = 1
# Essential columns first; the rest are dropped on narrow terminals. The subject takes what is left.
_FIXED = {"mark": ("", 1), "mail": ("", 1), "cls": ("Class", 5), "id": ("#", 6), "left": ("Time left", 16),
          "requester": ("Requester", 22), "assignee": ("Assignee", 9), "status": ("Status", 12)}
_ORDER = ("mark", "mail", "cls", "id", "left", "subject", "requester", "assignee", "status")
_OPTIONAL = ("requester", "status")  # dropped, in this order of preference, when the subject gets too narrow
MIN_SUBJECT = 24


def layout(width: int) -> list[Column]:
    """Columns for a content width: at 80 columns the essential ones (class, id, time left, subject,
    assignee) fit; wider terminals add requester and status, and then give every extra cell to the subject."""
    keep = [k for k in _ORDER if k != "subject"]
    for drop in reversed(_OPTIONAL):
        fixed = sum(_FIXED[k][1] for k in keep) + GAP * len(keep)
        if width - fixed >= MIN_SUBJECT + 10:
            break
        keep.remove(drop)
    fixed = sum(_FIXED[k][1] for k in keep) + GAP * len(keep)
    subject = max(8, width - fixed)
    cols = []
    for key in _ORDER:
        if key == "subject":
            cols.append(Column("subject", "Subject", subject))
        elif key in keep:
            label, w = _FIXED[key]
            cols.append(Column(key, label, w))
    return cols


def fit(text: str, width: int) -> str:
    """`text` in exactly `width` cells: padded, or cut with an ellipsis (wide characters counted)."""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(set_cell_size(text, max(0, width - 1)).rstrip() + "\u2026", width)


class TicketTable(ScrollView, can_focus=True, inherit_bindings=False):
    """Rows are ticket ids in display order; `row_view(id, now)` says what each one shows."""

    COMPONENT_CLASSES = {
        "tickets--header", "tickets--row", "tickets--cursor", "tickets--acked", "tickets--breached",
        "tickets--mark", "tickets--mail", "tickets--class-iii", "tickets--class-ii", "tickets--class-i",
        "tickets--left-ok", "tickets--left-warn", "tickets--left-breached", "tickets--left-acked",
        "tickets--empty",
    }
    BINDINGS = [Binding("pageup", "page_up", "Page up", show=False),
                Binding("pagedown", "page_down", "Page down", show=False)]

    class Highlighted(Message):
        def __init__(self, table: TicketTable, ticket_id: int | None) -> None:
            super().__init__()
            self.table = table
            self.ticket_id = ticket_id

    class Chosen(Message):
        """A row was double-clicked."""

        def __init__(self, table: TicketTable, ticket_id: int) -> None:
            super().__init__()
            self.table = table
            self.ticket_id = ticket_id

    def __init__(self, row_view: Callable[[int, datetime], RowView | None], now: Callable[[], datetime],
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.row_view = row_view
        self.now = now()
        self.ids: list[int] = []
        self._index: dict[int, int] = {}
        self.cursor_row = 0
        self.empty_text = "no tickets"
        self._width = 0
        self._columns: list[Column] = []

    # -- rows ------------------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self.ids)

    def set_rows(self, ids: list[int], keep: int | None = None) -> None:
        """A new order. The cursor stays on ticket `keep` (default: the current one) if it is still
        shown, else on the same row number."""
        keep = self.cursor_id if keep is None else keep
        self.ids = list(ids)
        self._index = {tid: n for n, tid in enumerate(self.ids)}
        self._resize_virtual()
        same_row = min(self.cursor_row, max(0, len(self.ids) - 1))
        row = self._index.get(keep, same_row) if keep is not None else same_row
        self.move_cursor(row, announce=self.cursor_id != keep or keep is None)
        self.refresh()

    @property
    def cursor_id(self) -> int | None:
        return self.ids[self.cursor_row] if 0 <= self.cursor_row < len(self.ids) else None

    def move_cursor(self, row: int, announce: bool = True) -> None:
        before = self.cursor_id
        self.cursor_row = max(0, min(row, len(self.ids) - 1)) if self.ids else 0
        self._scroll_to_cursor()
        self.refresh()
        if announce or self.cursor_id != before:
            self.post_message(self.Highlighted(self, self.cursor_id))

    def move_to(self, tid: int) -> bool:
        row = self._index.get(tid)
        if row is None:
            return False
        self.move_cursor(row)
        return True

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + max(1, self._visible_rows() - 1))

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - max(1, self._visible_rows() - 1))

    def tick(self, now: datetime) -> None:
        """A new second: the visible rows are drawn again (nothing else is touched)."""
        self.now = now
        if self.ids:
            self.refresh()

    def _visible_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)  # one line is the header

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(max(1, self.scrollable_content_region.width), len(self.ids) + 1)

    def _scroll_to_cursor(self) -> None:
        top, rows = int(self.scroll_y), self._visible_rows()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + rows:
            self.scroll_to(y=self.cursor_row - rows + 1, animate=False, immediate=True)

    def on_resize(self, event: events.Resize) -> None:
        self._resize_virtual()
        self._scroll_to_cursor()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()

    # -- mouse -------------------------------------------------------------------------------------------
    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        row = int(self.scroll_y) + offset.y - 1
        if row < len(self.ids):
            self.move_cursor(row)
            if event.chain >= 2:
                self.post_message(self.Chosen(self, self.ids[row]))

    # -- drawing -----------------------------------------------------------------------------------------
    def columns(self) -> list[Column]:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width, self._columns = width, layout(width)
        return self._columns

    def _style(self, *names: str) -> Style:
        return self.get_component_rich_style(*names)

    def render_line(self, y: int) -> Strip:
        cols = self.columns()
        width = self._width
        if y == 0:
            style = self._style("tickets--header")
            segs = []
            for c in cols:
                segs.append(Segment(fit(c.label, c.width) + " " * GAP, style))
            return Strip(segs).crop_extend(0, width, style)
        row = int(self.scroll_y) + y - 1
        base = self._style("tickets--row")
        if row >= len(self.ids):
            if not self.ids and y == 1:
                return Strip([Segment(fit(" " + self.empty_text, width), self._style("tickets--empty"))])
            return Strip.blank(width, base)
        view = self.row_view(self.ids[row], self.now)
        if view is None:
            return Strip.blank(width, base)
        return Strip(self._row_segments(view, cols, row == self.cursor_row)).crop_extend(0, width, base)

    def _row_segments(self, v: RowView, cols: list[Column], cursor: bool) -> list[Segment]:
        names = ["tickets--row"]
        if v.level == "acked":
            names.append("tickets--acked")
        elif v.level == "breached":
            names.append("tickets--breached")
        if cursor:
            names.append("tickets--cursor")
        row_style = self._style(*names)
        gap = Segment(" " * GAP, row_style)
        segs = []
        for c in cols:
            k, style = c.key, row_style
            if k == "mark":
                text, style = ("*" if v.marked else " "), row_style + self._style("tickets--mark")
            elif k == "mail":
                text, style = ("\u2709" if v.customer_wrote else " "), row_style + self._style("tickets--mail")
            elif k == "cls":
                text, style = v.badge, self._style(f"tickets--{v.cls_css}")
            elif k == "id":
                text = str(v.tid).rjust(c.width - 1)
            elif k == "left":
                text, style = v.left, row_style + self._style(f"tickets--left-{v.level}")
            elif k == "subject":
                text = v.subject
            elif k == "requester":
                text = v.requester
            elif k == "assignee":
                text = v.assignee
            else:
                text = v.status
            segs.append(Segment(fit(text, c.width), style))
            segs.append(gap)
        return segs
