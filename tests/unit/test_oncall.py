"""console.alerts.oncall: weekly rotation, DST, overrides, handoffs. Frozen times, no sleeps."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, UTC
from zoneinfo import ZoneInfo

import pytest

from console.alerts.oncall import OnCall, Override, Rotation, handoffs, on_call
from console.policy import parse_handoff

PHX = ZoneInfo("America/Phoenix")
BERLIN = ZoneInfo("Europe/Berlin")
NY = ZoneInfo("America/New_York")
H = timedelta(hours=1)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Phoenix has no DST: Monday 09:00 MST is always 16:00 UTC. Start (anchor) Tuesday 2 January 2024: the
# week that contains it, from Monday 1 January 09:00 MST, is ann's.
DESK = Rotation(handles=("ann", "bob", "cy"), handoff_weekday=0, handoff_time=time(9, 0), tz=PHX,
                anchor=date(2024, 1, 2))


# ------------------------------------------------------------------ parse_handoff


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mon 09:00", (0, time(9, 0))),
        ("Mon 9:00", (0, time(9, 0))),
        ("  tuesday   17:30 ", (1, time(17, 30))),
        ("WED 00:00", (2, time(0, 0))),
        ("thu 23:59", (3, time(23, 59))),
        ("fri 12:15", (4, time(12, 15))),
        ("sat 08:00", (5, time(8, 0))),
        ("sunday 06:45", (6, time(6, 45))),
    ],
)
def test_parse_handoff(text, expected):
    assert parse_handoff(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "expected a weekday and a 24-hour time"),
        ("mon", "expected a weekday"),
        ("09:00", "expected a weekday"),
        ("mon 9am", "expected a weekday"),
        ("mon 09:00:00", "expected a weekday"),
        ("funday 09:00", "unknown weekday 'funday'"),
        ("mon 24:00", "not a valid time"),
        ("mon 09:60", "not a valid time"),
        (None, "must be a string"),
    ],
)
def test_parse_handoff_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        parse_handoff(text)


# ------------------------------------------------------------------ rotation


@pytest.mark.parametrize(
    "now, primary, secondary, since, until",
    [
        # just before the handoff that opens the start's week: the week before (k = -1)
        (utc(2024, 1, 1, 15, 59), "cy", "ann", utc(2023, 12, 25, 16), utc(2024, 1, 1, 16)),
        (utc(2024, 1, 1, 16, 0), "ann", "bob", utc(2024, 1, 1, 16), utc(2024, 1, 8, 16)),
        (utc(2024, 1, 5, 3, 0), "ann", "bob", utc(2024, 1, 1, 16), utc(2024, 1, 8, 16)),
        (utc(2024, 1, 8, 15, 59, 59), "ann", "bob", utc(2024, 1, 1, 16), utc(2024, 1, 8, 16)),
        (utc(2024, 1, 8, 16, 0), "bob", "cy", utc(2024, 1, 8, 16), utc(2024, 1, 15, 16)),
        (utc(2024, 1, 15, 16, 0), "cy", "ann", utc(2024, 1, 15, 16), utc(2024, 1, 22, 16)),
        (utc(2024, 1, 22, 16, 0), "ann", "bob", utc(2024, 1, 22, 16), utc(2024, 1, 29, 16)),
        # far from the anchor, and summer (still 16:00 UTC: no DST in Phoenix)
        (utc(2024, 7, 3, 12, 0), "cy", "ann", utc(2024, 7, 1, 16), utc(2024, 7, 8, 16)),  # k = 26
        (utc(2023, 6, 1, 0, 0), "cy", "ann", utc(2023, 5, 29, 16), utc(2023, 6, 5, 16)),  # k = -31
    ],
)
def test_rotation_across_weeks(now, primary, secondary, since, until):
    assert on_call(DESK, now) == OnCall(primary, secondary, since, until)
    # the same instant in another zone gives the same answer
    assert on_call(DESK, now.astimezone(BERLIN)) == OnCall(primary, secondary, since, until)


def test_result_is_utc():
    got = on_call(DESK, datetime(2024, 1, 3, 10, 0, tzinfo=PHX))
    assert got.since.tzinfo is UTC and got.until.tzinfo is UTC


def test_anchor_not_on_handoff_weekday():
    # Start on a Wednesday: the week that contains it began on Monday 1 January (issue 19: the code used to
    # count from the first handoff after it, so a fresh desk paged the wrong people for up to a week).
    rot = Rotation(("ann", "bob"), 0, time(9), PHX, anchor=date(2024, 1, 3))
    assert on_call(rot, utc(2024, 1, 3, 7)) == OnCall("ann", "bob", utc(2024, 1, 1, 16), utc(2024, 1, 8, 16))
    assert on_call(rot, utc(2024, 1, 8, 15)).primary == "ann"
    assert on_call(rot, utc(2024, 1, 8, 16)).primary == "bob"
    assert on_call(rot, utc(2024, 1, 15, 16)).primary == "ann"


def test_start_on_the_handoff_day_is_the_first_persons_all_day():
    # Start Monday 1 January, handoff Monday 09:00: ann is primary before 09:00 and after it, so that day's
    # handoff is skipped and her first shift reaches back to the handoff before (Monday 25 December).
    rot = Rotation(("ann", "bob", "cy"), 0, time(9), PHX, anchor=date(2024, 1, 1))
    for t in (utc(2024, 1, 1, 7), utc(2024, 1, 1, 15, 59), utc(2024, 1, 1, 16), utc(2024, 1, 2, 6, 59)):
        assert on_call(rot, t) == OnCall("ann", "bob", utc(2023, 12, 25, 16), utc(2024, 1, 8, 16))
    assert on_call(rot, utc(2024, 1, 8, 16)).primary == "bob"
    assert on_call(rot, utc(2023, 12, 25, 15, 59)).primary == "cy"
    assert handoffs(rot, utc(2024, 1, 1, 8)) == [
        (utc(2024, 1, 8, 16), "bob", "cy"), (utc(2024, 1, 15, 16), "cy", "ann"), (utc(2024, 1, 22, 16), "ann", "bob")]
    # A handoff at midnight needs no skipping: the start's week is the week from that midnight.
    midnight = Rotation(("ann", "bob"), 0, time(0), PHX, anchor=date(2024, 1, 1))
    assert on_call(midnight, utc(2024, 1, 1, 7)) == OnCall("ann", "bob", utc(2024, 1, 1, 7), utc(2024, 1, 8, 7))
    assert on_call(midnight, utc(2024, 1, 1, 6, 59)).primary == "bob"


@pytest.mark.parametrize("tz", [PHX, BERLIN, NY, ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Pacific/Pago_Pago")])
@pytest.mark.parametrize("handoff", ["mon 09:00", "mon 00:00", "sun 23:59", "wed 17:30", "fri 00:01"])
def test_the_start_day_is_rotation_zeros_at_every_time_of_day(tz, handoff):
    weekday, at = parse_handoff(handoff)
    for start in (date(2026, 3, 2) + timedelta(days=i) for i in range(7)):  # Mon 2 Mar 2026 .. Sun 8 Mar
        rot = Rotation(("ann", "bob", "cy"), weekday, at, tz, anchor=start)
        midnight = datetime.combine(start, time(0), tzinfo=tz)
        for minutes in [*range(0, 24 * 60, 37), 24 * 60 - 1, at.hour * 60 + at.minute - 1, at.hour * 60 + at.minute]:
            t = midnight + timedelta(minutes=max(0, min(minutes, 24 * 60 - 1)))
            got = on_call(rot, t)
            assert (got.primary, got.secondary) == ("ann", "bob"), (handoff, start, t)
            assert got.since <= t.astimezone(UTC) < got.until
        # and the next shift is bob's, from the first handoff once the start's day is over, a week or two on
        nxt = on_call(rot, got.until)
        assert nxt.primary == "bob" and nxt.since >= datetime.combine(start + timedelta(days=1), time(0), tzinfo=tz)
        assert timedelta(days=6) < nxt.since - got.since < timedelta(days=15)


def test_friday_handoff():
    fri, at = parse_handoff("fri 17:30")
    rot = Rotation(("ann", "bob", "cy"), fri, at, PHX, anchor=date(2024, 1, 1))
    # Monday 1 January lies in the shift from Friday 29 December 17:30 MST (00:30 UTC Saturday) to Friday 5 January
    assert on_call(rot, utc(2024, 1, 6, 0, 29)) == OnCall("ann", "bob", utc(2023, 12, 30, 0, 30),
                                                          utc(2024, 1, 6, 0, 30))
    assert on_call(rot, utc(2024, 1, 6, 0, 30)) == OnCall("bob", "cy", utc(2024, 1, 6, 0, 30), utc(2024, 1, 13, 0, 30))


def test_single_person_has_no_secondary():
    rot = Rotation(("solo",), 0, time(9), PHX)
    for weeks in range(4):
        got = on_call(rot, utc(2024, 1, 2) + timedelta(weeks=weeks))
        assert (got.primary, got.secondary) == ("solo", None)


def test_two_people_alternate():
    rot = Rotation(("ann", "bob"), 0, time(9), PHX)
    seen = [(c.primary, c.secondary) for c in (on_call(rot, utc(2024, 1, 2) + timedelta(weeks=w)) for w in range(4))]
    assert seen == [("ann", "bob"), ("bob", "ann"), ("ann", "bob"), ("bob", "ann")]


@pytest.mark.parametrize(
    "tz, before, after_, first, second",
    [
        # Berlin springs forward on Sun 31 Mar 2024: Mon 09:00 is 08:00 UTC, then 07:00 UTC.
        (BERLIN, utc(2024, 4, 1, 6, 59), utc(2024, 4, 1, 7, 0), utc(2024, 3, 25, 8), utc(2024, 4, 1, 7)),
        # New York falls back on Sun 3 Nov 2024: Mon 09:00 is 13:00 UTC, then 14:00 UTC.
        (NY, utc(2024, 11, 4, 13, 59), utc(2024, 11, 4, 14, 0), utc(2024, 10, 28, 13), utc(2024, 11, 4, 14)),
    ],
)
def test_handoff_stays_at_local_time_across_dst(tz, before, after_, first, second):
    rot = Rotation(("ann", "bob"), 0, time(9), tz, anchor=first.date() + timedelta(days=1))
    old = on_call(rot, before)
    new = on_call(rot, after_)
    assert (old.primary, old.since, old.until) == ("ann", first, second)
    assert (new.primary, new.since) == ("bob", second)
    assert new.since.astimezone(tz).time() == time(9, 0)
    assert old.since.astimezone(tz).time() == time(9, 0)
    assert old.until - old.since != timedelta(weeks=1)  # 167 or 169 hours


# ------------------------------------------------------------------ overrides


def test_override_replaces_primary_only_while_active():
    ov = Override(utc(2024, 1, 3, 12), utc(2024, 1, 3, 20), "primary", "dee")
    assert on_call(DESK, utc(2024, 1, 3, 11, 59), [ov]).primary == "ann"
    active = on_call(DESK, utc(2024, 1, 3, 12), [ov])
    assert (active.primary, active.secondary) == ("dee", "bob")
    assert on_call(DESK, utc(2024, 1, 3, 20), [ov]).primary == "ann"  # end is exclusive


def test_override_narrows_since_until():
    ov = Override(utc(2024, 1, 3, 12), utc(2024, 1, 3, 20), "primary", "dee")
    assert on_call(DESK, utc(2024, 1, 2), [ov]) == OnCall("ann", "bob", utc(2024, 1, 1, 16), utc(2024, 1, 3, 12))
    assert on_call(DESK, utc(2024, 1, 3, 13), [ov]) == OnCall("dee", "bob", utc(2024, 1, 3, 12), utc(2024, 1, 3, 20))
    assert on_call(DESK, utc(2024, 1, 4), [ov]) == OnCall("ann", "bob", utc(2024, 1, 3, 20), utc(2024, 1, 8, 16))


def test_override_across_handoff_is_clipped_to_the_shift():
    ov = Override(utc(2024, 1, 7), utc(2024, 1, 10), "secondary", "dee")
    assert on_call(DESK, utc(2024, 1, 8, 12), [ov]) == OnCall("ann", "dee", utc(2024, 1, 7), utc(2024, 1, 8, 16))
    assert on_call(DESK, utc(2024, 1, 9), [ov]) == OnCall("bob", "dee", utc(2024, 1, 8, 16), utc(2024, 1, 10))


def test_latest_starting_override_wins():
    long = Override(utc(2024, 1, 2), utc(2024, 1, 7), "primary", "dee")
    short = Override(utc(2024, 1, 3), utc(2024, 1, 4), "primary", "eve")
    for order in ([long, short], [short, long]):
        assert on_call(DESK, utc(2024, 1, 2, 12), order).primary == "dee"
        assert on_call(DESK, utc(2024, 1, 3, 12), order).primary == "eve"
        assert on_call(DESK, utc(2024, 1, 5), order).primary == "dee"
    # same start: the later one in the sequence wins
    a = Override(utc(2024, 1, 3), utc(2024, 1, 4), "primary", "fay")
    b = Override(utc(2024, 1, 3), utc(2024, 1, 5), "primary", "gus")
    assert on_call(DESK, utc(2024, 1, 3, 12), [a, b]).primary == "gus"
    assert on_call(DESK, utc(2024, 1, 3, 12), [b, a]).primary == "fay"


def test_primary_and_secondary_overrides_together_and_any_zone():
    ovs = [
        Override(datetime(2024, 1, 3, 8, tzinfo=BERLIN), datetime(2024, 1, 3, 18, tzinfo=BERLIN), "primary", "dee"),
        Override(utc(2024, 1, 3), utc(2024, 1, 4), "secondary", "eve"),
    ]
    got = on_call(DESK, datetime(2024, 1, 3, 5, tzinfo=PHX), ovs)  # 12:00 UTC
    assert (got.primary, got.secondary) == ("dee", "eve")
    assert got.since == utc(2024, 1, 3, 7) and got.until == utc(2024, 1, 3, 17)


def test_override_gives_a_single_person_rotation_a_secondary():
    rot = Rotation(("solo",), 0, time(9), PHX)
    ov = Override(utc(2024, 1, 3), utc(2024, 1, 4), "secondary", "backup")
    assert on_call(rot, utc(2024, 1, 3, 12), [ov]).secondary == "backup"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(position="tertiary"), "position"),
        (dict(end=utc(2024, 1, 3)), "end must be after"),
        (dict(start=datetime(2024, 1, 3)), "timezone-aware"),
        (dict(handle=""), "handle"),
    ],
)
def test_override_validation(kwargs, message):
    base = dict(start=utc(2024, 1, 3), end=utc(2024, 1, 4), position="primary", handle="dee")
    with pytest.raises(ValueError, match=message):
        Override(**{**base, **kwargs})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(handles=()), "at least one handle"),
        (dict(handles="ann"), "not one string"),
        (dict(handles=("ann", "")), "non-empty"),
        (dict(handoff_weekday=7), "weekday"),
        (dict(handoff_time="09:00"), "handoff time"),
    ],
)
def test_rotation_validation(kwargs, message):
    base = dict(handles=("ann",), handoff_weekday=0, handoff_time=time(9), tz=PHX)
    with pytest.raises(ValueError, match=message):
        Rotation(**{**base, **kwargs})


def test_rotation_accepts_a_list_of_handles():
    assert Rotation(["ann", "bob"], 0, time(9), PHX).handles == ("ann", "bob")


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        on_call(DESK, datetime(2024, 1, 3, 12))


# ------------------------------------------------------------------ handoffs


def test_handoffs_next_three():
    assert handoffs(DESK, utc(2024, 1, 3)) == [
        (utc(2024, 1, 8, 16), "bob", "cy"),
        (utc(2024, 1, 15, 16), "cy", "ann"),
        (utc(2024, 1, 22, 16), "ann", "bob"),
    ]


def test_handoffs_are_strictly_after_now():
    assert handoffs(DESK, utc(2024, 1, 8, 16), count=1) == [(utc(2024, 1, 15, 16), "cy", "ann")]
    assert handoffs(DESK, utc(2024, 1, 8, 15, 59), count=1) == [(utc(2024, 1, 8, 16), "bob", "cy")]
    assert handoffs(DESK, utc(2024, 1, 3), count=0) == []


def test_handoffs_ignore_overrides_and_follow_dst():
    rot = Rotation(("ann", "bob", "cy"), 0, time(9), BERLIN, anchor=date(2024, 3, 19))
    got = handoffs(rot, utc(2024, 3, 20), count=3)
    assert [t for t, *_ in got] == [utc(2024, 3, 25, 8), utc(2024, 4, 1, 7), utc(2024, 4, 8, 7)]
    assert [p for _, p, _ in got] == ["bob", "cy", "ann"]
    assert all(t.astimezone(BERLIN).time() == time(9) for t, *_ in got)


def test_handoffs_single_person():
    rot = Rotation(("solo",), 0, time(9), PHX)
    assert handoffs(rot, utc(2024, 1, 3), count=2) == [(utc(2024, 1, 8, 16), "solo", None),
                                                       (utc(2024, 1, 15, 16), "solo", None)]


def test_handoffs_negative_count():
    with pytest.raises(ValueError, match="count"):
        handoffs(DESK, utc(2024, 1, 3), count=-1)


def test_secondary_stepping_up_swaps_with_the_displaced_primary():
    from datetime import date, datetime, time
    from zoneinfo import ZoneInfo

    from console.alerts.oncall import Override, Rotation, on_call

    rot = Rotation(handles=("ann", "bob", "cy"), handoff_weekday=0, handoff_time=time(9), tz=ZoneInfo("UTC"),
                   anchor=date(2026, 11, 2))
    now = datetime(2026, 11, 3, 12, tzinfo=UTC)
    assert (on_call(rot, now).primary, on_call(rot, now).secondary) == ("ann", "bob")
    ov = Override(start=now, end=datetime(2026, 11, 4, tzinfo=UTC), position="primary", handle="bob")
    got = on_call(rot, now, [ov])
    assert (got.primary, got.secondary) == ("bob", "ann")
