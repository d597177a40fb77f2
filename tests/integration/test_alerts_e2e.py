"""Pages end to end: real Dovecot, the real `support-console poll` process, apprise json:// pages to a
real HTTP receiver (one path per person: json://127.0.0.1:PORT/<handle>).

bob is primary and cy secondary this week; ann is the supervisor.
"""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, UTC

import pytest

from console.scheduler import Scheduler
from console.clock import FrozenClock
from console.config import load
from tests.integration import alerts_helpers as h
from tests.integration.helpers import query, wait_until

pytestmark = pytest.mark.integration

SHORT_SLA = h.SHORT_SLA


def by_handle(records):
    out: dict[str, list] = {}
    for r in records:
        out.setdefault(h.path_of(r), []).append(r)
    return out


def test_urgent_mail_pages_primary_and_secondary(desk, dovecot, http_receiver, poller, tmp_path):
    conf = desk()
    poller(conf)
    dovecot.append(h.mail(1, subject="DNS service is down"))
    records = http_receiver.wait_for(2, timeout=10)
    time.sleep(1.0)  # nobody else is paged at arrival
    records = http_receiver.records
    assert sorted(h.path_of(r) for r in records) == [h.PRIMARY, h.SECONDARY]
    [t] = h.tickets(tmp_path / "support.db")
    assert t["class"] == "III"
    for r in records:
        title, body = r.body["title"], r.body["message"]
        assert "Class III" in title and f"#{t['id']}" in title and "DNS service is down" in title
        assert f"support-console ack {t['id']}" in body
        assert r.body["type"] == "failure"  # urgent: apprise's highest severity
    rows = wait_until(lambda: [a for a in h.alerts(tmp_path / "support.db") if a["state"] == "sent"] or None, 5)
    assert sorted(a["target"] for a in rows) == ["bob", "cy"]
    results = query(tmp_path / "support.db", "SELECT * FROM alert_results ORDER BY id", dicts=True)
    # Each service is stored by its scheme, host and a keyed hash; its path (a pager token) is not.
    assert sorted(r["service"] for r in results) == sorted(
        h.target(tmp_path / "support.db", http_receiver.url(f"/{x}")) for x in ("bob", "cy"))
    assert all(r["service"].startswith(f"json://127.0.0.1:{http_receiver.port}#") for r in results)
    assert all(r["ok"] == 1 and r["status"] == "SUCCESS" for r in results)


def test_escalation_and_breach_arrive_on_time_and_ack_stops_them(desk, dovecot, http_receiver, poller, pollers,
                                                                  tmp_path):
    db = tmp_path / "support.db"
    conf = desk(sla=SHORT_SLA)
    poller(conf)
    appended = time.time()
    dovecot.append(h.mail(1))
    # arrival (bob, cy) at +0, escalate (team) at +3 s, breach (team + supervisors) at +6 s
    http_receiver.wait_for(8, timeout=20)
    [t] = h.tickets(db)
    received = h.parse_iso(t["received_at"]).timestamp()
    # received_at is INTERNALDATE truncated to the second: within a second before the APPEND.
    assert appended - 1.0 <= received <= appended + 1.0

    rows = {(a["target"], a["title"]): a for a in h.alerts(db)}
    expected_offsets = {"NEW": 0, "ESCALATED": 3, "BREACHED": 6}
    seen = []
    for rec in http_receiver.records[:8]:
        row = rows[(h.path_of(rec), rec.body["title"])]
        due = h.parse_iso(row["due_at"]).timestamp()
        kind = next(k for k in expected_offsets if f" {k}:" in rec.body["title"])
        assert due - received == expected_offsets[kind], (kind, row)
        if kind == "NEW":
            # Due at received_at (truncated), so it is bounded by intake (IDLE) latency instead.
            took = rec.wall - appended
            assert took <= 2.0, f"arrival page to {row['target']} came {took:.2f}s after the APPEND"
        else:
            late = rec.wall - due
            assert -0.1 <= late <= 1.0, f"{kind} page to {row['target']} arrived {late:+.2f}s from its due time"
        seen.append((kind, h.path_of(rec)))
    assert sorted(seen) == sorted([("NEW", "bob"), ("NEW", "cy"), ("ESCALATED", "ann"), ("ESCALATED", "bob"),
                                   ("ESCALATED", "cy"), ("BREACHED", "ann"), ("BREACHED", "bob"),
                                   ("BREACHED", "cy")])

    out = h.cli(conf, "ack", str(t["id"]), actor="ann").stdout
    assert "acknowledged by ann" in out
    n = len(http_receiver.records)
    # The stand-downs go out at once; then the poller is stopped and the real scheduler runs on an
    # injected clock three repeat periods later (no sleeping for the deadlines).
    wait_until(lambda: len([r for r in http_receiver.records if "stand down" in r.body["title"]]) >= 2, 10)
    wait_until(lambda: not [a for a in h.alerts(db) if a["state"] in ("pending", "sending")], 10)
    pollers.stop_all()
    later = FrozenClock(datetime.now(UTC) + timedelta(seconds=3 * 3 + 1))
    s = Scheduler(load(conf), later, threading.Event())
    try:
        s.start_up()
        s.cycle()
        s.drain(10)
    finally:
        s.close()
    late = http_receiver.records[n:]
    # No more pages: only the stand-down notices to those paged (issue 15), once each, whenever they came.
    late = [r for r in late if "stand down" not in r.body["title"]]
    assert late == [], [r.body["title"] for r in late]
    notices = [h.path_of(r) for r in http_receiver.records if "stand down" in r.body["title"]]
    assert sorted(notices) == ["bob", "cy"]
    t = h.tickets(db)[0]
    assert t["status"] == "acknowledged" and t["acknowledged_by"] == "ann" and t["next_step_at"] is None
    assert not [a for a in h.alerts(db) if a["state"] in ("pending", "failed", "sending")]


