
import pytest

from console.intake.autoreply import auto_kind
from console.intake.parse import parse_message
from tests.corpus import by_name

BASE = "From: {frm}\r\nTo: support@example.com\r\nSubject: hello\r\nMessage-ID: <a@b>\r\n{extra}\r\nbody\r\n"


def mail(extra: str = "", frm: str = "Alice <alice@customer.example>"):
    extra = "".join(line + "\r\n" for line in extra.split("\n") if line)
    return parse_message(BASE.format(frm=frm, extra=extra).encode())


@pytest.mark.parametrize(
    "extra, frm, expected",
    [
        ("", "Alice <alice@customer.example>", None),
        ("Auto-Submitted: no", "Alice <alice@customer.example>", None),
        ("Auto-Submitted: No (human)", "Alice <alice@customer.example>", None),
        ("Auto-Submitted: auto-replied", "Alice <alice@customer.example>", "autoreply"),
        ("Auto-Submitted: auto-generated; owner-email=x@y", "Alice <alice@customer.example>", "autoreply"),
        ("auto-submitted: AUTO-NOTIFIED", "Alice <alice@customer.example>", "autoreply"),
        ("Precedence: bulk", "Alice <alice@customer.example>", "autoreply"),
        ("Precedence: junk", "Alice <alice@customer.example>", "autoreply"),
        ("Precedence: list", "Alice <alice@customer.example>", "autoreply"),
        ("Precedence: auto_reply", "Alice <alice@customer.example>", "autoreply"),
        ("Precedence: first-class", "Alice <alice@customer.example>", None),
        ("X-Autoreply: yes", "Alice <alice@customer.example>", "autoreply"),
        ("X-Autorespond: vacation", "Alice <alice@customer.example>", "autoreply"),
        ("X-Auto-Response-Suppress: All", "Alice <alice@customer.example>", "autoreply"),
        ("X-Auto-Response-Suppress: OOF", "Alice <alice@customer.example>", "autoreply"),
        ("", "Mail Delivery System <MAILER-DAEMON@mx.example.com>", "bounce"),
        ("", "postmaster@example.net", "bounce"),
        ("", "MAILER-DAEMON", "bounce"),
        ("", "Postmaster <PostMaster@example.net>", "bounce"),
        ("", "postmaster-fan@example.net", None),
        ("Return-Path: <>", "Alice <alice@customer.example>", "bounce"),
        ("Return-Path: < >", "Alice <alice@customer.example>", "bounce"),
        ("Return-Path: <alice@customer.example>", "Alice <alice@customer.example>", None),
        ('Content-Type: multipart/report; report-type=delivery-status; boundary="x"',
         "Alice <alice@customer.example>", "bounce"),
        ('Content-Type: multipart/report; report-type="delivery-status"; boundary="x"',
         "Alice <alice@customer.example>", "bounce"),
        ('Content-Type: multipart/report; report-type=disposition-notification; boundary="x"',
         "Alice <alice@customer.example>", None),
        ('Auto-Submitted: auto-replied\nContent-Type: multipart/report; report-type=delivery-status; boundary="x"',
         "Alice <alice@customer.example>", "bounce"),
    ],
)
def test_auto_kind(extra, frm, expected):
    assert auto_kind(mail(extra, frm)) == expected


@pytest.mark.parametrize(
    "name, expected",
    [
        ("bounce-dsn", "bounce"),
        ("bounce-rfc822-headers", "bounce"),
        ("autoreply", "autoreply"),
        ("callme-only", None),
        ("html-only", None),
        ("garbage", None),
        ("empty-bytes", None),
    ],
)
def test_auto_kind_on_corpus(name, expected):
    assert auto_kind(parse_message(by_name()[name])) == expected


@pytest.mark.parametrize("subject, expected", [
    ("Automatic reply: Your ticket", "autoreply"),
    ("AUTOMATIC REPLY: Re: [Class III] #4", "autoreply"),
    ("Out of Office: server down", "autoreply"),
    ("Out of the office: hello", "autoreply"),
    ("Out of Office AutoReply: hello", "autoreply"),
    ("Auto-Reply: hello", "autoreply"),
    ("AutoReply: hello", "autoreply"),
    ("Abwesenheitsnotiz: hallo", "autoreply"),
    ("Réponse automatique : bonjour", "autoreply"),
    # A person's words about an absence, or an answer to an auto-reply, are a person's.
    ("Re: Automatic reply: Your ticket", None),
    ("out of office next week?", None),
    ("My automatic reply rule is broken: help", None),
    ("Out of office", None),
])
def test_auto_kind_by_subject(subject, expected):
    raw = BASE.replace("Subject: hello", f"Subject: {subject}").format(frm="Alice <alice@customer.example>", extra="")
    assert auto_kind(parse_message(raw.encode())) == expected
