"""The SLA report (issue 24 item 3) over a desk whose history is built through the real actions, intake,
replies, the escalation scheduler and the page dispatcher (to a real HTTP receiver), on a frozen clock,
so that every figure is known in advance. Each definition has its own test.

The week reported is 2026-W46 (Mon 9 Nov to Sun 15 Nov, America/Phoenix); W is its Monday 09:00. The
report is made a week and an hour later (`AS_OF`, Mon 16 Nov 10:00). W45 holds one ticket, for the change.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from console import actions
from console.alerts import escalation
from console.outbox import pages as dispatch
from console.config import from_dict
from console.intake.pipeline import Incoming, file_messages
from console.poller import sync_staff
from console.replies import desk
from console.reports import render, sla
from store import open_db, write
from tests.factories import mail

pytestmark = pytest.mark.integration

W = datetime(2026, 11, 9, 16, 0, tzinfo=UTC)  # Mon 09:00 MST
AS_OF = W + timedelta(days=7, hours=1)
H, M, D = timedelta(hours=1), timedelta(minutes=1), timedelta(days=1)
CALL_ME = "Hi,\n\nI have a problem, please call me at 555-1212 to talk about it.\n\nThanks,\nFay"


def config_data(tmp_path, receiver, **extra):
    staff = [("ann", "Ann", "supervisor"), ("bob", "Bob", "staff"), ("cy", "Cy", "staff")]
    return {
        "timezone": "America/Phoenix",
        "store": {"path": str(tmp_path / "support.db")},
        "routing": {"urgent": ["urgent@desk.example"], "support": ["support@desk.example"]},
        "staff": [{"handle": h, "name": n, "role": r, "notify": [receiver.url(f"/{h}")]} for h, n, r in staff],
        "oncall": {"rotation": ["bob", "cy", "ann"], "handoff": "mon 09:00", "start": "2026-11-02"},
        "smtp": {"host": "127.0.0.1", "port": 9, "security": "none", "from": "Support <support@desk.example>"},
        "alerts": {"max_attempts": 1},
    } | extra


class History:
    """The desk as the test builds it: arrive(), tick() and the actions, each at a given time."""

    def __init__(self, cfg):
        self.cfg = cfg
        sync_staff(cfg)
        self.db = open_db(cfg.store_path)
        self.n = 0

    def arrive(self, at, to="support@desk.example", subject="Help", body="Our printer is broken.", extra=""):
        self.n += 1
        raw = mail(frm=f"c{self.n}@cust.example", to=to, subject=subject, body=body,
                   message_id=f"<m{self.n}@cust.example>", extra=extra)
        return file_messages(self.db, self.cfg, [Incoming(raw=raw, received_at=at)], at)[0].ticket_id

    def tick(self, at):
        """The poller's scheduler and dispatcher at `at`: due steps written, pages sent."""
        with write(self.db):
            escalation.run_due(self.db, self.cfg, at)
        dispatch.dispatch_due(self.db, self.cfg, at)

    def reply(self, tid, who, at, template=None):
        body = desk.draft_reply(self.db, self.cfg, tid, who, template=template).body
        return desk.send_reply(self.db, self.cfg, tid, body, who, at, template=template)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from tests.servers.receivers import HTTPReceiver

    receiver = HTTPReceiver()
    receiver.start()
    tmp = tmp_path_factory.mktemp("report")
    h = History(from_dict(config_data(tmp, receiver)))
    ids = {}
    # W45: one Class I ticket, replied within an hour (the period before)
    ids["Q"] = h.arrive(W - 7 * D + H)
    h.reply(ids["Q"], "bob", W - 7 * D + 2 * H)
    # W46
    ids["A"] = h.arrive(W)                                               # I: bob replies after 2h
    h.reply(ids["A"], "bob", W + 2 * H)
    ids["B"] = h.arrive(W + H, subject="Class II: password reset")       # II: cy acks after 10h (2h late)
    h.tick(W + H)
    ids["C"] = h.arrive(W + 3 * H, to="urgent@desk.example", subject="DNS down")  # III: team step, ack at 12m
    h.tick(W + 3 * H)
    h.tick(W + 3 * H + 10 * M)
    actions.acknowledge(h.db, h.cfg, ids["C"], "ann", W + 3 * H + 12 * M)
    ids["D"] = h.arrive(W + 4 * H, to="urgent@desk.example", subject="Link down")  # III: breach, bob at 20m
    h.tick(W + 4 * H)
    h.tick(W + 4 * H + 10 * M)
    h.tick(W + 4 * H + 15 * M)
    actions.acknowledge(h.db, h.cfg, ids["D"], "bob", W + 4 * H + 20 * M)
    ids["E"] = h.arrive(W + 4 * H + 30 * M, subject="Never mind")        # I: resolved without contact
    actions.resolve(h.db, h.cfg, ids["E"], "ann", W + 5 * H)
    ids["F"] = h.arrive(W + 6 * H, subject="Please call me", body=CALL_ME)  # I: call-me
    h.reply(ids["F"], "bob", W + 7 * H, template="details")              # clock 1: a details request after 1h
    actions.acknowledge(h.db, h.cfg, ids["B"], "cy", W + 11 * H)
    answer = mail(frm=f"c{h.n}@cust.example", subject="Re: Please call me", body="The printer prints blank pages.",
                  message_id="<answer@cust.example>", extra=f"In-Reply-To: <m{h.n}@cust.example>\r\n")
    file_messages(h.db, h.cfg, [Incoming(raw=answer, received_at=W + D)], W + D)   # clock 2 from Tue 09:00
    h.reply(ids["F"], "bob", W + D + 30 * H)                             # clock 2: a reply after 30h
    ids["G"] = h.arrive(W + 2 * D)                                       # I: still open, breached at W+5d
    ids["P"] = h.arrive(W + 5 * D, to="urgent@desk.example", subject="Is the web slow?")  # III: panic mode
    h.tick(W + 5 * D)
    actions.reclassify(h.db, h.cfg, ids["P"], "III", "ann", W + 5 * D + 5 * M, panic=True, reason="not urgent")
    actions.acknowledge(h.db, h.cfg, ids["P"], "ann", W + 5 * D + 8 * M)
    ids["H"] = h.arrive(W + 6 * D)                                       # I: still open, not yet due
    h.tick(AS_OF)
    yield h, ids
    h.db.close()
    receiver.stop()


