"""The stale-intake page: supervisors are paged once per outage when intake has not synced for
[alerts] intake_stale_after, and once more when it syncs again."""
from datetime import timedelta

from console.scheduler import intake_pages
from store import heartbeat, outbox, write
from store.times import iso
from tests.factories import T0

MAILBOX = "desk@mail.example/INBOX"


def beat(db, at, last_sync, **detail):
    with write(db):
        heartbeat.beat(db, f"intake:{MAILBOX}", at, pid=1, host="h", state=detail.pop("state", "error"),
                       ever_connected=True, last_sync_at=iso(last_sync) if last_sync else None,
                       started_at=iso(T0), last_error="IMAP connection lost (refused)", waiting=None, **detail)


def pages(db, cfg, at):
    with write(db):
        intake_pages(db, cfg, at)
    return [(a["step"], a["target"], a["urgent"]) for a in reversed(outbox.list_alerts(db))]


def test_paged_once_per_outage_and_once_on_recovery(db, cfg):
    beat(db, T0 + timedelta(minutes=4), T0)
    assert pages(db, cfg, T0 + timedelta(minutes=5)) == []  # not yet more than 5 minutes
    stale = [("intake-stale", "ann", True)]  # ann is the only supervisor
    assert pages(db, cfg, T0 + timedelta(minutes=5, seconds=1)) == stale
    beat(db, T0 + timedelta(minutes=9), T0)
    assert pages(db, cfg, T0 + timedelta(minutes=20)) == stale  # the same outage: no second page
    a = outbox.list_alerts(db)[0]
    assert "INTAKE STALE" in a["title"] and MAILBOX in a["title"] and "not synced" in a["body"]

    beat(db, T0 + timedelta(minutes=21), T0 + timedelta(minutes=21), state="idle")  # synced again
    recovered = stale + [("intake-recovered", "ann", False)]
    assert pages(db, cfg, T0 + timedelta(minutes=21)) == recovered
    assert pages(db, cfg, T0 + timedelta(minutes=22)) == recovered  # once
    body = outbox.list_alerts(db)[0]["body"]  # times in the desk's zone, as everywhere (not stored UTC)
    local = lambda t: t.astimezone(cfg.timezone).strftime("%a %d %b %H:%M %Z")  # noqa: E731
    assert f"synced again at {local(T0 + timedelta(minutes=21))} (last sync before that: {local(T0)})" in body

    beat(db, T0 + timedelta(minutes=30), T0 + timedelta(minutes=21))  # a new outage: a new page
    assert pages(db, cfg, T0 + timedelta(minutes=27)) == recovered + [("intake-stale", "ann", True)]


def test_an_intake_that_never_synced_counts_from_its_start(db, cfg):
    beat(db, T0 + timedelta(minutes=1), None)
    assert pages(db, cfg, T0 + timedelta(minutes=4)) == []
    assert pages(db, cfg, T0 + timedelta(minutes=6)) == [("intake-stale", "ann", True)]


def test_a_silent_intake_row_pages_too(db, cfg):
    # the poller died: its row stops changing, and the last sync only gets older
    beat(db, T0, T0, state="idle")
    assert pages(db, cfg, T0 + timedelta(minutes=3)) == []
    assert pages(db, cfg, T0 + timedelta(minutes=6)) == [("intake-stale", "ann", True)]


def test_no_intake_rows_no_page(db, cfg):
    assert pages(db, cfg, T0 + timedelta(days=1)) == []
