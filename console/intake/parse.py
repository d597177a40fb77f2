"""Raw RFC 5322 bytes -> :class:`ParsedMail`. Pure code: no I/O, no database, no Textual.

:func:`parse_message` never raises. Mail is untrusted: it may be truncated, mis-declared, 8-bit,
hostile or not mail at all. Every step has a fallback, and whatever went wrong is written to
``ParsedMail.defects`` so the console can show it next to the raw message.

Structure comes from ``email.policy.default`` (``BytesParser``), cloned only to give its header
factory a memo (:class:`_MemoHeaders`): the policy re-parses Content-Type on every access. Headers are
read from the raw header list (``Message.raw_items()``) and decoded by our own code, which cannot raise:
raw 8-bit bytes are tried as UTF-8, then cp1252; RFC 2047 encoded words are decoded with the same
charset fallbacks.

The common case is made cheap without changing any result: plain ASCII headers, Content-Type /
Content-Disposition values of the simple ``type/sub; name=value`` shape, identity and quoted-printable
payloads and RFC 5322 dates are read directly; anything else goes the general (slower) way. A message
without MIME structure and with only one-line header fields is read without the parser at all
(:func:`_read_plain`); a test holds it to what the parser gives.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.header
import email.utils
import functools
import html as html_lib
import quopri
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email import policy as email_policy
from email.message import Message
from email.parser import BytesParser
from typing import Any

from console.safe_text import clean_block, clean_line

__all__ = ["DEFAULT_MAX_SIZE", "Attachment", "ParsedMail", "normalize_msgid", "parse_message"]

DEFAULT_MAX_SIZE = 25 * 1024 * 1024
# Header block we are willing to look at when a message is over the size cap.
_HEADER_SCAN_LIMIT = 1024 * 1024
_MAX_DEPTH = 30  # MIME nesting we follow
_MAX_PARTS = 500  # MIME parts we look at
_MAX_HEADERS = 500  # header fields we keep
_MAX_DEFECTS = 100
_FILENAME_LIMIT = 255


@dataclass(frozen=True)
class Attachment:
    filename: str  # decoded and clean_line()'d; "" when the part has no name
    content_type: str  # lower-cased "type/subtype"
    size: int  # bytes of the decoded payload


@dataclass(frozen=True)
class ParsedMail:
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
    headers: Mapping[str, str] = field(hash=False)
    original_message_id: str | None
    size: int
    oversize: bool
    unparseable: bool


class _MemoHeaders:
    """``email.policy.default``'s own header factory, remembering what it parsed.

    With that policy every ``msg.get()`` of a present header parses it again, and the parser itself
    asks for Content-Type three or four times per MIME part: that was most of the cost of a real
    (MIME) mail. Header objects are immutable, so the same (name, value) can share one. Bounded.
    """

    _LIMIT = 2048  # entries
    _LONGEST = 1000  # characters of a value worth keeping; a hostile 1 MB header is parsed and dropped

    def __init__(self, factory):
        self._factory = factory
        self._seen: dict[tuple[str, str], Any] = {}

    def __call__(self, name: str, value: str):
        key = (name, value)
        header = self._seen.get(key)
        if header is None:
            header = self._factory(name, value)
            if len(value) <= self._LONGEST:
                if len(self._seen) >= self._LIMIT:
                    self._seen.clear()
                self._seen[key] = header
        return header

    def __getattr__(self, attr: str):  # the registry's other methods (map_to_type ...) pass through
        return getattr(self._factory, attr)


# policy.default in every rule; only its header factory remembers.
_POLICY = email_policy.default.clone(header_factory=_MemoHeaders(email_policy.default.header_factory))


# --------------------------------------------------------------------------- text decoding


def _norm_charset(charset: Any) -> str:
    try:
        cs = str(charset or "").strip().strip("\"'").strip().lower()
    except Exception:
        return ""
    cs = cs.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
    return cs


def _is_text_codec(charset: str) -> bool:
    try:
        info = codecs.lookup(charset)
    except Exception:
        return False
    return getattr(info, "_is_text_encoding", True)


def decode_bytes(data: bytes, charset: Any = None, notes: list[str] | None = None, what: str = "text") -> str:
    """Bytes -> str: declared charset, then UTF-8, then cp1252 with replacement. Never raises.

    A note goes to ``notes`` when the declared charset is unknown or wrong.
    """
    if not data:
        return ""
    if charset is None:
        return _decode_fallback(data)[0]
    cs = _norm_charset(charset)
    if cs in ("unknown-8bit", "x-unknown", "8bit", "default", "none"):
        bad = cs
        cs = ""
        if notes is not None:
            notes.append(f"charset {bad!r} unknown, decoded as utf-8 / cp1252")
    if cs:
        if _is_text_codec(cs):
            try:
                return data.decode(cs)
            except Exception:
                pass
            fallback = _decode_fallback(data)
            if notes is not None:
                notes.append(f"{what} declared as {cs!r} is not valid {cs}, decoded as {fallback[1]}")
            return fallback[0]
        fallback = _decode_fallback(data)
        if notes is not None:
            notes.append(f"charset {cs!r} unknown, decoded as {fallback[1]}")
        return fallback[0]
    return _decode_fallback(data)[0]


def _decode_fallback(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8"), "utf-8"
    except Exception:
        pass
    try:
        return data.decode("cp1252", errors="replace"), "cp1252"
    except Exception:  # pragma: no cover - cp1252 with replace cannot fail
        return data.decode("latin-1"), "latin-1"


def _raw_to_str(value: Any) -> str:
    """A raw header value as stored by the parser (ASCII + surrogate escapes) -> readable str."""
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
        data = value.encode("utf-8", "surrogateescape")
    except Exception:
        return value.encode("utf-8", "replace").decode("utf-8", "replace")
    return decode_bytes(data)


_FOLD = re.compile(r"\r\n|\r|\n")
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bBqQ]\?[^?\s]*\?=")


def _plain_value(value: Any) -> bool:
    """ASCII str without line breaks or encoded words: decode_header_value() returns it unchanged."""
    return type(value) is str and value.isascii() and "=?" not in value and "\r" not in value and "\n" not in value


def decode_header_value(value: Any, notes: list[str] | None = None) -> str:
    """Unfold, undo raw 8-bit, decode RFC 2047 encoded words. Not cleaned. Never raises."""
    if _plain_value(value):
        return value
    try:
        s = _raw_to_str(value)
        s = _FOLD.sub("", s)
        if "=?" not in s or not _ENCODED_WORD.search(s):
            return s
        try:
            parts = email.header.decode_header(s)
        except Exception:
            parts = _decode_words_lenient(s)
        out = []
        for chunk, charset in parts:
            if isinstance(chunk, str):
                out.append(chunk)
            elif charset is None:
                out.append(_bytes_plain(chunk))
            else:
                out.append(decode_bytes(chunk, charset, notes, "header"))
        return "".join(out)
    except Exception:
        try:
            return str(value)
        except Exception:
            return ""


def _bytes_plain(chunk: bytes) -> str:
    # decode_header() hands back unencoded stretches encoded as raw-unicode-escape
    try:
        return chunk.decode("raw-unicode-escape")
    except Exception:
        return decode_bytes(chunk)


def _decode_words_lenient(s: str) -> list[tuple[Any, Any]]:
    """Decode encoded words one by one, leaving the ones that fail as they are."""
    out: list[tuple[Any, Any]] = []
    pos = 0
    last_was_word = False
    for m in _ENCODED_WORD.finditer(s):
        between = s[pos : m.start()]
        # whitespace between two encoded words is dropped (RFC 2047, 6.2)
        if between and not (last_was_word and not between.strip()):
            out.append((between, None))
        word = m.group(0)
        try:
            _, charset, enc, text = word.split("?", 4)[:4]
            if enc.lower() == "b":
                text += "=" * (-len(text) % 4)
                data = base64.b64decode(text, validate=False)
            else:
                data = quopri.decodestring(text.replace("_", " ").encode("ascii", "replace"), header=True)
            out.append((data, charset or "utf-8"))
            last_was_word = True
        except Exception:
            out.append((word, None))
            last_was_word = False
        pos = m.end()
    if s[pos:]:
        out.append((s[pos:], None))
    return out


# --------------------------------------------------------------------------- ids, addresses, dates

_ANGLE_ID = re.compile(r"<([^<>]{0,2000})>")
_WS = re.compile(r"\s+")


# "<id>" with printable ASCII inside and no spaces: the usual form, which the general code returns as is
_PLAIN_MSGID = re.compile(r"<([!-;=?-~]{1,2000})>")


def normalize_msgid(value: Any) -> str | None:
    """``" <abc@x> "`` -> ``"abc@x"``; None when missing or empty."""
    if value is None:
        return None
    if type(value) is str:
        m = _PLAIN_MSGID.fullmatch(value)
        if m:
            return m.group(1)
    try:
        s = clean_line(str(value))
        m = _ANGLE_ID.search(s)
        if m:
            s = m.group(1)
        else:
            s = s.split()[0] if s.split() else ""
        s = _WS.sub("", s).strip("<>")
        return s or None
    except Exception:
        return None


def _msgid_list(value: str) -> tuple[str, ...]:
    s = clean_line(value)
    ids = [_WS.sub("", m) for m in _ANGLE_ID.findall(s)]
    if not ids:
        ids = [t.strip("<>") for t in s.replace(",", " ").split()]
    return tuple(i for i in ids if i)


# local@domain, or the bare local parts bounces come from
_PLAUSIBLE_ADDR = re.compile(r"[^@\s<>]+@[^@\s<>]+|mailer-daemon|postmaster")
# bounded repeats: a long run without "@" must not make this quadratic
_BARE_ADDR = re.compile(r"[^\s<>()\[\],;:\"'@]{1,64}@[^\s<>()\[\],;:\"'@]{1,255}")


_SIMPLE_ADDR = re.compile(
    r'\s*(?:"([^"\\<>]{0,200})"\s*|([A-Za-z0-9 .\'-]{0,200}?)\s*)?<([A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,255})>\s*'
    r'|\s*([A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,255})\s*'
)


def _simple_address(value: str) -> tuple[str, str] | None:
    """``Name <a@b>`` / ``a@b`` -> (name, lower-cased address); None for any other form.

    Cached, as the desk's own addresses and regular customers come again and again; but only short
    values, so hostile mail cannot fill the cache with huge strings."""
    return _simple_address_cached(value) if len(value) <= 300 else _match_simple_address(value)


@functools.lru_cache(maxsize=4096)
def _simple_address_cached(value: str) -> tuple[str, str] | None:
    return _match_simple_address(value)


def _match_simple_address(value: str) -> tuple[str, str] | None:
    m = _SIMPLE_ADDR.fullmatch(value)
    if not m:
        return None
    return (m.group(1) or m.group(2) or "").strip(), (m.group(3) or m.group(4)).lower()


def _addresses(values: Iterable[str]) -> list[tuple[str, str]]:
    """Header values -> [(display name, lower-cased address)]; never raises."""
    out: list[tuple[str, str]] = []
    vals = [v for v in values if v]
    if not vals:
        return out
    simple = [_simple_address(v) if type(v) is str else None for v in vals]
    if None not in simple:
        # Fast path for the common `Name <a@b>` / `a@b` forms; anything else goes to getaddresses.
        return simple  # type: ignore[return-value]
    try:
        pairs = email.utils.getaddresses(vals)
    except Exception:
        pairs = []
    for name, addr in pairs:
        addr = clean_line(addr or "").strip("<>").strip().lower().replace(" ", "")
        if not _PLAUSIBLE_ADDR.fullmatch(addr):
            continue
        out.append((name or "", addr))
    if not any("@" in a for _, a in out):
        # getaddresses gave up (or found only junk): pick out anything that looks like an address
        found = []
        for v in vals:
            if "@" not in v:
                continue
            for m in _BARE_ADDR.findall(clean_line(v)):
                found.append(("", m.strip(".").lower()))
        if found:
            return found
    return out


# The RFC 5322 form nearly every client writes: "Mon, 2 Mar 2026 10:00:00 +0000".
_PLAIN_DATE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?([0-9]{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"([1-9][0-9]{3}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-][0-9]{4})"
)
MONTHS = {"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10,
          "Nov": 11, "Dec": 12}


def _plain_date(value: str) -> datetime | None:
    """What parsedate_to_datetime() returns for a date in the plain form (it takes ~20 us to get there).
    Raises what it raises (ValueError) for impossible dates and offsets."""
    m = _PLAIN_DATE.fullmatch(value)
    if not m:
        return None
    day, month, year, hh, mm, ss, zone = m.groups()
    hhmm = int(zone)  # "-0130" -> -130
    # "-0000" is "zone unknown": a naive result, as from parsedate_to_datetime()
    tz = None if zone == "-0000" else fixed_zone(hhmm)
    return datetime(int(year), MONTHS[month], int(day), int(hh), int(mm), int(ss), tzinfo=tz)


@functools.lru_cache(maxsize=256)
def fixed_zone(hhmm: int) -> timezone:
    """-130 -> UTC-01:30. ValueError (not cached) for a day or more."""
    seconds = (abs(hhmm) // 100 * 3600 + abs(hhmm) % 100 * 60) * (-1 if hhmm < 0 else 1)
    return timezone(timedelta(seconds=seconds))


def _parse_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        value = clean_line(value)
        dt = _plain_date(value)
        if dt is None:
            dt = email.utils.parsedate_to_datetime(value)
    except Exception:
        return None
    if dt is None:
        return None
    try:
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    except Exception:
        return None


# --------------------------------------------------------------------------- headers


class _Headers:
    """Decoded view of one part's raw header list. Never raises. The lists it hands out are its own."""

    def __init__(self, msg: Message | None, notes: list[str], raw: list[tuple[str, str]] | None = None):
        # lower-cased name -> values in order: unfolded and decoded / without RFC 2047 decoding
        self.decoded: dict[str, list[str]] = {}
        self.undecoded: dict[str, list[str]] = {}
        self.raw: list[tuple[Any, Any]] = []  # as the parser stored them, for raw_first()
        self._raw_first: dict[str, Any] | None = None
        self._simple: dict[str, tuple[str, list[tuple[str, str]]] | None] = {}
        self.content_type: str | None = None  # set by _content_type()
        if raw is not None:
            self.raw = raw  # read by _read_plain(), as the parser would have stored them
        elif msg is not None:
            try:
                self.raw = list(msg.raw_items())
            except Exception:
                try:
                    self.raw = list(getattr(msg, "_headers", []))
                except Exception:
                    self.raw = []
        # _read_plain()'s names are printable ASCII without blanks: only their values need the test
        names_plain = raw is not None
        for name, value in self.raw[:_MAX_HEADERS]:
            if _plain_value(value) if names_plain else _plain_header(name, value):
                # what the general path below computes for plain ASCII, cheaply
                key = name.lower()
                decoded = undecoded = value
            else:
                try:
                    key = clean_line(_raw_to_str(name)).lower()
                except Exception:
                    continue
                if not key:
                    continue
                decoded = decode_header_value(value, notes)
                try:
                    undecoded = _FOLD.sub("", _raw_to_str(value))
                except Exception:
                    undecoded = ""
            self.decoded.setdefault(key, []).append(decoded)
            self.undecoded.setdefault(key, []).append(undecoded)
        if len(self.raw) > _MAX_HEADERS:
            notes.append(f"{len(self.raw)} header fields, only the first {_MAX_HEADERS} were read")

    def all(self, name: str) -> list[str]:
        return self.decoded.get(name) or []

    def raw_all(self, name: str) -> list[str]:
        return self.undecoded.get(name) or []

    def first(self, name: str) -> str | None:
        values = self.decoded.get(name)
        return values[0] if values else None

    def raw_first(self, name: str) -> Any:
        """The stored value Message.get(name) would parse: first match, names compared lower-cased."""
        if self._raw_first is None:
            self._raw_first = {}
            for k, v in self.raw:
                try:
                    self._raw_first.setdefault(k.lower(), v)
                except Exception:
                    continue
        return self._raw_first.get(name)

    def simple_params(self, name: str) -> tuple[str, list[tuple[str, str]]] | None:
        """Cached :func:`_simple_param_header` of the first ``name`` header ("content-type", ...)."""
        if name not in self._simple:
            self._simple[name] = _simple_param_header(self.raw_first(name))
        return self._simple[name]

    def mapping(self) -> Mapping[str, str]:
        return {k: clean_line(values[0]) for k, values in self.decoded.items()}


