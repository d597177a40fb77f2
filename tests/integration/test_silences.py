"""Silences (issue 19 item 4): a supervisor holds the pages of a sender, a domain or a subject for a while.
Tickets keep their clocks; their pages are held as 'silenced' rows naming the silence, and when it ends
each person still concerned gets one page for every ticket still unacknowledged. The real scheduler and
pages sender, a real HTTP receiver, a real SQLite file, an injected clock (no sleeping); the CLI runs as a
process on the same kind of desk.
"""
from __future__ import annotations

import collections
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from console import silencing
from console.cli import main
from console.actions import acknowledge
from console.scheduler import Scheduler
from console.clock import FrozenClock
from console.config import from_dict, load
from console.intake.pipeline import Incoming, file_messages
from console.poller import sync_staff
from console.outbox.silences import hold_due
from store import audit, open_db, outbox, silences, write
from tests.integration import alerts_helpers as h

pytestmark = pytest.mark.integration

T0 = h.T0


def desk(tmp_path, http_receiver):
    cfg = from_dict(h.config_dict(tmp_path / "support.db", at=T0,
                                  notify={x: [http_receiver.url(f"/{x}")] for x in h.HANDLES}))
    sync_staff(cfg)
    return cfg, open_db(cfg.store_path)


def step(s: Scheduler) -> None:
    s.cycle()
    s.pages.drain(30)


def file(db, cfg, clock, i: int, frm: str) -> int:
    raw = h.mail(i, frm=frm, subject=f"PROBLEM host{i} DOWN", date_=clock.now())
    [f] = file_messages(db, cfg, [Incoming(raw=raw, received_at=clock.now())], clock.now())
    return int(f.ticket_id)


def test_a_silence_holds_pages_and_its_end_pages_each_person_once(tmp_path, http_receiver):
    cfg, db = desk(tmp_path, http_receiver)
    clock = FrozenClock(T0)
    s = Scheduler(cfg, clock, threading.Event(), workers=1)
    try:
        s.start_up()
        silence = silencing.add(db, cfg, kind="domain", pattern="monitor.example", length=timedelta(hours=1),
                                reason="planned work", actor="ann", now=clock.now())
        quiet = [file(db, cfg, clock, i, "nagios@monitor.example") for i in range(1, 11)]
        step(s)
        carl = file(db, cfg, clock, 99, "carl@cust.example")  # another sender pages as ever
        step(s)
        assert sorted(h.path_of(r) for r in http_receiver.records) == ["bob", "cy"]
        assert all(f"#{carl} " in r.body["title"] for r in http_receiver.records)
        acknowledge(db, cfg, carl, "bob", clock.now())
        held = [r for r in outbox.list_alerts(db) if r["ticket_id"] in quiet]
        assert held and {(r["state"], r["silenced_by"]) for r in held} == {("silenced", silence["id"])}
        assert silences.quiet(db, clock.now()) == (1, 10)
        acknowledge(db, cfg, quiet[0], "ann", clock.now())  # answered during the silence: never paged
        step(s)  # carl's stand-down to cy
        n = len(http_receiver.records)
        assert n == 3
        for _ in range(59):  # the tickets' clocks run on: escalation and breach steps are held too
            clock.advance(60)
            step(s)
        assert len(http_receiver.records) == n
        assert {r["step"] for r in outbox.list_alerts(db) if r["ticket_id"] == quiet[1]} > {"arrival"}
        clock.advance(61)
        step(s)
        step(s)
    finally:
        s.close()
    after = http_receiver.records[n:]
    per_person = collections.Counter(h.path_of(r) for r in after)
    assert per_person == {"ann": 1, "bob": 1, "cy": 1}  # bob and cy paged, ann (the team step) held too
    for r in after:
        assert r.body["title"].startswith("silence on domain monitor.example ended: 9 unacknowledged: #")
        assert f"#{quiet[0]} " not in r.body["title"] + " " and f"#{quiet[1]} " in r.body["title"] + " "
    rows = [r for r in outbox.list_alerts(db) if r["ticket_id"] in quiet]
    by_id = {r["id"]: r for r in outbox.list_alerts(db)}
    for r in rows:  # every held page is accounted for, and still names its silence
        if r["ticket_id"] == quiet[0]:
            assert (r["state"], r["silenced_by"]) == ("silenced", silence["id"])
        elif r["silenced_by"] is None:  # a step that came due as the silence ended rides on its page
            assert r["state"] == "bundled" and by_id[r["carried_by"]]["silenced_by"] == silence["id"]
        else:
            assert r["silenced_by"] == silence["id"] and r["state"] in ("sent", "bundled"), r
            if r["state"] == "bundled":
                assert by_id[r["carried_by"]]["state"] == "sent"
    assert silences.quiet(db, clock.now()) == (0, 0)
    kinds = [e for e in db.execute("SELECT kind, detail FROM events WHERE ticket_id IS NULL").fetchall()
             if e[0].startswith("silence")]
    assert [k for k, _ in kinds] == ["silence_added", "silence_released"]
    assert json.loads(kinds[1][1])["pages"] == len([r for r in rows if r["ticket_id"] != quiet[0]
                                                    and r["silenced_by"] == silence["id"]])
    assert audit.events_for(db, quiet[0])  # the ticket's own trail is untouched


