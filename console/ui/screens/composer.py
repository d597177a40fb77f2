"""Writing to the customer or the ticket: the built-in composer and the review before anything is sent.

In a real terminal the text is written in $VISUAL or $EDITOR (the app suspends itself, as aerc and mutt
do); where that cannot be (a browser through textual-serve, no editor set) the built-in composer, a
TextArea, takes its place. Either way every reply and note ends on the review screen, which shows
exactly what will go out and sends only on `y`. Esc discards, after a question, from both.

The text is the operator's work: it is kept whatever happens. A send refused because the ticket
changed meanwhile leaves the review open with the new state, so they can look and send again.
"""
from __future__ import annotations

from pathlib import Path

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static, TextArea

from console.safe_text import clean_block, clean_line
from console.ui import keys
from console.ui import styles as st
from console.ui.screens.dialogs import ConfirmDialog
from store.rows import Ticket


@dataclass
class Writing:
    """A reply or a note in progress: the ticket as read when the draft was made (what a send is checked
    against), the text it started with and the text so far, and the reply's headers."""
    kind: str                    # "reply" | "note"
    ticket: Ticket
    draft: str
    text: str
    to: str = ""
    cc: tuple[str, ...] = ()
    subject: str = ""
    template: str | None = None
    warnings: list[str] = field(default_factory=list)  # said on the review, e.g. "details were asked for ..."
    templates_dir: Path | None = None  # [replies] templates: where the template's header says what it records

    @property
    def ticket_id(self) -> int:
        return self.ticket["id"]

    @property
    def version(self) -> int:
        return self.ticket["version"]

    @property
    def is_reply(self) -> bool:
        return self.kind == "reply"

    @property
    def noun(self) -> str:
        return "reply" if self.is_reply else "note"


def title_of(w: Writing) -> Content:
    t = w.ticket
    verb = "Reply to" if w.is_reply else "Internal note on"
    return st.join(st.bold(f"{verb} "), st.badge(t["class"]), st.bold(f" #{w.ticket_id} "),
                   clean_line(t.get("subject") or "(no subject)", 70))


def headers_of(w: Writing) -> Content:
    """To, Cc and Subject of a reply (cleaned: addresses and subjects come from mail); a note's notice."""
    if not w.is_reply:
        return st.muted("Seen by the desk only: a note is never sent to the customer.")
    parts: list = [st.muted("To       "), clean_line(w.to, 120)]
    if w.cc:
        parts += ["\n", st.muted("Cc       "), clean_line(", ".join(w.cc), 200)]
    parts += ["\n", st.muted("Subject  "), clean_line(w.subject, 160)]
    if w.template:
        parts += ["\n", st.muted("Template "), clean_line(w.template, 64)]
    return st.join(*parts)


def writing_row(text: str) -> int:
    """Where the cursor starts in a reply draft: the empty line after the quote (bottom posting)."""
    lines = text.split("\n")
    quoted = [i for i, ln in enumerate(lines) if ln.startswith(">")]
    return min(quoted[-1] + 2, len(lines) - 1) if quoted else 0


def confirm_discard(screen: Screen[Any], w: Writing, then: Callable[[], object]) -> None:
    """Ask before a draft is thrown away; `then()` runs on yes."""
    question = st.join(f"Discard this {w.noun}? Its text is lost; nothing is sent or written.")

    def answered(yes: bool | None) -> None:
        if yes:
            then()

    screen.app.push_screen(ConfirmDialog(st.bold(f"Discard the {w.noun} to #{w.ticket_id}"
                                                 if w.is_reply else f"Discard the note on #{w.ticket_id}"),
                                         question, yes="Discard", no="Keep writing"), answered)


# `offer(writing, use)`: let the operator pick a template, then `use(text, name)` with its draft.
OfferTemplates = Callable[[Writing, Callable[[str, str], None]], None]


