"""What is burning: every console raises a toast and the bell for an escalation, a breach, "still
breached" and a stale poller or intake; start-up toasts come as one; the pages panel in live mode."""
from __future__ import annotations


import pytest
from textual.widgets import Static

import store
from store import heartbeat, outbox
from store.times import iso
from tests.ui.conftest import NOW
from tests.ui.helpers import notifications, screen_text, settle

pytestmark = pytest.mark.ui
SIZE = (120, 36)


def _bells(app) -> list:
    rung = []
    app.bell = lambda: rung.append(1)
    return rung


def _page(db, tid, step, target, at=NOW):
    outbox.add_alert(db, dedup_key=f"t{tid}:III:{step}:{target}", ticket_id=tid, cls="III", step=step,
                     audience="team", target=target, urgent=True, title=f"[Class III] #{tid} {step}", body="b",
                     due_at=at, now=at)


async def test_escalation_breach_and_still_breached_each_ring(make_app, seeded):
    _, ids = seeded
    app = make_app("ann", live=False)
    rung = _bells(app)
    async with app.run_test(size=SIZE) as pilot:
        assert notifications(app) == [] and rung == []
        other = store.open_db(seeded[0])  # the poller, elsewhere
        with store.write(other):
            for who in ("ann", "bob", "cy"):
                _page(other, ids[0], "escalate", who)
        other.conn.close()
        app.refresh_now()
        await pilot.pause()
        assert len(notifications(app)) == 1 and f"ESCALATED: #{ids[0]}" in notifications(app)[0]
        assert "to the whole team; paged ann, bob, cy" in notifications(app)[0]  # one toast for three pages
        assert len(rung) == 1
        other = store.open_db(seeded[0])
        with store.write(other):
            _page(other, ids[1], "breach", "ann")
            _page(other, ids[1], "repeat-1", "ann")
        other.conn.close()
        app.refresh_now()
        await pilot.pause()
        last = notifications(app)[-1]
        assert f"BREACHED: #{ids[1]}" in last and f"STILL BREACHED: #{ids[1]}" in last
        assert len(rung) == 2


async def test_a_stale_scheduler_and_intake_ring_and_show_in_the_header(make_app, seeded, clock):
    app = make_app("ann", live=False)
    rung = _bells(app)
    other = store.open_db(seeded[0])
    with store.write(other):
        heartbeat.beat(other, "intake:desk/INBOX", NOW, pid=2, host="desk", state="idle", ever_connected=True,
                       last_sync_at=iso(NOW), waiting=0)
    other.conn.close()
    async with app.run_test(size=SIZE) as pilot:
        app.update_status()
        await pilot.pause()
        header = screen_text(app).splitlines()[1]
        assert "intake idle 0s / scheduler ok / outbox 2 pending" in header
        clock.advance(40)  # the scheduler beats every 5 s: 44 s of silence is a dead poller
        app.tick()
        await pilot.pause()
        assert any("Scheduler is not running" in n for n in notifications(app)) and len(rung) == 1
        assert "scheduler STALE 44s" in screen_text(app).splitlines()[1]
        clock.advance(60)  # intake has written nothing for 100 s
        app.tick()
        await pilot.pause()
        assert any("Intake is not running" in n for n in notifications(app)) and len(rung) == 2
        assert "intake STALE" in screen_text(app).splitlines()[1]
        app.tick()  # still stale: no second alarm
        assert len(rung) == 2
        other = store.open_db(seeded[0])
        with store.write(other):
            heartbeat.beat(other, "scheduler", clock.now(), pid=1, host="desk")
        other.conn.close()
        app.refresh_now()
        await pilot.pause()
        assert any("Scheduler is back" in n for n in notifications(app))


async def test_start_up_toasts_come_as_one(make_app, seeded, clock, db):
    clock.advance(120)  # the scheduler's last beat is two minutes old when the console starts
    app = make_app("zed")  # not on the staff list either
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(2.6)
        news = notifications(app)
        assert len(news) == 1, news
        assert news[0].startswith("2 alerts") and "not on the staff list" in news[0] and "Scheduler" in news[0]


async def test_the_pages_panel_in_live_mode(make_app, seeded):
    _, ids = seeded
    app = make_app("ann")  # a live console, not the demo
    async with app.run_test(size=SIZE) as pilot:
        assert not app.dashboard.query_one("#pages").has_class("-shown")
        await pilot.press("p")
        await settle(pilot)
        panel = app.dashboard.query_one("#pages", Static)
        assert panel.has_class("-shown")
        text = str(panel.content)
        assert f"#{ids[0]} arrival page to ann: waiting to go out" in text
        assert f"#{ids[0]} arrival page to bob: waiting to go out" in text
        other = store.open_db(seeded[0])
        with store.write(other):
            _page(other, ids[1], "breach", "cy")
        other.conn.close()
        await pilot.pause(1.0)
        await settle(pilot)
        assert f"#{ids[1]} breach page to cy: waiting to go out" in str(panel.content)  # it follows the outbox
        await pilot.press("p")
        assert not panel.has_class("-shown")


async def test_a_signed_out_mailbox_is_named_in_the_header_while_the_other_is_fine(make_app, seeded, clock):
    """Issue 23: several mailboxes; the one whose sign-in is lost is named, with SIGNED OUT, and rings."""
    app = make_app("ann", live=False)
    rung = _bells(app)
    other = store.open_db(seeded[0])
    with store.write(other):
        heartbeat.beat(other, "scheduler", NOW, pid=1, host="desk")
        heartbeat.beat(other, "intake:support-box/INBOX", NOW, pid=2, host="desk", state="idle", ever_connected=True,
                       last_sync_at=iso(NOW), waiting=0, label="support")
        heartbeat.beat(other, "intake:urgent-box/INBOX", NOW, pid=2, host="desk", state="signed_out",
                       ever_connected=True, last_sync_at=iso(NOW), waiting=0, label="urgent",
                       last_error="mailbox urgent: sign-in lost (invalid_grant); "
                                  "run: support-console auth login urgent")
    other.conn.close()
    async with app.run_test(size=SIZE) as pilot:
        app.update_status()
        await pilot.pause()
        header = screen_text(app).splitlines()[1]
        assert "intake urgent SIGNED OUT" in header, header
        assert any("Intake" in n for n in notifications(app)) and rung