@pytest.fixture(scope="module")
def report(built):
    h, _ = built
    return sla.build(h.db, sla.last_week(AS_OF, h.cfg.timezone), h.cfg.sla, AS_OF)


def test_the_default_period_is_last_week_in_the_desk_zone(report):
    assert report["period"]["label"] == "2026-W46 (2026-11-09 to 2026-11-15)"
    p = report["period"]
    assert (p["from_utc"], p["to_utc"]) == ("2026-11-09T07:00:00Z", "2026-11-16T07:00:00Z")


def test_tickets_in_counts_every_clock_started_in_the_period(report):
    # Class I: A, E, F (the call-me mail), F again (its answer), G, H
    assert [report["classes"][c]["tickets_in"] for c in ("I", "II", "III")] == [6, 1, 3]
    assert report["total"]["tickets_in"] == 10


def test_met_is_first_contact_by_the_deadline_and_its_share_leaves_out_what_is_undecided(report):
    i = report["classes"]["I"]
    assert (i["met"], i["breached"], i["closed_without_contact"]) == (3, 1, 1)  # A, F, F2 / G / E
    assert i["met_pct"] == 75.0  # 3 of 4: E (no contact, not late) and H (not due yet) are not decided
    assert [report["classes"][c]["met_pct"] for c in ("II", "III")] == [0.0, 66.7]
    assert report["total"]["met_pct"] == 62.5


def test_median_and_p90_of_time_to_first_contact(report):
    c = report["classes"]
    assert (c["I"]["median_seconds"], c["I"]["p90_seconds"]) == (7200, 108000)  # 1h, 2h, 30h
    assert (c["II"]["median_seconds"], c["III"]["median_seconds"], c["III"]["p90_seconds"]) == (36000, 720, 1200)


def test_first_contact_is_counted_for_what_it_was(report):
    assert report["total"]["contacts"] == {"reply": 2, "ack": 4, "details": 1, "none": 1}


def test_breaches_list_ticket_class_assignee_and_how_late(report, built):
    _, ids = built
    assert [(b["ticket"], b["class"], b["assignee"], b["late_seconds"], b["contact"]) for b in report["breaches"]] == [
        (ids["B"], "II", "cy", 2 * 3600, "ack"),
        (ids["D"], "III", "bob", 5 * 60, "ack"),
        (ids["G"], "I", None, 2 * 86400 + 3600, "open"),  # still open: late by as much as the report's time
    ]


def test_still_open_and_the_oldest_open(report, built):
    _, ids = built
    i = report["classes"]["I"]
    assert i["still_open"] == 2
    assert i["oldest_open"] == {"ticket": ids["G"], "since": "2026-11-11T16:00:00Z", "age_seconds": 5 * 86400 + 3600}


def test_class_iii_pages_acks_and_steps(report):
    # C: arrival + escalate; D: arrival + escalate + breach; P: arrival. Each step is one page, however many
    # people it reached.
    assert report["class_iii"] == {"tickets_in": 3, "pages_sent": 6, "ack_median_seconds": 720,
                                   "ack_p90_seconds": 1200, "reached_team": 2, "reached_breach": 1}


def test_per_person(report):
    assert report["people"] == [
        {"person": "(unassigned)", "first_contacts": 0, "median_seconds": None, "breaches_while_assigned": 1},
        {"person": "ann", "first_contacts": 2, "median_seconds": 600.0, "breaches_while_assigned": 0},
        {"person": "bob", "first_contacts": 4, "median_seconds": 5400.0, "breaches_while_assigned": 1},
        {"person": "cy", "first_contacts": 1, "median_seconds": 36000, "breaches_while_assigned": 1},
    ]


def test_panic_mode_tickets(report, built):
    _, ids = built
    assert report["panic"] == [{"ticket": ids["P"], "class": "III"}]


