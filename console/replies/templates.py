"""Canned replies: NAME.txt files with the variables {ticket}, {subject}, {class}, {due},
{requester_name} and {agent_name}.

Five ship with the tool (in templates/ beside this file): "receipt" (sent on a new ticket when
[replies] receipt = true; not first contact), "details" (the "we need details" request for call-me-only
mail), "working-on-it", "resolved" and "need-more-time". A [replies] templates directory adds its own and
may replace those by name. None ends with a name: the sender's signature is added once, after them.

A template may start with a small header that says what sending it records, between two `---` lines:

    ---
    contact: none
    ---

`contact` is "reply" (the default: sending it is first contact, a reply by mail), "details" (a details
request: it answers a call-me mail, and the customer's answer starts the clock) or "none" (not first
contact: the ticket's clock runs on, as after a receipt).

Substitution is a plain search and replace of the names above, never str.format: `{{` and `}}` are
literal braces, and any other name in braces is an error that names the file and the line.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping

from console.safe_text import clean_line

BUNDLED = Path(__file__).with_name("templates")
RECEIPT, DETAILS = "receipt", "details"
VARIABLES = ("ticket", "subject", "class", "due", "requester_name", "agent_name")
MAX_BYTES = 64 * 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}\n]{0,40})\}")


class TemplateError(ValueError):
    """A template that is missing or cannot be used; the message names it."""


CONTACT_KINDS = ("reply", "details", "none")
_HEADER_KEYS = ("contact",)


@dataclass(frozen=True)
class Template:
    name: str
    path: Path
    text: str
    contact: str = "reply"  # what sending it records: "reply" (first contact), "details" or "none"


def _split_header(name: str, path: Path, text: str) -> tuple[str, str]:
    """(contact, body) of a template's text: its `---` header read and taken off."""
    # Without a header, a file that replaces the receipt or the details request keeps what those record.
    default = {RECEIPT: "none", DETAILS: "details"}.get(name, "reply")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return default, text
    try:
        end = next(i for i in range(1, min(len(lines), 20)) if lines[i].strip() == "---")
    except StopIteration:
        raise TemplateError(f"template {name} ({path}): a header opened with --- is not closed with ---") from None
    contact = default
    for lineno, line in enumerate(lines[1:end], 2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip().strip('"')
        if not sep or key not in _HEADER_KEYS:
            raise TemplateError(f"template {name} ({path}), line {lineno}: unknown header "
                                f"{clean_line(key, 40)!r} (known: {', '.join(_HEADER_KEYS)})")
        if value not in CONTACT_KINDS:
            raise TemplateError(f"template {name} ({path}), line {lineno}: contact must be one of "
                                f"{', '.join(CONTACT_KINDS)}, not {clean_line(value, 40)!r}")
        contact = value
    return contact, "\n".join(lines[end + 1:]).lstrip("\n")


def _files(directory: Path | None) -> dict[str, Path]:
    found = {p.stem: p for p in sorted(BUNDLED.glob("*.txt"))}
    if directory is not None:
        try:
            found.update({p.stem: p for p in sorted(directory.glob("*.txt")) if _NAME.fullmatch(p.stem)})
        except OSError as exc:
            raise TemplateError(f"replies.templates: cannot list {directory}: {exc.strerror}") from None
    return found


def names(directory: Path | None) -> list[str]:
    """Every template name there is, sorted (the console's pick-list)."""
    return sorted(_files(directory))


def load(directory: Path | None, name: str) -> Template:
    files = _files(directory)
    if name not in files:
        close = difflib.get_close_matches(name, list(files), n=1)
        hint = f"did you mean {close[0]}?" if close else "templates: " + ", ".join(sorted(files))
        raise TemplateError(f"no template named {clean_line(name, 64)!r} ({hint})")
    path = files[name]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TemplateError(f"template {name}: cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise TemplateError(f"template {name}: {path} is larger than {MAX_BYTES // 1024} KB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TemplateError(f"template {name}: {path} is not UTF-8 text") from None
    contact, body = _split_header(name, path, text)
    t = Template(name, path, body, contact)
    check(t)
    return t


def contact_of(directory: Path | None, name: str | None) -> str:
    """What sending this template records ("reply" for a reply written by hand, name None)."""
    return "reply" if name is None else load(directory, name).contact


def check(t: Template) -> None:
    """Refuse a template that names a variable there is not."""
    for lineno, line in enumerate(t.text.splitlines(), 1):
        for m in _FIELD.finditer(line):
            if m.group(1) is not None and m.group(1) not in VARIABLES:
                known = ", ".join("{" + v + "}" for v in VARIABLES)
                raise TemplateError(f"template {t.name} ({t.path}), line {lineno}: unknown variable "
                                    f"{{{clean_line(m.group(1))}}} (known: {known})")


def render(t: Template, values: Mapping[str, str]) -> str:
    def sub(m: re.Match) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        return str(values.get(m.group(1), m.group(0)))

    check(t)
    return _FIELD.sub(sub, t.text)


def values(ticket: Mapping, agent_name: str, tz) -> dict[str, str]:
    """The variables for one ticket. Text from mail is made one clean line; {due} is in the desk's zone."""
    from store.times import parse_iso

    due = parse_iso(ticket.get("due_at"))
    return {
        "ticket": str(ticket["id"]),
        "subject": clean_line(ticket.get("subject") or "", 200) or "(no subject)",
        "class": str(ticket.get("class") or ""),
        "due": due.astimezone(tz).strftime("%a %d %b %Y %H:%M %Z") if due else "",
        "requester_name": clean_line(ticket.get("requester_name") or "", 100) or "there",
        "agent_name": clean_line(agent_name or "", 100),
    }
