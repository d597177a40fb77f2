"""One mail from the desk: headers that thread both ways, and a plain-text body. Pure: the caller passes
the thread, the time and (in tests) the random part of the Message-ID.

- Message-ID: ``<t{ticket}.{random}@{desk domain}>``: it names the ticket and cannot be guessed, so a
  customer's answer that cites it threads even without the subject tag. Ids are handled and stored
  without their angle brackets, as intake stores them.
- In-Reply-To: the customer's last message. References: the customer's chain, oldest first, capped to
  MAX_REFERENCES (the root and the newest ones stay), then the desk's own earlier mail on the ticket.
- Subject: ``Re: [#N] <subject>``, other systems' tags kept and ours added once.
- From and Reply-To: the desk. A Date in the desk's zone. X-Loop: the desk's address, so intake knows
  its own mail when it comes back.
- Automatic mail (receipts, details requests) carries Auto-Submitted: auto-replied, Precedence:
  auto_reply and X-Auto-Response-Suppress: All (RFC 3834); a person's reply carries none of them.
- Cc: the customer's, at most [replies] max_cc of them unless a person asks for all; an address that
  cannot be written safely is left off, said on the review screen, and the reply goes to the others.
- The header block is written by console/replies/headers.py, never by the email package's header code
  (which decodes encoded words in what it is asked to write): stored text goes out as the literal text.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from collections.abc import Iterable, Sequence

from console.replies import headers
from console.safe_text import clean_block, clean_line, strip_controls

MAX_REFERENCES = 20
MAX_QUOTE_LINES = 200
MAX_QUOTE_CHARS = 20_000
MAX_BODY_CHARS = 1_000_000
LOOP_HEADER = "X-Loop"
AUTOMATIC_HEADERS = (("Auto-Submitted", "auto-replied"), ("Precedence", "auto_reply"),
                     ("X-Auto-Response-Suppress", "All"))
CUSTOMER_KINDS = ("new", "reply")  # mail the customer wrote (not auto-replies, bounces, ours or notes)

# Leading reply/forward markers in the common languages ("Re:", "RE[2]:", "Fwd:", "AW:", "SV:" ...).
_PREFIXES = re.compile(r"^(?:\s*(?:re|fw|fwd|aw|wg|sv|vs|antw|rif|tr|odp)\s*(?:\[\d+\]|\(\d+\))?\s*:)+\s*",
                       re.IGNORECASE)
_MSGID = re.compile(r"[^<>\s@]+@[^<>\s@]+")
_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+")


class ComposeError(ValueError):
    """The mail cannot be written (no address to send to, an empty body); the message says why."""


@dataclass(frozen=True)
class ThreadMessage:
    """What composing needs of one stored message of the ticket."""
    kind: str
    message_id: str | None
    from_addr: str
    from_name: str
    refs: tuple[str, ...]
    body_text: str
    at: datetime | None  # when it was sent or received
    cc: tuple[str, ...] = ()  # its Cc addresses (the customer's last message only)


@dataclass(frozen=True)
class Outgoing:
    raw: bytes
    message_id: str
    from_addr: str
    from_name: str
    to_addr: str
    cc: tuple[str, ...]
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]
    body: str
    left_off: tuple[tuple[str, str], ...] = ()  # Cc addresses not copied: (address, why)

    @property
    def recipients(self) -> list[str]:
        return [self.to_addr, *self.cc]


def message_id(ticket_id: int, desk_addr: str, token: str | None = None) -> str:
    """A new Message-ID, without its angle brackets."""
    domain = desk_addr.rpartition("@")[2] or "localhost"
    return f"t{ticket_id}.{token or secrets.token_urlsafe(18)}@{domain}"


def reply_subject(subject: str, ticket_id: int) -> str:
    s = _PREFIXES.sub("", clean_line(subject, 200))
    tag = f"[#{ticket_id}]"
    if tag not in s:
        s = f"{tag} {s}".rstrip()
    return f"Re: {s}"


def valid_address(addr: str) -> bool:
    return bool(addr) and _ADDRESS.fullmatch(addr) is not None


def _ids(values: Iterable[str | None]) -> list[str]:
    out: list[str] = []
    for v in values:
        v = (v or "").strip().strip("<>")
        if v and _MSGID.fullmatch(v) and headers.msg_ids([v]) and v not in out:
            out.append(v)
    return out


def customer_last(thread: Sequence[ThreadMessage], own: Iterable[str]) -> ThreadMessage | None:
    """The customer's last message: the newest mail they wrote, not the desk's, staff's or a machine's."""
    own = {a.lower() for a in own}
    written = [m for m in thread if m.kind in CUSTOMER_KINDS]
    theirs = [m for m in written if m.from_addr.lower() not in own]
    found = theirs or written
    return found[-1] if found else None


def references(thread: Sequence[ThreadMessage], last: ThreadMessage | None) -> list[str]:
    """The customer's chain (the ticket's first mail after its own References, then the last one's
    References and the last one itself), oldest first and capped, then the desk's own earlier
    Message-IDs on the ticket."""
    chain: list[str] = []
    if last is not None:
        first = next(m for m in thread if m.kind in CUSTOMER_KINDS)
        chain = _ids([*first.refs, first.message_id, *last.refs, last.message_id])
    ours = [i for i in _ids(m.message_id for m in thread if m.kind == "outgoing") if i not in chain]
    refs = chain + ours
    if len(refs) > MAX_REFERENCES:
        refs = refs[:1] + refs[-(MAX_REFERENCES - 1):]
    return refs


def quote(message: ThreadMessage, tz) -> str:
    """'On <date>, <name> wrote:' and the message's text with '> ' before each line, capped."""
    text = clean_block(message.body_text or "")[:MAX_QUOTE_CHARS]
    lines = text.split("\n") if text else []
    cut = len(lines) > MAX_QUOTE_LINES
    lines = lines[:MAX_QUOTE_LINES]
    who = clean_line(f"{message.from_name} <{message.from_addr}>" if message.from_name else message.from_addr, 120)
    when = f"On {message.at.astimezone(tz):%a %d %b %Y %H:%M}, " if message.at else ""
    quoted = [f"> {ln}" if ln else ">" for ln in lines] + (["> [...]"] if cut else [])
    return f"{when}{who} wrote:\n" + "\n".join(quoted)


