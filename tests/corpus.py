"""A corpus of bad, odd and hostile mail for the intake parser.

``corpus()`` returns ``[(name, raw_bytes)]``: the handwritten cases below plus deterministic mutations
of each (truncation, flipped bytes, deleted lines, duplicated headers, NUL bytes, line-ending swaps).
Names are unique. ``handwritten()`` returns only the handwritten cases, ``by_name()`` a dict of them.
"""

from __future__ import annotations

import random
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP

__all__ = ["SMALL_CAP", "by_name", "corpus", "handwritten", "mutate"]

SMALL_CAP = 64 * 1024

ANSI_SUBJECT = "Printer \x1b[31mON FIRE\x1b[0m \x1b]0;pwned title\x07now"
BIDI_SUBJECT = "invoice \u202egnp.exe\u202c attached"
MARKUP_SUBJECT = "[bold red]x[/] and [@click=app.quit]quit[/]"


def _b(text: str) -> bytes:
    """Literal message text with LF line endings -> CRLF bytes (latin-1 so \\xNN stays a byte)."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("latin-1")


def _hdr(subject: str = "Hello", msgid: str | None = "<m1@example.org>", to: str = "support@example.com",
         frm: str = "Alice Customer <alice@customer.example>", extra: str = "") -> str:
    h = f"From: {frm}\nTo: {to}\nSubject: {subject}\nDate: Tue, 02 Jan 2024 09:30:00 -0700\n"
    if msgid:
        h += f"Message-ID: {msgid}\n"
    return h + extra


def _freeze(m) -> bytes:
    """Serialise with fixed MIME boundaries, so the corpus is byte-for-byte deterministic."""
    for i, part in enumerate(m.walk()):
        if part.is_multipart():
            part.set_boundary(f"=_corpus_boundary_{i}_=")
    return m.as_bytes(policy=SMTP)


def _msg(subject: str, body: str, **kw) -> EmailMessage:
    m = EmailMessage()
    m["From"] = kw.get("frm", "Alice Customer <alice@customer.example>")
    m["To"] = kw.get("to", "support@example.com")
    m["Subject"] = subject
    m["Date"] = "Tue, 02 Jan 2024 09:30:00 -0700"
    if kw.get("msgid", True):
        m["Message-ID"] = kw.get("msgid_value", "<built@example.org>")
    m.set_content(body)
    return m


def _broken_boundary() -> bytes:
    return _b(_hdr("broken boundary", "<broken@example.org>") + """MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XYZ-declared"

This is a multipart message.
--ABC-actual
Content-Type: text/plain

The boundary above is not the declared one; my server is down.
--ABC-actual--
""")


def _missing_end_boundary() -> bytes:
    return _b(_hdr("no closing boundary", "<noclose@example.org>") + """MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="B1"

--B1
Content-Type: text/plain; charset=us-ascii

first part text
--B1
Content-Type: application/octet-stream; name="cut.bin"
Content-Transfer-Encoding: base64

AAECAwQF
""")


def _unknown_charset() -> bytes:
    return _b(_hdr("unknown charset", "<unk@example.org>") + """MIME-Version: 1.0
Content-Type: text/plain; charset="x-unknown-foo"
Content-Transfer-Encoding: 8bit

Our mail server r\xe9jects everything.
""")


def _wrong_charset() -> bytes:
    return _b(_hdr("wrong charset", "<wrong@example.org>") + """MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Caf\xe9 cr\xe8me: the r\xe9sum\xe9 upload fails.
