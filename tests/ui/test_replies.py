"""Replying and notes from the console (issue 14 item 5): the built-in composer, $EDITOR, the review
before sending, templates, the "we need details" key, stale refusals, and failed mail on the ticket and
as a toast. Replies go to a real SMTP server (aiosmtpd on loopback) through the real outbox."""
from __future__ import annotations

import contextlib
import copy
import os
import sys
import threading

import pytest
from textual.widgets import OptionList, Static, TextArea

import store
from console import actions
from console.clock import FrozenClock
from console.config import from_dict
from console.outbox import mail as delivery
from console.replies import desk
from console.ui.screens.composer import ComposerScreen, ReviewScreen
from console.ui.screens.detail import DetailScreen
from console.ui.screens.dialogs import ConfirmDialog, TemplatePicker
from store import audit, messages, outgoing, tickets
from tests.ui.conftest import CFG, NOW
from tests.ui.helpers import notifications, screen_lines, screen_text, select, settle

pytestmark = pytest.mark.ui
SIZE = (120, 36)
DESK_FROM = "Example Support <support@example.com>"
SIGNATURE = "Ann Example\nExample Support"


def reply_cfg(port: int, templates_dir=None):
    data = copy.deepcopy(CFG)
    data["staff"][0]["signature"] = SIGNATURE
    data["smtp"] = {"host": "127.0.0.1", "port": port, "security": "none", "from": DESK_FROM, "timeout_seconds": 5}
    if templates_dir is not None:
        data["replies"] = {"templates": str(templates_dir)}
    return from_dict(data)


@pytest.fixture
def cfg(smtp_sink, tmp_path):
    """This module's desk sends through the test's SMTP sink and has one template of its own."""
    tdir = tmp_path / "templates"
    tdir.mkdir()
    (tdir / "thanks.txt").write_text("Hello {requester_name},\n\nThank you for the kind words about #{ticket}.\n\n"
                                     "{agent_name}\n")
    return reply_cfg(smtp_sink.port, tdir)


def outgoing_rows(db, tid):
    return [m for m in messages.messages_for(db, tid) if m["kind"] in ("outgoing", "note")]


def sends(db):
    return [outgoing.get_send(db, r[0]) for r in db.execute("SELECT id FROM mail_outbox ORDER BY id").fetchall()]


def composer_text(app) -> str:
    return app.screen.query_one(TextArea).text


async def palette_has(app, text: str) -> bool:
    from console.ui import keys

    return any([text in str(h.display) async for h in keys.KeyCommands(app.screen).discover()])


async def open_composer(pilot, tid, key="r"):
    select(pilot.app, tid)
    await pilot.press(key)
    await settle(pilot)


# -- the built-in composer ---------------------------------------------------------------------------------

async def test_the_built_in_composer_quotes_reviews_and_sends_to_the_server(make_app, seeded, db, smtp_sink):
    """Headless, as in a browser, App.suspend is not possible: the TextArea composer opens with the quote
    and the signature; ctrl+s shows the review; y stores the reply, makes first contact and sends it."""
    _, ids = seeded
    tid = ids[4]  # Class I, new, unassigned: "Feature request: dark mode" from kim@studio.example
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_composer(pilot, tid)
        assert isinstance(app.screen, ComposerScreen)
        draft = composer_text(app)
        assert "kim@studio.example wrote:\n> Hi!\n> Could the console get a dark mode?" in draft
        assert draft.rstrip().endswith("-- \n" + SIGNATURE)
        head = screen_text(app)
        assert "To       kim@studio.example" in head and f"Subject  Re: [#{tid}] Feature request: dark mode" in head
        await pilot.press(*"We have added it to the plan.")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        review = screen_text(app)
        assert "We have added it to the plan." in review
        assert f"first contact (a reply by mail): #{tid} becomes acknowledged by you" in review
        assert sends(db) == []  # nothing is stored before y
        await pilot.press("y")
        await settle(pilot)
        assert not isinstance(app.screen, ReviewScreen)
        [row] = outgoing_rows(db, tid)
        assert row["kind"] == "outgoing" and "We have added it to the plan." in row["body_text"]
        [send] = sends(db)
        assert send["state"] == "sent" and send["actor"] == "ann" and send["message_row"] == row["id"]
        [mail] = smtp_sink.records
        assert mail.rcpt_tos == ["kim@studio.example"]
        assert mail.subject == f"Re: [#{tid}] Feature request: dark mode"
        body = mail.message.get_content()
        assert "We have added it to the plan." in body and "> Could the console get a dark mode?" in body
        assert mail.content == outgoing.raw_of(db, send)  # the stored bytes are what went out
        t = tickets.get_ticket(db, tid)
        assert (t["status"], t["acknowledged_by"]) == ("acknowledged", "ann")
        assert any(n.startswith(f"Sent: #{tid}") and "acknowledged by you" in n for n in notifications(app))


