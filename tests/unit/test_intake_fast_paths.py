"""The shortcuts in parse / classify / callme / safe_text must give what the general code gives."""

import email.utils
import random
import re
from email import policy
from email.parser import BytesParser

import pytest

from console.intake import callme, classify
from console.intake import parse as P
from console.safe_text import _IGNORECASE_TO_ASCII, _lower_for_search, has_word_prefix
from tests.corpus import corpus

_WORD_CHAR = re.compile(r"\w")


def _chars():
    return (chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF)


def test_ignorecase_table_lists_every_non_ascii_letter_re_folds_to_ascii():
    ascii_letter = re.compile("[a-z]", re.IGNORECASE)
    found = {c: c for c in _chars() if not c.isascii() and ascii_letter.fullmatch(c)}
    assert {ord(c) for c in found} == set(_IGNORECASE_TO_ASCII)
    for c in found:
        assert re.fullmatch(_IGNORECASE_TO_ASCII[ord(c)], c, re.IGNORECASE)


def test_lowering_keeps_non_word_characters_non_word():
    # has_word_prefix() looks at the character before a word in the lower-cased text
    for c in _chars():
        if c.lower() == c and ord(c) not in _IGNORECASE_TO_ASCII:
            continue  # unchanged
        if not _WORD_CHAR.match(c):
            assert not _WORD_CHAR.match(_lower_for_search(c)[-1]), hex(ord(c))


@pytest.mark.parametrize("text, expected", [
    ("please call me", True), ("CALL me", True), ("(Ring) us", True), ("r\u0131ng me", True),
    ("R\u0130NG ME", True), ("\u00e9 tel", True), ("definitely", False), ("during", False),
    ("_call", False), ("9ring", False), ("", False), ("hotel", False), ("hot tel", True),
])
def test_has_word_prefix(text, expected):
    assert has_word_prefix(text, ("call", "phone", "ring", "tel", "buzz")) is expected


TEXTS = [
    "", "Please call me", "please CALL me at 555-1212", "r\u0131ng me", "R\u0130NG US back", "Can you ring?",
    "definitely broken", "the hotel wifi", "tell me more", "xcall me", "_call me", "\u00e9call me", "give us a buzz",
    "I need a callback", "call back", "call at 5", "Class II", "claſs ii", "CLA\u017fS 3", "subclass II", "[III]",
    "classic", "Hello,\n\nClass 2 please\n", "> Class III\nplain", "text\n-- \nClass III", "[ ii ] x",
    "Hi,\n\nI have a problem, please call me at 555-1212 to talk about it.\n\nThanks,\nBob",
    "On Mon, Bob wrote:\ncall me", "-----Original Message-----\nphone me", "caf\u00e9 \u2014 please phone us",
]


@pytest.mark.parametrize("subject", ["", "Re: call", "Class II", "r\u0131ng me", "hotel"])
def test_prechecks_do_not_change_results(monkeypatch, subject):
    fast = [(callme.needs_details(subject, t), classify.customer_mark(subject, t)) for t in TEXTS]
    monkeypatch.setattr(callme, "_mentions_call", lambda text: True)
    monkeypatch.setattr(classify, "_may_have_mark", lambda text: True)
    assert fast == [(callme.needs_details(subject, t), classify.customer_mark(subject, t)) for t in TEXTS]


MIME_VALUES = [
    "text/plain", "TEXT/Plain", 'text/plain; charset="utf-8"', "text/plain; charset=UTF-8; format=flowed",
    "text/plain;charset=utf-8", "text/plain ; charset = utf-8", "text/plain; charset=\"a;b\"", "text",
    "charset", "name", 'text/plain; charset=""', 'text/plain; charset=" utf-8 "', "text/plain; Charset=x; charset=y",
    'application/pdf; name="r.pdf"', "application/octet-stream; name=r.pdf", 'image/png; name="  p.png "',
    'multipart/mixed; boundary="=_b_="', 'text/plain; x="(c)"',
]
DISPOSITIONS = [None, "inline", "attachment", 'attachment; filename="r.pdf"', "attachment; filename=r.pdf",
                'attachment; filename=""', 'inline; filename="  spaced .txt "', "filename"]


def _part(ctype, disposition=None, cte=None, body="x"):
    head = f"Content-Type: {ctype}\r\n"
    if disposition is not None:
        head += f"Content-Disposition: {disposition}\r\n"
    if cte is not None:
        head += f"Content-Transfer-Encoding: {cte}\r\n"
    return BytesParser(policy=policy.default).parsebytes((head + "\r\n" + body).encode("utf-8"))


