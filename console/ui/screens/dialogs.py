"""Modal dialogs: staff picker, template picker, reclassify, resolve, filter, go to, save attachment,
and a yes/no question.

Each returns a value with dismiss() (None when cancelled), shows a hint line and a footer with its own
keys, and moves through lists with j/k as well as the arrows. Dialogs offer only the choices the
operator may make; the permission checks in console.actions stay the authority.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets.button import ButtonVariant
from textual.widgets import Button, Checkbox, Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from console.safe_text import clean_line
from console.ui import format as fmt
from console.ui import keys
from console.ui import styles as st
from store.rows import StaffRow

if TYPE_CHECKING:
    from console.alerts.oncall import OnCall


SHORT_SCREEN = 32  # rows: on a shorter terminal (80x24) fields and buttons are drawn one line high
SHORT_LIST = 7     # and lists show this many choices at a time


class Toggle(Checkbox, inherit_bindings=False):
    """A checkbox that space toggles; Enter is left to the dialog, which submits (as its hint says)."""

    BINDINGS = [Binding("space", "toggle_button", "Toggle", show=False)]


class Dialog(ModalScreen):
    KEY_CONTEXT = keys.DIALOG
    BINDINGS = keys.bindings(keys.DIALOG)
    HINT = "⏎ choose   j/k move   esc cancel"

    def hint(self) -> Static:
        return Static(self.hint_text(), classes="dialog-help")

    def ok_cancel(self, label: str, variant: ButtonVariant = "primary") -> Horizontal:
        """The dialog's two buttons: `label` (id "ok") and Cancel."""
        return Horizontal(Button(label, variant=variant, id="ok"), Button("Cancel", id="cancel"),
                          classes="dialog-buttons")

    def hint_text(self) -> str:
        """HINT with the keys as the desk remapped them ([console.keys]): "⏎", "esc", "j/k", "y", "n/esc"."""
        remap: dict[str, str] = getattr(self.app, "remap", {}) or {}
        text = self.HINT
        if not remap:
            return text
        registry = {k.id: k for k in keys.REGISTRY}

        def shown(bid: str) -> str:
            return keys.key_label(registry[bid], remap)

        if "dialog.down" in remap or "dialog.up" in remap:
            text = text.replace("j/k", f"{shown('dialog.down').split('/')[0]}/{shown('dialog.up').split('/')[0]}")
        tokens = ((("confirm.yes", "y"), ("confirm.no", "n/esc")) if self.KEY_CONTEXT == keys.CONFIRM
                  else (("dialog.ok", "⏎"), ("dialog.cancel", "esc")))
        for bid, token in tokens:  # each token opens the hint or follows a three-space gap
            if bid not in remap:
                continue
            if text.startswith(f"{token} "):
                text = f"{shown(bid)} " + text[len(token) + 1:]
            else:
                text = text.replace(f"   {token} ", f"   {shown(bid)} ", 1)
        return text

    def on_mount(self) -> None:
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Every dialog fits 80x24 with its buttons and hint: on a short terminal its fields, lists and
        buttons lose their borders (Textual's compact style)."""
        short = self.app.size.height < SHORT_SCREEN
        for w in self.query("Input, Button, Checkbox, OptionList"):
            if isinstance(w, (Input, Button, Checkbox, OptionList)):
                w.compact = short
            if isinstance(w, OptionList):  # a long list scrolls within fewer rows
                w.styles.max_height = SHORT_LIST if short else None
        self.set_class(short, "-short")

    def action_submit(self) -> None:
        """Enter where no field takes it (a checkbox, say): what the dialog's own ⏎ does."""

    def _list(self) -> OptionList | None:
        lists = self.query(OptionList)
        return lists.first() if lists else None

    def action_list_down(self) -> None:
        if (ol := self._list()) is not None:
            ol.action_cursor_down()

    def action_list_up(self) -> None:
        if (ol := self._list()) is not None:
            ol.action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class Person:
    handle: str
    name: str
    role: str

    @classmethod
    def clean(cls, row: StaffRow) -> Person:
        """Names and handles from the config are untrusted text like mail."""
        return cls(clean_line(row["handle"], 24), clean_line(row.get("name") or "", 40), row.get("role") or "staff")


class FilterPicker(Dialog):
    """A list to pick from, filtered as one types (j and k still move). Returns the option's id or None.
    Subclasses give `_options(query)` and the ids of the filter box, the list and the "no match" line."""

    FILTER_ID, LIST_ID, EMPTY_ID = "filter", "choices", "choices-empty"
    NO_MATCH = "nothing matches {query!r}"

    def _options(self, query: str) -> list[Option]:
        raise NotImplementedError

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.focus()
        if ol.option_count:
            ol.highlighted = 0

    def on_key(self, event: events.Key) -> None:
        # Typing on the list starts the filter (j and k move, as in every list).
        ol = self.query_one(OptionList)
        if ol.has_focus and event.is_printable and event.character and event.character not in "jk ":
            box = self.query_one(f"#{self.FILTER_ID}", Input)
            box.value += event.character
            box.cursor_position = len(box.value)
            box.focus()
            event.stop()

    def on_input_changed(self, event: Input.Changed) -> None:
        ol = self.query_one(OptionList)
        ol.clear_options()
        opts = self._options(event.value)
        ol.add_options(opts)
        ol.highlighted = 0 if opts else None
        # What was typed (or pasted) is text, never markup: "[/x]" must not reach Textual's markup parser.
        said = "" if opts else self.NO_MATCH.format(query=clean_line(event.value, 60))
        self.query_one(f"#{self.EMPTY_ID}", Static).update(Content(said))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        ol = self.query_one(OptionList)
        if ol.highlighted is not None:
            self.dismiss(ol.get_option_at_index(ol.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class StaffPicker(FilterPicker):
    """Pick who gets the ticket(s). Type to filter; returns a handle or None."""

    HINT = "⏎ assign   j/k move   type to filter   esc cancel"
    FILTER_ID, LIST_ID, EMPTY_ID = "staff-filter", "staff", "staff-empty"
    NO_MATCH = "nobody matches {query!r}"

    def __init__(self, title: Content, people: list[Person], oncall: OnCall | None = None,
                 current: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.people = people
        self.oncall = oncall
        self.current = current

    def _option(self, p: Person, width: int) -> Option:
        t = Content.styled(f"{p.handle:<8}", "bold") + Content(f" {p.name:<{width}}")
        if p.role == "supervisor":
            t += Content.styled("  supervisor", "italic")
        if self.oncall and p.handle == self.oncall.primary:
            t += st.bold("  on call (primary)")
        elif self.oncall and p.handle == self.oncall.secondary:
            t += Content("  on call (secondary)")
        if p.handle == self.current:
            t += st.muted("  current")
        return Option(t, id=p.handle)

    def _options(self, query: str) -> list[Option]:
        width = max((len(p.name) for p in self.people), default=0)  # notes line up in a column
        q = query.strip().lower()
        return [self._option(p, width) for p in self.people
                if not q or q in p.handle.lower() or q in p.name.lower()]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield Input(placeholder="filter by handle or name", id=self.FILTER_ID)
            yield OptionList(*self._options(""), id=self.LIST_ID)
            yield Static("", id=self.EMPTY_ID, classes="dialog-note")
            yield self.hint()
        yield Footer()


@dataclass(frozen=True)
class TemplateChoice:
    name: str
    summary: str  # a line of its text, cleaned


class TemplatePicker(FilterPicker):
    """Pick a canned reply ([replies] templates and the shipped ones). Returns its name or None."""

    HINT = "⏎ use it   j/k move   type to filter   esc cancel"
    FILTER_ID, LIST_ID, EMPTY_ID = "template-filter", "templates", "templates-empty"
    NO_MATCH = "no template matches {query!r}"

    def __init__(self, title: Content, choices: list[TemplateChoice], suggested: str | None = None):
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.suggested = suggested

    def _options(self, query: str) -> list[Option]:
        width = max((len(c.name) for c in self.choices), default=0)
        q = query.strip().lower()
        return [Option(st.join(Content.styled(f"{c.name:<{width}}", "bold"), "  ", st.muted(c.summary)), id=c.name)
                for c in self.choices if not q or q in c.name.lower()]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield Input(placeholder="filter by name", id=self.FILTER_ID)
            yield OptionList(*self._options(""), id=self.LIST_ID)
            yield Static("" if self.choices else "no templates", id=self.EMPTY_ID, classes="dialog-note")
            yield self.hint()
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        ol = self.query_one(OptionList)
        if self.suggested is not None and self.suggested in [c.name for c in self.choices]:
            ol.highlighted = ol.get_option_index(self.suggested)


class ConfirmDialog(Dialog):
    """A yes/no question: y (or the Yes button) returns True; n, Esc or No returns False."""

    KEY_CONTEXT = keys.CONFIRM
    BINDINGS = keys.bindings(keys.CONFIRM)
    inherit_bindings = False  # y and n/esc only: no list keys, no second Esc in the footer
    HINT = "y yes   n/esc no"

    def __init__(self, title: Content, question: Content | str, yes: str = "Yes", no: str = "No"):
        super().__init__()
        self.title_text, self.question, self.yes_label, self.no_label = title, question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog confirm"):
            yield Static(self.title_text, classes="dialog-title")
            yield Static(self.question if isinstance(self.question, Content) else Content(self.question),
                         id="question")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes_label, variant="error", id="yes")
                yield Button(self.no_label, variant="primary", id="no")
            yield self.hint()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # Enter on its own never destroys anything

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


@dataclass(frozen=True)
class ReclassifyResult:
    cls: str
    reason: str
    panic: bool


def panic_label(on: bool) -> str:
    return ("Panic mode: ON (a misused Class III, billed as consulting)" if on
            else "Panic mode: off (space to record a misused Class III)")


class ReclassifyDialog(Dialog):
    """Choose a class, give a reason, and (supervisors, Class III tickets) record panic mode.

    `note_for(cls)` says what the new deadline would be, counted from the original arrival."""

    HINT = "⏎ reclassify   j/k move   tab reason / panic   esc cancel"

    def __init__(self, title: Content, current: str, note_for: Callable[[str], tuple[str, bool]], *,
                 allow_panic: bool = False):
        super().__init__()
        self.title_text = title
        self.current = current
        self.note_for = note_for
        self.allow_panic = allow_panic

    def compose(self) -> ComposeResult:
        options = []
        for cls, info in fmt.CLASSES.items():
            if cls == self.current and not self.allow_panic:
                continue  # a move to the same class is refused; with panic mode it records the misuse
            t = st.badge(cls) + Content(f"  Class {cls} ({info.name})" + ("  current" if cls == self.current else ""))
            options.append(Option(t, id=cls))
        with Vertical(id="dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield OptionList(*options, id="classes")
            yield Static("", id="deadline", classes="dialog-note")
            yield Input(placeholder="reason (recorded in the audit log)", id="reason")
            if self.allow_panic:
                yield Toggle(panic_label(False), id="panic")
            yield self.ok_cancel("Reclassify")
            yield self.hint()
        yield Footer()

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        order = [o.id for o in ol.options]
        below = {"III": "II", "II": "I", "I": "II"}.get(self.current)
        ol.highlighted = order.index(below) if below in order else 0
        ol.focus()
        self._show_note()

    def _chosen(self) -> str | None:
        ol = self.query_one(OptionList)
        return ol.get_option_at_index(ol.highlighted).id if ol.highlighted is not None else None

    def _show_note(self) -> None:
        cls = self._chosen()
        note = self.query_one("#deadline", Static)
        if cls is None:
            note.update("")
            return
        text, overdue = self.note_for(cls)
        note.update(Content(text))
        note.set_class(not overdue, "-ok")

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_note()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.checkbox.label = panic_label(event.value)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        self._submit()

    def _submit(self) -> None:
        cls = self._chosen()
        if cls is None:
            return
        panic = self.allow_panic and self.query_one("#panic", Checkbox).value
        self.dismiss(ReclassifyResult(cls=cls, reason=self.query_one("#reason", Input).value.strip(), panic=panic))


class ResolveDialog(Dialog):
    """Confirm a resolve, with an optional note. Returns the note ('' allowed) or None."""

    HINT = "⏎ resolve   esc cancel"

    def __init__(self, title: Content):
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield Input(placeholder="note (optional)", id="note")
            yield self.ok_cancel("Resolve", "error")
            yield self.hint()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_submit(self) -> None:
        self.dismiss(self.query_one(Input).value.strip())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.query_one(Input).value.strip() if event.button.id == "ok" else None)


FILTERS = (
    ("all", "All tickets (clear filters)"),
    ("III", "Class III only"),
    ("II", "Class II only"),
    ("I", "Class I only"),
    ("mine", "Mine"),
    ("unassigned", "Unassigned"),
    ("breached", "Breached"),
    ("wrote", "Customer wrote again"),
)


class FilterDialog(Dialog):
    """Pick a filter. Returns its id or None."""

    HINT = "⏎ apply   j/k move   esc cancel"

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(st.bold("Filter tickets"), classes="dialog-title")
            yield OptionList(*[Option(label, id=fid) for fid, label in FILTERS], id="filters")
            yield self.hint()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_submit(self) -> None:
        ol = self.query_one(OptionList)
        if ol.highlighted is not None:
            self.dismiss(ol.get_option_at_index(ol.highlighted).id)


class GotoDialog(Dialog):
    """Ask for a ticket number. Returns it or None."""

    HINT = "⏎ open   esc cancel"

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(st.bold("Go to ticket"), classes="dialog-title")
            yield Input(placeholder="ticket number, e.g. 42 or #42", id="goto", restrict=r"#?[0-9]*")
            yield Static("", id="goto-error", classes="dialog-note")
            yield self.hint()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        text = self.query_one(Input).value.strip().lstrip("#")
        if not text.isdigit():
            self.query_one("#goto-error", Static).update("a ticket number, such as 42")
            return
        self.dismiss(int(text))


@dataclass(frozen=True)
class SaveChoice:
    index: int  # among the choices given
    path: str


class SaveDialog(Dialog):
    """Pick an attachment and the file to write it to (never opened or run). Returns a SaveChoice."""

    HINT = "⏎ save   j/k move   tab file name   esc cancel"

    def __init__(self, title: Content, choices: list[str], default_path: Callable[[int], str]):
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.default_path = default_path

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield OptionList(*[Option(Content(c), id=str(i)) for i, c in enumerate(self.choices)], id="files")
            yield Input(self.default_path(0), id="path")
            yield Static("Saved with permissions 0600; an existing file is never overwritten.",
                         classes="dialog-note -ok")
            yield self.hint()
        yield Footer()

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.highlighted = 0
        ol.focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.query_one("#path", Input).value = self.default_path(event.option_index)  # option i has id str(i)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_submit()  # Enter submits from any field: the file name shown is the one used

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        ol, path = self.query_one(OptionList), self.query_one("#path", Input).value.strip()
        if not path:
            self.query_one("#path", Input).focus()
        elif ol.highlighted is not None:
            self.dismiss(SaveChoice(ol.highlighted, path))
