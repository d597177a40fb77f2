"""A mailbox's history is not an emergency (issue 19 item 10): a real Dovecot whose mail carries old
INTERNALDATEs, the real intake, `poll --once` (intake, escalation, dispatch) and a real HTTP receiver.

bob is primary and cy secondary; ann is the supervisor."""
from __future__ import annotations

import shutil
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from console.clock import SystemClock
from console.config import load
from console.intake import imap, watch
from tests.integration import alerts_helpers as h
from tests.integration.helpers import DESK_PASSWORD, PASSWORD_ENV, query

pytestmark = pytest.mark.integration
D, H, MIN = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


def append_at(dovecot, mails: list[tuple[bytes, datetime]]) -> None:
    """APPEND over one connection, each with its own INTERNALDATE (when the server got it)."""
    c = dovecot.client()
    try:
        for raw, when in mails:
            c.append("INBOX", raw, msg_time=when)
    finally:
        c.logout()


def urgent(i: int, when: datetime) -> tuple[bytes, datetime]:
    return h.mail(i, subject=f"site {i} down", date_=when), when


def support(i: int, when: datetime) -> tuple[bytes, datetime]:
    return h.mail(i, to=h.SUPPORT, subject=f"question {i}", date_=when), when


def pages(db) -> list[tuple]:
    return [(a["target"], a["step"], a["ticket_id"]) for a in h.alerts(db)]


def test_history_is_one_summary_and_what_comes_after_pages_as_usual(dovecot, http_receiver, tmp_path):
    db = tmp_path / "support.db"
    conf = h.write_config(tmp_path, dovecot=dovecot, notify={x: [http_receiver.url(f"/{x}")] for x in h.HANDLES})
    now = datetime.now(UTC)
    append_at(dovecot, [*(urgent(i, now - 2 * D) for i in range(1, 7)),  # 6 Class III, long overdue
                        *(support(i, now - 10 * D) for i in range(7, 11)),  # 4 Class I past 72 h
                        *(support(i, now - H) for i in range(11, 13)),  # 2 Class I, due in 71 h
                        urgent(13, now - 3 * MIN)])  # a Class III still within its 15 minutes
    h.cli(conf, "poll", "--once")
    [summary] = http_receiver.wait_for(1, timeout=10)
    assert h.path_of(summary) == "ann"
    assert summary.body["title"] == ("[support-console] first sync of desk@127.0.0.1/INBOX: 13 open tickets "
                                     "imported, 6 Class III already overdue")
    text = summary.body["message"]
    assert "Class III: 7 open, 6 already overdue (overdue: #1 #2 #3 #4 #5 #6)" in text
    assert "Class I: 6 open, 4 already overdue" in text and "Class II:" not in text
    assert summary.body["type"] == "failure"  # urgent: Class III are open
    assert pages(db) == [("ann", "first-sync", None)]  # not one page per ticket
    assert len(h.tickets(db)) == 13
    # The ones not yet overdue keep their schedule: #13 escalates at its 10 minutes, #11 warns at 80 %.
    t13 = h.tickets(db)[12]
    assert h.parse_iso(t13["next_step_at"]) == h.parse_iso(t13["received_at"]) + 10 * MIN
    assert all(t["next_step_at"] is None for t in h.tickets(db)[:10])  # overdue: the summary was their page

    replica = tmp_path / "replica.db"  # a replica as it stood then
    with sqlite3.connect(db) as src, sqlite3.connect(replica) as dst:
        src.backup(dst)

    # New mail after the first sync pages as usual; the history does not start repeating.
    append_at(dovecot, [urgent(14, datetime.now(UTC))])
    h.cli(conf, "poll", "--once")
    h.cli(conf, "poll", "--once")
    got = http_receiver.wait_for(3, timeout=10)
    assert sorted(h.path_of(r) for r in got[1:]) == ["bob", "cy"] and "site 14 down" in got[1].body["title"]
    assert len(pages(db)) == 3

    # Restored from the replica: mail 14 is read again, and it is recent mail (it pages, once).
    for p in tmp_path.glob("support.db*"):
        if not p.name.endswith(".ackkey"):
            p.unlink()
    shutil.copy(replica, db)
    h.cli(conf, "poll", "--once")
    h.cli(conf, "poll", "--once")
    got = http_receiver.wait_for(5, timeout=10)
    assert sorted(h.path_of(r) for r in got[3:]) == ["bob", "cy"] and "site 14 down" in got[3].body["title"]
    assert [p for p in pages(db) if p[1] == "first-sync"] == [("ann", "first-sync", None)]  # no second summary

    # The database lost: reading the mailbox afresh is a first sync again, not 14 tickets' worth of pages.
    for p in tmp_path.glob("support.db*"):
        p.unlink()
    h.cli(conf, "poll", "--once")
    got = http_receiver.wait_for(6, timeout=10)
    assert h.path_of(got[5]) == "ann" and got[5].body["title"].endswith("14 open tickets imported, 6 Class III "
                                                                          "already overdue")
    assert pages(db) == [("ann", "first-sync", None)]


def test_mail_arriving_during_a_first_sync_is_filed_and_paged_first_and_a_restart_keeps_history_history(
        dovecot, http_receiver, tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, DESK_PASSWORD)
    db = tmp_path / "support.db"
    conf = h.write_config(tmp_path, dovecot=dovecot, imap={"batch_size": 10},
                          notify={x: [http_receiver.url(f"/{x}")] for x in h.HANDLES})
    cfg = load(conf)
    old = datetime.now(UTC) - 10 * D
    append_at(dovecot, [support(i, old) for i in range(1, 31)])  # 30 old mails: three batches of history
    commits: list[int] = []
    stop = threading.Event()

    def on_commit(n: int) -> None:
        commits.append(n)
        if len(commits) == 1:  # a Class III arrives while the history is being filed
            append_at(dovecot, [urgent(99, datetime.now(UTC))])
        if len(commits) == 3:  # and the poller stops half-way (a restart, a crash after a commit)
            stop.set()

    client = imap.connect(cfg.imap, DESK_PASSWORD)
    try:
        watch.Intake(cfg, SystemClock(), stop, on_commit=on_commit).sync(client)
    finally:
        client.logout()
    # The new mail was filed right after the first batch, ahead of the rest of the history, and paged.
    urgent_ticket = [t for t in h.tickets(db) if t["class"] == "III"]
    assert [t["id"] for t in urgent_ticket] == [11] and len(h.tickets(db)) == 21
    assert pages(db) == [("bob", "arrival", 11), ("cy", "arrival", 11)]
    assert query(db, "SELECT summarised_at FROM first_syncs") == [(None,)]

    # After the restart the rest of the history is still history; then the summary, once.
    client = imap.connect(cfg.imap, DESK_PASSWORD)
    try:
        watch.Intake(cfg, SystemClock(), threading.Event()).sync(client)
    finally:
        client.logout()
    assert len(h.tickets(db)) == 31  # mail 99 was not filed twice
    assert pages(db) == [("bob", "arrival", 11), ("cy", "arrival", 11), ("ann", "first-sync", None)]
    h.cli(conf, "poll", "--once")  # the real scheduler sends them
    got = http_receiver.wait_for(3, timeout=10)
    assert sorted(h.path_of(r) for r in got) == ["ann", "bob", "cy"]
    [summary] = [r for r in got if h.path_of(r) == "ann"]
    assert "30 open tickets imported" in summary.body["title"] and "Class III" not in summary.body["title"]
