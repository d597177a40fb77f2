"""The SLA report screen (issue 24 item 4): each class's first contact within target for the last weeks,
at a glance, and the breaches behind the figures.

The chart is a small bar chart per class, one column of block characters per week, drawn as the text of
an OptionList entry (Textual's own widgets, no dependency). Textual's Sparkline was the other candidate;
it cannot show a week without a decided ticket as missing (it would draw 0 %, or drop the week and shift
the others), nor colour a bar by whether the target was met, which is the point here. The weeks' figures
are written under the bars, since a bar has no axis.

Enter on a class's line (its breach figure) lists those breached tickets; Enter on one opens it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, cast

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from console.ui import keys
from console.ui import styles as st

WEEKS = 8
BLOCKS = "▁▂▃▄▅▆▇█"
CLASSES = ("I", "II", "III")
TARGET_PCT = 95.0  # at or above: the promise kept that week; below it the bar takes the warning colour


class DeskApp(Protocol):
    db_path: Path
    cfg: Any
    clock: Any

    def open_ticket(self, tid: int) -> None: ...


ROWS = 4  # the chart's height in lines: a full block per quarter of 100 %, a partial one on top
COL = 5   # a week's column: its bar three cells wide, then a gap


def _style(pct: float) -> str:
    return "bold green" if pct >= TARGET_PCT else "bold yellow" if pct >= 80 else "bold red"


def bar(pct: float | None, row: int = 0) -> Content:
    """Line `row` (0 = the bottom) of one week's bar, COL cells wide: as high as its met %, green at or
    above TARGET_PCT, yellow from 80 %, red below; a dot on the bottom line for a week with nothing decided."""
    if pct is None:
        return st.muted(" ·".ljust(COL)) if row == 0 else Content(" " * COL)
    height = max(0.0, min(100.0, pct)) / 100 * ROWS  # in lines
    fill = height - row
    if fill >= 1:
        ch = "█"
    elif fill > 0:
        ch = BLOCKS[max(0, min(len(BLOCKS) - 1, int(fill * len(BLOCKS)) - 1))]
    else:
        ch = "▁" if row == 0 else " "  # 0 %: a thin line, so the week is seen to count
    return st.join(Content.styled(ch * 3, _style(pct)), " " * (COL - 3))


def chart(pcts: list[float | None], indent: int = 6) -> Content:
    """ROWS lines of bars, one column per week, and the weeks' figures under them."""
    lines = [st.join(" " * indent, *(bar(p, row) for p in pcts)) for row in reversed(range(ROWS))]
    labels = "".join((f"{p:.0f}%" if p is not None else "-").ljust(COL) for p in pcts)
    return st.join(*(st.join(line, "\n") for line in lines), st.muted(" " * indent + labels))


def class_line(cls: str, weeks: list[dict[str, Any]]) -> Content:
    """A class's entry: its last week and its breaches in words, then its chart."""
    breached = sum(len(w["breaches"][cls]) for w in weeks)
    head = st.join(st.badge(cls), "  ")
    if weeks:
        last = weeks[-1]["classes"][cls]
        pct = "-" if last["met_pct"] is None else f"{last['met_pct']:.1f}%"
        head = st.join(head, st.bold(f"last week {pct}"), f" ({last['met']} met, {last['tickets_in']} in)  ",
                       st.bold(f"{breached} breached"), f" in {len(weeks)} weeks  ⏎ lists them")
    return st.join(head, "\n", chart([w["classes"][cls]["met_pct"] for w in weeks]))


class BreachList(ModalScreen[int | None]):
    """The breached tickets behind a figure; Enter opens one."""

    KEY_CONTEXT = keys.DIALOG
    BINDINGS = keys.bindings(keys.DIALOG)

    def __init__(self, title: Content, rows: list[tuple[int, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield OptionList(*(Option(Content(text), id=str(tid)) for tid, text in self.rows), id="breach-list")
            if not self.rows:
                yield Static("no breaches: the promise was kept", classes="dialog-note")
            yield Static("⏎ open the ticket   j/k move   esc back", classes="dialog-help")
        yield Footer()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0) or None)

    def action_list_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_list_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReportScreen(Screen):
    """Is the promise kept? First contact within target per class, week by week."""

    KEY_CONTEXT = keys.REPORT
    BINDINGS = keys.bindings(keys.REPORT)

    def __init__(self) -> None:
        super().__init__()
        self.weeks: list[dict[str, Any]] = []
        self.details: dict[int, dict[str, Any]] = {}  # ticket -> its breach row (class, assignee, how late)

    def compose(self) -> ComposeResult:
        yield Static(st.join(st.bold(" Is the promise kept? "), st.muted(
            f" first contact within target, per class, the last {WEEKS} weeks (oldest first)")), id="report-title")
        yield OptionList(id="report-classes")
        yield Static("", id="report-note")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#report-note", Static).update(st.muted("reading the history…"))
        self.load()

    @property
    def desk(self) -> DeskApp:
        return cast(DeskApp, self.app)

    @work(thread=True, exclusive=True, group="report", exit_on_error=False)
    def load(self) -> None:
        import store
        from console.reports import sla

        app = self.desk
        db = store.open_db(app.db_path)
        try:
            now = app.clock.now()
            weeks = sla.weekly_compliance(db, WEEKS, now, app.cfg.timezone, app.cfg.sla)
            first = sla.Period(sla.date.fromisoformat(weeks[0]["from"]), sla.last_week(now, app.cfg.timezone).end,
                               app.cfg.timezone)
            rows = {b["ticket"]: b for b in sla.build(db, first, app.cfg.sla, now)["breaches"]}
        finally:
            db.conn.close()
        self.app.call_from_thread(self.show, weeks, rows)

    def show(self, weeks: list[dict[str, Any]], details: dict[int, dict[str, Any]]) -> None:
        self.weeks, self.details = weeks, details
        ol = self.query_one("#report-classes", OptionList)
        ol.clear_options()
        ol.add_options([Option(class_line(cls, weeks), id=cls) for cls in CLASSES])
        ol.highlighted = 0
        ol.focus()
        span = f"{weeks[0]['from']} to the end of last week" if weeks else ""
        self.query_one("#report-note", Static).update(st.muted(
            f"{span}; bars: green ≥ {TARGET_PCT:.0f}%, yellow ≥ 80%, red below, · nothing decided.  "
            "⏎ lists the breaches; support-console report sla --html prints the whole report"))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "report-classes" and event.option.id:
            self.list_breaches(event.option.id)

    def list_breaches(self, cls: str) -> None:
        from console.reports.render import span

        rows = []
        for w in reversed(self.weeks):
            for tid in w["breaches"][cls]:
                b = self.details.get(tid, {})
                late = span(b.get("late_seconds")) if b else "?"
                rows.append((tid, f"#{tid:<6} week of {w['from']}  {b.get('assignee') or '(unassigned)':<14} "
                                  f"{late} late"))

        def chosen(tid: int | None) -> None:
            if tid is not None:
                self.desk.open_ticket(tid)

        self.app.push_screen(BreachList(st.join(st.badge(cls), st.bold(f"  breaches in the last {WEEKS} weeks")),
                                        rows), chosen)

    def action_close(self) -> None:
        self.dismiss()

    def action_refresh(self) -> None:
        self.load()

    def action_cursor_down(self) -> None:
        self.query_one("#report-classes", OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#report-classes", OptionList).action_cursor_up()