def test_check_passes_and_lists_targets(desk, http_receiver, tmp_path):
    conf = desk()
    r = h.cli(conf, "check")
    assert "imap: ok" in r.stdout
    for handle, role in h.ROLES.items():
        name = h.target(tmp_path / "support.db", http_receiver.url(f"/{handle}"))
        assert name.startswith(f"json://127.0.0.1:{http_receiver.port}#")
        assert f"target {handle} ({role}): {name}\n" in r.stdout
    assert "on call rotation: bob, cy, ann" in r.stdout
    assert r.stdout.rstrip().endswith("check: ok")


def test_check_fails_on_a_bad_login(tmp_path, dovecot, http_receiver):
    conf = h.write_config(tmp_path, dovecot=dovecot, imap={"username": "nobody"},
                          notify={x: [http_receiver.url(f"/{x}")] for x in h.HANDLES})
    r = h.cli(conf, "check", check=False)
    assert r.returncode != 0
    assert "imap: FAILED" in r.stdout and "login failed" in r.stdout
    assert "secret" not in r.stdout + r.stderr


def test_test_page_reports_each_target(desk, http_receiver, tmp_path):
    conf = desk(notify={"ann": [http_receiver.url("/ann")], "bob": [http_receiver.url("/bob")],
                        "cy": ["json://127.0.0.1:9/cy"]})
    r = h.cli(conf, "test-page", "ann", actor="ann")
    assert "ann: sent" in r.stdout
    assert f"{h.target(tmp_path / 'support.db', http_receiver.url('/ann'))}: SUCCESS" in r.stdout
    [rec] = http_receiver.wait_for(1, timeout=5)
    assert h.path_of(rec) == "ann" and "test page" in rec.body["title"]

    r = h.cli(conf, "test-page", "primary", actor="bob")
    assert "bob: sent" in r.stdout
    assert h.path_of(http_receiver.wait_for(2, timeout=5)[1]) == "bob"

    r = h.cli(conf, "test-page", "cy", check=False, actor="ann")
    assert r.returncode != 0
    target = h.target(tmp_path / "support.db", "json://127.0.0.1:9/cy")
    assert "cy: failed" in r.stdout and f"{target}: FAILURE" in r.stdout

    r = h.cli(conf, "test-page", "team", check=False, actor="ann")
    assert r.returncode != 0  # one of three failed
    assert "ann: sent" in r.stdout and "bob: sent" in r.stdout and "cy: failed" in r.stdout


def test_oncall_shows_primary_and_secondary(desk):
    conf = desk()
    out = h.cli(conf, "oncall").stdout
    assert "primary bob, secondary cy" in out.splitlines()[0]
    assert "next:" in out and "primary cy, secondary ann" in out
    data = json.loads(h.cli(conf, "oncall", "--json").stdout)
    assert (data["primary"], data["secondary"]) == ("bob", "cy")


def test_poll_once_writes_a_fresh_heartbeat(desk, dovecot, http_receiver, tmp_path):
    conf = desk()
    h.cli(conf, "poll", "--once")  # the desk's first sync, of an empty mailbox: what comes after pages
    for i in (1, 2, 3):
        dovecot.append(h.mail(i))
    before = datetime.now(UTC).replace(microsecond=0)
    h.cli(conf, "poll", "--once")
    [beat] = query(tmp_path / "support.db", "SELECT * FROM heartbeats WHERE name = 'scheduler'", dicts=True)
    at = h.parse_iso(beat["at"])
    assert before <= at <= datetime.now(UTC)
    assert beat["pid"] and beat["host"]
    assert json.loads(beat["detail"])["mailbox"].endswith("/INBOX")
    # ... and that one cycle took the mail in and paged primary and secondary for each (six pages:
    # more than the poller has senders, so --once must keep dispatching until the outbox is drained).
    assert len(h.tickets(tmp_path / "support.db")) == 3
    records = http_receiver.wait_for(6, timeout=5)
    assert sorted(h.path_of(r) for r in records) == ["bob"] * 3 + ["cy"] * 3
    assert {a["state"] for a in h.alerts(tmp_path / "support.db")} == {"sent"}


def test_reopen_from_the_cli_brings_back_a_resolved_ticket(desk, tmp_path):
    conf = desk()
    h.cli(conf, "ingest", input=h.mail(1, to=h.SUPPORT, subject="printer"))
    [t] = h.tickets(tmp_path / "support.db")
    h.cli(conf, "resolve", str(t["id"]), actor="bob")
    refused = h.cli(conf, "reopen", str(t["id"]), actor="cy", check=False)
    assert refused.returncode != 0 and "assigned to bob" in refused.stderr  # the same rules as the console
    r = h.cli(conf, "reopen", str(t["id"]), actor="bob")
    # resolving made no contact (issue 24): it comes back new, its first-contact clock running again
    assert r.stdout.strip() == f"#{t['id']} reopened (new)"
    [t] = h.tickets(tmp_path / "support.db")
    assert t["status"] == "new"
    assert h.cli(conf, "reopen", str(t["id"]), actor="bob", check=False).returncode != 0  # not resolved now