@pytest.mark.parametrize("disposition", DISPOSITIONS)
@pytest.mark.parametrize("ctype", MIME_VALUES)
def test_simple_mime_headers_read_like_policy_default(ctype, disposition):
    part = _part(ctype, disposition)
    hdrs = P._Headers(part, [])
    assert hdrs.simple_params("content-type") is not None  # these all take the shortcut
    assert P._content_type(part, hdrs) == part.get_content_type()
    charset = part.get_param("charset", None)
    expected = None if charset is None else str(email.utils.collapse_rfc2231_value(charset))
    assert P._charset(part, hdrs) == expected
    fast = P._simple_filename(hdrs)
    name = part.get_filename(None)
    if name:
        assert fast == P.clean_line(name, 255)
    else:
        assert fast in ("", None)  # None: the compat32 fallback decides


@pytest.mark.parametrize("ctype", ["text/plain; charset*=utf-8''utf-8", "text/plain (c)", 'text/plain; x="a\\"b"',
                                   "text/plain; charset==?utf-8?q?x?=", "text/pl\u00e4in", "text/plain;",
                                   "text/plain; x=(c)"])
def test_other_mime_headers_take_the_general_way(ctype):
    assert P._Headers(_part(ctype), []).simple_params("content-type") is None


@pytest.mark.parametrize("cte", [None, "7bit", "8bit", "binary", "quoted-printable", "Quoted-Printable", "x-token"])
def test_payload_shortcut_matches_get_payload(cte):
    part = BytesParser(policy=policy.default).parsebytes(
        (f"Content-Transfer-Encoding: {cte}\r\n" if cte else "").encode()
        + b"Content-Type: text/plain\r\n\r\ncaf\xc3\xa9 =C3=A9 soft=\r\nbreak \xff\r\n")
    fast = P._payload_fast(part, P._Headers(part, []))
    assert fast is not None and fast == part.get_payload(decode=True)


@pytest.mark.parametrize("cte", ["base64", "quoted-printable (c)", "8 bit", "8bit "])
def test_payload_shortcut_leaves_the_rest_to_get_payload(cte):
    part = _part("text/plain", cte=cte)
    assert P._payload_fast(part, P._Headers(part, [])) is None


@pytest.mark.parametrize("value", [
    "Mon, 02 Mar 2026 10:00:00 +0000", "2 Jan 2024 09:30:00 -0700", "Tue, 02 Jan 2024 09:30:00 -0000",
    "Thu, 29 Feb 2024 23:59:59 +2359", "Tue, 31 Feb 2024 09:30:00 +0000", "Tue, 02 Jan 2024 24:00:00 +0000",
    "Tue, 02 Jan 2024 09:30:60 +0000", "Tue, 02 Jan 2024 09:30:00 +2400", "Tue, 02 Jan 2024 09:30:00 +0099",
    "Sat, 01 Jan 1000 00:00:00 -0130",
])
def test_plain_date_matches_parsedate_to_datetime(value):
    try:
        expected = repr(email.utils.parsedate_to_datetime(value))
    except ValueError:
        expected = "ValueError"
    try:
        got = repr(P._plain_date(value))
    except ValueError:
        got = "ValueError"
    assert got == expected


@pytest.mark.parametrize("value", ["<a@b>", "<m1.x=y@host.example>", "<" + "x" * 2000 + ">", "<a b>", "<>", "<a<b>"])
def test_msgid_shortcut_matches_the_general_way(value):
    # a leading space keeps a value off the shortcut; the general way strips it
    assert P.normalize_msgid(value) == P.normalize_msgid(" " + value)


def test_headers_are_a_plain_dict():
    m = P.parse_message(b"Subject: hi\r\nX-A: 1\r\nx-a: 2\r\n\r\nbody")
    assert type(m.headers) is dict
    assert m.headers == {"subject": "hi", "x-a": "1"}


# --------------------------------------------------------------------------- plain messages without the parser

_PLAIN = (b"From: Customer 7 <cust7@customer.example>\r\nTo: support@example.com\r\nSubject: test 7\r\n"
          b"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\nMessage-ID: <m7@customer.example>\r\n\r\n"
          b"Hello,\r\n\r\nthe service is slow again.\r\n")