""")


def _raw_8bit_headers() -> bytes:
    return (
        b"From: J\xc3\xb6rg M\xc3\xbcller <joerg@example.de>\r\n"
        b"To: support@example.com\r\n"
        b"Subject: Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\n"
        b"X-Latin1: caf\xe9\r\n"
        b"Message-ID: <8bit@example.de>\r\n"
        b"\r\n"
        b"Hallo, unser Server ist kaputt.\r\n"
    )


def _latin1_header() -> bytes:
    return (
        b"From: Ren\xe9 <rene@example.fr>\r\n"
        b"To: support@example.com\r\n"
        b"Subject: Probl\xe8me r\xe9seau\r\n"
        b"\r\n"
        b"Le r\xe9seau est en panne.\r\n"
    )


def _no_message_id() -> bytes:
    return _b(_hdr("no message id", None) + "\nThere is no Message-ID on this one.\n")


def _reused_a() -> bytes:
    return _b(_hdr("first use of an id", "<reused@example.org>") + "\nThe first message with this id.\n")


def _reused_b() -> bytes:
    return _b(_hdr("second use of an id", "<reused@example.org>") + "\nA different message, same id.\n")


def _same() -> bytes:
    return _b(_hdr("the same message twice", "<twice@example.org>") + "\nDelivered twice.\n")


def _html_only() -> bytes:
    m = EmailMessage()
    m["From"] = "Html Sender <html@example.com>"
    m["To"] = "support@example.com"
    m["Subject"] = "html only"
    m["Message-ID"] = "<html@example.org>"
    m.set_content(
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head>"
        "<body><h1>Server outage</h1><p>Our <b>webserver</b> returns errors &amp; timeouts.</p>"
        "<ul><li>first item</li><li>second item</li></ul></body></html>",
        subtype="html",
    )
    return _freeze(m)


def _alternative_with_attachment() -> bytes:
    m = EmailMessage()
    m["From"] = "Bob <bob@example.com>"
    m["To"] = "support@example.com"
    m["Cc"] = "Carol <Carol@Example.com>"
    m["Subject"] = "alternative plus attachment"
    m["Message-ID"] = "<alt@example.org>"
    m.set_content("Plain text wins: the backup job failed.")
    m.add_alternative("<p>HTML loses: <b>the backup job failed</b>.</p>", subtype="html")
    m.add_attachment(b"\x00\x01\x02" * 100, maintype="application", subtype="octet-stream", filename="dump.bin")
    m.add_attachment("log line 1\nlog line 2\n", filename="server.log")
    return _freeze(m)


def _empty_body() -> bytes:
    return _b(_hdr("empty body", "<empty@example.org>") + "\n")


def _header_only() -> bytes:
    return _b(_hdr("header only", "<hdronly@example.org>")).rstrip(b"\r\n") + b"\r\n"


def _nested_rfc822() -> bytes:
    inner = _msg("inner subject", "Inner text: the DNS zone is broken.", msgid_value="<inner@example.org>")
    outer = EmailMessage()
    outer["From"] = "Forwarder <fwd@example.com>"
    outer["To"] = "support@example.com"
    outer["Subject"] = "Fwd: inner subject"
    outer["Message-ID"] = "<outer@example.org>"
    outer.set_content("See the attached message.")
    outer.add_attachment(inner)
    return _freeze(outer)


def _oversize() -> bytes:
    m = EmailMessage()
    m["From"] = "Big Sender <big@example.com>"
    m["To"] = "support@example.com"
    m["Subject"] = "huge attachment"
    m["Message-ID"] = "<big@example.org>"
    m.set_content("A large attachment follows.")
    rng = random.Random(1234)
    m.add_attachment(rng.randbytes(3 * SMALL_CAP), maintype="application", subtype="octet-stream",
                     filename="big.bin")
    return _freeze(m)


def _markup_subject() -> bytes:
    return _b(_hdr(MARKUP_SUBJECT, "<markup@example.org>") + "\n[red]body markup[/red] [@click=app.quit]x[/]\n")


def _ansi() -> bytes:
    return (
        _b(_hdr(ANSI_SUBJECT, "<ansi@example.org>")).replace(b"\r\n", b"\r\n")
        + b"\r\nline one \x1b[1;31mbold red\x1b[0m end\r\n\x1b]0;evil title\x07after osc\r\n"
        + b"clear \x1b[2J\x1b[H screen\r\n"
    )


def _bidi() -> bytes:
    m = _msg(BIDI_SUBJECT, "Please open \u202etxt.exe\u202c and \u2066isolated\u2069 text.",
             msgid_value="<bidi@example.org>")
    return _freeze(m)


def _bounce() -> bytes:
    return _b("""From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: support@example.com
Subject: Undelivered Mail Returned to Sender
Date: Tue, 02 Jan 2024 10:00:00 +0000
Message-ID: <bounce-1@mx.example.com>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BND"

--BND
Content-Type: text/plain; charset=us-ascii

This is the mail system. Your message could not be delivered.

--BND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
Final-Recipient: rfc822; nobody@customer.example
Action: failed
Status: 5.1.1

--BND
Content-Type: message/rfc822

