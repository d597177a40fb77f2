"""Live updates from other processes, ticking countdowns, and untrusted mail shown literally."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rich.text import Text

import store
from store import tickets
from tests.ui.conftest import NOW, add_ticket
from tests.ui.helpers import notifications, row_ids, select

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


async def test_changes_show_within_a_second_via_the_timer(make_app, seeded, cfg, clock):
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        other = store.open_db(seeded[0])
        tickets.update_ticket(other, ids[4], {"assignee": "dee"}, NOW)
        with store.write(other):
            tickets.update_ticket(other, ids[3], {"status": "resolved", "resolved_at": NOW}, NOW)
        other.conn.close()
        await pilot.pause(1.0)  # the poll timer runs every 0.5 s: not a deadline, the check itself
        assert app.dashboard.table.get_cell(str(ids[4]), "assignee").plain == "dee"
        assert ids[3] not in row_ids(app)


async def test_countdown_ticks_with_the_injected_clock(make_app, seeded, clock):
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        table = app.dashboard.table
        assert table.get_cell(str(ids[0]), "left").plain == "0:30 !"
        clock.advance(5)
        app.tick()
        await pilot.pause()
        assert table.get_cell(str(ids[0]), "left").plain == "0:25 !"
        clock.advance(timedelta(seconds=40))
        app.tick()
        await pilot.pause()
        assert table.get_cell(str(ids[0]), "left").plain == "-0:15 BREACHED"
        assert table.get_cell(str(ids[0]), "subject").style == "bold"  # the whole row stands out
        assert table.get_cell(str(ids[1]), "left").plain == "-5:45 BREACHED"
        assert table.get_cell(str(ids[2]), "left").plain == "5:59:15"


async def test_mail_is_never_markup(make_app, seeded, cfg, db):
    from console.ui.screens.detail import DetailScreen

    evil = "[bold red]x[/] [@click=app.quit]quit[/] \x1b[31mred\x1b[0m \u202egnp.exe\u202c \x1b]0;title\x07"
    tid = add_ticket(db, cfg, "III", 60, evil, "eve@evil.example", body=f"Body {evil}\n[link=file:///etc]y[/link]")
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_now(force=True)
        await pilot.pause()
        cell = app.dashboard.table.get_cell(str(tid), "subject")
        assert isinstance(cell, Text)
        assert cell.plain.startswith("[bold red]x[/] [@click=app.quit")  # literal, cut to the column
        head = app.dashboard.table.get_cell(str(tid), "subject")
        assert "\x1b" not in cell.plain and "\u202e" not in cell.plain
        select(app, tid)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        head = app.screen.query_one("#detail-head").render()
        assert "[bold red]x[/] [@click=app.quit]quit[/] red gnp.exe" in str(head)
        thread = app.screen.query_one("#detail-thread").render()
        text = thread.plain if isinstance(thread, Text) else str(thread)
        assert "[@click=app.quit]quit[/]" in text and "[link=file:///etc]y[/link]" in text
        assert "\x1b" not in text and "\u202e" not in text and "title" not in text.replace("Subject", "")
        svg = app.export_screenshot()
        assert "[@click=app.quit]" in svg.replace("&#160;", " ")
        await pilot.click("#detail-thread")
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and app.return_code is None