async def test_esc_discards_only_after_a_confirm_and_writes_nothing(make_app, seeded, db, smtp_sink):
    _, ids = seeded
    tid = ids[4]
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_composer(pilot, tid)
        await pilot.press(*"half a thought")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert "Discard this reply?" in screen_text(app)
        await pilot.press("n")  # keep writing: nothing lost
        await pilot.pause()
        assert isinstance(app.screen, ComposerScreen) and "half a thought" in composer_text(app)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("escape")  # from the review too, only after a question
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is app.dashboard
        assert outgoing_rows(db, tid) == [] and sends(db) == [] and smtp_sink.records == []
        assert tickets.get_ticket(db, tid)["status"] == "new"
        assert any("discarded; nothing was sent" in n for n in notifications(app))


async def test_a_ticket_changed_while_the_composer_is_open_is_refused_with_the_new_state(make_app, seeded, db,
                                                                                         smtp_sink):
    """A second connection (the CLI, another console) changes the ticket while the reply is written: the
    send is refused with what changed, nothing is written, the text stays; a second y sends it."""
    _, ids = seeded
    tid = ids[4]
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_composer(pilot, tid)
        await pilot.press(*"On it.")
        other = store.open_db(seeded[0])
        actions.acknowledge(other, app.cfg, tid, "bob", NOW)
        other.conn.close()
        app.refresh_now()
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)  # still open, with the text
        note = str(app.screen.query_one("#review-note", Static).content)
        assert f"#{tid} changed since you started this reply: now acknowledged by bob, now assigned to bob; " \
               "nothing was sent" in note
        assert outgoing_rows(db, tid) == [] and sends(db) == [] and smtp_sink.records == []
        assert "On it." in str(app.screen.query_one("#review-text", Static).content)
        await pilot.press("y")  # the operator has seen the new state: now it goes
        await settle(pilot)
        [send] = sends(db)
        assert send["state"] == "sent" and len(smtp_sink.records) == 1
        assert tickets.get_ticket(db, tid)["acknowledged_by"] == "bob"  # first contact stays bob's


async def test_a_note_is_added_from_the_detail_and_never_sent(make_app, seeded, db, smtp_sink):
    _, ids = seeded
    tid = ids[2]  # bob's ticket: a supervisor, or anyone, may add a note
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, tid)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, ComposerScreen) and composer_text(app) == ""
        assert "never sent to the customer" in screen_text(app)
        await pilot.press(*"Customer called the sales line too.")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "y Add the note" in screen_lines(app)[-1]
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        [note] = outgoing_rows(db, tid)
        assert note["kind"] == "note" and note["body_text"] == "Customer called the sales line too."
        assert sends(db) == [] and smtp_sink.records == []
        thread = str(app.screen.query_one("#detail-thread", Static).content)
        assert "internal note by Ann Example" in thread and "Customer called the sales line too." in thread
        assert "ann added an internal note" in str(app.screen.query_one("#detail-audit", Static).content)


# -- templates and the "we need details" key --------------------------------------------------------------

