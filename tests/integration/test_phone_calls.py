"""`[[staff]] call` (issue 19 item 11, "a lot of phones ring"): URLs that ring a phone get the Class III
pages from the team step on, and nothing else. The real escalation and dispatch (apprise) on an injected
clock, to a real HTTP receiver standing in for Twilio's call mode (json:// instead of twilio://...?method=call)."""
from __future__ import annotations

from datetime import timedelta

import pytest

import store
from console import actions
from console.alerts import escalation
from console.outbox import pages as dispatch
from console.config import from_dict
from console.intake.pipeline import Incoming, file_messages
from tests.integration import alerts_helpers as h

pytestmark = pytest.mark.integration
M = timedelta(minutes=1)


def test_the_team_step_rings_phones_and_nothing_else_does(tmp_path, http_receiver):
    data = h.config_dict(tmp_path / "support.db", at=h.T0,
                         notify={x: [http_receiver.url(f"/{x}")] for x in h.HANDLES})
    for s in data["staff"]:
        s["call"] = [http_receiver.url(f"/{s['handle']}-phone")]
    cfg = from_dict(data)
    actions.sync_staff(cfg)
    db = store.open_db(cfg.store_path)

    seen = 0

    def cycle(now, total: int) -> list[str]:
        """Run the due steps and send them; where the new pages went (receiver paths), sorted."""
        nonlocal seen
        with store.write(db):
            escalation.run_due(db, cfg, now)
        dispatch.dispatch_due(db, cfg, now)
        got, seen = http_receiver.wait_for(total, timeout=10)[seen:], total
        return sorted(h.path_of(r) for r in got)

    [f] = file_messages(db, cfg, [Incoming(raw=h.mail(1), received_at=h.T0)], h.T0)  # Class III
    assert cycle(h.T0, 2) == ["bob", "cy"]  # the arrival page: pagers only
    # The team step at 10 minutes: everyone's pager, and everyone's phone rings.
    assert cycle(h.T0 + 10 * M, 8) == ["ann", "ann-phone", "bob", "bob-phone", "cy", "cy-phone"]
    assert cycle(h.T0 + 15 * M, 14) == ["ann", "ann-phone", "bob", "bob-phone", "cy", "cy-phone"]  # the breach
    actions.acknowledge(db, cfg, f.ticket_id, "bob", h.T0 + 16 * M)
    assert cycle(h.T0 + 16 * M, 16) == ["ann", "cy"]  # the stand-down: no call
    db.conn.close()


@pytest.mark.parametrize("alert, rings", [
    ({"cls": "III", "urgent": 1, "step": "arrival"}, False),
    ({"cls": "III", "urgent": 1, "step": "escalate"}, True),
    ({"cls": "III", "urgent": 1, "step": "breach"}, True),
    ({"cls": "III", "urgent": 1, "step": "repeat-3"}, True),
    ({"cls": "II", "urgent": 1, "step": "breach"}, False),
    ({"cls": "III", "urgent": 0, "step": "standdown"}, False),
    ({"cls": None, "urgent": 1, "step": "stale"}, False),
])
def test_which_pages_ring(alert, rings):
    assert dispatch.rings(alert) is rings
