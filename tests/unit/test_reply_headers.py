"""The desk's header block (console/replies/headers.py, compose.build): no stored text can become a header,
whatever the interpreter's patch level, because none of it is handed to the email package's header code.
The hostile mail is parsed by intake's own parser first, as it would be in use."""
from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from console.intake.parse import parse_message
from console.replies import compose, headers
from console.safe_text import clean_line
from tests.hostile import outgoing as hostile

TZ = ZoneInfo("UTC")
NOW = datetime(2026, 11, 3, 16, 30, tzinfo=UTC)
OWN = {"support@desk.example"}
DESK = "Example Support <support@desk.example>"
HEADER_NAMES = ["From", "Reply-To", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "X-Loop",
                "Content-Type", "Content-Transfer-Encoding", "MIME-Version"]


def reply_to(raw: bytes, *, cc_from: bytes | None = None, **kw) -> compose.Outgoing:
    """Intake parses the customer's mail; the desk answers it."""
    p = parse_message(raw)
    cc = ()
    if cc_from is not None:
        from console.replies.desk import cc_addresses, header_fields

        cc = cc_addresses([v for k, v in header_fields(cc_from).raw_items() if k.lower() == "cc"])
    last = compose.ThreadMessage(kind="new", message_id=p.message_id, from_addr=p.from_addr, from_name=p.from_name,
                                 refs=p.references, body_text=p.body_text, at=None, cc=cc)
    args = dict(ticket_id=7, subject=p.subject, thread=[last], to_addr=p.from_addr, to_name=p.from_name,
                desk_from=DESK, body="Hello,\n\nWe are on it.\n", now=NOW, tz=TZ, own=OWN, token="tok")
    return compose.build(**(args | kw))


