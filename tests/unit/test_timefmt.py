from datetime import datetime, timedelta, UTC

from console import timefmt


def test_span_uses_the_two_largest_units_with_letters():
    assert timefmt.span(0) == "0s"
    assert timefmt.span(28) == "28s"
    assert timefmt.span(59.9) == "59s"
    assert timefmt.span(60) == "1m00s"
    assert timefmt.span(14 * 60 + 59) == "14m59s"
    assert timefmt.span(4 * 3600 + 59 * 60 + 58) == "4h59m"
    assert timefmt.span(2 * 86400 + 23 * 3600 + 59 * 60) == "2d23h"
    assert timefmt.span(timedelta(hours=72)) == "3d00h"
    assert timefmt.span(-90) == "1m30s"


def test_left_is_negative_once_overdue():
    assert timefmt.left(None) == "-"
    assert timefmt.left(28) == "28s"
    assert timefmt.left(-0.2) == "-1s"
    assert timefmt.left(-(3 * 60 + 12)) == "-3m12s"
    assert timefmt.left(timedelta(minutes=-90)) == "-1h30m"


def test_cli_and_pages_use_the_same_words():
    from console import policy as pol
    from console.cli import common
    from console.alerts import escalation
    from console.config import from_dict
    from store.times import iso

    assert common.left(14 * 60 + 59) == "14m59s" == timefmt.left(14 * 60 + 59)
    assert common.left(-75) == "-1m15s"
    t0 = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    ticket = {"id": 7, "class": "III", "subject": "down", "requester": "c@x.org", "requester_name": "",
              "received_at": iso(t0), "due_at": iso(t0 + timedelta(hours=5)), "assignee": None,
              "last_message_at": iso(t0)}
    step = pol.Step(name="arrival", cls="III", at=t0, kind="page", audience=("primary",), urgent=True)
    title, body = escalation.page_text(ticket, step, t0 + timedelta(seconds=2), from_dict({}))
    assert "due in 4h59m" in body and "(unassigned, 2s ago)" in title