# Header lines and body pieces spliced into _PLAIN: each either keeps it plain or must send it to the parser.
_HEADER_BITS = [
    b"Content-Type: text/plain\r\n", b"Content-Type: text/plain; charset=utf-8\r\n", b"content-type: TEXT/Plain\r\n",
    b"Content-Type: text/plain; charset=\"iso-8859-1\"\r\n", b"Content-Type: text/plain; charset=bogus\r\n",
    b"Content-Type: text/plain; name=x.txt\r\n", b"Content-Type: text/html\r\n", b"Content-Type: text\r\n",
    b"Content-Type: multipart/mixed; boundary=b\r\n", b"Content-Type: text/plain; charset*=utf-8''x\r\n",
    b"Content-Type: message/rfc822\r\n", b"Content-Type: multipart/report; report-type=delivery-status\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n", b"Content-Transfer-Encoding: 8BIT\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"Content-Transfer-Encoding: 7bit \r\n",
    b"Content-Transfer-Encoding: x-uue\r\n", b"Content-Disposition: inline\r\n", b"Content-Disposition: attachment\r\n",
    b"X-Empty:\r\n", b"X-Blank: \t a \t \r\n", b"Subject: =?utf-8?q?caf=C3=A9?=\r\n", b"Subject: caf\xc3\xa9\r\n",
    b"Subject: \xe9t\xe9\r\n", b"Return-Path: <>\r\n",
    b"Auto-Submitted: auto-replied\r\n", b"Precedence: bulk\r\n", b" folded\r\n", b"\tfolded\r\n", b"From someone\r\n",
    b"NoColon\r\n", b": no name\r\n", b"Na me: v\r\n", b"X-Ctl: a\x01b\x0bc\x1bd\r\n", b"References: <a@b> <c@d>\r\n",
    b"Date: garbage\r\n", b"To: \"Desk\" <urgent@example.com>, support@example.com\r\n", b"X-Bare: a\rb\r\n",
    b"X-Bare: a\nb\r\n", b"X-Long: " + b"y" * 3000 + b"\r\n", b"\r\n",
]
_BODY_BITS = [b"caf\xc3\xa9", b"caf=C3=A9=\r\n", b"\xe9", b"\r", b"\n", b"\x00", b"\x1b[31m", b"--b\r\n",
              b"call me at 555-1212", b"Class III", b"Message-ID: <orig@x>\r\n", b"<p>html</p>"]


def _plain_variants(count: int):
    rng = random.Random(2026)
    for _ in range(count):
        raw = bytearray(_PLAIN)
        end = raw.find(b"\r\n\r\n") + 2  # after the last header line
        for _ in range(rng.randint(0, 3)):
            starts = [0] + [i + 2 for i in range(end - 2) if raw[i:i + 2] == b"\r\n"]
            bit = rng.choice(_HEADER_BITS)
            at = rng.choice(starts)
            raw[at:at] = bit
            end += len(bit)
        for _ in range(rng.randint(0, 2)):
            at = rng.randrange(end + 2, len(raw) + 1)
            raw[at:at] = rng.choice(_BODY_BITS)
        if rng.random() < 0.1:
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        yield bytes(raw)


def test_plain_messages_are_read_without_the_parser(monkeypatch):
    notes = []
    assert P._read_plain(_PLAIN, notes) is not None and notes == []

    class NoParser:
        def __init__(self, *a, **kw):
            raise AssertionError("email's parser was used")

    monkeypatch.setattr(P, "BytesParser", NoParser)
    m = P.parse_message(_PLAIN)  # parse_message() would fall back (unparseable) had it used the parser
    assert not m.unparseable and m.subject == "test 7" and m.body_text == "Hello,\n\nthe service is slow again."
    for raw in (_PLAIN.replace(b"\r\n", b"\n"), _PLAIN.replace(b"To:", b" To:"),
                _PLAIN.replace(b"\r\n\r\n", b"\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")):
        assert P._read_plain(raw, []) is None


def test_the_plain_reader_gives_what_the_parser_gives(monkeypatch):
    inputs = list(_plain_variants(1500)) + [raw for _, raw in corpus(2)]
    read_plain = P._read_plain
    plain = [bool(read_plain(raw, [])) for raw in inputs]
    assert sum(plain) > 600 and not all(plain)  # both ways are exercised
    for cap in (25 << 20, 300):  # 300: some are oversize, read by the parser whatever their shape
        fast = [P.parse_message(raw, cap) for raw in inputs]
        monkeypatch.setattr(P, "_read_plain", lambda raw, notes: None)
        general = [P.parse_message(raw, cap) for raw in inputs]
        monkeypatch.setattr(P, "_read_plain", read_plain)
        for raw, a, b in zip(inputs, fast, general, strict=True):
            assert a == b, raw
