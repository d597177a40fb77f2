"""Modal dialogs: staff picker, reclassify, resolve, filter. Each returns a value with dismiss()."""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, OptionList, Static
from textual.widgets.option_list import Option

from console.ui import format as fmt
from console.ui import keys


class Dialog(ModalScreen):
    KEY_CONTEXT = keys.DIALOG
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)


class StaffPicker(Dialog):
    """Pick who gets the ticket(s). Returns a handle or None."""

    def __init__(self, title: Text, people: list[dict], oncall=None, current: str | None = None):
        super().__init__()
        self.title_text = title
        self.people = people
        self.oncall = oncall
        self.current = current

    def compose(self) -> ComposeResult:
        options = []
        width = max((len(p["name"]) for p in self.people), default=0)  # notes line up in a column
        for p in self.people:
            t = Text(f"{p['handle']:<8}", style="bold")
            t.append(f" {p['name']:<{width}}")
            if p["role"] == "supervisor":
                t.append("  supervisor", style="italic")
            if self.oncall and p["handle"] == self.oncall.primary:
                t.append("  on call (primary)", style="bold")
            elif self.oncall and p["handle"] == self.oncall.secondary:
                t.append("  on call (secondary)")
            if p["handle"] == self.current:
                t.append("  current", style="dim")
            options.append(Option(t, id=p["handle"]))
        with Vertical(id="dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield OptionList(*options, id="staff")
            yield Static("⏎ assign   esc cancel", classes="dialog-help")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.focus()
        ids = [p["handle"] for p in self.people]
        if self.current in ids and len(ids) > 1:
            ol.highlighted = (ids.index(self.current) + 1) % len(ids)
        elif ids:
            ol.highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


@dataclass(frozen=True)
class ReclassifyResult:
    cls: str
    reason: str
    panic: bool


class ReclassifyDialog(Dialog):
    """Choose a class (1/2/3 or the list), give a reason, optionally record panic mode."""

    def __init__(self, title: Text, current: str):
        super().__init__()
        self.title_text = title
        self.current = current

    def compose(self) -> ComposeResult:
        options = []
        for cls in ("III", "II", "I"):
            t = Text(fmt.badge(cls), style=f"bold {'#000000' if cls == 'II' else '#ffffff'} on {fmt.CLASS_COLOR[cls]}")
            t.append(f"  Class {cls} ({fmt.CLASS_NAME[cls]})" + ("  current" if cls == self.current else ""))
            options.append(Option(t, id=cls))
        with Vertical(id="dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield OptionList(*options, id="classes")
            yield Input(placeholder="reason (recorded in the audit log)", id="reason")
            yield Checkbox("Panic mode: Class III used for something that was not critical", id="panic")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Reclassify", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        order = ["III", "II", "I"]
        ol.highlighted = (order.index(self.current) + 1) % 3 if self.current in order else 0
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#reason", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        ol = self.query_one(OptionList)
        opt = ol.get_option_at_index(ol.highlighted or 0)
        self.dismiss(ReclassifyResult(cls=opt.id, reason=self.query_one("#reason", Input).value.strip(),
                                      panic=self.query_one("#panic", Checkbox).value))


class ResolveDialog(Dialog):
    """Confirm a resolve, with an optional note. Returns the note ('' allowed) or None."""

    def __init__(self, title: Text):
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield Input(placeholder="note (optional)", id="note")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Resolve", variant="error", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.query_one(Input).value.strip() if event.button.id == "ok" else None)


FILTERS = (
    ("all", "All open tickets"),
    ("III", "Class III only"),
    ("II", "Class II only"),
    ("I", "Class I only"),
    ("mine", "Mine"),
    ("unassigned", "Unassigned"),
    ("breached", "Breached"),
)


class FilterDialog(Dialog):
    """Pick a filter. Returns its id or None."""

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text("Filter tickets", style="bold"), classes="dialog-title")
            yield OptionList(*[Option(label, id=fid) for fid, label in FILTERS], id="filters")
            yield Static("⏎ apply   esc cancel", classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
