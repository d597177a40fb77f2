from datetime import UTC, datetime

import pytest

from console.intake.parse import Attachment, ParsedMail, normalize_msgid, parse_message
from tests.corpus import (
    ANSI_SUBJECT,
    BIDI_SUBJECT,
    MARKUP_SUBJECT,
    SMALL_CAP,
    by_name,
    corpus,
)

CORPUS = corpus(mutations_per_message=3)
CASES = by_name()
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"


def parse(name: str, **kw) -> ParsedMail:
    return parse_message(CASES[name], **kw)


def _no_controls(s: str, allow_newline: bool) -> bool:
    for ch in s:
        o = ord(ch)
        if ch == "\n" and allow_newline:
            continue
        if o < 0x20 or 0x7F <= o <= 0x9F or ch in BIDI:
            return False
    return True


# ----------------------------------------------------------------------------- whole corpus


def test_corpus_shape():
    names = [n for n, _ in CORPUS]
    assert len(names) == len(set(names))
    assert all(isinstance(r, bytes) for _, r in CORPUS)
    assert len(CORPUS) == len(CASES) * 4
    assert corpus(3) == CORPUS  # deterministic
    assert len(CASES["oversize"]) > SMALL_CAP


@pytest.mark.parametrize("cap", [SMALL_CAP, 25 * 1024 * 1024])
@pytest.mark.parametrize("name, raw", CORPUS, ids=[n for n, _ in CORPUS])
def test_never_raises_and_is_sane(name, raw, cap):
    m = parse_message(raw, max_size=cap)
    assert isinstance(m, ParsedMail)
    assert m.size == len(raw)
    assert m.oversize == (len(raw) > cap)
    if m.oversize:
        assert m.body_text == ""
    for text in (m.subject, m.from_name, m.from_addr, *m.recipients, *m.headers.values()):
        assert isinstance(text, str) and _no_controls(text, allow_newline=False)
    assert _no_controls(m.body_text, allow_newline=True)
    assert m.from_addr == m.from_addr.lower()
    assert all(r == r.lower() for r in m.recipients)
    assert len(set(m.recipients)) == len(m.recipients)
    assert m.date is None or m.date.tzinfo is not None and m.date.utcoffset().total_seconds() == 0
    for mid in (m.message_id, m.in_reply_to, m.original_message_id, *m.references):
        assert mid is None or (mid and "<" not in mid and ">" not in mid and " " not in mid)
    assert all(isinstance(a, Attachment) and a.size >= 0 for a in m.attachments)
    assert all(isinstance(d, str) and d for d in m.defects)
    assert all(k == k.lower() for k in m.headers)


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00", b"\r\n", b"\n\n\n", b":", b": no name\r\n\r\n", b"From:\r\n\r\n", b"\xff" * 10,
     b"str input Subject: x", bytearray(b"Subject: ba\r\n\r\nx"), memoryview(b"Subject: mv\r\n\r\nx"),
     b"Subject: =?utf-8?b?" + b"A" * 1000 + b"?=\r\n\r\n", b"Content-Type: multipart/mixed\r\n\r\nno boundary",
     b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n\r\n--\r\n",
     b"Content-Type: text/plain; charset=\"\r\n\r\nx", b"Content-Type: text/plain; charset=rot13\r\n\r\nx",
     b"Content-Type: text/plain; charset=base64\r\n\r\nx", b"Content-Type: ////\r\n\r\nx",
     b"Content-Type: message/rfc822\r\n\r\n", b"Content-Transfer-Encoding: base64\r\n\r\n====",
     b"Date: Mon, 99 Foo 99999 99:99:99 +9999\r\n\r\n", b"Date: Mon, 1 Jan 0001 00:00:00 -2359\r\n\r\n",
     # pathological sizes: these must stay fast (no quadratic regexes)
     b"From: " + b"a" * 100000 + b"\r\n\r\n", b"To: " + b"a@b, " * 5000 + b"\r\n\r\n",
     b"References: " + b"<" * 100000 + b"\r\n\r\n", b"Subject: " + b"=?" * 50000 + b"\r\n\r\n",
     b"From: postmaster@x\r\nSubject: failure notice\r\n\r\n" + b"Message-ID: <" * 20000,
     b"Content-Type: text/html\r\n\r\n" + b"<script>" * 20000,
     b"Content-Type: text/plain\r\n\r\n" + b"\x1b]" * 50000 + b"\x1b[" * 50000,
     b"Subject: x\r\n\r\n" + b"a" * 2_000_000],
    ids=lambda raw: repr(bytes(raw[:40])),
)
def test_edge_inputs_never_raise(raw):
    assert isinstance(parse_message(raw), ParsedMail)


def test_str_and_none_inputs_do_not_raise():
    assert parse_message("Subject: text\r\n\r\nbody").subject == "text"  # type: ignore[arg-type]
    assert parse_message(None).unparseable  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- specific cases


