"""The header block of mail the desk sends, written byte by byte here rather than by the email package.

Text in these headers comes from mail (a subject, a customer's name, Cc addresses), and mail is hostile.
Python's header code parses a value it is asked to write: it decodes RFC 2047 encoded words found in
it, and on some patch levels (CPython 3.11.7, for one) writes what they decode to, CR LF included, as
raw header text. A Subject that was an encoded word inside an encoded word, decoded once by intake, then
becomes a second header of the attacker's choosing. So nothing here is handed to that code:

- every value is made one clean line first (console.safe_text.clean_line: no CR, LF, controls or
  escape sequences) and then written as the literal text the console showed;
- text that a reader could take for an encoded word (``=?`` or ``?=``), non-ASCII text and over-long
  words are written as our own base64 encoded words, which a reader decodes back to that same literal
  text; the rest goes out as it is;
- addresses are written only when they are plain dot-atoms (ASCII, or UTF-8 for SMTPUTF8, RFC 6532);
  writable() says why any other cannot be, and the caller leaves it off;
- Message-IDs are printable ASCII without angle brackets, or they are left out.

The output is ASCII except for non-ASCII addresses, which need SMTPUTF8 (console.replies.smtp). Lines
are folded at 78 characters where the text allows. Pure; never raises for any text.
"""
from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence

from console.safe_text import clean_line

FOLD_AT = 78
CRLF = "\r\n"
MAX_ADDRESS = 254
MAX_LOCAL = 64
_WORD_BYTES = 39  # 52 base64 characters: "=?utf-8?b?" + 52 + "?=" is 64, so "Reply-To: " and a word fit in 78
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-"
_ATOM_PHRASE = re.compile(rf"[{_ATEXT} ]+")  # a display name that needs no quotes
_DOT_ATOM_ASCII = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_MSGID = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+")  # printable ASCII but < > and blanks
_LITERAL_MAX = 76  # a plain word longer than this could not be folded: it is encoded (and so split)


def looks_encoded(text: str) -> bool:
    """Whether a reader could decode something in `text` (it holds the start or end of an encoded word)."""
    return "=?" in text or "?=" in text


def _plain_word(word: str) -> bool:
    return word.isascii() and word.isprintable() and not looks_encoded(word) and len(word) <= _LITERAL_MAX


def encoded_words(text: str) -> list[str]:
    """`text` as base64 UTF-8 encoded words, split between characters, each under 75 characters."""
    words: list[str] = []
    chunk = b""
    for ch in text:
        b = ch.encode("utf-8", "replace")
        if len(chunk) + len(b) > _WORD_BYTES:
            words.append(chunk)  # type: ignore[arg-type]
            chunk = b""
        chunk += b
    if chunk or not words:
        words.append(chunk)  # type: ignore[arg-type]
    return [f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words]  # type: ignore[arg-type]


def _fold(name: str, tokens: Sequence[str], breaks: Sequence[int] = ()) -> str:
    """`Name: tok tok ...` with CRLF SP between tokens wherever a line would pass FOLD_AT (a reader unfolds
    CRLF SP to the one blank that was there), and always before the tokens whose index is in `breaks`."""
    line = f"{name}:"
    lines: list[str] = []
    for i, tok in enumerate(tokens):
        too_long = len(line) + 1 + len(tok) > FOLD_AT
        if (i in breaks or too_long) and (line != f"{name}:" or too_long):
            lines.append(line)
            line = ""
        line += " " + tok
    lines.append(line)
    return CRLF.join(lines) + CRLF


def unstructured(name: str, value: str, limit: int | None = 998) -> str:
    """An unstructured header (Subject, X-...): the clean text, written so that a reader shows exactly it."""
    text = clean_line(value, limit)
    tokens: list[str] = []
    run: list[str] = []  # consecutive words that must be encoded: one run, its blanks inside the words

    def flush() -> None:
        if run:
            tokens.extend(encoded_words(" ".join(run)))
            run.clear()

    for word in text.split(" ") if text else []:
        if _plain_word(word):
            flush()
            tokens.append(word)
        else:
            run.append(word)
    flush()
    return _fold(name, tokens) if tokens else f"{name}:{CRLF}"


