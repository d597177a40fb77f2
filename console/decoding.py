"""Bytes and header values -> text, whatever the mail claims. Pure; never raises; linear time.

Raw 8-bit bytes are tried as the declared charset, then UTF-8, then cp1252. RFC 2047 encoded words are
decoded here rather than by ``email.header.decode_header``, whose time grows with the square of their
number (80,000 words in one Subject took ~18 s); at most MAX_ENCODED_WORDS a value are decoded.
"""
from __future__ import annotations

import base64
import binascii
import quopri
import re
from typing import Any

MAX_ENCODED_WORDS = 1000  # per header value; the rest is kept as written

def norm_charset(charset: Any) -> str:
    try:
        cs = str(charset or "").strip().strip("\"'").strip().lower()
    except Exception:
        return ""
    return cs.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en


def decode_bytes(data: bytes, charset: Any = None, notes: list[str] | None = None, what: str = "text") -> str:
    """Bytes -> str: declared charset, then UTF-8, then cp1252 with replacement. Never raises.

    A note goes to ``notes`` when the declared charset is unknown or wrong."""
    if not data:
        return ""
    cs = norm_charset(charset) if charset is not None else ""
    if cs in ("unknown-8bit", "x-unknown", "8bit", "default", "none"):
        if notes is not None:
            notes.append(f"charset {cs!r} unknown, decoded as utf-8 / cp1252")
        cs = ""
    if not cs:
        return _decode_fallback(data)[0]
    try:
        return data.decode(cs)
    except LookupError:  # an unknown name, or a codec that is not text (base64, zlib, rot13)
        problem = f"charset {cs!r} unknown"
    except Exception:  # noqa: BLE001 - not valid in the declared charset (or a codec's own error)
        problem = f"{what} declared as {cs!r} is not valid {cs}"
    text, used = _decode_fallback(data)
    if notes is not None:
        notes.append(f"{problem}, decoded as {used}")
    return text


def _decode_fallback(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def raw_to_str(value: Any) -> str:
    """A raw header value as the parser stored it (ASCII plus surrogate escapes) -> readable str."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return decode_bytes(value)
    if not isinstance(value, str):
        try:
            value = str(value)
        except Exception:
            return ""
    if value.isascii():
        return value
    try:
        return decode_bytes(value.encode("utf-8", "surrogateescape"))
    except Exception:
        return value.encode("utf-8", "replace").decode("utf-8", "replace")


FOLD = re.compile(r"\r\n|\r|\n")
# One encoded word. Its parts cannot hold "?" or blanks, so each try stops at the next "?": linear.
_ENCODED_WORD = r"=\?([^?\s]*)\?([bBqQ])\?([^?\s]*)\?="


def decode_header_value(value: Any, notes: list[str] | None = None) -> str:
    """Unfold, undo raw 8-bit, decode RFC 2047 encoded words (linear, at most MAX_ENCODED_WORDS).
    Not cleaned. Never raises."""
    try:
        s = FOLD.sub("", raw_to_str(value))
        if "=?" not in s:
            return s
        return _decode_words(s, notes)
    except Exception:
        try:
            return str(value)
        except Exception:
            return ""


def _decode_words(s: str, notes: list[str] | None) -> str:
    pieces: list[tuple[bytes | str, str | None]] = []  # (bytes, charset) of a word, or (text, None)
    pos, last_was_word = 0, False
    for words, m in enumerate(re.finditer(_ENCODED_WORD, s)):
        if words >= MAX_ENCODED_WORDS:
            if notes is not None:
                notes.append(f"header has more than {MAX_ENCODED_WORDS} encoded words; the rest is shown as written")
            break
        between = s[pos:m.start()]
        if between and not (last_was_word and not between.strip()):  # blanks between two words go (RFC 2047 6.2)
            pieces.append((between, None))
        charset, enc, text = m.groups()
        try:
            if enc in "bB":
                data = base64.b64decode(text + "=" * (-len(text) % 4), validate=False)
            else:
                data = quopri.decodestring(text.replace("_", " ").encode("ascii", "replace"), header=True)
            pieces.append((data, norm_charset(charset) or "utf-8"))
            last_was_word = True
        except (ValueError, binascii.Error):
            pieces.append((m.group(0), None))
            last_was_word = False
        pos = m.end()
    pieces.append((s[pos:], None))
    out: list[str] = []
    i = 0
    while i < len(pieces):
        chunk, charset = pieces[i]
        i += 1
        if isinstance(chunk, str):  # text as written (its charset is None)
            out.append(chunk)
            continue
        joined = bytearray(chunk)
        # A character may be split across words. A piece with a charset is always bytes.
        while i < len(pieces) and pieces[i][1] == charset and isinstance(more := pieces[i][0], bytes):
            joined += more
            i += 1
        out.append(decode_bytes(bytes(joined), charset, notes, "header"))
    return "".join(out)
