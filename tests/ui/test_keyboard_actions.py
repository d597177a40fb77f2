"""Every keyboard action, driven through Pilot, checked in the database and the audit log."""
from __future__ import annotations

import pytest
from textual.widgets import Checkbox, Input, OptionList

from console.ui.screens.detail import DetailScreen
from console.ui.screens.dialogs import FilterDialog, ReclassifyDialog, ResolveDialog, StaffPicker
from store import audit, tickets
from tests.ui.helpers import notifications, pick_option, row, row_ids, select, settle

pytestmark = pytest.mark.ui
SIZE = (120, 36)


def last_event(db, tid):
    return audit.events_for(db, tid)[-1]


async def test_acknowledge(make_app, seeded, db, monkeypatch):
    import threading

    from console.ui.data import TicketData

    _, ids = seeded
    on_ui_thread, real_poll = [], TicketData.poll

    def spy(self, *a, **kw):
        on_ui_thread.append(threading.current_thread() is threading.main_thread())
        return real_poll(self, *a, **kw)

    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        monkeypatch.setattr(TicketData, "poll", spy)
        select(app, ids[0])
        await pilot.press("a")
        await settle(pilot)
        t = tickets.get_ticket(db, ids[0])
        assert t["status"] == "acknowledged" and t["acknowledged_by"] == "ann" and t["assignee"] == "ann"
        ev = last_event(db, ids[0])
        assert (ev["kind"], ev["actor"]) == ("acknowledged", "ann")
        assert any(f"Acknowledged #{ids[0]}" in n for n in notifications(app))
        assert app.tickets[ids[0]]["status"] == "acknowledged"  # the UI picked up its own write
        assert on_ui_thread and not any(on_ui_thread)  # ... through a change check in a worker


async def test_take_as_staff(make_app, seeded, db):
    _, ids = seeded
    app = make_app("bob")
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[4])
        await pilot.press("t")
        await settle(pilot)
        assert tickets.get_ticket(db, ids[4])["assignee"] == "bob"
        ev = last_event(db, ids[4])
        assert (ev["kind"], ev["actor"], ev["detail"]["previous"]) == ("taken", "bob", None)


async def test_reassign_as_supervisor(make_app, seeded, db):
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[2])  # bob's ticket
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, StaffPicker)
        await pick_option(pilot, "cy")
        await settle(pilot)
        assert tickets.get_ticket(db, ids[2])["assignee"] == "cy"
        ev = last_event(db, ids[2])
        assert ev["kind"] == "assigned" and ev["actor"] == "ann"
        assert ev["detail"] == {"assignee": "cy", "previous": "bob"}


async def test_bulk_reassign(make_app, seeded, db):
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        for tid in (ids[0], ids[3], ids[4]):
            select(app, tid)
            await pilot.press("space")
        assert app.marked == {ids[0], ids[3], ids[4]}
        await pilot.press("o")
        await pilot.pause()
        await pick_option(pilot, "dee")
        await settle(pilot)
        for tid in (ids[0], ids[3], ids[4]):
            assert tickets.get_ticket(db, tid)["assignee"] == "dee"
            ev = last_event(db, tid)
            assert (ev["kind"], ev["actor"], ev["detail"]["assignee"]) == ("assigned", "ann", "dee")
        assert tickets.get_ticket(db, ids[2])["assignee"] == "bob"  # unmarked ticket untouched
        assert app.marked == set()


async def test_staff_are_not_offered_choices_they_would_be_refused(make_app, seeded, db):
    _, ids = seeded
    app = make_app("bob")
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[3])  # cy's ticket
        before = audit.events_for(db, ids[3])
        await pilot.press("o")
        await pilot.pause()
        assert not isinstance(app.screen, StaffPicker)  # nothing to choose that would not be refused
        assert any("Not allowed" in n and "only a supervisor may assign" in n for n in notifications(app))
        await pilot.press("c")
        await pilot.pause()
        assert not isinstance(app.screen, ReclassifyDialog)
        assert any("only they or a supervisor may reclassify" in n for n in notifications(app))
        assert tickets.get_ticket(db, ids[3])["assignee"] == "cy"
        assert audit.events_for(db, ids[3]) == before
        select(app, ids[4])  # unassigned: bob may take it, so he is offered himself only
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, StaffPicker)
        options = app.screen.query_one(OptionList)
        assert [options.get_option_at_index(i).id for i in range(options.option_count)] == ["bob"]
        await pilot.press("enter")
        await settle(pilot)
        assert tickets.get_ticket(db, ids[4])["assignee"] == "bob"
        select(app, ids[1])  # a Class III: staff see no panic checkbox
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ReclassifyDialog) and not app.screen.query("#panic")
        assert app.is_running


async def test_stale_action_is_refused(make_app, seeded, db, clock):
    _, ids = seeded
    app = make_app("ann", live=False)  # no polling: the operator still sees the old version
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[4])
        from console import actions

        actions.take(db, app.cfg, ids[4], "cy", clock.now())  # someone else, meanwhile
        await pilot.press("a")
        await settle(pilot)
        t = tickets.get_ticket(db, ids[4])
        assert t["status"] == "new" and t["assignee"] == "cy"
        assert any("changed since you opened this: now assigned to cy" in n for n in notifications(app))