def plain_text(text: str) -> str:
    """Text fit to send: controls and escape sequences removed, one kind of line end, no trailing
    blanks, except on the "-- " line that starts a signature."""
    lines = [ln if ln == "-- " else ln.rstrip() for ln in strip_controls(text).replace("\r\n", "\n")
             .replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines)


def signature_block(signature: str | None) -> str:
    return f"-- \n{signature.strip()}" if signature and signature.strip() else ""


def with_signature(body: str, signature: str | None) -> str:
    """The body with the agent's signature at the end, unless it already holds it."""
    block = signature_block(signature)
    body = body.rstrip()
    if not block or (signature or "").strip() in body:
        return body
    return f"{body}\n\n{block}"


def draft_body(last: ThreadMessage | None, signature: str | None, tz, text: str = "") -> str:
    """What the composer starts with: the customer's last message quoted, room to write, the signature."""
    parts = [quote(last, tz)] if last is not None else []
    parts.append(text.strip())
    block = signature_block(signature)
    if block:
        parts.append(block)
    return "\n\n".join(parts) + "\n"


class TooManyCc(ComposeError):
    """More Cc addresses than [replies] max_cc: a person must ask for all of them (reply --cc-all)."""

    def __init__(self, ticket_id: int, count: int, cap: int):
        super().__init__(f"the customer's last mail had {count:,} Cc addresses, more than replies.max_cc ({cap}); "
                         f"nothing was sent (to copy all of them: support-console reply {ticket_id} --cc-all)")
        self.count, self.cap = count, cap


@dataclass(frozen=True)
class Copies:
    """Whom a reply copies: the writable Cc addresses, and the ones left off with why."""
    cc: tuple[str, ...]
    left_off: tuple[tuple[str, str], ...]  # (address as received, why)

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(f"Cc {clean_line(a, 120)} left off: {why}" for a, why in self.left_off)