def phrase(name: str) -> list[str]:
    """A display name as tokens: atoms as they are, a quoted string, or encoded words."""
    text = clean_line(name, 200)
    if not text:
        return []
    if text.isascii() and text.isprintable() and not looks_encoded(text):
        if _ATOM_PHRASE.fullmatch(text) and all(len(w) <= _LITERAL_MAX for w in text.split(" ")):
            return text.split(" ")
        if len(text) <= _LITERAL_MAX:
            return ['"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return encoded_words(text)


def writable(addr: str) -> str | None:
    """Why `addr` cannot be written in a header and a RCPT TO as it is, or None when it can. Writable:
    local@domain, the local part a dot-atom, the domain dot-separated labels; non-ASCII letters allowed
    (they need SMTPUTF8); nothing a reader could decode, no quotes, blanks, controls or brackets."""
    if not addr:
        return "no address"
    if clean_line(addr) != addr or not addr.isprintable():
        return "it holds control characters or blanks"
    if len(addr) > MAX_ADDRESS:
        return f"it is longer than {MAX_ADDRESS} characters"
    if looks_encoded(addr):
        return "it holds encoded-word syntax (=? ?=)"
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        return "it is not local@domain"
    if len(local.encode("utf-8")) > MAX_LOCAL:
        return f"its local part is longer than {MAX_LOCAL} bytes"
    if not _DOT_ATOM_ASCII.fullmatch(_ascii_stand_in(local)):
        return "its local part is not a plain dot-atom (quotes, brackets, separators)"
    labels = domain.split(".")
    if not all(_LABEL.fullmatch(_ascii_stand_in(x, "x")) for x in labels):
        return "its domain is not a host name"
    return None


def _ascii_stand_in(text: str, letter: str = "a") -> str:
    """Non-ASCII letters and digits become `letter` (they are allowed where ASCII ones are); any other
    non-ASCII character stays and fails the ASCII pattern."""
    if text.isascii():
        return text
    return "".join(c if c.isascii() or not c.isalnum() else letter for c in text)


def mailbox(name: str, addr: str) -> str:
    """`Name <addr>` (or a bare addr); `addr` must be writable()."""
    words = phrase(name)
    return " ".join([*words, f"<{addr}>"]) if words else addr


def address_list(name: str, mailboxes: Iterable[tuple[str, str]]) -> str:
    """To, Cc, From, Reply-To: each mailbox on a line of its own (folded further if it is long), so that
    ",CRLF SP" separates mailboxes and nothing else (without_addresses relies on it)."""
    tokens: list[str] = []
    breaks: list[int] = []
    for n, a in mailboxes:
        words = [*phrase(n), f"<{a}>"] if phrase(n) else [a]
        if tokens:
            tokens[-1] += ","
            breaks.append(len(tokens))
        tokens.extend(words)
    return _fold(name, tokens, breaks) if tokens else ""


def msg_ids(values: Iterable[str]) -> list[str]:
    """The ids that can be written (printable ASCII local@domain, no brackets), in angle brackets."""
    return [f"<{v}>" for v in values if v and _MSGID.fullmatch(v)]


def id_field(name: str, ids: Sequence[str]) -> str:
    return _fold(name, ids) if ids else ""


def simple(name: str, value: str) -> str:
    """A header whose value the desk makes itself (a date, a fixed word): still made one clean line."""
    return f"{name}: {clean_line(value, 998)}{CRLF}"


def ascii_form(addr: str) -> str | None:
    """`addr` without SMTPUTF8, when only its domain is non-ASCII: the domain as IDNA A-labels
    (bob@exämple.test -> bob@xn--exmple-cua.test). None when the local part is not ASCII or the domain
    is not a valid IDNA name."""
    local, _, domain = addr.rpartition("@")
    if not local.isascii():
        return None
    try:
        ascii_addr = f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return None
    return ascii_addr if writable(ascii_addr) is None else None


def without_addresses(head: bytes, drop: Iterable[str], rename: Mapping[str, str] | None = None
                      ) -> tuple[bytes, bool]:
    """Our own header block (as written by address_list) with the mailboxes of `drop` taken out of To and
    Cc, and the addresses in `rename` written as their new form. Returns the block and whether To still
    names someone. Only for the desk's own output: its layout (one mailbox a line, each ending in <addr>
    or being one) is known."""
    gone = {a.lower() for a in drop}
    rename = {a.lower(): b for a, b in (rename or {}).items()}
    lines = head.decode("utf-8").split(CRLF)
    out: list[str] = []
    to_left = True
    i = 0
    while i < len(lines):
        line = lines[i]
        field = line.split(":", 1)[0].lower() if line and line[0] not in " \t" else None
        if field in ("to", "cc"):
            j = i + 1
            while j < len(lines) and lines[j][:1] in (" ", "\t"):
                j += 1
            value = CRLF.join(lines[i:j]).split(":", 1)[1].lstrip(" \r\n")  # (a long first mailbox: "To:" CRLF)
            kept = [_renamed(m.strip(), rename) for m in value.split("," + CRLF)
                    if _addr_of(m.strip()).lower() not in gone]
            if kept:
                out.append(f"{line[:len(field)]}: " + ("," + CRLF + " ").join(kept))
            elif field == "to":
                to_left = False
            i = j
            continue
        out.append(line)
        i += 1
    return CRLF.join(out).encode("utf-8"), to_left


def _renamed(mailbox_text: str, rename: Mapping[str, str]) -> str:
    new = rename.get(_addr_of(mailbox_text).lower())
    if new is None:
        return mailbox_text
    if mailbox_text.endswith(">") and "<" in mailbox_text:
        return mailbox_text[:mailbox_text.rfind("<") + 1] + new + ">"
    return new


def _addr_of(mailbox_text: str) -> str:
    if mailbox_text.endswith(">") and "<" in mailbox_text:
        return mailbox_text[mailbox_text.rfind("<") + 1:-1]
    return mailbox_text
