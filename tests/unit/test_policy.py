"""console.policy: deadlines, escalation steps, business hours, durations. Frozen times, no sleeps."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta, UTC
from zoneinfo import ZoneInfo

import pytest

from console.policy import (
    AUDIENCES,
    CLASSES,
    BusinessHours,
    SlaPolicy,
    Step,
    deadline,
    due_steps,
    first_step_at,
    is_breached,
    next_step_at,
    parse_duration,
    schedule,
    time_left,
    warn_at,
)

NY = ZoneInfo("America/New_York")
PHX = ZoneInfo("America/Phoenix")
BERLIN = ZoneInfo("Europe/Berlin")

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)  # a Monday
M = timedelta(minutes=1)
H = timedelta(hours=1)
POLICY = SlaPolicy()

OFFICE = BusinessHours(tz=NY, weekly={d: (time(9), time(17)) for d in range(5)})  # Mon-Fri 09-17


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


def names(steps) -> list[str]:
    return [s.name for s in steps]


# ------------------------------------------------------------------ deadlines


@pytest.mark.parametrize(
    "cls, target",
    [("I", 72 * H), ("II", 8 * H), ("III", 15 * M)],
)
def test_deadline_defaults(cls, target):
    assert deadline(cls, T0, POLICY) == T0 + target
    # input in any zone, output in UTC
    local = deadline(cls, T0.astimezone(PHX), POLICY)
    assert local == T0 + target and local.tzinfo is UTC


@pytest.mark.parametrize(
    "cls, expected",
    [("I", T0 + timedelta(hours=57, minutes=36)), ("II", T0 + timedelta(hours=6, minutes=24)), ("III", T0 + 12 * M)],
)
def test_warn_at_is_80_percent(cls, expected):
    assert warn_at(cls, T0, POLICY) == expected


def test_custom_targets_and_unknown_class():
    policy = SlaPolicy(targets={"I": 24 * H, "II": 4 * H, "III": 30 * M})
    assert deadline("II", T0, policy) == T0 + 4 * H
    with pytest.raises(ValueError, match="unknown support class 'IV'"):
        deadline("IV", T0, policy)
    with pytest.raises(ValueError, match="unknown support class"):
        list(schedule("iii", T0, policy))


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline("I", datetime(2024, 5, 6, 12, 0), POLICY)
    with pytest.raises(ValueError, match="timezone-aware"):
        due_steps("III", T0, POLICY, after=None, now=datetime(2024, 5, 6, 12, 0))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(targets={"I": H, "II": H}), "missing for class III"),
        (dict(targets={"I": H, "II": H, "III": timedelta(0)}), "positive"),
        (dict(targets={"I": H, "II": H, "III": H, "IV": H}), "unknown support class"),
        (dict(warn_fraction=1.0), "warn_fraction"),
        (dict(warn_fraction=0), "warn_fraction"),
        (dict(repeat_every=timedelta(0)), "repeat_every"),
        (dict(escalate_after=-M), "escalate_after"),
        (dict(business_hours={"II": "9-5"}), "BusinessHours"),
    ],
)
def test_policy_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SlaPolicy(**kwargs)


# ------------------------------------------------------------------ schedules


def test_class_iii_schedule():
    steps = list(itertools.islice(schedule("III", T0, POLICY), 6))
    assert steps[:3] == [
        Step("arrival", "III", T0, "page", ("primary", "secondary"), True),
        Step("escalate", "III", T0 + 10 * M, "escalate", ("team",), True),
        Step("breach", "III", T0 + 15 * M, "breach", ("team", "supervisors"), True),
    ]
    assert steps[3:] == [
        Step(f"repeat-{n}", "III", T0 + (15 + 5 * n) * M, "repeat", ("team", "supervisors"), True)
        for n in (1, 2, 3)
    ]


def test_class_iii_schedule_is_infinite_and_ordered():
    steps = list(itertools.islice(schedule("III", T0, POLICY), 500))
    assert steps[-1].name == "repeat-497"
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    assert len({s.name for s in steps}) == len(steps)


def test_class_ii_schedule():
    assert list(schedule("II", T0, POLICY)) == [
        Step("arrival", "II", T0, "notify", ("primary", "secondary"), False),
        Step("warn", "II", T0 + timedelta(hours=6, minutes=24), "warn", ("primary", "secondary"), False),
        Step("breach", "II", T0 + 8 * H, "breach", ("primary", "secondary", "supervisors"), True),
    ]


def test_class_i_schedule():
    assert list(schedule("I", T0, POLICY)) == [
        Step("warn", "I", T0 + timedelta(hours=57, minutes=36), "warn", ("assignee",), False),
        Step("breach", "I", T0 + 72 * H, "breach", ("assignee", "supervisors"), True),
    ]


def test_steps_use_known_audiences_and_utc():
    for cls in CLASSES:
        for step in itertools.islice(schedule(cls, T0.astimezone(BERLIN), POLICY), 8):
            assert set(step.audience) <= set(AUDIENCES)
            assert step.at.tzinfo is UTC
            assert step.cls == cls


def test_escalate_dropped_when_not_before_breach():
    policy = SlaPolicy(escalate_after=15 * M)
    assert names(itertools.islice(schedule("III", T0, policy), 4)) == ["arrival", "breach", "repeat-1", "repeat-2"]


# ------------------------------------------------------------------ due_steps / next_step_at


@pytest.mark.parametrize(
    "cls, after, now, expected",
    [
        # arrival only when after is None
        ("III", None, T0, ["arrival"]),
        ("III", None, T0 + 9 * M, ["arrival"]),
        ("III", T0, T0 + 9 * M, []),
        ("III", T0, T0 + 10 * M, ["escalate"]),
        ("III", T0 + 10 * M, T0 + 15 * M, ["breach"]),
        ("III", T0 + 15 * M, T0 + 20 * M, ["repeat-1"]),
        ("III", T0 + 20 * M, T0 + 24 * M, []),
        ("III", T0 + 14 * M, T0 + 22 * M, ["breach", "repeat-1"]),
        ("III", None, T0 + 16 * M, ["arrival", "escalate", "breach"]),
        # a poller down for an hour: one repeat, the latest
        ("III", T0 + 20 * M, T0 + 80 * M, ["repeat-13"]),
        ("III", T0 + 20 * M, T0 + 84 * M, ["repeat-13"]),
        ("III", T0 + 80 * M, T0 + 84 * M, []),
        ("III", None, T0 + 47 * M, ["arrival", "escalate", "breach", "repeat-6"]),
        # window is (after, now]
        ("III", T0 + 10 * M, T0 + 10 * M, []),
        ("II", None, T0, ["arrival"]),
        ("II", T0, T0 + 6 * H, []),
        ("II", T0, T0 + 8 * H, ["warn", "breach"]),
        ("II", T0 + 8 * H, T0 + 100 * H, []),
        ("I", None, T0, []),
        ("I", None, T0 + 100 * H, ["warn", "breach"]),
        ("I", T0 + 60 * H, T0 + 72 * H, ["breach"]),
    ],
)
def test_due_steps_windows(cls, after, now, expected):
    assert names(due_steps(cls, T0, POLICY, after=after, now=now)) == expected


def test_due_steps_repeat_time_and_any_zone():
    [step] = due_steps("III", T0, POLICY, after=(T0 + 20 * M).astimezone(NY), now=(T0 + 82 * M).astimezone(BERLIN))
    assert step.name == "repeat-13" and step.at == T0 + 80 * M and step.at.tzinfo is UTC


def test_due_steps_year_old_ticket_is_cheap():
    [step] = due_steps("III", T0, POLICY, after=T0 + 365 * 24 * H - 6 * M, now=T0 + 365 * 24 * H)
    assert step.name == f"repeat-{(365 * 24 * 60 - 15) // 5}"


@pytest.mark.parametrize(
    "cls, after, expected",
    [
        ("III", T0 - M, T0),
        ("III", T0, T0 + 10 * M),
        ("III", T0 + 10 * M, T0 + 15 * M),
        ("III", T0 + 15 * M, T0 + 20 * M),
        ("III", T0 + 22 * M, T0 + 25 * M),
        ("III", T0 + 25 * M, T0 + 30 * M),
        ("III", T0 + 10 * H, T0 + 10 * H + 5 * M),
        ("II", T0 - M, T0),
        ("II", T0, T0 + timedelta(hours=6, minutes=24)),
        ("II", T0 + 7 * H, T0 + 8 * H),
        ("II", T0 + 8 * H, None),
        ("I", T0 - M, T0 + timedelta(hours=57, minutes=36)),
        ("I", T0, T0 + timedelta(hours=57, minutes=36)),
        ("I", T0 + 72 * H, None),
    ],
)
def test_next_step_at(cls, after, expected):
    assert next_step_at(cls, T0, POLICY, after=after) == expected


III_OFFICE = SlaPolicy(business_hours={"III": OFFICE})


@pytest.mark.parametrize("policy", [POLICY, III_OFFICE], ids=["24x7", "office-hours"])
@pytest.mark.parametrize("cls", CLASSES)
def test_due_steps_and_next_step_agree_with_schedule(cls, policy):
    received = ny(2024, 5, 10, 16, 53)  # Friday, near closing
    steps = list(itertools.islice(schedule(cls, received, policy), 40))
    horizon = steps[-1].at
    half_a_minute = 30 * 1_000_000 * timedelta.resolution
    probes = sorted({received - M, *(s.at for s in steps), *(s.at + half_a_minute for s in steps)})
    probes = [p for p in probes if p < horizon]
    for after, now in itertools.combinations([None, *probes], 2):
        window = [s for s in steps if (after is None or s.at > after) and s.at <= now]
        repeats = [s for s in window if s.kind == "repeat"]
        expected = [s for s in window if s.kind != "repeat"] + repeats[-1:]
        assert due_steps(cls, received, policy, after=after, now=now) == expected, (after, now)
    for after in probes:
        assert next_step_at(cls, received, policy, after=after) == next(s.at for s in steps if s.at > after)


@pytest.mark.parametrize("policy", [POLICY, III_OFFICE], ids=["24x7", "office-hours"])
@pytest.mark.parametrize("cls", CLASSES)
def test_first_step_at_is_the_first_step_of_the_schedule(cls, policy):
    start = ny(2024, 5, 10, 16, 53)  # Friday, near closing: office hours push Class I past the weekend
    for received in (start + k * 37 * M for k in range(200)):
        assert first_step_at(cls, received, policy) == next(schedule(cls, received, policy)).at, received


# ------------------------------------------------------------------ acknowledgement / breach


@pytest.mark.parametrize(
    "now, acked, breached",
    [
        (T0 + 5 * M, None, False),
        (T0 + 15 * M, None, False),  # exactly at the deadline: not yet
        (T0 + 16 * M, None, True),
        (T0 + 16 * M, T0 + 5 * M, False),  # acked before escalation
        (T0 + 16 * M, T0 + 12 * M, False),  # acked after escalation, before breach
        (T0 + 16 * M, T0 + 15 * M, False),  # acked exactly at the deadline
        (T0 + 16 * M, T0 + 15 * M + timedelta(seconds=1), True),  # acked late: stays breached
        (T0 + 99 * H, T0 + 14 * M, False),  # an early ack stays in time forever
    ],
)
def test_is_breached(now, acked, breached):
    due = deadline("III", T0, POLICY)
    assert is_breached(due, now, acked) is breached
    assert is_breached(due.astimezone(PHX), now.astimezone(BERLIN), acked and acked.astimezone(NY)) is breached


@pytest.mark.parametrize(
    "now, left",
    [(T0, 15 * M), (T0 + 15 * M, timedelta(0)), (T0 + 20 * M, -5 * M)],
)
def test_time_left(now, left):
    due = deadline("III", T0, POLICY)
    assert time_left(due, now) == left
    assert time_left(due.astimezone(NY), now.astimezone(BERLIN)) == left


def test_time_left_same_zone_across_dst():
    # Both in the same ZoneInfo: naive wall-clock subtraction would say 24h.
    before = ny(2024, 3, 9, 12, 0)
    after = ny(2024, 3, 10, 12, 0)
    assert time_left(after, before) == 23 * H


# ------------------------------------------------------------------ reclassification


def test_reclassify_class_i_to_iii_uses_original_received_at():
    received = T0
    now = T0 + 20 * M
    assert not is_breached(deadline("I", received, POLICY), now, None)
    due = deadline("III", received, POLICY)
    assert due == T0 + 15 * M
    assert is_breached(due, now, None)
    assert time_left(due, now) == -5 * M
    # The new class has its own step names; nothing of it was fired yet.
    assert names(due_steps("III", received, POLICY, after=None, now=now)) == [
        "arrival", "escalate", "breach", "repeat-1",
    ]
    # Longer ago: the repeats collapse into the latest one.
    late = due_steps("III", received, POLICY, after=None, now=T0 + 47 * M)
    assert names(late) == ["arrival", "escalate", "breach", "repeat-6"]
    assert late[-1].at == T0 + 45 * M
    assert next_step_at("III", received, POLICY, after=now) == T0 + 25 * M


def test_reclassify_class_iii_to_i_relaxes_deadline():
    now = T0 + 20 * M
    assert is_breached(deadline("III", T0, POLICY), now, None)
    assert not is_breached(deadline("I", T0, POLICY), now, None)
    assert due_steps("I", T0, POLICY, after=None, now=now) == []


# ------------------------------------------------------------------ business hours


@pytest.mark.parametrize(
    "start, delta, expected",
    [
        # inside hours
        (ny(2024, 5, 6, 10, 0), 2 * H, ny(2024, 5, 6, 12, 0)),
        # before opening: counts from 09:00
        (ny(2024, 5, 6, 7, 0), 2 * H, ny(2024, 5, 6, 11, 0)),
        # work ending exactly at closing stays on that day
        (ny(2024, 5, 10, 16, 0), H, ny(2024, 5, 10, 17, 0)),
        # Friday evening lands Monday
        (ny(2024, 5, 10, 18, 30), 8 * H, ny(2024, 5, 13, 17, 0)),
        (ny(2024, 5, 10, 16, 0), 8 * H, ny(2024, 5, 13, 16, 0)),
        # Saturday counts from Monday morning
        (ny(2024, 5, 11, 12, 0), 30 * M, ny(2024, 5, 13, 9, 30)),
        # several days
        (ny(2024, 5, 6, 9, 0), 72 * H, ny(2024, 5, 16, 17, 0)),
        # zero returns the start itself
        (ny(2024, 5, 11, 12, 0), timedelta(0), ny(2024, 5, 11, 12, 0)),
    ],
)
def test_business_hours_add(start, delta, expected):
    got = OFFICE.add(start, delta)
    assert got == expected and got.tzinfo is UTC
    if delta and OFFICE.is_open(start):
        assert OFFICE.elapsed(start, got) == delta


def test_business_hours_elapsed():
    assert OFFICE.elapsed(ny(2024, 5, 10, 16, 0), ny(2024, 5, 13, 10, 0)) == 2 * H
    assert OFFICE.elapsed(ny(2024, 5, 11, 0, 0), ny(2024, 5, 12, 23, 0)) == timedelta(0)
    assert OFFICE.elapsed(ny(2024, 5, 6, 0, 0), ny(2024, 5, 13, 0, 0)) == 40 * H
    assert OFFICE.elapsed(ny(2024, 5, 13, 10, 0), ny(2024, 5, 10, 16, 0)) == -2 * H


def test_class_ii_friday_evening_lands_monday():
    policy = SlaPolicy(business_hours={"II": OFFICE})
    received = ny(2024, 5, 10, 16, 0)  # Friday 16:00
    assert deadline("II", received, policy) == ny(2024, 5, 13, 16, 0)
    assert warn_at("II", received, policy) == ny(2024, 5, 13, 14, 24)
    # other classes are unaffected
    assert deadline("III", received, policy) == received + 15 * M
    steps = list(schedule("II", received, policy))
    assert [s.at for s in steps] == [received, ny(2024, 5, 13, 14, 24), ny(2024, 5, 13, 16, 0)]
    # Over the weekend nothing further is due
    assert due_steps("II", received, policy, after=received, now=ny(2024, 5, 12, 23, 0)) == []


def test_holidays_are_skipped():
    memorial_day = date(2024, 5, 27)
    hours = BusinessHours(tz=NY, weekly=OFFICE.weekly, holidays=frozenset({memorial_day}))
    policy = SlaPolicy(business_hours={"II": hours})
    assert deadline("II", ny(2024, 5, 24, 16, 0), policy) == ny(2024, 5, 28, 16, 0)
    assert hours.elapsed(ny(2024, 5, 24, 0, 0), ny(2024, 5, 29, 0, 0)) == 16 * H
    assert not hours.is_open(ny(2024, 5, 27, 12, 0))
    assert hours.is_open(ny(2024, 5, 28, 12, 0))


@pytest.mark.parametrize(
    "received, expected_utc",
    [
        # spring forward (Sun 10 Mar 2024): Fri 15:00 EST + 8h -> Mon 15:00 EDT
        (ny(2024, 3, 8, 15, 0), datetime(2024, 3, 11, 19, 0, tzinfo=UTC)),
        # fall back (Sun 3 Nov 2024): Fri 15:00 EDT + 8h -> Mon 15:00 EST
        (ny(2024, 11, 1, 15, 0), datetime(2024, 11, 4, 20, 0, tzinfo=UTC)),
    ],
)
def test_business_hours_across_dst_keep_local_opening(received, expected_utc):
    policy = SlaPolicy(business_hours={"II": OFFICE})
    due = deadline("II", received, policy)
    assert due == expected_utc
    assert due.astimezone(NY).time() == time(15, 0)


def test_business_hours_window_containing_dst_change():
    sundays = BusinessHours(tz=NY, weekly={6: (time(0), time(6))})
    start, end = ny(2024, 3, 10, 0, 0), ny(2024, 3, 10, 6, 0)  # 02:00 -> 03:00 skipped
    assert sundays.elapsed(start, end) == 5 * H
    assert sundays.add(start, 5 * H) == end == datetime(2024, 3, 10, 10, 0, tzinfo=UTC)
    fall = BusinessHours(tz=NY, weekly={6: (time(0), time(6))})
    assert fall.elapsed(ny(2024, 11, 3, 0, 0), ny(2024, 11, 3, 6, 0)) == 7 * H


def test_business_hours_all_day_window():
    always = BusinessHours(tz=BERLIN, weekly={d: (time(0), time(0)) for d in range(7)}, holidays={date(2024, 12, 25)})
    assert isinstance(always.holidays, frozenset)
    start = datetime(2024, 12, 24, 23, 0, tzinfo=BERLIN)
    assert always.add(start, 2 * H) == datetime(2024, 12, 26, 1, 0, tzinfo=BERLIN)


def test_class_iii_escalation_and_repeats_in_working_time():
    received = ny(2024, 5, 10, 16, 55)  # Friday, 5 minutes before closing
    steps = list(itertools.islice(schedule("III", received, III_OFFICE), 5))
    assert [(s.name, s.at) for s in steps] == [
        ("arrival", received),  # the page still goes out at once
        ("escalate", ny(2024, 5, 13, 9, 5)),
        ("breach", ny(2024, 5, 13, 9, 10)),
        ("repeat-1", ny(2024, 5, 13, 9, 15)),
        ("repeat-2", ny(2024, 5, 13, 9, 20)),
    ]
    assert due_steps("III", received, III_OFFICE, after=received, now=ny(2024, 5, 11, 12, 0)) == []
    assert next_step_at("III", received, III_OFFICE, after=ny(2024, 5, 11, 12, 0)) == ny(2024, 5, 13, 9, 5)
    assert names(due_steps("III", received, III_OFFICE, after=received, now=ny(2024, 5, 13, 9, 32))) == [
        "escalate", "breach", "repeat-4",
    ]
    # repeats pause overnight: one lands exactly at Monday's closing, the next Tuesday 09:05
    assert next_step_at("III", received, III_OFFICE, after=ny(2024, 5, 13, 16, 58)) == ny(2024, 5, 13, 17, 0)
    assert next_step_at("III", received, III_OFFICE, after=ny(2024, 5, 13, 17, 0)) == ny(2024, 5, 14, 9, 5)


@pytest.mark.parametrize(
    "weekly, message",
    [
        ({}, "at least one open weekday"),
        ({7: (time(9), time(17))}, "weekday must be 0"),
        ({0: (time(17), time(9))}, "must be after start"),
        ({0: (time(9), time(9))}, "must be after start"),
        ({0: ("09:00", "17:00")}, "datetime.time"),
        ({0: (time(9),)}, "pair"),
    ],
)
def test_business_hours_validation(weekly, message):
    with pytest.raises(ValueError, match=message):
        BusinessHours(tz=NY, weekly=weekly)


def test_business_hours_add_refuses_negative():
    with pytest.raises(ValueError, match="negative"):
        OFFICE.add(ny(2024, 5, 6, 10, 0), -H)


# ------------------------------------------------------------------ durations


@pytest.mark.parametrize(
    "text, expected",
    [
        ("72h", 72 * H),
        ("15m", 15 * M),
        ("30s", timedelta(seconds=30)),
        ("1h30m", 90 * M),
        ("2d", timedelta(days=2)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        (" 1h 30m ", 90 * M),
        ("10M", 10 * M),
        ("0m", timedelta(0)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "invalid duration ''"),
        ("   ", "invalid duration"),
        ("15", "a unit is required"),
        ("1.5h", "whole numbers"),
        ("15 minutes", "invalid duration"),
        ("m", "invalid duration"),
        ("30m1h", "in that order"),
        ("1h1h", "invalid duration"),
        ("-5m", "invalid duration"),
        ("5w", "invalid duration"),
        (15, "must be a string"),
    ],
)
def test_parse_duration_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        parse_duration(text)
