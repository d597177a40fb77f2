"""A server's clock that is wrong (issue 19, item 7), against a real Dovecot: a received time (INTERNALDATE)
more than a few minutes ahead of the desk's clock, or before intake's last look at a mailbox that did not
hold the mail yet, is replaced by the time intake saw the mail, with an audit note; a new Class III is never
born breached because a server's clock is wrong. A backlog's honest times are kept."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, UTC

import pytest

from store.times import parse_iso
from tests.integration.helpers import mail, query, run_cli, write_config

pytestmark = pytest.mark.integration


def _append(dovecot, raw: bytes, when: datetime) -> None:
    c = dovecot.client()
    try:
        c.append("INBOX", raw, msg_time=when)
    finally:
        c.logout()


def _ticket(db, subject):
    (tid, received, breached_due), = query(db, "SELECT id, received_at, due_at FROM tickets WHERE subject = ?",
                                           [subject])
    return tid, parse_iso(received), parse_iso(breached_due)


def test_a_received_time_the_server_cannot_have_is_replaced_with_a_note(dovecot, tmp_path):
    config = write_config(tmp_path, port=dovecot.port)
    db = tmp_path / "support.db"
    now = datetime.now(UTC)
    # A backlog from before the desk's first sync: its times are history and stay as they are.
    _append(dovecot, mail("old", to="support@example.com", subject="old backlog"), now - timedelta(hours=3))
    assert run_cli(config, "poll", "--once").returncode == 0
    _, received, _ = _ticket(db, "old backlog")
    assert abs(received - (now - timedelta(hours=3))) < timedelta(seconds=2)

    # After that sync: one an hour ahead, one an hour behind (the server's clock is wrong), one honest
    # (two minutes late: within the tolerance).
    _append(dovecot, mail("ahead", to="urgent@example.com", subject="ahead"), now + timedelta(hours=1))
    _append(dovecot, mail("behind", to="urgent@example.com", subject="behind"), now - timedelta(hours=1))
    _append(dovecot, mail("honest", to="support@example.com", subject="honest"), now - timedelta(minutes=2))
    assert run_cli(config, "poll", "--once").returncode == 0
    seen = datetime.now(UTC)
    for subject in ("ahead", "behind"):
        tid, received, due = _ticket(db, subject)
        assert now - timedelta(seconds=2) <= received <= seen, (subject, received)
        assert due > seen  # a Class III with its 15 minutes still ahead
        shown = json.loads(run_cli(config, "show", str(tid), "--json", check=True).stdout)
        assert shown["breached"] is False
        notes = [e for e in shown["events"] if e["kind"] == "received_time_replaced"]
        assert len(notes) == 1 and "server's received time" in notes[0]["detail"]["why"], shown["events"]
    _, received, _ = _ticket(db, "honest")
    assert abs(received - (now - timedelta(minutes=2))) < timedelta(seconds=2)
    assert query(db, "SELECT count(*) FROM events WHERE kind = 'received_time_replaced'") == [(2,)]
