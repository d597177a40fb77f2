"""Raw RFC 5322 bytes -> :class:`ParsedMail`. Pure code: no I/O, no database, no Textual.

:func:`parse_message` never raises. Mail is untrusted: it may be truncated, mis-declared, 8-bit, hostile
or not mail at all. Whatever went wrong is written to ``ParsedMail.defects`` so the console can show it
next to the raw message.

Structure comes from the stdlib parser with its default policy, ``compat32``: string based and lenient, it
does not build header objects (the default policy's header parser is slow and, on hostile values, worse).
Header values are decoded by console/decoding.py in linear time (the stdlib's decode_header is
quadratic in the number of encoded words), HTML by console/intake/html_text.py. Every other stage is
bounded too: header fields, MIME parts and depth, References and addresses kept, body text kept.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from typing import Any, NamedTuple

from console.decoding import FOLD as _FOLD
from console.decoding import decode_bytes, decode_header_value, raw_to_str
from console.safe_text import clean_block, clean_line

__all__ = ["DEFAULT_MAX_SIZE", "Attachment", "ParsedMail", "attachment_payloads", "normalize_msgid", "parse_message"]

DEFAULT_MAX_SIZE = 25 * 1024 * 1024
_HEADER_SCAN_LIMIT = 1024 * 1024  # header block looked at when a message is over the size cap
_MAX_DEPTH = 30  # MIME nesting followed
_MAX_PARTS = 500  # MIME parts looked at
_MAX_HEADERS = 500  # header fields kept
_MAX_DEFECTS = 100
_FILENAME_LIMIT = 255
MAX_REFERENCES = 100  # References ids kept: the first (the thread's root) and the latest
MAX_ADDRESSES = 1000  # addresses kept per header field
_ADDRESS_VALUE_LIMIT = 64 * 1024  # longer address fields are scanned for addresses, not parsed
MAX_BODY_CHARS = 1_000_000  # text kept for display and classification (the raw message is always kept)
_PARAM_HEADER_LIMIT = 8 * 1024  # characters of Content-Type / -Disposition read for parameters


class _BoundedMessage(Message):
    """compat32's Message, reading at most _PARAM_HEADER_LIMIT characters of the headers whose parameters
    it parses: its parameter parser is quadratic in the number of quoted semicolons (a 200,000-character
    Content-Type took 40 s), and the parser itself asks for the boundary. The full value stays in the
    raw headers, and the raw message is always kept."""

    def get(self, name, failobj=None):
        value = super().get(name, failobj)
        if isinstance(value, str) and len(value) > _PARAM_HEADER_LIMIT and name.lower() in _PARAM_HEADERS:
            return value[:_PARAM_HEADER_LIMIT]
        return value


_PARAM_HEADERS = ("content-type", "content-disposition")


class Attachment(NamedTuple):
    filename: str  # decoded and clean_line()'d; "" when the part has no name
    content_type: str  # lower-cased "type/subtype"
    size: int  # bytes of the decoded payload


class ParsedMail(NamedTuple):
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    from_addr: str
    from_name: str
    recipients: tuple[str, ...]
    date: datetime | None
    body_text: str
    attachments: tuple[Attachment, ...]
    defects: tuple[str, ...]
    headers: Mapping[str, str]
    original_message_id: str | None
    size: int
    oversize: bool
    unparseable: bool
    # Which of the addresses parse_message was asked to look for (route_to: the routing addresses) are among
    # the recipients (To, Cc, Delivered-To, X-Original-To), however many there are and wherever they stand:
    # `recipients` keeps at most MAX_ADDRESSES a field, and this is what routing must not lose.
    routed: tuple[str, ...] = ()


# --------------------------------------------------------------------------- ids, addresses, dates

_ANGLE_ID = re.compile(r"<([^<>]{0,2000})>")
_WS = re.compile(r"\s+")


def normalize_msgid(value: Any) -> str | None:
    """``" <abc@x> "`` -> ``"abc@x"``; None when missing or empty."""
    if value is None:
        return None
    try:
        s = clean_line(str(value)[:4000])
        m = _ANGLE_ID.search(s)
        s = m.group(1) if m else s.split()[0] if s.split() else ""
        s = _WS.sub("", s).strip("<>")
        return s or None
    except Exception:
        return None


def _msgid_list(value: str) -> list[str]:
    s = clean_line(value)
    ids = [_WS.sub("", m) for m in _ANGLE_ID.findall(s)]
    if not ids:
        ids = [t.strip("<>") for t in s.replace(",", " ").split()]
    return [i for i in ids if i]


def _keep_references(refs: list[str], notes: list[str]) -> tuple[str, ...]:
    refs = list(_dedupe(refs))
    if len(refs) <= MAX_REFERENCES:
        return tuple(refs)
    notes.append(f"{len(refs)} References ids; kept the first and the latest {MAX_REFERENCES - 1}")
    return (refs[0], *refs[-(MAX_REFERENCES - 1):])


# local@domain, or the bare local parts bounces come from
_PLAUSIBLE_ADDR = re.compile(r"[^@\s<>]+@[^@\s<>]+|mailer-daemon|postmaster")
# bounded repeats: a long run without "@" must not make this quadratic
_BARE_ADDR = r"[^\s<>()\[\],;:\"'@]{1,64}@[^\s<>()\[\],;:\"'@]{1,255}"


_RECIPIENT_FIELDS = ("to", "cc", "delivered-to", "x-original-to")


def _routed(values: Iterable[str], route_to: Collection[str]) -> tuple[str, ...]:
    """The addresses of route_to found among these header values, every address of every value looked at.
    Linear: a value is parsed only when one of route_to occurs in it as text."""
    wanted = {a.strip().lower() for a in route_to if a and a.strip()}
    found: set[str] = set()
    for v in values:
        if not v or found >= wanted:
            continue
        low = v.lower()
        if any(w in low for w in wanted - found):
            found.update(a for _, a in _addresses([v], None, cap=None) if a in wanted)
    return tuple(sorted(found))


_CONTINUATION = r"(?:\r\n|\r|\n)(?=[ \t])"  # a line break that folds a field onto the next line


def routed_in_headers(block: bytes, route_to: Collection[str]) -> tuple[str, ...]:
    """Which of route_to a header block (such as BODY[HEADER.FIELDS (TO CC ...)]) names in its recipient
    fields: the cheap look at a backlog that finds urgent mail before its bodies are fetched. Never raises."""
    try:
        text = re.sub(_CONTINUATION, "", block.decode("latin-1"))
    except Exception:  # noqa: BLE001
        return ()
    values = []
    for line in re.split(r"\r\n|\r|\n", text):
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() in _RECIPIENT_FIELDS:
            values.append(value)
    return _routed(values, route_to)


def _addresses(values: Iterable[str], notes: list[str] | None = None, *,
               cap: int | None = MAX_ADDRESSES) -> list[tuple[str, str]]:
    """Header values -> [(display name, lower-cased address)], at most `cap` a field; never raises."""
    out: list[tuple[str, str]] = []
    for v in values:
        if not v:
            continue
        found: list[tuple[str, str]] = []
        if len(v) <= _ADDRESS_VALUE_LIMIT:
            try:
                pairs = email.utils.getaddresses([v])
            except Exception:
                pairs = []
            for name, addr in pairs:
                addr = clean_line(addr or "").strip("<>").strip().lower().replace(" ", "")
                if _PLAUSIBLE_ADDR.fullmatch(addr):
                    found.append((name or "", addr))
        if not any("@" in a for _, a in found) and "@" in v:
            # too long to parse, or getaddresses found only junk: pick out what looks like an address
            found = [("", a.strip(".").lower()) for a in re.findall(_BARE_ADDR, clean_line(v))]
        if cap is not None and len(found) > cap:
            if notes is not None:
                notes.append(f"{len(found)} addresses in one header field; kept the first {cap}")
            found = found[:cap]
        out.extend(found)
    return out


def _parse_date(value: str) -> datetime | None:
    if not value or len(value) > 200:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(clean_line(value))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    except Exception:
        return None


# --------------------------------------------------------------------------- headers


class _Headers:
    """Decoded view of one part's header fields. Never raises."""

    def __init__(self, msg: Message | None, notes: list[str]):
        self.decoded: dict[str, list[str]] = {}  # lower-cased name -> unfolded, decoded values in order
        self.undecoded: dict[str, list[str]] = {}  # the same without RFC 2047 decoding (for addresses)
        try:
            raw = list(msg.raw_items()) if msg is not None else []
        except Exception:
            raw = []
        # Recipient fields past the cap are kept undecoded for routing only (parse_message's route_to).
        self.more_recipients: list[str] = []
        for name, value in raw[_MAX_HEADERS:]:
            try:
                if clean_line(raw_to_str(name)).lower() in _RECIPIENT_FIELDS:
                    self.more_recipients.append(_FOLD.sub("", raw_to_str(value)))
            except Exception:
                continue
        for name, value in raw[:_MAX_HEADERS]:
            try:
                key = clean_line(raw_to_str(name)).lower()
                if not key:
                    continue
                undecoded = _FOLD.sub("", raw_to_str(value))
            except Exception:
                continue
            self.decoded.setdefault(key, []).append(decode_header_value(value, notes))
            self.undecoded.setdefault(key, []).append(undecoded)
        if len(raw) > _MAX_HEADERS:
            notes.append(f"{len(raw)} header fields, only the first {_MAX_HEADERS} were read")

    def all(self, name: str) -> list[str]:
        return self.decoded.get(name) or []

    def raw_all(self, name: str) -> list[str]:
        return self.undecoded.get(name) or []

    def first(self, name: str) -> str | None:
        values = self.decoded.get(name)
        return values[0] if values else None

    def mapping(self) -> dict[str, str]:
        return {k: clean_line(values[0]) for k, values in self.decoded.items()}


