"""Live updates from other processes, ticking countdowns, and untrusted mail shown literally."""
from __future__ import annotations

from datetime import timedelta

import pytest

import store
from store import tickets
from tests.ui.conftest import NOW, add_ticket
from tests.ui.helpers import notifications, row, row_ids, screen_text, select, settle

pytestmark = pytest.mark.ui
SIZE = (120, 36)


async def test_new_ticket_from_another_connection_appears(make_app, seeded, cfg, db):
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[2])
        other = store.open_db(seeded[0])  # a second connection, as the poller would be
        new = add_ticket(other, cfg, "III", 30, "Database cluster unreachable", "noc@bank.example")
        other.conn.close()
        assert app.data.changed()
        app.refresh_now()
        await pilot.pause()
        assert new in row_ids(app)
        assert row_ids(app)[:3] == [ids[1], ids[0], new]  # sorted in by time left
        assert app.dashboard.selected_id() == ids[2]       # the cursor stayed on its ticket
        assert any("New Class III ticket" in n and "Database cluster unreachable" in n for n in notifications(app))
        assert app.data.poll() is None  # nothing new: the cheap check says so


async def test_changes_show_within_a_second_via_the_timer(make_app, seeded, cfg, clock, monkeypatch):
    import threading

    from console.ui.data import TicketData

    on_ui_thread = []
    real = TicketData.poll

    def spy(self, *a, **kw):
        on_ui_thread.append(threading.current_thread() is threading.main_thread())
        return real(self, *a, **kw)

    monkeypatch.setattr(TicketData, "poll", spy)
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        other = store.open_db(seeded[0])
        tickets.update_ticket(other, ids[4], {"assignee": "dee"}, NOW)
        with store.write(other):
            tickets.update_ticket(other, ids[3], {"status": "resolved", "resolved_at": NOW}, NOW)
        other.conn.close()
        await pilot.pause(1.0)  # the poll timer runs every 0.5 s: not a deadline, the check itself
        await settle(pilot)
        assert row(app, ids[4]).assignee == "dee"
        assert ids[3] not in row_ids(app)
        assert on_ui_thread and not any(on_ui_thread)  # the timer's checks run in a worker


async def test_countdown_ticks_with_the_injected_clock(make_app, seeded, clock):
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        assert row(app, ids[0]).left == "30s !"
        clock.advance(5)
        app.tick()
        await pilot.pause()
        assert row(app, ids[0]).left == "25s !"
        assert "25s !" in screen_text(app)  # drawn, not only computed
        clock.advance(timedelta(seconds=40))
        app.tick()
        await pilot.pause()
        assert row(app, ids[0]).left == "BREACHED 15s"
        assert row(app, ids[0]).level == "breached"  # the whole row stands out
        assert row(app, ids[1]).left == "BREACHED 5m45s"
        assert row(app, ids[2]).left == "5h59m"
        assert "BREACHED 15s" in screen_text(app)


async def test_a_reply_that_bumps_nothing_is_still_seen(make_app, seeded, db, cfg):
    """Intake files a plain reply without touching updated_at: the list still learns of it (item 8)."""
    from store import audit, messages
    from tests.ui.conftest import message_fields

    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        assert not row(app, ids[3]).customer_wrote
        other = store.open_db(seeded[0])
        with store.write(other):
            raw = b"again"
            messages.insert_message(other, raw=raw, raw_sha256=messages.sha256(raw), ticket_id=ids[3], kind="reply",
                                    fields=message_fields("Re: CSV", "lee@small.example", "Any news?"),
                                    received_at=NOW, now=NOW, source="test")
            other.execute("UPDATE tickets SET last_message_at = ? WHERE id = ?", [store.iso(NOW), ids[3]])
            audit.add_event(other, ids[3], "reply_received", "intake", NOW, by="lee@small.example")
        other.conn.close()
        app.refresh_now()
        await pilot.pause()
        assert row(app, ids[3]).customer_wrote
        assert "\u2709" in next(ln for ln in screen_text(app).splitlines() if "CSV import" in ln)


async def test_mail_is_never_markup(make_app, seeded, cfg, db):
    from textual.widgets import Static

    from console.ui.screens.detail import DetailScreen

    evil = "[bold red]x[/] [@click=app.quit]quit[/] \x1b[31mred\x1b[0m \u202egnp.exe\u202c \x1b]0;title\x07"
    tid = add_ticket(db, cfg, "III", 60, evil, "eve@evil.example", body=f"Body {evil}\n[link=file:///etc]y[/link]")
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_now(force=True)
        await pilot.pause()
        subject = row(app, tid).subject
        assert subject.startswith("[bold red]x[/] [@click=app.quit]quit[/]")  # literal
        assert "\x1b" not in subject and "\u202e" not in subject
        select(app, tid)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        head = str(app.screen.query_one("#detail-head", Static).content)
        assert "[bold red]x[/] [@click=app.quit]quit[/] red gnp.exe" in head
        text = str(app.screen.query_one("#detail-thread", Static).content)
        assert "[@click=app.quit]quit[/]" in text and "[link=file:///etc]y[/link]" in text
        assert "\x1b" not in text and "\u202e" not in text and "title" not in text.replace("Subject", "")
        assert "[@click=app.quit]" in screen_text(app)
        await pilot.click("#detail-thread")
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and app.return_code is None