def copies(last: ThreadMessage | None, to_addr: str, own: Iterable[str]) -> Copies:
    """The customer's Cc on their last message, without the desk, the staff and the requester, each
    address once; one that cannot be written safely is left off (and said so), the others stay."""
    own = {a.lower() for a in own}
    cc: list[str] = []
    left: list[tuple[str, str]] = []
    seen = set(own) | {to_addr}
    for a in (last.cc if last is not None else ()):
        a = a.strip().lower()
        if not a or a in seen:
            continue
        seen.add(a)
        why = headers.writable(a)
        if why is None:
            cc.append(a)
        else:
            left.append((a, f"cannot be written safely ({why})"))
    return Copies(tuple(cc), tuple(left))


def build(*, ticket_id: int, subject: str, thread: Sequence[ThreadMessage], to_addr: str, to_name: str,
          desk_from: str, body: str, now: datetime, tz, own: Iterable[str], automatic: bool = False,
          cc: bool = True, token: str | None = None, max_cc: int | None = None) -> Outgoing:
    """The mail that answers the ticket's thread. `own`: the desk's and the staff's addresses (never Cc'd,
    never taken for the customer). `cc`: copy whoever the customer had in Cc on their last message, at
    most `max_cc` of them (None: all); more raise TooManyCc.

    The header block is written by console.replies.headers (never by the email package's header code,
    which decodes encoded words it finds in what it writes); the email package only writes the body part."""
    body = plain_text(body)
    if not body.strip():
        raise ComposeError("the reply is empty; nothing was sent")
    if len(body) > MAX_BODY_CHARS:
        raise ComposeError(f"the reply is longer than {MAX_BODY_CHARS:,} characters; nothing was sent")
    to_addr = (to_addr or "").strip().lower()
    if not valid_address(to_addr) or headers.writable(to_addr) is not None:
        why = headers.writable(to_addr) if to_addr else None
        raise ComposeError(f"the ticket has no address to reply to ({clean_line(to_addr, 120) or 'none'}"
                           + (f": {why}" if why and to_addr else "") + ")")
    own = {a.lower() for a in own}
    from_name, from_addr = _split_from(desk_from)
    if headers.writable(from_addr) is not None:
        raise ComposeError(f"smtp.from: the desk's address {clean_line(from_addr, 120)!r} cannot be written "
                           f"({headers.writable(from_addr)})")
    last = customer_last(thread, own)
    chosen = copies(last, to_addr, own) if cc else Copies((), ())
    if max_cc is not None and len(chosen.cc) > max_cc:
        raise TooManyCc(ticket_id, len(chosen.cc), max_cc)
    refs = references(thread, last)
    parent = _ids([last.message_id])[0] if last is not None and _ids([last.message_id]) else None
    mid = message_id(ticket_id, from_addr, token)
    subj = reply_subject(subject, ticket_id)
    head = "".join([
        headers.address_list("From", [(from_name, from_addr)]),
        headers.address_list("Reply-To", [(from_name, from_addr)]),
        headers.address_list("To", [(clean_line(to_name, 100), to_addr)]),
        headers.address_list("Cc", [("", a) for a in chosen.cc]),
        headers.unstructured("Subject", subj),
        headers.simple("Date", format_datetime(now.astimezone(tz).replace(microsecond=0))),
        headers.id_field("Message-ID", headers.msg_ids([mid])),
        headers.id_field("In-Reply-To", headers.msg_ids([parent] if parent else [])),
        headers.id_field("References", headers.msg_ids(refs)),
        headers.simple(LOOP_HEADER, from_addr),
        *(headers.simple(name, value) for name, value in (AUTOMATIC_HEADERS if automatic else ())),
    ])
    # 7bit: a non-ASCII body goes quoted-printable, so a server without 8BITMIME takes it as it is. The
    # body part's own headers (MIME-Version, Content-Type, Content-Transfer-Encoding) hold no mail text.
    part = EmailMessage(policy=policy.SMTP.clone(cte_type="7bit"))
    part.set_content(body + "\n")
    raw = head.encode("utf-8") + part.as_bytes()
    return Outgoing(raw=raw, message_id=mid, from_addr=from_addr, from_name=from_name, to_addr=to_addr,
                    cc=chosen.cc, subject=subj, in_reply_to=parent, references=tuple(refs), body=body,
                    left_off=chosen.left_off)


def _split_from(desk_from: str) -> tuple[str, str]:
    name, addr = parseaddr(desk_from)
    return clean_line(name, 100), addr.lower()
