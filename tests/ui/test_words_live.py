"""Issue 25 item 3: the detail's pages and history follow the outbox live; toasts for the assignee."""
from __future__ import annotations

import asyncio
import copy
from datetime import timedelta

import pytest

import store
from console import actions, poller
from console.config import from_dict
from console.ui.screens.detail import DetailScreen
from store import outbox
from tests.ui.conftest import CFG, NOW, add_ticket
from tests.ui.helpers import notifications, screen_text, settle

pytestmark = pytest.mark.ui
SIZE = (120, 36)


def _text(screen: DetailScreen, part: str) -> str:
    return str(screen.query_one(f"#detail-{part}").render())


async def _until(pilot, check, seconds: float = 6.0) -> bool:
    """Wait for the console's own change check (every 0.5 s) to bring `check` true; not a deadline."""
    for _ in range(int(seconds / 0.1)):
        if check():
            return True
        await pilot.pause(0.1)
    return check()


async def test_pages_sent_by_a_real_poller_cycle_reach_the_open_detail_without_R(seeded, clock, http_receiver):
    from console.ui.app import ConsoleApp

    path, _ = seeded
    data = copy.deepcopy(CFG)
    data["store"] = {"path": str(path)}
    for s in data["staff"]:
        s["notify"] = [http_receiver.url(s["handle"])]
    cfg = from_dict(data)
    # A Class III filed by real intake 11 minutes ago: its arrival pages are written, the escalation is due.
    tid = _mail(path, cfg, "noc@bank.example", "Cluster down", "<down-1@bank.example>", to="urgent@example.com",
                at=NOW - timedelta(minutes=11))
    app = ConsoleApp(path, cfg, "ann", clock)  # live: its timers run, as on a desk
    async with app.run_test(size=SIZE) as pilot:
        app.open_ticket(tid)
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, DetailScreen) and detail.ticket_id == tid
        assert "arrival page to bob: waiting to go out" in _text(detail, "pages")  # intake wrote it, unsent
        # Another process pages: one full cycle of `poll --once` (scheduler and sender) on the same file.
        assert await asyncio.to_thread(poller.run, cfg, clock, once=True) == 0
        assert len(http_receiver.records) >= 4
        assert await _until(pilot, lambda: "escalation page to dee: delivered" in _text(detail, "pages"))
        pages, history = _text(detail, "pages"), _text(detail, "audit")
        for who in ("ann", "bob", "cy"):
            assert f"escalation page to {who}: delivered" in pages
        assert "arrival page to bob: delivered" in pages
        assert "waiting to go out" not in pages
        assert "paged ann, bob, cy and dee (escalation to the team)" in history
        assert "[" not in history and "{" not in history
        assert app.screen is detail  # nobody pressed R


async def test_a_stand_down_written_elsewhere_shows_waiting_then_delivered(make_app, seeded, cfg):
    """A page row written and then sent through the store's own functions from another connection."""
    path, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        app.open_ticket(ids[1])
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        other = store.open_db(path)
        with store.write(other):
            alert = outbox.add_alert(other, dedup_key="t-sd-cy", ticket_id=ids[1], cls="III", step=outbox.STANDDOWN,
                                     audience="paged", target="cy", urgent=False, title="stand down", body="ok",
                                     due_at=NOW, now=NOW)
        assert alert is not None
        assert await _until(pilot, lambda: "stand-down to cy: waiting to go out" in _text(detail, "pages"))
        with store.write(other):
            outbox.claim_due(other, NOW, send_deadline=NOW, claimed_by="test", max_attempts=5)
            outbox.finish(other, alert, NOW, ok=True)
        other.conn.close()
        assert await _until(pilot, lambda: "stand-down to cy: delivered" in _text(detail, "pages"))
        assert "waiting to go out" not in _text(detail, "pages")