def test_plain_fields():
    m = parse("crlf")
    assert m.message_id == "crlf@example.org"
    assert m.subject == "CRLF line endings"
    assert m.from_addr == "alice@customer.example"
    assert m.from_name == "Alice Customer"
    assert m.recipients == ("support@example.com",)
    assert m.date == datetime(2024, 1, 2, 16, 30, tzinfo=UTC)
    assert m.body_text == "line one\nline two"
    assert not m.unparseable and not m.oversize
    assert m.headers["subject"] == "CRLF line endings"


@pytest.mark.parametrize("name", ["crlf", "bare-lf", "bare-cr"])
def test_line_ending_variants(name):
    m = parse(name)
    assert m.body_text == "line one\nline two"
    assert m.from_addr == "alice@customer.example"
    assert m.message_id


def test_mixed_line_endings():
    m = parse("mixed-endings")
    assert m.subject == "mixed endings"
    assert m.body_text.splitlines() == ["line one", "line two", "line three"]


def test_broken_boundary_records_defect_and_keeps_text():
    m = parse("broken-boundary")
    assert any("boundary" in d.lower() for d in m.defects)
    assert "my server is down" in m.body_text
    assert not m.unparseable


def test_missing_close_boundary():
    m = parse("missing-end-boundary")
    assert any("close boundary" in d.lower() for d in m.defects)
    assert "first part text" in m.body_text
    assert [a.filename for a in m.attachments] == ["cut.bin"]


def test_unknown_charset_falls_back():
    m = parse("unknown-charset")
    assert "r\u00e9jects" in m.body_text
    assert any("x-unknown-foo" in d and "unknown" in d for d in m.defects)


def test_wrong_charset_falls_back_to_cp1252():
    m = parse("wrong-charset")
    assert "Caf\u00e9 cr\u00e8me: the r\u00e9sum\u00e9 upload fails." in m.body_text
    assert "\ufffd" not in m.body_text
    assert any("utf-8" in d for d in m.defects)


def test_raw_8bit_utf8_headers():
    m = parse("raw-8bit-headers")
    assert m.subject == "Gr\u00fc\u00dfe aus K\u00f6ln"
    assert m.from_name == "J\u00f6rg M\u00fcller"
    assert m.from_addr == "joerg@example.de"
    assert m.headers["x-latin1"] == "caf\u00e9"


def test_raw_8bit_latin1_headers():
    m = parse("latin1-headers")
    assert m.subject == "Probl\u00e8me r\u00e9seau"
    assert m.from_name == "Ren\u00e9"
    assert "r\u00e9seau est en panne" in m.body_text


def test_no_message_id():
    assert parse("no-message-id").message_id is None


def test_reused_message_id_different_content():
    a, b = parse("reused-msgid-a"), parse("reused-msgid-b")
    assert a.message_id == b.message_id == "reused@example.org"
    assert a.body_text != b.body_text


def test_same_message_twice_parses_identically():
    assert CASES["same-twice-a"] == CASES["same-twice-b"]
    assert parse("same-twice-a") == parse("same-twice-b")


def test_html_only_is_converted():
    m = parse("html-only")
    assert "Server outage" in m.body_text
    assert "webserver returns errors & timeouts" in m.body_text
    assert "first item" in m.body_text and "second item" in m.body_text
    assert "<" not in m.body_text and "alert(1)" not in m.body_text and "color:red" not in m.body_text


def test_alternative_prefers_plain_and_lists_attachments():
    m = parse("alternative-attachments")
    assert m.body_text == "Plain text wins: the backup job failed."
    assert m.attachments == (
        Attachment("dump.bin", "application/octet-stream", 300),
        Attachment("server.log", "text/plain", len(b"log line 1\r\nlog line 2\r\n")),  # CRLF on the wire
    )
    assert m.recipients == ("support@example.com", "carol@example.com")


def test_rfc2231_filename_and_legacy_charset():
    m = parse("legacy-mime")
    assert m.body_text == "Legacy body text."
    assert m.attachments == (Attachment("r\u00e9sum\u00e9.pdf", "application/octet-stream", 13),)


@pytest.mark.parametrize("name", ["empty-body", "header-only"])
def test_empty_body_and_header_only(name):
    m = parse(name)
    assert m.body_text == ""
    assert m.subject
    assert m.message_id
    assert not m.unparseable


def test_nested_rfc822():
    m = parse("nested-rfc822")
    assert m.message_id == "outer@example.org"
    assert "See the attached message." in m.body_text
    assert "Inner text: the DNS zone is broken." in m.body_text
    assert [a.content_type for a in m.attachments] == ["message/rfc822"]
    assert m.attachments[0].size > 0
    assert m.original_message_id is None  # not a bounce