def _plain_header(name: Any, value: Any) -> bool:
    """True when decoding and cleaning leave name and value as they are: a printable ASCII name that
    clean_line() keeps, a _plain_value(). Most headers of most mail are like this."""
    return (
        type(name) is str
        and name.isascii()
        and name.isprintable()
        and name.strip() == name != ""
        and "  " not in name
        and _plain_value(value)
    )


# --------------------------------------------------------------------------- MIME helpers


def _param(header_value: str, name: str) -> str | None:
    """A parameter from a raw Content-Type / Content-Disposition value (RFC 2231 aware)."""
    try:
        msg = Message()  # compat32: string based and lenient
        msg["Content-Type"] = "x/x; " + header_value.split(";", 1)[1] if ";" in header_value else "x/x"
        v = msg.get_param(name, None)
        if v is None:
            return None
        v = email.utils.collapse_rfc2231_value(v, errors="replace")
        return str(v)
    except Exception:
        m = re.search(r"(?i)\b" + re.escape(name) + r"\*?\s*=\s*(\"[^\"]*\"|[^;\s]*)", header_value or "")
        return m.group(1).strip('"') if m else None


# --- fast path for the common shape of Content-Type / Content-Disposition
#
# policy.default parses a structured header again on every get() (tens of microseconds each), and
# get_content_type(), get_param() and get_filename() each do a get(). For a value of exactly the shape
# `type/subtype; name=token; name="quoted"` their answers can be read off the text; everything else
# (comments, RFC 2231 `name*=`, encoded words, backslashes, folding, non-ASCII ...) still goes to them.