# --------------------------------------------------------------------------- MIME parts


def _content_type(part: Message) -> str:
    try:
        ct = part.get_content_type()
        if isinstance(ct, str) and "/" in ct:
            return ct.lower()
    except Exception:
        pass
    return "text/plain"


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:
        return None


def _disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:
        return ""


def _filename(part: Message, notes: list[str]) -> str:
    try:
        name = part.get_filename(None)
    except Exception:
        name = None
    if not name:
        return ""
    name = str(name)
    name = decode_header_value(name, notes) if "=?" in name else raw_to_str(name)
    return clean_line(name.strip(), _FILENAME_LIMIT)


def _payload_bytes(part: Message, notes: list[str]) -> bytes:
    """Decoded payload of a non-multipart part. Never raises."""
    try:
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            return data
    except Exception:
        notes.append("could not undo the transfer encoding, showing it raw")
    try:
        payload = part.get_payload()
    except Exception:
        payload = ""
    if isinstance(payload, list):
        return b""
    if isinstance(payload, bytes):
        return payload
    return str(payload).encode("ascii", "surrogateescape")


_NON_BODY_TYPES = ("message/delivery-status", "message/disposition-notification", "message/feedback-report",
                   "text/rfc822-headers")


class _Ctx:
    def __init__(self, keep_payloads: bool = False) -> None:
        self.notes: list[str] = []
        self.attachments: list[Attachment] = []
        # Each attachment's bytes, in the order of `attachments`, when asked (saving one from the console).
        self.payloads: list[bytes] | None = [] if keep_payloads else None
        self.original_ids: list[str] = []
        self.parts_seen = 0
        self.truncated_walk = False

    def attach(self, attachment: Attachment, data: bytes) -> None:
        self.attachments.append(attachment)
        if self.payloads is not None:
            self.payloads.append(data)

    def defects_of(self, part: Any) -> None:
        try:
            for d in list(getattr(part, "defects", []) or [])[:_MAX_DEFECTS]:
                self.notes.append(_defect_text(d))
        except Exception:
            pass