async def test_the_review_says_the_receipt_is_not_first_contact_and_sending_it_keeps_the_clock(make_app, seeded, db,
                                                                                                smtp_sink):
    """Issue 24: the receipt template's header says it is not first contact; the review says so, and after
    y the ticket is still new, its pages still going."""
    _, ids = seeded
    tid = ids[4]
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_composer(pilot, tid, key="T")
        await pilot.press(*"receipt", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        note = str(app.screen.query_one("#review-note", Static).content)
        assert f"Sending it is not first contact: #{tid} stays new" in note
        await pilot.press("y")
        await settle(pilot)
        assert len(smtp_sink.records) == 1
        t = tickets.get_ticket(db, tid)
        assert (t["status"], t["first_contact"], t["acknowledged_at"]) == ("new", None, None)


async def test_the_template_pick_list_filters_as_you_type_and_sends_the_pick(make_app, seeded, db, smtp_sink):
    _, ids = seeded
    tid = ids[4]
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_composer(pilot, tid, key="T")
        picker = app.screen
        assert isinstance(picker, TemplatePicker)
        ol = picker.query_one(OptionList)
        names = [ol.get_option_at_index(i).id for i in range(ol.option_count)]
        # the shipped five and the desk's own
        assert names == ["details", "need-more-time", "receipt", "resolved", "thanks", "working-on-it"]
        await pilot.press("j")  # j moves, it does not filter
        assert ol.highlighted == 1
        await pilot.press(*"tha")
        await pilot.pause()
        assert [ol.get_option_at_index(i).id for i in range(ol.option_count)] == ["thanks"]
        await pilot.press("z")
        await pilot.pause()
        assert ol.option_count == 0 and "no template matches" in str(picker.query_one("#templates-empty").content)
        await pilot.press("backspace", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)  # a template is ready: review it, then send or edit
        text = str(app.screen.query_one("#review-text", Static).content)
        assert f"Thank you for the kind words about #{tid}." in text and text.rstrip().endswith(SIGNATURE)
        await pilot.press("y")
        await settle(pilot)
        [mail] = smtp_sink.records
        assert f"Thank you for the kind words about #{tid}." in mail.message.get_content()
        queued = [e for e in audit.events_for(db, tid) if e["kind"] == "reply_queued"]
        assert queued[-1]["detail"]["template"] == "thanks"


async def test_the_composer_takes_a_template_in_place_of_the_quote_and_undo_brings_it_back(make_app, seeded):
    _, ids = seeded
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_composer(pilot, ids[4])
        draft = composer_text(app)
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, TemplatePicker)
        await pilot.press(*"receipt", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ComposerScreen)
        assert f"We have your request #{ids[4]} (Class I)" in composer_text(app)
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert composer_text(app) == draft


async def test_one_key_asks_for_details_on_a_needs_details_ticket(make_app, seeded, db, cfg, smtp_sink):
    """The policy's rule: a mail that only asks for a call is never called back. `d` shows only on such a
    ticket; it brings the "we need details" request to the review, and y sends it."""
    _, ids = seeded
    tid = ids[3]  # cy's Class I ticket; ann is a supervisor
    with store.write(db):
        tickets.update_ticket(db, tid, {"needs_details": 1}, NOW)
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, ids[4])
        await pilot.pause()
        assert "d Ask for details" not in screen_lines(app)[-1]
        assert not await palette_has(app, "Ask for details")  # nor offered in the palette
        await pilot.press("d")  # does not apply here: nothing opens
        await settle(pilot)
        assert app.screen is app.dashboard
        select(app, tid)
        await pilot.pause()
        assert "d Ask for details" in screen_lines(app)[-1]
        assert await palette_has(app, "Ask for details")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert "Template details" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        [mail] = smtp_sink.records
        assert mail.rcpt_tos == ["lee@small.example"]
        assert "describe the problem in writing" in mail.message.get_content()
        assert mail.message["Auto-Submitted"] is None  # a person sent it: a reply, not an auto-reply
        # Asked once: the review says so before a second request goes out.
        await pilot.press("d")
        await settle(pilot)
        assert "Details were already asked for by ann" in screen_text(app)


# -- $EDITOR ---------------------------------------------------------------------------------------------

def editor_script(tmp_path, body: str) -> str:
    """An 'editor' that records the file's mode and text, then runs `body` (Python) on the file."""
    script = tmp_path / "fake-editor.py"
    script.write_text("import os, stat, sys\np = sys.argv[1]\n"
                      f"open({str(tmp_path / 'seen')!r}, 'w').write(p + '\\n' + oct(stat.S_IMODE(os.stat(p).st_mode))"
                      " + '\\n' + open(p).read())\n" + body)
    return f"{sys.executable} {script}"


def can_suspend(app, calls: list):
    """What a real terminal gives: App.suspend() hands the terminal over (Textual's own part is not
    under test here; Pilot's headless driver cannot suspend)."""
    @contextlib.contextmanager
    def suspend():
        calls.append(threading.current_thread() is threading.main_thread())
        yield

    app.suspend = suspend


