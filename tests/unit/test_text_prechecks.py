"""The prechecks in classify, callme and safe_text must give what the full checks give."""

import re

import pytest

from console.intake import callme, classify
from console.safe_text import _IGNORECASE_TO_ASCII, _lower_for_search, has_word_prefix

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