def _children(part: Message) -> list[Any] | None:
    try:
        payload = part.get_payload() if part.is_multipart() else None
    except Exception:
        return None
    return payload if isinstance(payload, list) else None


def _extract(part: Any, depth: int, ctx: _Ctx) -> list[tuple[str, str]]:
    """Text pieces of ``part`` as [(kind, text)] with kind "plain" or "html". Records attachments."""
    if not isinstance(part, Message):
        return []
    ctx.parts_seen += 1
    if ctx.parts_seen > _MAX_PARTS or depth > _MAX_DEPTH:
        ctx.truncated_walk = True
        return []
    try:
        return _extract_part(part, depth, ctx)
    finally:
        ctx.defects_of(part)  # after decoding, so payload defects (bad base64 ...) are included


def _extract_part(part: Message, depth: int, ctx: _Ctx) -> list[tuple[str, str]]:
    ctype = _content_type(part)
    maintype = ctype.split("/", 1)[0]
    children = _children(part)

    if ctype == "message/rfc822" or (maintype == "message" and children and ctype not in _NON_BODY_TYPES):
        inner = children[0] if children else None
        try:
            data = inner.as_bytes() if isinstance(inner, Message) else b""
        except Exception:
            data = b""
        ctx.attach(Attachment(_filename(part, ctx.notes), ctype, len(data)), data)
        if not isinstance(inner, Message):
            return []
        ih = _Headers(inner, ctx.notes)
        mid = normalize_msgid(ih.first("message-id"))
        if mid:
            ctx.original_ids.append(mid)
        inner_text = _extract(inner, depth + 1, ctx)
        if not inner_text:
            return []
        head = ["---------- attached message ----------"]
        for label, key in (("From", "from"), ("Date", "date"), ("Subject", "subject")):
            if v := ih.first(key):
                head.append(f"{label}: {clean_line(v)}")
        return [("plain", "\n".join(head)), *inner_text]

    if ctype == "text/rfc822-headers":
        data = _payload_bytes(part, ctx.notes)
        m = re.search(rb"(?im)^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", data[:_HEADER_SCAN_LIMIT])
        if m and (mid := normalize_msgid(decode_bytes(m.group(1)))):
            ctx.original_ids.append(mid)
        return []

    if children is not None:
        results = [_extract(c, depth + 1, ctx) for c in children]
        if ctype == "multipart/alternative":
            for r in results:
                if any(kind == "plain" and text.strip() for kind, text in r):
                    return r
            return next((r for r in results if any(text.strip() for _, text in r)), [])
        return [piece for r in results for piece in r]

    if ctype in _NON_BODY_TYPES or maintype == "message":
        return []
    disposition = _disposition(part)
    filename = _filename(part, ctx.notes)
    is_text = ctype in ("text/plain", "text/html") or maintype == "multipart"  # multipart without parts
    data = _payload_bytes(part, ctx.notes)
    if disposition == "attachment" or (filename and disposition != "inline") or not is_text:
        ctx.attach(Attachment(filename, ctype, len(data)), data)
        return []
    text = decode_bytes(data, _charset(part), ctx.notes, ctype)
    if maintype == "multipart":
        ctx.notes.append(f"{ctype} part has no readable sub-parts; showing its raw content")
        return [("plain", text)]
    return [("html" if ctype == "text/html" else "plain", text)]


