"""What a silence matches and what it refuses (console/outbox/silences.py): pure."""
from __future__ import annotations

from datetime import timedelta

import pytest

from console.outbox.silences import first_match, matches, validate
from store.errors import UsageError


def s(kind: str, pattern: str, id_: int = 1) -> dict:
    return {"id": id_, "kind": kind, "pattern": pattern}


@pytest.mark.parametrize(("silence", "requester", "subject", "held"), [
    (s("sender", "Nagios@Monitor.example"), "nagios@monitor.example", "x", True),
    (s("sender", "nagios@monitor.example"), "zabbix@monitor.example", "x", False),
    (s("domain", "monitor.example"), "nagios@monitor.example", "x", True),
    (s("domain", "monitor.example"), "nagios@eu.monitor.example", "x", True),  # below the domain
    (s("domain", "monitor.example"), "nagios@badmonitor.example", "x", False),  # not a suffix of a label
    (s("subject", "PROBLEM host1"), "a@b.example", "** PROBLEM Host1 DOWN **", True),
    (s("subject", "problem host1 *"), "a@b.example", "PROBLEM host1 DOWN", True),
    (s("subject", "problem host1 *"), "a@b.example", "RE: PROBLEM host1 DOWN", False),  # a pattern is anchored
    (s("subject", "problem"), "a@b.example", None, False),
])
def test_matches(silence, requester, subject, held):
    assert matches(silence, requester, subject) is held


def test_the_oldest_matching_silence_holds():
    assert first_match([s("domain", "x.example", 3), s("sender", "a@x.example", 4)], "a@x.example", "") == 3
    assert first_match([s("domain", "y.example", 3)], "a@x.example", "") is None


@pytest.mark.parametrize(("kind", "pattern", "length", "reason", "words"), [
    ("domain", "cust.example", timedelta(hours=25), "work", "at most 24h"),
    ("domain", "cust.example", timedelta(0), "work", "some time"),
    ("domain", "cust.example", timedelta(hours=1), "  ", "needs a reason"),
    ("sender", "cust.example", timedelta(hours=1), "work", "not an address"),
    ("domain", "localhost", timedelta(hours=1), "work", "not a domain"),
    ("subject", "\x1b[2J", timedelta(hours=1), "work", "empty"),
])
def test_refusals_are_one_line(kind, pattern, length, reason, words):
    with pytest.raises(UsageError, match=words) as e:
        validate(kind, pattern, length, reason)
    assert "\n" not in str(e.value)


def test_a_day_is_allowed_and_a_domain_is_kept_lower_case():
    assert validate("domain", "@Cust.Example", timedelta(hours=24), "work") == "cust.example"


def test_a_page_says_what_carried_or_held_it():
    from console.ui.format import page_words

    base = {"step": "arrival", "target": "bob", "attempts": 0, "last_error": None}
    assert page_words({**base, "state": "bundled", "carried_by": 7}) == "arrival to bob: bundled (carried by page 7)"
    assert page_words({**base, "state": "silenced", "silenced_by": 3}) == "arrival to bob: silenced (held by silence 3)"
    assert page_words({**base, "state": "sent", "silenced_by": 3}) == "arrival to bob: sent (released by silence 3)"
    assert page_words({**base, "state": "sent"}) == "arrival to bob: sent"
