"""The parser's header memo: policy.default's own header objects, parsed once per (name, value)."""
from email import policy

import pytest

from console.intake import parse
from tests.corpus import corpus

MIME = (
    b"From: Ann <ann@cust.example>\r\nTo: support@desk.example\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n"
    b"Message-ID: <alt@cust.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n"
    b"--m\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n"
    b"--a\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Hello caf=C3=A9\r\n--a\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n<p>Hello caf\xe9</p>\r\n--a--\r\n"
    b"--m\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; filename*=utf-8''r%C3%A9.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--m--\r\n"
)


def test_parsing_with_the_memo_gives_what_plain_policy_default_gives(monkeypatch):
    raws = [raw for _, raw in corpus()] + [MIME, MIME.replace(b"alt@", b"alt2@")]
    remembered = [parse.parse_message(r) for r in raws]
    remembered += [parse.parse_message(r) for r in raws]  # the second time every header is a memo hit
    seen = parse._POLICY.header_factory._seen  # the parser goes through the memo
    assert ("Content-Type", 'multipart/alternative; boundary="a"') in seen
    monkeypatch.setattr(parse, "_POLICY", policy.default)
    plain = [parse.parse_message(r) for r in raws]
    assert remembered == plain + plain
    assert [a.filename for a in plain[-1].attachments] == ["r\u00e9.pdf"]


def test_the_memo_is_bounded_and_keeps_no_long_values():
    memo = parse._MemoHeaders(policy.default.header_factory)
    first = memo("Content-Type", "text/plain; charset=utf-8")
    assert memo("Content-Type", "text/plain; charset=utf-8") is first
    assert first.content_type == "text/plain" and first.params["charset"] == "utf-8"
    for i in range(parse._MemoHeaders._LIMIT * 2):
        memo("X-N", str(i))
    assert len(memo._seen) <= parse._MemoHeaders._LIMIT
    long_value = "text/plain; x=" + "a" * 5000
    assert memo("Content-Type", long_value).params["x"] == "a" * 5000
    assert ("Content-Type", long_value) not in memo._seen


@pytest.mark.parametrize("name", ["map_to_type", "default_class"])
def test_the_memo_passes_the_registry_api_through(name):
    memo = parse._MemoHeaders(policy.default.header_factory)
    assert getattr(memo, name) == getattr(policy.default.header_factory, name)
