"""A forward clock jump (issue 19 item 7, third bullet): when many deadlines come due at once, each person
gets one page that carries them all, whatever the senders, not a burst. The real scheduler and pages sender,
a real HTTP receiver, a real SQLite file, an injected clock that jumps an hour."""
from __future__ import annotations

import collections

import pytest

from console.intake.pipeline import Incoming, file_messages
from store import outbox
from tests.integration import alerts_helpers as h

pytestmark = pytest.mark.integration


def test_an_hour_jump_is_one_page_per_person_and_every_page_is_accounted_for(tmp_path, http_receiver):
    """Eight customers' Class III, one a second, each paged at once; then the clock jumps an hour."""
    cfg = h.receiver_config(tmp_path, http_receiver)
    with h.paging(cfg) as (db, clock, s):
        ids = []
        for i in range(1, 9):  # eight customers of eight domains: each is a first page of its own group
            raw = h.mail(i, frm=f"ops@cust{i}.example", date_=clock.now())
            [f] = file_messages(db, cfg, [Incoming(raw=raw, received_at=clock.now())], clock.now())
            ids.append(f.ticket_id)
            h.turn(s, clock, 1)
        before = len(http_receiver.records)
        assert before == 16  # primary and secondary, once per ticket: a customer's first page goes at once
        clock.advance(3600)  # the wall clock jumps an hour: the team step, the breach and repeats, all due
        for _ in range(3):
            h.turn(s, clock)
    after = http_receiver.records[before:]
    per_person = collections.Counter(h.path_of(r) for r in after)
    assert per_person == {"ann": 1, "bob": 1, "cy": 1}, [r.body["title"] for r in after]
    for r in after:
        assert r.body["title"].startswith("7 more pages came due at once: #")
    rows = [r for r in outbox.list_alerts(db) if r["step"] != "arrival"]
    assert len(rows) == 3 * len(ids)  # each ticket's steps collapse into its latest, to the team of three
    by_id = {r["id"]: r for r in rows}
    assert {r["state"] for r in rows} == {"sent", "bundled"}
    carriers = {r["carried_by"] for r in rows if r["state"] == "bundled"}
    assert all(by_id[c]["state"] == "sent" for c in carriers) and len(carriers) == 3
    for person in ("ann", "bob", "cy"):  # each person's page carries every ticket
        assert {r["ticket_id"] for r in rows if r["target"] == person} == set(ids)


def test_many_senders_at_once_are_one_page_per_person_but_a_few_are_not(tmp_path, http_receiver):
    """The per-person budget: up to BURST_GROUPS senders at once page one by one; a wave of more is one page."""
    cfg = h.receiver_config(tmp_path, http_receiver)
    with h.paging(cfg) as (db, clock, s):
        for wave, size in enumerate((3, 12)):
            raws = [h.mail(100 * wave + i, frm=f"ops@wave{wave}-{i}.example", date_=clock.now()) for i in range(size)]
            file_messages(db, cfg, [Incoming(raw=r, received_at=clock.now()) for r in raws], clock.now())
            h.turn(s, clock, 60)
    titles = collections.defaultdict(list)
    for r in http_receiver.records:
        titles[h.path_of(r)].append(r.body["title"])
    assert set(titles) == {"bob", "cy"}
    for person in ("bob", "cy"):
        assert len(titles[person]) == 3 + 1
        assert titles[person][3].startswith("11 more pages came due at once: #")
    assert {r["state"] for r in outbox.list_alerts(db)} == {"sent", "bundled"}
