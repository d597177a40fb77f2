"""Keyboard comfort: a clock that keeps time under dialogs, jump to #N (key and palette),
the resolved view and reopen, layout at 80x24 and on wide terminals, search without case or accents."""
from __future__ import annotations

import pytest
from textual.widgets import Static

from console.ui import keys
from console.ui.screens.detail import DetailScreen
from console.ui.screens.help import HelpScreen
from store import audit, tickets
from tests.ui.conftest import add_ticket
from tests.ui.helpers import notifications, row_ids, screen_lines, screen_text, select, settle

pytestmark = pytest.mark.ui
SIZE = (120, 36)


async def test_the_header_clock_keeps_time_while_help_is_open(make_app, seeded, clock):
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        clock.advance(65)
        app.tick()
        await pilot.pause()
        bar = app.dashboard.query_one("#status", Static)
        assert "10:01:05" in str(bar.content)  # the screen under the help screen keeps time
        await pilot.press("escape")
        await pilot.pause()
        assert "10:01:05" in screen_lines(app)[0]  # and does not step back when the help closes


async def test_jump_to_a_ticket_by_number(make_app, seeded):
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("number_sign", *str(ids[3]), "enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen) and app.screen.ticket_id == ids[3]
        await pilot.press("escape")
        await pilot.press("slash", "#", *str(ids[2]), "enter")  # #N in the search box jumps too
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen) and app.screen.ticket_id == ids[2]
        await pilot.press("escape")
        await pilot.press("number_sign", "9", "9", "enter")
        await settle(pilot)
        assert any("no ticket #99" in n for n in notifications(app))
        assert not isinstance(app.screen, DetailScreen)


async def test_the_palette_offers_open_n_and_lists_each_entry_once(make_app, seeded):
    from textual.system_commands import SystemCommandsProvider

    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        ours = keys.KeyCommands(app.dashboard)
        hits = [h async for h in ours.search(str(ids[4]))]
        assert str(hits[0].text).startswith(f"Open #{ids[4]}  Feature request: dark mode")
        hits[0].command()
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen) and app.screen.ticket_id == ids[4]
        await pilot.press("escape")
        await pilot.pause()
        shown = [str(h.display).split("  (")[0] async for h in ours.discover()]
        shown += [str(h.display) async for h in SystemCommandsProvider(app.dashboard).discover()]
        assert len(shown) == len(set(shown)), shown
        assert "Quit" in shown and "Acknowledge" in shown


async def test_resolved_tickets_have_a_view_and_can_be_reopened(make_app, seeded, db):
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[4])
        await pilot.press("x", "enter")
        await settle(pilot)
        assert ids[4] not in row_ids(app)
        await pilot.press("v")
        await settle(pilot)
        assert row_ids(app) == [ids[4]]
        assert "1 of 1 resolved" in screen_text(app)
        await pilot.press("u")
        await settle(pilot)
        t = tickets.get_ticket(db, ids[4])
        # resolving made no contact (issue 24): the ticket comes back new, its clock running
        assert (t["status"], t["first_contact"], t["resolved_at"]) == ("new", None, None)
        ev = audit.events_for(db, ids[4])[-1]
        assert (ev["kind"], ev["actor"], ev["detail"]["previous"]) == ("reopened", "ann", "resolved")
        assert row_ids(app) == []
        await pilot.press("v")
        await pilot.pause()
        assert ids[4] in row_ids(app)


async def test_80x24_keeps_the_essential_columns_and_the_footer_keys(make_app, seeded):
    app = make_app("ann", live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        lines = screen_lines(app)
        header = next(ln for ln in lines if "Time left" in ln)
        for col in ("Class", "#", "Time left", "Subject", "Assignee"):
            assert col in header
        assert "Requester" not in header and "Status" not in header
        assert all(len(ln) <= 80 for ln in lines)
        assert "⏎ Open" in lines[-1] and "? Help" in lines[-1]
        assert "on call" in lines[1]  # the second header line is not pushed out


async def test_a_wide_terminal_gives_the_room_to_the_subject(make_app, seeded, cfg, db):
    long = "Our whole order pipeline stops whenever the nightly export runs and nobody can tell us why this happens"
    tid = add_ticket(db, cfg, "I", 60, long, "x@y.example")
    app = make_app("ann", live=False)
    async with app.run_test(size=(200, 40)) as pilot:
        await pilot.pause()
        assert long in screen_text(app)  # whole, not cut at 33 characters
        assert tid in row_ids(app)


async def test_a_short_list_leaves_room_for_a_preview(make_app, seeded):
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[4])
        await settle(pilot)
        preview = app.dashboard.query_one("#preview", Static)
        assert preview.has_class("-shown")
        assert "kangaroo keeps squinting" in str(preview.content)
        select(app, ids[0])
        await settle(pilot)
        assert "Still down. Orders are failing" in str(preview.content)  # the newest message


async def test_search_ignores_case_and_accents_and_says_when_nothing_matches(make_app, seeded, cfg, db):
    _, ids = seeded
    es = add_ticket(db, cfg, "I", 60, "Exportación PDF con caracteres extraños", "jose@muñoz.example",
                    body="Grüße aus München")
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_now()
        for query, expected in (("EXPORTACION", [es]), ("munoz", [es]), ("GRUSSE aus munchen", [es]),
                                ("Kangaroo", [ids[4]])):
            await pilot.press("slash", *query, "enter")
            await settle(pilot)
            assert row_ids(app) == expected, query
            await pilot.press("escape")
        await pilot.press("slash", *"zebra", "enter")
        await settle(pilot)
        assert row_ids(app) == []
        assert "no ticket matches 'zebra'" in screen_text(app) and "no match" in screen_text(app)
        assert any("No ticket matches 'zebra'" in n for n in notifications(app))
        placeholder = app.dashboard.query_one("#search").placeholder
        assert "#N" in placeholder