def test_a_subject_silence_holds_only_what_matches(tmp_path, http_receiver):
    cfg, db = desk(tmp_path, http_receiver)
    clock = FrozenClock(T0)
    s = Scheduler(cfg, clock, threading.Event(), workers=1)
    try:
        s.start_up()
        silencing.add(db, cfg, kind="subject", pattern="problem host1 *", length=timedelta(minutes=30),
                      reason="host1 rebuilt", actor="ann", now=clock.now())
        held = file(db, cfg, clock, 1, "nagios@monitor.example")
        paged = file(db, cfg, clock, 2, "ops@elsewhere.example")
        step(s)
    finally:
        s.close()
    titles = [r.body["title"] for r in http_receiver.records]
    assert len(titles) == 2 and all(f"#{paged} " in t for t in titles)
    assert {r["state"] for r in outbox.list_alerts(db, ticket_id=held)} == {"silenced"}


def cli(conf, *args: str, actor: str | None = None, capsys) -> tuple[int, str, str]:
    """The CLI in this process (a subprocess would import the installed copy, not this checkout)."""
    capsys.readouterr()
    code = main(["--config", str(conf), *(["--as", actor] if actor else []), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_adds_lists_and_ends_silences_for_supervisors_only(tmp_path, capsys):
    conf = h.write_config(tmp_path, at=T0)
    code, _, err = cli(conf, "silence", "add", "--domain", "cust.example", "--for", "2h", "--reason", "planned work",
                       actor="bob", capsys=capsys)
    assert code == 77 and err.count("\n") == 1 and "supervisors only" in err
    code, _, err = cli(conf, "silence", "add", "--domain", "cust.example", "--for", "25h", "--reason", "long work",
                       actor="ann", capsys=capsys)
    assert code == 64 and err.count("\n") == 1 and "at most 24h" in err
    with pytest.raises(SystemExit):  # argparse: --reason is required
        cli(conf, "silence", "add", "--sender", "nagios@cust.example", "--for", "2h", actor="ann", capsys=capsys)
    code, out, _ = cli(conf, "silence", "add", "--domain", "cust.example", "--for", "2h", "--reason", "planned work",
                       actor="ann", capsys=capsys)
    assert code == 0 and out.startswith("silence 1: pages for domain cust.example held until ")
    code, out, _ = cli(conf, "silence", "list", "--json", capsys=capsys)
    [row] = json.loads(out)
    assert (row["id"], row["kind"], row["pattern"], row["active"], row["reason"]) == (
        1, "domain", "cust.example", True, "planned work")
    cfg = load(conf)  # a Class III from the silenced domain: its pages are held, and `alerts` says by what
    db = open_db(cfg.store_path)
    now = datetime.now(UTC)
    file_messages(db, cfg, [Incoming(raw=h.mail(1, frm="nagios@cust.example", date_=now), received_at=now)], now)
    with write(db):
        assert hold_due(db, now) == 2
    assert cli(conf, "alerts", capsys=capsys)[1].count("held by silence 1") == 2
    assert cli(conf, "silence", "end", "1", actor="bob", capsys=capsys)[0] == 77
    code, out, _ = cli(conf, "silence", "end", "1", actor="ann", capsys=capsys)
    assert code == 0 and out.startswith("silence 1 ended; 2 held")
    assert cli(conf, "alerts", capsys=capsys)[1].count("released by silence 1") == 2
    assert {(r["state"], r["silenced_by"]) for r in json.loads(cli(conf, "alerts", "--json", capsys=capsys)[1])} == {
        ("pending", 1)}
    code, _, err = cli(conf, "silence", "end", "1", actor="ann", capsys=capsys)
    assert code == 1 and "already ended" in err
    assert cli(conf, "silence", "end", "7", actor="ann", capsys=capsys)[0] == 1
    [row] = json.loads(cli(conf, "silence", "list", "--json", capsys=capsys)[1])
    assert row["active"] is False and row["ended_by"] == "ann"
    assert " ended " in cli(conf, "silence", "list", capsys=capsys)[1]


def test_pages_of_a_class_the_ticket_no_longer_has_stay_held(tmp_path, http_receiver):
    """A Class III downgraded during the silence: its held Class III pages are not sent when the silence ends."""
    from console.actions import reclassify

    cfg, db = desk(tmp_path, http_receiver)
    clock = FrozenClock(T0)
    s = Scheduler(cfg, clock, threading.Event(), workers=1)
    try:
        s.start_up()
        silence = silencing.add(db, cfg, kind="sender", pattern="nagios@monitor.example",
                                length=timedelta(minutes=5), reason="planned work", actor="ann", now=clock.now())
        tid = file(db, cfg, clock, 1, "nagios@monitor.example")
        step(s)
        reclassify(db, cfg, tid, "I", "ann", clock.now(), reason="monitoring noise")
        step(s)
        _, released = silencing.end(db, cfg, silence["id"], "ann", clock.now())
        step(s)
    finally:
        s.close()
    assert released == 0 and http_receiver.records == []
    assert {r["state"] for r in outbox.list_alerts(db, ticket_id=tid) if r["cls"] == "III"} == {"silenced"}
