"""The detail view: huge mail never blocks, history reads in words, pages show when and how they went,
attachments are listed and saved to a file (never opened)."""
from __future__ import annotations

import os
import stat
import re
import threading
from datetime import timedelta
from email.message import EmailMessage

import pytest
from textual.widgets import Input, OptionList, Static

import store
from console import timefmt
from console.intake.parse import parse_message
from console.ui.data import TicketData
from console.ui.screens.detail import DetailScreen
from console.ui.screens.dialogs import SaveDialog
from store import messages, outbox
from store.times import parse_iso
from tests.ui.conftest import NOW, add_ticket, message_fields
from tests.ui.helpers import notifications, select, settle

pytestmark = pytest.mark.ui
SIZE = (120, 36)


def _text(app, wid: str) -> str:
    return str(app.screen.query_one(wid, Static).content)


async def _open(pilot, tid: int) -> None:
    select(pilot.app, tid)
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, DetailScreen) and pilot.app.screen.loaded


async def test_a_huge_body_is_read_in_a_worker_and_shown_in_part(make_app, seeded, cfg, db, monkeypatch, clock):
    body = "".join(f"line {i:06d}: all services down; the log follows, and follows, and follows.\n"
                   for i in range(25_000))  # about 2 MB, every line its own
    tid = add_ticket(db, cfg, "III", 60, "Everything is on fire", "ops@big.example", body=body)
    threads = []
    real = TicketData.detail

    def spy(self, *a, **kw):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(self, *a, **kw)

    monkeypatch.setattr(TicketData, "detail", spy)
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_now()
        await _open(pilot, tid)
        assert threads == [False]  # read off the UI thread
        thread = _text(app, "#detail-thread")
        assert f"characters 1-10,000 of {len(body):,}. m shows the next part" in thread
        assert "support-console raw" in thread and len(thread) < 20_000
        await pilot.press("m")
        await settle(pilot)
        thread = _text(app, "#detail-thread")
        # the next part, no bigger than the first: paging through a huge body never stalls the screen
        assert f"characters 10,001-20,000 of {len(body):,}" in thread and len(thread) < 20_000
        assert body[10_000:10_200] in thread and "line 000000:" not in thread
        last = (len(body) - 1) // 10_000 * 10_000
        app.screen.start = last - 10_000
        await pilot.press("m")
        await settle(pilot)
        assert f"characters {last + 1:,}-{len(body):,} of {len(body):,}. m goes back to the start" in \
            _text(app, "#detail-thread")
        await pilot.press("m")
        await settle(pilot)
        assert "characters 1-10,000 of" in _text(app, "#detail-thread")
        # the clock keeps going with the detail open: its countdown moves on
        left = lambda: re.search(r"time left (\S+)", _text(app, "#detail-head")).group(1)  # noqa: E731
        before = left()
        clock.advance(5)
        app.tick()
        await pilot.pause()
        assert left() != before and timefmt.left(parse_iso(app.tickets[tid]["due_at"]) - clock.now()) in left()


async def test_history_in_words_and_pages_with_their_result(make_app, seeded, db):
    _, ids = seeded
    first = ids[0]
    with store.write(db):
        claimed = outbox.claim_due(db, NOW, send_deadline=NOW + timedelta(seconds=20), claimed_by="t", max_attempts=3)
        for a in claimed:
            outbox.record_results(db, a["id"], NOW,
                                  [{"service": "json://127.0.0.1/ann", "ok": True, "status": "success"}])
            outbox.finish(db, a["id"], NOW, ok=True)
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, first)
        history = _text(app, "#detail-audit")
        assert "paged ann and bob (on arrival)" in history and "ticket opened as Class III" in history
        assert "{" not in history  # words, not JSON
        pages = _text(app, "#detail-pages")
        assert "arrival page to ann: delivered" in pages and "arrival page to bob: delivered" in pages
        assert "05 Jan 10:00:00  arrival page to ann: delivered" in pages  # the time it went, in the desk's zone
        assert "last try 10:00:00: json://127.0.0.1/ann success" in pages


def _mail_with_attachment() -> tuple[bytes, bytes, bytes]:
    msg = EmailMessage()
    msg["From"] = "lee@small.example"
    msg["Subject"] = "Report attached"
    msg.set_content("See the report.")
    payload = b"%PDF-1.4 not really\x00\x01\x02"
    msg.add_attachment(payload, maintype="application", subtype="pdf", filename="../../report Q4.pdf")
    forwarded = EmailMessage()  # a forwarded mail: message/rfc822, whose own parts must not be taken for it
    forwarded["From"] = "vendor@big.example"
    forwarded["Subject"] = "Invoice"
    forwarded.set_content("Invoice attached.")
    forwarded.add_attachment(b"inner bytes", maintype="application", subtype="octet-stream", filename="inner.bin")
    msg.add_attachment(forwarded, filename="invoice.eml")
    return msg.as_bytes(), payload, forwarded.as_bytes()