_MIME_TOKEN = r"[A-Za-z0-9!#$&+.^_`{|}~-]+"  # RFC 2045 token without the RFC 2231 characters * ' %
# quoted-string content: printable ASCII except '"', backslash (escapes), "?" (encoded words) and
# "<" ">" (email.utils.unquote() strips those)
_MIME_QUOTED = r'"([\x20\x21\x23-\x3b\x3d\x40-\x5b\x5d-\x7e]*)"'
_MIME_PARAM = rf"[ \t]*;[ \t]*({_MIME_TOKEN})[ \t]*=[ \t]*(?:({_MIME_TOKEN})|{_MIME_QUOTED})"
_SIMPLE_MIME_VALUE = re.compile(rf"[ \t]*({_MIME_TOKEN}(?:/{_MIME_TOKEN})?)((?:{_MIME_PARAM})*)[ \t]*")
_MIME_PARAM_RE = re.compile(_MIME_PARAM)


def _simple_param_header(value: Any) -> tuple[str, list[tuple[str, str]]] | None:
    """``Text/Plain; Charset="utf-8"`` -> ``("text/plain", [("charset", "utf-8")])``; None unless the value
    has the simple shape above."""
    if type(value) is not str or not value.isascii():
        return None
    m = _SIMPLE_MIME_VALUE.fullmatch(value)
    if not m:
        return None
    params = [(p.group(1).lower(), p.group(2) if p.group(2) is not None else p.group(3))
              for p in _MIME_PARAM_RE.finditer(m.group(2))]
    return m.group(1).lower(), params


