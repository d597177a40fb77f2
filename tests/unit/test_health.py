"""The one health assessment behind `status`, the console header and the stale-intake page."""
from datetime import datetime, timedelta, UTC

from console import health
from store.times import iso

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def beat(name, ago, **detail):
    return {"name": name, "at": iso(NOW - timedelta(seconds=ago)), "pid": 1, "host": "desk", "detail": detail}


def intake(ago=5, sync_ago=10, **kw):
    d = {"state": "idle", "ever_connected": True, "last_sync_at": iso(NOW - timedelta(seconds=sync_ago)),
         "last_error": None, "waiting": 0} | kw
    return beat("intake:desk@mail/INBOX", ago, **d)


def test_never_run_is_unhealthy():
    h = health.assess([], {}, NOW)
    assert not h.healthy
    assert h.intake.state == "never run" and h.scheduler.state == "never run"


def test_all_fresh_is_healthy():
    h = health.assess([beat("scheduler", 3), intake()], {"sent": 4}, NOW)
    assert h.healthy, h
    assert h.as_json()["intake"]["mailbox"] == "desk@mail/INBOX"


def test_scheduler_alive_does_not_hide_stuck_intake():
    # The first round's bug: the scheduler's heartbeat made the console say "ok" while intake was stuck.
    stuck = intake(ago=5, sync_ago=600, state="error", last_error="IMAP server x:993: connection refused")
    h = health.assess([beat("scheduler", 1), stuck], {}, NOW)
    assert h.scheduler.ok and not h.intake.ok and not h.healthy
    assert "connection refused" in h.intake.summary and "not synced" in h.intake.summary


def test_never_connected_says_cannot_connect():
    row = intake(sync_ago=0, state="connecting", ever_connected=False, last_error="connection refused",
                 last_sync_at=None)
    h = health.assess([beat("scheduler", 1), row], {}, NOW)
    assert not h.intake.ok and "cannot connect" in h.intake.summary


def test_a_short_reconnect_is_shown_but_healthy():
    row = intake(sync_ago=40, state="error", last_error="connection lost")
    c = health.assess_intake([row], NOW)
    assert c.ok and c.state == "reconnecting"


def test_silent_intake_row_is_stale():
    c = health.assess_intake([intake(ago=600, sync_ago=600)], NOW)
    assert not c.ok and c.state == "stale"


def test_stale_after_is_configurable():
    row = intake(sync_ago=120)
    assert health.assess_intake([row], NOW).ok
    assert not health.assess_intake([row], NOW, stale_after=timedelta(minutes=1)).ok


def test_ingest_only_desk_needs_no_intake_row():
    h = health.assess([beat("scheduler", 1)], {}, NOW, intake_expected=False)
    assert h.healthy


def test_failed_pages_degrade_the_outbox():
    h = health.assess([beat("scheduler", 1), intake()], {"failed": 1, "pending": 2}, NOW)
    assert not h.outbox.ok and not h.healthy and "1 failed" in h.outbox.summary


def test_pages_being_retried_do_not_degrade_the_outbox():
    c = health.assess_outbox({"retrying": 2, "pending": 1})
    assert c.ok and c.summary == "outbox: 1 pending, 2 retrying, none failed"
    assert c.detail == {"pending": 1, "retrying": 2, "failed": 0, "expired": 0, "mail_pending": 0,
                        "mail_failed": 0, "mail_withheld": 0}
    assert health.assess_outbox({"sent": 7}).detail["sent"] == 7  # as `status` counts them


def test_failed_mail_degrades_the_outbox_and_pending_mail_is_shown():
    h = health.assess([beat("scheduler", 1), intake()], {"mail_pending": 2}, NOW)
    assert h.healthy and "mail: 2 pending, 0 failed" in h.outbox.summary
    h = health.assess([beat("scheduler", 1), intake()], {"mail_failed": 1}, NOW)
    assert not h.outbox.ok and not h.healthy and "mail: 0 pending, 1 failed" in h.outbox.summary


def test_automatic_mail_withheld_is_counted_and_does_not_degrade():
    c = health.assess_outbox({"mail_withheld": 3})
    assert c.ok and c.detail["mail_withheld"] == 3
    assert c.summary == "outbox: 0 pending, none failed; 3 automatic mail(s) withheld (caps, unauthenticated senders)"


def test_a_restarted_intake_keeps_its_last_sync_and_only_a_clean_stop_counts_afresh():
    synced = iso(NOW - timedelta(hours=2))
    crashed = beat("intake:desk@mail/INBOX", 60, state="error", last_sync_at=synced,
                   counts_from=iso(NOW - timedelta(days=1)), started_at=iso(NOW - timedelta(minutes=1)))
    kept = health.carried_over(crashed, NOW)
    assert kept == {"last_sync_at": synced, "counts_from": iso(NOW - timedelta(days=1))}
    row = intake(**kept)
    assert [o.since for o in health.intake_outages([row], NOW)] == [synced]  # stale: paged, however many restarts

    stopped = beat("intake:desk@mail/INBOX", 60, state="stopped", last_sync_at=synced)
    fresh = health.carried_over(stopped, NOW)
    assert fresh == {"last_sync_at": synced, "counts_from": iso(NOW)}
    assert health.intake_outages([intake(**fresh)], NOW) == []
    assert health.intake_outages([intake(**fresh)], NOW + timedelta(minutes=6))
    assert health.carried_over(None, NOW) == {"counts_from": iso(NOW)}