def test_change_from_the_period_before(report):
    before = report["previous"]["classes"]["I"]
    assert (before["tickets_in"], before["met_pct"]) == (1, 100)
    assert report["change"]["I"] == {"tickets_in": 5, "met_pct": -25.0, "median_seconds": 3600, "breached": 1}


def test_figures_come_from_events_not_from_the_tickets_today(built):
    """Changing a ticket now (a reclassification long after, a resolution) does not rewrite its week."""
    h, ids = built
    before = sla.build(h.db, sla.week_period("2026-W46", h.cfg.timezone), h.cfg.sla, AS_OF)
    with write(h.db):
        h.db.execute("UPDATE tickets SET class = 'II', acknowledged_at = NULL, first_contact = 'reply'")
    after = sla.build(h.db, sla.week_period("2026-W46", h.cfg.timezone), h.cfg.sla, AS_OF)
    assert after["classes"] == before["classes"]


def test_by_week_and_by_person_and_the_renderings(report, built):
    h, ids = built
    r = sla.build(h.db, sla.dates_period("2026-11-02", "2026-11-15", h.cfg.timezone), h.cfg.sla, AS_OF, by="week")
    assert [w["classes"]["I"]["tickets_in"] for w in r["weeks"]] == [1, 6]
    rows = render.csv_text(r).splitlines()
    assert rows[0].startswith("period,class,tickets_in,met,met_pct") and len(rows) == 1 + 2 * 3
    text = render.text(report)
    assert "I         6     3   75.0%         1" in text and f"#{ids['G']}" in text
    assert json.loads(render.json_text(report)) == report
    page = render.html_text(report)
    assert "<script" not in page.lower() and "<svg" in page and "75.0%" in page


def test_the_cli_prints_the_report(built, tmp_path, monkeypatch, capsys):
    from console.cli import common, main
    from console.clock import FrozenClock

    h, _ = built
    conf = tmp_path / "config.toml"
    conf.write_text(f'''timezone = "America/Phoenix"
[store]
path = "{h.cfg.store_path}"
[routing]
urgent = ["urgent@desk.example"]
support = ["support@desk.example"]
[[staff]]
handle = "ann"
name = "Ann"
role = "supervisor"
notify = ["json://127.0.0.1:9/ann"]
[oncall]
rotation = ["ann"]
handoff = "mon 09:00"
start = "2026-11-02"
''')
    monkeypatch.setattr(common, "clock", lambda: FrozenClock(AS_OF))
    assert main(["--config", str(conf), "report", "sla", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["classes"]["I"]["met_pct"] == 75.0 and out["period"]["from"] == "2026-11-09"
    assert main(["--config", str(conf), "report", "sla", "--week", "2026-W46", "--csv", "--by", "person"]) == 0
    assert "bob,4,5400.0,1" in capsys.readouterr().out
    assert main(["--config", str(conf), "report", "sla", "--week", "2026-49"]) == 64
    assert "--week must look like 2026-W49" in capsys.readouterr().err


def test_business_hours_count_only_working_time(tmp_path, http_receiver):
    """Class I under mon-fri 09:00-17:00: a mail at Fri 16:00 answered Mon 10:00 took two working hours, and
    its deadline was 72 working hours, so it is met."""
    data = config_data(tmp_path, http_receiver, sla={"business_hours": {"I": {"days": "mon-fri",
                                                                            "hours": "09:00-17:00"}}})
    h = History(from_dict(data))
    fri = datetime(2026, 11, 13, 23, 0, tzinfo=UTC)  # Fri 16:00 MST
    tid = h.arrive(fri)
    h.reply(tid, "bob", fri + timedelta(days=2, hours=18))  # Mon 10:00 MST
    r = sla.build(h.db, sla.week_period("2026-W46", h.cfg.timezone), h.cfg.sla, AS_OF)
    assert (r["classes"]["I"]["met"], r["classes"]["I"]["median_seconds"]) == (1, 7200)
    h.db.close()


def test_a_ticket_merged_into_another_is_closed_without_contact_until_unmerged():
    """Merging lives in another branch (shaping): its events, merged_into and unmerged, are read as they are
    recorded there. Pure: the clock is built from events given here."""
    from store.reports import ClockStart, ReportEvent

    start: ClockStart = {"ticket_id": 7, "clock": 1, "started_at": "2026-11-09T16:00:00Z", "cls": "I",
                         "due_at": "2026-11-12T16:00:00Z"}

    def ev(i, kind, at, **d) -> ReportEvent:
        return {"id": i, "ticket_id": 7, "at": at, "actor": "ann", "kind": kind, "detail": d}

    merged = [ev(1, "merged_into", "2026-11-09T17:00:00Z", target=3)]
    c = sla._clock_from(start, merged, sla.pol.SlaPolicy(), AS_OF)
    assert (c.contact, c.breached(AS_OF)) == ("none", False)
    back = merged + [ev(2, "unmerged", "2026-11-10T17:00:00Z", target=3)]
    c = sla._clock_from(start, back, sla.pol.SlaPolicy(), AS_OF)
    assert (c.contact, c.breached(AS_OF)) == (None, True)  # its own clock again, and nobody answered it
