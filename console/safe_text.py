"""Make untrusted text (mail subjects, names, bodies) safe to put on a terminal.

These helpers never interpret markup. Rich/Textual markup such as ``[bold red]x[/]`` or
``[@click=app.quit]`` passes through literally: the UI must render mail text as plain ``Text``
(or escape it). What is removed here is everything a terminal could act on:

* whole escape sequences: CSI (``ESC [ ... final``, and the 8-bit ``\\x9b`` form), OSC / DCS / SOS /
  PM / APC strings (``ESC ] ... BEL|ESC \\``), and two-byte ``ESC x`` sequences;
* the remaining C0 and C1 control characters and DEL;
* Unicode bidi embedding / override / isolate / mark controls (U+202A-U+202E, U+2066-U+2069,
  U+200E, U+200F, U+061C);
* lone surrogates (from ``surrogateescape`` decoding), which become U+FFFD.
"""

from __future__ import annotations

import re

__all__ = ["clean_block", "clean_line", "has_word_prefix", "strip_controls"]

ELLIPSIS = "\u2026"

# A string-type sequence (OSC, DCS, SOS, PM, APC) runs to BEL or ST (ESC \ or \x9c). If it is
# never terminated we drop it up to the end of the line, so a stray ESC ] cannot eat a whole body.
_STRING_SEQ = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n\r]*(?:\x07|\x1b\\|\x9c)?"
# CSI: ESC [ (or \x9b), parameter bytes 0x30-0x3F, intermediate bytes 0x20-0x2F, final 0x40-0x7E.
_CSI_SEQ = r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
# Other escape sequences: ESC, intermediates, one final byte (e.g. ESC ( B, ESC c, ESC 7).
_ESC_SEQ = r"\x1b[\x20-\x2f]*[\x30-\x7e]?"
_ESCAPES = "|".join((_STRING_SEQ, _CSI_SEQ, _ESC_SEQ))

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# All C0 except \t \n \r (handled by the callers), DEL, all C1, bidi controls.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + _BIDI + "]")
_SURROGATES = "[\ud800-\udfff]"
_LINE_BREAKS = "\r\n|\r|\n|\x0b|\x0c|\x85|\u2028|\u2029"
_WS = r"\s+"


def _strip_escapes(s: str) -> str:
    if s.isascii():  # no 8-bit introducers, no surrogates
        return re.sub(_ESCAPES, "", s) if "\x1b" in s else s
    if "\x1b" in s or any(c in s for c in "\x90\x98\x9b\x9d\x9e\x9f"):
        s = re.sub(_ESCAPES, "", s)
    return re.sub(_SURROGATES, "\ufffd", s)


def strip_controls(s: str) -> str:
    """Remove escape sequences, control characters (keeping ``\\t``, ``\\n``, ``\\r``) and bidi controls."""
    if not isinstance(s, str):
        s = "" if s is None else str(s)
    return _CONTROLS.sub("", _strip_escapes(s))


# The non-ASCII letters that re.IGNORECASE matches to ASCII letters (İ ı -> i, ſ -> s, K -> k).
_IGNORECASE_TO_ASCII = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _lower_for_search(s: str) -> str:
    """Lower-cased ``s``, with the letters above made ASCII: a lower-case ASCII word that a re.IGNORECASE
    pattern finds in ``s`` is found here by ``in``, and a character before it that is not ``\\w`` stays so."""
    if not s.isascii() and any(c in s for c in "\u0130\u0131\u017f\u212a"):
        s = s.translate(_IGNORECASE_TO_ASCII)
    return s.lower()


def has_word_prefix(s: str, words: tuple[str, ...]) -> bool:
    """Whether a word of ``s`` starts with one of ``words`` (lower-case ASCII), ignoring case the way
    ``re.IGNORECASE`` does.

    A cheap pre-check: when it is False, no case-insensitive pattern in which such a word comes after
    ``\\b``, ``\\s`` or ``(?<!\\w)`` can match ``s``.
    """
    low = _lower_for_search(s)
    for word in words:
        i = low.find(word)
        while i >= 0:
            if i == 0 or not (low[i - 1].isalnum() or low[i - 1] == "_"):  # what \w is for re
                return True
            i = low.find(word, i + 1)
    return False


def _truncate(s: str, limit: int | None) -> str:
    if limit is None or len(s) <= limit:
        return s
    if limit <= 0:
        return ""
    return s[: limit - 1].rstrip() + ELLIPSIS


def clean_line(s: str, limit: int | None = None) -> str:
    """One display line: controls removed, all whitespace collapsed to single spaces, stripped.

    If ``limit`` is given and the result is longer, it is cut to ``limit`` characters ending in "…".
    """
    if not isinstance(s, str):
        s = "" if s is None else str(s)
    if s.isascii() and s.isprintable() and "  " not in s and s == s.strip():
        # Fast path (most headers): printable ASCII has no controls, escapes or bidi marks.
        return s if limit is None else _truncate(s, limit)
    s = _strip_escapes(s)
    s = re.sub(_LINE_BREAKS, " ", s)
    s = _CONTROLS.sub("", s)
    s = re.sub(_WS, " ", s).strip()
    return _truncate(s, limit)


def _unify_line_breaks(s: str) -> str:
    if s.isascii():  # only \r\n, \r, \v and \f can occur: str.replace() is quicker than the regex
        return s.replace("\r\n", "\n").replace("\r", "\n").replace("\x0b", "\n").replace("\x0c", "\n")
    return re.sub(_LINE_BREAKS, "\n", s)


def clean_block(s: str) -> str:
    """A multi-line block: like :func:`clean_line` but keeps line breaks.

    ``\\r\\n`` and ``\\r`` (and other Unicode line/paragraph separators) become ``\\n``, tabs become
    four spaces, trailing whitespace is stripped from each line and leading/trailing blank lines are
    dropped. Indentation inside lines is kept.
    """
    if not isinstance(s, str):
        s = "" if s is None else str(s)
    s = _strip_escapes(s)
    s = _unify_line_breaks(s)
    s = _CONTROLS.sub("", s)
    s = s.replace("\t", "    ")
    lines = [line.rstrip() for line in s.split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)
