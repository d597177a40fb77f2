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
from functools import partial
from typing import Protocol, runtime_checkable

from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

# The registry itself is plain data (console/keymap.py), so that the config can check `[console.keys]`
# against it without Textual; this module makes it Textual bindings, help entries and palette commands.
from console.keymap import (APP, COMPOSER, CONFIRM, CONTEXT_TITLES, DASHBOARD, DETAIL, DIALOG,  # noqa: E402,F401
                            REGISTRY, REPORT, REVIEW, Key, for_context, key_label)


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

    def _label(self, k: Key) -> str:
        return key_label(k, getattr(self.app, "remap", None))

    def _runner(self, k: Key) -> Callable[[], object]:
        target = self.app if k.action.startswith("app.") else self.screen
        action = k.action.removeprefix("app.")
        return partial(target.run_action, action)

    async def discover(self) -> Hits:
        for k in self._entries():
            yield DiscoveryHit(f"{k.description}  ({self._label(k)})", self._runner(k), help=f"key {self._label(k)}")

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
            text = f"{k.description}  ({self._label(k)})"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), self._runner(k), help=f"key {self._label(k)}")
