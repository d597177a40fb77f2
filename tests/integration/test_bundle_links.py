"""Acknowledging a bundle (issue 19 item 2): a bundle page's link shows every ticket it carried (GET) and
acknowledges each one still waiting as the person paged (POST), each through console.actions with its own
permission check and audit event. The real scheduler and pages sender make the bundle on a stepped clock;
the real aiohttp link server answers on 127.0.0.1; a real HTTP receiver takes the pages."""
from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from console import actions
from console.config import from_dict
from console.intake.pipeline import Incoming, file_messages
from console.web.ack_server import AckServer
from store import audit, outbox, tickets
from tests.ack_helpers import ack_dict
from tests.integration import alerts_helpers as h
from tests.servers import free_port

pytestmark = pytest.mark.integration


def fetch(url: str, form: dict | None = None) -> tuple[int, str]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_bundle_link_lists_its_tickets_and_acknowledges_each_one_it_may(tmp_path, http_receiver):
    port = free_port()
    cfg = from_dict(ack_dict(tmp_path / "support.db", at=h.T0, listen=f"127.0.0.1:{port}",
                             base_url=f"http://127.0.0.1:{port}/desk/ack", emails=False,
                             notify={x: [http_receiver.url(f"/{x}")] for x in h.HANDLES}))
    ids = []
    with h.paging(cfg) as (db, clock, s):
        for second in range(150):  # five mails of one monitoring sender, then the bundle window's end
            if second < 5:
                raw = h.mail(second + 1, frm="nagios@monitor.example", date_=clock.now())
                [f] = file_messages(db, cfg, [Incoming(raw=raw, received_at=clock.now())], clock.now())
                ids.append(f.ticket_id)
            h.turn(s, clock, 1)
    [bundle] = [r for r in http_receiver.records if h.path_of(r) == "bob" and "more Class III" in r.body["title"]]
    link = re.search(r"Acknowledge from your phone: (\S+)", bundle.body["message"]).group(1)
    carried = ids[1:]
    [page] = [r for r in outbox.list_alerts(db) if r["target"] == "bob" and "more Class III" in r["title"]]
    assert sorted(r["ticket_id"] for r in outbox.list_alerts(db) if r["carried_by"] == page["id"]) == carried[1:]
    actions.assign(db, cfg, carried[2], "cy", "ann", clock.now())  # not bob's to acknowledge now

    server = AckServer(cfg, clock)
    assert server.start()
    try:
        code, html = fetch(link)
        assert code == 200 and f"{len(carried)} of {len(carried)} tickets need first contact" in html
        assert all(f"#{i} Class III" in html for i in carried)
        assert "Acknowledge all 4 as Bob Example" in html
        assert {tickets.get_ticket(db, i)["status"] for i in carried} == {"new"}  # a GET changes nothing
        code, html = fetch(link, {"action": "ack"})
        assert code == 200 and "3 of 4 acknowledged by Bob Example" in html
        assert f"#{carried[2]}: #{carried[2]} is assigned to cy" in html
        code, html = fetch(link, {"action": "ack"})  # again: only the refused one is still waiting
        assert code == 409
    finally:
        server.stop()
    for i in carried:
        t = tickets.get_ticket(db, i)
        if i == carried[2]:
            assert t["status"] == "new"
            continue
        assert (t["status"], t["acknowledged_by"]) == ("acknowledged", "bob")
        [e] = [e for e in audit.events_for(db, i) if e["kind"] == "acknowledged"]
        assert (e["actor"], e["detail"]["via"], e["detail"]["page"]) == ("bob", "bundle link", page["id"])
    assert tickets.get_ticket(db, ids[0])["status"] == "new"  # bob's first page of the storm is its own link