async def test_the_editor_writes_the_reply_in_a_private_file_then_the_review_sends_it(make_app, seeded, db,
                                                                                      smtp_sink, tmp_path,
                                                                                      monkeypatch):
    _, ids = seeded
    tid = ids[4]
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, "open(p, 'a').write('\\nWritten in the editor.\\n')\n"))
    app = make_app("ann", live=False)
    calls = []
    can_suspend(app, calls)
    async with app.run_test(size=SIZE) as pilot:
        await open_composer(pilot, tid)
        assert calls == [True]  # on the UI thread, inside App.suspend()
        path, mode, draft = (tmp_path / "seen").read_text().split("\n", 2)
        assert mode == "0o600" and path.endswith(f"reply-{tid}.txt")
        assert "> Could the console get a dark mode?" in draft and SIGNATURE in draft
        assert not os.path.exists(path)  # removed afterwards
        assert isinstance(app.screen, ReviewScreen)
        assert "Written in the editor." in str(app.screen.query_one("#review-text", Static).content)
        await pilot.press("e")  # edit again: the editor gets the text as it is now
        await settle(pilot)
        assert "Written in the editor." in (tmp_path / "seen").read_text()
        await pilot.press("y")
        await settle(pilot)
        [mail] = smtp_sink.records
        assert mail.message.get_content().count("Written in the editor.") == 2
        assert [s["state"] for s in sends(db)] == ["sent"]


async def test_an_unchanged_draft_from_the_editor_sends_nothing(make_app, seeded, db, smtp_sink, tmp_path,
                                                                monkeypatch):
    _, ids = seeded
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, "pass\n"))
    app = make_app("ann", live=False)
    can_suspend(app, [])
    async with app.run_test(size=SIZE) as pilot:
        await open_composer(pilot, ids[4])
        assert app.screen is app.dashboard
        assert sends(db) == [] and outgoing_rows(db, ids[4]) == []
        assert any("left unchanged; nothing was sent" in n for n in notifications(app))


async def test_where_the_app_cannot_suspend_the_built_in_composer_is_used_even_with_an_editor(
        make_app, seeded, tmp_path, monkeypatch):
    """textual-serve's browser driver, like Pilot's headless one, cannot suspend: App.suspend raises
    SuspendNotSupported, and the reply is written in the TextArea instead."""
    _, ids = seeded
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, "open(p, 'a').write('never')\n"))
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_composer(pilot, ids[4])
        assert isinstance(app.screen, ComposerScreen)
        assert not (tmp_path / "seen").exists()


# -- permissions and set-up ------------------------------------------------------------------------------

async def test_without_smtp_r_says_replies_are_not_set_up_and_n_still_works(seeded, clock, db):
    from console.ui.app import ConsoleApp

    _, ids = seeded
    app = ConsoleApp(seeded[0], from_dict(CFG), "ann", clock, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_composer(pilot, ids[4])
        assert app.screen is app.dashboard
        [said] = [n for n in notifications(app) if "not set up" in n]
        assert "\n" not in said and "[smtp]" in said
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, ComposerScreen)


async def test_staff_may_note_anything_but_reply_only_to_their_own_or_unassigned(make_app, seeded, db):
    _, ids = seeded
    app = make_app("bob", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_composer(pilot, ids[3])  # cy's ticket
        assert app.screen is app.dashboard
        assert any("assigned to cy; only they or a supervisor may reply to it" in n for n in notifications(app))
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, ComposerScreen)


# -- failed mail: on the ticket, and a toast --------------------------------------------------------------

