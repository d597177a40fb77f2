"""Acknowledge links end to end (issue 15): a real `support-console poll` with real Dovecot intake, pages
through apprise json:// to a real HTTP receiver, and real HTTP requests to the links the pages carry.

bob is primary and cy secondary this week; ann is the supervisor. Tokens with a past expiry are made
with the pure token function and the poller's own key file: no test waits for a deadline.
"""
from __future__ import annotations

import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest

from console.ack import keyfile, tokens
from tests.ack_helpers import write_ack_config
from tests.integration import alerts_helpers as h
from tests.integration.helpers import query, wait_until
from tests.servers import free_port

pytestmark = pytest.mark.integration

LINK = re.compile(r"Acknowledge from your phone: (http://\S+)")


def http(url: str, data: dict | bytes | None = None) -> tuple[int, str]:
    """(status, body) of a GET, or of a POST when `data` is given; 4xx/5xx are answers, not errors."""
    if isinstance(data, dict):
        data = urllib.parse.urlencode(data).encode()
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def post(url: str) -> tuple[int, str]:
    return http(url, {"action": "ack"})


@pytest.fixture
def ack_desk(tmp_path, dovecot, http_receiver, poller):
    """A running poller serving links on a free port, pages to the receiver; returns (config, port)."""

    def start(port: int | None = None, wait: bool = True):
        port = port or free_port()
        conf = write_ack_config(tmp_path, dovecot=dovecot, listen=f"127.0.0.1:{port}",
                                base_url=f"http://127.0.0.1:{port}/desk/ack",
                                notify={x: [http_receiver.url(f"/{x}")] for x in h.HANDLES})
        p = poller(conf)
        if wait:
            wait_until(lambda: "acknowledge links served" in p.log(), 10, "the link server", alive=p.alive)
        return conf, port, p

    return start


def paged(dovecot, http_receiver, tmp_path, subject="DNS <b>down</b> & out"):
    """Send an urgent mail; wait for bob's and cy's pages. Returns (ticket, {handle: link})."""
    dovecot.append(h.mail(1, subject=subject))
    records = http_receiver.wait_for(2, timeout=15)
    [t] = h.tickets(tmp_path / "support.db")
    out = {}
    for r in records:
        m = LINK.search(r.body["message"])
        assert m, r.body["message"]
        out[h.path_of(r)] = m.group(1)
    assert set(out) == {"bob", "cy"}
    db = tmp_path / "support.db"
    wait_until(lambda: {a["state"] for a in h.alerts(db)} == {"sent"}, 10, "pages recorded as sent")
    return t, out


def state(db):
    """What a request may not change: the ticket rows and the audit log."""
    return (query(db, "SELECT * FROM tickets ORDER BY id"), query(db, "SELECT * FROM events ORDER BY id"),
            query(db, "SELECT id, state FROM alerts ORDER BY id"))


def test_get_only_shows_post_acknowledges_and_the_others_stand_down(ack_desk, dovecot, http_receiver, tmp_path):
    db = tmp_path / "support.db"
    conf, port, _ = ack_desk()
    t, link = paged(dovecot, http_receiver, tmp_path)
    assert link["bob"].startswith(f"http://127.0.0.1:{port}/desk/ack/")

    before = state(db)
    status, page = http(link["bob"])
    assert status == 200
    assert "Acknowledge as Bob Example" in page and '<form method="post">' in page
    assert "DNS &lt;b&gt;down&lt;/b&gt; &amp; out" in page and "<b>down" not in page  # mail text is escaped
    assert "Cy Example" in page and "Class" in page and "due in" in page and "carl1@cust1.example" in page
    assert "The DNS service is down" not in page  # nothing from the database beyond the summary
    http(link["bob"])  # a previewer fetching it again
    assert state(db) == before  # GET does not act

    status, page = post(link["bob"])
    assert status == 200 and f"#{t['id']} acknowledged by Bob Example" in page and "Cy Example" in page
    [t2] = h.tickets(db)
    assert (t2["status"], t2["acknowledged_by"], t2["assignee"]) == ("acknowledged", "bob", "bob")
    ev = [e for e in query(db, "SELECT kind, actor, detail FROM events", dicts=True) if e["kind"] == "acknowledged"]
    bob_page = next(a for a in h.alerts(db) if a["target"] == "bob" and a["step"] == "arrival")
    assert len(ev) == 1 and ev[0]["actor"] == "bob"
    assert '"via": "page link"' in ev[0]["detail"] and f'"page": {bob_page["id"]}' in ev[0]["detail"]

    # cy, paged too, is told to stand down through the outbox and the real receiver; bob is not.
    [notice] = [r for r in http_receiver.wait_for(3, timeout=10) if "stand down" in r.body["title"]]
    assert h.path_of(notice) == "cy"
    assert notice.body["title"] == f"#{t['id']} acknowledged by Bob Example, stand down"
    assert LINK.search(notice.body["message"]) is None
    assert [(a["target"], a["step"]) for a in h.alerts(db) if a["step"] == "standdown"] == [("cy", "standdown")]

    # Replay: the used link says so and changes nothing; so does cy's.
    wait_until(lambda: {a["state"] for a in h.alerts(db) if a["state"] != "cancelled"} == {"sent"}, 10, "all sent")
    before = state(db)
    for url in (link["bob"], link["cy"]):
        for status, page in (http(url), post(url)):
            assert status == 410 and "already acknowledged" in page and "Bob Example" in page
    assert state(db) == before