async def test_attachments_are_listed_and_saved_never_opened(make_app, seeded, db, tmp_path):
    _, ids = seeded
    raw, payload, forwarded = _mail_with_attachment()
    with store.write(db):
        fields = message_fields("Report attached", "lee@small.example", "See the report.")
        # what intake records of this mail (its own walk of the MIME structure)
        fields["attachments"] = [a._asdict() for a in parse_message(raw).attachments]
        messages.insert_message(db, raw=raw, raw_sha256=messages.sha256(raw), ticket_id=ids[3], kind="reply",
                                fields=fields, received_at=NOW, now=NOW, source="test")
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_now()
        await _open(pilot, ids[3])
        files = _text(app, "#detail-files")
        assert "../../report Q4.pdf   application/pdf   22 B" in files
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, SaveDialog)
        box = app.screen.query_one("#path", Input)
        assert box.value.endswith(f"ticket{ids[3]}-report_Q4.pdf")  # no path from the mail survives
        target = tmp_path / "saved.pdf"
        box.value = str(target)
        box.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert target.read_bytes() == payload
        assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
        assert any("Attachment saved" in n and "not opened" in n for n in notifications(app))
        await pilot.press("w")
        await pilot.pause()
        app.screen.query_one("#path", Input).value = str(target)
        app.screen.query_one("#path", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert any("exists; nothing was written" in n for n in notifications(app))
        assert target.read_bytes() == payload
        assert "invoice.eml   message/rfc822" in files
        await pilot.press("w")
        await pilot.pause()
        app.screen.query_one(OptionList).highlighted = 1  # the forwarded mail, saved whole
        await pilot.pause()
        second = tmp_path / "invoice.eml"
        app.screen.query_one("#path", Input).value = str(second)
        app.screen.query_one("#path", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert second.read_bytes() == forwarded


async def test_a_staff_answer_to_a_page_that_is_not_an_ack_shows_as_their_message(tmp_path):
    """Issue 19 item 5: bob's "Sorry, I can't ack this" to his email page acknowledges nothing and is shown
    on the ticket as bob's answer to his page, with its text and a line in the history."""
    from console.clock import FrozenClock
    from console.intake.pipeline import Incoming, file_messages
    from console.outbox import pages
    from console.ui.app import ConsoleApp
    from tests.ack_helpers import EMAILS, ack_cfg, mark_sent, reply_to_page
    from tests.integration.alerts_helpers import T0, URGENT, mail

    cfg = ack_cfg(tmp_path, at=T0)
    db = store.open_db(cfg.store_path)
    [f] = file_messages(db, cfg, [Incoming(raw=mail(1, to=URGENT, date_=T0), received_at=T0)], T0)
    mark_sent(db, T0, f.ticket_id)
    row = next(r for r in outbox.list_alerts(db, ticket_id=f.ticket_id) if r["target"] == "bob")
    sent: list[str] = []
    pages.send_page(row, ["mailto://127.0.0.1?to=x%40phone.example"], cfg,
                    lambda t, b, u: sent.append(t) or pages.SendReport("sent", []))
    text = "Sorry, I can't ack this, I'm boarding a plane"
    file_messages(db, cfg, [Incoming(raw=reply_to_page(sent[0], frm=EMAILS["bob"], body=text),
                                     received_at=T0 + timedelta(minutes=2))], T0 + timedelta(minutes=2))
    db.conn.close()
    app = ConsoleApp(cfg.store_path, cfg, "ann", FrozenClock(T0 + timedelta(minutes=3)), live=False)
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_now()
        await _open(pilot, f.ticket_id)
        thread = _text(app, "#detail-thread")
        assert "reply to bob's page (not an acknowledgement)" in thread and EMAILS["bob"] in thread
        assert text in thread
        history = _text(app, "#detail-audit")
        assert f"bob answered the email page from {EMAILS['bob']}" in history
        assert 'its first line is not "ack"' in history
        assert "Acked" not in _text(app, "#detail-info")


async def test_a_tick_while_the_detail_is_taken_down_does_nothing(make_app, seeded):
    # The app's once-a-second tick can reach a detail screen whose widgets are already gone (it was just
    # closed): it must pass, not stop the console with NoMatches.
    _, ids = seeded
    app = make_app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, ids[0])
        detail = pilot.app.screen
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, DetailScreen) and not detail.query("#detail-head")
        detail.tick()
