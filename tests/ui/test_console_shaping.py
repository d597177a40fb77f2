"""Merge, unmerge and split from the console, driven through Pilot and checked in the database: the keys
(M on marked tickets, U on a merged one, b in the detail), the confirm dialog for a merge across requesters,
a staff member's refusal, and a snapshot of a merged ticket's detail."""
from __future__ import annotations

import pytest
from textual.widgets import Checkbox

from console import shaping
from console.ui.screens.detail import DetailScreen
from console.ui.screens.dialogs import ConfirmDialog
from console.ui.screens.shaping import SplitDialog
from store import audit, messages, tickets
from tests.ui.conftest import add_ticket
from tests.ui.helpers import notifications, screen_text, select, settle

pytestmark = pytest.mark.ui
SIZE = (120, 36)


async def until(pilot, cond, rounds: int = 40) -> bool:
    """Settle until `cond()` holds (a detail reloads in a worker started by another worker's result)."""
    for _ in range(rounds):
        if cond():
            return True
        await settle(pilot)
    return cond()


async def test_merge_marked_tickets_across_requesters_asks_first(make_app, seeded, db):
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[1])
        await pilot.press("space")
        await pilot.pause()
        assert "Merge marked into this one" in app.screen.active_bindings["M"].binding.description
        assert "M merges them" in screen_text(app)
        select(app, ids[0])
        await pilot.press("M")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert "2 requesters" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        merged = tickets.get_ticket(db, ids[1])
        assert merged["merged_into"] == ids[0] and merged["status"] == "resolved"
        assert len(messages.messages_for(db, ids[0])) == 3
        assert audit.events_for(db, ids[0])[-1]["kind"] == "merged"
        assert any(f"Merged #{ids[1]} into #{ids[0]}" in n for n in notifications(app))
        assert ids[1] not in app.tickets and not app.marked


async def test_no_to_the_question_merges_nothing(make_app, seeded, db):
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[1])
        await pilot.press("space")
        select(app, ids[0])
        await pilot.press("M", "n")
        await settle(pilot)
        assert tickets.get_ticket(db, ids[1])["merged_into"] is None


async def test_a_merge_from_one_requester_runs_at_once(make_app, seeded, db, cfg):
    _, ids = seeded
    more = add_ticket(db, cfg, "I", 600, "Checkout again", "ops@bigshop.example")
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, more)
        await pilot.press("space")
        select(app, ids[0])
        await pilot.press("M")
        await settle(pilot)
        assert tickets.get_ticket(db, more)["merged_into"] == ids[0]
        assert tickets.get_ticket(db, ids[0])["class"] == "III"


async def test_staff_may_not_merge(make_app, seeded, db):
    _, ids = seeded
    app = make_app("bob")
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[1])
        await pilot.press("space")
        select(app, ids[0])
        await pilot.press("M")
        await settle(pilot)
        assert tickets.get_ticket(db, ids[1])["merged_into"] is None
        assert any("only a supervisor may merge" in n for n in notifications(app))


async def test_unmerge_from_the_merged_tickets_detail(make_app, seeded, db, cfg, clock):
    _, ids = seeded
    before = tickets.get_ticket(db, ids[1])
    shaping.merge(db, cfg, ids[0], [ids[1]], "ann", clock.now(), confirmed=True)
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        app.open_ticket(ids[1])
        assert await until(pilot, lambda: f"MERGED INTO #{ids[0]}" in screen_text(app))
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("U")
        await settle(pilot)
        after = tickets.get_ticket(db, ids[1])
        for k in ("status", "class", "due_at", "merged_into", "assignee"):
            assert after[k] == before[k], k
        assert len(messages.messages_for(db, ids[1])) == 1
        assert await until(pilot, lambda: "MERGED INTO" not in screen_text(app))  # the open detail looked again


async def test_split_a_message_from_the_detail(make_app, seeded, db):
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[0])
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, SplitDialog)
        assert not app.screen.query_one(Checkbox).value
        await pilot.press("enter")
        await settle(pilot)
        new = [t for t in tickets.list_tickets(db) if t["split_from"] == ids[0]]
        assert len(new) == 1
        assert [m["kind"] for m in messages.messages_for(db, new[0]["id"])] == ["new"]
        assert len(messages.messages_for(db, ids[0])) == 1
        assert audit.events_for(db, ids[0])[-1]["kind"] == "split_to"
        assert any(f"split from #{ids[0]}" in n for n in notifications(app))


def test_merged_ticket_detail(snap_compare, make_app, seeded, cfg, clock):
    import store

    _, ids = seeded
    conn = store.open_db(seeded[0])
    shaping.merge(conn, cfg, ids[0], [ids[1]], "ann", clock.now(), confirmed=True)
    conn.conn.close()

    async def run_before(pilot) -> None:
        await pilot.pause()
        pilot.app.open_ticket(ids[1])
        for _ in range(3):
            await pilot.pause()
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=run_before)


async def test_split_with_the_customers_later_mail(make_app, seeded, db, cfg):
    import store
    from datetime import timedelta

    from tests.ui.conftest import NOW, message_fields

    _, ids = seeded
    with store.write(db):  # a third message from the customer, after the reply
        raw = b"later"
        messages.insert_message(db, raw=raw, raw_sha256=messages.sha256(raw), ticket_id=ids[0], kind="reply",
                                fields=message_fields("Re: Checkout", "ops@bigshop.example", "And now?\n"),
                                received_at=NOW - timedelta(minutes=1), now=NOW, source="test")
    first, reply, later = (m["id"] for m in messages.messages_for(db, ids[0]))
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[0])
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("b")
        await pilot.pause()
        await pilot.press("k", "space")  # the reply, and the customer's later mail with it
        assert app.screen.query_one(Checkbox).value
        await pilot.press("enter")
        await settle(pilot)
        [new] = [t for t in tickets.list_tickets(db) if t["split_from"] == ids[0]]
        assert [m["id"] for m in messages.messages_for(db, new["id"])] == [reply, later]
        assert [m["id"] for m in messages.messages_for(db, ids[0])] == [first]


async def test_the_split_dialog_fits_80x24(make_app, seeded):
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=(80, 24)) as pilot:
        select(app, ids[0])
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("b")
        await pilot.pause()
        text = screen_text(app)
        assert "Split" in text and "Cancel" in text and "esc cancel" in text and "later messages" in text
