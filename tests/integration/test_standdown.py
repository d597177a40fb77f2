"""Stand-down on every way out of Class III paging (issue 19 item 8): the real `ingest`, `poll --once`,
the CLI's actions and apprise json:// pages to a real HTTP receiver on loopback. No IMAP server is needed:
mail comes in through `ingest`, as from an MTA. bob is primary and cy secondary; ann is the supervisor."""
from __future__ import annotations

import pytest

from tests.integration import alerts_helpers as h

pytestmark = pytest.mark.integration


@pytest.fixture
def paged(tmp_path, http_receiver):
    """A Class III whose arrival pages reached bob and cy: (config, ticket id)."""
    conf = h.write_config(tmp_path, notify={x: [http_receiver.url(f"/{x}")] for x in h.HANDLES})
    h.cli(conf, "ingest", input=h.mail(1, subject="DNS service is down"))
    h.cli(conf, "poll", "--once")
    assert sorted(h.path_of(r) for r in http_receiver.wait_for(2, timeout=10)) == ["bob", "cy"]
    [t] = h.tickets(tmp_path / "support.db")
    return conf, t["id"]


def notices(http_receiver, n):
    return sorted(((h.path_of(r), r.body["title"], r.body["message"])
                   for r in http_receiver.wait_for(2 + n, timeout=10)[2:]), key=lambda x: x[0])


def test_a_downgrade_in_panic_mode_stands_everyone_paged_down(paged, http_receiver, tmp_path):
    conf, tid = paged
    r = h.cli(conf, "--as", "ann", "reclassify", str(tid), "I", "--panic", "--reason", "not an outage")
    assert r.returncode == 0
    h.cli(conf, "poll", "--once")
    got = notices(http_receiver, 2)
    assert [(who, title) for who, title, _ in got] == [
        ("bob", f"#{tid} moved to Class I by Ann Example, stand down"),
        ("cy", f"#{tid} moved to Class I by Ann Example, stand down")]
    body = got[0][2]
    assert "moved from Class III to Class I" in body and "panic mode" in body and "First contact is due by" in body
    [t] = h.tickets(tmp_path / "support.db")
    assert (t["class"], t["status"], t["panic_mode"]) == ("I", "new", 1)  # its Class I clock runs on
    # bob acknowledging it later tells nobody again: they stood down already and were not paged since.
    h.cli(conf, "--as", "bob", "ack", str(tid))
    h.cli(conf, "poll", "--once")
    assert len(http_receiver.records) == 4
    assert [a["target"] for a in h.alerts(tmp_path / "support.db", step="standdown")] == ["bob", "cy"]


def test_a_downgrade_by_the_primary_stands_the_secondary_down(paged, http_receiver):
    conf, tid = paged
    h.cli(conf, "--as", "bob", "reclassify", str(tid), "II", "--reason", "one site only")
    h.cli(conf, "poll", "--once")
    assert [(who, title) for who, title, _ in notices(http_receiver, 1)] == [
        ("cy", f"#{tid} moved to Class II by Bob Example, stand down")]


def test_resolving_it_unacknowledged_stands_them_down(paged, http_receiver):
    conf, tid = paged
    h.cli(conf, "--as", "cy", "resolve", str(tid), "--note", "fixed upstream")
    h.cli(conf, "poll", "--once")
    assert [(who, title) for who, title, _ in notices(http_receiver, 1)] == [
        ("bob", f"#{tid} resolved by Cy Example, stand down")]