def _defect_text(defect: Any) -> str:
    try:
        name = type(defect).__name__
        detail = str(defect).strip()
        doc = (type(defect).__doc__ or "").strip().splitlines()
        text = detail or (doc[0].strip() if doc else "") or name
        return name if text == name else f"{text} ({name})"
    except Exception:
        return "unknown parser defect"


# --------------------------------------------------------------------------- bounces

_BOUNCE_SUBJECT = re.compile(
    r"(?i)undeliver|delivery (status|failure|has failed)|failure notice|returned mail|mail delivery (failed|system)|"
    r"non[- ]?delivery|could not be delivered|delivery notification"
)
_BODY_MSGID = r"(?im)^[ \t>]{0,20}message-id:[ \t]{0,20}<([^<>\s]{1,2000})>"


def _looks_like_bounce(h: _Headers, top_type: str, from_addr: str) -> bool:
    if from_addr.split("@", 1)[0] in ("mailer-daemon", "postmaster"):
        return True
    if (h.first("return-path") or "").replace(" ", "") == "<>":
        return True
    return top_type == "multipart/report" or bool(_BOUNCE_SUBJECT.search((h.first("subject") or "")[:1000]))


# --------------------------------------------------------------------------- entry point


def _header_block(raw: bytes, limit: int) -> bytes:
    head = raw[:limit]
    m = re.search(rb"\r?\n\r?\n|\r\r", head)
    return head[:m.end()] if m else head


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