def test_forged_and_altered_tokens_get_4xx_and_change_nothing(ack_desk, dovecot, http_receiver, tmp_path):
    db = tmp_path / "support.db"
    conf, port, _ = ack_desk()
    t, link = paged(dovecot, http_receiver, tmp_path)
    base, token = link["bob"].rsplit("/", 1)
    key = keyfile.load(keyfile.key_path(db))
    claim = tokens.read(key, token)
    i = len(token) // 2
    altered = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
    other_key = tokens.make(bytes(32), claim)
    as_ann = tokens.make(key, tokens.Claim(claim.ticket_id, claim.alert_id, "ann", claim.issued, claim.expires))
    wrong_page = tokens.make(key, tokens.Claim(claim.ticket_id, claim.alert_id + 100, "bob", claim.issued,
                                               claim.expires))
    before = state(db)
    for bad in (altered, other_key, as_ann, wrong_page):
        assert http(f"{base}/{bad}")[0] == 403
        status, page = post(f"{base}/{bad}")
        assert status == 403 and "not valid" in page
    for url in (f"{base}/short", f"{base}/{token}/x", f"http://127.0.0.1:{port}/{token}",
                f"http://127.0.0.1:{port}/desk/{token}"):
        assert http(url)[0] == 404
        assert post(url)[0] == 404
    assert http(link["bob"], b"action=ack&pad=" + b"x" * 100_000)[0] == 413  # bounded request size
    assert http(link["bob"], {"action": "delete"})[0] == 400
    assert state(db) == before and h.tickets(db)[0]["status"] == "new"


def test_an_expired_link_says_so_and_changes_nothing(ack_desk, dovecot, http_receiver, tmp_path):
    db = tmp_path / "support.db"
    ack_desk()
    t, link = paged(dovecot, http_receiver, tmp_path)
    base, token = link["bob"].rsplit("/", 1)
    key = keyfile.load(keyfile.key_path(db))
    c = tokens.read(key, token)
    past = tokens.make(key, tokens.Claim(c.ticket_id, c.alert_id, c.handle, c.issued, c.issued - timedelta(seconds=1)))
    before = state(db)
    for status, page in (http(f"{base}/{past}"), post(f"{base}/{past}")):
        assert status == 410 and "expired" in page and f"support-console ack {t['id']}" in page
    assert state(db) == before
    assert post(link["bob"])[0] == 200  # the page's own link still works


def test_failed_attempts_are_limited_per_address_but_never_a_valid_link(ack_desk, dovecot, http_receiver, tmp_path):
    ack_desk()
    t, link = paged(dovecot, http_receiver, tmp_path)
    base, token = link["bob"].rsplit("/", 1)
    forged = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    codes = [post(f"{base}/{forged}")[0] for _ in range(11)]
    assert codes == [403] * 10 + [429]
    assert h.tickets(tmp_path / "support.db")[0]["status"] == "new"
    assert http(link["bob"])[0] == 200
    assert post(link["bob"])[0] == 200  # the right link, from this same address (issue 19: it was locked out)
    assert h.tickets(tmp_path / "support.db")[0]["status"] == "acknowledged"


def test_the_key_file_is_0600_and_neither_key_nor_token_is_in_the_database(ack_desk, dovecot, http_receiver,
                                                                           tmp_path):
    db = tmp_path / "support.db"
    ack_desk()
    t, link = paged(dovecot, http_receiver, tmp_path)
    path = keyfile.key_path(db)
    assert path.stat().st_mode & 0o777 == 0o600
    key = keyfile.load(path)
    token = link["bob"].rsplit("/", 1)[1]
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("support.db")
                      and not p.name.endswith(".ackkey"))
    assert t["subject"].encode() in stored and b"carl1@cust1.example" in stored  # the search can find things
    for secret in (key, key.hex().encode(), key.hex().upper().encode(), token.encode()):
        assert secret not in stored


def test_a_busy_port_is_logged_and_intake_and_paging_go_on(ack_desk, dovecot, http_receiver, tmp_path):
    db = tmp_path / "support.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        conf, port, p = ack_desk(port=taken.getsockname()[1], wait=False)
        wait_until(lambda: "acknowledge links are not served" in p.log(), 10, "the error in the log", alive=p.alive)
        t, link = paged(dovecot, http_receiver, tmp_path)  # the mail still became a ticket and paged
        assert p.alive()
    # Acknowledging by another path (the CLI) stands the others down too.
    h.cli(conf, "ack", str(t["id"]), actor="cy")
    [notice] = [r for r in http_receiver.wait_for(3, timeout=10) if "stand down" in r.body["title"]]
    assert h.path_of(notice) == "bob" and notice.body["title"] == f"#{t['id']} acknowledged by Cy Example, stand down"
    assert h.tickets(db)[0]["acknowledged_by"] == "cy"