async def test_reloads_never_overlap(make_app, seeded):
    """Reloads asked for while one runs are folded into one more after it (Dolphie's rule)."""
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        app.open_ticket(ids[0])
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        reads = []
        real = app.reads.detail

        def counted(*a, **kw):
            reads.append(1)
            return real(*a, **kw)

        app.reads.detail = counted
        for _ in range(5):
            detail.reload()
        await settle(pilot)
        assert len(reads) == 2  # the one under way, then one for all those asked meanwhile


async def test_a_toast_tells_the_assignee_when_the_customer_writes_again(make_app, seeded, cfg):
    path, _ = seeded
    mine = _mail(path, cfg, "carl@x.example", "Invoice export stuck", "<first-1@x.example>")
    theirs = _mail(path, cfg, "dora@y.example", "Login loops", "<first-2@y.example>")
    other = store.open_db(path)
    actions.assign(other, cfg, mine, "bob", "ann", NOW)
    actions.acknowledge(other, cfg, mine, "bob", NOW)  # bob's ticket, acknowledged by him
    actions.assign(other, cfg, theirs, "cy", "ann", NOW)
    other.conn.close()
    app = make_app("bob", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not any("customer wrote again" in n for n in notifications(app))
        _mail(path, cfg, "carl@x.example", f"Re: [#{mine}] Invoice export stuck", "<again-1@x.example>",
              "<first-1@x.example>")
        app.refresh_now()
        await settle(pilot)
        said = [n for n in notifications(app) if "customer wrote again" in n]
        assert said == [f"#{mine}: the customer wrote again: Invoice export stuck from carl@x.example"]
        # Someone else's ticket: no toast for bob.
        _mail(path, cfg, "dora@y.example", f"Re: [#{theirs}] Login loops", "<again-2@y.example>", "<first-2@y.example>")
        app.refresh_now()
        await settle(pilot)
        assert app.tickets[theirs]["customer_wrote"]
        assert len([n for n in notifications(app) if "customer wrote again" in n]) == 1


def _mail(path, cfg, sender: str, subject: str, msgid: str, reply_to: str | None = None, *,
          to: str = "support@example.com", at=None) -> int:
    if at is None:
        at = NOW + timedelta(minutes=1) if reply_to else NOW  # a reply: after the desk acted on the ticket
    """A customer's mail filed by real intake (file_messages), as the poller files it; its ticket id."""
    from console.intake.pipeline import Incoming, file_messages

    raw = (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {msgid}\r\n"
           + (f"In-Reply-To: {reply_to}\r\n" if reply_to else "") + "\r\nAny news?\r\n").encode()
    db = store.open_db(path)
    try:
        filed = file_messages(db, cfg, [Incoming(raw=raw, received_at=at, uid=None)], at, source="test")
    finally:
        db.conn.close()
    assert filed[0].ticket_id is not None
    return filed[0].ticket_id


async def test_call_me_tickets_are_marked_in_words_in_the_list(make_app, seeded, cfg):
    path, _ = seeded
    db = store.open_db(path)
    tid = add_ticket(db, cfg, "I", 60, "Please call me", "pat@x.example")
    from store import tickets

    with store.write(db):
        tickets.update_ticket(db, tid, {"needs_details": 1}, NOW)
    db.conn.close()
    app = make_app("ann", live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "call-me only: Please call me" in screen_text(app)


async def test_the_pages_panel_follows_a_page_being_sent(make_app, seeded):
    """A page that goes from waiting to delivered (no new page row) reaches the open pages panel too."""
    from textual.widgets import Static

    path, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await settle(pilot)
        panel = app.dashboard.query_one("#pages", Static)
        assert f"#{ids[0]} arrival page to ann: waiting to go out" in str(panel.content)
        other = store.open_db(path)
        with store.write(other):
            for row in outbox.claim_due(other, NOW, send_deadline=NOW, claimed_by="test", max_attempts=5):
                outbox.finish(other, row["id"], NOW, ok=True)
        other.conn.close()
        assert await _until(pilot, lambda: f"#{ids[0]} arrival page to ann: delivered" in str(panel.content))