def test_oversize_parses_headers_only():
    raw = CASES["oversize"]
    m = parse_message(raw, max_size=SMALL_CAP)
    assert m.oversize and not m.unparseable
    assert m.size == len(raw)
    assert m.subject == "huge attachment"
    assert m.message_id == "big@example.org"
    assert m.from_addr == "big@example.com"
    assert m.body_text == ""
    assert any("limit" in d for d in m.defects)
    full = parse_message(raw)
    assert not full.oversize
    assert full.body_text == "A large attachment follows."
    assert full.attachments[0].filename == "big.bin" and full.attachments[0].size == 3 * SMALL_CAP


def test_rich_markup_kept_literally():
    m = parse("markup-subject")
    assert m.subject == MARKUP_SUBJECT
    assert "[red]body markup[/red] [@click=app.quit]x[/]" in m.body_text


def test_ansi_escapes_removed():
    m = parse("ansi-escapes")
    assert "\x1b" not in m.subject and "\x07" not in m.subject
    assert m.subject == "Printer ON FIRE now"
    assert "pwned" not in m.subject and "[31m" not in m.subject
    assert m.body_text == "line one bold red end\nafter osc\nclear  screen"
    assert m.subject != ANSI_SUBJECT


def test_bidi_removed():
    m = parse("bidi-override")
    assert m.subject == "invoice gnp.exe attached"
    assert m.subject != BIDI_SUBJECT
    assert not any(c in m.body_text for c in BIDI)
    assert "txt.exe" in m.body_text and "isolated" in m.body_text


def test_bounce_original_message_id_from_rfc822_part():
    m = parse("bounce-dsn")
    assert m.original_message_id == "orig-42@example.com"
    assert m.from_addr == "mailer-daemon@mx.example.com"
    assert "could not be delivered" in m.body_text
    assert "Reporting-MTA" not in m.body_text  # delivery-status is not body text
    assert m.headers["auto-submitted"] == "auto-replied"


def test_bounce_original_message_id_from_rfc822_headers_part():
    m = parse("bounce-rfc822-headers")
    assert m.original_message_id == "orig-43@example.com"


def test_bounce_original_message_id_from_body_text():
    raw = (b"From: MAILER-DAEMON@mx.example.com\r\nSubject: failure notice\r\nMessage-ID: <own@mx>\r\n\r\n"
           b"Sorry, we could not deliver.\r\n\r\n--- Below this line is a copy of the message.\r\n\r\n"
           b"Message-ID: <orig-44@example.com>\r\nSubject: x\r\n")
    assert parse_message(raw).original_message_id == "orig-44@example.com"


def test_no_original_message_id_for_ordinary_mail_quoting_headers():
    raw = b"From: a@b.example\r\nSubject: fyi\r\n\r\nMessage-ID: <quoted@example.com>\r\n"
    assert parse_message(raw).original_message_id is None


def test_autoreply_headers_available():
    m = parse("autoreply")
    assert m.headers["auto-submitted"] == "auto-replied"
    assert m.headers["precedence"] == "bulk"
    assert m.headers["x-autoreply"] == "yes"


def test_garbage_is_unparseable_but_returned():
    m = parse("garbage")
    assert m.unparseable
    assert m.body_text  # the bytes are still shown
    assert m.defects


def test_empty_bytes():
    m = parse("empty-bytes")
    assert m.unparseable and m.body_text == "" and m.size == 0


def test_nul_bytes_removed():
    m = parse("nul-bytes")
    assert m.subject == "nulin subject"
    assert "\x00" not in m.body_text
    assert "bodywithnuls" in m.body_text


def test_bad_base64_keeps_text_and_records_defect():
    m = parse("bad-base64")
    assert m.defects
    assert m.body_text


def test_bad_encoded_words():
    m = parse("bad-encoded-words")
    assert "ok\u00e9" in m.subject
    assert m.from_name == "Doe, John"  # encoded comma does not split the address
    assert m.from_addr == "john@example.org"


def test_bad_date_and_addresses():
    m = parse("bad-date-addresses")
    assert m.date is None
    assert m.from_addr == ""
    assert m.recipients == ("weird@example.org", "plain@example.org", "urgent@example.com", "support@example.com")
    assert m.message_id == "no-angle-brackets@example.org"
    assert m.in_reply_to == "parent@example.org"
    assert m.references == ("r1@example.org", "r2@example.org", "parent@example.org")


def test_long_header():
    m = parse("long-header")
    assert m.subject == "x" * 20000
    assert m.body_text == "body"


def test_deep_nesting_is_bounded():
    m = parse("deep-nesting")
    assert any("too deep" in d for d in m.defects)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("<abc@x>", "abc@x"),
        ("  <abc@x>  ", "abc@x"),
        ("< abc@x >", "abc@x"),
        ("abc@x", "abc@x"),
        ("<abc@x> (comment)", "abc@x"),
        ("<>", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("<a\r\n b@x>", "ab@x"),
    ],
)
def test_normalize_msgid(value, expected):
    assert normalize_msgid(value) == expected