def _as_bytes(raw: Any) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, (bytearray, memoryview)):
        return bytes(raw)
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b"" if raw is None else bytes(raw)


def _safe_max(max_size: Any) -> int:
    try:
        return int(max_size)
    except Exception:
        return DEFAULT_MAX_SIZE


def parse_message(raw: bytes, max_size: int = DEFAULT_MAX_SIZE, route_to: Collection[str] = ()) -> ParsedMail:
    """Parse one raw message. Never raises.

    * ``route_to``: addresses whose presence among the recipients is reported in ``routed``, looked for
      in every recipient field and address (what is kept in ``recipients`` is capped).

    * ``oversize``: ``len(raw) > max_size``; then only the header block is parsed, ``body_text`` is ""
      and a note is added to ``defects``. The message is never skipped.
    * ``unparseable``: the parser could not produce a single header field (garbage, empty input,
      parser failure). Fields are then best-effort: ``body_text`` holds the raw bytes decoded as text.
    """
    try:
        raw = _as_bytes(raw)
    except Exception:
        raw = b""
    try:
        return _parse(raw, _safe_max(max_size), route_to=route_to)
    except Exception as exc:  # noqa: BLE001 - RecursionError, MemoryError, a parser bug: keep what we can
        return _fallback(raw, _safe_max(max_size), f"parser failed: {type(exc).__name__}")


def attachment_payloads(raw: bytes, max_size: int = DEFAULT_MAX_SIZE) -> list[bytes]:
    """The decoded bytes of each of the mail's attachments, in the order of ParsedMail.attachments: the
    same walk as parse_message, so an attachment is found by its index. Never raises ([] on failure)."""
    ctx = _Ctx(keep_payloads=True)
    try:
        _parse(_as_bytes(raw), _safe_max(max_size), ctx)
    except Exception:  # noqa: BLE001 - what parse_message would keep raw is not saved from here
        return []
    return ctx.payloads or []


def _parse(raw: bytes, max_size: int, ctx: _Ctx | None = None, *, route_to: Collection[str] = ()) -> ParsedMail:
    size = len(raw)
    oversize = size > max_size
    ctx = ctx or _Ctx()
    if oversize:
        block = _header_block(raw, max(0, min(max(max_size, 64 * 1024), _HEADER_SCAN_LIMIT)))
        msg = BytesParser(_BoundedMessage).parsebytes(block, headersonly=True)
        ctx.notes.append(f"message is {size} bytes, over the {max_size}-byte limit: only its headers were parsed")
    else:
        msg = BytesParser(_BoundedMessage).parsebytes(raw)
    h = _Headers(msg, ctx.notes)
    top_type = _content_type(msg)
    if oversize:
        pieces: list[tuple[str, str]] = []
        ctx.defects_of(msg)
    else:
        pieces = _extract(msg, 0, ctx)
        if ctx.truncated_walk:
            ctx.notes.append("MIME structure too deep or too large; only part of it was read")
    body_text = _body_text(pieces, ctx)

    from_pairs = _addresses(h.raw_all("from"), ctx.notes) or _addresses(h.raw_all("sender"), ctx.notes)
    from_name, from_addr = from_pairs[0] if from_pairs else ("", "")
    from_name = clean_line(decode_header_value(from_name, ctx.notes)) if from_name else ""
    rcpt = [v for key in _RECIPIENT_FIELDS for v in h.raw_all(key)]
    recipients = _dedupe(a for _, a in _addresses(rcpt, ctx.notes))
    routed = _routed(rcpt + h.more_recipients, route_to) if route_to else ()
    references = _keep_references([i for v in h.all("references") for i in _msgid_list(v)], ctx.notes)

    own = normalize_msgid(h.first("message-id"))
    original = _bounced(h, top_type, from_addr, body_text, own, ctx)

    unparseable = not h.decoded
    if unparseable and not oversize and not body_text:
        body_text = clean_block(decode_bytes(raw[:min(max_size, MAX_BODY_CHARS)]))
    if unparseable:
        ctx.notes.append("no header fields found: this does not look like an e-mail message")

    return ParsedMail(
        message_id=own, in_reply_to=normalize_msgid(h.first("in-reply-to")), references=references,
        subject=clean_line(h.first("subject") or ""), from_addr=from_addr, from_name=from_name,
        recipients=recipients, date=_parse_date(h.first("date") or ""), body_text=body_text,
        attachments=tuple(ctx.attachments),
        defects=_dedupe(clean_line(n, 500) for n in ctx.notes)[:_MAX_DEFECTS],
        headers=h.mapping(), original_message_id=original, size=size, oversize=oversize, unparseable=unparseable,
        routed=routed,
    )


