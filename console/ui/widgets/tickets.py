"""The ticket table: one row per open ticket, keyed by ticket id; only visible countdowns tick."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterable

from rich.text import Text
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets._data_table import DuplicateKey, Row, RowKey

from console.safe_text import clean_line
from console.ui import format as fmt

COLUMNS = (  # key, label, width
    ("mark", "", 1),
    ("cls", "Class", 5),
    ("id", "#", 5),
    ("left", "Time left", 17),
    ("subject", "Subject", 32),
    ("requester", "Requester", 20),
    ("assignee", "Assignee", 8),
    ("status", "Status", 12),
)
SUBJECT_WIDTH = 32


def fast_time(text: str | None) -> datetime | None:
    """store.times ISO text ("2026-01-05T17:00:00Z") -> aware UTC datetime, without strptime's cost."""
    return datetime.fromisoformat(text) if text else None


def _badge_style(cls: str) -> str:
    fg = "#000000" if cls == "II" else "#ffffff"
    return f"bold {fg} on {fmt.CLASS_COLOR.get(cls, 'white')}"


def badge_text(cls: str) -> Text:
    return Text(fmt.badge(cls), style=_badge_style(cls))


def ticket_level(t: dict[str, Any], now: datetime, warn_fraction: float) -> tuple[int | None, str]:
    """(seconds left or None when acknowledged, level)."""
    if t.get("acknowledged_at"):
        return None, "acked"
    due = t.get("_due") or fast_time(t["due_at"])
    secs = fmt.seconds_left(due, now)
    received = t.get("_received") or fast_time(t["received_at"])
    return secs, fmt.level(secs, fmt.target_seconds(received, due), warn_fraction)


def left_text(t: dict[str, Any], secs: int | None, lvl: str) -> Text:
    color = fmt.CLASS_COLOR.get(t["class"], "white")
    text = fmt.countdown_cell(secs, lvl)
    if lvl == "breached":
        fg = "#000000" if t["class"] == "II" else "#ffffff"
        return Text(text, style=f"bold {fg} on {color}")
    if lvl == "warn":
        return Text(text, style=f"bold {color}")
    if lvl == "acked":
        return Text(text, style="dim")
    return Text(text, style=color)


def one_line(s: str | None, limit: int) -> str:
    """clean_line(s, limit), with a fast path for text that is already one clean printable line."""
    if s and s.isprintable() and "  " not in s and s[0] != " " and s[-1] != " ":
        return s if len(s) <= limit else s[: limit - 1].rstrip() + "\u2026"
    return clean_line(s or "", limit)


_SHARED: dict[tuple[str, str], Text] = {}


def _shared(text: str, style: str) -> Text:
    """Short, immutable-in-practice cells (badges, handles, statuses) are built once and reused."""
    key = (text, style)
    t = _SHARED.get(key)
    if t is None:
        t = _SHARED[key] = Text(text, style=style)
    return t


def row_cells(t: dict[str, Any], secs: int | None, lvl: str, marked: bool) -> list:
    """Every cell of a row. Mail-derived strings become plain Text (never markup), cleaned to one line."""
    plain = "bold" if lvl == "breached" else ("dim" if lvl == "acked" else "")
    requester = t.get("requester_name") or t.get("requester") or ""
    cls = t["class"]
    return [
        _shared("*" if marked else " ", "bold"),
        _shared(fmt.badge(cls), _badge_style(cls)),
        t["id"],
        left_text(t, secs, lvl),
        Text(one_line(t.get("subject") or "(no subject)", SUBJECT_WIDTH), style=plain, no_wrap=True),
        Text(one_line(requester, 20), style=plain, no_wrap=True),
        _shared(t.get("assignee") or "-", plain),
        _shared(("PANIC " if t.get("panic_mode") else "") + t["status"], plain),
    ]


class TicketTable(DataTable):
    """A DataTable with fixed-width, one-line cells, which lets it skip measuring 10,000 rows."""

    def __init__(self, **kw):
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.on_viewport: Callable[[], None] | None = None
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def _update_dimensions(self, new_rows: Iterable) -> None:
        # All columns have a fixed width and every row is one line high, so there is nothing to measure.
        if self._labelled_row_exists or any(c.auto_width for c in self.columns.values()):
            return super()._update_dimensions(new_rows)
        width = sum(c.get_render_width(self) for c in self.columns.values())
        self.virtual_size = Size(width, self._total_row_height + (self.header_height if self.show_header else 0))

    def add_rows_bulk(self, rows: list[tuple[str, list]]) -> None:
        """add_row() for many rows at once: one cursor check and one refresh instead of one per row."""
        if not rows:
            return
        start = self.row_count
        columns = self.ordered_columns
        for offset, (key, cells) in enumerate(rows):
            row_key = RowKey(key)
            if row_key in self._row_locations:
                raise DuplicateKey(f"The row key {row_key!r} already exists.")
            self._row_locations[row_key] = start + offset
            self._data[row_key] = {column.key: cell for column, cell in zip(columns, cells)}
            self.rows[row_key] = Row(row_key, 1, None, False)
            self._new_rows.add(row_key)
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        if start == 0 and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self._update_count += 1
        self.check_idle()

    def visible_keys(self) -> list[str]:
        """Row keys currently on screen (plus a line of margin)."""
        n = self.row_count
        if not n:
            return []
        top = max(0, int(self.scroll_y))
        height = max(1, self.scrollable_content_region.height)
        out = []
        for i in range(top, min(n, top + height + 1)):
            out.append(self.coordinate_to_cell_key(Coordinate(i, 0)).row_key.value)
        return out

    def cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value
        except Exception:
            return None

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.on_viewport is not None and int(old_value) != int(new_value):
            self.on_viewport()