def head_of(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def field_names(raw: bytes) -> list[str]:
    return [ln.split(b":", 1)[0].decode() for ln in head_of(raw).split(b"\r\n") if ln[:1] not in (b" ", b"\t")]


def decoded(raw: bytes, name: str) -> str:
    """What a reader shows: our base64 encoded words decoded, the blanks between adjacent words dropped
    (RFC 2047 6.2). The header is UTF-8 (addresses may be)."""
    import base64

    unfolded = head_of(raw).decode("utf-8").replace("\r\n ", " ").split("\r\n")
    [value] = [ln.split(": ", 1)[1] for ln in unfolded if ln.split(":", 1)[0] == name]
    word = r"=\?utf-8\?b\?([A-Za-z0-9+/=]*)\?="
    value = re.sub(rf"({word})\s+(?={word})", r"\1", value)
    return re.sub(word, lambda m: base64.b64decode(m.group(1)).decode("utf-8"), value)


def test_a_double_encoded_subject_goes_out_as_the_literal_text_the_console_showed():
    out = reply_to(hostile.double_subject())
    assert out.subject == f"Re: [#7] Help {hostile.INNER}"  # what intake stored and the console shows
    assert field_names(out.raw) == HEADER_NAMES  # no Reply-To of the attacker's, no second Content-Type
    assert b"attacker" not in out.raw and b"evil.test" not in out.raw  # only inside base64 words
    assert head_of(out.raw).isascii() and all(len(ln) <= 78 for ln in head_of(out.raw).split(b"\r\n"))
    # Exactly these bytes, on any interpreter: the subject's tail is our own base64 words of that text.
    subject = head_of(out.raw).split(b"\r\nDate:")[0].split(b"Subject: ")[1].decode()
    assert subject.startswith("Re: [#7] Help\r\n =?utf-8?b?")
    words = re.findall(r"=\?utf-8\?b\?([A-Za-z0-9+/=]+)\?=", subject)
    import base64

    assert b"".join(base64.b64decode(w) for w in words).decode() == hostile.INNER
    assert decoded(out.raw, "Subject") == out.subject  # and a reader shows exactly that
    body = email.message_from_bytes(out.raw, policy=email.policy.default)
    assert body.get_content_type() == "text/plain" and "We are on it." in body.get_content()


def test_a_triple_encoded_subject_and_name_are_written_literally_too():
    out = reply_to(hostile.triple_subject())
    assert out.subject == compose.reply_subject(hostile.DOUBLE, 7)  # cut to 200 characters, as shown
    assert out.subject.startswith("Re: [#7] =?utf-8?b?")
    assert field_names(out.raw) == HEADER_NAMES and decoded(out.raw, "Subject") == out.subject
    out = reply_to(hostile.triple_name())
    assert field_names(out.raw) == HEADER_NAMES
    assert decoded(out.raw, "To") == f"{clean_line(hostile.DOUBLE, 100)} <carl@cust.example>"


def test_a_double_encoded_display_name_cannot_add_headers():
    out = reply_to(hostile.double_name())
    assert field_names(out.raw) == HEADER_NAMES
    to = head_of(out.raw).split(b"\r\nTo: ")[1].split(b"\r\nSubject:")[0]
    assert to.endswith(b" <carl@cust.example>") and to.startswith(b"=?utf-8?b?")
    assert decoded(out.raw, "To") == f"{clean_line(hostile.INNER, 100)} <carl@cust.example>"
    assert decoded(out.raw, "Reply-To") == DESK


def test_a_double_encoded_cc_is_left_off_and_the_reply_goes_to_the_others():
    raw = hostile.double_cc()
    out = reply_to(raw, cc_from=raw)
    assert out.cc == ("dora@cust.example", "ok7@cust.example", "eve@cust.example")
    # getaddresses reads the encoded CR LF Bcc name as an "address": it cannot be written, so it is left off
    assert [a for a, _ in out.left_off] == ["=?utf-8?q?x=0d=0abcc=3a_victim@bank.test?="]
    assert compose.Copies(out.cc, out.left_off).notes == (
        "Cc =?utf-8?q?x=0d=0abcc=3a_victim@bank.test?= left off: cannot be written safely "
        "(it holds encoded-word syntax (=? ?=))",)
    assert "encoded-word syntax" in out.left_off[0][1]
    assert field_names(out.raw) == HEADER_NAMES[:3] + ["Cc"] + HEADER_NAMES[3:]
    assert b"Bcc" not in out.raw and b"victim" not in out.raw
    assert out.recipients == ["carl@cust.example", "dora@cust.example", "ok7@cust.example", "eve@cust.example"]


def test_more_cc_than_the_cap_is_refused_with_how_many_and_how_to_send_anyway():
    raw = hostile.many_cc(3000)
    with pytest.raises(compose.TooManyCc) as err:
        reply_to(raw, cc_from=raw, max_cc=20)
    assert str(err.value) == ("the customer's last mail had 3,000 Cc addresses, more than replies.max_cc (20); "
                              "nothing was sent (to copy all of them: support-console reply 7 --cc-all)")
    out = reply_to(raw, cc_from=raw, max_cc=None)  # --cc-all
    assert len(out.cc) == 3000 and len(out.recipients) == 3001
    assert email.message_from_bytes(out.raw, policy=email.policy.default)["Cc"].addresses[2999].addr_spec == \
        "p2999@cc49.example"


def test_non_ascii_addresses_are_kept_as_received_and_written_as_utf8():
    raw = hostile.non_ascii_cc()
    out = reply_to(raw, cc_from=raw)
    assert out.cc == ("jörg@exämple.test", "dora@cust.example")
    assert "jörg@exämple.test".encode() in head_of(out.raw) and "\ufffd" not in out.raw.decode("utf-8")
    out = reply_to(hostile.non_ascii_sender())
    assert out.to_addr == "jürgen@exämple.test"
    assert decoded(out.raw, "To") == "Jürgen <jürgen@exämple.test>"


@pytest.mark.parametrize("addr, ok", [
    ("carl@cust.example", True), ("a.b+tag@sub.cust.example", True), ("jürgen@exämple.test", True),
    ("o'hara@cust.example", True), ("=?utf-8?q?x?=@cust.example", False), ("a b@cust.example", False),
    ('"a b"@cust.example', False), ("a@b@c.example", False), ("carl@-cust.example", False),
    ("carl@cust..example", False), ("carl\r\nbcc@x.example", False), ("carl@[192.0.2.1]", False),
    ("x" * 65 + "@cust.example", False), ("carl@cust.example\u202e", False), ("@cust.example", False),
    ("carl@", False), ("a,b@cust.example", False), ("a<b@cust.example", False),
])
def test_which_addresses_can_be_written(addr, ok):
    assert (headers.writable(addr) is None) is ok


@pytest.mark.parametrize("text", [
    "plain words only", "=?utf-8?q?x=0D=0AX-Evil:_1?=", "tail ?= and =? head", "ünïcödé and ascii",
    "a" * 300, "mixed =?b?= with\ttabs\x1b[31m and \x00 nul", "日本語の件名" * 20, "",
])
def test_any_text_reads_back_as_its_clean_line_and_folds(text):
    field = headers.unstructured("Subject", text).encode("ascii")
    assert field.endswith(b"\r\n") and b"\r\n" not in field[:-2].replace(b"\r\n ", b"")
    assert all(len(ln) <= 78 for ln in field.split(b"\r\n"))
    m = email.message_from_bytes(field + b"\r\nbody", policy=email.policy.default)
    assert str(m["Subject"]) == clean_line(text, 998)


def test_plain_text_goes_out_as_it_is():
    assert headers.unstructured("Subject", "Re: [#5] Printer broken") == "Subject: Re: [#5] Printer broken\r\n"
    assert headers.mailbox("Carl Customer", "carl@cust.example") == "Carl Customer <carl@cust.example>"
    assert headers.mailbox("Doe, John", "j@cust.example") == '"Doe, John" <j@cust.example>'


def test_without_addresses_takes_mailboxes_out_of_to_and_cc():
    head = (headers.address_list("To", [("Jörg", "jörg@exämple.test")])
            + headers.address_list("Cc", [("", "a@x.example"), ("Ü", "ü@x.example"), ("", "b@x.example")])
            + headers.unstructured("Subject", "hi")).encode()
    out, to_left = headers.without_addresses(head, ["ü@x.example"])
    assert to_left and out.isascii() is False
    assert out.decode().split("\r\n")[1:] == ["Cc: a@x.example,", " b@x.example", "Subject: hi", ""]
    out, to_left = headers.without_addresses(head, ["jörg@exämple.test", "ü@x.example"])
    assert not to_left and out.isascii()


def test_without_addresses_handles_a_first_mailbox_on_its_own_line():
    long = "a" * 60 + "@" + "b" * 30 + ".example"
    head = (headers.address_list("To", [("", long)]) + headers.address_list("Cc", [("", "ü@x.example")])).encode()
    assert head.startswith(b"To:\r\n a")  # too long for the first line: folded before it
    out, to_left = headers.without_addresses(head, ["ü@x.example"])
    assert to_left and long in out.decode() and "ü" not in out.decode()


def test_no_mail_text_reaches_the_email_packages_header_code(monkeypatch):
    """By construction, whatever the patch level: the email package (whose header parsing decodes encoded
    words on 3.11.7) is only asked to store the body part's own MIME headers."""
    import email.policy as ep

    asked: list[str] = []
    original = ep.EmailPolicy.header_store_parse

    def spy(self, name, value):
        asked.append(name)
        return original(self, name, value)

    monkeypatch.setattr(ep.EmailPolicy, "header_store_parse", spy)
    raw = hostile.double_cc()
    reply_to(hostile.double_subject(), cc_from=raw)
    reply_to(hostile.triple_name(), automatic=True)
    assert set(asked) <= {"Content-Type", "Content-Transfer-Encoding", "MIME-Version"}, asked


def test_a_non_ascii_domain_alone_can_go_as_idna():
    assert headers.ascii_form("dora@exämple.test") == "dora@xn--exmple-cua.test"
    assert headers.ascii_form("jörg@exämple.test") is None  # the local part needs SMTPUTF8
    head = (headers.address_list("To", [("Carl", "carl@x.example")])
            + headers.address_list("Cc", [("Dora", "dora@exämple.test"), ("", "jörg@exämple.test")])).encode()
    out, to_left = headers.without_addresses(head, ["jörg@exämple.test"],
                                             {"dora@exämple.test": "dora@xn--exmple-cua.test"})
    assert to_left and out.decode() == "To: Carl <carl@x.example>\r\nCc: Dora <dora@xn--exmple-cua.test>\r\n"
