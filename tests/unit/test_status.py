"""`support-console status` (console/status.py, store.outbox.health_counts): health from the database only.

A real SQLite file with heartbeat rows as the poller writes them; the CLI runs in-process. The poller
writing those rows for real is tested in tests/integration/test_service.py.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from console import cli, health
from console.cli import common
from console.clock import FrozenClock
from console.config import load
from console.intake.pipeline import Incoming, file_messages
from console.poller import sync_staff
from store import heartbeat, open_db, outbox, write
from store.times import iso
from tests.integration.alerts_helpers import T0, mail, write_config

IMAP = {"host": "127.0.0.1", "port": 1143, "security": "none", "username": "desk", "password_env": "X"}


@pytest.fixture
def desk(tmp_path, monkeypatch):
    conf = write_config(tmp_path, at=T0, imap=IMAP)
    monkeypatch.setattr(common, "clock", lambda: FrozenClock(T0))
    return conf


def status(conf, *args, capsys):
    code = cli.main(["--config", str(conf), "status", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def beats(db, *, scheduler_ago=2, intake_ago=5, sync_ago=10, **intake):
    with write(db):
        heartbeat.beat(db, health.SCHEDULER, T0 - timedelta(seconds=scheduler_ago), pid=1, host="desk")
        heartbeat.beat(db, "intake:desk@127.0.0.1/INBOX", T0 - timedelta(seconds=intake_ago), pid=1, host="desk",
                       **{"state": "idle", "ever_connected": True,
                          "last_sync_at": iso(T0 - timedelta(seconds=sync_ago)), "last_error": None, **intake})


def test_no_poller_ever_ran(desk, capsys, tmp_path):
    code, out, _ = status(desk, capsys=capsys)
    assert code == 1
    assert out.splitlines()[:2] == ["status: DEGRADED", f"no database at {tmp_path / 'support.db'}: no poller has run"]
    assert not (tmp_path / "support.db").exists()  # status never creates the database
    code, out, _ = status(desk, "--json", capsys=capsys)
    data = json.loads(out)
    assert code == 1 and data["healthy"] is False and data["scheduler"]["state"] == "never run"


def test_healthy(desk, capsys):
    db = open_db(load(desk).store_path)
    beats(db)
    code, out, _ = status(desk, capsys=capsys)
    assert (code, out) == (0, "status: healthy\nintake desk@127.0.0.1/INBOX: idle, last sync 10s ago\n"
                              "scheduler: ok (2s ago)\noutbox: 0 pending, none failed\n")
    data = json.loads(status(desk, "--json", capsys=capsys)[1])
    assert data["healthy"] is True and data["at"] == iso(T0)
    assert data["intake"]["last_sync_at"] == iso(T0 - timedelta(seconds=10))
    assert data["outbox"] == {"ok": True, "state": "ok", "summary": "outbox: 0 pending, none failed", "pending": 0,
                              "retrying": 0, "failed": 0, "expired": 0, "sent": 0, "mail_pending": 0, "mail_failed": 0,
                              "mail_withheld": 0}


def test_a_stale_scheduler_or_stuck_intake_is_degraded(desk, capsys):
    db = open_db(load(desk).store_path)
    beats(db, scheduler_ago=120)
    code, out, _ = status(desk, capsys=capsys)
    assert code == 1 and "scheduler: STALE, last seen 2m00s ago" in out
    beats(db, sync_ago=900, state="error", last_error="IMAP server 127.0.0.1:1143: connection refused")
    code, out, _ = status(desk, capsys=capsys)
    assert code == 1 and ("intake desk@127.0.0.1/INBOX: not synced, last sync 15m00s ago: "
                          "IMAP server 127.0.0.1:1143: connection refused") in out


def page(db, key, *, ticket_id=None, state="failed", at=T0, retry=False):
    with write(db):
        a = outbox.add_alert(db, dedup_key=key, ticket_id=ticket_id, cls=None, step="arrival", audience="primary",
                             target="bob", urgent=True, title="t", body="b", due_at=at, now=at)
        db.execute("UPDATE alerts SET state = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
                   [state, iso(at + timedelta(seconds=5)) if retry else outbox.NEVER, iso(at), a])
    return a


def test_only_pages_that_still_matter_degrade_the_outbox(desk, capsys):
    cfg = load(desk)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    beats(db)
    [filed] = file_messages(db, cfg, [Incoming(raw=mail(1), received_at=T0)], T0)
    since = T0 - health.OUTBOX_WINDOW
    base = outbox.health_counts(db, since)  # the ticket's own arrival pages, pending
    page(db, "retry", retry=True)
    page(db, "old", at=T0 - timedelta(days=2))  # a ticketless page given up two days ago
    page(db, "expired-old", state="expired", at=T0 - timedelta(days=3))
    counts = outbox.health_counts(db, since)
    assert (counts["retrying"], counts["failed"], counts["expired"]) == (1, 0, 0)
    assert status(desk, capsys=capsys)[0] == 0
    # A send cut short on a ticket nobody has answered yet: it matters however old it is.
    a = page(db, "on-ticket", ticket_id=filed.ticket_id, state="expired", at=T0 - timedelta(days=5))
    assert outbox.health_counts(db, since)["expired"] == 1
    code, out, _ = status(desk, capsys=capsys)
    assert code == 1 and f"outbox: 0 failed, 1 expired, {base['pending']} pending, 1 retrying" in out
    from console import actions

    actions.acknowledge(db, cfg, filed.ticket_id, "bob", T0)  # first contact made: the page is history
    assert [r["state"] for r in outbox.list_alerts(db) if r["id"] == a] == ["expired"]
    assert outbox.health_counts(db, since)["expired"] == 0
    assert status(desk, capsys=capsys)[0] == 0
    # A ticketless page (a stale-intake page, say) given up on within the window: the desk must hear of it.
    page(db, "recent", at=T0 - timedelta(hours=1))
    assert outbox.health_counts(db, since)["failed"] == 1
    assert status(desk, capsys=capsys)[0] == 1


def test_mail_that_failed_for_good_degrades_the_outbox_until_it_is_sent_again(desk, capsys):
    from store import outgoing

    cfg = load(desk)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    beats(db)
    [filed] = file_messages(db, cfg, [Incoming(raw=mail(1), received_at=T0)], T0)
    with write(db):
        row = outgoing.add_message(db, ticket_id=filed.ticket_id, kind="outgoing", raw=b"Subject: x\r\n\r\nhi",
                                   message_id="t1.abc@desk.example", from_addr="support@desk.example", from_name="",
                                   recipients=["carl1@cust1.example"], subject="x", body_text="hi", in_reply_to=None,
                                   refs=(), now=T0, source="test")
        send = outgoing.add_send(db, message_row=row, ticket_id=filed.ticket_id, purpose="reply", actor="bob",
                                 automatic=False, mail_from="support@desk.example", to_addr="carl1@cust1.example",
                                 rcpt_to=["carl1@cust1.example"], now=T0)
    code, out, _ = status(desk, capsys=capsys)
    assert "mail: 1 pending, 0 failed" in out
    with write(db):
        outgoing.claim(db, T0, claimed_by="me", send_deadline=T0 + timedelta(minutes=1), send_id=send)
        assert outgoing.mark_failed(db, send, "me", T0, error="550 no such user")
    code, out, _ = status(desk, capsys=capsys)
    assert code == 1 and "mail: 0 pending, 1 failed" in out
    with write(db):
        outgoing.requeue(db, send, T0)  # a person sends it again
    assert "mail: 1 pending, 0 failed" in status(desk, capsys=capsys)[1]
