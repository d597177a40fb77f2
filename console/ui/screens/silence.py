"""The console's "silence this sender for…" dialog: hold the pages of a ticket's sender, or of its whole
domain, for a while, with a reason (supervisors; console.silencing does the checks and the audit)."""
from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Button, Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from console.safe_text import clean_line
from console.ui.screens.dialogs import Dialog

DEFAULT_LENGTH = "2h"


@dataclass(frozen=True)
class SilenceRequest:
    kind: str     # "sender" | "domain"
    pattern: str
    length: str   # as typed ("2h"); console.silencing checks it (at most 24h)
    reason: str


class SilenceDialog(Dialog):
    """Choose the sender or its domain, how long, and why. Enter in a field (or on a choice) confirms."""

    HINT = "⏎ silence   j/k move   tab how long / reason   esc cancel"

    def __init__(self, title: Content, requester: str):
        super().__init__()
        self.title_text = title
        self.requester = requester.strip().lower()

    def compose(self) -> ComposeResult:
        domain = self.requester.rpartition("@")[2]
        options = [Option(Content(f"this sender: {clean_line(self.requester, 60)}"), id="sender")]
        if domain:
            options.append(Option(Content(f"the whole domain: {clean_line(domain, 60)}"), id="domain"))
        with Vertical(id="dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield OptionList(*options, id="what")
            yield Input(value=DEFAULT_LENGTH, placeholder="for how long (e.g. 2h; at most 24h)", id="length")
            yield Input(placeholder="reason (shown to the desk and recorded in the audit log)", id="reason")
            yield Static("Tickets still open with their clocks; their pages are held, and paged as one bundle "
                         "when the silence ends.", classes="dialog-note")
            yield self.ok_cancel("Silence")
            yield self.hint()
        yield Footer()

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.highlighted = 0
        ol.focus()

    def _submit(self) -> None:
        ol = self.query_one(OptionList)
        kind = ol.get_option_at_index(ol.highlighted).id if ol.highlighted is not None else "sender"
        pattern = self.requester if kind == "sender" else self.requester.rpartition("@")[2]
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#reason", Input).focus()
            self.notify("a silence needs a reason", severity="warning", markup=False)
            return
        self.dismiss(SilenceRequest(str(kind), pattern, self.query_one("#length", Input).value.strip(), reason))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#length", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "length":
            self.query_one("#reason", Input).focus()
        else:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)
