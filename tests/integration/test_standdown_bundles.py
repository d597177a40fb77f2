"""Stand-downs bundle like pages (issue 19 item 8): acknowledging a storm tells each other person once at once
and once more for the rest ("stand down: #2-#30 acknowledged by Bob Example"), not 30 times. The real
scheduler and pages sender, a real HTTP receiver, a real SQLite file, a stepped clock."""
from __future__ import annotations


import pytest

from console.actions import acknowledge
from console.intake.pipeline import Incoming, file_messages
from console.outbox.pages import id_ranges, standdown_bundle_text
from store import outbox
from tests.integration import alerts_helpers as h

pytestmark = pytest.mark.integration


def test_acknowledging_a_storm_is_two_stand_downs_per_person_not_thirty(tmp_path, http_receiver):
    cfg = h.receiver_config(tmp_path, http_receiver)
    ids = []
    with h.paging(cfg) as (db, clock, s):
        for second in range(150):
            if second < 30:
                raw = h.mail(second + 1, frm="nagios@monitor.example", date_=clock.now())
                [f] = file_messages(db, cfg, [Incoming(raw=raw, received_at=clock.now())], clock.now())
                ids.append(f.ticket_id)
            h.turn(s, clock, 1)
        before = len(http_receiver.records)
        for second in range(150):  # bob answers the storm, a ticket a second
            if second < len(ids):
                acknowledge(db, cfg, ids[second], "bob", clock.now())
            h.turn(s, clock, 1)
    after = [r for r in http_receiver.records[before:]]
    assert [h.path_of(r) for r in after] == ["cy", "cy"]
    assert after[0].body["title"] == f"#{ids[0]} acknowledged by Bob Example, stand down"
    assert after[1].body["title"] == f"stand down: #{ids[1]}-#{ids[-1]} acknowledged by Bob Example"
    notices = [r for r in outbox.list_alerts(db) if r["step"] == outbox.STANDDOWN]
    assert len(notices) == 30 and {r["target"] for r in notices} == {"cy"}
    assert sorted(r["state"] for r in notices) == ["bundled"] * 28 + ["sent"] * 2


def test_the_words_of_a_stand_down_bundle():
    assert id_ranges([5, 3, 4, 9, 11, 12]) == "#3-#5 #9 #11-#12"
    carrier = {"ticket_id": 14, "title": "#14 acknowledged by Bob, stand down"}
    carried = [{"ticket_id": 15, "title": "#15 acknowledged by Bob, stand down"},
               {"ticket_id": 16, "title": "#16 moved to Class I by Ann, stand down"}]
    assert standdown_bundle_text(carrier, carried[:1])[0] == "stand down: #14-#15 acknowledged by Bob"
    title, body = standdown_bundle_text(carrier, carried)
    assert title == "stand down: 3 tickets answered: #14-#16"
    assert "#14-#15 acknowledged by Bob" in body and "#16 moved to Class I by Ann" in body
