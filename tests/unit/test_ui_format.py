from datetime import datetime, timedelta, timezone

from console.ui import format as f


def test_countdown_minutes_hours_days():
    assert f.countdown(14 * 60 + 59) == "14:59"
    assert f.countdown(0) == "0:00"
    assert f.countdown(59) == "0:59"
    assert f.countdown(7 * 3600 + 59 * 60 + 12) == "7:59:12"
    assert f.countdown(3600) == "1:00:00"
    assert f.countdown(2 * 86400 + 23 * 3600 + 59 * 60) == "2d 23h"
    assert f.countdown(None) == "-"


def test_countdown_breached():
    assert f.countdown(-(3 * 60 + 12)) == "-3:12 BREACHED"
    assert f.countdown(-0.2) == "-0:01 BREACHED"
    assert f.countdown(-(2 * 3600 + 5)) == "-2:00:05 BREACHED"
    assert f.countdown(-(3 * 86400)) == "-3d 0h BREACHED"


def test_seconds_left_rounds_down():
    now = datetime(2026, 1, 5, 12, 0, 0, tzinfo=timezone.utc)
    assert f.seconds_left(now + timedelta(seconds=10), now) == 10
    assert f.seconds_left(now - timedelta(milliseconds=1), now) == -1


def test_level():
    target = 15 * 60
    assert f.level(target, target) == "ok"
    assert f.level(target * 0.21, target) == "ok"
    assert f.level(target * 0.2, target) == "warn"
    assert f.level(0, target) == "warn"
    assert f.level(-1, target) == "breached"
    assert f.level(None, target) == "acked"


def test_countdown_cell_has_text_signal():
    assert f.countdown_cell(100, "warn") == "1:40 !"
    assert f.countdown_cell(-5, "breached") == "-0:05 BREACHED"
    assert f.countdown_cell(None, "acked") == "ack'd"
    assert f.countdown_cell(100, "ok") == "1:40"


def test_badge_and_age():
    assert f.badge("III") == " III "
    assert f.badge("I").strip() == "I"
    assert len(f.badge("II")) == 5
    assert f.age(None) == "never"
    assert f.age(4) == "4s"
    assert f.age(185) == "3m 05s"
    assert f.age(7800) == "2h 10m"
    assert f.age(90000) == "1d 1h"