async def test_reclassify_with_reason(make_app, seeded, db):
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[4])
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ReclassifyDialog)
        ol = app.screen.query_one("#classes")
        assert ol.get_option_at_index(ol.highlighted).id == "II"  # one step up from Class I is offered first
        await pilot.press("tab")  # to the reason
        await pilot.press(*"customer blocked")
        await pilot.press("enter")
        await settle(pilot)
        t = tickets.get_ticket(db, ids[4])
        assert t["class"] == "II" and "customer blocked" in t["class_reason"]
        ev = last_event(db, ids[4])
        assert ev["kind"] == "reclassified" and ev["actor"] == "ann"
        assert ev["detail"]["previous"] == "I" and ev["detail"]["to"] == "II"
        assert ev["detail"]["reason"] == "customer blocked" and ev["detail"]["panic"] is False


async def test_reclassify_panic_mode(make_app, seeded, db):
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[1])
        await pilot.press("c")
        await pilot.pause()
        dialog = app.screen
        dialog.query_one("#classes").highlighted = dialog.query_one("#classes").get_option_index("I")
        dialog.query_one("#reason", Input).value = "asked where the logout button is"
        dialog.query_one("#panic", Checkbox).value = True
        await pilot.click("#ok")
        await settle(pilot)
        t = tickets.get_ticket(db, ids[1])
        assert t["class"] == "I" and t["panic_mode"] == 1  # a misused Class III, moved down and flagged
        ev = last_event(db, ids[1])
        assert ev["kind"] == "reclassified" and ev["detail"]["panic"] is True and ev["actor"] == "ann"
        assert ev["detail"]["previous"] == "III" and ev["detail"]["to"] == "I"
        assert "PANIC" in row(app, ids[1]).status


async def test_resolve_with_confirm_and_note(make_app, seeded, db):
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[4])
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ResolveDialog)
        await pilot.press("escape")  # cancel: nothing happens
        await settle(pilot)
        assert tickets.get_ticket(db, ids[4])["status"] == "new"
        await pilot.press("x")
        await pilot.pause()
        await pilot.press(*"dark mode is on the roadmap")
        await pilot.press("enter")
        await settle(pilot)
        t = tickets.get_ticket(db, ids[4])
        assert t["status"] == "resolved" and t["resolved_at"]
        ev = last_event(db, ids[4])
        assert (ev["kind"], ev["actor"], ev["detail"]["note"]) == ("resolved", "ann", "dark mode is on the roadmap")
        assert ids[4] not in row_ids(app)


async def test_actions_from_detail_screen(make_app, seeded, db):
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[1])
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen) and app.screen.ticket_id == ids[1]
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert tickets.get_ticket(db, ids[1])["assignee"] == "ann"
        assert last_event(db, ids[1])["kind"] == "taken"
        head = app.screen.query_one("#detail-head").content
        assert "assignee ann" in str(head)
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


async def test_movement_keys(make_app, seeded):
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        t = app.dashboard.table
        await pilot.press("G")
        assert t.cursor_row == t.row_count - 1
        await pilot.press("g")
        assert t.cursor_row == 0
        await pilot.press("j", "j")
        assert t.cursor_row == 2
        await pilot.press("k")
        assert t.cursor_row == 1
        await pilot.press("end")  # Home and End reach the screen's bindings (the list does not swallow them)
        assert t.cursor_row == t.row_count - 1
        await pilot.press("home")
        assert t.cursor_row == 0


async def test_filters(make_app, seeded):
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        # sorted by time left, breached first; the acknowledged ticket (clock stopped) last
        assert row_ids(app) == [ids[1], ids[0], ids[2], ids[3], ids[4], ids[5]]
        await pilot.press("3")
        assert row_ids(app) == [ids[1], ids[0]]
        await pilot.press("1")
        assert sorted(row_ids(app)) == sorted([ids[3], ids[4]])
        await pilot.press("1")  # the same key again clears it
        assert len(row_ids(app)) == 6
        for choice, expected in (("unassigned", {ids[0], ids[1], ids[4]}), ("breached", {ids[1]})):
            await pilot.press("0", "f")
            await pilot.pause()
            assert isinstance(app.screen, FilterDialog)
            await pick_option(pilot, choice)
            await pilot.pause()
            assert set(row_ids(app)) == expected
        await pilot.press("0", "f")
        await pilot.pause()
        await pick_option(pilot, "mine")
        await pilot.pause()
        assert set(row_ids(app)) == {ids[5]}
        await pilot.press("0")
        await pilot.press("s")
        assert row_ids(app) == sorted(ids)
        await pilot.press("s")
        assert row_ids(app)[:2] == [ids[1], ids[0]]


async def test_search_subject_and_body(make_app, seeded):
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        await pilot.press(*"kangaroo", "enter")
        await pilot.pause()
        assert row_ids(app) == [ids[4]]  # only in the body of the message
        await pilot.press("escape")
        assert len(row_ids(app)) == 6
        await pilot.press("slash", *"payment", "enter")
        assert row_ids(app) == [ids[1]]
        await pilot.press("slash", *"bigshop", "enter")
        assert row_ids(app) == [ids[0]]


async def test_help_and_palette_come_from_the_registry(make_app):
    from console.ui import keys
    from console.ui.screens.help import HelpScreen

    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        ids = {b.id for b in app.dashboard._bindings.key_to_bindings.get("a", [])}
        assert ids == {"acknowledge"}
        provider = keys.KeyCommands(app.dashboard)
        hits = [h async for h in provider.discover()]
        texts = [str(h.display) for h in hits]
        assert any("Acknowledge" in t for t in texts) and any("Quit" in t for t in texts)
        shown = {b.id for (_, b, enabled, _) in app.screen.active_bindings.values() if b.show}
        assert {"acknowledge", "take", "assign", "reclassify", "resolve", "help"} <= shown
