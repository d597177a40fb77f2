"""The `?` screen: every key from the registry, grouped by where it applies, and how to read a row."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from console.ui import format as fmt
from console.ui import keys
from console.ui import styles as st


def _keys_table(contexts: tuple[str, ...], remap: dict[str, str] | None = None) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("key", style="bold", width=9)
    table.add_column("what")
    for n, ctx in enumerate(contexts):
        if n:
            table.add_row("", "")
        table.add_row("", Text(keys.CONTEXT_TITLES[ctx], style="bold underline"))
        seen = set()
        for k in keys.for_context(ctx):
            if k.id not in seen:
                seen.add(k.id)
                table.add_row(keys.key_label(k, remap), k.description)
    return table


def help_table(remap: dict[str, str] | None = None) -> Table:
    """Every registry entry: the ticket list and writing on the left; the detail, dialogs and everywhere on
    the right."""
    grid = Table.grid(expand=True, padding=(0, 3))
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    grid.add_row(_keys_table((keys.DASHBOARD, keys.COMPOSER, keys.REVIEW), remap),
                 _keys_table((keys.DETAIL, keys.DIALOG, keys.CONFIRM, keys.REPORT, keys.APP), remap))
    return grid


def legend() -> Content:
    parts: list[Content | str] = ["Classes  "]
    for cls, info in fmt.CLASSES.items():
        parts += [st.badge(cls), f" {info.name}  "]
    parts += ["\nTime left  ", st.left(28, "ok"), "  ", st.left(14 * 60 + 59, "ok"), "  ",
              st.left(4 * 3600 + 3540, "ok"), "  ", st.left(2 * 86400 + 23 * 3600, "ok"), ";  ", st.left(170, "warn"),
              " = 80 % of the target used;  ",
              st.left(-192, "breached"), " = overdue;  ack'd = clock stopped",
              "\n\u2709 = the customer wrote again since the desk last acted;  * = marked for a bulk reassign",
              "\nSearch  words in the subject, requester or mail, ignoring case and accents;  #N jumps to ticket N"]
    return st.join(*parts)


class HelpScreen(ModalScreen):
    KEY_CONTEXT = keys.DIALOG
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close", key_display="esc")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help", classes="dialog"):
            yield Static(st.bold("Keys"), classes="dialog-title")
            yield Static(help_table(getattr(self.app, "remap", None)))  # [console.keys] as the desk set them
            yield Static(legend(), id="legend")
            yield Static("esc close   ctrl+p command palette", classes="dialog-help")
        yield Footer()

    async def action_dismiss(self, result: object = None) -> None:
        self.dismiss()
