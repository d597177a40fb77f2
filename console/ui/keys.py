"""The one binding registry.

Every key the console answers to is a `Key` here: an id, the key(s), a description and the contexts
(screens) it applies to. Screens take their Textual `BINDINGS` from `bindings(context)`, so the
Footer shows exactly the keys that apply now; the `?` help screen lists `for_context()`; and the
ctrl+p command palette offers the same entries through `KeyCommands`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

APP = "app"
DASHBOARD = "dashboard"
DETAIL = "detail"
DIALOG = "dialog"
CONTEXT_TITLES = {APP: "Everywhere", DASHBOARD: "Ticket list", DETAIL: "Ticket detail", DIALOG: "Dialogs"}


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
    bind: bool = True            # False: documented only (the key is bound elsewhere, e.g. by Textual)
    priority: bool = False

    @property
    def label(self) -> str:
        return self.display or self.keys.replace(",", "/")


D, T = DASHBOARD, DETAIL
REGISTRY: tuple[Key, ...] = (
    Key("help", "question_mark", "app.help", "Help: all keys", (APP,), display="?"),
    Key("quit", "q", "app.quit", "Quit", (APP,)),
    Key("palette", "ctrl+p", "app.command_palette", "Command palette", (APP,), display="ctrl+p",
        bind=False, palette=False),
    Key("down", "j,down", "cursor_down", "Next ticket", (D,), display="j/↓", show=False),
    Key("up", "k,up", "cursor_up", "Previous ticket", (D,), display="k/↑", show=False),
    Key("top", "g,home", "cursor_top", "First ticket", (D,), display="g", show=False),
    Key("bottom", "G,end", "cursor_bottom", "Last ticket", (D,), display="G", show=False),
    Key("open", "enter", "open_detail", "Open", (D,), display="⏎"),
    Key("close", "escape", "close", "Back", (T,), display="esc"),
    Key("scroll_down", "j,down", "scroll_down", "Scroll down", (T,), display="j/↓", show=False),
    Key("scroll_up", "k,up", "scroll_up", "Scroll up", (T,), display="k/↑", show=False),
    Key("ack", "a", "ack", "Acknowledge", (D, T)),
    Key("take", "t", "take", "Take", (D, T)),
    Key("assign", "o", "assign", "Assign", (D, T)),
    Key("reclassify", "c", "reclassify", "Reclassify", (D, T)),
    Key("resolve", "x", "resolve", "Resolve", (D, T)),
    Key("search", "slash", "search", "Search", (D,), display="/"),
    Key("filter", "f", "filter", "Filter", (D,)),
    Key("class3", "3", "class_filter('III')", "Only Class III", (D,), show=False),
    Key("class2", "2", "class_filter('II')", "Only Class II", (D,), show=False),
    Key("class1", "1", "class_filter('I')", "Only Class I", (D,), show=False),
    Key("clear_filter", "0", "class_filter('')", "Clear filters and search", (D,), show=False),
    Key("sort", "s", "sort", "Sort", (D,)),
    Key("mark", "space", "mark", "Mark (bulk reassign)", (D,), display="space", show=False),
    Key("unmark", "escape", "unmark", "Clear marks and search", (D,), display="esc", show=False),
    Key("refresh", "R", "refresh", "Refresh now", (D, T), show=False),
)

_BY_ID = {k.id: k for k in REGISTRY}


def get(key_id: str) -> Key:
    return _BY_ID[key_id]


def for_context(context: str) -> list[Key]:
    return [k for k in REGISTRY if context in k.contexts]


def bindings(context: str) -> list[Binding]:
    """Textual bindings for a screen (or the app) from the registry entries of `context`."""
    return [
        Binding(k.keys, k.action, k.description, show=k.show, key_display=k.display, id=k.id, priority=k.priority)
        for k in for_context(context) if k.bind
    ]


class KeyCommands(Provider):
    """The command palette's view of the registry: the entries of the current screen and the app."""

    def _entries(self) -> list[Key]:
        context = getattr(self.screen, "KEY_CONTEXT", DASHBOARD)
        seen, out = set(), []
        for k in for_context(context) + for_context(APP):
            if k.palette and k.id not in seen:
                seen.add(k.id)
                out.append(k)
        return out

    def _runner(self, k: Key):
        target = self.app if k.action.startswith("app.") else self.screen
        action = k.action.removeprefix("app.")
        return partial(target.run_action, action)

    async def discover(self) -> Hits:
        for k in self._entries():
            yield DiscoveryHit(f"{k.description}  ({k.label})", self._runner(k), help=f"key {k.label}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for k in self._entries():
            text = f"{k.description}  ({k.label})"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), self._runner(k), help=f"key {k.label}")
