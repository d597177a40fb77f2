"""The console's keys as plain data: every key it answers to, by binding id, and the check of a desk's
`[console.keys]` remapping against them.

No Textual here: console.config checks the remapping when it loads (an unknown binding id or a key used
twice is a config error like any other), and console.ui.keys turns the registry into Textual bindings,
help entries and palette commands. A remapped key reaches Textual through its keymap API
(App.set_keymap, by binding id), so the footer shows the new key.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

APP = "app"
DASHBOARD = "dashboard"
DETAIL = "detail"
DIALOG = "dialog"
COMPOSER = "composer"
REVIEW = "review"
CONFIRM = "confirm"
REPORT = "report"
CONTEXT_TITLES = {APP: "Everywhere", DASHBOARD: "Ticket list", DETAIL: "Ticket detail", DIALOG: "Dialogs",
                  COMPOSER: "Writing a reply or note", REVIEW: "Before it is sent", CONFIRM: "Questions",
                  REPORT: "The SLA report"}


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
    Key("acknowledge", "a", "ack", "Acknowledge", (D, T)),
    Key("take", "t", "take", "Take", (D, T)),
    Key("assign", "o", "assign", "Assign", (D, T)),
    Key("reclassify", "c", "reclassify", "Reclassify", (D, T)),
    Key("resolve", "x", "resolve", "Resolve", (D, T)),
    Key("reopen", "u", "reopen", "Reopen", (D, T), show=False),
    # Shaping tickets (console/ui/shaping.py): merge shows while tickets are marked, unmerge on a merged one.
    Key("merge", "M", "merge", "Merge marked into this one", (D,)),
    Key("unmerge", "U", "unmerge", "Unmerge", (D, T)),
    Key("split", "b", "split", "Split a message off", (T,), show=False),
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
    Key("ack_marked", "A", "ack_marked", "Acknowledge the marked tickets", (D,), show=False),
    Key("silence", "z", "silence", "Silence this sender for…", (D, T), show=False),
    Key("mark", "space", "mark", "Mark (bulk reassign, acknowledge or merge)", (D,), display="space", show=False),
    Key("unmark", "escape", "unmark", "Clear marks and search", (D,), display="esc", show=False),
    Key("refresh", "R", "refresh", "Refresh now", (D, T), show=False),
    Key("report", "W", "app.sla_report", "SLA report", (D,)),
    Key("quit", "q", "app.quit", "Quit", (APP,), show=False),
    Key("palette", "ctrl+p", "app.command_palette", "Command palette", (APP,), display="^p",
        bind=False, palette=False),
    # The SLA report screen: Enter on a class's line lists its breaches (the list widget handles Enter).
    Key("report.breaches", "enter", "", "The breaches behind the figure", (REPORT,), display="⏎", bind=False,
        palette=False),
    Key("report.down", "j,down", "cursor_down", "Next class", (REPORT,), display="j/↓", show=False, palette=False),
    Key("report.up", "k,up", "cursor_up", "Previous class", (REPORT,), display="k/↑", show=False, palette=False),
    Key("report.refresh", "R", "refresh", "Read the history again", (REPORT,)),
    Key("report.close", "escape", "close", "Back", (REPORT,), display="esc"),
    # Dialogs: lists, fields and buttons handle Enter themselves; from anywhere else (a checkbox) it submits.
    Key("dialog.ok", "enter", "submit", "Choose / confirm", (M,), display="⏎", show=False, palette=False),
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


# Keys Textual keeps for itself in every screen: moving between fields, copying, the command palette.
RESERVED = {"tab": "moving between fields", "shift+tab": "moving between fields", "ctrl+c": "copying text",
            "ctrl+q": "quitting", "ctrl+p": "the command palette"}
NAMED = {"enter", "escape", "space", "tab", "backspace", "delete", "insert", "home", "end", "pageup", "pagedown",
         "up", "down", "left", "right", *(f"f{n}" for n in range(1, 25))}
# How Textual names the keys of characters that are not letters or digits (its own rule, for comparing).
REPLACED = {"solidus": "slash", "reverse_solidus": "backslash", "commercial_at": "at", "hyphen_minus": "minus",
            "plus_sign": "plus", "low_line": "underscore"}
_MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")


class KeymapError(ValueError):
    """A `[console.keys]` entry the console cannot use; the message starts with the entry's name."""


def remappable() -> dict[str, Key]:
    return {k.id: k for k in REGISTRY if k.bind}