async def test_a_5xx_from_the_server_is_shown_on_the_ticket_and_can_be_sent_again(make_app, seeded, db,
                                                                                  smtp_sink):
    _, ids = seeded
    tid = ids[4]
    smtp_sink.data_reply = "550 5.7.1 Message refused by policy"
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_composer(pilot, tid)
        await pilot.press(*"Hello", "ctrl+s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        [send] = sends(db)
        assert send["state"] == "failed" and "550 5.7.1" in send["last_error"]
        failed = [n for n in notifications(app) if n.startswith(f"Mail FAILED: #{tid}")]
        assert len(failed) == 1 and "550 5.7.1 Message refused by policy" in failed[0]
        app.refresh_now(force=True)  # the change checks see the failure too: not told twice
        await pilot.pause()
        assert len([n for n in notifications(app) if "FAILED" in n]) == 1
        select(app, tid)
        await pilot.press("enter")
        await settle(pilot)
        info = str(app.screen.query_one("#detail-info", Static).content)
        thread = str(app.screen.query_one("#detail-thread", Static).content)
        assert "OUR MAIL FAILED" in info
        assert "reply by ann to kim@studio.example: FAILED" in thread and "550 5.7.1" in thread
        assert "S Send a failed mail again" in screen_lines(app)[-1]
        smtp_sink.data_reply = "250 2.0.0 Ok"
        await pilot.press("S")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        assert outgoing.get_send(db, send["id"])["state"] == "sent" and len(smtp_sink.records) == 1
        assert "S Send a failed mail again" not in screen_lines(app)[-1]


async def test_a_failure_in_another_process_raises_one_toast_with_the_bell(make_app, seeded, db, cfg, smtp_sink):
    """The poller (or the CLI) gets a 5xx for a reply: the console's change check raises a toast, once."""
    _, ids = seeded
    tid = ids[1]
    app = make_app("ann", live=False)
    bells = []
    app.bell = lambda: bells.append(1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        other = store.open_db(seeded[0])
        q = desk.send_reply(other, cfg, tid, "We are on it.", "bob", NOW)
        smtp_sink.data_reply = "554 5.7.1 Relay access denied"
        assert delivery.send_now(other, cfg, q.send_id, FrozenClock(NOW)).state == "failed"
        other.conn.close()
        app.refresh_now()
        await pilot.pause()
        news = [n for n in notifications(app) if f"#{tid}" in n and "FAILED" in n]
        assert len(news) == 1 and "554 5.7.1 Relay access denied" in news[0] and bells
        app.refresh_now(force=True)
        await pilot.pause()
        assert len([n for n in notifications(app) if "FAILED" in n]) == 1


async def test_the_detail_lists_the_desks_mail_in_the_thread_with_its_delivery(make_app, seeded, db, cfg,
                                                                               smtp_sink):
    _, ids = seeded
    tid = ids[1]
    q = desk.send_reply(db, cfg, tid, "First answer.", "ann", NOW)
    desk.add_note(db, cfg, tid, "Called their ops line.", "bob", NOW)
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        select(app, tid)
        await pilot.press("enter")
        await settle(pilot)
        thread = str(app.screen.query_one("#detail-thread", Static).content)
        assert "sent by the desk  Example Support <support@example.com>" in thread
        assert "reply by ann to cto@fintech.example: queued  not tried yet" in thread
        assert thread.index("First answer.") < thread.index("internal note by Bob Baker") \
            < thread.index("Called their ops line.")
        assert delivery.send_now(db, cfg, q.send_id, FrozenClock(NOW)).state == "sent"
        app.refresh_now()
        app.screen.reload()
        await settle(pilot)
        thread = str(app.screen.query_one("#detail-thread", Static).content)
        assert "reply by ann to cto@fintech.example: sent" in thread and "250 2.0.0" in thread


# -- snapshots ------------------------------------------------------------------------------------------

def _run(*keys: str, tid_index: int = 4):
    async def run_before(pilot) -> None:
        await pilot.pause()
        select(pilot.app, sorted(pilot.app.tickets)[tid_index])
        await pilot.press(*keys)
        await settle(pilot)
        for area in pilot.app.screen.query(TextArea):
            area.cursor_blink = False
        await pilot.pause()
    return run_before


def test_snapshot_composer(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=_run("r", *"Thanks, noted."))


def test_snapshot_review_before_sending(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE,
                        run_before=_run("r", *"Thanks, noted.", "ctrl+s"))


def test_snapshot_template_picker(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=_run("T"))


async def test_an_internal_error_while_sending_is_said_and_leaves_the_review_usable(make_app, seeded, db,
                                                                                    monkeypatch):
    _, ids = seeded

    def broken(*a, **kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(desk, "send_reply", broken)
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_composer(pilot, ids[4])
        await pilot.press(*"Hello", "ctrl+s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        review = app.screen
        assert isinstance(review, ReviewScreen) and not review.busy
        assert "internal error: RuntimeError: disk on fire; nothing was sent" in \
            str(review.query_one("#review-note", Static).content)
        await pilot.press("escape", "y")  # and it can still be discarded
        await settle(pilot)
        assert app.screen is app.dashboard and sends(db) == []


async def test_the_review_says_which_cc_is_left_off_and_the_reply_goes_to_the_others(make_app, db, cfg, smtp_sink):
    """A Cc that cannot be written safely (issue 20) is named on the review; y sends to everyone else."""
    from console.intake.pipeline import Incoming, file_messages
    from tests.hostile import outgoing as hostile

    [filed] = file_messages(db, cfg, [Incoming(hostile.double_cc(), NOW)], NOW)
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_composer(pilot, filed.ticket_id)
        await pilot.press(*"On it.")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        review = " ".join(screen_text(app).split())
        assert "Cc dora@cust.example, ok7@cust.example, eve@cust.example" in review
        assert "left off: cannot be written safely (it holds encoded-word syntax" in review
        await pilot.press("y")
        await settle(pilot)
        [mail] = smtp_sink.records
    assert mail.rcpt_tos == ["carl@cust.example", "dora@cust.example", "ok7@cust.example", "eve@cust.example"]