From: support@example.com
To: nobody@customer.example
Subject: Re: [#42] your ticket
Message-ID: <orig-42@example.com>

Our reply.
--BND--
""")


def _bounce_headers_only() -> bytes:
    return _b("""From: postmaster@mx.example.net
To: support@example.com
Subject: Delivery Status Notification (Failure)
Message-ID: <dsn-2@mx.example.net>
Content-Type: multipart/report; report-type=delivery-status; boundary="R"

--R
Content-Type: text/plain

Delivery failed.
--R
Content-Type: text/rfc822-headers

From: support@example.com
Message-ID:
 <orig-43@example.com>
Subject: Re: [#43]
--R--
""")


def _autoreply() -> bytes:
    return _b(_hdr("Out of office: Re: your ticket", "<ooo@example.org>",
                   extra="Auto-Submitted: auto-replied\nX-Autoreply: yes\nPrecedence: bulk\n")
              + "\nI am out of the office until Monday.\n")


def _callme() -> bytes:
    return _b(_hdr("Please call me", "<callme@example.org>")
              + "\nHi,\n\nI have a problem, please call me at 555-1212 to talk about it.\n\nThanks,\nBob\n")


def _garbage() -> bytes:
    return random.Random(42).randbytes(2048)


def _nul_bytes() -> bytes:
    return _b(_hdr("nul\x00in subject", "<nul@example.org>")) + b"\r\nbody\x00with\x00nuls\r\n\x00\x00\r\n"


def _lf_only() -> bytes:
    return _b(_hdr("bare LF line endings", "<lf@example.org>") + "\nline one\nline two\n").replace(b"\r\n", b"\n")


def _cr_only() -> bytes:
    return _b(_hdr("bare CR line endings", "<cr@example.org>") + "\nline one\nline two\n").replace(b"\r\n", b"\r")


def _mixed_endings() -> bytes:
    return (b"From: a@example.com\nTo: support@example.com\r\nSubject: mixed endings\r\n\n"
            b"line one\r\nline two\rline three\n")


def _bad_base64() -> bytes:
    return _b(_hdr("bad base64", "<b64@example.org>") + """MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

SGVsbG8gd29ybGQ!!!*** not base64 at all ===
""")


def _bad_encoded_words() -> bytes:
    return _b(_hdr("=?utf-8?B?not*base64?= =?nosuch?Q?abc?= =?utf-8?q?ok=C3=A9?=", "<ew@example.org>",
                   frm="=?utf-8?q?Doe=2C_John?= <john@example.org>")
              + "\nbody\n")


def _bad_date_and_addresses() -> bytes:
    return _b("""From: <<<@@@>>>, "unterminated
To: undisclosed-recipients:;
Cc: "Weird, Name" <Weird@Example.ORG>, plain@EXAMPLE.org
Delivered-To: Urgent@Example.com
X-Original-To: support@example.com
Date: Yesterday at noon, probably
In-Reply-To: <parent@example.org> (comment)
References: <r1@example.org>
 <r2@example.org>	<parent@example.org>
Message-ID: no-angle-brackets@example.org
Subject: bad date

body
""")


def _long_header() -> bytes:
    return _b(_hdr("x" * 20000, "<long@example.org>", extra="X-Long: " + "y " * 5000 + "\n") + "\nbody\n")


def _deep_nesting() -> bytes:
    depth = 60
    parts = [_hdr("deeply nested", "<deep@example.org>") + "MIME-Version: 1.0\n"]
    for i in range(depth):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n')
    parts.append("Content-Type: text/plain\n\ndeep text\n")
    for i in reversed(range(depth)):
        parts.append(f"--b{i}--\n")
    return _b("".join(parts))


def _multipart_builtin() -> bytes:
    m = MIMEMultipart()
    m["From"] = "Legacy <legacy@example.com>"
    m["To"] = "support@example.com"
    m["Subject"] = "legacy mime"
    m.attach(MIMEText("Legacy body text.", "plain", "iso-8859-1"))
    att = MIMEApplication(b"%PDF-1.4 fake", Name="report.pdf")
    att["Content-Disposition"] = "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf"
    m.attach(att)
    return _freeze(m).replace(b"\r\n", b"\n")  # legacy API, LF endings


def handwritten() -> list[tuple[str, bytes]]:
    entries = [
        ("broken-boundary", _broken_boundary()),
        ("missing-end-boundary", _missing_end_boundary()),
        ("unknown-charset", _unknown_charset()),
        ("wrong-charset", _wrong_charset()),
        ("raw-8bit-headers", _raw_8bit_headers()),
        ("latin1-headers", _latin1_header()),
        ("no-message-id", _no_message_id()),
        ("reused-msgid-a", _reused_a()),
        ("reused-msgid-b", _reused_b()),
        ("same-twice-a", _same()),
        ("same-twice-b", _same()),
        ("html-only", _html_only()),
        ("alternative-attachments", _alternative_with_attachment()),
        ("empty-body", _empty_body()),
        ("header-only", _header_only()),
        ("nested-rfc822", _nested_rfc822()),
        ("oversize", _oversize()),
        ("markup-subject", _markup_subject()),
        ("ansi-escapes", _ansi()),
        ("bidi-override", _bidi()),
        ("bounce-dsn", _bounce()),
        ("bounce-rfc822-headers", _bounce_headers_only()),
        ("autoreply", _autoreply()),
        ("callme-only", _callme()),
        ("garbage", _garbage()),
        ("empty-bytes", b""),
        ("nul-bytes", _nul_bytes()),
        ("crlf", _b(_hdr("CRLF line endings", "<crlf@example.org>") + "\nline one\nline two\n")),
        ("bare-lf", _lf_only()),
        ("bare-cr", _cr_only()),
        ("mixed-endings", _mixed_endings()),
        ("bad-base64", _bad_base64()),
        ("bad-encoded-words", _bad_encoded_words()),
        ("bad-date-addresses", _bad_date_and_addresses()),
        ("long-header", _long_header()),
        ("deep-nesting", _deep_nesting()),
        ("legacy-mime", _multipart_builtin()),
    ]
    names = [n for n, _ in entries]
    assert len(names) == len(set(names)), "corpus names must be unique"
    return entries


def by_name() -> dict[str, bytes]:
    return dict(handwritten())


# --------------------------------------------------------------------------- mutations


def _truncate(rng: random.Random, raw: bytes) -> bytes:
    return raw[: rng.randrange(len(raw))] if raw else raw


def _flip(rng: random.Random, raw: bytes) -> bytes:
    if not raw:
        return bytes([rng.randrange(256)])
    b = bytearray(raw)
    for _ in range(rng.randint(1, 16)):
        i = rng.randrange(len(b))
        b[i] = rng.randrange(256)
    return bytes(b)


def _delete_lines(rng: random.Random, raw: bytes) -> bytes:
    lines = raw.split(b"\n")
    for _ in range(min(len(lines) - 1, rng.randint(1, 4))):
        del lines[rng.randrange(len(lines))]
    return b"\n".join(lines)


def _dup_headers(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    nl = b"\r\n" if b"\r\n" in head else b"\n"
    lines = head.split(nl)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        lines.insert(rng.randrange(len(lines) + 1), lines[i])
    return nl.join(lines) + sep + body


def _insert_nuls(rng: random.Random, raw: bytes) -> bytes:
    b = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        b.insert(rng.randrange(len(b) + 1), 0)
    return bytes(b)


def _swap_endings(rng: random.Random, raw: bytes) -> bytes:
    return raw.replace(b"\r\n", rng.choice([b"\n", b"\r", b"\n\r"]))


def _splice(rng: random.Random, raw: bytes) -> bytes:
    """Repeat a random slice (e.g. a boundary line or a header) somewhere else."""
    if len(raw) < 2:
        return raw + raw
    i = rng.randrange(len(raw))
    j = min(len(raw), i + rng.randint(1, 200))
    k = rng.randrange(len(raw) + 1)
    return raw[:k] + raw[i:j] + raw[k:]


MUTATORS = {
    "truncate": _truncate,
    "flip": _flip,
    "dellines": _delete_lines,
    "duphdr": _dup_headers,
    "nul": _insert_nuls,
    "endings": _swap_endings,
    "splice": _splice,
}


def mutate(name: str, raw: bytes, index: int) -> tuple[str, bytes]:
    """The ``index``-th deterministic mutation of one entry."""
    rng = random.Random(f"{name}/{index}")
    op = rng.choice(sorted(MUTATORS))
    return f"{name}~{index}-{op}", MUTATORS[op](rng, raw)


def corpus(mutations_per_message: int = 3) -> list[tuple[str, bytes]]:
    """Handwritten cases plus ``mutations_per_message`` deterministic mutations of each."""
    base = handwritten()
    out = list(base)
    for name, raw in base:
        for i in range(mutations_per_message):
            out.append(mutate(name, raw, i))
    names = [n for n, _ in out]
    assert len(names) == len(set(names)), "corpus names must be unique"
    return out