def _first_param(simple: tuple[str, list[tuple[str, str]]], name: str) -> str | None:
    """Message.get_param(name) for a simple header (name lower-cased)."""
    if simple[0] == name:
        return ""  # get_param() sees the leading type as a parameter without a value
    for k, v in simple[1]:
        if k == name:
            return v
    return None


def _content_type(part: Message, hdrs: _Headers) -> str:
    if hdrs.content_type is None:  # asked twice for the top level
        hdrs.content_type = _read_content_type(part, hdrs)
    return hdrs.content_type


def _read_content_type(part: Message, hdrs: _Headers) -> str:
    simple = hdrs.simple_params("content-type")
    if simple is not None:
        return simple[0] if "/" in simple[0] else "text/plain"  # get_content_type() rule
    try:
        # get_content_type() without the header is the default type; asking it would search the headers
        ct = part.get_default_type() if hdrs.raw_first("content-type") is None else part.get_content_type()
        if isinstance(ct, str) and "/" in ct:
            return ct.lower()
    except Exception:
        pass
    raw = hdrs.first("content-type")
    if raw:
        ct = raw.split(";", 1)[0].strip().lower()
        if re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", ct or ""):
            return ct
    return "text/plain"


def _charset(part: Message, hdrs: _Headers) -> str | None:
    simple = hdrs.simple_params("content-type")
    if simple is not None:
        return _first_param(simple, "charset")
    if hdrs.raw_first("content-type") is None and hdrs.first("content-type") is None:
        return None  # no Content-Type: neither way below can find a charset
    try:
        cs = part.get_param("charset", None)
        if cs is not None:
            cs = email.utils.collapse_rfc2231_value(cs, errors="replace")
            return str(cs)
    except Exception:
        pass
    raw = hdrs.first("content-type")
    return _param(raw, "charset") if raw else None