def _body_text(pieces: list[tuple[str, str]], ctx: _Ctx) -> str:
    """The text parts, HTML as text, joined and cut at MAX_BODY_CHARS, cleaned."""
    texts: list[str] = []
    for kind, text in pieces:
        if kind == "html":
            from console.intake.html_text import html_to_text  # most mail has a text part: not imported for it

            text = html_to_text(text, ctx.notes)
        if text.strip():
            texts.append(text.strip("\r\n"))
    body = "\n\n".join(texts)
    if len(body) > MAX_BODY_CHARS:
        ctx.notes.append(f"body text over {MAX_BODY_CHARS} characters: the rest is in the raw message only")
        body = body[:MAX_BODY_CHARS]
    return clean_block(body)


def _bounced(h: _Headers, top_type: str, from_addr: str, body_text: str, own: str | None, ctx: _Ctx) -> str | None:
    """For a bounce, the Message-ID of the mail it returns (from its attached headers, else its text)."""
    if not _looks_like_bounce(h, top_type, from_addr):
        return None
    original: str | None = None
    if ctx.original_ids:
        original = ctx.original_ids[0]
    elif m := re.search(_BODY_MSGID, body_text):
        original = m.group(1)
    return None if original == own else original


def _fallback(raw: bytes, max_size: int, note: str) -> ParsedMail:
    """Last resort when parsing blew up: headers by the header-only parser if possible."""
    notes = [note]
    size = len(raw)
    try:
        h = _Headers(BytesHeaderParser(_BoundedMessage).parsebytes(_header_block(raw, _HEADER_SCAN_LIMIT)), notes)
    except Exception:  # noqa: BLE001
        h = _Headers(None, notes)
    try:
        body = clean_block(decode_bytes(raw[:MAX_BODY_CHARS])) if size <= max_size else ""
        from_pairs = _addresses(h.raw_all("from"))
        return ParsedMail(
            message_id=normalize_msgid(h.first("message-id")), in_reply_to=normalize_msgid(h.first("in-reply-to")),
            references=(), subject=clean_line(h.first("subject") or ""),
            from_addr=from_pairs[0][1] if from_pairs else "", from_name="",
            recipients=_dedupe(a for _, a in _addresses(h.raw_all("to") + h.raw_all("cc"))),
            date=_parse_date(h.first("date") or ""), body_text=body, attachments=(), defects=tuple(notes),
            headers=h.mapping(), original_message_id=None, size=size, oversize=size > max_size, unparseable=True,
        )
    except Exception:  # noqa: BLE001
        return ParsedMail(
            message_id=None, in_reply_to=None, references=(), subject="", from_addr="", from_name="",
            recipients=(), date=None, body_text="", attachments=(), defects=tuple(notes), headers={},
            original_message_id=None, size=size, oversize=size > max_size, unparseable=True,
        )
