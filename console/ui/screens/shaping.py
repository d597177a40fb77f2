"""The split dialog: choose a customer's message of the ticket to become a ticket of its own, and whether the
customer's later messages go with it. Enter splits from the list or the checkbox (space toggles it)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Button, Checkbox, Footer, OptionList, Static
from textual.widgets.option_list import Option

from console.safe_text import clean_line
from console.ui import format as fmt, styles as st
from console.ui.screens.dialogs import Dialog
from store.rows import MessagePreview
from store.times import parse_iso


@dataclass(frozen=True)
class SplitChoice:
    message: int
    later: bool


def splittable(messages: list[MessagePreview]) -> list[MessagePreview]:
    """A customer's mail other than the one the ticket was opened with (that one is the ticket)."""
    mail = [m for m in messages if m["kind"] != "note"]
    first = mail[0]["id"] if mail else None
    return [m for m in mail if m["kind"] in ("new", "reply") and m["id"] != first]


def message_words(m: MessagePreview, tz: tzinfo) -> Content:
    when = fmt.local_time(parse_iso(m["received_at"]), tz, "%a %H:%M")
    who = clean_line(m["from_name"] or m["from_addr"] or "(unknown sender)", 30)
    first = clean_line(next((line for line in m["body_text"].splitlines() if line.strip()), ""), 50)
    return st.join(st.muted(f"{m['id']:>6}  {when}  "), Content(who), st.muted("  " + first))


class SplitDialog(Dialog):
    """Returns a SplitChoice, or None on cancel."""

    HINT = "⏎ split   j/k move   space later mail too   esc cancel"
    BINDINGS = [Binding("enter", "submit", "Split", show=False, priority=True),
                Binding("space", "toggle_later", "Later mail too", show=False)]

    def __init__(self, title: Content, messages: list[MessagePreview], tz: tzinfo):
        super().__init__()
        self.title_text, self.messages, self.tz = title, messages, tz

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield Static(Content("A new ticket from this message, classified and timed from its arrival:"),
                         classes="dialog-note")
            yield OptionList(*(Option(message_words(m, self.tz), id=str(m["id"])) for m in self.messages),
                             id="messages")
            yield Checkbox("also the customer's later messages of this ticket", id="later")
            yield self.ok_cancel("Split")
            yield self.hint()
        yield Footer()

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.highlighted = len(self.messages) - 1 if self.messages else None
        ol.focus()

    def action_toggle_later(self) -> None:
        """Space on the list toggles the checkbox (on the checkbox, the checkbox's own space does)."""
        self.query_one("#later", Checkbox).toggle()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        if isinstance(self.focused, Button) and self.focused.id == "cancel":
            self.dismiss(None)
            return
        ol = self.query_one(OptionList)
        if ol.highlighted is None:
            return
        option_id = ol.get_option_at_index(ol.highlighted).id
        if option_id is None:
            return
        self.dismiss(SplitChoice(int(option_id), self.query_one("#later", Checkbox).value))