def _disposition(hdrs: _Headers) -> str:
    raw = hdrs.first("content-disposition") or ""
    return raw.split(";", 1)[0].strip().lower()


def _simple_filename(hdrs: _Headers) -> str | None:
    """get_filename() for simple headers, cleaned; None when _filename() has to work it out."""
    found: str | None = None
    # get_filename(): Content-Disposition's filename, else Content-Type's name
    for header, pname in (("content-disposition", "filename"), ("content-type", "name")):
        simple = hdrs.simple_params(header)
        if simple is None:
            if hdrs.raw_first(header) is not None:
                return None  # present but not simple
            continue
        if found is None:
            found = _first_param(simple, pname)
    if found is None:
        return ""
    found = found.strip()
    # an empty name sends _filename() down its compat32 fallback
    return clean_line(found, _FILENAME_LIMIT) if found else None


def _filename(part: Message, hdrs: _Headers, notes: list[str]) -> str:
    fast = _simple_filename(hdrs)
    if fast is not None:
        return fast
    name = None
    try:
        name = part.get_filename(None)
    except Exception:
        name = None
    if not name:
        for header, pname in (("content-disposition", "filename"), ("content-type", "name")):
            raw = hdrs.first(header)
            if raw:
                name = _param(raw, pname)
                if name:
                    break
    if not name:
        return ""
    name = str(name)
    if "=?" in name:
        name = decode_header_value(name, notes)
    elif not name.isascii():
        name = _raw_to_str(name)
    return clean_line(name, _FILENAME_LIMIT)


def _cte(hdrs: _Headers) -> str:
    return (hdrs.first("content-transfer-encoding") or "").strip().lower()


_PLAIN_CTE = re.compile(r"[A-Za-z0-9._+-]+")
# left to get_payload(): base64 (its decoder records defects on the part) and uuencode
_DECODED_BY_GET_PAYLOAD = ("base64", "x-uuencode", "uuencode", "uue", "x-uue")


def _simple_cte(hdrs: _Headers) -> str | None:
    """The lower-cased Content-Transfer-Encoding ("" when absent) when it is identity or quoted-printable
    in a plain spelling, which get_payload(decode=True) undoes as _undo_simple_cte() does; else None."""
    cte = hdrs.raw_first("content-transfer-encoding")
    if cte is None:
        return ""
    if type(cte) is not str or not _PLAIN_CTE.fullmatch(cte) or cte.lower() in _DECODED_BY_GET_PAYLOAD:
        return None
    return cte.lower()


def _undo_simple_cte(cte: str, data: bytes) -> bytes:
    return quopri.decodestring(data) if cte == "quoted-printable" else data


def _payload_fast(part: Message, hdrs: _Headers) -> bytes | None:
    """``part.get_payload(decode=True)`` for a text payload in an identity or quoted-printable encoding,
    without get_payload() parsing Content-Transfer-Encoding again; None when get_payload() must decide."""
    try:
        cte = _simple_cte(hdrs)
        payload = part._payload  # get_payload() would parse the header we just read
        if cte is None or type(payload) is not str:
            return None
        # as get_payload(): the parser keeps undecodable bytes as surrogate escapes
        data = payload.encode("ascii") if payload.isascii() else payload.encode("ascii", "surrogateescape")
        return _undo_simple_cte(cte, data)
    except Exception:
        return None


