"""The console's "silence this sender for…" (issue 19 item 4): `z` on a ticket opens a dialog; a supervisor
silences the sender or its domain with a length and a reason; the header says "1 silence, N tickets quiet"
while the silence holds pages; staff are refused before the dialog opens. Pilot on a real SQLite file."""
from __future__ import annotations

import pytest
from textual.widgets import Input, OptionList

from console.ui.screens.silence import SilenceDialog
from console.ui.widgets.status import StatusBar
from store import outbox, silences
from tests.ui.conftest import NOW
from tests.ui.helpers import notifications, select, settle

pytestmark = pytest.mark.ui
SIZE = (120, 36)


def header(app) -> str:
    return "\n".join(str(bar.render()) for bar in app.screen.query(StatusBar))


async def test_a_supervisor_silences_a_domain_and_the_header_says_so(make_app, seeded, db):
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[0])  # ops@bigshop.example, Class III, not acknowledged
        await pilot.press("z")
        await pilot.pause()
        assert isinstance(app.screen, SilenceDialog)
        dialog = app.screen
        ol = dialog.query_one(OptionList)
        assert [ol.get_option_at_index(i).id for i in range(ol.option_count)] == ["sender", "domain"]
        await pilot.press("down", "enter")  # the whole domain; on to how long
        length = dialog.query_one("#length", Input)
        assert length.has_focus and length.value == "2h"
        await pilot.press("enter")  # keep 2h; on to the reason
        await pilot.press(*"planned work", "enter")
        await settle(pilot)
        [s] = silences.active(db, NOW)
        assert (s["kind"], s["pattern"], s["reason"], s["created_by"]) == ("domain", "bigshop.example",
                                                                            "planned work", "ann")
        assert any("held until" in n for n in notifications(app))
        # The scheduler's turn would hold the ticket's due page; do what it does, then look again.
        from console.outbox import silences as held

        outbox.add_alert(db, dedup_key="t1", ticket_id=ids[0], cls="III", step="arrival", audience="primary",
                         target="ann", urgent=True, title="t", body="b", due_at=NOW, now=NOW)
        held.hold_due(db, NOW)
        app.refresh_now(force=True)
        app.update_status(NOW)
        await settle(pilot)
        assert "1 silence, 1 ticket quiet" in header(app)


async def test_staff_are_refused_before_the_dialog_and_a_day_and_more_is_refused(make_app, seeded, db):
    _, ids = seeded
    app = make_app("bob", live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[0])
        await pilot.press("z")
        await pilot.pause()
        assert not isinstance(app.screen, SilenceDialog)
        assert any("only a supervisor may silence pages" in n for n in notifications(app))
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[0])
        await pilot.press("z")
        await pilot.pause()
        length = app.screen.query_one("#length", Input)
        length.value = "25h"
        await pilot.press("enter")  # the sender, then how long
        await pilot.press("enter")
        await pilot.press(*"long", "enter")
        await settle(pilot)
        assert silences.active(db, NOW) == []
        assert any("at most 24h" in n for n in notifications(app))
        assert "silence" not in header(app)
