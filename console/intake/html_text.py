"""HTML parts -> text for display and classification. Pure; linear time; never loses words.

inscriptis renders the layout well, but silently drops text nested deeper than ~255 levels (a customer's
"Class III" behind 300 <div>s was lost). So its output is checked against a plain tag strip, which keeps
every word, and the strip is used (with a defect) when the conversion lost any.
"""
from __future__ import annotations

import html as html_lib
import re

MAX_HTML_CHARS = 1_000_000  # HTML converted to text; beyond that the rest is tag-stripped

_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HIDDEN_OPEN = re.compile(r"<(script|style)\b", re.IGNORECASE)
_BREAK_TAG = re.compile(r"(?i)<br\s*/?>|</(?:p|div|tr|li|h[1-6])\s*>")
_TAG = re.compile(r"<[^<>]*>")  # "[^<>]": a "<" without ">" ends the try at the next "<", so linear
_WORD_CHARS = re.compile(r"\W+")


def strip_tags(markup: str) -> str:
    """HTML -> text by removing tags (and script/style content); linear in the input."""
    lower = markup.lower()
    kept, pos = [], 0
    while (m := _HIDDEN_OPEN.search(markup, pos)) is not None:
        kept.append(markup[pos:m.start()])
        end = lower.find("</" + m.group(1).lower(), m.end())
        close = lower.find(">", end) if end >= 0 else -1
        pos = len(markup) if close < 0 else close + 1
    kept.append(markup[pos:])
    text = _TAG.sub(" ", _BREAK_TAG.sub("\n", "".join(kept)))
    return html_lib.unescape(text)


def html_to_text(markup: str, notes: list[str]) -> str:
    markup = _CONTROLS.sub("", markup)
    if not markup.strip():
        return ""
    rest = ""
    if len(markup) > MAX_HTML_CHARS:
        notes.append(f"HTML part over {MAX_HTML_CHARS} characters: the rest had its tags stripped")
        markup, rest = markup[:MAX_HTML_CHARS], strip_tags(markup[MAX_HTML_CHARS:])
    stripped = strip_tags(markup)
    try:
        from inscriptis import get_text

        text = get_text(markup)
    except Exception as exc:  # noqa: BLE001 - a converter failure must not lose the text
        notes.append(f"HTML could not be converted ({type(exc).__name__}); tags stripped instead")
        return stripped + rest
    # inscriptis silently drops text nested beyond ~255 levels: never lose words the tag strip finds.
    if len(_WORD_CHARS.sub("", text)) < len(_WORD_CHARS.sub("", stripped)):
        notes.append("HTML conversion lost text (too deeply nested?); tags stripped instead")
        return stripped + rest
    return text + rest
