"""Acknowledge the marked tickets (issue 19 item 2): `space` marks, `A` acknowledges each marked ticket through
the same action as `a`, with its own permission check and audit event; a refusal names its ticket and keeps
its mark, and the others go through. Pilot on a real SQLite file."""
from __future__ import annotations

import pytest

from store import audit, tickets
from tests.ui.helpers import notifications, select, settle

pytestmark = pytest.mark.ui
SIZE = (120, 36)


async def test_acknowledge_marked_acts_on_each_and_refuses_only_what_it_must(make_app, seeded, db):
    _, ids = seeded
    app = make_app("bob", live=False)
    marked = (ids[0], ids[2], ids[3])  # unassigned, bob's own, cy's
    async with app.run_test(size=SIZE) as pilot:
        for tid in marked:
            select(app, tid)
            await pilot.press("space")
        await pilot.press("A")
        await settle(pilot)
        for tid in (ids[0], ids[2]):
            t = tickets.get_ticket(db, tid)
            assert (t["status"], t["acknowledged_by"]) == ("acknowledged", "bob")
            [e] = [e for e in audit.events_for(db, tid) if e["kind"] == "acknowledged"]
            assert e["actor"] == "bob"
        assert tickets.get_ticket(db, ids[3])["status"] == "new"
        assert tickets.get_ticket(db, ids[1])["status"] == "new"  # not marked: untouched
        assert any(f"Refused: acknowledge #{ids[3]}" in n for n in notifications(app))
        assert app.marked == {ids[3]}


async def test_acknowledge_marked_without_marks_says_how(make_app, seeded, db):
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("A")
        await settle(pilot)
        assert any("No tickets marked" in n for n in notifications(app))
