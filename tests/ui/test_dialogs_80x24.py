"""Issue 25 item 4: every dialog fits 80x24 with its buttons and hint on screen; Enter submits every
dialog from any field (space toggles a checkbox)."""
from __future__ import annotations

import pytest
from textual.widgets import Button, Checkbox, Input

from console.ui.screens.dialogs import (ConfirmDialog, Dialog, FilterDialog, GotoDialog, ReclassifyDialog,
                                        ResolveDialog, SaveDialog, StaffPicker, TemplatePicker, TemplateChoice)
from console.ui import styles as st
from tests.ui.helpers import notifications, screen_text, select, settle

pytestmark = pytest.mark.ui
SMALL = (80, 24)


def _save_dialog(app):
    files = [f"report-{i}.pdf   application/pdf   2 KB" for i in range(9)]
    return SaveDialog(st.bold("Save an attachment of #1"), files, lambda i: f"/tmp/ticket1-report-{i}.pdf")


def _confirm(app):
    return ConfirmDialog(st.bold("Send again on #1"), "The reply to carl@x.example failed (550). Send it again?",
                         yes="Send again")


def _templates(app):
    return TemplatePicker(st.bold("Reply with a template to #1"),
                          [TemplateChoice(f"template-{i}", "Hello, we are working on it.") for i in range(14)])


# (how it opens: keys on the first Class III ticket, or a dialog pushed as the app pushes it; its type)
DIALOGS = [
    (("o",), StaffPicker),
    (("c",), ReclassifyDialog),
    (("x",), ResolveDialog),
    (("f",), FilterDialog),
    (("number_sign",), GotoDialog),
    (_save_dialog, SaveDialog),
    (_confirm, ConfirmDialog),
    (_templates, TemplatePicker),
]


def _inside(inner, outer) -> bool:
    return (inner.x >= outer.x and inner.y >= outer.y and inner.right <= outer.right
            and inner.bottom <= outer.bottom and inner.width > 0 and inner.height > 0)


@pytest.mark.parametrize(("opener", "kind"), DIALOGS, ids=[k.__name__ for _, k in DIALOGS])
async def test_every_dialog_fits_80x24_with_its_buttons_and_hint(make_app, seeded, opener, kind):
    _, ids = seeded
    app = make_app("ann", live=False)  # a supervisor: the reclassify dialog has its panic checkbox
    async with app.run_test(size=SMALL) as pilot:
        select(app, ids[0])
        if callable(opener):
            app.push_screen(opener(app))
        else:
            await pilot.press(*opener)
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, kind)
        box = dialog.query_one("#dialog")
        screen = dialog.region
        assert box.region.y >= 0 and box.region.bottom <= screen.bottom - 1  # above the footer
        hint = dialog.query_one(".dialog-help")
        assert _inside(hint.region, box.region)
        assert dialog.HINT in screen_text(app)
        for button in dialog.query(Button):
            assert _inside(button.region, box.region), button
            assert str(button.label) in screen_text(app)
        if kind is ReclassifyDialog:
            assert _inside(dialog.query_one(Checkbox).region, box.region)


async def test_enter_on_the_panic_checkbox_submits_and_space_toggles_it(make_app, seeded, db):
    from store import tickets

    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SMALL) as pilot:
        select(app, ids[0])  # Class III, new
        await pilot.press("c")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ReclassifyDialog)
        box = dialog.query_one(Checkbox)
        box.focus()
        await pilot.press("space")
        assert box.value is True
        await pilot.press("space")
        await pilot.press("space")
        assert box.value is True
        await pilot.press("enter")  # on the checkbox: submits, as the hint says
        await settle(pilot)
        assert not isinstance(app.screen, Dialog)
        t = tickets.get_ticket(db, ids[0])
        assert t["class"] == "II" and t["panic_mode"]
        assert any("Reclassified" in n and "panic mode" in n for n in notifications(app))


@pytest.mark.parametrize("field", ["classes", "reason"])
async def test_enter_submits_the_reclassify_dialog_from_its_other_fields(make_app, seeded, db, field):
    from store import tickets

    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SMALL) as pilot:
        select(app, ids[4])  # Class I
        await pilot.press("c")
        await settle(pilot)
        app.screen.query_one(f"#{field}").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert tickets.get_ticket(db, ids[4])["class"] == "II"


async def test_enter_on_the_save_dialogs_list_saves_to_the_name_shown(make_app, seeded):
    app = make_app("ann", live=False)
    got = []
    async with app.run_test(size=SMALL) as pilot:
        app.push_screen(_save_dialog(app), got.append)
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
    assert [(c.index, c.path) for c in got] == [(1, "/tmp/ticket1-report-1.pdf")]


async def test_an_empty_file_name_is_not_submitted(make_app, seeded):
    app = make_app("ann", live=False)
    got = []
    async with app.run_test(size=SMALL) as pilot:
        app.push_screen(_save_dialog(app), got.append)
        await settle(pilot)
        app.screen.query_one("#path", Input).value = "  "
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SaveDialog) and app.screen.query_one("#path", Input).has_focus
    assert got == []


async def test_a_remapped_key_works_and_the_old_one_does_not(seeded, clock, db):
    """[console.keys] acknowledge = "K", help = "f1": through Textual's keymap, on the list and the detail;
    the footer's bindings and the help screen show the new keys."""
    import copy

    from console.config import from_dict
    from console.ui.app import ConsoleApp
    from console.ui.screens.help import HelpScreen
    from store import tickets
    from tests.ui.conftest import CFG

    data = copy.deepcopy(CFG)
    data["console"] = {"keys": {"acknowledge": "K", "help": "f1"}}
    path, ids = seeded
    app = ConsoleApp(path, from_dict(data), "ann", clock, live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        select(app, ids[0])
        await pilot.press("a")
        await settle(pilot)
        assert tickets.get_ticket(db, ids[0])["status"] == "new"  # a does nothing now
        shown = {key: b.id for key, (_, b, _, _) in app.screen.active_bindings.items() if b.show}
        assert shown.get("K") == "acknowledge" and "a" not in shown  # what the footer draws (at its end)
        await pilot.press("K")
        await settle(pilot)
        assert tickets.get_ticket(db, ids[0])["status"] == "acknowledged"
        app.open_ticket(ids[1])
        await settle(pilot)
        await pilot.press("K")
        await settle(pilot)
        assert tickets.get_ticket(db, ids[1])["status"] == "acknowledged"
        await pilot.press("question_mark")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "K          Acknowledge" in text and "f1         Help" in text


async def test_dialog_hints_name_the_remapped_keys(seeded, clock):
    import copy

    from console.config import from_dict
    from console.ui.app import ConsoleApp
    from tests.ui.conftest import CFG

    data = copy.deepcopy(CFG)
    data["console"] = {"keys": {"dialog": {"down": "ctrl+n", "up": "ctrl+k", "cancel": "ctrl+g"},
                                "confirm": {"yes": "Y"}}}
    path, ids = seeded
    app = ConsoleApp(path, from_dict(data), "ann", clock, live=False)
    async with app.run_test(size=SMALL) as pilot:
        select(app, ids[0])
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, FilterDialog)
        assert "⏎ apply   ^n/^k move   ^g cancel" in screen_text(app)
        await pilot.press("ctrl+n", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, Dialog)
        app.push_screen(_confirm(app))
        await settle(pilot)
        assert "Y yes   n/esc no" in screen_text(app)