class ComposerScreen(Screen[str | None]):
    """The built-in composer. Dismisses with the text (to review it) or None (discarded). Ctrl+o offers
    the templates through `offer_templates`."""

    KEY_CONTEXT = keys.COMPOSER
    BINDINGS = keys.bindings(keys.COMPOSER)

    def __init__(self, writing: Writing, offer_templates: OfferTemplates, note: str = "") -> None:
        super().__init__()
        self.writing = writing
        self.offer_templates = offer_templates
        self.note = note

    def compose(self) -> ComposeResult:
        w = self.writing
        yield Static(title_of(w), id="composer-title", classes="compose-head")
        yield Static(headers_of(w), id="composer-headers", classes="compose-meta")
        yield TextArea(w.text, id="composer-text", soft_wrap=True, show_line_numbers=False)
        yield Static(Content(self.note), id="composer-note", classes="dialog-note")
        hint = "^s review and send   ^o template   ^z undo   esc discard" if w.is_reply else \
            "^s review   ^z undo   esc discard"
        yield Static(hint, classes="dialog-help")
        yield Footer()

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        if self.writing.is_reply:
            area.move_cursor((writing_row(area.text), 0))

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.writing.is_reply or action != "template"  # templates are replies to the customer

    def action_review(self) -> None:
        if not self.text.strip():
            self.query_one("#composer-note", Static).update(
                f"The {self.writing.noun} is empty: write something, or esc discards it.")
            return
        self.dismiss(self.text)

    def action_template(self) -> None:
        self.offer_templates(self.writing, self.use_template)

    def use_template(self, text: str, name: str) -> None:
        """The template's text in place of what is there (ctrl+z brings that back)."""
        area = self.query_one(TextArea)
        area.replace(text, (0, 0), area.document.end)
        area.move_cursor((0, 0))
        self.writing.template = name
        self.query_one("#composer-headers", Static).update(headers_of(self.writing))
        self.query_one("#composer-note", Static).update(f"Template {clean_line(name, 64)}: ctrl+z brings back "
                                                        "what was there.")
        area.focus()

    def action_discard(self) -> None:
        confirm_discard(self, self.writing, lambda: self.dismiss(None))


class ReviewScreen(Screen[str | None]):
    """What will be sent (or added), exactly. Dismisses with "sent", "edit" or None (discarded).

    `send(screen)` starts the send; the app answers with done() or refused()."""

    KEY_CONTEXT = keys.REVIEW
    BINDINGS = keys.bindings(keys.REVIEW)

    def __init__(self, writing: Writing, send: Callable[[ReviewScreen], None]) -> None:
        super().__init__()
        self.writing = writing
        self._send = send
        self.busy = False

    def compose(self) -> ComposeResult:
        w = self.writing
        yield Static(self._title(), id="review-title", classes="compose-head")
        yield Static(headers_of(w), id="review-headers", classes="compose-meta")
        with VerticalScroll(id="review-body"):
            yield Static(Content(clean_block(w.text)), id="review-text")
        yield Static(self._notice(), id="review-note", classes="dialog-note")
        yield Static(f"y {'send' if w.is_reply else 'add the note'}   e edit   j/k scroll   esc discard",
                     classes="dialog-help")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#review-body").focus()

    def _title(self) -> Content:
        return st.join(Content.styled(" READY TO SEND " if self.writing.is_reply else " READY TO ADD ", "bold reverse"),
                       "  ", title_of(self.writing))

    def _notice(self) -> Content:
        w, parts = self.writing, []
        if w.is_reply and w.ticket["status"] == "new":
            from console.replies.desk import what_sending_records
            from console.replies.templates import TemplateError, contact_of

            try:
                contact = contact_of(w.templates_dir, w.template)
            except TemplateError:
                contact = "reply"  # the send refuses a template gone bad, with why
            parts.append(what_sending_records(contact, dict(w.ticket)))
        parts += [clean_line(x, 200) for x in w.warnings]
        return Content("\n".join(parts))

    def _say(self, text: str, warn: bool = True) -> None:
        note = self.query_one("#review-note", Static)
        note.update(Content(text))
        note.set_class(not warn, "-ok")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("send", "add"):  # y sends a reply, adds a note: the footer says which
            return action == ("send" if self.writing.is_reply else "add")
        return True

    def action_add(self) -> None:
        self.action_send()

    def action_send(self) -> None:
        if self.busy:  # a second y while the first is on its way sends nothing more
            return
        self.busy = True
        self._say("sending…" if self.writing.is_reply else "adding…", warn=False)
        self._send(self)

    def done(self) -> None:
        self.dismiss("sent")

    def refused(self, why: str, ticket: Ticket | None = None) -> None:
        """Nothing was sent. With `ticket`, the ticket changed meanwhile: it is the basis now, so that
        a second y sends against what the operator has just been shown."""
        self.busy = False
        if ticket is not None:
            self.writing.ticket = ticket
            self.query_one("#review-title", Static).update(self._title())
            self._say(f"{why}. Look again: y sends it as it is now, e edits, esc discards.\n{self._notice()}".rstrip())
        else:
            self._say(f"{why}. e edits, esc discards.")

    def action_edit(self) -> None:
        if not self.busy:
            self.dismiss("edit")

    def action_discard(self) -> None:
        if not self.busy:
            confirm_discard(self, self.writing, lambda: self.dismiss(None))

    def action_scroll_down(self) -> None:
        self.query_one("#review-body").scroll_down()

    def action_scroll_up(self) -> None:
        self.query_one("#review-body").scroll_up()