def _payload_bytes(part: Message, hdrs: _Headers, notes: list[str]) -> bytes:
    """Decoded payload of a non-multipart part. Never raises."""
    fast = _payload_fast(part, hdrs)
    if fast is not None:
        return fast
    try:
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            return data
    except Exception:
        pass
    # manual fallback
    try:
        payload = part.get_payload()
    except Exception:
        payload = getattr(part, "_payload", "")
    if isinstance(payload, list):
        return b""
    if isinstance(payload, bytes):
        raw = payload
    else:
        try:
            raw = str(payload).encode("ascii", "surrogateescape")
        except Exception:
            raw = str(payload).encode("utf-8", "replace")
    cte = _cte(hdrs)
    try:
        if cte == "base64":
            cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", raw)
            cleaned = cleaned[: len(cleaned) - len(cleaned) % 4]
            return binascii.a2b_base64(cleaned)
        if cte == "quoted-printable":
            return quopri.decodestring(raw)
    except Exception:
        notes.append(f"could not undo {cte} transfer encoding, showing it raw")
    return raw


def _html_to_text(markup: str, notes: list[str]) -> str:
    markup = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", markup)
    if not markup.strip():
        return ""
    try:
        from inscriptis import get_text

        return get_text(markup)
    except Exception as exc:
        notes.append(f"HTML could not be converted cleanly ({type(exc).__name__}), tags stripped")
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", markup)
    text = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</tr\s*>|</h[1-6]\s*>", "\n", text)
    text = re.sub(r"<[^>]*>", " ", text)
    return html_lib.unescape(text)


def _defect_text(defect: Any) -> str:
    try:
        name = type(defect).__name__
        detail = str(defect).strip()
        doc = (type(defect).__doc__ or "").strip().splitlines()
        doc_line = doc[0].strip() if doc else ""
        text = detail or doc_line or name
        if text == name:
            return name
        return f"{text} ({name})"
    except Exception:
        return "unknown parser defect"


# --------------------------------------------------------------------------- extraction


class _Ctx:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.attachments: list[Attachment] = []
        self.original_ids: list[str] = []
        self.parts_seen = 0
        self.truncated_walk = False

    def defects_of(self, part: Any) -> None:
        try:
            for d in list(getattr(part, "defects", []) or [])[:_MAX_DEFECTS]:
                self.notes.append(_defect_text(d))
        except Exception:
            pass


_NON_BODY_TYPES = (
    "message/delivery-status",
    "message/disposition-notification",
    "message/feedback-report",
    "text/rfc822-headers",
)


def _children(part: Message) -> list[Any] | None:
    """Sub-parts if the payload is a list, else None."""
    try:
        if not part.is_multipart():
            return None  # (get_payload() of a leaf would parse Content-Transfer-Encoding for nothing)
        payload = part.get_payload()
    except Exception:
        payload = getattr(part, "_payload", None)
    if isinstance(payload, list):
        return payload
    return None


def _extract(part: Any, depth: int, ctx: _Ctx, inner_headers: _Headers | None = None) -> list[tuple[str, str]]:
    """Text pieces of ``part`` as [(kind, text)] with kind "plain" or "html". Records attachments."""
    if not isinstance(part, Message):
        return []
    ctx.parts_seen += 1
    if ctx.parts_seen > _MAX_PARTS or depth > _MAX_DEPTH:
        ctx.truncated_walk = True
        return []
    try:
        return _extract_part(part, depth, ctx, inner_headers)
    finally:
        # after decoding, so payload defects (bad base64 ...) are included
        ctx.defects_of(part)


def _extract_part(part: Message, depth: int, ctx: _Ctx, inner_headers: _Headers | None) -> list[tuple[str, str]]:
    hdrs = inner_headers or _Headers(part, ctx.notes)
    ctype = _content_type(part, hdrs)
    maintype = ctype.split("/", 1)[0]
    children = _children(part)

    if ctype == "message/rfc822" or (maintype == "message" and children and ctype not in _NON_BODY_TYPES):
        inner = children[0] if children else None
        size = 0
        if isinstance(inner, Message):
            try:
                size = len(inner.as_bytes(policy=email_policy.compat32))
            except Exception:
                try:
                    size = len(str(inner).encode("utf-8", "replace"))
                except Exception:
                    size = 0
        ctx.attachments.append(
            Attachment(_filename(part, hdrs, ctx.notes) or "", ctype if "/" in ctype else "message/rfc822", size)
        )
        if not isinstance(inner, Message):
            return []
        ih = _Headers(inner, ctx.notes)
        mid = normalize_msgid(ih.first("message-id"))
        if mid:
            ctx.original_ids.append(mid)
        inner_text = _extract(inner, depth + 1, ctx, ih)
        if not inner_text:
            return []
        head = ["---------- attached message ----------"]
        for label, key in (("From", "from"), ("Date", "date"), ("Subject", "subject")):
            v = ih.first(key)
            if v:
                head.append(f"{label}: {clean_line(v)}")
        return [("plain", "\n".join(head))] + inner_text

    if ctype == "text/rfc822-headers":
        data = _payload_bytes(part, hdrs, ctx.notes)
        m = re.search(rb"(?im)^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", data)
        if m:
            mid = normalize_msgid(decode_bytes(m.group(1)))
            if mid:
                ctx.original_ids.append(mid)
        return []

    if children is not None:
        results = [(_extract(c, depth + 1, ctx)) for c in children]
        if ctype == "multipart/alternative":
            for r in results:
                if any(kind == "plain" and text.strip() for kind, text in r):
                    return r
            for r in results:
                if any(text.strip() for _, text in r):
                    return r
            return []
        out: list[tuple[str, str]] = []
        for r in results:
            out.extend(r)
        return out

    if ctype in _NON_BODY_TYPES or maintype == "message":
        return []

    disposition = _disposition(hdrs)
    filename = _filename(part, hdrs, ctx.notes)
    is_text = ctype in ("text/plain", "text/html") or (maintype == "multipart")  # multipart w/o parts
    if disposition == "attachment" or (filename and disposition != "inline") or not is_text:
        data = _payload_bytes(part, hdrs, ctx.notes)
        ctx.attachments.append(Attachment(filename, ctype, len(data)))
        return []

    data = _payload_bytes(part, hdrs, ctx.notes)
    text = decode_bytes(data, _charset(part, hdrs), ctx.notes, ctype)
    if maintype == "multipart":
        ctx.notes.append(f"{ctype} part has no readable sub-parts; showing its raw content")
        return [("plain", text)]
    return [("html" if ctype == "text/html" else "plain", text)]


