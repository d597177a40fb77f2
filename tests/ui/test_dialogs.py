"""Dialogs act on the ticket as it was when they opened, offer only what may be done, and read well."""
from __future__ import annotations

import copy

import pytest
from textual.widgets import Checkbox, Input, OptionList, Static

import store
from console import actions
from console.config import from_dict
from console.ui.screens.dialogs import (Dialog, FilterDialog, GotoDialog, ReclassifyDialog, ResolveDialog,
                                        StaffPicker)
from store import audit, tickets
from tests.ui.conftest import CFG, NOW
from tests.ui.helpers import notifications, pick_option, screen_text, select, settle

pytestmark = pytest.mark.ui
SIZE = (120, 36)


def _option_ids(dialog) -> list[str]:
    ol = dialog.query_one(OptionList)
    return [ol.get_option_at_index(i).id for i in range(ol.option_count)]


async def test_assign_dialog_refuses_when_someone_reassigned_meanwhile(make_app, seeded, db):
    """Item 1: a supervisor reassigns from the CLI (another connection) while the dialog is open and the
    0.5 s refresh runs; the dialog's choice is refused with the new state, and nothing is written."""
    _, ids = seeded
    app = make_app("ann")  # live: the poll timer moves the list's version under the open dialog
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[2])  # bob's ticket
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, StaffPicker)
        other = store.open_db(seeded[0])
        actions.assign(other, app.cfg, ids[2], "dee", "ann", NOW)
        other.conn.close()
        await pilot.pause(1.2)  # the refresh has seen it
        await settle(pilot)
        assert app.tickets[ids[2]]["assignee"] == "dee"
        before = audit.events_for(db, ids[2])
        await pick_option(pilot, "cy")
        await settle(pilot)
        assert tickets.get_ticket(db, ids[2])["assignee"] == "dee"
        assert audit.events_for(db, ids[2]) == before
        assert any("changed since you opened this: now assigned to dee" in n for n in notifications(app))


@pytest.mark.parametrize("key", ["c", "x"])
async def test_reclassify_and_resolve_dialogs_refuse_a_ticket_changed_meanwhile(make_app, seeded, db, key):
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[4])
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, (ReclassifyDialog, ResolveDialog))
        other = store.open_db(seeded[0])
        actions.acknowledge(other, app.cfg, ids[4], "bob", NOW)  # bob made first contact meanwhile
        other.conn.close()
        app.refresh_now()  # the list now shows the new version; the dialog keeps the one it opened on
        await pilot.pause()
        before = tickets.get_ticket(db, ids[4])
        await pilot.press("enter")
        await settle(pilot)
        assert tickets.get_ticket(db, ids[4]) == before
        assert any("changed since you opened this: now acknowledged by bob" in n for n in notifications(app))


async def test_staff_names_from_the_config_are_sanitised(tmp_path, seeded, clock):
    from console.ui.app import ConsoleApp
    from store import staff

    data = copy.deepcopy(CFG)
    data["staff"][3]["name"] = "Dee \x1b[31mRed\x1b]0;pwned\x07 [b]Dawson[/b]"
    cfg = from_dict(data)
    db = store.open_db(seeded[0])
    with store.write(db):
        staff.sync_staff(db, [(s.handle, s.name, s.role) for s in cfg.staff])
    db.conn.close()
    app = ConsoleApp(seeded[0], cfg, "ann", clock, live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, seeded[1][4])
        await pilot.press("o")
        await pilot.pause()
        ol = app.screen.query_one(OptionList)
        labels = [str(ol.get_option_at_index(i).prompt) for i in range(ol.option_count)]
        dee = next(lb for lb in labels if lb.startswith("dee"))
        assert "\x1b" not in dee and "\x07" not in dee and "pwned" not in dee
        assert "Dee Red [b]Dawson[/b]" in dee  # markup shown literally, never applied
        assert "[b]Dawson[/b]" in screen_text(app)