@pytest.mark.parametrize(
    "date, expected",
    [
        ("Tue, 02 Jan 2024 09:30:00 -0700", datetime(2024, 1, 2, 16, 30, tzinfo=UTC)),
        ("02 Jan 2024 09:30:00 +0000", datetime(2024, 1, 2, 9, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 09:30:00 -0000", datetime(2024, 1, 2, 9, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 09:30:00 GMT", datetime(2024, 1, 2, 9, 30, tzinfo=UTC)),
        ("not a date", None),
    ],
)
def test_dates_are_aware_utc(date, expected):
    m = parse_message(f"Date: {date}\r\nSubject: d\r\n\r\nx".encode())
    assert m.date == expected


def test_recipients_from_all_headers_deduped():
    raw = (b"From: a@b.example\r\nTo: Support <SUPPORT@example.com>, x@y.example\r\nCc: support@example.com\r\n"
           b"Delivered-To: urgent@example.com\r\nDelivered-To: support@example.com\r\n"
           b"X-Original-To: Help@Example.com\r\nSubject: r\r\n\r\nx")
    assert parse_message(raw).recipients == (
        "support@example.com", "x@y.example", "urgent@example.com", "help@example.com")


def test_rfc2047_subject_and_name():
    raw = (b"From: =?iso-8859-1?q?Ren=E9_Dupont?= <Rene@Example.FR>\r\n"
           b"Subject: =?utf-8?b?w4lsw6ltZW50?= =?utf-8?q?_de_test?=\r\n\r\nx")
    m = parse_message(raw)
    assert m.subject == "\u00c9l\u00e9ment de test"
    assert m.from_name == "Ren\u00e9 Dupont"
    assert m.from_addr == "rene@example.fr"


def test_parser_crash_falls_back_to_raw_headers(monkeypatch):
    import console.intake.parse as parse_mod

    class Exploding:
        def __init__(self, *a, **kw):
            pass

        def parsebytes(self, *a, **kw):
            raise RecursionError("boom")

    monkeypatch.setattr(parse_mod, "BytesParser", Exploding)
    m = parse_message(CASES["crlf"])
    assert isinstance(m, ParsedMail)
    assert m.unparseable
    assert m.subject == "CRLF line endings"  # read by the header-only parser
    assert m.message_id == "crlf@example.org"
    assert "line two" in m.body_text
    assert any("parser failed" in d for d in m.defects)


def test_parsed_mail_is_read_only():
    m = parse("crlf")
    with pytest.raises(AttributeError):
        m.subject = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("value", [
    "Carl <carl@cust.example>",
    '"Doe, John" <John.Doe@Example.COM>',
    "plain@example.com",
    "  Ann Example   <ann+tag@ex-ample.org>  ",
    "O'Brien <ob@x.example>",
])
def test_addresses_agree_with_getaddresses(value):
    import email.utils

    from console.intake.parse import _addresses

    expected = [(n, a.lower()) for n, a in email.utils.getaddresses([value])]
    assert _addresses([value]) == expected


def test_clean_line_fast_path_still_strips_everything_else():
    from console.safe_text import clean_line

    assert clean_line("plain subject") == "plain subject"
    assert clean_line("two  spaces") == "two spaces"
    assert clean_line(" padded ") == "padded"
    assert clean_line("bell\x07 and \x1b[31mred") == "bell and red"


def test_headers_are_a_plain_dict_of_first_values():
    m = parse_message(b"Subject: hi\r\nX-A: 1\r\nx-a: 2\r\n\r\nbody")
    assert type(m.headers) is dict
    assert m.headers == {"subject": "hi", "x-a": "1"}


@pytest.mark.parametrize("charset,data,note", [
    ("x-nosuch", "café".encode(), "charset 'x-nosuch' unknown, decoded as utf-8"),
    ("rot13", b"uryyb", "charset 'rot13' unknown, decoded as utf-8"),  # a codec, but not for text
    ("zlib", b"abc", "charset 'zlib' unknown, decoded as utf-8"),
    ("utf-8", b"caf\xe9", "text declared as 'utf-8' is not valid utf-8, decoded as cp1252"),
])
def test_a_charset_that_cannot_decode_falls_back_with_a_note(charset, data, note):
    from console.decoding import decode_bytes

    notes: list[str] = []
    text = decode_bytes(data, charset, notes)
    assert notes == [note] and text == _fallback(data)


def _fallback(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def test_a_charset_that_fits_decodes_without_a_note():
    from console.decoding import decode_bytes

    notes: list[str] = []
    assert decode_bytes("café".encode("latin-1"), "ISO-8859-1", notes) == "café" and notes == []