def _key_name(text: str) -> str | None:
    """One key as Textual names it ("?" -> "question_mark", "ctrl+r" stays), or None when it names no key."""
    if len(text) == 1:
        if text.isalnum():
            return text
        try:
            name = unicodedata.name(text).lower().replace("-", "_").replace(" ", "_")
        except ValueError:
            return None
        return REPLACED.get(name, name)
    *mods, base = text.split("+")
    if not base or any(m not in _MODIFIERS for m in mods):
        return None
    if len(base) == 1:
        one = _key_name(base)
        return None if one is None else "+".join([*mods, one])
    if base in NAMED or base in REPLACED.values() or (re.fullmatch(r"[a-z_]+", base) and _unicode_name(base)):
        return text
    return None


def _unicode_name(base: str) -> bool:
    try:
        unicodedata.lookup(base.replace("_", " "))
    except KeyError:
        return False
    return True


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """TOML reads `composer.review = "ctrl+r"` as a nested table: its binding id is "composer.review"."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        if isinstance(v, dict):
            out |= _flatten(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def check(table: Mapping[str, Any], where: str = "console.keys.") -> dict[str, str]:
    """The remapping `{binding id: "key,key"}`, each key as Textual names it; KeymapError for an unknown
    binding id (with "did you mean"), a value that names no key, a key Textual keeps for itself, or a key
    that would do two things on one screen."""
    known = remappable()
    out: dict[str, str] = {}
    for bid, value in _flatten(table).items():
        name = f"{where}{bid}"
        if bid not in known:
            word = bid.lower()
            hint = ([i for i in known if i.startswith(word)]  # "ack" -> acknowledge
                    or difflib.get_close_matches(bid, list(known), n=1, cutoff=0.6)
                    or [k.id for k in known.values() if word in k.description.lower()])
            raise KeymapError(f"{name}: unknown binding id ("
                              + (f"did you mean {hint[0]}?" if hint else "binding ids: " + ", ".join(known)) + ")")
        if isinstance(value, list) and value and all(isinstance(x, str) for x in value):
            value = ",".join(value)
        if not isinstance(value, str) or not value.strip():
            raise KeymapError(f"{name}: expected a key such as \"a\" or \"ctrl+r\" (several: \"a,f5\"), got {value!r}")
        names = []
        for part in value.split(","):
            part = part.strip()
            key = _key_name(part)
            if key is None:
                raise KeymapError(f"{name}: {part!r} is not a key name (use \"a\", \"A\", \"?\", \"f5\", \"ctrl+r\", "
                                  "\"enter\", \"escape\", \"space\" ...)")
            if key in RESERVED:
                raise KeymapError(f"{name}: {part} is kept for {RESERVED[key]}")
            if key in names:
                raise KeymapError(f"{name}: {part} is given twice")
            names.append(key)
        out[bid] = ",".join(names)
    _clashes(out, where)
    return out


def _clashes(remap: Mapping[str, str], where: str) -> None:
    """A key may do one thing per screen: a remapped key that another binding of the same screen (or of
    every screen) still uses is refused, naming both. Defaults that share a key on purpose (y sends a
    reply or adds a note, whichever the screen shows) are left alone unless the remapping touches them."""
    known = remappable()
    contexts = {c for k in known.values() for c in k.contexts if c != APP}
    for ctx in sorted(contexts):
        users: dict[str, list[str]] = {}
        for k in known.values():
            if ctx in k.contexts or APP in k.contexts:
                for key in remap.get(k.id, k.keys).split(","):
                    users.setdefault(key, []).append(k.id)
        for key, ids in users.items():
            moved = [i for i in ids if i in remap]
            if len(ids) > 1 and moved:
                other = next(i for i in ids if i != moved[0])
                raise KeymapError(f"{where}{moved[0]}: {key} is also {known[other].description!r} "
                                  f"({other}) in {CONTEXT_TITLES[ctx].lower()}; a key does one thing per screen "
                                  f"(move {other} too)")


def key_label(k: Key, remap: Mapping[str, str] | None = None) -> str:
    """How help and the palette write a key: its registry label, or the remapped keys."""
    if remap and k.id in remap:
        return "/".join(_shown(x) for x in remap[k.id].split(","))
    return k.label


def _shown(key: str) -> str:
    """As the footer writes it: "?" for question_mark, "^r" for ctrl+r."""
    if key.startswith("ctrl+") and key.count("+") == 1:
        return "^" + SHOWN.get(key[5:], key[5:])
    return SHOWN.get(key, key)


SHOWN = {"question_mark": "?", "number_sign": "#", "slash": "/", "enter": "⏎", "escape": "esc"}