async def test_reclassify_warns_when_the_new_deadline_is_past(make_app, seeded, db):
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[4])  # Class I, received 3 h ago
        await pilot.press("c")
        await pilot.pause()
        note = app.screen.query_one("#deadline", Static)
        assert str(note.content) == "Class II counted from arrival: due in 5h00m"
        await pilot.press("k")  # j/k move in the list: up to Class III
        await pilot.pause()
        assert str(note.content) == "Class III counted from arrival: 2h45m overdue, pages go out now"
        assert not note.has_class("-ok")  # shown as a warning
        await pilot.press("enter")  # Enter selects
        await settle(pilot)
        assert tickets.get_ticket(db, ids[4])["class"] == "III"


async def test_reclassifying_an_unacknowledged_class_iii_down_says_those_paged_stand_down(make_app, seeded):
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[0])  # Class III, received 14m30s ago, paged bob and ann
        await pilot.press("c")
        await pilot.pause()
        note = app.screen.query_one("#deadline", Static)
        seen = set()
        for key in ("j", "j", "k", "k", "k", "k"):  # every class the list offers, whatever it starts on
            seen.add(str(note.content))
            await pilot.press(key)
            await pilot.pause()
        downs = [n for n in seen if not n.startswith("Class III")]
        assert downs and all(n.endswith("; those paged are told to stand down") for n in downs), seen


async def test_dialogs_move_with_j_and_k_and_show_a_hint_and_their_keys(make_app, seeded):
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        for key, kind in (("f", FilterDialog), ("c", ReclassifyDialog), ("o", StaffPicker), ("x", ResolveDialog),
                          ("number_sign", GotoDialog)):
            select(app, ids[0])
            await pilot.press(key)
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, kind) and isinstance(dialog, Dialog)
            assert str(dialog.query_one(".dialog-help", Static).content).strip()  # the hint line
            lines = screen_text(app).splitlines()
            assert "esc Cancel" in lines[-1] and "Acknowledge" not in lines[-1]  # the footer shows the modal's keys
            lists = dialog.query(OptionList)
            if lists and kind is not StaffPicker:
                ol = lists.first()
                start = ol.highlighted
                await pilot.press("j")
                assert ol.highlighted == start + 1
                await pilot.press("k")
                assert ol.highlighted == start
            await pilot.press("escape")
            await pilot.pause()


async def test_staff_picker_filters_as_you_type(make_app, seeded):
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[4])
        await pilot.press("o")
        await pilot.pause()
        picker = app.screen
        assert _option_ids(picker) == ["ann", "bob", "cy", "dee"]
        await pilot.press("j")  # j moves, it does not filter
        assert picker.query_one(OptionList).highlighted == 1
        await pilot.press("d")
        await pilot.pause()
        assert _option_ids(picker) == ["dee"]
        await pilot.press("e", "e")
        await pilot.pause()
        assert _option_ids(picker) == ["dee"]
        await pilot.press("x")
        await pilot.pause()
        assert _option_ids(picker) == [] and "nobody matches" in str(picker.query_one("#staff-empty").content)
        box = picker.query_one("#staff-filter", Input)
        before = box.value
        box.value = "[/x][b]zz"  # pasted text is shown as typed, never read as markup (that used to crash)
        await pilot.pause()
        assert "nobody matches '[/x][b]zz'" in str(picker.query_one("#staff-empty").content) and app.is_running
        box.value = before
        await pilot.pause()
        await pilot.press("backspace", "enter")
        await settle(pilot)
        assert app.tickets[ids[4]]["assignee"] == "dee"


async def test_panic_checkbox_says_its_state_in_words(make_app, seeded, db):
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[1])  # Class III
        await pilot.press("c")
        await pilot.pause()
        box = app.screen.query_one("#panic", Checkbox)
        assert "Panic mode: off" in str(box.label)
        box.focus()
        await pilot.press("space")
        await pilot.pause()
        assert box.value and "Panic mode: ON" in str(box.label)
        assert "Panic mode: ON" in screen_text(app)
        await pilot.press("space")
        await pilot.pause()
        assert "Panic mode: off" in str(box.label)