# --------------------------------------------------------------------------- plain messages
#
# Much of the mail that monitoring systems, scripts and plain-text clients send has no MIME
# structure: one-line "Name: value" header fields, a blank line, a text body. For that shape email's parser stores each
# field as (name, value without the blank after the colon), takes the rest as the payload and records
# no defect; _read_plain() reads it the same way in a fraction of the time. Anything else (folded or
# unusual header lines, bare CR or LF in the header, any Content-Type but plain text, a
# Content-Disposition, base64 ...) goes through the parser.

# headerRE's field name, a colon, the value; every line of the header block, each ended by CRLF
_PLAIN_HEAD = re.compile(r"(?:[!-9;-~]+:[^\r\n]*\r\n)+")
_PLAIN_FIELD = re.compile(r"([!-9;-~]+):[ \t]*([^\r\n]*)\r\n")


def _read_plain(raw: bytes, notes: list[str]) -> tuple[_Headers, list[tuple[str, str]]] | None:
    """The headers and text of a plain message, as _parse() would find them through email's parser;
    None for any other message."""
    end = raw.find(b"\r\n\r\n")
    if end <= 0:
        return None
    head = raw[:end + 2].decode("ascii", "surrogateescape")
    if not _PLAIN_HEAD.fullmatch(head):
        return None  # a continuation line, "From ", a bare CR or LF (the parser splits lines there too) ...
    pairs = _PLAIN_FIELD.findall(head)
    h = _Headers(None, notes, raw=pairs)
    simple = h.simple_params("content-type")
    if (simple is None and h.raw_first("content-type") is not None) or (simple and simple[0] != "text/plain"):
        return None
    if h.raw_first("content-disposition") is not None or _simple_filename(h) != "":
        return None
    cte = _simple_cte(h)
    if cte is None:
        return None
    h.content_type = "text/plain"
    charset = _first_param(simple, "charset") if simple else None  # what _charset() reads
    return h, [("plain", decode_bytes(_undo_simple_cte(cte, raw[end + 4:]), charset, notes, "text/plain"))]


# --------------------------------------------------------------------------- bounces

_BOUNCE_SUBJECT = re.compile(
    r"(?i)undeliver|delivery (status|failure|has failed)|failure notice|returned mail|mail delivery (failed|system)|"
    r"non[- ]?delivery|could not be delivered|delivery notification"
)
_BODY_MSGID = re.compile(r"(?im)^[ \t>]{0,20}message-id:[ \t]{0,20}<([^<>\s]{1,2000})>")


def _looks_like_bounce(h: _Headers, top_type: str, from_addr: str) -> bool:
    local = from_addr.split("@", 1)[0]
    if local in ("mailer-daemon", "postmaster"):
        return True
    if (h.first("return-path") or "").replace(" ", "") == "<>":
        return True
    if top_type == "multipart/report":
        return True
    return bool(_BOUNCE_SUBJECT.search(h.first("subject") or ""))


# --------------------------------------------------------------------------- entry point


def _header_block(raw: bytes, limit: int) -> bytes:
    head = raw[:limit]
    m = re.search(rb"\r?\n\r?\n|\r\r", head)
    if m:
        return head[: m.end()]
    return head


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for i in items:
        if i and i not in seen:
            seen[i] = None
    return tuple(seen)


