"""The `?` screen: every key from the registry, grouped by where it applies."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.ui import format as fmt
from console.ui import keys


def _keys_table(contexts: tuple[str, ...]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("key", style="bold", width=8)
    table.add_column("what")
    for n, ctx in enumerate(contexts):
        if n:
            table.add_row("", "")
        table.add_row("", Text(keys.CONTEXT_TITLES[ctx], style="bold underline"))
        for k in keys.for_context(ctx):
            table.add_row(k.label, k.description)
    return table


def help_table() -> Table:
    """Every registry entry: the ticket list on the left, everywhere and the detail on the right."""
    grid = Table.grid(expand=True, padding=(0, 3))
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    grid.add_row(_keys_table((keys.DASHBOARD,)), _keys_table((keys.APP, keys.DETAIL)))
    return grid


def legend() -> Text:
    t = Text("Classes  ")
    for cls in ("III", "II", "I"):
        t.append(fmt.badge(cls), style=f"bold {'#000000' if cls == 'II' else '#ffffff'} on {fmt.CLASS_COLOR[cls]}")
        t.append(f" {fmt.CLASS_NAME[cls]}  ")
    t.append("\nTime left  '14:59'  '7:59:12'  '2d 23h';  '1:40 !' = 80% of the target used;  "
             "'-3:12 BREACHED' = overdue;  ack'd = clock stopped")
    return t


class HelpScreen(ModalScreen):
    KEY_CONTEXT = keys.DIALOG
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help", classes="dialog"):
            yield Static(Text("Keys", style="bold"), classes="dialog-title")
            yield Static(help_table())
            yield Static(legend(), id="legend")
            yield Static("esc close   ctrl+p command palette", classes="dialog-help")

    async def action_dismiss(self, result=None) -> None:
        self.dismiss()
