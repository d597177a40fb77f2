"""The demo builds through the real intake pipeline, looks healthy, and every page that matters is news."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, UTC

import pytest

from tests.ui.helpers import notifications, screen_text

pytestmark = pytest.mark.ui


async def test_demo_starts_with_all_classes_and_announces_escalation_and_breach(tmp_path):
    pytest.importorskip("console.intake.pipeline")
    from console.clock import FrozenClock
    from console.demo import Escalator, PageSink, build_demo, register_desk_channel
    from console.ui.app import ConsoleApp

    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    db_path, cfg = build_demo(tmp_path, clock)
    sink = PageSink()
    register_desk_channel(sink)
    app = ConsoleApp(db_path, cfg, "ann", clock, page_sink=sink, live=False)
    bells = []
    app.bell = lambda: bells.append(1)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        classes = {t["class"] for t in app.tickets.values()}
        assert classes == {"I", "II", "III"}
        assert any(t["needs_details"] for t in app.tickets.values())  # the call-me-only mail
        assert any(t["message_count"] >= 2 for t in app.tickets.values())  # a thread with a reply
        assert app.role == "supervisor"
        assert app.health.healthy, app.health.as_json()  # the demo writes a scheduler and an intake row
        app.update_status()
        await pilot.pause()
        header = screen_text(app).splitlines()[1]
        assert "intake idle" in header and "scheduler ok" in header and "outbox" in header
        assert notifications(app) == [] and bells == []  # a healthy start says nothing
        clock.advance(timedelta(seconds=40))  # 01 escalates (10 min), 02 breaches (15 min)
        escalator = Escalator(db_path, cfg, clock)
        sent = await asyncio.to_thread(escalator.cycle)  # the escalator's own thread and connection
        assert sent > 0
        app.refresh_now()
        await pilot.pause()
        news = notifications(app)
        assert len(news) == 1, news  # gathered into one toast, not stacked over the list
        assert "ESCALATED" in news[0] and "BREACHED" in news[0]
        assert bells
        await pilot.pause(0.2)
        assert sink and app.pages and any("Class III" in title for _, title, _ in app.pages)


def test_demo_as_someone_not_on_its_staff_says_so(capsys):
    from console.cli import main

    assert main(["demo", "--as", "zed"]) == 64
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'zed' is not on the demo's staff" in err and "ann, bob, cy, dee" in err


def test_demo_as_takes_the_handle(monkeypatch):
    import console.ui.app as ui_app
    from console import demo

    seen = {}

    class Fake:
        def __init__(self, db_path, cfg, operator, clock, **kw):
            seen["operator"] = operator
            self.return_code = 0

        def run(self):
            pass

    monkeypatch.setattr(ui_app, "ConsoleApp", Fake)
    assert demo.run_demo(operator="bob") == 0
    assert seen == {"operator": "bob"}


async def test_the_demo_replies_into_its_own_mailbox_and_never_to_a_server(tmp_path, monkeypatch):
    """The demo has no mail server: a reply goes through the real outbox into DemoMailbox, in this
    process, and the console says so. smtplib is never touched."""
    import smtplib

    from textual.widgets import TextArea

    from console.clock import FrozenClock
    from console.demo import DEMO_REPLY, DemoMailbox, build_demo
    from console.ui.app import ConsoleApp
    from console.ui.screens.composer import ComposerScreen, ReviewScreen
    from store import open_db, outgoing
    from tests.ui.helpers import select, settle

    def no_network(*a, **kw):
        raise AssertionError("the demo opened an SMTP connection")

    monkeypatch.setattr(smtplib, "SMTP", no_network)
    monkeypatch.setattr(smtplib, "SMTP_SSL", no_network)
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    db_path, cfg = build_demo(tmp_path, clock)
    mailbox = DemoMailbox()
    app = ConsoleApp(db_path, cfg, "ann", clock, live=False, send_mail=mailbox.send_now)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        tid = next(t["id"] for t in app.tickets.values() if "dark mode" in t["subject"].lower())
        select(app, tid)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ComposerScreen)
        assert app.screen.query_one(TextArea).text.rstrip().endswith("Ann Alvarez\nExample Support")
        await pilot.press(*"Coming in spring.", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("y")
        await settle(pilot)
        [(mail_from, rcpt, raw)] = mailbox.mail
        assert mail_from == "support@example.com" and b"Coming in spring." in raw
        db = open_db(db_path)
        [row] = db.execute("SELECT id FROM mail_outbox").fetchall()
        send = outgoing.get_send(db, row[0])
        db.conn.close()
        assert send["state"] == "sent" and send["smtp_reply"] == DEMO_REPLY
        assert any("kept in the demo's mailbox: the demo has no mail server, nothing left this machine" in n
                   for n in notifications(app))