def parse_message(raw: bytes, max_size: int = DEFAULT_MAX_SIZE) -> ParsedMail:
    """Parse one raw message. Never raises; see the module docstring and :class:`ParsedMail`.

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
        return _parse(raw, max_size)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return _fallback(raw, max_size, f"parser failed: {type(exc).__name__}")


def _as_bytes(raw: Any) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, (bytearray, memoryview)):
        return bytes(raw)
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    if raw is None:
        return b""
    return bytes(raw)


def _safe_max(max_size: Any) -> int:
    try:
        return int(max_size)
    except Exception:
        return DEFAULT_MAX_SIZE


def _parse(raw: bytes, max_size: int) -> ParsedMail:
    max_size = _safe_max(max_size)
    size = len(raw)
    oversize = size > max_size
    ctx = _Ctx()

    plain = None if oversize else _read_plain(raw, ctx.notes)
    if plain is not None:
        h, pieces = plain
        top_type = h.content_type
    else:
        if oversize:
            block = _header_block(raw, max(0, min(max(max_size, 64 * 1024), _HEADER_SCAN_LIMIT)))
            msg = BytesParser(policy=_POLICY).parsebytes(block, headersonly=True)
            ctx.notes.append(f"message is {size} bytes, over the {max_size}-byte limit: only its headers were parsed")
        else:
            msg = BytesParser(policy=_POLICY).parsebytes(raw)
        h = _Headers(msg, ctx.notes)

        top_type = _content_type(msg, h)
        if oversize:
            pieces = []
            ctx.defects_of(msg)  # (_extract() records them for a whole message)
        else:
            pieces = _extract(msg, 0, ctx, h)
            if ctx.truncated_walk:
                ctx.notes.append("MIME structure too deep or too large; only part of it was read")

    texts: list[str] = []
    for kind, text in pieces:
        if kind == "html":
            text = _html_to_text(text, ctx.notes)
        if text.strip():
            texts.append(text.strip("\r\n"))
    body_text = clean_block("\n\n".join(texts))

    from_pairs = _addresses(h.raw_all("from")) or _addresses(h.raw_all("sender"))
    from_name, from_addr = from_pairs[0] if from_pairs else ("", "")
    from_name = clean_line(decode_header_value(from_name, ctx.notes)) if from_name else ""

    rcpt_values: list[str] = []
    for key in ("to", "cc", "delivered-to", "x-original-to"):
        rcpt_values.extend(h.raw_all(key))
    recipients = _dedupe(a for _, a in _addresses(rcpt_values))

    refs: list[str] = []
    for v in h.all("references"):
        refs.extend(_msgid_list(v))

    original: str | None = None
    if _looks_like_bounce(h, top_type, from_addr):
        if ctx.original_ids:
            original = ctx.original_ids[0]
        else:
            m = _BODY_MSGID.search(body_text)
            if m:
                original = m.group(1)
        own = normalize_msgid(h.first("message-id"))
        if original and original == own:
            original = None

    unparseable = not h.decoded
    if unparseable and not oversize and not body_text:
        body_text = clean_block(decode_bytes(raw[:max_size]))
    if unparseable:
        ctx.notes.append("no header fields found: this does not look like an e-mail message")

    return ParsedMail(
        message_id=normalize_msgid(h.first("message-id")),
        in_reply_to=normalize_msgid(h.first("in-reply-to")),
        references=_dedupe(refs),
        subject=clean_line(h.first("subject") or ""),
        from_addr=from_addr,
        from_name=from_name,
        recipients=recipients,
        date=_parse_date(h.first("date") or ""),
        body_text=body_text,
        attachments=tuple(ctx.attachments),
        defects=_dedupe(clean_line(n, 500) for n in ctx.notes)[:_MAX_DEFECTS] if ctx.notes else (),
        headers=h.mapping(),
        original_message_id=original,
        size=size,
        oversize=oversize,
        unparseable=unparseable,
    )


def _fallback(raw: bytes, max_size: Any, note: str) -> ParsedMail:
    """Last resort when parsing blew up: headers by the lenient compat32 parser if possible."""
    notes = [note]
    size = len(raw) if isinstance(raw, bytes) else 0
    max_size = _safe_max(max_size)
    headers: _Headers | None = None
    try:
        from email.parser import BytesHeaderParser

        msg = BytesHeaderParser(policy=email_policy.compat32).parsebytes(_header_block(raw, _HEADER_SCAN_LIMIT))
        headers = _Headers(msg, notes)
    except BaseException:  # noqa: BLE001
        headers = None
    body = ""
    try:
        if size <= max_size:
            body = clean_block(decode_bytes(raw))
    except BaseException:  # noqa: BLE001
        body = ""
    try:
        h = headers if headers is not None else _Headers(None, notes)
        from_pairs = _addresses(h.raw_all("from"))
        return ParsedMail(
            message_id=normalize_msgid(h.first("message-id")),
            in_reply_to=normalize_msgid(h.first("in-reply-to")),
            references=(),
            subject=clean_line(h.first("subject") or ""),
            from_addr=from_pairs[0][1] if from_pairs else "",
            from_name="",
            recipients=_dedupe(a for _, a in _addresses(h.raw_all("to") + h.raw_all("cc"))),
            date=_parse_date(h.first("date") or ""),
            body_text=body,
            attachments=(),
            defects=tuple(notes),
            headers=h.mapping(),
            original_message_id=None,
            size=size,
            oversize=size > max_size,
            unparseable=True,
        )
    except BaseException:  # noqa: BLE001
        return ParsedMail(
            message_id=None, in_reply_to=None, references=(), subject="", from_addr="", from_name="",
            recipients=(), date=None, body_text="", attachments=(), defects=tuple(notes),
            headers={}, original_message_id=None, size=size, oversize=size > max_size,
            unparseable=True,
        )
