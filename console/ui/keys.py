"""The one binding registry.

Every key the console answers to is a `Key` here: an id, the key(s), a description and the contexts
(screens) it applies to. Screens take their Textual `BINDINGS` from `bindings(context)`, so the
Footer shows exactly the keys that apply now; the `?` help screen lists `for_context()`; and the
ctrl+p command palette offers the same entries through `KeyCommands`, once each, plus "open #N"
for a typed ticket number. A screen hides the entries that do not apply to its ticket now (`d` on a
ticket that needs no details, `S` without a failed mail) through Textual's `check_action`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol, runtime_checkable

from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

APP = "app"
DASHBOARD = "dashboard"
DETAIL = "detail"
DIALOG = "dialog"
COMPOSER = "composer"
REVIEW = "review"
CONFIRM = "confirm"
CONTEXT_TITLES = {APP: "Everywhere", DASHBOARD: "Ticket list", DETAIL: "Ticket detail", DIALOG: "Dialogs",
                  COMPOSER: "Writing a reply or note", REVIEW: "Before it is sent", CONFIRM: "Questions"}


@dataclass(frozen=True)
class Key:
    id: str
    keys: str                    # Textual key names, comma separated ("j,down")
    action: str                  # action on the screen (or app) that owns the context
    description: str
    contexts: tuple[str, ...]
    display: str | None = None   # how the key is written in help and footer
    show: bool = True            # shown in the footer
    palette: bool = True         # offered in the command palette
    bind: bool = True            # False: documented only (the key is bound elsewhere, e.g. by a widget)
    priority: bool = False

    @property
    def label(self) -> str:
        return self.display or self.keys.replace(",", "/")


D, T, M = DASHBOARD, DETAIL, DIALOG
W, V, Q = COMPOSER, REVIEW, CONFIRM
REGISTRY: tuple[Key, ...] = (
    # Open and Help come first, so that the footer shows them even at 80 columns.
    Key("open", "enter", "open_detail", "Open", (D,), display="⏎"),
    Key("close", "escape", "close", "Back", (T,), display="esc"),
    Key("help", "question_mark", "app.help", "Help", (D, T), display="?"),
    Key("reply", "r", "reply", "Reply", (D, T)),
    Key("note", "n", "note", "Note", (D, T)),
    # Shown only on a ticket that needs details (a call-me-only mail): the policy's canned request.
    Key("details", "d", "details", "Ask for details", (D, T)),
    Key("template", "T", "template_reply", "Reply with a template", (D, T), show=False),
    # Shown only on a ticket with a failed or cut-short mail.
    Key("resend", "S", "resend", "Send a failed mail again", (T,)),
    Key("ack", "a", "ack", "Acknowledge", (D, T)),
    Key("ack_marked", "A", "ack_marked", "Acknowledge the marked tickets", (D,), show=False),
    Key("take", "t", "take", "Take", (D, T)),
    Key("assign", "o", "assign", "Assign", (D, T)),
    Key("reclassify", "c", "reclassify", "Reclassify", (D, T)),
    Key("resolve", "x", "resolve", "Resolve", (D, T)),
    Key("reopen", "u", "reopen", "Reopen", (D, T), show=False),
    Key("silence", "z", "silence", "Silence this sender for…", (D, T), show=False),
    Key("search", "slash", "search", "Search", (D,), display="/"),
    Key("goto", "number_sign", "app.goto", "Go to ticket #N", (D, T), display="#"),
    Key("filter", "f", "filter", "Filter", (D,)),
    Key("resolved", "v", "toggle_resolved", "Resolved / open tickets", (D,)),
    Key("pages", "p", "pages", "Pages sent", (D,)),
    Key("sort", "s", "sort", "Sort", (D,), show=False),
    Key("more", "m", "more", "The next part of a long message", (T,)),
    Key("save", "w", "save_attachment", "Save an attachment to a file", (T,)),
    Key("down", "j,down", "cursor_down", "Next ticket", (D,), display="j/↓", show=False),
    Key("up", "k,up", "cursor_up", "Previous ticket", (D,), display="k/↑", show=False),
    Key("top", "g,home", "cursor_top", "First ticket", (D,), display="g/home", show=False),
    Key("bottom", "G,end", "cursor_bottom", "Last ticket", (D,), display="G/end", show=False),
    Key("scroll_down", "j,down", "scroll_down", "Scroll down", (T,), display="j/↓", show=False),
    Key("scroll_up", "k,up", "scroll_up", "Scroll up", (T,), display="k/↑", show=False),
    Key("scroll_top", "g,home", "scroll_top", "Top", (T,), display="g/home", show=False),
    Key("scroll_bottom", "G,end", "scroll_bottom", "Bottom", (T,), display="G/end", show=False),
    Key("class3", "3", "class_filter('III')", "Only Class III", (D,), show=False),
    Key("class2", "2", "class_filter('II')", "Only Class II", (D,), show=False),
    Key("class1", "1", "class_filter('I')", "Only Class I", (D,), show=False),
    Key("clear_filter", "0", "class_filter('')", "Clear filters and search", (D,), show=False),
    Key("mark", "space", "mark", "Mark (bulk reassign or acknowledge)", (D,), display="space", show=False),
    Key("unmark", "escape", "unmark", "Clear marks and search", (D,), display="esc", show=False),
    Key("refresh", "R", "refresh", "Refresh now", (D, T), show=False),
    Key("quit", "q", "app.quit", "Quit", (APP,), show=False),
    Key("palette", "ctrl+p", "app.command_palette", "Command palette", (APP,), display="^p",
        bind=False, palette=False),
    # Dialogs: the list widgets handle Enter themselves; the rest is bound on the dialog.
    Key("dialog.ok", "enter", "", "Choose / confirm", (M,), display="⏎", bind=False, palette=False),
    Key("dialog.down", "j,down", "list_down", "Next choice", (M,), display="j/↓", show=False, palette=False),
    Key("dialog.up", "k,up", "list_up", "Previous choice", (M,), display="k/↑", show=False, palette=False),
    Key("dialog.cancel", "escape", "cancel", "Cancel", (M,), display="esc", palette=False),
    # The built-in composer (where $EDITOR cannot run, as in a browser). Keys a browser keeps for
    # itself (ctrl+t, ctrl+w, ctrl+n) are avoided: this composer is the one the browser gets.
    Key("composer.review", "ctrl+s", "review", "Review and send", (W,), display="^s", priority=True),
    Key("composer.template", "ctrl+o", "template", "Use a template", (W,), display="^o", priority=True),
    Key("composer.discard", "escape", "discard", "Discard", (W,), display="esc"),
    Key("composer.undo", "ctrl+z", "", "Undo", (W,), display="^z", bind=False, palette=False),
    # Reviewing what will be sent (every reply and note passes here).
    Key("review.send", "y", "send", "Send", (V,)),  # a reply; a note has the next one
    Key("review.add", "y", "add", "Add the note", (V,)),
    Key("review.edit", "e", "edit", "Edit", (V,)),
    Key("review.discard", "escape", "discard", "Discard", (V,), display="esc"),
    Key("review.down", "j,down", "scroll_down", "Scroll down", (V,), display="j/↓", show=False, palette=False),
    Key("review.up", "k,up", "scroll_up", "Scroll up", (V,), display="k/↑", show=False, palette=False),
    # A yes/no question (discard a draft, send a mail again).
    Key("confirm.yes", "y", "yes", "Yes", (Q,), palette=False),
    Key("confirm.no", "n,escape", "no", "No", (Q,), display="n/esc", palette=False),
)


def for_context(context: str) -> list[Key]:
    return [k for k in REGISTRY if context in k.contexts]


def bindings(context: str) -> list[BindingType]:
    """Textual bindings for a screen (or the app) from the registry entries of `context`."""
    return [
        Binding(k.keys, k.action, k.description, show=k.show, key_display=k.display, id=k.id, priority=k.priority)
        for k in for_context(context) if k.bind
    ]


@runtime_checkable
class TicketFinder(Protocol):
    """An app that opens tickets by number (the console)."""

    def ticket_summary(self, tid: int) -> str: ...

    def open_ticket(self, tid: int) -> None: ...


class KeyCommands(Provider):
    """The command palette's view of the registry: the current screen's entries and the app's, each
    once; and "Open #N" when the query is a ticket number."""

    def _applies(self, k: Key) -> bool:
        """What the screen's check_action hides from its footer (a key that does not apply to this
        ticket now) is not offered here either."""
        if k.action.startswith("app."):
            return True
        return bool(self.screen.check_action(k.action.split("(")[0], ()))

    def _entries(self) -> list[Key]:
        context = getattr(self.screen, "KEY_CONTEXT", DASHBOARD)
        seen, out = set(), []
        for k in for_context(context) + for_context(APP):
            if k.palette and k.bind and k.description not in seen and self._applies(k):
                seen.add(k.description)
                out.append(k)
        return out

    def _runner(self, k: Key) -> Callable[[], object]:
        target = self.app if k.action.startswith("app.") else self.screen
        action = k.action.removeprefix("app.")
        return partial(target.run_action, action)

    async def discover(self) -> Hits:
        for k in self._entries():
            yield DiscoveryHit(f"{k.description}  ({k.label})", self._runner(k), help=f"key {k.label}")

    async def search(self, query: str) -> Hits:
        number = query.strip().lstrip("#")
        app = self.app
        if number.isdigit() and isinstance(app, TicketFinder):
            tid = int(number)
            about = app.ticket_summary(tid)
            yield Hit(1.0, Content(f"Open #{tid}" + (f"  {about}" if about else "")),
                      partial(app.open_ticket, tid), help="jump to the ticket")
        matcher = self.matcher(query)
        for k in self._entries():
            text = f"{k.description}  ({k.label})"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), self._runner(k), help=f"key {k.label}")
